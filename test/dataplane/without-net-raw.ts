/**
 * Run by capability.test.ts with CAP_NET_RAW dropped: tries each privileged part of the data plane
 * and prints one line per part with the error it gave.
 */
import { CaptureRing } from "../../runtime/capture/ring.ts";
import { DataPlane } from "../../runtime/dataplane/dataplane.ts";
import { rawIpv4Egress } from "../../runtime/egress/raw-ipv4.ts";
import { packetEgress } from "../../runtime/egress/packet.ts";
import { udpEgress } from "../../runtime/egress/udp.ts";

const attempts: [string, () => unknown][] = [
  ["ring", () => CaptureRing.open({ interface: "lo" })],
  ["raw", () => rawIpv4Egress()],
  ["packet", () => packetEgress("lo", "02:00:00:00:00:01")],
  ["udp", () => udpEgress().close()],
  ["dataplane", () => DataPlane.start({ capture: { interfaces: [{ name: "lo", workers: 1, promiscuous: false, ignoreOutgoing: true }], blockSize: 1 << 16, blockCount: 4, retireTimeoutMs: 2 }, egress: { mode: "raw" }, node: { sourceAddress: 0, mtu: 1500, dscp: 255 } })],
];
for (const [name, attempt] of attempts) {
  try {
    await attempt();
    console.log(`${name}: ok`);
  } catch (e) {
    console.log(`${name}: ${(e as Error).name}: ${(e as Error).message}`);
  }
}
