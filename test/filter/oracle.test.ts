/**
 * The oracle against expectations worked out by hand from docs/filter-abi.md: exact outer bytes,
 * DSCP, Identification, fragmentation, drops, output-region stops, copy-count rules, malformed frames
 * and argument validation.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OracleFilter, type OracleFilterOptions } from "../../runtime/filter/oracle.ts";
import {
  COUNTERS,
  DROP_REASONS,
  DSCP_INHERIT,
  FilterError,
  LINK_TYPES,
  MALFORMED_REASONS,
  type FilterConfig,
  type LinkType,
  type MirroredPacket,
  type Target,
} from "../../runtime/filter/types.ts";
import {
  frame,
  internetChecksum,
  ipv4Address,
  ipv4Packet,
  ipv6Address,
  ipv6Packet,
  mulberry32,
  randomFrame,
  recordsOf,
  u32Of,
  type FrameRecord,
} from "../helpers/frames.ts";

const NODE_SOURCE = 0xc0000201; // 192.0.2.1
const MEDIATION = 0xc6336401; // 198.51.100.1

function filterWith(targets: Partial<Target>[], config: Partial<FilterConfig> = {}, options: OracleFilterOptions = {}): OracleFilter {
  const filter = new OracleFilter({ maxTargets: 128, ...options });
  filter.configure({ linkType: 1, sourceAddress: NODE_SOURCE, mtu: 1500, dscp: DSCP_INHERIT, ...config });
  targets.forEach((t, i) => filter.addTarget(target({ slot: i, ...t })));
  return filter;
}

function target(fields: Partial<Target>): Target {
  return {
    slot: 0,
    family: 4,
    address: ipv4Address("10.0.0.1"),
    prefixLength: 32,
    interceptId: 1,
    sessionId: 1,
    mediationAddress: MEDIATION,
    mediationPort: 30030,
    sourceAddress: 0,
    tunnel: 0,
    dscp: DSCP_INHERIT,
    ...fields,
  };
}

function v6(text: string, prefixLength: number): Partial<Target> {
  return { family: 6, address: ipv6Address(text), prefixLength };
}

function counter(filter: OracleFilter, index: number): number {
  return Number(filter.counters()[index]);
}

/** An Ethernet frame around a UDP-in-IPv4 packet with `payloadLength` bytes of payload. */
function udp4(source: string, destination: string, payloadLength = 8, tos = 0): Uint8Array {
  const payload = new Uint8Array(payloadLength).fill(0xab);
  return frame(1, ipv4Packet({ source: ipv4Address(source), destination: ipv4Address(destination), tos, payload })).bytes;
}

function udp6(source: string, destination: string, trafficClass = 0): Uint8Array {
  const packet = ipv6Packet({ source: ipv6Address(source), destination: ipv6Address(destination), trafficClass, payload: new Uint8Array(8) });
  return frame(1, packet).bytes;
}

function mirrorSessions(packets: MirroredPacket[]): { slot: number; interceptId: number }[] {
  return packets.map((p) => ({ slot: p.slot, interceptId: new DataView(p.bytes.buffer, p.bytes.byteOffset).getUint32(28) }));
}

function process(filter: OracleFilter, frames: FrameRecord[]) {
  return filter.process(recordsOf(frames));
}

