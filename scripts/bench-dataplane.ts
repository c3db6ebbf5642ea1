/**
 * Live data plane benchmark (docs/dataplane.md, docs/benchmarks.md "Live data plane"), in network
 * namespaces it creates and deletes:
 *
 *   iapddp-gen: a C generator (AF_PACKET + sendmmsg + PACKET_QDISC_BYPASS, 60-byte UDP frames from
 *               40960 subscriber addresses in 100.64.0.0/10), pinned to CPU 0
 *     --veth--  iapddp-rx: iapd's data plane (2048 targets: every 20th address, ~5% of frames, mirrored
 *               to 198.51.100.2 by raw IPv4) and `tcpdump -w /dev/null -B 16384` on the same
 *               interface at the same time, both pinned to CPU 1
 *     --veth--  iapddp-bmd: the mediation device (198.51.100.2)
 *
 * On veth the receive path's kernel work runs on the sender's CPU, so the generator sets the rate;
 * the receivers are compared by their own CPU time per packet (/proc/PID/stat utime + stime) and
 * the kernel's drop counters (PACKET_STATISTICS for iapd, tcpdump's "dropped by kernel").
 *
 *   node --import tsx scripts/bench-dataplane.ts [--seconds 5] [--runs 3] [--egress raw|packet] [--warmup 20] [--block-kib 256] [--retire-ms 4] [--json FILE] [--perf] [--trace-gc] [--bundle] [--filter builtin,FILE.wasm] [--max-targets 262144] [--mediation-route onlink|via]
 *
 * --warmup S: before each measured run, S seconds of the same traffic to iapd alone (tcpdump not yet
 * started), so that V8 has compiled iapd's hot code and its memory reducer has done the full
 * collections it makes once after start-up (40-75 ms of CPU on this machine, seen with --trace-gc);
 * the warm-up's counts are subtracted (0: no warm-up). 20 s: with 8 s, three of those collections
 * (75 ms, both isolates) still fell in a 5 s window and added ~15 ns to iapd's CPU per packet.
 *
 * iapd's CPU per packet is also given by thread (/proc/PID/task): the capture worker (its busiest
 * thread), the main thread, and the rest (V8's and libuv's helper threads) together.
 *
 * --perf: records iapd with perf(1) while the generator runs (node --perf-basic-prof names the JIT
 * and WebAssembly code) and prints where its CPU time went: kernel or user, and the top symbols.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Lab } from "./netns/netns.ts";
import { bundleOptions } from "./bundle-options.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    runs: { type: "string", default: "3" },
    json: { type: "string" },
    receiver: { type: "boolean", default: false },
    /** iapd's egress: "raw" (the default mode) or "packet" (AF_PACKET to the next hop's MAC address). */
    egress: { type: "string", default: "raw" },
    perf: { type: "boolean", default: false },
    /** Run iapd with --trace-gc and count its collections in the measured window. */
    "trace-gc": { type: "boolean", default: false },
    /** Seconds of traffic to iapd alone before each measured run (0: none). */
    warmup: { type: "string", default: "20" },
    /** iapd's ring block size in KiB; the ring is 16 MiB whatever the block size. */
    "block-kib": { type: "string", default: "256" },
    /** iapd's block retire timeout (capture.retireTimeoutMs, default 4 ms: the latency floor at low rates). */
    "retire-ms": { type: "string", default: "4" },
    /**
     * Run iapd's receiver (its data plane and the worker thread) from esbuild bundles made the way
     * scripts/build-binary.ts makes the single binary's, instead of the TypeScript sources through tsx.
     */
    bundle: { type: "boolean", default: false },
    /**
     * Filter modules to run instead of the built-in one, comma-separated; "builtin" names the built
     * one. Each run then measures every filter in turn, in the order given (alternatives side by side).
     */
    filter: { type: "string", default: "builtin" },
    /** The data plane's maxTargets (the filter's table sizes); the daemon's default is 262144. */
    "max-targets": { type: "string", default: "262144" },
    /** How iapd's host reaches the mediation device: "onlink" (its /24) or "via" (a host route through itself). */
    "mediation-route": { type: "string", default: "onlink" },
  },
});

