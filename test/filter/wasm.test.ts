import { readFile } from "node:fs/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { WasmFilter, type WasmFilterOptions } from "../../runtime/filter/wasm.ts";
import {
  ABI_VERSION,
  COUNTERS,
  DROP_REASONS,
  DSCP_INHERIT,
  FilterError,
  MALFORMED_REASONS,
  type FilterConfig,
  type MirroredPacket,
  type Target,
} from "../../runtime/filter/types.ts";

// The project's TypeScript libs declare no WebAssembly API; this is the part the tests use directly.
const wasm = (
  globalThis as unknown as {
    WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }> };
  }
).WebAssembly;
const MODULE = new Uint8Array(await readFile(new URL("../../build/filters/jmirror.wasm", import.meta.url)));
const NODE_SOURCE = 0xc0000201;
const MEDIATION = 0xc6336401;

// ---- frame building ---------------------------------------------------------------------------

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const be16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff);

function parseV4(text: string): Uint8Array {
  return Uint8Array.from(text.split(".").map(Number));
}

function parseV6(text: string): Uint8Array {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const words = (s: string | undefined) => (s ? s.split(":").map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((w, i) => out.set(be16(w), i * 2));
  return out;
}

const u32be = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

interface Ipv4Options {
  payload?: number;
  tos?: number;
  optionWords?: number;
  ihl?: number;
  totalLength?: number;
  fragment?: number;
  version?: number;
}

function ipv4(src: string, dst: string, o: Ipv4Options = {}): Uint8Array {
  const header = 20 + (o.optionWords ?? 0) * 4;
  const p = new Uint8Array(header + (o.payload ?? 8));
  p[0] = ((o.version ?? 4) << 4) | (o.ihl ?? header / 4);
  p[1] = o.tos ?? 0;
  p.set(be16(o.totalLength ?? p.length), 2);
  p.set(be16(0x1234), 4);
  p.set(be16(o.fragment ?? 0), 6);
  p[8] = 64;
  p[9] = 17;
  p.set(parseV4(src), 12);
  p.set(parseV4(dst), 16);
  for (let i = 20; i < header; i++) p[i] = 1; // NOP options
  for (let i = header; i < p.length; i++) p[i] = i & 0xff;
  p.set(be16(checksum(p.subarray(0, header))), 10);
  return p;
}

function ipv6(src: string, dst: string, o: { payload?: number; trafficClass?: number; payloadLength?: number } = {}): Uint8Array {
  const p = new Uint8Array(40 + (o.payload ?? 8));
  const tc = o.trafficClass ?? 0;
  p[0] = 0x60 | (tc >> 4);
  p[1] = (tc & 0xf) << 4;
  p.set(be16(o.payloadLength ?? p.length - 40), 4);
  p[6] = 17;
  p[7] = 64;
  p.set(parseV6(src), 8);
  p.set(parseV6(dst), 24);
  for (let i = 40; i < p.length; i++) p[i] = i & 0xff;
  return p;
}

const MACS = Uint8Array.of(2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2);

/** Ethernet with `types` = [outer EtherType, ..., innermost EtherType]: each but the last is a tag. */
function ethernet(types: number[], body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [MACS, be16(types[0])];
  for (const type of types.slice(1)) parts.push(be16(100), be16(type));
  parts.push(body);
  return concat(...parts);
}

function pppoe(protocol: number, body: Uint8Array, verType = 0x11, code = 0): Uint8Array {
  return concat(Uint8Array.of(verType, code), be16(0x0042), be16(body.length + 2), be16(protocol), body);
}

function sll(protocol: number, body: Uint8Array): Uint8Array {
  return concat(be16(0), be16(1), be16(6), MACS.subarray(0, 8), be16(protocol), body);
}

function sll2(protocol: number, body: Uint8Array): Uint8Array {
  return concat(be16(protocol), be16(0), Uint8Array.of(0, 0, 0, 3), be16(1), Uint8Array.of(0, 6), MACS.subarray(0, 8), body);
}

function record(frame: Uint8Array, o: { original?: number; seconds?: number; nanoseconds?: number } = {}): Uint8Array {
  const r = new Uint8Array(16 + frame.length);
  const v = new DataView(r.buffer);
  v.setUint32(0, o.seconds ?? 1700000000, true);
  v.setUint32(4, o.nanoseconds ?? 123456789, true);
  v.setUint32(8, frame.length, true);
  v.setUint32(12, o.original ?? frame.length, true);
  r.set(frame, 16);
  return r;
}

// ---- filter helpers ---------------------------------------------------------------------------

async function load(config: Partial<FilterConfig> = {}, options: WasmFilterOptions = {}): Promise<WasmFilter> {
  const filter = await WasmFilter.load(MODULE, { maxTargets: 256, inCapacity: 1 << 20, outCapacity: 1 << 20, ...options });
  filter.configure({ linkType: 1, sourceAddress: NODE_SOURCE, mtu: 1500, dscp: DSCP_INHERIT, ...config });
  return filter;
}

/** A target from "address" or "address/length"; the stream defaults to one per slot. */
function target(slot: number, prefix: string, o: Partial<Target> = {}): Target {
  const [address, length] = prefix.split("/");
  const family = address.includes(":") ? 6 : 4;
  return {
    slot,
    family,
    address: family === 4 ? parseV4(address) : parseV6(address),
    prefixLength: length ? Number(length) : family === 4 ? 32 : 128,
    interceptId: 1000 + slot,
    sessionId: 7,
    mediationAddress: MEDIATION,
    mediationPort: 30030,
    sourceAddress: 0,
    tunnel: 0,
    dscp: DSCP_INHERIT,
    ...o,
  };
}

function counter(filter: WasmFilter, name: keyof typeof COUNTERS | keyof typeof MALFORMED_REASONS | keyof typeof DROP_REASONS): number {
  const all: Record<string, number> = { ...COUNTERS, ...MALFORMED_REASONS, ...DROP_REASONS };
  return Number(filter.counters()[all[name]]);
}

interface Outer {
  tos: number;
  totalLength: number;
  id: number;
  moreFragments: boolean;
  dontFragment: boolean;
  offset: number;
  ttl: number;
  protocol: number;
  checksumOk: boolean;
  source: number;
  destination: number;
  payload: Uint8Array;
}

function outer(bytes: Uint8Array): Outer {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.is(bytes[0], 0x45, "outer version 4, IHL 5");
  const fragment = v.getUint16(6);
  return {
    tos: bytes[1],
    totalLength: v.getUint16(2),
    id: v.getUint16(4),
    moreFragments: (fragment & 0x2000) !== 0,
    dontFragment: (fragment & 0x4000) !== 0,
    offset: (fragment & 0x1fff) * 8,
    ttl: bytes[8],
    protocol: bytes[9],
    checksumOk: checksum(bytes.subarray(0, 20)) === 0,
    source: v.getUint32(12),
    destination: v.getUint32(16),
    payload: bytes.subarray(20),
  };
}

interface Mirror {
  sourcePort: number;
  destinationPort: number;
  udpLength: number;
  udpChecksum: number;
  interceptId: number;
  sessionId: number;
  inner: Uint8Array;
}

function mirror(payload: Uint8Array): Mirror {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    sourcePort: v.getUint16(0),
    destinationPort: v.getUint16(2),
    udpLength: v.getUint16(4),
    udpChecksum: v.getUint16(6),
    interceptId: v.getUint32(8),
    sessionId: v.getUint32(12),
    inner: payload.subarray(16),
  };
}

