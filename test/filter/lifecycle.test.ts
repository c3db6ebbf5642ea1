/**
 * Filter hot swap (runtime/filter/lifecycle.ts): rejected modules, counters carried over, swaps and
 * traps in the middle of a replay of the demo capture, the jmirror-l2 filter's bytes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig } from "../../runtime/config/load.ts";
import { checkFilter as checkWithLimit, FilterRejected, FilterSwitch, SwapError, type CheckedFilter, type CheckOptions, type FilterEvent } from "../../runtime/filter/lifecycle.ts";
import { COUNTERS, DSCP_INHERIT, type Target } from "../../runtime/filter/types.ts";
import { replay, type ReplaySummary } from "../../runtime/replay/replay.ts";
import { tpacket3Block } from "../dataplane/blocks.ts";
import { builtinTrappingOnCall, skeleton } from "./lifecycle-modules.ts";

const dir = mkdtempSync(join(tmpdir(), "iapd-lifecycle-"));
const BUILTIN = new Uint8Array(readFileSync("build/filters/jmirror.wasm"));
const L2 = new Uint8Array(readFileSync("build/filters/jmirror-l2.wasm"));
const DEMO_IN = "fixtures/captures/demo.pcap";
const demoConfig = loadConfig("fixtures/configs/demo.yaml");
/** Small regions: the demo capture becomes ~80 batches, so swaps land between many of them. */
const SMALL = { maxTargets: 64, inCapacity: 16384, outCapacity: 16384 };

/**
 * The checks with a limit far above their time, except where a test is about the limit: the first use
 * of binaryen (lifecycle-modules.ts) sets V8 compiling its large wasm in the background for ~2 s of CPU,
 * which on a loaded 2-CPU machine (seen under Deno) held the check worker past the default 2 s.
 */
const checkFilter = (bytes: Uint8Array, options: CheckOptions = { timeoutMs: 30_000 }) => checkWithLimit(bytes, options);

const builtin = await checkFilter(BUILTIN);
/** The built-in filter in another module (its wrapper never traps): equivalent output, a different hash. */
const twin = await checkFilter(builtinTrappingOnCall(0, "twinfil"));

async function rejection(bytes: Uint8Array): Promise<FilterRejected> {
  try {
    await checkFilter(bytes);
  } catch (e) {
    if (e instanceof FilterRejected) return e;
    throw e;
  }
  throw new Error("the module was accepted");
}

const TARGET: Target = {
  slot: 3,
  family: 4,
  address: Uint8Array.of(100, 64, 0, 1),
  prefixLength: 32,
  interceptId: 7,
  sessionId: 9,
  mediationAddress: 0xc6336401,
  mediationPort: 30030,
  sourceAddress: 0,
  tunnel: 0,
  dscp: DSCP_INHERIT,
};

/** Input records of `n` IPv4/UDP frames over Ethernet from 100.64.0.1, timestamps (t0 + i, 0). */
function records(n: number, t0 = 1000): Uint8Array {
  const frameLength = 14 + 28;
  const out = new Uint8Array(n * (16 + frameLength));
  const v = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const at = i * (16 + frameLength);
    v.setUint32(at, t0 + i, true);
    v.setUint32(at + 8, frameLength, true);
    v.setUint32(at + 12, frameLength, true);
    const f = at + 16;
    v.setUint16(f + 12, 0x0800);
    out.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 100, 64, 0, 1, 203, 0, 113, 9], f + 14);
  }
  return out;
}

async function serving(first: CheckedFilter = builtin, events: FilterEvent[] = []): Promise<FilterSwitch> {
  const sw = await FilterSwitch.create(first, { ...SMALL, onEvent: (e) => events.push(e) });
  sw.configure({ linkType: 1, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT });
  sw.addTarget(TARGET);
  return sw;
}

