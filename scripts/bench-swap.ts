/**
 * Filter hot-swap benchmark (docs/benchmarks.md "Filter hot swap"): swap latency and loss under
 * load on the replay pipeline. A generated capture is replayed as fast as it goes through a
 * FilterSwitch: once without swaps (the reference), then once per mode with `--swaps` activations
 * spread over the run, each to the built-in filter's code in another module (a custom section
 * appended: another SHA-256, equivalent output). Reported per run: frames per second, swap latency
 * from the request (a timer firing in the replay's event loop, as an API request would) to the new
 * filter being active, p50/p99/max, and the zero-loss checks: frames in = frames accounted for,
 * output byte-identical to the reference.
 *
 *   node --import tsx scripts/bench-swap.ts [--frames 2000000] [--swaps 100] [--json FILE]
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseConfig } from "../runtime/config/load.ts";
import { checkFilter, FilterSwitch, type CheckedFilter } from "../runtime/filter/lifecycle.ts";
import { formatPrefix, u32ToIPv4 } from "../runtime/net/address.ts";
import { replay } from "../runtime/replay/replay.ts";
import { demoHostIPv4, demoHostIPv6Prefix, writeDemoCapture } from "./fixtures/make-demo.ts";

const { values } = parseArgs({
  options: {
    frames: { type: "string", default: "2000000" },
    swaps: { type: "string", default: "100" },
    json: { type: "string" },
    dir: { type: "string", default: "/tmp/iapd-bench" },
  },
});
const FRAMES = Number(values.frames);
const SWAPS = Number(values.swaps);
/** As scripts/bench-filter.ts: 1,024 of 20,480 subscriber hosts intercepted, about 5% of frames. */
const HOSTS = 20480;
const INTERCEPTED = 1024;
const dir = values.dir;
mkdirSync(dir, { recursive: true });

const capture = join(dir, `capture-${FRAMES}-${HOSTS}.pcap`);
if (!existsSync(capture)) {
  console.error(`generating ${capture} ...`);
  await writeDemoCapture({ out: capture, frames: FRAMES, hosts: HOSTS });
}

const intercepts = Array.from({ length: INTERCEPTED }, (_, k) => {
  const host = k * (HOSTS / INTERCEPTED);
  const v6 = formatPrefix({ family: 6, bytes: demoHostIPv6Prefix(host), length: 64 });
  return `  - {interceptId: ${k + 1}, sessionId: ${k}, targets: [${u32ToIPv4(demoHostIPv4(host))}, "${v6}"], mediation: {address: 198.51.100.1, port: 30030}}`;
});
const config = parseConfig(`node: {sourceAddress: 192.0.2.1, mtu: 1500}\nintercepts:\n${intercepts.join("\n")}\n`, "bench-swap");

/** The same module with a custom section (id 0) appended: valid, ignored, another hash. */
function variantOf(bytes: Uint8Array, n: number): Uint8Array {
  const name = new TextEncoder().encode(`iapd-bench-${n}`);
  const section = Uint8Array.of(0, name.length + 1, name.length, ...name);
  const out = new Uint8Array(bytes.length + section.length);
  out.set(bytes);
  out.set(section, bytes.length);
  return out;
}

const builtin = await checkFilter(new Uint8Array(readFileSync("build/filters/jmirror.wasm")));
const twin = await checkFilter(variantOf(builtin.bytes, 0));

/**
 * How the next filter is chosen and readied: `toggle` alternates between two modules (after the
 * first two swaps the one to activate is the previous filter, still loaded and in sync); `staged`
 * activates a module never loaded before, staged by `prepare` first as an upload stages it (not
 * part of the latency); `cold` activates a module never loaded before, instantiating and feeding
 * it within the request.
 */
type Mode = "toggle" | "staged" | "cold";
const MODES: Mode[] = ["toggle", "staged", "cold"];

interface Run {
  seconds: number;
  frames: bigint;
  output: string;
  latencies: number[];
  lost: number;
  swaps: number;
}

async function run(output: string, mode: Mode | undefined, expectedSeconds: number): Promise<Run> {
  const plane = await FilterSwitch.create(builtin);
  const fresh = mode === "toggle" || mode === undefined ? [] : await Promise.all(Array.from({ length: SWAPS }, (_, n) => checkFilter(variantOf(builtin.bytes, n + 1))));
  const latencies: number[] = [];
  const started = performance.now();
  let done = false;
  // Swap k is requested at started + k * interval; its latency runs from then, so time spent
  // waiting for the replay to yield to the event loop counts, as it would for an API request.
  const interval = (expectedSeconds * 1000 * 0.8) / SWAPS;
  const swapper = (async () => {
    for (let k = 1; mode && k <= SWAPS; k++) {
      const next = mode === "toggle" ? (k % 2 === 1 ? twin : builtin) : fresh[k - 1];
      if (mode === "staged") await plane.prepare(next);
      // Not before the last swap (or the staging) has finished: one request at a time.
      const due = Math.max(started + k * interval, performance.now());
      await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
      if (done) return;
      await plane.activate(next);
      latencies.push(performance.now() - due);
    }
  })();
  await replay({ config, input: capture, output, filter: plane });
  done = true;
  await swapper;
  const seconds = (performance.now() - started) / 1000;
  return { seconds, frames: plane.framesAccounted(), output, latencies, lost: plane.stats.lostFrames, swaps: plane.stats.swaps };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

console.error(`capture ${capture}: ${FRAMES.toLocaleString("en-US")} frames, ${(statSync(capture).size / 1e6).toFixed(0)} MB; ${INTERCEPTED} intercepted hosts`);
const reference = await run(join(dir, "swap-reference.pcap"), undefined, 0);
const referenceHash = sha256(reference.output);
const ms = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(2));
console.log(`replay pipeline through a FilterSwitch, ${FRAMES.toLocaleString("en-US")} frames, default regions (131,072 target slots)`);
console.log(`  without swaps: ${reference.seconds.toFixed(2)} s, ${(FRAMES / reference.seconds / 1e6).toFixed(2)} M frames/s`);
const results: Record<string, unknown> = { frames: FRAMES, reference: { seconds: reference.seconds, framesPerSecond: FRAMES / reference.seconds } };
let ok = true;
for (const mode of MODES) {
  const r = await run(join(dir, `swap-${mode}.pcap`), mode, reference.seconds);
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const identical = sha256(r.output) === referenceHash;
  const latencyMs = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) };
  results[mode] = { seconds: r.seconds, framesPerSecond: FRAMES / r.seconds, swaps: r.swaps, latencyMs, framesAccounted: Number(r.frames), lost: r.lost, outputIdentical: identical };
  console.log(
    `  ${mode.padEnd(6)} ${r.swaps} swaps: ${r.seconds.toFixed(2)} s, ${(FRAMES / r.seconds / 1e6).toFixed(2)} M frames/s; request to active p50 ${ms(latencyMs.p50)} ms, p99 ${ms(latencyMs.p99)} ms, max ${ms(latencyMs.max)} ms; ` +
      `frames accounted ${r.frames} of ${FRAMES}, lost ${r.lost}, output ${identical ? "identical" : "DIFFERENT"}`,
  );
  ok &&= identical && r.frames === BigInt(FRAMES) && r.lost === 0 && r.swaps >= SWAPS;
}
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
if (!ok) process.exitCode = 1;