/** The inner packet of a single-packet copy. */
const inner = (p: MirroredPacket) => mirror(outer(p.bytes).payload).inner;
const interceptIds = (packets: MirroredPacket[]) => packets.map((p) => mirror(outer(p.bytes).payload).interceptId);

function expectFilterError(fn: () => void, code: number): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, FilterError);
    assert.is((error as FilterError).code, code);
    return;
  }
  assert.unreachable(`expected FilterError ${code}`);
}

// ---- ABI ----------------------------------------------------------------------------------------

test("identity: ABI version, name and version from iapd_filter_info", async () => {
  const filter = await load();
  assert.is(filter.name, "jmirror");
  assert.match(filter.version, /^\d+\.\d+\.\d+$/);
  const { instance } = await wasm.instantiate(MODULE, { env: { abort() {} } });
  assert.is((instance.exports.iapd_abi_version as () => number)(), ABI_VERSION);
});

test("load rejects a module without the filter exports", async () => {
  const empty = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0);
  try {
    await WasmFilter.load(empty);
    assert.unreachable("loaded an empty module");
  } catch (error) {
    assert.match(String(error), /missing export\(s\) memory, iapd_abi_version/);
  }
});

test("load with default options uses the built module", async () => {
  const filter = await WasmFilter.load();
  assert.is(filter.maxTargets, 131072);
  assert.is(filter.inputBuffer().length, 4 << 20);
  filter.addTarget(target(131071, "10.0.0.1"));
  expectFilterError(() => filter.addTarget(target(131072, "10.0.0.2")), 1);
});

test("init errors: capacity 0 is a bad argument; a second init too", async () => {
  for (const options of [{ maxTargets: 0 }, { inCapacity: 0 }, { outCapacity: 0 }]) {
    try {
      await WasmFilter.load(MODULE, options);
      assert.unreachable("accepted a zero capacity");
    } catch (error) {
      assert.instance(error, FilterError);
      assert.is((error as FilterError).code, 1);
    }
  }
  const { instance } = await wasm.instantiate(MODULE, { env: { abort() {} } });
  const abi = instance.exports as Record<string, (...args: number[]) => number>;
  assert.is(abi.iapd_configure(1, 0, 1500, 255), 11);
  assert.is(abi.iapd_target_add(0, 4, 32, 1, 1, 1, 1, 0, 0, 255), 11);
  assert.is(abi.iapd_target_remove(0), 1);
  assert.is(abi.iapd_process(0, 0), 0);
  assert.is(abi.iapd_init(4, 1024, 1024), 0);
  assert.is(abi.iapd_init(4, 1024, 1024), 1);
});