test("rejected modules: each with its reason, and the serving filter still serves", async () => {
  const sw = await serving();
  const cases: [Uint8Array, string, RegExp][] = [
    [new TextEncoder().encode("#!/bin/sh\necho not a filter\n"), "not-wasm", /no \\0asm magic/],
    [BUILTIN.subarray(0, 200), "not-wasm", /not a valid WebAssembly module/],
    [skeleton({ abiVersion: 2 }), "abi-version", /ABI version 2, this iapd implements version 1/],
    [skeleton({ without: "iapd_target_add" }), "missing-exports", /missing export\(s\) iapd_target_add/],
    [skeleton({ extraImport: true }), "imports", /wasi_snapshot_preview1\.fd_write; a filter may import env\.abort only/],
    [skeleton({ process: "consume-all" }), "self-test", /self-test failed: counter frames is 0, the batch has 9 frames/],
    [skeleton({ process: "trap" }), "trap", /failed during the self-test: unreachable/],
    [builtinTrappingOnCall(1), "trap", /failed during the self-test: unreachable/],
  ];
  for (const [bytes, reason, message] of cases) {
    const e = await rejection(bytes);
    assert.is(e.reason, reason, e.message);
    assert.match(e.message, message);
  }
  assert.is(sw.active.name, "jmirror");
  assert.is(sw.process(records(4)).packets.length, 4);
  assert.is(sw.stats.swaps, 0);
});

test("a module whose self-test never returns: refused (timeout) in its worker's time, the calling thread stays responsive", async () => {
  const sw = await serving();
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 20);
  const started = performance.now();
  try {
    const e = await (async () => {
      try {
        await checkFilter(skeleton({ process: "loop" }), { timeoutMs: 500 });
      } catch (e) {
        if (e instanceof FilterRejected) return e;
        throw e;
      }
      throw new Error("the module was accepted");
    })();
    const took = performance.now() - started;
    assert.is(e.reason, "timeout", e.message);
    assert.match(e.message, /did not finish within 500 ms/);
    assert.ok(took >= 500 && took < 5000, `refused after ${Math.round(took)} ms`);
    // The event loop went on while the module looped in the worker.
    assert.ok(ticks >= 10, `${ticks} timer ticks during the check`);
  } finally {
    clearInterval(ticker);
  }
  assert.is(sw.active.name, "jmirror");
  assert.is(sw.process(records(4)).packets.length, 4);
});

test("a filter that refuses the running configuration is not activated", async () => {
  const sw = await serving();
  sw.configure({ linkType: 113, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT });
  const l2 = await checkFilter(L2);
  try {
    await sw.activate(l2);
    assert.unreachable("jmirror-l2 took a Linux SLL configuration");
  } catch (e) {
    assert.instance(e, SwapError);
    assert.match((e as Error).message, /jmirror-l2 0\.1\.0 refuses the running configuration: configure: unsupported link type/);
  }
  assert.is(sw.active.name, "jmirror");
  assert.is(sw.previous, undefined);
});

test("a swap carries global and per-target counters over, next_ip_id included; rollback carries them back", async () => {
  const events: FilterEvent[] = [];
  const sw = await serving(builtin, events);
  sw.process(records(5));
  const before = sw.counters();
  const slot = sw.targetCounters(TARGET.slot);
  await sw.activate(twin);
  assert.is(sw.active.name, "twinfil");
  assert.is(sw.previous?.name, "jmirror");
  assert.equal(sw.counters(), before);
  assert.equal(sw.targetCounters(TARGET.slot), slot);
  const { packets } = sw.process(records(1));
  assert.is(new DataView(packets[0].bytes.buffer, packets[0].bytes.byteOffset).getUint16(4), 5, "IPv4 Identification continues");
  assert.is(sw.counters()[COUNTERS.next_ip_id], 6n);
  assert.is(sw.targetCounters(TARGET.slot).packets, 6n);

  sw.rollback();
  assert.is(sw.active.name, "jmirror");
  assert.is(sw.counters()[COUNTERS.frames], 6n);
  assert.is(sw.targetCounters(TARGET.slot).packets, 6n);
  assert.throws(() => sw.rollback(), /no previous filter/);
  assert.equal(
    events.map((e) => `${e.type}:${e.filter.name}`),
    ["activated:twinfil", "rolled-back:jmirror"],
  );
});

test("a batch read into the old filter's input region while the swap happened is processed by the new one", async () => {
  const sw = await serving();
  const batch = records(3);
  const input = sw.inputBuffer();
  input.set(batch);
  await sw.activate(twin);
  const { consumed, packets } = sw.process(input.subarray(0, batch.length));
  assert.is(consumed, batch.length);
  assert.is(packets.length, 3);
  assert.is(sw.counters()[COUNTERS.frames], 3n);
});