test("a known frame gives exactly these outer IPv4, UDP and mirror header bytes", () => {
  // Ethernet, 10.0.0.1 -> 10.0.1.2, TOS 0xb9 (DSCP 46, ECN 01), 8 bytes of UDP, padded to 60 bytes + FCS.
  const inner = [
    0x45, 0xb9, 0x00, 0x1c, 0x00, 0x2a, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1, 10, 0, 1, 2,
    0x13, 0x88, 0x13, 0x89, 0x00, 0x08, 0x00, 0x00,
  ];
  const ethernet = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
  const bytes = Uint8Array.from([...ethernet, ...inner, ...new Array(18).fill(0), 0xde, 0xad, 0xbe, 0xef]);
  const filter = filterWith([{ slot: 3, interceptId: 0x12345, sessionId: 0xdeadbeef, tunnel: 7 }]);

  const result = process(filter, [{ bytes, tsSec: 1700000000, tsNsec: 123456789 }]);

  // Header checksum (RFC 791) by hand: 0x45b8 + 0x0040 + 0x0000 + 0x0000 + 0xff11 + 0xc000 + 0x0201
  // + 0xc633 + 0x6401 = 0x3313e; folded 0x313e + 0x3 = 0x3141; complement 0xcebe.
  const outer = [
    0x45, 0xb8, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0xff, 0x11, 0xce, 0xbe, 192, 0, 2, 1, 198, 51, 100, 1,
    0x75, 0x4e, 0x75, 0x4e, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x01, 0x23, 0x45, 0xde, 0xad, 0xbe, 0xef,
  ];
  assert.is(result.consumed, 16 + bytes.length);
  assert.is(result.frames, 1);
  assert.is(result.packets.length, 1);
  const [packet] = result.packets;
  assert.equal([...packet.bytes], [...outer, ...inner]);
  assert.equal(
    { slot: packet.slot, tunnel: packet.tunnel, ts: [packet.tsSeconds, packet.tsNanoseconds], fragment: packet.fragment },
    { slot: 3, tunnel: 7, ts: [1700000000, 123456789], fragment: false },
  );
  assert.equal(filter.counters().slice(0, 9), [1n, 1n, 1n, 1n, 28n, 1n, 64n, 0n, 1n]);
  assert.equal(filter.targetCounters(3), { packets: 1n, bytes: 28n, dropped: 0n, oversize: 0n, tooManyCopies: 0n });
});

test("DSCP: target overrides node, node overrides packet, packet TOS / traffic class inherited without ECN", () => {
  const tos = (filter: OracleFilter, bytes: Uint8Array) => process(filter, [{ bytes }]).packets.map((p) => p.bytes[1]);
  const frame4 = udp4("10.0.0.1", "10.0.9.9", 8, 0xbb);
  assert.equal(tos(filterWith([{}]), frame4), [0xb8]);
  assert.equal(tos(filterWith([{}], { dscp: 10 }), frame4), [10 << 2]);
  assert.equal(tos(filterWith([{ dscp: 0 }], { dscp: 10 }), frame4), [0]);
  assert.equal(tos(filterWith([{ dscp: 63 }]), frame4), [0xfc]);
  const frame6 = udp6("2001:db8::1", "2001:db8:ffff::1", 0x2b);
  assert.equal(tos(filterWith([v6("2001:db8::", 64)]), frame6), [0x28]);
  assert.equal(tos(filterWith([v6("2001:db8::", 64)], { dscp: 46 }), frame6), [46 << 2]);
});

test("outer source: the target's, else the node's at processing time", () => {
  const filter = filterWith([{ slot: 0 }, { slot: 1, interceptId: 2, sourceAddress: 0xcb007101 }]);
  const sources = () => process(filter, [{ bytes: udp4("10.0.0.1", "10.9.9.9") }]).packets.map((p) => u32Of(p.bytes.subarray(12, 16)));
  assert.equal(sources(), [NODE_SOURCE, 0xcb007101]);
  filter.configure({ linkType: 1, sourceAddress: 0xc0000299, mtu: 1500, dscp: DSCP_INHERIT });
  assert.equal(sources(), [0xc0000299, 0xcb007101]);
});

test("Identification increments once per copy, across frames and calls", () => {
  const filter = filterWith([{ slot: 0, interceptId: 1 }, { slot: 1, interceptId: 2 }]);
  const ids = () =>
    process(filter, [{ bytes: udp4("10.0.0.1", "10.9.9.9") }, { bytes: udp4("10.9.9.9", "10.0.0.1") }]).packets.map(
      (p) => (p.bytes[4] << 8) | p.bytes[5],
    );
  assert.equal(ids(), [0, 1, 2, 3]);
  assert.equal(ids(), [4, 5, 6, 7]);
  assert.is(counter(filter, COUNTERS.next_ip_id), 8);
});