test("configure errors: link type 9, MTU 10, DSCP 7", async () => {
  const filter = await load();
  expectFilterError(() => filter.configure({ linkType: 2, sourceAddress: 0, mtu: 1500, dscp: 0 }), 9);
  expectFilterError(() => filter.configure({ linkType: 1, sourceAddress: 0, mtu: 67, dscp: 0 }), 10);
  expectFilterError(() => filter.configure({ linkType: 1, sourceAddress: 0, mtu: 65536, dscp: 0 }), 10);
  expectFilterError(() => filter.configure({ linkType: 1, sourceAddress: 0, mtu: 1500, dscp: 64 }), 7);
  for (const linkType of [1, 101, 113, 228, 229, 276]) filter.configure({ linkType, sourceAddress: 0, mtu: 68, dscp: 63 });
});

test("target add errors: every code", async () => {
  const filter = await load();
  filter.addTarget(target(1, "10.0.0.1"));
  expectFilterError(() => filter.addTarget(target(256, "10.0.0.2")), 1);
  expectFilterError(() => filter.addTarget(target(2, "10.0.0.2", { tunnel: 65536 })), 1);
  expectFilterError(() => filter.addTarget(target(1, "10.0.0.2")), 2);
  expectFilterError(() => filter.addTarget({ ...target(2, "10.0.0.2"), family: 5 as 4 }), 3);
  expectFilterError(() => filter.addTarget(target(2, "10.0.0.0/24")), 4);
  expectFilterError(() => filter.addTarget(target(2, "2001:db8::/129")), 4);
  expectFilterError(() => filter.addTarget(target(2, "10.0.0.2", { interceptId: 2 ** 30 })), 5);
  expectFilterError(() => filter.addTarget(target(2, "10.0.0.2", { mediationPort: 0 })), 6);
  expectFilterError(() => filter.addTarget(target(2, "10.0.0.2", { mediationPort: 65536 })), 6);
  expectFilterError(() => filter.addTarget(target(2, "10.0.0.2", { dscp: 64 })), 7);
  expectFilterError(() => filter.addTarget(target(2, "2001:db8::1/64")), 8);
  expectFilterError(() => filter.addTarget(target(2, "2001:db8:0:80::/56")), 8);
  expectFilterError(() => filter.removeTarget(2), 1);
  filter.addTarget(target(2, "10.0.0.2", { interceptId: 2 ** 30 - 1, mediationPort: 65535, dscp: 63, tunnel: 65535 }));
  filter.addTarget(target(3, "::/0"));
  filter.addTarget(target(4, "2001:db8:0:80::/57"));
  expectFilterError(() => filter.addTarget(target(5, "10.0.0.5", { sessionId: -1 })), 1);
  expectFilterError(() => filter.addTarget(target(5, "10.0.0.5", { interceptId: -1 })), 5);
  expectFilterError(() => filter.addTarget({ ...target(5, "10.0.0.5"), address: new Uint8Array(16) }), 1);
});

// ---- link layers --------------------------------------------------------------------------------

const V4 = ipv4("10.1.1.1", "203.0.113.9", { payload: 30 });
const V6 = ipv6("2001:db8:1::1", "2001:db8:ffff::9", { payload: 30 });

async function mirrored(linkType: number, frame: Uint8Array, original?: number) {
  const filter = await load({ linkType });
  filter.addTarget(target(0, "10.1.1.1"));
  filter.addTarget(target(1, "2001:db8:1::/48"));
  const r = filter.process(record(frame, { original }));
  return { filter, r };
}

const LINK_CASES: [string, number, Uint8Array, Uint8Array][] = [
  ["Ethernet IPv4", 1, ethernet([0x0800], V4), V4],
  ["Ethernet IPv6", 1, ethernet([0x86dd], V6), V6],
  ["RAW IPv4", 101, V4, V4],
  ["RAW IPv6", 101, V6, V6],
  ["Linux SLL", 113, sll(0x0800, V4), V4],
  ["IPv4", 228, V4, V4],
  ["IPv6", 229, V6, V6],
  ["Linux SLL2", 276, sll2(0x86dd, V6), V6],
  ["802.1Q", 1, ethernet([0x8100, 0x0800], V4), V4],
  ["QinQ 0x88a8", 1, ethernet([0x88a8, 0x8100, 0x86dd], V6), V6],
  ["QinQ 0x9100", 1, ethernet([0x9100, 0x8100, 0x0800], V4), V4],
  ["eight tags", 1, ethernet([...new Array(8).fill(0x8100), 0x0800], V4), V4],
  ["SLL 802.1Q", 113, sll(0x8100, concat(be16(5), be16(0x0800), V4)), V4],
  ["PPPoE IPv4", 1, ethernet([0x8864], pppoe(0x0021, V4)), V4],
  ["PPPoE IPv6", 1, ethernet([0x8864], pppoe(0x0057, V6)), V6],
  ["VLAN PPPoE", 1, ethernet([0x8100, 0x8864], pppoe(0x0021, V4)), V4],
  ["PPPoE IPv4, compressed protocol field", 1, ethernet([0x8864], concat(Uint8Array.of(0x11, 0, 0, 0x42), be16(V4.length + 1), Uint8Array.of(0x21), V4)), V4],
  ["PPPoE IPv6, compressed protocol field", 1, ethernet([0x8864], concat(Uint8Array.of(0x11, 0, 0, 0x42), be16(V6.length + 1), Uint8Array.of(0x57), V6)), V6],
];

