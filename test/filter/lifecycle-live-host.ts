/**
 * The iapd side of test/filter/lifecycle-live.test.ts, run inside its network namespace
 * (`ip netns exec NS node --import tsx test/filter/lifecycle-live-host.ts INTERFACE PCAP`): the live
 * data plane (two capture workers, pcap egress) and a FilterRegistry, driven over the IPC channel.
 */
import { readFileSync } from "node:fs";
import { AuditLog } from "../../runtime/audit/log.ts";
import { DataPlane } from "../../runtime/dataplane/dataplane.ts";
import type { FilterEvent } from "../../runtime/filter/lifecycle.ts";
import { FilterRegistry } from "../../runtime/filter/registry.ts";
import { DSCP_INHERIT } from "../../runtime/filter/types.ts";

export type LiveHostCommand = { cmd: "activate"; module: string } | { cmd: "settle" } | { cmd: "stop" };

const [iface, pcap] = process.argv.slice(2);
const send = (message: unknown) => process.send!(message);
const events: FilterEvent[] = [];

try {
  const auditPath = pcap.replace(/\.pcap$/, "-audit.log");
  const audit = AuditLog.open(auditPath);
  const registry = await FilterRegistry.open({ audit });
  const plane = await DataPlane.start({
    capture: { interfaces: [{ name: iface, workers: 2, promiscuous: true, ignoreOutgoing: true }], blockSize: 1 << 16, blockCount: 64, retireTimeoutMs: 2 },
    egress: { mode: "pcap", path: pcap },
    node: { sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT },
    maxTargets: 64,
    filter: registry.active,
    onFilterEvent: (e) => {
      events.push(e);
      registry.onHostEvent(e);
    },
  });
  registry.attach(plane.filters);
  // The sender, 100.64.0.1: every datagram it sends is mirrored once.
  plane.add({ slot: 0, family: 4, address: Uint8Array.of(100, 64, 0, 1), prefixLength: 32, interceptId: 7, sessionId: 9, mediationAddress: 0xc6336401, mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: DSCP_INHERIT });
  await plane.settled();
  process.on("message", async (message: LiveHostCommand) => {
    try {
      if (message.cmd === "activate") {
        const { filter } = await registry.upload(new Uint8Array(Buffer.from(message.module, "base64")), "test");
        await registry.activate(filter.id!, "test");
        send({ cmd: message.cmd, active: registry.list().find((f) => f.active)?.name });
      } else if (message.cmd === "settle") {
        await plane.settled();
        send({ cmd: message.cmd, active: registry.list().find((f) => f.active)?.name, events, hangs: plane.hangs, lostFrames: plane.lostFrames, restarts: plane.restarts });
      } else if (message.cmd === "stop") {
        const stats = await plane.stop();
        audit.close();
        send({ cmd: message.cmd, total: stats.total, audit: readFileSync(auditPath, "utf8") });
        process.disconnect();
      }
    } catch (e) {
      send({ cmd: message.cmd, error: (e as Error).message });
    }
  });
  send({ cmd: "ready" });
} catch (e) {
  send({ cmd: "ready", error: `${(e as Error).name}: ${(e as Error).message}` });
  process.disconnect();
}
