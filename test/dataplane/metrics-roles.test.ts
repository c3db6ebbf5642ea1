/**
 * Who sees which data plane counters: /metrics and /v1/stats of the API app, fed by the demo data
 * plane (the bundled capture replayed through the built-in filter with the demo intercepts into a
 * pcap file, as `iapd run` does without a capture interface). Viewers and operators get the capture
 * and parsing counters; only li-admin gets the counters that move with interception. No answer
 * names an intercept, a mirror session or a subscriber address.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createApp } from "../../api/app.ts";
import { hashToken } from "../../api/auth/tokens.ts";
import { zeroCounters } from "../../api/providers.ts";
import { AuditLog } from "../../runtime/audit/log.ts";
import type { Role } from "../../runtime/config/api.ts";
import { builtInConfig } from "../../runtime/daemon/daemon.ts";
import { DemoDataPlane } from "../../runtime/daemon/demo-data-plane.ts";
import { FilterRegistry } from "../../runtime/filter/registry.ts";
import { readPcap } from "./lab.ts";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";

const TOKENS: Record<Role, string> = {
  viewer: "h5b-viewer-token-0123456789abcdef",
  operator: "h5b-operator-token-0123456789abcdef",
  "li-admin": "h5b-li-admin-token-0123456789abcdef",
};
const MIRRORING_SERIES = ["iapd_frames_matched_total", "iapd_mirror_copies_total", "iapd_mirrored_packets_total", "iapd_mirrored_bytes_total", "iapd_mirror_drops_total"];

/** A sample's value in an exposition: `name{labels} value` (labels exactly as given, or none). */
function sample(body: string, name: string, labels = ""): number | undefined {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = body.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

test("/metrics and /v1/stats: the demo data plane's counters, mirroring ones for li-admin only, nothing that names an intercept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iapdh5b-roles-"));
  try {
    const audit = AuditLog.open(join(dir, "audit.log"));
    const filters = await FilterRegistry.open({ audit });
    const config = builtInConfig();
    const demo = await DemoDataPlane.start(config, dir, filters);
    const store = new SessionStore({ maxMirrors: 100 });
    const tokens = (Object.keys(TOKENS) as Role[]).map((role) => ({ name: `${role}-user`, role, sha256: hashToken(TOKENS[role]) }));
    const app = createApp({ store, tunnels: new TunnelRegistry(), config: { tokens }, audit, clock: Date.now, filters: { list: () => [] }, counters: zeroCounters, dataPlane: () => demo.aggregates() });
    const get = (path: string, role: Role) => app.request(path, { headers: { authorization: `Bearer ${TOKENS[role]}` } });

    // What the replay wrote: the mirrored packets in the pcap file (raw IPv4 records, link type 101).
    const written = readPcap(demo.output);
    assert.ok(written.length > 0, "the demo intercepts matched");
    const s = demo.summary;
    // The demo intercepts (fixtures/configs/demo.yaml): IDs, targets, mediation devices.
    const forbidden = ["1001", "1002", "100.64.0.1", "100.64.0.4", "2001:db8:1000", "198.51.100.200", "198.51.100.201"];
    assert.equal(config.intercepts.map((i) => i.interceptId), [1001, 1002]);

    for (const role of Object.keys(TOKENS) as Role[]) {
      const metrics = await get("/metrics", role);
      assert.is(metrics.status, 200);
      const body = await metrics.text();
      assert.is(sample(body, "iapd_dataplane_info", 'source="demo"'), 1);
      assert.is(sample(body, "iapd_frames_total"), s.frames);
      assert.is(sample(body, "iapd_frames_parsed_total"), s.parsed);
      assert.ok(s.frames > 0);
      for (const [reason, n] of Object.entries(s.malformed)) assert.is(sample(body, "iapd_frames_malformed_total", `reason="${reason}"`), n, reason);
      assert.is(s.parsed + Object.values(s.malformed).reduce((a, b) => a + b, 0), s.frames);
      const active = filters.active.info;
      assert.is(sample(body, "iapd_filter_info", `name="${active.name}",version="${active.version}",abi="${active.abiVersion}",sha256="${active.sha256}"`), 1);
      const liAdmin = role === "li-admin";
      for (const series of MIRRORING_SERIES) assert.is(body.includes(series), liAdmin, `${role}: ${series}`);
      if (liAdmin) {
        assert.is(sample(body, "iapd_mirrored_packets_total"), written.length);
        assert.is(sample(body, "iapd_mirrored_bytes_total"), written.reduce((n, r) => n + r.bytes.length, 0));
        assert.is(sample(body, "iapd_frames_matched_total"), s.matched);
        assert.is(sample(body, "iapd_mirror_drops_total", 'reason="output_full"'), 0);
      }
      // Series names and labels (a value may contain the digits of an ID by chance).
      for (const line of body.split("\n").filter((l) => /^iapd_(capture|frames|mirror|dataplane|filter|worker)/.test(l))) {
        const series = line.slice(0, line.lastIndexOf(" "));
        for (const x of forbidden) assert.not.ok(series.includes(x), `${role}: ${line} names ${x}`);
      }

      const stats = await get("/v1/stats", role);
      assert.is(stats.status, 200);
      const { dataPlane } = (await stats.json()) as { dataPlane: Record<string, any> };
      assert.is(dataPlane.source, "demo");
      assert.is(dataPlane.frames, s.frames);
      assert.equal(dataPlane.malformed, s.malformed);
      assert.equal(dataPlane.interfaces, []);
      assert.is(dataPlane.mirroring !== undefined, liAdmin, role);
      if (liAdmin) assert.equal({ packets: dataPlane.mirroring.packets, copies: dataPlane.mirroring.copies }, { packets: written.length, copies: s.mirrored });
      const strings: string[] = [];
      JSON.stringify(dataPlane, (key, value) => (strings.push(key), typeof value === "string" && strings.push(value), value));
      for (const x of forbidden) assert.not.ok(strings.some((t) => t.includes(x)), `${role}: /v1/stats dataPlane names ${x}`);
    }

    // A reload replays again: the counters add up (they only grow).
    await demo.reload(config);
    const again = await (await get("/metrics", "viewer")).text();
    assert.is(sample(again, "iapd_frames_total"), 2 * s.frames);
    audit.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("/metrics without a data plane has no data plane series", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iapdh5b-roles-"));
  try {
    const audit = AuditLog.open(join(dir, "audit.log"));
    const tokens = [{ name: "a", role: "li-admin" as const, sha256: hashToken(TOKENS["li-admin"]) }];
    const app = createApp({ store: new SessionStore({ maxMirrors: 1 }), tunnels: new TunnelRegistry(), config: { tokens }, audit, clock: Date.now, filters: { list: () => [] }, counters: zeroCounters, dataPlane: () => undefined });
    const body = await (await app.request("/metrics", { headers: { authorization: `Bearer ${TOKENS["li-admin"]}` } })).text();
    assert.not.ok(body.includes("iapd_frames_total"));
    assert.is(sample(body, "iapd_ready"), 1);
    const stats = (await (await app.request("/v1/stats", { headers: { authorization: `Bearer ${TOKENS["li-admin"]}` } })).json()) as Record<string, unknown>;
    assert.is(stats.dataPlane, undefined);
    audit.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
