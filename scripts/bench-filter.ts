/**
 * Data-plane filter benchmark (docs/benchmarks.md): the wasm filter, the plain TypeScript filter
 * (runtime/filter/oracle.ts) and tcpdump/libpcap with a BPF expression naming the same hosts, side by
 * side in one run on one generated capture, reported as frames per second and ratios.
 *
 *   node --import tsx scripts/bench-filter.ts [--frames 500000] [--repeat 3] [--json FILE]
 *
 * Every run is bounded: the capture has a fixed number of frames and each tool runs `repeat` times.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openCaptureFile } from "../runtime/capture/pcap-file.ts";
import { parseConfig } from "../runtime/config/load.ts";
import type { Config } from "../runtime/config/schema.ts";
import { filterConfig, targetsFromConfig } from "../runtime/config/targets.ts";
import { OracleFilter } from "../runtime/filter/oracle.ts";
import type { Filter } from "../runtime/filter/types.ts";
import { WasmFilter } from "../runtime/filter/wasm.ts";
import { formatAddress, formatPrefix, u32ToIPv4 } from "../runtime/net/address.ts";
import { replay } from "../runtime/replay/replay.ts";
import { demoHostIPv4, demoHostIPv6Prefix, writeDemoCapture } from "./fixtures/make-demo.ts";

const { values } = parseArgs({
  options: {
    frames: { type: "string", default: "500000" },
    repeat: { type: "string", default: "3" },
    json: { type: "string" },
    dir: { type: "string", default: "/tmp/iapd-bench" },
  },
});
const FRAMES = Number(values.frames);
const REPEAT = Number(values.repeat);
/** Subscriber hosts in the capture; 1,024 of them intercepted gives about 5% of frames. */
const HOSTS = 20480;
const INTERCEPTED = 1024;
const dir = values.dir;
mkdirSync(dir, { recursive: true });

const capture = join(dir, `capture-${FRAMES}-${HOSTS}.pcap`);
if (!existsSync(capture)) {
  console.error(`generating ${capture} ...`);
  await writeDemoCapture({ out: capture, frames: FRAMES, hosts: HOSTS });
}
const captureBytes = statSync(capture).size;

/** Intercepted subscriber k: host k*20 with its IPv4 address and its delegated IPv6 /64. */
function subscriberPrefixes(host: number): string[] {
  return [u32ToIPv4(demoHostIPv4(host)), formatPrefix({ family: 6, bytes: demoHostIPv6Prefix(host), length: 64 })];
}