for (const [name, linkType, frame, expected] of LINK_CASES) {
  test(`link: ${name}`, async () => {
    const { filter, r } = await mirrored(linkType, frame);
    assert.is(r.consumed, 16 + frame.length);
    assert.is(r.frames, 1);
    assert.is(r.packets.length, 1);
    assert.equal(inner(r.packets[0]), expected);
    assert.is(counter(filter, "parsed"), 1);
    assert.is(counter(filter, "matched"), 1);
  });
}

test("IPv4 with options and IPv4 fragments are mirrored whole", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(0, "10.1.1.1"));
  const withOptions = ipv4("10.9.9.9", "10.1.1.1", { optionWords: 3, payload: 12 });
  const first = ipv4("10.1.1.1", "10.9.9.9", { fragment: 0x2000, payload: 64 });
  const later = ipv4("10.1.1.1", "10.9.9.9", { fragment: 0x0008, payload: 16 });
  const r = filter.process(concat(record(withOptions), record(first), record(later)));
  assert.is(r.packets.length, 3);
  assert.equal(inner(r.packets[0]), withOptions);
  assert.equal(inner(r.packets[1]), first);
  assert.equal(inner(r.packets[2]), later);
});

// ---- malformed frames -----------------------------------------------------------------------------

type Reason = keyof typeof MALFORMED_REASONS;
const MALFORMED: [string, number, Uint8Array, Reason, number?][] = [
  ["short Ethernet", 1, MACS, "l2_truncated"],
  ["short SLL", 113, new Uint8Array(15), "l2_truncated"],
  ["short SLL2", 276, new Uint8Array(19), "l2_truncated"],
  ["cut VLAN tag", 1, concat(MACS, be16(0x8100), be16(1)), "l2_truncated"],
  ["cut PPPoE", 1, concat(MACS, be16(0x8864), Uint8Array.of(0x11, 0, 0, 1, 0, 2, 0)), "l2_truncated"],
  ["ARP", 1, ethernet([0x0806], new Uint8Array(28)), "unsupported_ethertype"],
  ["802.3 length", 1, ethernet([0x0040], new Uint8Array(46)), "unsupported_ethertype"],
  ["PPPoE discovery", 1, ethernet([0x8863], new Uint8Array(20)), "unsupported_ethertype"],
  ["nine tags", 1, ethernet([...new Array(9).fill(0x8100), 0x0800], V4), "unsupported_ethertype"],
  ["PPP LCP", 1, ethernet([0x8864], pppoe(0xc021, new Uint8Array(10))), "unsupported_ppp_protocol"],
  ["PPPoE version 2", 1, ethernet([0x8864], pppoe(0x0021, V4, 0x21)), "bad_pppoe"],
  ["PPPoE code PADI", 1, ethernet([0x8864], pppoe(0x0021, V4, 0x11, 0x09)), "bad_pppoe"],
  ["empty IPv4 frame", 228, new Uint8Array(0), "l3_truncated"],
  ["empty RAW frame", 101, new Uint8Array(0), "l3_truncated"],
  ["Ethernet without L3", 1, ethernet([0x0800], new Uint8Array(0)), "l3_truncated"],
  ["19 bytes of IPv4", 228, V4.subarray(0, 19), "l3_truncated"],
  ["39 bytes of IPv6", 229, V6.subarray(0, 39), "l3_truncated"],
  ["IPv6 where IPv4 announced", 1, ethernet([0x0800], V6), "bad_ip_version"],
  ["IPv4 on the IPv6 link type", 229, V4, "bad_ip_version"],
  ["RAW version 5", 101, ipv4("10.1.1.1", "10.1.1.2", { version: 5 }), "bad_ip_version"],
  ["IHL 4", 228, ipv4("10.1.1.1", "10.1.1.2", { ihl: 4 }), "bad_ihl"],
  ["total length < IHL*4", 228, ipv4("10.1.1.1", "10.1.1.2", { optionWords: 2, totalLength: 24 }), "bad_length"],
  ["total length beyond the wire", 228, ipv4("10.1.1.1", "10.1.1.2", { totalLength: 29 }), "bad_length"],
  ["IPv6 payload length beyond the wire", 229, ipv6("::1", "::2", { payloadLength: 9 }), "bad_length"],
  ["captured > original", 228, V4, "bad_record", V4.length - 1],
];

test("malformed frames: each reason counted once, nothing copied", async () => {
  const names = Object.keys(MALFORMED_REASONS) as Reason[];
  for (const [name, linkType, frame, reason, original] of MALFORMED) {
    const filter = await load({ linkType });
    filter.addTarget(target(0, "10.1.1.1"));
    filter.addTarget(target(1, "::/0"));
    const r = filter.process(record(frame, { original }));
    assert.is(r.consumed, 16 + frame.length, name);
    assert.is(r.packets.length, 0, name);
    assert.is(counter(filter, "frames"), 1, name);
    assert.is(counter(filter, "parsed"), 0, name);
    for (const other of names) assert.is(counter(filter, other), other === reason ? 1 : 0, `${name}: ${other}`);
  }
});

test("a truncated record on the wire (original > captured) is still parsed", async () => {
  const p = ipv4("10.1.1.1", "10.2.2.2", { payload: 100 });
  const { filter, r } = await mirrored(228, p.subarray(0, 50), p.length);
  assert.is(counter(filter, "parsed"), 1);
  const m = mirror(outer(r.packets[0].bytes).payload);
  assert.equal(m.inner, p.subarray(0, 50), "copies what was captured");
  assert.is(m.udpLength, 16 + 50);
  assert.is(counter(filter, "mirrored_bytes"), 50);
});