test("prepare stages a filter that follows the table; activating it, or the previous one, is only the switch", async () => {
  const events: FilterEvent[] = [];
  const sw = await serving(builtin, events);
  await sw.prepare(twin);
  assert.is(sw.staged?.name, "twinfil");
  sw.addTarget({ ...TARGET, slot: 4, interceptId: 8 });
  sw.process(records(1));
  await sw.activate(twin);
  assert.is(sw.staged, undefined);
  assert.is(sw.active.name, "twinfil");
  assert.is(sw.process(records(1)).packets.length, 2, "the target added while staged is there");
  await sw.activate(builtin);
  assert.is(sw.active.name, "jmirror");
  assert.is(sw.previous?.name, "twinfil");
  assert.is(sw.counters()[COUNTERS.frames], 2n);
  assert.is(sw.counters()[COUNTERS.next_ip_id], 4n);
  assert.equal(events.map((e) => e.type), ["activated", "activated"]);
});

test("the previous filter follows target changes made after the swap", async () => {
  const sw = await serving();
  await sw.activate(twin);
  sw.addTarget({ ...TARGET, slot: 4, interceptId: 8 });
  sw.rollback();
  assert.is(sw.process(records(1)).packets.length, 2, "two intercepts on the address after rollback");
});

async function demoReplay(filter: FilterSwitch, output: string, onBatch?: (batch: number) => void | Promise<void>): Promise<ReplaySummary> {
  let batch = 0;
  return replay({ config: demoConfig, input: DEMO_IN, output, filter, onProgress: () => onBatch?.(batch++) });
}

const reference = join(dir, "reference.pcap");
const referenceSwitch = await FilterSwitch.create(builtin, SMALL);
const referenceSummary = await demoReplay(referenceSwitch, reference);

test("swaps in the middle of a replay lose and duplicate nothing: output identical to a run without swaps", async () => {
  const sw = await FilterSwitch.create(builtin, SMALL);
  const out = join(dir, "swapped.pcap");
  // Every 4th batch, swap to the other equivalent module between two batches.
  const summary = await demoReplay(sw, out, async (batch) => {
    if (batch % 4 === 1) await sw.activate(sw.active.name === "jmirror" ? twin : builtin);
  });
  assert.ok(sw.stats.swaps >= 10, `${sw.stats.swaps} swaps`);
  assert.is(summary.frames, 2000);
  assert.equal(summary, { ...referenceSummary, output: { ...referenceSummary.output, path: out } });
  assert.ok(readFileSync(out).equals(readFileSync(reference)), "mirrored output differs from the run without swaps");
});

test("a trap on traffic: the previous filter takes over and processes the batch again, output identical", async () => {
  const events: FilterEvent[] = [];
  const sw = await FilterSwitch.create(builtin, { ...SMALL, onEvent: (e) => events.push(e) });
  const trapper = await checkFilter(builtinTrappingOnCall(5));
  const out = join(dir, "trapped.pcap");
  const summary = await demoReplay(sw, out, async (batch) => {
    if (batch === 10) await sw.activate(trapper);
  });
  assert.is(sw.stats.traps, 1);
  assert.is(sw.stats.reprocessedBatches, 1);
  assert.ok(sw.stats.reprocessedFrames > 0);
  assert.is(sw.stats.lostFrames, 0);
  assert.is(sw.active.name, "jmirror");
  const rolled = events.find((e) => e.type === "rolled-back");
  assert.ok(rolled && rolled.type === "rolled-back" && rolled.cause === "trap" && rolled.from.name === "trapper", JSON.stringify(rolled));
  assert.match(rolled.message ?? "", /trapper 0\.1\.0 failed on a batch: unreachable/);
  assert.is(summary.frames, 2000);
  assert.ok(readFileSync(out).equals(readFileSync(reference)), "mirrored output differs from the run without a trap");
  // The counters restored after the trap (kept in step slot by slot over the trapper's earlier
  // batches, not copied whole before each) are those of the run without a trap.
  assert.equal(sw.counters(), referenceSwitch.counters());
  const slots = Array.from({ length: 64 }, (_, slot) => slot);
  assert.ok(slots.some((slot) => referenceSwitch.targetCounters(slot).packets > 0n), "some target counted copies");
  assert.equal(slots.map((slot) => sw.targetCounters(slot)), slots.map((slot) => referenceSwitch.targetCounters(slot)));
});

test("a trap with no previous filter: the batch is counted lost, frames still accounted for", async () => {
  const events: FilterEvent[] = [];
  const sw = await serving(await checkFilter(builtinTrappingOnCall(2)), events);
  assert.is(sw.process(records(3)).packets.length, 3);
  const lost = sw.process(records(4, 2000));
  assert.equal(lost.packets, []);
  assert.is(lost.consumed, 4 * 58, "the batch is consumed: it will not be presented again");
  assert.is(sw.stats.lostFrames, 4);
  assert.is(sw.framesAccounted(), 7n);
  assert.equal(events.map((e) => e.type), ["batch-lost"]);
});

