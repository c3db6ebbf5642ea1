/**
 * Run by deno.test.ts under Deno in a fresh network namespace: the live data plane on the loopback
 * interface through the Deno.dlopen libc binding, pinging 127.0.0.1 with a target on it and the
 * copies going to a pcap file; prints the data plane's totals as one JSON line.
 */
import { DataPlane } from "../../runtime/dataplane/dataplane.ts";

declare const Deno: { args: string[]; Command: new (cmd: string, o: { args: string[]; stdout: "null" }) => { output(): Promise<unknown> } };

const plane = await DataPlane.start({
  capture: { interfaces: [{ name: "lo", workers: 1, promiscuous: false, ignoreOutgoing: false }], blockSize: 1 << 16, blockCount: 8, retireTimeoutMs: 2 },
  egress: { mode: "pcap", path: Deno.args[0] },
  node: { sourceAddress: 0xc0000201, mtu: 1500, dscp: 255 },
});
plane.add({ slot: 0, family: 4, address: Uint8Array.of(127, 0, 0, 1), prefixLength: 32, interceptId: 7, sessionId: 1, mediationAddress: 0xc6336402, mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: 255 });
await plane.settled();
await new Deno.Command("ping", { args: ["-c", "3", "-i", "0.05", "127.0.0.1"], stdout: "null" }).output();
await new Promise((r) => setTimeout(r, 100));
const { total } = await plane.stop();
console.log(JSON.stringify(total));
