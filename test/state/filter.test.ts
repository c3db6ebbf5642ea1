/**
 * The active filter is durable: an activation or rollback through the API is recorded in the state
 * directory before its 2xx, and a registry opened on that directory (a restart) runs the same filter.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createApp } from "../../api/app.ts";
import { hashToken } from "../../api/auth/tokens.ts";
import { zeroCounters } from "../../api/providers.ts";
import { AuditLog, verifyAuditLog } from "../../runtime/audit/log.ts";
import { FilterSwitch } from "../../runtime/filter/lifecycle.ts";
import { ActiveFilterStore } from "../../runtime/filter/persist.ts";
import { FilterRegistry, type BuiltinFilterName } from "../../runtime/filter/registry.ts";
import { DSCP_INHERIT } from "../../runtime/filter/types.ts";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";
import { builtinTrappingOnCall } from "../filter/lifecycle-modules.ts";
import { tempDir } from "./world.ts";

const TOKEN = "state-test-li-admin-token-0123456789";

/** A daemon's filter side on `directory`: registry (restoring what is recorded), data plane, API. */
async function start(directory: string, initial: BuiltinFilterName = "jmirror") {
  const lines: string[] = [];
  const audit = AuditLog.open(join(directory, "audit.log"));
  // Checks limited to 30 s, not 2: binaryen's first use (builtinTrappingOnCall) sets V8 compiling its large
  // wasm in the background, which on a loaded 2-CPU machine (seen under Deno) held the check worker past 2 s.
  const filters = await FilterRegistry.open({ audit, initial, persist: new ActiveFilterStore(directory), log: (l) => lines.push(l), checkTimeoutMs: 30_000 });
  const plane = await FilterSwitch.create(filters.active, { maxTargets: 64, inCapacity: 1 << 16, outCapacity: 1 << 16, onEvent: (e) => filters.onHostEvent(e) });
  plane.configure({ linkType: 1, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT });
  filters.attach(plane);
  const app = createApp({ store: new SessionStore(), tunnels: new TunnelRegistry(), config: { tokens: [{ name: "li", role: "li-admin", sha256: hashToken(TOKEN) }] }, audit, clock: Date.now, filters, counters: zeroCounters });
  const call = async (method: string, path: string, body?: Uint8Array) => {
    const res = await app.request(path, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": "application/wasm" } : {}) }, body });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const stop = () => audit.close();
  return { filters, plane, call, lines, stop };
}

test("an uploaded filter activated through the API is active again after a restart, its bytes kept by SHA-256", async () => {
  const directory = tempDir("filter");
  const a = await start(directory);
  const up = await a.call("POST", "/v1/filters", builtinTrappingOnCall(0, "durafil"));
  assert.is(up.status, 201);
  assert.is((await a.call("POST", `/v1/filters/${up.body.id}/activate`)).status, 200);
  // Durable before the 2xx: the record and the module are on disk now.
  const record = JSON.parse(readFileSync(join(directory, "active-filter.json"), "utf8"));
  assert.equal(record.active, { sha256: up.body.sha256, name: "durafil", origin: "upload" });
  assert.equal(record.previous, { builtin: "jmirror" });
  assert.ok(existsSync(join(directory, "filters", `${up.body.sha256}.wasm`)));
  a.stop();

  const b = await start(directory);
  assert.is(b.filters.active.info.sha256, up.body.sha256);
  assert.is(b.plane.active.name, "durafil", "the data plane starts with it");
  assert.match(b.lines.join("\n"), /restored the active filter durafil/);
  const listed = await b.call("GET", "/v1/filters");
  assert.is(listed.body.active, "durafil");
  // The previous filter is restored too: a rollback after the restart returns to it, durably.
  const back = await b.call("POST", "/v1/filters/rollback");
  assert.is(back.status, 200);
  assert.is(back.body.name, "jmirror");
  b.stop();

  const c = await start(directory);
  assert.is(c.filters.active.info.name, "jmirror");
  assert.equal(readdirSync(join(directory, "filters")), [], "a module no record names is not kept");
  c.stop();
  assert.ok(verifyAuditLog(join(directory, "audit.log")).ok);
});

test("a built-in activation is durable; a changed filter.module or an altered stored module falls back to the configured filter", async () => {
  const directory = tempDir("filter");
  const a = await start(directory);
  const l2 = a.filters.list().find((f) => f.name === "jmirror-l2")!;
  await a.filters.activate(l2.id, "api:li");
  a.stop();
  const b = await start(directory);
  assert.is(b.filters.active.info.name, "jmirror-l2");
  b.stop();
  // The configuration names another module since: it wins, with a log line.
  const c = await start(directory, "jmirror-l2");
  assert.is(c.filters.active.info.name, "jmirror-l2");
  assert.match(c.lines.join("\n"), /filter.module changed from jmirror to jmirror-l2/);
  c.stop();

  const d = await start(directory);
  const up = await d.filters.upload(builtinTrappingOnCall(0, "altered"), "api:li");
  await d.filters.activate(up.filter.id, "api:li");
  d.stop();
  const stored = join(directory, "filters", `${up.filter.sha256}.wasm`);
  const bytes = readFileSync(stored);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(stored, bytes);
  const e = await start(directory);
  assert.is(e.filters.active.info.name, "jmirror", "the configured filter, not a module that changed on disk");
  assert.match(e.lines.join("\n"), /cannot be restored \(.*SHA-256/);
  const audit = readFileSync(join(directory, "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(audit.some((r) => r.action === "filter.restore" && r.outcome === "failed"));
  e.stop();
});

test.run();
