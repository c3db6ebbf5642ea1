/**
 * The wasm filter against the oracle: identical calls must give identical packets, consumed counts,
 * counters and per-target counters (docs/filter-abi.md). Random batches over every link type with
 * random configuration and target churn, then every capture in fixtures/captures.
 *
 * Replay a failure with the seed it prints: FILTER_SEED=<seed> node --import tsx scripts/test.ts differential
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openCaptureFile } from "../../runtime/capture/pcap-file.ts";
import { OracleFilter, type OracleFilterOptions } from "../../runtime/filter/oracle.ts";
import {
  COUNTER_COUNT,
  COUNTERS,
  DROP_REASONS,
  DSCP_INHERIT,
  FilterError,
  LINK_TYPES,
  MALFORMED_REASONS,
  type BatchResult,
  type Filter,
  type FilterConfig,
  type LinkType,
  type MirroredPacket,
  type Target,
} from "../../runtime/filter/types.ts";
import { WasmFilter } from "../../runtime/filter/wasm.ts";
import {
  frame,
  ipv4Packet,
  mulberry32,
  pick,
  randomFrame,
  randomInt,
  randomTargets,
  recordsOf,
  type Rng,
} from "../helpers/frames.ts";
import { tpacket3Block } from "../dataplane/blocks.ts";

const MAX_TARGETS = 256;
const CAPTURES = resolve(import.meta.dirname, "..", "..", "fixtures", "captures");

/** A pair of filters driven in lockstep; every call's outcome is compared. */
class Pair {
  private constructor(
    readonly oracle: OracleFilter,
    readonly wasm: WasmFilter,
    /** Seed and step, printed with every mismatch. */
    public context: string,
  ) {}

  static async create(options: Required<OracleFilterOptions>, context: string): Promise<Pair> {
    return new Pair(new OracleFilter(options), await WasmFilter.load(undefined, options), context);
  }

  /** Runs `call` on both filters; both must succeed or both fail with the same FilterError code. */
  both(what: string, call: (filter: Filter) => void): boolean {
    const outcome = (filter: Filter) => {
      try {
        call(filter);
        return 0;
      } catch (error) {
        if (error instanceof FilterError) return error.code;
        throw error;
      }
    };
    const expected = outcome(this.oracle);
    assert.is(outcome(this.wasm), expected, `${this.context}: ${what}: error code`);
    return expected === 0;
  }

  /** Feeds `records` through both filters, at most inCapacity bytes per call, until all are consumed. */
  drain(records: Uint8Array): void {
    let rest = records;
    for (let call = 0; rest.length > 0; call++) {
      const chunk = rest.subarray(0, Math.min(rest.length, this.oracle.inCapacity));
      const expected = this.oracle.process(chunk);
      const actual = this.wasm.process(chunk);
      const where = `${this.context}, call ${call}`;
      comparePackets(actual, expected, where, chunk);
      assert.ok(expected.consumed > 0, `${where}: a record larger than the input region`);
      this.compareCounters(where);
      rest = rest.subarray(expected.consumed);
    }
  }

  /** Feeds one TPACKET_V3 block through both filters, resuming where the output filled up. */
  drainBlock(block: Uint8Array): void {
    let from = 0;
    for (let call = 0; call < 100_000; call++) {
      const where = `${this.context}, block call ${call} from ${from}`;
      const expected = this.oracle.processTpacket3(block, from);
      const actual = this.wasm.processTpacket3!(block, from);
      assert.is(actual.next, expected.next, `${where}: next`);
      comparePackets({ ...actual, consumed: 0 }, { ...expected, consumed: 0 }, where, block);
      this.compareCounters(where);
      if (expected.next === 0) return;
      assert.ok(expected.packets.length > 0 && expected.next !== from, `${where}: no progress`);
      from = expected.next;
    }
    assert.unreachable(`${this.context}: block never finished`);
  }

