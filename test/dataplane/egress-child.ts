/**
 * Run by egress.test.ts inside a namespace with only loopback up: sends outer packets made by the
 * filter through each egress and prints what happened as one JSON line.
 *  - raw IPv4 to 198.51.100.2: no route, so every copy is counted unreachable, per slot;
 *  - UDP to 127.0.0.1:PORT where a socket listens: the datagrams carry the mirror header and packet;
 *  - 100,000 copies at a receiver that does not read: the sender never blocks (sent or socket_full);
 *  - AF_PACKET to a next hop on loopback, read back by a capture ring on loopback: Ethernet frames to
 *    the next hop's MAC address carrying the outer packets unchanged.
 */
import { createSocket } from "node:dgram";
import { WasmFilter } from "../../runtime/filter/wasm.ts";
import { rawIpv4Egress } from "../../runtime/egress/raw-ipv4.ts";
import { udpEgress } from "../../runtime/egress/udp.ts";
import { packetEgress } from "../../runtime/egress/packet.ts";
import { CaptureRing } from "../../runtime/capture/ring.ts";
import { recordsOf, frame, ipv4Packet } from "../helpers/frames.ts";
import { tpacket3Block } from "./blocks.ts";

async function copies(mediation: number, count: number) {
  const filter = await WasmFilter.load(undefined, { maxTargets: 8, inCapacity: 4 << 20, outCapacity: 4 << 20 });
  filter.configure({ linkType: 1, sourceAddress: 0x7f000001, mtu: 65535, dscp: 255 });
  filter.addTarget({ slot: 3, family: 4, address: Uint8Array.of(100, 64, 0, 9), prefixLength: 32, interceptId: 7, sessionId: 81, mediationAddress: mediation, mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: 255 });
  const packet = ipv4Packet({ source: Uint8Array.of(100, 64, 0, 9), destination: Uint8Array.of(203, 0, 113, 1), payload: new Uint8Array(32).fill(0xab) });
  const { packets } = filter.process(recordsOf(new Array(count).fill({ bytes: frame(1, packet).bytes })));
  return { packets, inner: packet };
}

const result: Record<string, unknown> = {};

const raw = rawIpv4Egress();
const unreachable = await copies(0xc6336402, 5);
raw.send(unreachable.packets);
result.raw = { counters: raw.counters, slots: Object.fromEntries(raw.slotCounters.entries()) };
await raw.close();

const listener = createSocket("udp4");
const received: Buffer[] = [];
listener.on("message", (m) => received.push(m));
await new Promise<void>((r) => listener.bind(30030, "127.0.0.1", () => r()));
const udp = udpEgress();
const local = await copies(0x7f000001, 3);
udp.send(local.packets);
await new Promise((r) => setTimeout(r, 200));
result.udp = { counters: structuredClone(udp.counters), slots: Object.fromEntries(udp.slotCounters.entries()), received: received.map((m) => m.toString("hex")), expected: Buffer.concat([Buffer.from("0000000700000051", "hex"), Buffer.from(local.inner)]).toString("hex") };

// Straight from the filter's output descriptors (sendOutput, what the capture workers use): the same
// datagrams as the filter's packets, counted per slot; two targets on two tunnels match every frame,
// so the output interleaves the tunnels.
received.length = 0;
const both = await WasmFilter.load(undefined, { maxTargets: 8, inCapacity: 1 << 20, outCapacity: 1 << 20 });
both.configure({ linkType: 1, sourceAddress: 0x7f000001, mtu: 65535, dscp: 255 });
for (const [slot, tunnel] of [[5, 0], [6, 1]]) {
  both.addTarget({ slot, family: 4, address: Uint8Array.of(100, 64, 0, 9), prefixLength: 32, interceptId: 10 + slot, sessionId: 81, mediationAddress: 0x7f000001, mediationPort: 30030, sourceAddress: 0, tunnel, dscp: 255 });
}
udp.setTunnel({ index: 1, name: "t1", sourceAddress: 0x7f000001 });
const seven = Array.from({ length: 7 }, (_, i) => ({ bytes: frame(1, ipv4Packet({ source: Uint8Array.of(100, 64, 0, 9), destination: Uint8Array.of(203, 0, 113, 1), identification: i, payload: new Uint8Array(20 + i).fill(i) })).bytes }));
const block = tpacket3Block(seven);
const { output } = both.processTpacket3Output!(block, 0);
const fromDescriptors: string[] = [];
for (let i = 0; i < output.count; i++) {
  const d = output.descriptors + i * 32;
  const at = output.out + output.view.getUint32(d, true);
  fromDescriptors.push(Buffer.from(output.bytes.subarray(at + 28, at + output.view.getUint32(d + 4, true))).toString("hex"));
}
udp.sendOutput!(output);
await new Promise((r) => setTimeout(r, 200));
result.output = {
  count: output.count,
  tunnels: Array.from({ length: output.count }, (_, i) => output.view.getUint32(output.descriptors + i * 32 + 12, true)),
  received: received.map((m) => m.toString("hex")).sort(),
  expected: fromDescriptors.sort(),
  slots: Object.fromEntries(udp.slotCounters.entries().filter(([slot]) => slot === 5 || slot === 6)),
};

// Nobody reads: the receiver drops what does not fit its buffer; the sender never blocks, and a full
// send buffer would be counted as socket_full.
listener.removeAllListeners("message");
const flood = await copies(0x7f000001, 20_000);
const started = performance.now();
for (let i = 0; i < 5; i++) udp.send(flood.packets);
result.flood = { counters: udp.counters, ms: performance.now() - started };
await udp.close();
listener.close();
const ring = CaptureRing.open({ interface: "lo", blockSize: 1 << 16, blockCount: 4, retireTimeoutMs: 2, promiscuous: false, ignoreOutgoing: false });
const packet = packetEgress("lo", "02:00:5e:00:53:01");
const sent = await copies(0xc6336402, 4);
packet.send(sent.packets);
const frames: string[] = [];
for (let i = 0; i < 50 && frames.length < 4; i++) {
  ring.wait(10);
  const block = ring.next();
  if (!block) continue;
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  for (let n = 0, at = view.getUint32(16, true); n < view.getUint32(12, true); n++, at += view.getUint32(at, true)) {
    const mac = view.getUint16(at + 24, true);
    frames.push(Buffer.from(block.subarray(at + mac, at + mac + view.getUint32(at + 12, true))).toString("hex"));
  }
  ring.release();
}
result.packet = { counters: packet.counters, frames, expected: sent.packets.map((p) => "02005e005301" + "000000000000" + "0800" + Buffer.from(p.bytes).toString("hex")) };
await packet.close();
ring.close();
console.log(JSON.stringify(result));
