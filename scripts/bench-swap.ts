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
 * With `--live`, the same on the live data plane in network namespaces it creates and deletes:
 *
 *   iapddp-swg: a C generator sending the frames of a generated capture of at most 128 bytes in a
 *               loop (AF_PACKET, sendmmsg, PACKET_QDISC_BYPASS) as fast as it goes, on CPU 0
 *     --veth--  iapddp-swr: iapd's live data plane (one capture worker, pcap egress so that every
 *               copy can be compared) and a FilterRegistry as the API drives it: each swap uploads
 *               a module never seen before (checked, staged on the worker) and activates it
 *
 * The swap latency is the activation request to every worker answering that it switched (and, apart,
 * to the registry's answer, which waits for the audit record's fsync). After the
 * run: frames sent = frames the capture socket received = frames the filters counted (kernel drops
 * 0), and the mirrored output is byte for byte what the built-in filter makes of the frames sent.
 *
 *   node --import tsx scripts/bench-swap.ts [--frames 2000000] [--swaps 100] [--json FILE]
 *   node --import tsx scripts/bench-swap.ts --live [--frames 200000] [--seconds 6] [--swaps 100] [--json FILE]
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { AuditLog } from "../runtime/audit/log.ts";
import { openCaptureFile, PcapWriter } from "../runtime/capture/pcap-file.ts";
import { parseConfig } from "../runtime/config/load.ts";
import { filterConfig, targetsFromConfig } from "../runtime/config/targets.ts";
import { checkFilter, FilterSwitch, type CheckedFilter } from "../runtime/filter/lifecycle.ts";
import { FilterRegistry } from "../runtime/filter/registry.ts";
import { WasmFilter } from "../runtime/filter/wasm.ts";
import { formatPrefix, u32ToIPv4 } from "../runtime/net/address.ts";
import { replay } from "../runtime/replay/replay.ts";
import { demoHostIPv4, demoHostIPv6Prefix, writeDemoCapture } from "./fixtures/make-demo.ts";
import { Lab } from "./netns/netns.ts";

const { values } = parseArgs({
  options: {
    frames: { type: "string" },
    swaps: { type: "string", default: "100" },
    json: { type: "string" },
    dir: { type: "string", default: "/tmp/iapd-bench" },
    live: { type: "boolean", default: false },
    seconds: { type: "string", default: "6" },
    receiver: { type: "string" },
  },
});
const FRAMES = Number(values.frames ?? (values.live ? 200000 : 2000000));
const SWAPS = Number(values.swaps);
/** As scripts/bench-filter.ts: 1,024 of 20,480 subscriber hosts intercepted, about 5% of frames. */
const HOSTS = 20480;
const INTERCEPTED = 1024;
const dir = values.dir;
mkdirSync(dir, { recursive: true });