test("Ethernet padding and FCS are not copied", async () => {
  const small = ipv4("10.1.1.1", "10.2.2.2", { payload: 0 });
  const frame = concat(ethernet([0x0800], small), new Uint8Array(26), Uint8Array.of(1, 2, 3, 4));
  const { r } = await mirrored(1, frame);
  assert.equal(inner(r.packets[0]), small);
  const v6 = ipv6("2001:db8:1::1", "::2", { payload: 0 });
  const { r: r6 } = await mirrored(1, concat(ethernet([0x86dd], v6), new Uint8Array(6)));
  assert.equal(inner(r6.packets[0]), v6);
});

test("random bytes never trap, and every frame is counted once", async () => {
  let seed = 12345;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
  const starts = [ethernet([0x8100, 0x8864], pppoe(0x0021, V4)), sll2(0x86dd, V6), V4, V6];
  for (const linkType of [1, 101, 113, 228, 229, 276]) {
    const filter = await load({ linkType });
    filter.addTarget(target(0, "10.1.1.1"));
    filter.addTarget(target(1, "::/0"));
    const records: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) {
      const base = starts[i % starts.length];
      const frame = base.slice(0, random() % (base.length + 1));
      for (let k = random() % 4; k > 0; k--) frame[random() % Math.max(frame.length, 1)] = random();
      records.push(record(frame, { original: frame.length + (random() % 3) }));
    }
    const batch = concat(...records);
    let consumed = 0;
    while (consumed < batch.length) consumed += filter.process(batch.subarray(consumed)).consumed;
    const c = filter.counters();
    const malformed = Object.values(MALFORMED_REASONS).reduce((n, i) => n + c[i], 0n);
    assert.is(c[COUNTERS.frames], 400n);
    assert.is(c[COUNTERS.parsed] + malformed, 400n);
  }
});

// ---- matching -----------------------------------------------------------------------------------

test("copies: both ends intercepted = 2, source targets first", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(0, "10.0.0.2"));
  filter.addTarget(target(1, "10.0.0.1"));
  const r = filter.process(record(ipv4("10.0.0.2", "10.0.0.1")));
  assert.equal(r.packets.map((p) => p.slot), [0, 1]);
  assert.equal(interceptIds(r.packets), [1000, 1001]);
});

test("copies: one target with two intercepts = 2, in ascending slot order", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(9, "10.0.0.1"));
  filter.addTarget(target(4, "10.0.0.1"));
  filter.addTarget(target(5, "10.0.0.7"));
  const r = filter.process(record(ipv4("10.0.0.7", "10.0.0.1")));
  assert.equal(r.packets.map((p) => p.slot), [5, 4, 9]);
  assert.is(counter(filter, "mirrored"), 3);
  assert.is(counter(filter, "matched"), 1);
});

test("copies: the same stream at both ends = 1, attributed to the source's target", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(3, "10.0.0.1", { interceptId: 42 }));
  filter.addTarget(target(2, "10.0.0.2", { interceptId: 42 }));
  const r = filter.process(record(ipv4("10.0.0.2", "10.0.0.1")));
  assert.equal(r.packets.map((p) => p.slot), [2]);
  const same = filter.process(record(ipv4("10.0.0.1", "10.0.0.1")));
  assert.equal(same.packets.map((p) => p.slot), [3]);
  filter.addTarget(target(7, "10.0.0.1", { interceptId: 42, sessionId: 8 }));
  assert.equal(filter.process(record(ipv4("10.0.0.2", "10.0.0.1"))).packets.map((p) => p.slot), [2, 7]);
});

test("IPv6: longest prefix wins, a /56 delegated prefix matches, removal stops matching", async () => {
  const filter = await load({ linkType: 229 });
  filter.addTarget(target(0, "2001:db8::/32"));
  filter.addTarget(target(1, "2001:db8:aa00::/40"));
  filter.addTarget(target(2, "2001:db8:aa00:1200::/56"));
  filter.addTarget(target(3, "2001:db8:aa00:1200::/56"));
  filter.addTarget(target(4, "2001:db8:aa00:1234::5"));
  const slots = (src: string) => filter.process(record(ipv6(src, "2001:db9::1"))).packets.map((p) => p.slot);
  assert.equal(slots("2001:db8:aa00:1234::5"), [4]);
  assert.equal(slots("2001:db8:aa00:12ff:1:2:3:4"), [2, 3]);
  assert.equal(slots("2001:db8:aa00:1300::1"), [1]);
  assert.equal(slots("2001:db8:ab00::1"), [0]);
  filter.removeTarget(2);
  assert.equal(slots("2001:db8:aa00:12ff:1:2:3:4"), [3]);
  filter.removeTarget(3);
  assert.equal(slots("2001:db8:aa00:12ff:1:2:3:4"), [1]);
  filter.removeTarget(4);
  assert.equal(slots("2001:db8:aa00:1234::5"), [1]);
  filter.clearTargets();
  assert.equal(slots("2001:db8:aa00:1234::5"), []);
  filter.addTarget(target(4, "::/0"));
  assert.equal(slots("2001:db8:aa00:1234::5"), [4]);
});