  compareCounters(where: string): void {
    assert.equal(this.wasm.counters(), this.oracle.counters(), `${where}: counters`);
    for (let slot = 0; slot < MAX_TARGETS; slot++) {
      assert.equal(this.wasm.targetCounters(slot), this.oracle.targetCounters(slot), `${where}: counters of slot ${slot}`);
    }
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The descriptor fields that do not depend on where in the output region a packet was written. */
function describe(packet: MirroredPacket): string {
  return `slot ${packet.slot} tunnel ${packet.tunnel} ts ${packet.tsSeconds}.${packet.tsNanoseconds} fragment ${packet.fragment} length ${packet.bytes.length}`;
}

function comparePackets(actual: BatchResult, expected: BatchResult, where: string, records: Uint8Array): void {
  const context = () => `${where} (records ${records.length > 4096 ? `${records.length} bytes` : hex(records)})`;
  assert.is(actual.consumed, expected.consumed, `${where}: consumed`);
  assert.is(actual.frames, expected.frames, `${where}: frames`);
  assert.is(actual.packets.length, expected.packets.length, `${where}: packet count; ${context()}`);
  expected.packets.forEach((want, i) => {
    const got = actual.packets[i];
    assert.is(describe(got), describe(want), `${where}: packet ${i}`);
    if (!got.bytes.every((byte, j) => byte === want.bytes[j])) {
      assert.is(hex(got.bytes), hex(want.bytes), `${where}: packet ${i} bytes; ${context()}`);
    }
  });
}

function describeTarget(target: Target): string {
  return JSON.stringify({ ...target, address: hex(target.address) });
}

function randomConfig(rng: Rng, linkType: LinkType): FilterConfig {
  return {
    linkType,
    sourceAddress: pick(rng, [0xc0000201, 0xc0000202, 0]),
    mtu: rng() < 0.5 ? pick(rng, [68, 69, 75, 76, 576, 1280, 1500, 9000]) : randomInt(rng, 68, 9000),
    dscp: rng() < 0.6 ? DSCP_INHERIT : randomInt(rng, 0, 63),
  };
}

/** Arguments the doc rejects, one at a time, to compare error codes. */
function invalidTarget(rng: Rng, valid: Target, activeSlots: number[]): Target {
  const fields: Partial<Target>[] = [
    { slot: MAX_TARGETS },
    ...(activeSlots.length > 0 ? [{ slot: pick(rng, activeSlots) }] : []),
    { family: 5 as 4 },
    { prefixLength: valid.family === 4 ? 31 : 129 },
    { interceptId: 2 ** 30 },
    { mediationPort: pick(rng, [0, 65536]) },
    { dscp: pick(rng, [64, 254]) },
    { tunnel: 65536 },
    { family: 6, address: new Uint8Array(16).fill(0xff), prefixLength: randomInt(rng, 0, 127) },
  ];
  return { ...valid, ...pick(rng, fields) };
}

function freeSlots(active: Set<number>): number[] {
  return Array.from({ length: MAX_TARGETS }, (_, slot) => slot).filter((slot) => !active.has(slot));
}

/** Adds targets to both filters, keeping `active` up to date. */
function addAll(pair: Pair, targets: Target[], active: Set<number>): void {
  for (const target of targets) {
    if (pair.both(`add ${describeTarget(target)}`, (f) => f.addTarget(target))) active.add(target.slot);
  }
}

/** More intercepts on one prefix than one frame may copy to (MAX_COPIES_PER_FRAME). */
function crowd(rng: Rng, active: Set<number>): Target[] {
  const [first] = randomTargets(rng, { count: 1, freeSlots: freeSlots(active) });
  if (!first) return [];
  const slots = freeSlots(active).filter((slot) => slot !== first.slot).slice(0, 70);
  return [first, ...slots.map((slot, i) => ({ ...first, slot, interceptId: 1000 + i }))];
}

/** Runs one seeded scenario; returns the oracle's final counters, to check what the scenarios covered. */
async function randomScenario(seed: number, batches: number): Promise<bigint[]> {
  const rng = mulberry32(seed);
  const options = {
    maxTargets: MAX_TARGETS,
    inCapacity: pick(rng, [70_000, 1 << 20]),
    outCapacity: rng() < 0.5 ? randomInt(rng, 600, 20_000) : pick(rng, [70_000, 8 << 20]),
  };
  const pair = await Pair.create(options, `seed ${seed} ${JSON.stringify(options)}`);
  const active = new Set<number>();
  addAll(pair, randomTargets(rng, { count: 40, freeSlots: freeSlots(active) }), active);

  for (let batch = 0; batch < batches; batch++) {
    pair.context = `seed ${seed} ${JSON.stringify(options)} batch ${batch}`;
    const config = randomConfig(rng, pick(rng, LINK_TYPES));
    pair.both(`configure ${JSON.stringify(config)}`, (f) => f.configure(config));
    if (rng() < 0.1) {
      const bad = { ...config, ...pick(rng, [{ linkType: 0 }, { mtu: 67 }, { mtu: 65536 }, { dscp: 64 }]) };
      pair.both(`configure ${JSON.stringify(bad)}`, (f) => f.configure(bad));
    }

    for (const slot of [...active].filter(() => rng() < 0.1)) {
      pair.both(`remove slot ${slot}`, (f) => f.removeTarget(slot));
      active.delete(slot);
    }
    if (rng() < 0.2) pair.both("remove a free slot", (f) => f.removeTarget(pick(rng, freeSlots(active))));
    if (rng() < 0.03) {
      pair.both("clear", (f) => f.clearTargets());
      active.clear();
    }
    const fresh = rng() < 0.05 ? crowd(rng, active) : randomTargets(rng, { count: randomInt(rng, 0, 6), freeSlots: freeSlots(active) });
    addAll(pair, fresh, active);
    const [valid] = randomTargets(rng, { count: 1, freeSlots: freeSlots(active) });
    if (valid && rng() < 0.2) {
      const invalid = invalidTarget(rng, valid, [...active]);
      pair.both(`add ${describeTarget(invalid)}`, (f) => f.addTarget(invalid));
    }

    const count = randomInt(rng, 1, 40);
    pair.drain(recordsOf(Array.from({ length: count }, () => randomFrame(rng, { linkType: config.linkType as LinkType }))));
  }
  return pair.oracle.counters();
}

const seedFromEnvironment = process.env.FILTER_SEED === undefined ? undefined : Number(process.env.FILTER_SEED);

test("random batches: same packets, consumed counts and counters", async () => {
  const seeds = seedFromEnvironment !== undefined ? [seedFromEnvironment] : [1, 2, 3, 4, 5, 6, (Date.now() % 2 ** 31) >>> 0];
  const total = new Array<bigint>(COUNTER_COUNT).fill(0n);
  for (const seed of seeds) (await randomScenario(seed, 25)).forEach((value, i) => (total[i] += value));
  if (seedFromEnvironment !== undefined) return;
  const covered = { ...COUNTERS, ...MALFORMED_REASONS, ...DROP_REASONS };
  for (const [name, index] of Object.entries(covered)) assert.ok(total[index] > 0n, `no ${name} in any scenario`);
  assert.ok(total[COUNTERS.frames] > 2000n && total[COUNTERS.frames] < 10_000n, `${total[COUNTERS.frames]} frames`);
});

test("TPACKET_V3 blocks: same packets, resume offsets and counters, broken chains included", async () => {
  const seed = seedFromEnvironment ?? (Date.now() % 2 ** 31) >>> 0;
  const rng = mulberry32(seed);
  for (const outCapacity of [700, 5_000, 1 << 20]) {
    const pair = await Pair.create({ maxTargets: MAX_TARGETS, inCapacity: 1 << 20, outCapacity }, `seed ${seed} out ${outCapacity}`);
    const active = new Set<number>();
    addAll(pair, randomTargets(rng, { count: 40, freeSlots: freeSlots(active) }), active);
    for (let n = 0; n < 12; n++) {
      const linkType = pick(rng, LINK_TYPES);
      const config = randomConfig(rng, linkType);
      pair.both(`configure ${JSON.stringify(config)}`, (f) => f.configure(config));
      const frames = Array.from({ length: randomInt(rng, 0, 60) }, () => randomFrame(rng, { linkType }));
      const block = tpacket3Block(frames, rng() < 0.5 ? 1 << 16 : undefined);
      const view = new DataView(block.buffer);
      const broken = rng();
      if (frames.length > 1 && broken < 0.1) view.setUint32(48, 1 << 20, true); // tp_next_offset beyond the block
      else if (frames.length > 0 && broken < 0.2) view.setUint16(48 + 24, 0xffff, true); // tp_mac beyond the block
      else if (broken < 0.25) view.setUint32(16, 8, true); // first packet inside the block header
      pair.context = `seed ${seed} out ${outCapacity} block ${n} broken ${broken.toFixed(2)}`;
      pair.drainBlock(block);
    }
  }
});

test("Identification wraps past 65,535 copies the same way", async () => {
  const pair = await Pair.create({ maxTargets: MAX_TARGETS, inCapacity: 1 << 20, outCapacity: 1 << 20 }, "Identification wrap");
  const rng = mulberry32(9);
  const [first] = randomTargets(rng, { count: 1, freeSlots: [0], ipv6: 0 });
  addAll(pair, Array.from({ length: 64 }, (_, slot) => ({ ...first, slot, interceptId: slot + 1 })), new Set());
  const packet = ipv4Packet({ source: first.address, destination: Uint8Array.of(10, 9, 9, 9), payload: new Uint8Array(8) });
  const records = recordsOf(new Array(1030).fill({ bytes: frame(1, packet).bytes }));
  pair.drain(records);
  assert.is(pair.oracle.counters()[COUNTERS.next_ip_id], 1030n * 64n);
});

/**
 * IPv4 addresses a capture probably carries: the address fields of anything that looks like an IPv4
 * header within the first 64 bytes of a frame. Guesses that are not addresses only add unused targets.
 */
function ipv4Candidates(records: Uint8Array, into: Set<number>): void {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  for (let at = 0; at + 16 <= records.length; at += 16 + view.getUint32(at + 8, true)) {
    const frame = records.subarray(at + 16, at + 16 + view.getUint32(at + 8, true));
    for (let o = 0; o < 64 && o + 20 <= frame.length; o++) {
      if (frame[o] >> 4 !== 4 || (frame[o] & 0x0f) < 5) continue;
      into.add(view.getUint32(at + 16 + o + 12));
      into.add(view.getUint32(at + 16 + o + 16));
    }
  }
}

async function eachBatch(path: string, inCapacity: number, use: (records: Uint8Array, linkType: number) => void): Promise<void> {
  const reader = await openCaptureFile(path);
  const batch = new Uint8Array(inCapacity);
  try {
    for (let filled = await reader.fill(batch); filled; filled = await reader.fill(batch)) {
      use(batch.subarray(0, filled.length), filled.linkType);
    }
  } finally {
    await reader.close();
  }
}

const ANY_IPV6: Target = {
  slot: 0,
  family: 6,
  address: new Uint8Array(16),
  prefixLength: 0,
  interceptId: 1,
  sessionId: 1,
  mediationAddress: 0xc6336401,
  mediationPort: 30030,
  sourceAddress: 0,
  tunnel: 0,
  dscp: DSCP_INHERIT,
};

test("captures in fixtures/captures: same packets, consumed counts and counters", async () => {
  const files = readdirSync(CAPTURES).filter((name) => /\.pcap(ng)?$/.test(name)).sort();
  const inCapacity = 1 << 20;
  let matched = 0n;
  for (const name of files) {
    const path = join(CAPTURES, name);
    const addresses = new Set<number>();
    await eachBatch(path, inCapacity, (records) => ipv4Candidates(records, addresses));
    // Every IPv6 packet matches ::/0, global unicast also 2000::/3; a /32 and a second intercept per IPv4 address.
    const targets: Target[] = [ANY_IPV6, { ...ANY_IPV6, slot: 1, address: Uint8Array.of(0x20, ...new Array(15).fill(0)), prefixLength: 3, interceptId: 2 }];
    for (const address of [...addresses].slice(0, (MAX_TARGETS - 2) / 2)) {
      const ipv4 = { ...ANY_IPV6, family: 4 as const, address: Uint8Array.of(address >>> 24, address >>> 16, address >>> 8, address), prefixLength: 32 };
      targets.push({ ...ipv4, slot: targets.length, interceptId: 3 }, { ...ipv4, slot: targets.length + 1, interceptId: 4 + (address % 3), dscp: 46 });
    }

    for (const { outCapacity, mtu } of [{ outCapacity: 8 << 20, mtu: 1500 }, { outCapacity: 1024, mtu: 576 }]) {
      const pair = await Pair.create({ maxTargets: MAX_TARGETS, inCapacity, outCapacity }, `${name} outCapacity ${outCapacity}`);
      addAll(pair, targets, new Set());
      await eachBatch(path, inCapacity, (records, linkType) => {
        const config = { linkType, sourceAddress: 0xc0000201, mtu, dscp: DSCP_INHERIT };
        if (pair.both(`configure ${JSON.stringify(config)}`, (f) => f.configure(config))) pair.drain(records);
      });
      matched += pair.oracle.counters()[COUNTERS.matched];
    }
  }
  assert.ok(files.length === 0 || matched > 0n, "the captures' addresses were not found: nothing was compared but counters");
});

test.run();