/** A configuration with `targets` table entries: the first `real` from intercepted hosts, the rest decoys absent from the capture. */
function configWith(targets: number, real = targets): Config {
  const lines = ["node: {sourceAddress: 192.0.2.1, mtu: 1500}", "intercepts:"];
  let n = 0;
  for (let k = 0; n < targets; k++) {
    const host = n < real ? k * (HOSTS / INTERCEPTED) : HOSTS + k;
    const prefixes = subscriberPrefixes(host).slice(0, targets - n);
    n += prefixes.length;
    lines.push(`  - {interceptId: ${k + 1}, sessionId: ${k + 1}, targets: [${prefixes.map((p) => `"${p}"`).join(", ")}], mediation: {address: 198.51.100.200, port: 30030}}`);
  }
  return parseConfig(lines.join("\n"), "bench");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function pipeline(filter: Filter, config: Config, out: string): Promise<{ seconds: number; mirrored: number; matched: number }> {
  const t0 = performance.now();
  const s = await replay({ config, input: capture, output: out, filter });
  return { seconds: (performance.now() - t0) / 1000, mirrored: s.mirrored, matched: s.matched };
}

/** The capture as in-memory batches, to time the filter alone. */
async function loadBatches(): Promise<{ linkType: number; batches: Uint8Array[] }> {
  const reader = await openCaptureFile(capture);
  const batches: Uint8Array[] = [];
  const buf = new Uint8Array(4 << 20);
  let linkType = 1;
  for (;;) {
    const b = await reader.fill(buf);
    if (!b) break;
    linkType = b.linkType;
    batches.push(buf.slice(0, b.length));
  }
  await reader.close();
  return { linkType, batches };
}

/** Passes over the in-memory capture per measurement, so that each one lasts long enough to time. */
const PASSES = Math.max(1, Math.ceil(4_000_000 / FRAMES));

/** Seconds per pass over the capture, the filter alone (batches copied into its input region). */
function filterOnly(filter: Filter, config: Config, linkType: number, batches: Uint8Array[]): number {
  filter.clearTargets();
  for (const t of targetsFromConfig(config)) filter.addTarget(t);
  filter.configure(filterConfig(config, linkType));
  const input = filter.inputBuffer();
  const t0 = performance.now();
  for (let pass = 0; pass < PASSES; pass++) {
    for (const batch of batches) {
      input.set(batch);
      for (let off = 0; off < batch.length; ) off += filter.process(input.subarray(off, batch.length)).consumed;
    }
  }
  return (performance.now() - t0) / 1000 / PASSES;
}

function bpfFor(config: Config): string {
  return targetsFromConfig(config)
    .map((t) => (t.family === 4 ? `host ${formatAddress(t.address)}` : `net ${formatPrefix({ family: 6, bytes: t.address, length: t.prefixLength })}`))
    .join(" or ");
}

function tcpdump(expression: string, optimize: boolean, out: string): { total: number; compile: number; matched: number } {
  const file = join(dir, "filter.bpf");
  writeFileSync(file, expression);
  const flags = optimize ? [] : ["-O"];
  let t0 = performance.now();
  // -d compiles and prints the program without reading packets: the cost of compiling alone.
  const program = spawnSync("tcpdump", [...flags, "-d", "-r", capture, "-F", file], { maxBuffer: 1 << 28 });
  const compile = (performance.now() - t0) / 1000;
  if (program.status !== 0) throw new Error(`tcpdump -d failed: ${program.stderr}`);
  t0 = performance.now();
  const r = spawnSync("tcpdump", [...flags, "-Z", "root", "-r", capture, "-w", out, "-F", file], { encoding: "utf8" });
  const total = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`tcpdump failed: ${r.stderr}`);
  const matched = Number(execFileSync("capinfos", ["-c", "-M", out], { encoding: "utf8" }).match(/Number of packets:\s+(\d+)/)?.[1] ?? NaN);
  return { total, compile, matched };
}

const fps = (seconds: number) => Math.round(FRAMES / seconds);
const fmt = (n: number) => n.toLocaleString("en-US");
const results: Record<string, unknown> = { frames: FRAMES, captureBytes, repeat: REPEAT, hosts: HOSTS, node: process.version };

console.log(`capture: ${fmt(FRAMES)} frames, ${fmt(captureBytes)} bytes, ${HOSTS} subscriber hosts`);

// 1. Side by side, file to file, 2048 targets (1,024 subscribers x IPv4 + IPv6 /64).
const config2048 = configWith(2048);
const wasm = await WasmFilter.load();
const oracle = new OracleFilter();
const runs = { wasm: [] as number[], ts: [] as number[] };
let mirrored = 0;
let matched = 0;
for (let i = 0; i < REPEAT; i++) {
  const w = await pipeline(wasm, config2048, join(dir, "wasm.pcap"));
  const t = await pipeline(oracle, config2048, join(dir, "ts.pcap"));
  runs.wasm.push(w.seconds);
  runs.ts.push(t.seconds);
  mirrored = w.mirrored;
  matched = w.matched;
  if (t.mirrored !== w.mirrored) throw new Error("wasm and TypeScript filters disagree");
}
const identical = readFileSync(join(dir, "wasm.pcap")).equals(readFileSync(join(dir, "ts.pcap")));
const tcp2048: { total: number; compile: number; matched: number }[] = [];
for (let i = 0; i < REPEAT; i++) tcp2048.push(tcpdump(bpfFor(config2048), false, join(dir, "tcpdump.pcap")));
const t2048 = { total: median(tcp2048.map((r) => r.total)), compile: median(tcp2048.map((r) => r.compile)) };

// 2. 64 hosts, where libpcap's optimizer finishes.
const config64 = configWith(64);
const runs64 = { wasm: [] as number[], tcpdump: [] as number[] };
for (let i = 0; i < REPEAT; i++) {
  runs64.wasm.push((await pipeline(wasm, config64, join(dir, "wasm64.pcap"))).seconds);
  runs64.tcpdump.push(tcpdump(bpfFor(config64), true, join(dir, "tcpdump64.pcap")).total);
}