test("IPv4: removal stops matching and frees the slot", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(0, "10.0.0.1"));
  assert.is(filter.process(record(ipv4("10.0.0.1", "10.0.0.2"))).packets.length, 1);
  filter.removeTarget(0);
  assert.is(filter.process(record(ipv4("10.0.0.1", "10.0.0.2"))).packets.length, 0);
  filter.addTarget(target(0, "10.0.0.2"));
  assert.is(filter.process(record(ipv4("10.0.0.1", "10.0.0.2"))).packets.length, 1);
  assert.is(filter.targetCounters(0).packets, 1n, "adding a target zeroes its counters");
});

test("many adds and removes agree with a plain model", async () => {
  const filter = await load({ linkType: 229 }, { maxTargets: 512 });
  let seed = 99;
  const random = (n: number) => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
  const lengths = [0, 16, 32, 48, 56, 60, 64, 100, 127, 128];
  const live = new Map<number, { bits: bigint; length: number }>();
  const fromBig = (n: bigint) => Uint8Array.from({ length: 16 }, (_, i) => Number((n >> BigInt(8 * (15 - i))) & 0xffn));
  const mask = (n: bigint, length: number) => (length === 0 ? 0n : (n >> BigInt(128 - length)) << BigInt(128 - length));
  // Addresses from a small space so that prefixes overlap often.
  const address = () => (0x20010db8n << 96n) | (BigInt(random(4)) << 72n) | (BigInt(random(4)) << 60n) | BigInt(random(4));
  const text = (a: bigint) => Array.from({ length: 8 }, (_, i) => ((a >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":");
  const model = (a: bigint) => {
    let best = -1;
    let slots: number[] = [];
    for (const [slot, t] of [...live].sort((x, y) => x[0] - y[0])) {
      if (mask(a, t.length) !== t.bits) continue;
      if (t.length > best) [best, slots] = [t.length, [slot]];
      else if (t.length === best) slots.push(slot);
    }
    return slots;
  };
  let copies = 0;
  for (let round = 0; round < 3000; round++) {
    const slot = random(512);
    if (live.has(slot)) {
      filter.removeTarget(slot);
      live.delete(slot);
    } else {
      const length = lengths[random(lengths.length)];
      const bits = mask(address(), length);
      filter.addTarget(target(slot, `::`, { address: fromBig(bits), prefixLength: length }));
      live.set(slot, { bits, length });
    }
    if (round % 10 === 0) {
      const [src, dst] = [address(), address()];
      const got = filter.process(record(ipv6(text(src), text(dst))));
      const fromSource = model(src);
      const expected = [...fromSource, ...model(dst).filter((slot) => !fromSource.includes(slot))];
      assert.equal(got.packets.map((p) => p.slot), expected.slice(0, 64), `round ${round}`);
      copies += got.packets.length;
    }
  }
  assert.ok(copies > 300, `lookups found targets (${copies} copies)`);
});

test("presence filter: thousands of IPv4 targets added and removed, and 300 on one address, match exactly", async () => {
  // maxTargets 8192: 2^18 presence cells; 6,000 targets grow the bitmap from 4,096 bits to 2^18 and
  // removing them shrinks it again (assembly/presence.ts). Every probe is checked against a model.
  const filter = await load({ linkType: 228 }, { maxTargets: 8192 });
  let seed = 7;
  const random = (n: number) => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
  const text = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  // 100.64.0.0/18: 16,384 addresses, so that probes hit targets often.
  const address = () => 0x64400000 + random(1 << 14);
  const live = new Map<number, number>();
  const probe = (label: string) => {
    for (let i = 0; i < 200; i++) {
      const a = address();
      const expected = [...live].filter(([, at]) => at === a).map(([slot]) => slot).sort((x, y) => x - y);
      const got = filter.process(record(ipv4(text(a), "192.0.2.1"))).packets.map((p) => p.slot);
      assert.equal(got, expected.slice(0, 64), `${label}: ${text(a)}`);
    }
  };
  for (let slot = 0; slot < 6000; slot++) {
    const a = address();
    filter.addTarget(target(slot, text(a)));
    live.set(slot, a);
    if (slot % 1000 === 999) probe(`after ${slot + 1} adds`);
  }
  for (let slot = 0; slot < 6000; slot++) {
    if (slot % 7 === 0) continue;
    filter.removeTarget(slot);
    live.delete(slot);
    if (slot % 1000 === 999) probe(`after removing to slot ${slot}`);
  }
  probe("after the removals");
  for (const a of new Set(live.values())) {
    const got = filter.process(record(ipv4(text(a), "192.0.2.1"))).packets.map((p) => p.slot);
    const expected = [...live].filter(([, at]) => at === a).map(([slot]) => slot).sort((x, y) => x - y);
    assert.equal(got, expected, `a remaining target's address ${text(a)} matches`);
  }
  // 300 targets on one address saturate its cell's count: matching stays exact while they are
  // removed, and after the last one goes the address matches nothing.
  const shared = 0xc6336499;
  for (let slot = 6000; slot < 6300; slot++) filter.addTarget(target(slot, text(shared)));
  for (let slot = 6000; slot < 6300; slot++) {
    if (slot % 50 === 0) {
      const got = filter.process(record(ipv4(text(shared), "192.0.2.1"))).packets.length;
      assert.is(got, Math.min(64, 6300 - slot), `copies with ${6300 - slot} targets on one address`);
    }
    filter.removeTarget(slot);
  }
  assert.is(filter.process(record(ipv4(text(shared), "192.0.2.1"))).packets.length, 0);
  probe("at the end");
});

test("more than 64 copies are dropped as too_many_copies", async () => {
  const filter = await load({ linkType: 228 });
  for (let slot = 0; slot < 70; slot++) filter.addTarget(target(slot, "10.0.0.1"));
  const r = filter.process(record(ipv4("10.0.0.1", "10.0.0.2")));
  assert.is(r.packets.length, 64);
  assert.is(counter(filter, "too_many_copies"), 6);
  assert.is(counter(filter, "mirrored"), 64);
  assert.is(filter.targetCounters(69).dropped, 1n);
  assert.is(filter.targetCounters(69).tooManyCopies, 1n, "counted by reason for the slot");
  assert.is(filter.targetCounters(63).packets, 1n);
});

// ---- encapsulation --------------------------------------------------------------------------------

test("outer headers: exact bytes", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(6, "10.0.0.1", { interceptId: 0x3fffffff, sessionId: 0xdeadbeef, mediationPort: 30030, tunnel: 12 }));
  const p = ipv4("10.0.0.1", "10.0.0.2", { payload: 4 });
  const r = filter.process(record(p, { seconds: 77, nanoseconds: 88 }));
  const bytes = r.packets[0].bytes;
  // prettier-ignore
  const header = [
    0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x00, 0xff, 0x11, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x01,
    0x75, 0x4e, 0x75, 0x4e, 0x00, 0x28, 0x00, 0x00,
    0x3f, 0xff, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef,
  ];
  const expected = Uint8Array.from(header);
  expected.set(be16(checksum(expected.subarray(0, 20))), 10);
  assert.equal(bytes.subarray(0, 36), expected);
  assert.equal(bytes.subarray(36), p);
  const o = outer(bytes);
  assert.ok(o.checksumOk);
  assert.is(o.ttl, 255);
  assert.is(o.protocol, 17);
  assert.not.ok(o.dontFragment);
  assert.equal(
    { slot: r.packets[0].slot, tunnel: r.packets[0].tunnel, s: r.packets[0].tsSeconds, ns: r.packets[0].tsNanoseconds, f: r.packets[0].fragment },
    { slot: 6, tunnel: 12, s: 77, ns: 88, f: false },
  );
  assert.is(counter(filter, "out_bytes"), 60);
  assert.equal(filter.targetCounters(6), { packets: 1n, bytes: 24n, dropped: 0n, oversize: 0n, tooManyCopies: 0n });
});