const HOSTS = 40960;
const WARMUP_SECONDS = Number(values.warmup);
const BLOCK_KIB = Number(values["block-kib"]);
const RETIRE_MS = Number(values["retire-ms"]);
const TARGET_EVERY = 20;
const MEDIATION = "198.51.100.2";
const SOURCE = "198.51.100.1";
const CLK_TCK = 100;
/** A MAC address nobody on the mediation link has: copies are put on the wire and dropped at once. */
const NEXT_HOP = "02:00:5e:00:53:99";

/** The generator: 64 frames per sendmmsg, source address cycling over `hosts` subscriber addresses. */
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
#define LEN 60
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: gen IFACE SECONDS HOSTS\n"); return 2; }
  double seconds = atof(argv[2]); unsigned hosts = atoi(argv[3]);
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  if (fd < 0) { perror("socket"); return 1; }
  int one = 1; setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  struct sockaddr_ll sll; memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET; sll.sll_protocol = htons(ETH_P_IP); sll.sll_ifindex = if_nametoindex(argv[1]);
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("bind"); return 1; }
  static unsigned char frames[BATCH][LEN]; struct iovec iov[BATCH]; struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    unsigned char *f = frames[i]; memset(f, 0, LEN);
    memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
    unsigned char *ip = f + 14; ip[0] = 0x45; ip[3] = 46; ip[8] = 64; ip[9] = 17;
    ip[16] = 203; ip[17] = 0; ip[18] = 113; ip[19] = 1;
    unsigned char *udp = ip + 20; udp[0] = 0x03; udp[1] = 0xe8; udp[2] = 0x07; udp[3] = 0xd0; udp[5] = 26;
    iov[i].iov_base = f; iov[i].iov_len = LEN; msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0; unsigned h = 0; double start = now(), end = start + seconds, t = start;
  while (t < end) {
    for (int b = 0; b < 64; b++) {
      for (int i = 0; i < BATCH; i++) {
        unsigned char *ip = frames[i] + 14; unsigned host = h++ % hosts;
        ip[12] = 100; ip[13] = 64 + (host >> 16); ip[14] = (host >> 8) & 255; ip[15] = host & 255;
        ip[10] = ip[11] = 0; unsigned sum = 0;
        for (int k = 0; k < 20; k += 2) sum += (ip[k] << 8) | ip[k + 1];
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        sum = ~sum & 0xffff; ip[10] = sum >> 8; ip[11] = sum & 255;
      }
      int n = sendmmsg(fd, msgs, BATCH, 0);
      if (n > 0) sent += n;
    }
    t = now();
  }
  printf("%llu %.6f\n", sent, t - start);
  return 0;
}
`;

/** The address of subscriber `host` as the generator writes it. */
const hostAddress = (host: number) => Uint8Array.of(100, 64 + (host >> 16), (host >> 8) & 255, host & 255);

async function receiver(): Promise<void> {
  const { DataPlane } = await import("../runtime/dataplane/dataplane.ts");
  const { ipv4ToU32 } = await import("../runtime/net/address.ts");
  const { checkFilterHere } = await import("../runtime/filter/lifecycle.ts");
  const filter = values.filter === "builtin" ? undefined : await checkFilterHere(new Uint8Array(readFileSync(String(values.filter))));
  const plane = await DataPlane.start({
    filter,
    // The configuration's default block size (256 KiB: a block and its copy stay in the CPU's L2
    // cache) and a 16 MiB ring, tcpdump's -B 16384.
    capture: { interfaces: [{ name: "iapddp-r0", workers: 1, promiscuous: true, ignoreOutgoing: true }], blockSize: BLOCK_KIB * 1024, blockCount: 16384 / BLOCK_KIB, retireTimeoutMs: RETIRE_MS },
    egress: values.egress === "packet" ? { mode: "packet", interface: "iapddp-m1", nextHop: NEXT_HOP } : { mode: "raw" },
    node: { sourceAddress: ipv4ToU32(SOURCE), mtu: 1500, dscp: 255 },
    maxTargets: Number(values["max-targets"]),
  });
  for (let slot = 0; slot < HOSTS / TARGET_EVERY; slot++) {
    plane.add({ slot, family: 4, address: hostAddress(slot * TARGET_EVERY), prefixLength: 32, interceptId: slot + 1, sessionId: slot, mediationAddress: ipv4ToU32(MEDIATION), mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: 255 });
  }
  await plane.settled();
  process.stdout.write("ready\n");
  // "stats": the counters so far (after the warm-up); anything else: stop and print the final ones.
  process.stdin.on("data", async (data) => {
    if (String(data).trim() === "stats") {
      process.stdout.write(`stats ${JSON.stringify((await plane.stats()).total)}\n`);
      return;
    }
    const stats = await plane.stop();
    process.stdout.write(`${JSON.stringify(stats.total)}\n`);
    process.exit(0);
  });
}

/**
 * This script and the data plane's worker as CommonJS bundles (the options of
 * scripts/build-binary.ts), under node_modules/.cache so that koffi is found from them; the
 * arguments that run the receiver from there.
 */
async function bundleReceiver(): Promise<string[]> {
  const { build } = await import("esbuild");
  const { WORKER_BUNDLES, asconfigFilters } = await import("../runtime/assets/assets.ts");
  const root = resolve(import.meta.dirname, "..");
  const dir = join(root, "node_modules", ".cache", "iapd-bench-dataplane");
  const info = { version: "bench", commit: "bench", root: relative(dir, root), filters: asconfigFilters(readFileSync(join(root, "asconfig.json"), "utf8")) };
  const options = bundleOptions(info);
  await build({ ...options, entryPoints: [join(root, "scripts/bench-dataplane.ts")], outfile: join(dir, "bench-dataplane.cjs") });
  await build({ ...options, entryPoints: [join(root, WORKER_BUNDLES["dataplane-worker.cjs"])], outfile: join(dir, "dataplane-worker.cjs") });
  return [join(dir, "bench-dataplane.cjs")];
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU ticks of each thread of `pid`, by thread ID. */
function threadTicks(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      threads.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return threads;
}

/** Where a process's CPU time in a window went: its main thread, its busiest other thread (the capture worker), the rest. */
function threadShares(pid: number, before: Map<number, number>, after: Map<number, number>): { main: number; busiest: number; rest: number } {
  const deltas = [...after].map(([tid, ticks]) => ({ tid, ticks: ticks - (before.get(tid) ?? 0) }));
  const main = deltas.find((d) => d.tid === pid)?.ticks ?? 0;
  const others = deltas.filter((d) => d.tid !== pid).sort((a, b) => b.ticks - a.ticks);
  const busiest = others[0]?.ticks ?? 0;
  const rest = others.slice(1).reduce((sum, d) => sum + d.ticks, 0);
  return { main: main / CLK_TCK, busiest: busiest / CLK_TCK, rest: rest / CLK_TCK };
}

function waitFor(child: ChildProcess, text: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms: ${out}`)), timeoutMs);
    const on = (d: Buffer) => {
      out += d;
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", on);
  });
}

