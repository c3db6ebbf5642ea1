/**
 * The self-test every filter passes before it may serve: a built-in batch of frames goes through the
 * candidate, and its output must parse as valid mirrored packets of the right intercepts while its
 * counters balance. The batch is built here, in code, so the single binary needs no fixture file.
 *
 * The expected copies come from the TypeScript oracle (runtime/filter/oracle.ts): the batch only
 * holds frames on which every ABI version 1 filter must agree (plain IPv4/IPv6 over Ethernet, 802.1Q
 * and PPPoE, plus frames no filter can parse), so a filter that adds a protocol still passes.
 *
 * ```ts
 * const problems = selfTest(await WasmFilter.load(bytes, SELF_TEST_CAPACITY));
 * if (problems.length > 0) console.error(problems.join("\n"));
 * ```
 */
import { OracleFilter } from "./oracle.ts";
import { COUNTERS, DSCP_INHERIT, MALFORMED_REASONS, type Filter, type FilterConfig, type MirroredPacket, type Target } from "./types.ts";

/** Capacities of the filter instance the self-test runs on (not the one that will serve). */
export const SELF_TEST_CAPACITY = { maxTargets: 16, inCapacity: 1 << 16, outCapacity: 1 << 16 };

const MEDIATION = [0xc6336401, 0xc6336402]; // 198.51.100.1, 198.51.100.2
const CONFIG: FilterConfig = { linkType: 1, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT };
const SUBSCRIBER_A = [100, 64, 0, 1];
const SUBSCRIBER_B = [100, 64, 0, 2];
const SERVER = [203, 0, 113, 10];
const PREFIX_C = [0x20, 0x01, 0x0d, 0xb8, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const HOST_C = [0x20, 0x01, 0x0d, 0xb8, 0x10, 0x00, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x09];
const SERVER_6 = [0x20, 0x01, 0x0d, 0xb8, 0x05, 0xe7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53];

function target(slot: number, address: number[], prefixLength: number, interceptId: number, mediation: number, dscp = DSCP_INHERIT): Target {
  return {
    slot,
    family: address.length === 4 ? 4 : 6,
    address: Uint8Array.from(address),
    prefixLength,
    interceptId,
    sessionId: 1000 + interceptId,
    mediationAddress: MEDIATION[mediation],
    mediationPort: 30030 + mediation,
    sourceAddress: 0,
    tunnel: slot,
    dscp,
  };
}

/** Two intercepts on subscriber A, one on B (with a DSCP), one on an IPv6 /56. */
const TARGETS: Target[] = [
  target(0, SUBSCRIBER_A, 32, 1, 0),
  target(1, SUBSCRIBER_B, 32, 2, 1, 46),
  target(2, PREFIX_C, 56, 3, 0),
  target(5, SUBSCRIBER_A, 32, 4, 1),
];

/** A test frame and where its IP packet lies, so a copy's payload can be checked. */
interface TestFrame {
  bytes: Uint8Array;
  l3Offset: number;
  /** Bytes a copy carries from l3Offset on: the IP packet without padding; 0 for unparsable frames. */
  l3Length: number;
}

function ipv4(source: number[], destination: number[], payload: number, tos = 0): Uint8Array {
  const p = new Uint8Array(20 + payload);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  p[1] = tos;
  v.setUint16(2, p.length);
  v.setUint16(4, 0x1234);
  p[8] = 64;
  p[9] = 17;
  p.set(source, 12);
  p.set(destination, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  for (let i = 20; i < p.length; i++) p[i] = i & 0xff;
  return p;
}

function ipv6(source: number[], destination: number[], payload: number): Uint8Array {
  const p = new Uint8Array(40 + payload);
  const v = new DataView(p.buffer);
  v.setUint32(0, 0x60000000);
  v.setUint16(4, payload);
  p[6] = 17;
  p[7] = 64;
  p.set(source, 8);
  p.set(destination, 24);
  for (let i = 40; i < p.length; i++) p[i] = (i * 7) & 0xff;
  return p;
}

/** An Ethernet frame around `packet`: `shim` (VLAN tags, PPPoE header) between header and packet. */
function ethernet(etherType: number, packet: Uint8Array, shim: number[] = [], padding = 0): TestFrame {
  const header = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x0b, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x0a, etherType >> 8, etherType & 0xff, ...shim];
  const bytes = new Uint8Array(header.length + packet.length + padding);
  bytes.set(header);
  bytes.set(packet, header.length);
  return { bytes, l3Offset: header.length, l3Length: packet.length };
}

function buildFrames(): TestFrame[] {
  const vlan = (inner: number) => [0x00, 0x64, inner >> 8, inner & 0xff];
  const pppoe = (packet: Uint8Array, protocol: number) => [0x11, 0x00, 0x00, 0x2a, (packet.length + 2) >> 8, (packet.length + 2) & 0xff, 0x00, protocol];
  const v6 = ipv6(HOST_C, SERVER_6, 64);
  return [
    ethernet(0x0800, ipv4(SUBSCRIBER_A, SERVER, 100, 0xb9)),
    ethernet(0x0800, ipv4(SERVER, SUBSCRIBER_B, 8), [], 18),
    ethernet(0x8100, ipv4(SUBSCRIBER_A, SUBSCRIBER_B, 300), vlan(0x0800)),
    ethernet(0x8864, v6, pppoe(v6, 0x57)),
    ethernet(0x86dd, ipv6(SERVER_6, HOST_C, 1800)),
    ethernet(0x0800, ipv4(SERVER, SERVER, 40)),
    ethernet(0x0800, ipv4(SUBSCRIBER_B, SERVER, 3000)),
    { ...ethernet(0x0806, new Uint8Array(28)), l3Length: 0 },
    { ...ethernet(0x0800, new Uint8Array(10)), l3Length: 0 },
  ];
}

const FRAMES = buildFrames();

/** The batch as ABI input records; frame i has timestamp (1_700_000_000 + i, i), which maps copies back to frames. */
function records(): Uint8Array {
  const out = new Uint8Array(FRAMES.reduce((n, f) => n + 16 + f.bytes.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  FRAMES.forEach((f, i) => {
    view.setUint32(at, 1_700_000_000 + i, true);
    view.setUint32(at + 4, i, true);
    view.setUint32(at + 8, f.bytes.length, true);
    view.setUint32(at + 12, f.bytes.length, true);
    out.set(f.bytes, at + 16);
    at += 16 + f.bytes.length;
  });
  return out;
}

const BATCH = records();

/** One mirrored copy, its fragments reassembled. */
interface Copy {
  frame: number;
  slot: number;
  ip: Uint8Array;
  udp: Uint8Array;
}

const hex = (n: number) => `0x${n.toString(16)}`;

function headerChecksumValid(header: Uint8Array): boolean {
  const v = new DataView(header.buffer, header.byteOffset, header.byteLength);
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

/** Checks each outer packet's IPv4 header and reassembles fragments into copies; problems go to `problems`. */
function reassemble(packets: MirroredPacket[], problems: string[]): Copy[] {
  const copies: Copy[] = [];
  let pending: { frame: number; slot: number; id: number; header: Uint8Array; parts: Uint8Array[]; next: number } | undefined;
  packets.forEach((p, n) => {
    const where = `output packet ${n}`;
    const b = p.bytes;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const frame = p.tsSeconds - 1_700_000_000;
    if (frame < 0 || frame >= FRAMES.length || p.tsNanoseconds !== frame) return void problems.push(`${where}: timestamp ${p.tsSeconds}.${p.tsNanoseconds} is no input frame's`);
    if (b.length < 20 || b[0] !== 0x45) return void problems.push(`${where}: expected an IPv4 header without options (0x45), found ${hex(b[0] ?? 0)}`);
    if (v.getUint16(2) !== b.length) return void problems.push(`${where}: IPv4 total length ${v.getUint16(2)}, packet is ${b.length} bytes`);
    if (!headerChecksumValid(b.subarray(0, 20))) return void problems.push(`${where}: IPv4 header checksum ${hex(v.getUint16(10))} is wrong`);
    if (b[9] !== 17) return void problems.push(`${where}: IPv4 protocol ${b[9]}, expected 17 (UDP)`);
    const fragment = v.getUint16(6);
    const offset = (fragment & 0x1fff) * 8;
    const more = (fragment & 0x2000) !== 0;
    if (p.fragment !== (more || offset > 0)) problems.push(`${where}: descriptor fragment flag ${p.fragment} disagrees with the IPv4 header`);
    const body = b.subarray(20);
    if (offset === 0) {
      if (pending) problems.push(`${where}: a new copy starts before the fragments of the last one ended`);
      pending = { frame, slot: p.slot, id: v.getUint16(4), header: b.subarray(0, 20), parts: [], next: 0 };
    } else if (!pending || pending.id !== v.getUint16(4) || pending.next !== offset) {
      return void problems.push(`${where}: fragment at offset ${offset} does not continue a copy`);
    }
    pending.parts.push(body);
    pending.next = offset + body.length;
    if (!more) {
      const udp = new Uint8Array(pending.next);
      let at = 0;
      for (const part of pending.parts) udp.set(part, (at += part.length) - part.length);
      copies.push({ frame: pending.frame, slot: pending.slot, ip: pending.header, udp });
      pending = undefined;
    }
  });
  if (pending) problems.push("the output ends inside a fragmented copy");
  return copies;
}

function checkCopy(c: Copy, problems: string[]): void {
  const where = `copy of frame ${c.frame} for slot ${c.slot}`;
  const t = TARGETS.find((t) => t.slot === c.slot);
  if (!t) return void problems.push(`${where}: slot ${c.slot} holds no target`);
  const ip = new DataView(c.ip.buffer, c.ip.byteOffset, 20);
  if (ip.getUint32(16) !== t.mediationAddress) problems.push(`${where}: sent to ${hex(ip.getUint32(16))}, the target's mediation device is ${hex(t.mediationAddress)}`);
  if (c.udp.length < 16) return void problems.push(`${where}: ${c.udp.length} bytes of UDP, fewer than UDP and mirror headers`);
  const u = new DataView(c.udp.buffer, c.udp.byteOffset, c.udp.byteLength);
  if (u.getUint16(4) !== c.udp.length) problems.push(`${where}: UDP length ${u.getUint16(4)}, datagram is ${c.udp.length} bytes`);
  if (u.getUint16(2) !== t.mediationPort) problems.push(`${where}: UDP port ${u.getUint16(2)}, expected ${t.mediationPort}`);
  if (u.getUint32(8) !== t.interceptId || u.getUint32(12) !== t.sessionId) {
    problems.push(`${where}: mirror header intercept ${u.getUint32(8)} session ${u.getUint32(12)}, expected ${t.interceptId} / ${t.sessionId}`);
  }
  const f = FRAMES[c.frame];
  const payload = c.udp.subarray(16);
  const l3 = f.bytes.subarray(f.l3Offset, f.l3Offset + f.l3Length);
  const withL2 = f.bytes.subarray(0, f.l3Offset + f.l3Length);
  if (!equal(payload, l3) && !equal(payload, withL2)) {
    problems.push(`${where}: the ${payload.length}-byte payload is neither the frame's ${l3.length}-byte IP packet nor that packet with its ${f.l3Offset}-byte link-layer header`);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Copies per frame as "slot,slot,..." in output order. */
function copyLists(copies: { frame: number; slot: number }[]): string[] {
  const lists: number[][] = FRAMES.map(() => []);
  for (const c of copies) lists[c.frame]?.push(c.slot);
  return lists.map((l) => l.join(","));
}

/** Runs the batch through `filter` (a fresh instance) and through the oracle. */
function run(filter: Filter): { counters: bigint[]; packets: MirroredPacket[]; consumed: number } {
  filter.configure(CONFIG);
  for (const t of TARGETS) filter.addTarget(t);
  const packets: MirroredPacket[] = [];
  let consumed = 0;
  while (consumed < BATCH.length) {
    const result = filter.process(BATCH.subarray(consumed));
    if (result.consumed === 0) break;
    // Views into the filter's memory: copy before the next call.
    for (const p of result.packets) packets.push({ ...p, bytes: p.bytes.slice() });
    consumed += result.consumed;
  }
  return { counters: filter.counters(), packets, consumed };
}

/**
 * Runs the self-test on a freshly loaded filter (with at least SELF_TEST_CAPACITY). Returns the
 * problems found, each naming what was expected and what was found; an empty list is a pass. A trap
 * inside the filter is thrown to the caller.
 */
export function selfTest(filter: Filter): string[] {
  const problems: string[] = [];
  const expected = run(new OracleFilter(SELF_TEST_CAPACITY));
  const found = run(filter);
  if (found.consumed !== BATCH.length) problems.push(`consumed ${found.consumed} of the batch's ${BATCH.length} bytes`);

  const c = found.counters;
  const malformed = Object.values(MALFORMED_REASONS).reduce((n, i) => n + c[i], 0n);
  if (c[COUNTERS.frames] !== BigInt(FRAMES.length)) problems.push(`counter frames is ${c[COUNTERS.frames]}, the batch has ${FRAMES.length} frames`);
  if (c[COUNTERS.parsed] + malformed !== c[COUNTERS.frames]) {
    problems.push(`counters do not balance: frames ${c[COUNTERS.frames]} != parsed ${c[COUNTERS.parsed]} + malformed ${malformed}`);
  }
  for (const name of ["parsed", "matched", "mirrored", "next_ip_id"] as const) {
    const i = COUNTERS[name];
    if (c[i] !== expected.counters[i]) problems.push(`counter ${name} is ${c[i]}, expected ${expected.counters[i]}`);
  }
  if (c[COUNTERS.out_packets] !== BigInt(found.packets.length)) {
    problems.push(`counter out_packets is ${c[COUNTERS.out_packets]}, the filter described ${found.packets.length} packets`);
  }

  const copies = reassemble(found.packets, problems);
  for (const copy of copies) checkCopy(copy, problems);
  const want = copyLists(reassemble(expected.packets, []));
  copyLists(copies).forEach((got, i) => {
    if (got !== want[i]) problems.push(`frame ${i}: copies for slots [${got}], expected [${want[i]}]`);
  });
  return problems;
}