test("outer TOS, source address and IP ID", async () => {
  const filter = await load({ linkType: 101 });
  filter.addTarget(target(0, "10.0.0.1", { dscp: 46, sourceAddress: 0x0a636301 }));
  filter.addTarget(target(1, "10.0.0.2"));
  filter.addTarget(target(2, "2001:db8::1"));
  const r = filter.process(
    concat(
      record(ipv4("10.0.0.1", "10.0.0.2", { tos: 0x6b })),
      record(ipv6("2001:db8::1", "::9", { trafficClass: 0x2b })),
    ),
  );
  const o = r.packets.map((p) => outer(p.bytes));
  assert.equal(o.map((x) => x.tos), [46 << 2, 0x68, 0x28]);
  assert.equal(o.map((x) => x.source), [0x0a636301, NODE_SOURCE, NODE_SOURCE]);
  assert.equal(o.map((x) => x.id), [0, 1, 2]);
  assert.ok(o.every((x) => x.checksumOk && x.destination === MEDIATION));
  filter.configure({ linkType: 101, sourceAddress: NODE_SOURCE, mtu: 1500, dscp: 10 });
  const again = filter.process(record(ipv4("10.0.0.1", "10.0.0.2", { tos: 0x6b }))).packets.map((p) => outer(p.bytes));
  assert.equal(again.map((x) => [x.tos, x.id]), [[46 << 2, 3], [10 << 2, 4]]);
  assert.is(counter(filter, "next_ip_id"), 5);
});

test("fragmentation at the MTU: offsets, MF, one ID, payload reassembles", async () => {
  const filter = await load({ linkType: 228, mtu: 576 });
  filter.addTarget(target(0, "10.0.0.1"));
  const p = ipv4("10.0.0.1", "10.0.0.2", { payload: 1180 });
  const r = filter.process(record(p));
  const chunk = Math.floor((576 - 20) / 8) * 8;
  assert.is(r.packets.length, Math.ceil((16 + p.length) / chunk));
  const parts = r.packets.map((x) => outer(x.bytes));
  parts.forEach((o, i) => {
    assert.ok(r.packets[i].fragment);
    assert.ok(o.checksumOk);
    assert.is(o.id, 0);
    assert.is(o.offset, i * chunk);
    assert.is(o.moreFragments, i < parts.length - 1);
    assert.is(o.totalLength, 20 + o.payload.length);
    assert.ok(o.totalLength <= 576);
  });
  const m = mirror(concat(...parts.map((o) => o.payload)));
  assert.is(m.udpLength, 16 + p.length);
  assert.equal(m.inner, p);
  assert.is(counter(filter, "fragmented"), 1);
  assert.is(counter(filter, "out_packets"), parts.length);
  assert.is(counter(filter, "out_bytes"), parts.length * 20 + 16 + p.length);
  const fits = filter.process(record(ipv4("10.0.0.1", "10.0.0.2", { payload: 576 - 56 })));
  assert.is(fits.packets.length, 1, "exactly the MTU is not fragmented");
  assert.is(fits.packets[0].bytes.length, 576);
});