const capture = join(dir, `capture-${FRAMES}-${HOSTS}.pcap`);
if (!existsSync(capture) && !values.receiver) {
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


async function replayBench(): Promise<boolean> {
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
  return ok;
}

// ---- live data plane ---------------------------------------------------------------------------

/** Sends the frames of a classic little-endian pcap file in a loop, 64 per sendmmsg, for SECONDS;
 * prints the frames sent (always whole passes' prefix: frame i of the file is sent i-th). */
const GENERATOR_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#define BATCH 64
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: gen IFACE SECONDS FILE.pcap\n"); return 2; }
  double seconds = atof(argv[2]);
  FILE *f = fopen(argv[3], "rb"); if (!f) { perror("fopen"); return 1; }
  fseek(f, 0, SEEK_END); long size = ftell(f); fseek(f, 0, SEEK_SET);
  unsigned char *file = malloc(size); if (fread(file, 1, size, f) != (size_t)size) { perror("fread"); return 1; }
  size_t n = 0, cap = 1 << 20; struct iovec *frames = malloc(cap * sizeof *frames);
  for (long at = 24; at + 16 <= size; ) {
    unsigned len = *(unsigned *)(file + at + 8);
    if (at + 16 + len > size) break;
    if (n == cap) { cap *= 2; frames = realloc(frames, cap * sizeof *frames); }
    frames[n].iov_base = file + at + 16; frames[n].iov_len = len; n++; at += 16 + len;
  }
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int one = 1; setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  struct sockaddr_ll sll; memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET; sll.sll_ifindex = if_nametoindex(argv[1]);
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("bind"); return 1; }
  struct mmsghdr msgs[BATCH]; memset(msgs, 0, sizeof msgs);
  unsigned long long sent = 0; double start = now(), end = start + seconds, t = start;
  while (t < end) {
    for (int r = 0; r < 16; r++) {
      for (int i = 0; i < BATCH; i++) { msgs[i].msg_hdr.msg_iov = &frames[(sent + i) % n]; msgs[i].msg_hdr.msg_iovlen = 1; }
      int k = sendmmsg(fd, msgs, BATCH, 0);
      if (k > 0) sent += k;
    }
    t = now();
  }
  printf("%llu %.6f\n", sent, t - start);
  return 0;
}
`;

const LIVE = { gen: "iapddp-swg", rx: "iapddp-swr", genIf: "iapddp-swg0", rxIf: "iapddp-swr0" };

/** The receiver, inside its namespace: the live data plane and a registry; swaps on request. */
async function receiver(output: string): Promise<void> {
  const { DataPlane } = await import("../runtime/dataplane/dataplane.ts");
  const audit = AuditLog.open(join(dirname(output), "audit.log"));
  const registry = await FilterRegistry.open({ audit });
  const plane = await DataPlane.start({
    capture: { interfaces: [{ name: LIVE.rxIf, workers: 1, promiscuous: true, ignoreOutgoing: true }], blockSize: 1 << 20, blockCount: 128, retireTimeoutMs: 4 },
    egress: { mode: "pcap", path: output },
    node: filterConfig(config, 1),
    filter: registry.active,
    onFilterEvent: (e) => registry.onHostEvent(e),
  });
  // The moment every worker has switched ("active"), before the registry writes the audit record.
  let activeAt = 0;
  registry.attach({
    prepare: (f) => plane.filters.prepare(f),
    activate: async (f) => {
      await plane.filters.activate(f);
      activeAt = performance.now();
    },
    rollback: () => plane.filters.rollback(),
  });
  for (const t of targetsFromConfig(config)) plane.add(t);
  await plane.settled();
  const send = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
  send({ ready: true });
  let buffered = "";
  process.stdin.on("data", async (chunk) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const command = JSON.parse(buffered.slice(0, nl)) as { swap?: number; stop?: boolean };
      buffered = buffered.slice(nl + 1);
      if (command.swap !== undefined) {
        const { filter } = await registry.upload(variantOf(builtin.bytes, command.swap), "bench");
        const requested = performance.now();
        await registry.activate(filter.id!, "bench");
        send({ swapped: command.swap, ms: activeAt - requested, answeredMs: performance.now() - requested });
      } else if (command.stop) {
        const stats = await plane.stop();
        send({ stats: stats.total });
        process.exit(0);
      }
    }
  });
}

function lines(child: ChildProcess, onLine: (line: Record<string, unknown>) => void): void {
  let buffered = "";
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith("{")) onLine(JSON.parse(line) as Record<string, unknown>);
    }
  });
}

/** Outer packets of a pcap file written by the egress or PcapWriter, in order. */
async function packetsOf(path: string): Promise<Uint8Array[]> {
  const reader = await openCaptureFile(path);
  const buffer = new Uint8Array(4 << 20);
  const out: Uint8Array[] = [];
  try {
    for (let batch = await reader.fill(buffer); batch; batch = await reader.fill(buffer)) {
      const view = new DataView(buffer.buffer, 0, batch.length);
      for (let at = 0; at < batch.length; at += 16 + view.getUint32(at + 8, true)) out.push(buffer.slice(at + 16, at + 16 + view.getUint32(at + 8, true)));
    }
  } finally {
    await reader.close();
  }
  return out;
}

/**
 * The frames of the capture of at most 128 bytes (TCP acknowledgements, DNS, interactive traffic;
 * about half of them): the load is a frame rate, and on veth the generator's CPU also runs the
 * receive path, whose cost grows with the frame size.
 */
async function smallFrames(): Promise<string> {
  const path = capture.replace(/\.pcap$/, "-small.pcap");
  if (existsSync(path)) return path;
  const reader = await openCaptureFile(capture);
  const writer = await PcapWriter.create(path, 1);
  const buffer = new Uint8Array(4 << 20);
  try {
    for (let batch = await reader.fill(buffer); batch; batch = await reader.fill(buffer)) {
      const view = new DataView(buffer.buffer, 0, batch.length);
      for (let at = 0; at < batch.length; at += 16 + view.getUint32(at + 8, true)) {
        const length = view.getUint32(at + 8, true);
        if (length <= 128 && length === view.getUint32(at + 12, true)) writer.write(view.getUint32(at, true), view.getUint32(at + 4, true), buffer.subarray(at + 16, at + 16 + length));
      }
    }
  } finally {
    await reader.close();
    await writer.close();
  }
  return path;
}

/** What the built-in filter makes of the first `sent` frames of `frames` sent in a loop. */
async function expectedPackets(frames: string, sent: number, output: string): Promise<number> {
  const filter = await WasmFilter.load(builtin.bytes);
  filter.configure(filterConfig(config, 1));
  for (const t of targetsFromConfig(config)) filter.addTarget(t);
  let reader = await openCaptureFile(frames);
  const buffer = filter.inputBuffer();
  const writer = await PcapWriter.create(output, 228);
  let left = sent;
  try {
    while (left > 0) {
      const batch = await reader.fill(buffer);
      if (!batch) {
        // The generator starts the file over.
        await reader.close();
        reader = await openCaptureFile(frames);
        continue;
      }
      let end = 0;
      let taken = 0;
      const view = new DataView(buffer.buffer, buffer.byteOffset, batch.length);
      while (end < batch.length && taken < left) {
        end += 16 + view.getUint32(end + 8, true);
        taken++;
      }
      for (let at = 0; at < end; ) {
        const r = filter.process(buffer.subarray(at, end));
        for (const p of r.packets) writer.write(0, 0, p.bytes);
        at += r.consumed;
      }
      left -= taken;
    }
  } finally {
    await reader.close();
    await writer.close();
  }
  return writer.records;
}

async function liveBench(): Promise<boolean> {
  const seconds = Number(values.seconds);
  const frames = await smallFrames();
  const work = mkdtempSync(join(tmpdir(), "iapd-bench-swap-"));
  const lab = new Lab();
  try {
    writeFileSync(join(work, "gen.c"), GENERATOR_C);
    const generator = join(work, "gen");
    execFileSync("gcc", ["-O2", "-o", generator, join(work, "gen.c")]);
    for (const ns of [LIVE.gen, LIVE.rx]) {
      lab.namespace(ns);
      // Nothing but the generator's frames on the link: no IPv6 neighbour discovery or MLD.
      for (const key of ["all", "default"]) lab.run(ns, "sysctl", "-qw", `net.ipv6.conf.${key}.disable_ipv6=1`);
    }
    lab.veth([LIVE.gen, LIVE.genIf], [LIVE.rx, LIVE.rxIf]);
    const output = join(work, "mirrored.pcap");
    const iapd = lab.spawn(LIVE.rx, "taskset", ["-c", "1", process.execPath, "--import", "tsx", resolve(import.meta.dirname, "bench-swap.ts"), "--frames", String(FRAMES), "--receiver", output], {
      stdio: ["pipe", "pipe", "inherit"],
      cwd: resolve(import.meta.dirname, ".."),
    });
    const latencies: number[] = [];
    const answered: number[] = [];
    let stats: Record<string, number> | undefined;
    let ready: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    let swapped: () => void = () => {};
    lines(iapd, (line) => {
      if (line.ready) ready();
      if (typeof line.ms === "number") {
        latencies.push(line.ms);
        answered.push(line.answeredMs as number);
        swapped();
      }
      if (line.stats) stats = line.stats as Record<string, number>;
    });
    await isReady;
    const gen = lab.spawn(LIVE.gen, "taskset", ["-c", "0", generator, LIVE.genIf, String(seconds), frames]);
    let genOut = "";
    gen.stdout!.on("data", (d: Buffer) => (genOut += d));
    const genDone = new Promise<void>((r) => gen.on("close", () => r()));
    // Swaps spread over the middle of the run, one request at a time.
    const interval = (seconds * 1000 * 0.8) / SWAPS;
    await new Promise((r) => setTimeout(r, seconds * 100));
    for (let k = 1; k <= SWAPS; k++) {
      const done = new Promise<void>((r) => (swapped = r));
      iapd.stdin!.write(`${JSON.stringify({ swap: k })}\n`);
      await Promise.all([done, new Promise((r) => setTimeout(r, interval))]);
    }
    await genDone;
    await new Promise((r) => setTimeout(r, 500));
    const exited = new Promise<void>((r) => iapd.on("close", () => r()));
    iapd.stdin!.write(`${JSON.stringify({ stop: true })}\n`);
    await exited;
    const [sent, elapsed] = genOut.trim().split(" ").map(Number);
    const expectedFile = join(work, "expected.pcap");
    const expected = await expectedPackets(frames, sent, expectedFile);
    const [got, want] = await Promise.all([packetsOf(output), packetsOf(expectedFile)]);
    let firstDifference = -1;
    for (let i = 0; i < Math.max(got.length, want.length) && firstDifference < 0; i++) {
      if (!got[i] || !want[i] || Buffer.compare(got[i], want[i]) !== 0) firstDifference = i;
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const latencyMs = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) };
    const sortedAnswered = [...answered].sort((a, b) => a - b);
    const answeredMs = { p50: percentile(sortedAnswered, 50), p99: percentile(sortedAnswered, 99), max: sortedAnswered.at(-1) };
    const s = stats!;
    const result = { seconds: elapsed, sent, framesPerSecond: sent / elapsed, swaps: latencies.length, latencyMs, answeredMs, received: s.received, kernelDrops: s.kernelDrops, filterFrames: s.frames, mirrored: s.mirrored, outPackets: got.length, expectedPackets: expected, firstDifference };
    const ms = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(2));
    console.log(`live data plane (network namespaces, 1 capture worker, 262,144 target slots, pcap egress), ${seconds} s of generator load`);
    console.log(`  generator: ${sent.toLocaleString("en-US")} frames in ${elapsed.toFixed(2)} s = ${(sent / elapsed / 1e3).toFixed(0)}k frames/s`);
    console.log(`  ${latencies.length} swaps (upload + activate of a new module each): request to active on every worker p50 ${ms(latencyMs.p50)} ms, p99 ${ms(latencyMs.p99)} ms, max ${ms(latencyMs.max)} ms`);
    console.log(`  request to answer (after the audit record's fsync): p50 ${ms(answeredMs.p50)} ms, p99 ${ms(answeredMs.p99)} ms, max ${ms(answeredMs.max)} ms`);
    console.log(`  frames: sent ${sent}, received by the capture socket ${s.received}, kernel drops ${s.kernelDrops}, counted by the filters ${s.frames}`);
    console.log(`  mirrored output: ${got.length} outer packets, expected ${expected}; ${firstDifference < 0 ? "byte for byte identical" : `first difference at packet ${firstDifference}`}`);
    if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
    return firstDifference < 0 && sent === s.received && s.kernelDrops === 0 && s.frames === sent && latencies.length === SWAPS;
  } finally {
    lab.close();
    rmSync(work, { recursive: true, force: true });
  }
}

if (values.receiver) await receiver(values.receiver);
else if (!(values.live ? await liveBench() : await replayBench())) process.exitCode = 1;