test("Identification uses the low 16 bits of next_ip_id", () => {
  const filter = filterWith(Array.from({ length: 64 }, (_, i) => ({ interceptId: 100 + i })));
  const bytes = udp4("10.0.0.1", "10.9.9.9");
  process(filter, new Array(1024).fill({ bytes }));
  const ids = process(filter, [{ bytes }]).packets.slice(0, 2).map((p) => (p.bytes[4] << 8) | p.bytes[5]);
  assert.equal(ids, [0, 1]);
  assert.is(counter(filter, COUNTERS.next_ip_id), 65536 + 64);
});

test("copies over the MTU are split into valid fragments that reassemble to the IP payload", () => {
  const filter = filterWith([{ interceptId: 77, sessionId: 5 }], { mtu: 576 });
  const bytes = udp4("10.0.0.1", "10.9.9.9", 1480);
  const inner = bytes.subarray(14, 14 + 1500);
  const { packets } = process(filter, [{ bytes }]);

  // IP payload 8 + 8 + 1500 = 1516; floor((576 - 20) / 8) * 8 = 552 bytes per fragment.
  assert.equal(packets.map((p) => p.bytes.length), [572, 572, 432]);
  const reassembled = new Uint8Array(1516);
  packets.forEach((p, i) => {
    const view = new DataView(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
    assert.is(p.fragment, true);
    assert.is(p.bytes[0], 0x45);
    assert.is(view.getUint16(2), p.bytes.length);
    assert.is(view.getUint16(4), 0, "same Identification on every fragment");
    const flags = view.getUint16(6);
    assert.is(flags & 0x4000, 0, "DF clear");
    assert.is(Boolean(flags & 0x2000), i < 2, "MF on all but the last");
    assert.is((flags & 0x1fff) * 8, i * 552);
    assert.is(internetChecksum(p.bytes.subarray(0, 20)), 0, "header checksum verifies");
    reassembled.set(p.bytes.subarray(20), (flags & 0x1fff) * 8);
  });
  const expected = new Uint8Array(1516);
  expected.set([0x75, 0x4e, 0x75, 0x4e, 0x05, 0xec, 0, 0, 0, 0, 0, 77, 0, 0, 0, 5]);
  expected.set(inner, 16);
  assert.equal(reassembled, expected);
  assert.equal(
    [COUNTERS.mirrored, COUNTERS.mirrored_bytes, COUNTERS.out_packets, COUNTERS.out_bytes, COUNTERS.fragmented].map((i) => counter(filter, i)),
    [1, 1500, 3, 1576, 1],
  );
});

test("fragmentation starts one byte over the MTU", () => {
  // 20 + 16 + 100 = 136 bytes on the wire.
  const lengths = (mtu: number) => process(filterWith([{}], { mtu }), [{ bytes: udp4("10.0.0.1", "10.9.9.9", 80) }]).packets.map((p) => p.bytes.length);
  assert.equal(lengths(136), [136]);
  // floor(115 / 8) * 8 = 112 bytes, then 4.
  assert.equal(lengths(135), [132, 24]);
  // The smallest MTU still carries 48 bytes per fragment: 116 = 48 + 48 + 20.
  assert.equal(lengths(68), [68, 68, 40]);
});

test("a copy whose outer datagram exceeds 65,535 bytes is dropped as oversize", () => {
  // 20 + 16 + 65499 = 65535 just fits; one more L3 byte does not.
  const largest = frame(1, ipv4Packet({ source: ipv4Address("10.0.0.1"), destination: ipv4Address("10.9.9.9"), payload: new Uint8Array(65479) })).bytes;
  const tooLarge = frame(1, ipv4Packet({ source: ipv4Address("10.0.0.1"), destination: ipv4Address("10.9.9.9"), payload: new Uint8Array(65480) })).bytes;
  const filter = filterWith([{}], { mtu: 65535 });
  const { packets } = process(filter, [{ bytes: largest }, { bytes: tooLarge }]);
  assert.equal(packets.map((p) => p.bytes.length), [65535]);
  assert.equal(
    [COUNTERS.parsed, COUNTERS.matched, COUNTERS.mirrored, DROP_REASONS.oversize].map((i) => counter(filter, i)),
    [2, 2, 1, 1],
  );
  assert.equal(filter.targetCounters(0), { packets: 1n, bytes: 65499n, dropped: 1n, oversize: 1n, tooManyCopies: 0n });
  assert.is(counter(filter, COUNTERS.next_ip_id), 1, "a dropped copy takes no Identification");
});

test("at most 64 copies per frame; the rest count as too_many_copies on their slots", () => {
  const filter = filterWith(Array.from({ length: 70 }, (_, i) => ({ interceptId: 100 + i })));
  const { packets } = process(filter, [{ bytes: udp4("10.0.0.1", "10.9.9.9") }]);
  assert.is(packets.length, 64);
  assert.equal(packets.map((p) => p.slot), Array.from({ length: 64 }, (_, i) => i));
  assert.is(counter(filter, DROP_REASONS.too_many_copies), 6);
  assert.is(counter(filter, COUNTERS.mirrored), 64);
  assert.equal(filter.targetCounters(63), { packets: 1n, bytes: 28n, dropped: 0n, oversize: 0n, tooManyCopies: 0n });
  assert.equal(filter.targetCounters(64), { packets: 0n, bytes: 0n, dropped: 1n, oversize: 0n, tooManyCopies: 1n });
});

test("a frame whose outputs do not fit stops the call before it; the next call resumes there", () => {
  // Each copy of a 100-byte L3 packet is 136 bytes; 300 bytes hold two.
  const filter = filterWith([{ slot: 0, interceptId: 1 }, { slot: 1, address: ipv4Address("10.0.0.2"), interceptId: 2 }], {}, { outCapacity: 300 });
  const one = udp4("10.0.0.1", "10.9.9.9", 80);
  const two = udp4("10.0.0.1", "10.0.0.2", 80);
  const none = udp4("10.9.9.9", "10.9.9.8", 80);
  const frames = [{ bytes: one }, { bytes: none }, { bytes: two }, { bytes: none }];
  const records = recordsOf(frames);
  const size = (f: Uint8Array) => 16 + f.length;

  const first = filter.process(records);
  assert.is(first.frames, 2);
  assert.is(first.consumed, size(one) + size(none));
  assert.is(first.packets.length, 1);
  assert.is(counter(filter, COUNTERS.frames), 2, "the frame stopped before is not counted");
  assert.is(counter(filter, COUNTERS.parsed), 2);

  const second = filter.process(records.subarray(first.consumed));
  assert.is(second.frames, 2);
  assert.equal(second.packets.map((p) => [p.slot, p.bytes.length]), [[0, 136], [1, 136]]);
  assert.equal(filter.counters().slice(0, 3), [4n, 4n, 2n]);
  assert.is(counter(filter, DROP_REASONS.output_full), 0);
});

test("a frame whose outputs exceed an empty output region is consumed and the copies that do not fit are dropped", () => {
  const filter = filterWith([{ slot: 0, interceptId: 1 }, { slot: 1, interceptId: 2 }, { slot: 2, interceptId: 3 }], {}, { outCapacity: 300 });
  const bytes = udp4("10.0.0.1", "10.9.9.9", 80);
  const first = process(filter, [{ bytes }, { bytes }]);
  assert.is(first.frames, 1);
  assert.equal(first.packets.map((p) => p.slot), [0, 1]);
  assert.is(counter(filter, DROP_REASONS.output_full), 1);
  assert.equal(filter.targetCounters(2), { packets: 0n, bytes: 0n, dropped: 1n, oversize: 0n, tooManyCopies: 0n });
  assert.is(counter(filter, COUNTERS.matched), 1);
});

test("copy list: source then destination, one per stream, longest prefix only", () => {
  const sessions = (targets: Partial<Target>[], bytes: Uint8Array) => mirrorSessions(process(filterWith(targets), [{ bytes }]).packets);

  // Both ends intercepted: the source's copy first, whatever the slots.
  assert.equal(
    sessions([{ address: ipv4Address("10.0.0.2"), interceptId: 2 }, { address: ipv4Address("10.0.0.1"), interceptId: 1 }], udp4("10.0.0.1", "10.0.0.2")),
    [{ slot: 1, interceptId: 1 }, { slot: 0, interceptId: 2 }],
  );
  // Two intercepts on one address: one copy each, in slot order.
  assert.equal(sessions([{ interceptId: 5 }, { interceptId: 4 }], udp4("10.9.9.9", "10.0.0.1")), [
    { slot: 0, interceptId: 5 },
    { slot: 1, interceptId: 4 },
  ]);
  // Both ends belong to the same stream: one copy.
  assert.equal(sessions([{}, { address: ipv4Address("10.0.0.2") }], udp4("10.0.0.1", "10.0.0.2")), [{ slot: 0, interceptId: 1 }]);
  // The same stream twice on one address: one copy, from the lower slot.
  assert.equal(sessions([{}, {}], udp4("10.9.9.9", "10.0.0.1")), [{ slot: 0, interceptId: 1 }]);
  // A different session ID, mediation address or port is a different stream.
  assert.is(sessions([{}, { sessionId: 2 }, { mediationAddress: MEDIATION + 1 }, { mediationPort: 1 }], udp4("10.0.0.1", "10.9.9.9")).length, 4);
  // A shared prefix (2001:db8:1::/48) on both ends: one copy.
  assert.equal(sessions([{ ...v6("2001:db8:1::", 48), interceptId: 9 }], udp6("2001:db8:1:5::1", "2001:db8:1:6::1")), [{ slot: 0, interceptId: 9 }]);
});

test("the longest matching IPv6 prefix wins, and all targets of that prefix copy", () => {
  const targets = [
    { ...v6("2001:db8:1::", 48), interceptId: 48 },
    { ...v6("2001:db8:1:100::", 56), interceptId: 56 },
    { ...v6("2001:db8:1:105::", 64), interceptId: 64 },
    { ...v6("2001:db8:1:105::", 64), interceptId: 65 },
    { ...v6("2001:db8:1:105::7", 128), interceptId: 128 },
    { ...v6("2001:db8:1:180::", 57), interceptId: 57 },
  ];
  const intercepts = (source: string) =>
    mirrorSessions(process(filterWith(targets), [{ bytes: udp6(source, "2001:db8:ffff::1") }]).packets).map((s) => s.interceptId);
  assert.equal(intercepts("2001:db8:1:105::7"), [128]);
  assert.equal(intercepts("2001:db8:1:105::8"), [64, 65]);
  // The delegated /56 covers 2001:db8:1:100::/56 = subnets 0x100..0x1ff; the /57 takes 0x180..0x1ff.
  assert.equal(intercepts("2001:db8:1:1ff::1"), [57]);
  assert.equal(intercepts("2001:db8:1:17f::1"), [56]);
  assert.equal(intercepts("2001:db8:1:200::1"), [48]);
  assert.equal(intercepts("2001:db8:2::1"), []);
  assert.equal(intercepts("2001:db9::1"), []);
});

test("removing a target restores the next shorter prefix; clearing removes all", () => {
  const filter = filterWith([{ ...v6("2001:db8::", 32), interceptId: 32 }, { ...v6("2001:db8:0:1::", 64), interceptId: 64 }]);
  const intercepts = () => mirrorSessions(process(filter, [{ bytes: udp6("2001:db8:0:1::1", "2001:db8:ffff::1") }]).packets).map((s) => s.interceptId);
  assert.equal(intercepts(), [64, 32]);
  filter.removeTarget(1);
  // Both ends now fall into the /32 of one stream.
  assert.equal(intercepts(), [32]);
  filter.clearTargets();
  assert.equal(intercepts(), []);
  filter.addTarget(target({ slot: 1, ...v6("2001:db8:0:1::", 64), interceptId: 64 }));
  assert.equal(intercepts(), [64]);
  assert.equal(filter.targetCounters(1), { packets: 1n, bytes: 48n, dropped: 0n, oversize: 0n, tooManyCopies: 0n }, "adding zeroes the slot's counters");
});

test("L3 bytes mirrored are min(IP length, captured): no padding, no FCS, no more than captured", () => {
  const filter = filterWith([{}]);
  const bytes = udp4("10.0.0.1", "10.9.9.9", 200);
  const { packets } = process(filter, [{ bytes: bytes.subarray(0, 14 + 100), origLen: bytes.length }]);
  assert.is(packets[0].bytes.length, 36 + 100);
  assert.equal(packets[0].bytes.subarray(36), bytes.subarray(14, 114));
  const jumbo = frame(229, ipv6Packet({ source: ipv6Address("2001:db8::1"), destination: ipv6Address("2001:db8::2"), payload: new Uint8Array(60), payloadLength: 0 })).bytes;
  const six = filterWith([v6("2001:db8::1", 128)], { linkType: 229 });
  assert.is(process(six, [{ bytes: jumbo }]).packets[0].bytes.length, 36 + 40, "a jumbogram is taken as its 40-byte header");
});

const V4 = ipv4Packet({ source: ipv4Address("10.0.0.1"), destination: ipv4Address("10.9.9.9"), payload: new Uint8Array(10) });
const V6 = ipv6Packet({ source: ipv6Address("2001:db8::1"), destination: ipv6Address("2001:db8::2"), payload: new Uint8Array(10) });

function with16(packet: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = packet.slice();
  new DataView(copy.buffer).setUint16(offset, value);
  return copy;
}

const CLASSIFIED: [string, LinkType, FrameRecord, keyof typeof MALFORMED_REASONS | "parsed"][] = [
  ["Ethernet IPv4", 1, { bytes: frame(1, V4).bytes }, "parsed"],
  ["Ethernet IPv6", 1, { bytes: frame(1, V6).bytes }, "parsed"],
  ["802.1Q", 1, { bytes: frame(1, V4, { tags: [0x8100] }).bytes }, "parsed"],
  ["QinQ 88a8 + 8100", 1, { bytes: frame(1, V6, { tags: [0x88a8, 0x8100] }).bytes }, "parsed"],
  ["eight tags", 1, { bytes: frame(1, V4, { tags: new Array(8).fill(0x9100) }).bytes }, "parsed"],
  ["nine tags", 1, { bytes: frame(1, V4, { tags: new Array(9).fill(0x8100) }).bytes }, "unsupported_ethertype"],
  ["eight tags then PPPoE", 1, { bytes: frame(1, V4, { tags: new Array(8).fill(0x8100), pppoe: {} }).bytes }, "parsed"],
  ["PPPoE IPv4", 1, { bytes: frame(1, V4, { pppoe: {} }).bytes }, "parsed"],
  ["PPPoE IPv4, compressed protocol field", 1, { bytes: frame(1, V4, { pppoe: { compressed: true } }).bytes }, "parsed"],
  ["PPPoE IPv6, compressed protocol field", 1, { bytes: frame(1, V6, { pppoe: { compressed: true } }).bytes }, "parsed"],
  ["PPPoE compressed MPLS (0x31)", 1, { bytes: frame(1, V4, { pppoe: { compressed: true, protocol: 0x31 } }).bytes }, "unsupported_ppp_protocol"],
  ["PPPoE compressed, cut after the protocol octet", 1, { bytes: frame(1, V4, { pppoe: { compressed: true } }).bytes.subarray(0, 14 + 7) }, "l3_truncated"],
  ["PPPoE cut before the protocol", 1, { bytes: frame(1, V4, { pppoe: {} }).bytes.subarray(0, 14 + 6) }, "l2_truncated"],
  ["PPPoE IPv6 behind a tag", 1, { bytes: frame(1, V6, { tags: [0x8100], pppoe: {} }).bytes }, "parsed"],
  ["PPPoE version 2", 1, { bytes: frame(1, V4, { pppoe: { versionType: 0x21 } }).bytes }, "bad_pppoe"],
  ["PPPoE code PADT", 1, { bytes: frame(1, V4, { pppoe: { code: 0xa7 } }).bytes }, "bad_pppoe"],
  ["PPP LCP", 1, { bytes: frame(1, V4, { pppoe: { protocol: 0xc021 } }).bytes }, "unsupported_ppp_protocol"],
  ["PPPoE header cut", 1, { bytes: frame(1, V4, { pppoe: {} }).bytes.subarray(0, 14 + 7) }, "l2_truncated"],
  ["tag cut", 1, { bytes: frame(1, V4, { tags: [0x8100] }).bytes.subarray(0, 17) }, "l2_truncated"],
  ["Ethernet header cut", 1, { bytes: frame(1, V4).bytes.subarray(0, 13) }, "l2_truncated"],
  ["ARP", 1, { bytes: frame(1, V4, { etherType: 0x0806 }).bytes }, "unsupported_ethertype"],
  ["802.3 length field", 1, { bytes: frame(1, V4, { etherType: 0x05dc }).bytes }, "unsupported_ethertype"],
  ["PPPoE discovery", 1, { bytes: frame(1, V4, { etherType: 0x8863 }).bytes }, "unsupported_ethertype"],
  ["Ethernet header only", 1, { bytes: frame(1, V4).bytes.subarray(0, 14) }, "l3_truncated"],
  ["IPv6 in an IPv4 EtherType", 1, { bytes: frame(1, V6, { etherType: 0x0800 }).bytes }, "bad_ip_version"],
  ["IPv4 header cut", 1, { bytes: frame(1, V4).bytes.subarray(0, 14 + 19) }, "l3_truncated"],
  ["IPv6 header cut", 1, { bytes: frame(1, V6).bytes.subarray(0, 14 + 39) }, "l3_truncated"],
  ["IHL 4", 1, { bytes: frame(1, with16(V4, 0, 0x4400)).bytes }, "bad_ihl"],
  ["total length below header", 1, { bytes: frame(1, with16(V4, 2, 19)).bytes }, "bad_length"],
  ["total length beyond the wire", 1, { bytes: frame(1, with16(V4, 2, 31)).bytes }, "bad_length"],
  ["total length within Ethernet padding", 1, { bytes: frame(1, with16(V4, 2, 31), { trailer: 1 }).bytes }, "parsed"],
  ["IPv6 payload length beyond the wire", 1, { bytes: frame(1, with16(V6, 4, 11)).bytes }, "bad_length"],
  ["snaplen cut is not a lie", 1, { bytes: frame(1, V4).bytes.subarray(0, 14 + 20), origLen: 14 + 30 }, "parsed"],
  ["captured beyond original", 1, { bytes: frame(1, V4).bytes, origLen: 14 + 29 }, "bad_record"],
  ["SLL IPv4", 113, { bytes: frame(113, V4).bytes }, "parsed"],
  ["SLL cut", 113, { bytes: frame(113, V4).bytes.subarray(0, 15) }, "l2_truncated"],
  ["SLL2 IPv6 behind a tag", 276, { bytes: frame(276, V6, { tags: [0x8100] }).bytes }, "parsed"],
  ["SLL2 cut", 276, { bytes: frame(276, V6).bytes.subarray(0, 19) }, "l2_truncated"],
  ["raw IPv4", 101, { bytes: V4 }, "parsed"],
  ["raw IPv6", 101, { bytes: V6 }, "parsed"],
  ["raw empty", 101, { bytes: new Uint8Array(0) }, "l3_truncated"],
  ["raw version 5", 101, { bytes: with16(V4, 0, 0x5500) }, "bad_ip_version"],
  ["raw one byte", 101, { bytes: V4.subarray(0, 1) }, "l3_truncated"],
  ["LINKTYPE_IPV4", 228, { bytes: V4 }, "parsed"],
  ["LINKTYPE_IPV4 with IPv6", 228, { bytes: V6 }, "bad_ip_version"],
  ["LINKTYPE_IPV6", 229, { bytes: V6 }, "parsed"],
  ["LINKTYPE_IPV6 empty", 229, { bytes: new Uint8Array(0) }, "l3_truncated"],
];

test("every frame is counted once, as parsed or under exactly one malformed reason", () => {
  for (const [name, linkType, record, expected] of CLASSIFIED) {
    const filter = filterWith([], { linkType });
    const result = process(filter, [record]);
    assert.is(result.frames, 1, name);
    const counters = filter.counters();
    const reasons = [COUNTERS.parsed, ...Object.values(MALFORMED_REASONS)].filter((i) => counters[i] === 1n);
    const index = expected === "parsed" ? COUNTERS.parsed : MALFORMED_REASONS[expected];
    assert.equal(reasons, [index], name);
    assert.is(counters[COUNTERS.frames], 1n, name);
  }
});

test("random valid frames of every link type parse", () => {
  const rng = mulberry32(42);
  for (const linkType of LINK_TYPES) {
    const filter = filterWith([], { linkType });
    const frames = Array.from({ length: 200 }, () => randomFrame(rng, { linkType, malformed: 0 }));
    process(filter, frames);
    assert.equal(filter.counters().slice(0, 2), [200n, 200n], `link type ${linkType}`);
  }
});

test("input: partial records wait, an oversized first record consumes nothing", () => {
  const filter = filterWith([{}], {}, { inCapacity: 200 });
  const small = udp4("10.0.0.1", "10.9.9.9", 8);
  const records = recordsOf([{ bytes: small }, { bytes: small }]);
  assert.is(filter.process(records.subarray(0, records.length - 1)).consumed, 16 + small.length);
  // A 201-byte record never fits in 200 bytes of input: the host must not present one.
  assert.is(filter.process(recordsOf([{ bytes: new Uint8Array(185) }]).subarray(0, 200)).consumed, 0);
  assert.is(filter.process(recordsOf([{ bytes: new Uint8Array(184) }])).consumed, 200);
  assert.is(filter.process(new Uint8Array(15)).consumed, 0);
  assert.throws(() => filter.process(new Uint8Array(201)), RangeError);
  const input = filter.inputBuffer();
  input.set(records);
  assert.is(filter.process(input.subarray(0, records.length)).frames, 2, "records written into inputBuffer()");
});

test("arguments are validated with the documented error codes", () => {
  const code = (f: () => void) => {
    try {
      f();
    } catch (error) {
      if (error instanceof FilterError) return error.code;
      throw error;
    }
    return 0;
  };
  assert.is(code(() => new OracleFilter({ outCapacity: 0 })), 1);
  const filter = filterWith([{ slot: 0 }], {}, { maxTargets: 8 });
  const add = (fields: Partial<Target>) => code(() => filter.addTarget(target({ slot: 1, ...fields })));
  assert.is(add({ slot: 8 }), 1);
  assert.is(add({ slot: 0 }), 2);
  assert.is(add({ family: 5 as 4 }), 3);
  assert.is(add({ prefixLength: 24 }), 4);
  assert.is(add({ ...v6("2001:db8::", 129) }), 4);
  assert.is(add({ interceptId: 2 ** 30 }), 5);
  assert.is(add({ mediationPort: 0 }), 6);
  assert.is(add({ mediationPort: 65536 }), 6);
  assert.is(add({ dscp: 64 }), 7);
  assert.is(add({ ...v6("2001:db8::1", 64) }), 8);
  assert.is(add({ tunnel: 65536 }), 1);
  assert.is(add({ ...v6("::", 0) }), 0);
  assert.is(add({ slot: 2, interceptId: 2 ** 30 - 1, dscp: 63 }), 0);
  const configure = (fields: Partial<FilterConfig>) =>
    code(() => filter.configure({ linkType: 1, sourceAddress: NODE_SOURCE, mtu: 1500, dscp: DSCP_INHERIT, ...fields }));
  assert.is(configure({ linkType: 0 }), 9);
  assert.is(configure({ mtu: 67 }), 10);
  assert.is(configure({ mtu: 65536 }), 10);
  assert.is(configure({ dscp: 64 }), 7);
  assert.is(configure({ linkType: 276, mtu: 68, dscp: 0 }), 0);
  assert.is(code(() => filter.removeTarget(5)), 1);
});

test.run();