test("oversize copies are dropped", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(0, "10.0.0.1"));
  filter.addTarget(target(1, "10.0.0.2"));
  const r = filter.process(concat(record(ipv4("10.0.0.1", "10.0.0.2", { payload: 65535 - 20 })), record(ipv4("10.0.0.1", "10.0.0.3", { payload: 65499 - 20 }))));
  assert.is(r.frames, 2);
  assert.is(counter(filter, "oversize"), 2);
  assert.is(counter(filter, "matched"), 2);
  assert.is(r.packets.length, 45, "65,515 bytes of IP payload in 1,480-byte fragments");
  assert.is(r.packets[44].bytes.length, 20 + 65515 - 44 * 1480);
  assert.is(filter.targetCounters(1).dropped, 1n);
  assert.is(filter.targetCounters(1).oversize, 1n, "counted by reason for the slot");
});

// ---- batches ----------------------------------------------------------------------------------------

test("a full output region stops before the frame, and the next call resumes", async () => {
  const filter = await load({ linkType: 228 }, { outCapacity: 200 });
  filter.addTarget(target(0, "10.0.0.1"));
  const frames = [0, 1, 2, 3, 4].map((i) => record(ipv4("10.0.0.1", "10.0.0.2", { payload: 8 + i })));
  const batch = concat(...frames);
  const first = filter.process(batch);
  assert.is(first.frames, 3, "64 + 65 + 66 bytes fit in 200, 67 more do not");
  assert.is(first.consumed, frames[0].length + frames[1].length + frames[2].length);
  assert.is(counter(filter, "frames"), 3);
  const second = filter.process(batch.subarray(first.consumed));
  assert.is(second.frames, 2);
  assert.is(second.consumed, batch.length - first.consumed);
  assert.equal(second.packets.map((p) => p.bytes.length), [67, 68]);
  assert.is(counter(filter, "output_full"), 0);
  assert.is(counter(filter, "frames"), 5);
});

test("one frame's copies that do not fit an empty output region are dropped as output_full", async () => {
  const filter = await load({ linkType: 228 }, { outCapacity: 130 });
  for (let slot = 0; slot < 3; slot++) filter.addTarget(target(slot, "10.0.0.1"));
  const r = filter.process(record(ipv4("10.0.0.1", "10.0.0.2", { payload: 8 })));
  assert.is(r.frames, 1);
  assert.equal(r.packets.map((p) => p.slot), [0, 1]);
  assert.is(counter(filter, "output_full"), 1);
  assert.is(filter.targetCounters(2).dropped, 1n);
  assert.equal([filter.targetCounters(2).oversize, filter.targetCounters(2).tooManyCopies], [0n, 0n], "output_full: neither of the other reasons");
});

test("the smallest packets (1-byte last fragments at MTU 68) fill the output region", async () => {
  const filter = await load({ linkType: 228, mtu: 68 }, { outCapacity: 1000 });
  filter.addTarget(target(0, "10.0.0.1"));
  const frame = record(ipv4("10.0.0.1", "10.0.0.2", { payload: 13 }));
  const r = filter.process(concat(...new Array(20).fill(frame)));
  assert.is(r.frames, 11, "11 copies of 68 + 21 bytes fit in 1000");
  assert.equal(r.packets.map((p) => p.bytes.length), new Array(11).fill([68, 21]).flat());
  let at = 0;
  for (const p of r.packets) {
    assert.is(p.bytes.byteOffset - r.packets[0].bytes.byteOffset, at);
    assert.ok(outer(p.bytes).checksumOk);
    at += p.bytes.length;
  }
  assert.is(counter(filter, "out_packets"), 22);
  assert.is(counter(filter, "frames"), 11);
});

test("records: a partial record is not consumed; records in the input buffer are not copied", async () => {
  const filter = await load({ linkType: 228 });
  filter.addTarget(target(0, "10.0.0.1"));
  const r1 = record(ipv4("10.0.0.1", "10.0.0.2"));
  const r2 = record(ipv4("10.0.0.1", "10.0.0.3"));
  const batch = concat(r1, r2);
  assert.is(filter.process(batch.subarray(0, batch.length - 1)).consumed, r1.length);
  assert.is(filter.process(batch.subarray(0, 15)).consumed, 0);
  const input = filter.inputBuffer();
  input.fill(0xee, 0, 1000);
  input.set(batch, 1000);
  const r = filter.process(input.subarray(1000, 1000 + batch.length));
  assert.is(r.consumed, batch.length);
  assert.equal(inner(r.packets[1]), r2.subarray(16));
  assert.ok(input.subarray(0, 1000).every((b) => b === 0xee), "records already in the input region are not copied");
  assert.throws(() => filter.process(new Uint8Array((1 << 20) + 1)), /exceed the filter's input capacity/);
});

test.run();