test("a batch slower than timeoutMs is used, and the previous filter serves from the next batch", async () => {
  let clock = 0;
  let slow = false;
  const events: FilterEvent[] = [];
  const now = () => (slow ? (clock += 100) : clock);
  const sw = await FilterSwitch.create(builtin, { ...SMALL, timeoutMs: 50, now, onEvent: (e) => events.push(e) });
  sw.configure({ linkType: 1, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT });
  sw.addTarget(TARGET);
  await sw.activate(twin);
  slow = true;
  const result = sw.process(records(2));
  assert.is(result.packets.length, 2);
  assert.is(sw.active.name, "jmirror");
  assert.is(sw.stats.timeouts, 1);
  assert.is(sw.counters()[COUNTERS.frames], 2n);
  assert.ok(events.some((e) => e.type === "rolled-back" && e.cause === "timeout"));
});

test("TPACKET_V3 blocks: a filter without iapd_process_tpacket3 serves them through records, same output as the native walk", async () => {
  const bytes = records(40);
  const frames = Array.from({ length: 40 }, (_, i) => ({ bytes: bytes.slice(i * 58 + 16, (i + 1) * 58), tsSec: 1000 + i, tsNsec: i }));
  const block = tpacket3Block(frames, 8192);
  // 400 bytes of output: 6 copies per call, so the walk resumes at `next` several times.
  const small = { maxTargets: 64, inCapacity: 8192, outCapacity: 400 };
  const walk = async (filter: CheckedFilter) => {
    const sw = await FilterSwitch.create(filter, small);
    sw.configure({ linkType: 1, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT });
    sw.addTarget(TARGET);
    const out: string[] = [];
    let from = 0;
    let calls = 0;
    do {
      const r = sw.processTpacket3(block, from);
      for (const p of r.packets) out.push(`${p.tsSeconds}.${p.tsNanoseconds}:${Buffer.from(p.bytes).toString("hex")}`);
      from = r.next;
      calls++;
    } while (from !== 0 && calls < 100);
    return { out, calls, frames: sw.counters()[COUNTERS.frames] };
  };
  const native = await walk(builtin);
  const converted = await walk(await checkFilter(builtinTrappingOnCall(0, "norings", { tpacket3: false })));
  assert.is(native.frames, 40n);
  assert.ok(native.calls >= 5, `${native.calls} calls`);
  assert.equal(converted, native);
});

test("jmirror-l2: the payload is the frame from its Ethernet header to the end of the IP packet", async () => {
  const l2 = await FilterSwitch.create(await checkFilter(L2), SMALL);
  const out = join(dir, "l2.pcap");
  const summary = await demoReplay(l2, out);
  assert.is(summary.mirrored, referenceSummary.mirrored);
  // tshark decodes the outer IPv4 and UDP only (its jmirror dissector reads no Ethernet payload):
  // the payload must be the mirror header, the 14-byte Ethernet header, then the built-in filter's L3 copy.
  const packets = (file: string) =>
    execFileSync("tshark", ["-r", file, "-Y", "ip.flags.mf == 0 && ip.frag_offset == 0", "-T", "fields", "-E", "occurrence=f", "-e", "ip.id", "-e", "ip.checksum.status", "-e", "udp.length", "-e", "udp.payload", "-o", "ip.check_checksum:TRUE"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 64 << 20,
    })
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
  // The 14 bytes more push some copies over the MTU: compare copies unfragmented in both, by IPv4 ID.
  const plain = new Map(packets(reference).map((row) => [row[0], row]));
  const withL2 = packets(out).filter((row) => plain.has(row[0]));
  assert.ok(withL2.length > 150, `${withL2.length} copies to compare`);
  for (const [id, checksum, udpLength, data] of withL2) {
    const [, , plainLength, plainData] = plain.get(id)!;
    assert.is(checksum, "1", "outer IPv4 header checksum good");
    assert.is(Number(udpLength), Number(plainLength) + 14);
    assert.is(Number(udpLength), 8 + data.length / 2);
    const mirrorHeader = data.slice(0, 16);
    const ethernet = data.slice(16, 44);
    assert.is(mirrorHeader, plainData.slice(0, 16));
    assert.match(ethernet, /^00005e0053..00005e0053..(0800|86dd)$/);
    assert.is(data.slice(44), plainData.slice(16));
  }
});

test.run();