console.log(`\nfile to file (read capture, filter, write output), ${(100 * matched / FRAMES).toFixed(1)}% of frames matched, ${fmt(mirrored)} copies; median of ${REPEAT}`);
console.log("| targets | tool | frames/s | wasm is |");
console.log("|---|---|---:|---:|");
const w2048 = median(runs.wasm);
const ts2048 = median(runs.ts);
console.log(`| 2048 | wasm filter | ${fmt(fps(w2048))} | |`);
console.log(`| 2048 | TypeScript filter | ${fmt(fps(ts2048))} | ${(ts2048 / w2048).toFixed(1)}x |`);
console.log(`| 2048 | tcpdump -O (incl. ${t2048.compile.toFixed(1)} s compile) | ${fmt(fps(t2048.total))} | ${(t2048.total / w2048).toFixed(0)}x |`);
console.log(`| 2048 | tcpdump -O (filtering only) | ${fmt(fps(t2048.total - t2048.compile))} | ${((t2048.total - t2048.compile) / w2048).toFixed(0)}x |`);
const w64 = median(runs64.wasm);
const d64 = median(runs64.tcpdump);
console.log(`| 64 | wasm filter | ${fmt(fps(w64))} | |`);
console.log(`| 64 | tcpdump (optimizer on) | ${fmt(fps(d64))} | ${(d64 / w64).toFixed(1)}x |`);
console.log(`wasm and TypeScript outputs byte-identical: ${identical}; tcpdump matched ${fmt(tcp2048[0].matched)} frames, the filters ${fmt(matched)}`);
Object.assign(results, {
  matched,
  mirrored,
  identical,
  fileToFile: { wasm2048: fps(w2048), ts2048: fps(ts2048), tcpdump2048: fps(t2048.total), tcpdump2048Compile: t2048.compile, tcpdump2048FilterOnly: fps(t2048.total - t2048.compile), wasm64: fps(w64), tcpdump64: fps(d64) },
});

// 3. The filter alone, in memory: wasm vs TypeScript, and wasm from 16 to 65,536 targets with the
// same 16 matching entries (the rest are decoys absent from the capture), so only the table grows.
const { linkType, batches } = await loadBatches();
const sizes = [16, 256, 2048, 16384, 65536];
const sizeConfigs = new Map(sizes.map((n) => [n, configWith(n, 16)]));
const sweep = new Map<number, number[]>(sizes.map((n) => [n, []]));
const memory = { wasm: [] as number[], ts: [] as number[] };
for (let i = 0; i < REPEAT; i++) {
  memory.wasm.push(filterOnly(wasm, config2048, linkType, batches));
  memory.ts.push(filterOnly(oracle, config2048, linkType, batches));
}
// The sweep runs after a warm-up pass and rotates its order each round, so that no table size is
// always measured first (right after the TypeScript filter's garbage) or last.
filterOnly(wasm, sizeConfigs.get(16)!, linkType, batches);
for (let i = 0; i < Math.max(REPEAT, 5); i++) {
  for (let j = 0; j < sizes.length; j++) {
    const n = sizes[(i + j) % sizes.length];
    sweep.get(n)!.push(filterOnly(wasm, sizeConfigs.get(n)!, linkType, batches));
  }
}
const mw = median(memory.wasm);
const mt = median(memory.ts);
console.log(`\nfilter only (capture in memory, ${PASSES} passes per measurement), 2048 targets: wasm ${fmt(fps(mw))} frames/s, TypeScript ${fmt(fps(mt))} frames/s: wasm ${(mt / mw).toFixed(1)}x`);
console.log(`| targets in table | wasm frames/s (median of ${Math.max(REPEAT, 5)}) | vs 16 |`);
console.log("|---:|---:|---:|");
const base = median(sweep.get(16)!);
const sweepResult: Record<number, number> = {};
for (const n of sizes) {
  const s = median(sweep.get(n)!);
  sweepResult[n] = fps(s);
  console.log(`| ${fmt(n)} | ${fmt(fps(s))} | ${((100 * base) / s).toFixed(0)}% |`);
}
Object.assign(results, { filterOnly: { wasm2048: fps(mw), ts2048: fps(mt) }, sweep: sweepResult });
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
for (const f of ["wasm.pcap", "ts.pcap", "tcpdump.pcap", "wasm64.pcap", "tcpdump64.pcap", "filter.bpf"]) rmSync(join(dir, f), { force: true });