interface RunResult {
  generated: number;
  seconds: number;
  iapd: { received: number; drops: number; mirrored: number; sent: number; egressDrops: number; cpuSeconds: number; threads: { main: number; busiest: number; rest: number } };
  tcpdump: { received: number; drops: number; cpuSeconds: number };
}

interface Namespaces {
  gen: string;
  rx: string;
}

async function run(lab: Lab, ns: Namespaces, generator: string, seconds: number, filter: string): Promise<RunResult> {
  const script = values.bundle ? await bundleReceiver() : ["--import", "tsx", resolve(import.meta.dirname, "bench-dataplane.ts")];
  const iapd = lab.spawn(ns.rx, "taskset", ["-c", "1", process.execPath, ...(values.perf ? ["--perf-basic-prof"] : []), ...(values["trace-gc"] ? ["--trace-gc"] : []), ...script, "--receiver", "--egress", String(values.egress), "--block-kib", String(BLOCK_KIB), "--retire-ms", String(RETIRE_MS), "--filter", filter, "--max-targets", String(values["max-targets"])], {
    stdio: ["pipe", "pipe", "pipe"],
    cwd: resolve(import.meta.dirname, ".."),
  });
  await waitFor(iapd, "ready");
  // Warm-up, iapd alone: its hot code is compiled by V8's optimising tiers before the measured
  // window (a one-time cost that a short run would otherwise charge per packet).
  let warmup = { received: 0, drops: 0, mirrored: 0, sent: 0, egressDrops: 0 };
  if (WARMUP_SECONDS > 0) {
    lab.run(ns.gen, "taskset", "-c", "0", generator, "iapddp-g0", String(WARMUP_SECONDS), String(HOSTS));
    await new Promise((r) => setTimeout(r, 300));
    const line = waitFor(iapd, "}\n");
    iapd.stdin!.write("stats\n");
    const text = (await line).split("\n").filter((l) => l.startsWith("stats ")).at(-1)!;
    const t = JSON.parse(text.slice(6));
    warmup = { received: t.received, drops: t.kernelDrops, mirrored: t.mirrored, sent: t.sent, egressDrops: t.egressDrops };
  }
  const tcpdump = lab.spawn(ns.rx, "taskset", ["-c", "1", "tcpdump", "-n", "-i", "iapddp-r0", "-B", "16384", "-w", "/dev/null"]);
  const tcpdumpExit = waitFor(tcpdump, "dropped by kernel", 60_000);
  await waitFor(tcpdump, "listening on");
  const before = { iapd: cpuTicks(iapd.pid!), tcpdump: cpuTicks(tcpdump.pid!), threads: threadTicks(iapd.pid!) };
  let gcLines = "";
  const onGc = (d: Buffer) => (gcLines += d);
  if (values["trace-gc"]) iapd.stdout!.on("data", onGc);
  const perfData = join(tmpdir(), `iapd-bench-dp-${process.pid}.perf`);
  const perf = values.perf ? spawn("perf", ["record", "-q", "-F", "2999", "-p", String(iapd.pid), "-o", perfData], { stdio: "ignore" }) : undefined;
  if (perf) await new Promise((r) => setTimeout(r, 300));
  const [generated, elapsed] = lab.run(ns.gen, "taskset", "-c", "0", generator, "iapddp-g0", String(seconds), String(HOSTS)).trim().split(" ").map(Number);
  if (perf) {
    perf.kill("SIGINT");
    await new Promise((r) => perf.once("close", r));
    const report = (sort: string) => execFileSync("perf", ["report", "-i", perfData, "--stdio", "--sort", sort, "--percent-limit", "0.4"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const lines = (text: string) => text.split("\n").filter((l) => l.trim() && !l.startsWith("#")).slice(0, 90).join("\n");
    console.log(`  perf: by thread\n${lines(report("pid,comm"))}\n  perf: by dso\n${lines(report("dso"))}\n  perf: by symbol\n${lines(report("dso,sym"))}`);
    rmSync(perfData, { force: true });
  }
  await new Promise((r) => setTimeout(r, 1500)); // both drain their rings (tcpdump's 1 s buffer timeout)
  const after = { iapd: cpuTicks(iapd.pid!), tcpdump: cpuTicks(tcpdump.pid!), threads: threadTicks(iapd.pid!) };
  if (values["trace-gc"]) {
    iapd.stdout!.off("data", onGc);
    const count = (kind: string) => gcLines.split("\n").filter((l) => l.includes(kind)).length;
    const ms = (kind: string) => gcLines.split("\n").filter((l) => l.includes(kind)).reduce((sum, l) => sum + Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0), 0);
    console.log(`  iapd GC in the window: ${count("Scavenge")} scavenges (${ms("Scavenge").toFixed(1)} ms), ${count("Mark-Compact")} mark-compacts (${ms("Mark-Compact").toFixed(1)} ms)`);
    console.log(gcLines.split("\n").filter((l) => l.includes("Mark-Compact")).slice(0, 5).join("\n"));
  }
  process.kill(tcpdump.pid!, "SIGINT");
  const tcpdumpOut = await tcpdumpExit;
  const statsLine = waitFor(iapd, "}\n");
  iapd.stdin!.write("stop\n");
  const total = JSON.parse((await statsLine).trim().split("\n").at(-1)!);
  const number = (re: RegExp) => Number(re.exec(tcpdumpOut)?.[1] ?? NaN);
  return {
    generated,
    seconds: elapsed,
    iapd: {
      received: total.received - warmup.received,
      drops: total.kernelDrops - warmup.drops,
      mirrored: total.mirrored - warmup.mirrored,
      sent: total.sent - warmup.sent,
      egressDrops: total.egressDrops - warmup.egressDrops,
      cpuSeconds: (after.iapd - before.iapd) / CLK_TCK,
      threads: threadShares(iapd.pid!, before.threads, after.threads),
    },
    tcpdump: { received: number(/(\d+) packets received by filter/), drops: number(/(\d+) packets dropped by kernel/), cpuSeconds: (after.tcpdump - before.tcpdump) / CLK_TCK },
  };
}

async function main(): Promise<void> {
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  const dir = mkdtempSync(join(tmpdir(), "iapd-bench-dp-"));
  const lab = new Lab();
  try {
    writeFileSync(join(dir, "gen.c"), GENERATOR_C);
    const generator = join(dir, "gen");
    execFileSync("gcc", ["-O2", "-o", generator, join(dir, "gen.c")]);
    const ns = { gen: lab.namespace("iapddp-gen"), rx: lab.namespace("iapddp-rx"), bmd: lab.namespace("iapddp-bmd") };
    lab.veth([ns.gen, "iapddp-g0"], [ns.rx, "iapddp-r0"]);
    lab.veth([ns.rx, "iapddp-m1", `${SOURCE}/24`], [ns.bmd, "iapddp-md0", `${MEDIATION}/24`]);
    // The copies go out on the wire to the mediation link but to a MAC address nobody has, so that
    // the receiving side drops them at once (no UDP, no ICMP port unreachable on the measured CPU).
    lab.run(ns.rx, "ip", "neigh", "replace", MEDIATION, "lladdr", NEXT_HOP, "dev", "iapddp-m1", "nud", "permanent");
    // --mediation-route via: a host route to the mediation device through itself. For a raw
    // IP_HDRINCL send the kernel reuses its cached route only when the route has a gateway
    // (FLOWI_FLAG_KNOWN_NH, net/ipv4/route.c __mkroute_output); to an on-link destination it
    // allocates a route per packet and frees it through RCU.
    if (values["mediation-route"] === "via") lab.run(ns.rx, "ip", "route", "add", `${MEDIATION}/32`, "via", MEDIATION, "dev", "iapddp-m1", "onlink");
    else if (values["mediation-route"] !== "onlink") throw new Error(`--mediation-route: expected onlink or via, found ${values["mediation-route"]}`);
    const results: (RunResult & { filter: string })[] = [];
    const filters = String(values.filter).split(",").map((f) => (f === "builtin" ? f : resolve(f)));
    for (let i = 0; i < runs * filters.length; i++) {
      const filter = filters[i % filters.length];
      const r = { ...(await run(lab, ns, generator, seconds, filter)), filter };
      results.push(r);
      const perPacket = (cpu: number, packets: number) => ((cpu * 1e9) / packets).toFixed(0);
      console.log(
        `run ${Math.floor(i / filters.length) + 1}${filters.length > 1 ? ` (filter ${filter})` : ""}: generated ${(r.generated / r.seconds / 1e6).toFixed(2)} Mpps for ${r.seconds.toFixed(1)} s\n` +
          `  iapd:    received ${r.iapd.received} (${(r.iapd.received / r.seconds / 1e6).toFixed(2)} Mpps), kernel drops ${r.iapd.drops}, ` +
          `mirrored ${r.iapd.mirrored} (${((100 * r.iapd.mirrored) / r.iapd.received).toFixed(1)}%), sent ${r.iapd.sent}, egress drops ${r.iapd.egressDrops}, ` +
          `CPU ${r.iapd.cpuSeconds.toFixed(2)} s = ${perPacket(r.iapd.cpuSeconds, r.iapd.received)} ns/packet ` +
          `(capture worker ${perPacket(r.iapd.threads.busiest, r.iapd.received)}, main thread ${perPacket(r.iapd.threads.main, r.iapd.received)}, other threads ${perPacket(r.iapd.threads.rest, r.iapd.received)})\n` +
          `  tcpdump: received ${r.tcpdump.received} (${(r.tcpdump.received / r.seconds / 1e6).toFixed(2)} Mpps), kernel drops ${r.tcpdump.drops}, ` +
          `CPU ${r.tcpdump.cpuSeconds.toFixed(2)} s = ${perPacket(r.tcpdump.cpuSeconds, r.tcpdump.received)} ns/packet\n` +
          `  iapd / tcpdump CPU per packet: ${((r.iapd.cpuSeconds / r.iapd.received) / (r.tcpdump.cpuSeconds / r.tcpdump.received)).toFixed(2)}x`,
      );
    }
    if (values.json) writeFileSync(values.json, JSON.stringify({ seconds, hosts: HOSTS, targets: HOSTS / TARGET_EVERY, results }, null, 2));
  } finally {
    lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// No top-level await: --bundle builds this file into a CommonJS bundle, as the single binary is built.
(values.receiver ? receiver() : main()).catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
