/**
 * The iapd host of the end-to-end test, run inside its network namespace by the test
 * (`ip netns exec iapddp-iapd node --import tsx test/dataplane/host.ts CONFIG_JSON`): the RADIUS
 * control plane on loopback, the live data plane and the HTTP API app (asked in-process, with the
 * live data plane's per mirror counters), driven over the IPC channel. It records when the store
 * changed the target table (the moment the CoA-ACK is sent, give or take the encoding).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../api/app.ts";
import { hashToken } from "../../api/auth/tokens.ts";
import { zeroCounters } from "../../api/providers.ts";
import { AuditLog } from "../../runtime/audit/log.ts";
import { ControlPlane } from "../../runtime/daemon/control-plane.ts";
import { configSchema } from "../../runtime/config/schema.ts";
import { startDataPlane } from "../../runtime/dataplane/start.ts";
import { FilterRegistry } from "../../runtime/filter/registry.ts";
import { SessionStore, type TargetSink } from "../../runtime/sessions/store.ts";
import { sessionIdFromAcctSessionId } from "../../runtime/sessions/handle.ts";
import { TunnelRegistry, type TunnelSpec } from "../../runtime/sessions/tunnels.ts";

export type HostCommand = { cmd: "activate"; module: string } | { cmd: "api-get"; path: string; role: "viewer" | "li-admin" } | { cmd: "add-tunnel"; spec: TunnelSpec } | { cmd: "mirror-stats" } | { cmd: "api-mirrors" } | { cmd: "terminate" } | { cmd: "remove-tunnel"; name: string } | { cmd: "stats" } | { cmd: "stop" } | { cmd: "table-changes" };

const send = (message: unknown) => process.send!(message);
const now = () => performance.timeOrigin + performance.now();

try {
  const config = configSchema.parse(JSON.parse(process.argv[2]));
  const store = new SessionStore({ maxMirrors: 1000, sessionIdFor: sessionIdFromAcctSessionId });
  const radius = await ControlPlane.start(config.radius, { store });
  const tunnels = new TunnelRegistry();
  const auditDir = mkdtempSync(join(tmpdir(), "iapd-dp-host-"));
  const audit = AuditLog.open(join(auditDir, "audit.log"));
  // With a second argument "filters": a filter registry drives the workers' filter (command "activate").
  const filters = process.argv[3] === "filters" ? await FilterRegistry.open({ audit }) : undefined;
  const live = await startDataPlane(config, store, tunnels, { maxTargets: 4096, filters });
  // The API as the daemon builds it: counters from the live data plane's cache.
  const token = "e2e-li-admin-token-0123456789abcdef";
  const viewerToken = "e2e-viewer-token-0123456789abcdef";
  const app = createApp({
    store,
    tunnels,
    config: { tokens: [{ name: "e2e", role: "li-admin", sha256: hashToken(token) }, { name: "e2e-viewer", role: "viewer", sha256: hashToken(viewerToken) }] },
    audit,
    clock: Date.now,
    filters: { list: () => [] },
    counters: (id) => live.counters(id) ?? zeroCounters(id),
    dataPlane: () => live.aggregates(),
  });
  // Every change the store makes to the table, timed, on its way to the pool.
  const changes: { at: number; op: string; slot: number }[] = [];
  const pool = live.pool;
  const timed: TargetSink = {
    add: (t) => (changes.push({ at: now(), op: "add", slot: t.slot }), pool.add(t)),
    remove: (slot) => (changes.push({ at: now(), op: "remove", slot }), pool.remove(slot)),
  };
  store.attachSink(timed);
  process.on("message", async (message: HostCommand) => {
    try {
      if (message.cmd === "terminate") {
        const [mirror] = store.allMirrors();
        store.endMirror(mirror.id, "terminated", Date.now());
        send({ cmd: message.cmd, at: now() });
      } else if (message.cmd === "remove-tunnel") {
        const before = pool.tunnelOf(store.targetTable()[0]?.slot ?? -1);
        tunnels.remove(message.name);
        send({ cmd: message.cmd, at: now(), before, after: pool.tunnelOf(store.targetTable()[0]?.slot ?? -1) });
      } else if (message.cmd === "add-tunnel") {
        tunnels.add(message.spec, Date.now());
        await live.plane.settled();
        send({ cmd: message.cmd, failed: pool.failed() });
      } else if (message.cmd === "mirror-stats") {
        send({ cmd: message.cmd, mirrors: Object.fromEntries(await live.mirrorStats()) });
      } else if (message.cmd === "api-mirrors") {
        const response = await app.request("/v1/mirrors", { headers: { authorization: `Bearer ${token}` } });
        send({ cmd: message.cmd, status: response.status, body: await response.json() });
      } else if (message.cmd === "activate") {
        const { filter } = await filters!.upload(new Uint8Array(Buffer.from(message.module, "base64")), "test");
        await filters!.activate(filter.id!, "test");
        send({ cmd: message.cmd, active: filters!.list().find((f) => f.active)?.name });
      } else if (message.cmd === "api-get") {
        const response = await app.request(message.path, { headers: { authorization: `Bearer ${message.role === "viewer" ? viewerToken : token}` } });
        send({ cmd: message.cmd, status: response.status, body: await response.text() });
      } else if (message.cmd === "table-changes") {
        send({ cmd: message.cmd, changes, load: Object.fromEntries(pool.load()) });
      } else if (message.cmd === "stats") {
        const stats = await live.stats();
        send({ cmd: message.cmd, total: stats.total, slots: [...stats.slots], egress: stats.workers.map((w) => w.egress) });
      } else if (message.cmd === "stop") {
        const stats = await live.plane.stats();
        await live.stop();
        await radius.stop();
        audit.close();
        rmSync(auditDir, { recursive: true, force: true });
        send({ cmd: message.cmd, total: stats.total });
        process.disconnect();
      }
    } catch (e) {
      send({ cmd: message.cmd, error: (e as Error).message });
    }
  });
  send({ cmd: "ready", accounting: radius.accounting.server.address().port, das: radius.dynamicAuthorization.server.address().port, tunnels: tunnels.list().map((t) => t.name) });
} catch (e) {
  send({ cmd: "ready", error: `${(e as Error).name}: ${(e as Error).message}` });
  process.disconnect();
}
