/**
 * RADIUS control-plane benchmark (docs/benchmarks.md, issue 3): accounting requests per second of
 * iapd and of FreeRADIUS side by side in one run, with the same request stream, each server on one
 * core; CoA round-trip latency and rate of iapd's dynamic authorization server; memory per
 * subscriber session.
 *
 *   node --import tsx scripts/bench-radius.ts [--requests 60000] [--sessions 1000000] [--repeat 2] [--window 128] [--no-floor] [--warmup 20000] [--generator-io dgram|mmsg] [--json FILE]
 *        [--binary dist/iapd]   also the single binary (npm run build:binary), as deployed, beside the checkout's iapd
 *        [--compare DIR]        also another checkout's iapd (a worktree of an earlier commit): before/after in one run
 *
 * - The load generator (scripts/bench/radius-load.ts) is its own process on CPU 0; each server runs
 *   alone on CPU 1 (taskset), started fresh for every run and stopped by its PID.
 * - Accounting: `--requests` split into Start, Interim-Update and Stop for requests/3 subscribers,
 *   window 256. Targets: `iapd run` with its accounting and DAS listeners only, and FreeRADIUS with
 *   three accounting sections (scripts/bench/freeradius.ts: ok, an in-memory session cache, a
 *   detail file). Rounds alternate the order; each ratio compares runs of the same round. Besides
 *   requests/s, each server's CPU time per request (/proc) is reported: a noisy neighbour on a
 *   shared machine lowers the rate, not the CPU time.
 * - The floor (`--no-floor` leaves it out): scripts/bench/udp-echo.ts, a bare node:dgram server on
 *   the same CPU that answers each request with a signed empty Accounting-Response and does nothing
 *   else; what one recvmsg + one sendmsg through libuv cost a Node server here.
 * - Window 128: with 256 outstanding requests a server's default UDP receive buffer (rmem_default,
 *   208 KiB here) overflows as soon as it falls behind, and the lost requests' timeouts, not the
 *   server, then set the rate. Drops are reported (UDP RcvbufErrors, system-wide).
 * - CoA (iapd only: FreeRADIUS is not a dynamic authorization server): CoA-Request start and stop
 *   with the four ERX LI attributes, one at a time for latency, then with the window.
 * - Memory: `--sessions` sessions loaded straight into a SessionStore in a child process with forced
 *   GC; and the RSS of `iapd run` after `--listener-sessions` Accounting-Starts (no duplicate cache).
 *
 * Everything is on loopback, every loop is bounded by a request count and a time limit.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { cpus, tmpdir } from "node:os";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Code } from "../runtime/radius/codes.ts";
import { encodePacket } from "../runtime/radius/message.ts";
import { startFreeRadius, type FreeRadiusAccounting } from "./bench/freeradius.ts";
import type { LoadPhase, LoadPlan, PhaseResult } from "./bench/radius-load.ts";
import type { MemoryResult } from "./bench/radius-memory.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "60000" },
    sessions: { type: "string", default: "1000000" },
    repeat: { type: "string", default: "2" },
    window: { type: "string", default: "128" },
    "coa-sessions": { type: "string", default: "20000" },
    "coa-sequential": { type: "string", default: "2000" },
    "listener-sessions": { type: "string", default: "100000" },
    /** Subscribers whose Start, Interim-Update and Stop every server gets before the measured ones (0: none). */
    warmup: { type: "string", default: "20000" },
    /** The load generator's socket I/O: "dgram" (node:dgram, a send per request) or "mmsg" (recvmmsg/sendmmsg). */
    "generator-io": { type: "string", default: "dgram" },
    freeradius: { type: "string", default: "ok,cache,detail" },
    floor: { type: "boolean", default: true },
    "no-floor": { type: "boolean", default: false },
    json: { type: "string" },
    binary: { type: "string" },
    /** Another checkout (e.g. a `git worktree` of an earlier commit, node_modules linked) as one more target: a before/after in one run. */
    compare: { type: "string" },
  },
});
const SUBSCRIBERS = Math.max(256, Math.floor(Number(values.requests) / 3));
const REPEAT = Number(values.repeat);
const WINDOW = Number(values.window);
const WARMUP = Number(values.warmup);
const GENERATOR_IO = values["generator-io"] as "dgram" | "mmsg";
if (GENERATOR_IO !== "dgram" && GENERATOR_IO !== "mmsg") throw new Error(`--generator-io: expected dgram or mmsg, found ${GENERATOR_IO}`);
const COA_SESSIONS = Number(values["coa-sessions"]);
const COA_SEQUENTIAL = Math.min(Number(values["coa-sequential"]), COA_SESSIONS);
const LISTENER_SESSIONS = Number(values["listener-sessions"]);
const MEMORY_SESSIONS = Number(values.sessions);
const FREERADIUS = values.freeradius.split(",").filter(Boolean) as FreeRadiusAccounting[];
const SECRET = "bench-radius-secret";
/** Per phase; at the slowest rate worth reporting (5,000/s) the default phase takes 10 s. */
const PHASE_SECONDS = 60;
const TIMEOUT_MS = 2000;
const ROOT = new URL("..", import.meta.url).pathname;

const pinned = cpus().length >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const generatorCpu = pinned ? ["taskset", "-c", "0"] : [];
const serverCpu = pinned ? ["taskset", "-c", "1"] : [];
const log = (line: string) => console.error(`bench-radius: ${line}`);
/** PIDs of the servers running now, killed if this script dies before stopping them. */
const running = new Set<number>();
process.on("exit", () => {
  for (const pid of running) process.kill(pid, "SIGKILL");
});

// ---- processes -------------------------------------------------------------------------------

function freePort(): Promise<number> {
  const socket = createSocket("udp4");
  return new Promise((resolve) =>
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    }),
  );
}

/** Peak and current resident set of a process we started, from /proc. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** CPU seconds (user + system, all threads) a process we started has used, from /proc (USER_HZ = 100). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs a child to completion (killed by PID after `limitSeconds`) and returns its last stdout line as JSON. */
function runChild<T>(argv: string[], limitSeconds: number): Promise<T> {
  const [command, ...args] = argv;
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const timer = setTimeout(() => child.pid && process.kill(child.pid, "SIGKILL"), limitSeconds * 1000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${args.join(" ").slice(0, 120)}: exit ${code ?? signal}`));
      resolve(JSON.parse(out.trim().split("\n").at(-1)!) as T);
    });
  });
}

/** UDP datagrams the kernel dropped because a receive buffer was full, all sockets. */
function udpReceiveBufferDrops(): number {
  const [names, counts] = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp:"));
  return Number(counts.split(/\s+/)[names.split(/\s+/).indexOf("RcvbufErrors")]);
}

function generate(phases: LoadPhase[]): Promise<PhaseResult[]> {
  const plan: LoadPlan = { secret: SECRET, phases, timeoutMs: TIMEOUT_MS, phaseSeconds: PHASE_SECONDS, io: GENERATOR_IO };
  return runChild([...generatorCpu, process.execPath, "--import", "tsx", "scripts/bench/radius-load.ts", JSON.stringify(plan)], PHASE_SECONDS * phases.length + 60);
}

interface Server {
  readonly name: string;
  readonly pid: number;
  readonly acctPort: number;
  readonly dasPort?: number;
  stop(): Promise<void>;
}

/** `iapd run --config` with only the accounting and DAS listeners, on the server CPU. */
async function startIapd(radius: Record<string, unknown> = {}, binary?: string, checkout?: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "iapd-bench-radius-"));
  const acctPort = await freePort();
  const dasPort = await freePort();
  const config = {
    // `iapd run` also serves the API and the demo data plane: the API on a port of its own, idle.
    api: { listen: "127.0.0.1:0" },
    radius: {
      clients: [{ address: "127.0.0.1", secret: SECRET, name: "bench" }],
      accounting: { listen: `127.0.0.1:${acctPort}` },
      dynamicAuthorization: { listen: `127.0.0.1:${dasPort}` },
      ...radius,
    },
  };
  // JSON is YAML.
  writeFileSync(join(dir, "iapd.yaml"), JSON.stringify(config));
  // From the checkout (bin/iapd.js: the TypeScript sources through tsx), the single binary (`--binary`) or another checkout (`--compare`).
  const home = checkout ? resolve(checkout) : ROOT;
  const launcher = binary ? [binary] : [process.execPath, join(home, "bin/iapd.js")];
  const [command, ...args] = [...serverCpu, ...launcher, "run", "--config", join(dir, "iapd.yaml")];
  const child: ChildProcess = spawn(command, args, { cwd: home, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, STATE_DIRECTORY: dir } });
  let stderr = "";
  const exited = new Promise<void>((done) => child.on("close", () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`iapd not ready after 20 s:\n${stderr}`)), 20_000);
    child.on("close", (code) => fail(new Error(`iapd exited with ${code}:\n${stderr}`)));
    child.stderr!.on("data", (d) => {
      stderr += d;
      if (/\bready in \d+ ms/.test(stderr)) {
        clearTimeout(timer);
        ready();
      }
    });
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  return { name: binary ? "iapd (binary)" : checkout ? `iapd (${checkout})` : "iapd", pid: child.pid!, acctPort, dasPort, stop };
}

/** Whether a Status-Server to the port gets any answer within 200 ms. */
function statusServerAnswers(port: number): Promise<boolean> {
  const socket = createSocket("udp4");
  const { bytes } = encodePacket({ code: Code.StatusServer, identifier: 1, attributes: [] }, SECRET, { messageAuthenticator: true });
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.close(() => resolve(false)), 200);
    socket.on("message", () => {
      clearTimeout(timer);
      socket.close(() => resolve(true));
    });
    socket.send(bytes, port, "127.0.0.1");
  });
}

/** The floor: scripts/bench/udp-echo.ts, a bare node:dgram server that only signs and sends an empty answer. */
async function startFloor(): Promise<Server> {
  const port = await freePort();
  const [command, ...args] = [...serverCpu, process.execPath, "--import", "tsx", join(ROOT, "scripts/bench/udp-echo.ts"), String(port), SECRET];
  const child: ChildProcess = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((done) => child.on("close", () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM");
    await exited;
  };
  let stderr = "";
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`udp-echo not ready after 20 s:\n${stderr}`)), 20_000);
    child.on("close", (code) => fail(new Error(`udp-echo exited with ${code}:\n${stderr}`)));
    child.stderr!.on("data", (d) => {
      stderr += d;
      if (/ready/.test(stderr)) {
        clearTimeout(timer);
        ready();
      }
    });
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  return { name: "node:dgram floor (udp-echo)", pid: child.pid!, acctPort: port, stop };
}

async function startFreeRadiusTarget(accounting: FreeRadiusAccounting): Promise<Server> {
  const port = await freePort();
  const fr = await startFreeRadius({ secret: SECRET, port, accounting, taskset: serverCpu, ready: () => statusServerAnswers(port) });
  return { name: `FreeRADIUS (${accounting})`, pid: fr.pid, acctPort: port, stop: fr.stop };
}

// ---- scenarios -------------------------------------------------------------------------------

interface AccountingRun {
  readonly target: string;
  readonly round: number;
  readonly phases: PhaseResult[];
  /** All phases: answered / seconds. */
  readonly rate: number;
  readonly timeouts: number;
  readonly peakRss: number;
  /** Server CPU time per answered request, microseconds: what a noisy neighbour does not change. */
  readonly cpuMicros: number;
  /** The same for Start, Interim-Update and Stop apart. */
  readonly phaseCpuMicros: number[];
  /** UDP receive-buffer drops during the run, system-wide. */
  readonly udpDrops: number;
}

function accountingPhases(port: number, from: number, to: number): LoadPhase[] {
  return (["start", "interim", "stop"] as const).map((kind) => ({ name: `accounting ${kind}`, kind, port, from, to, window: WINDOW }));
}

/** Starts a server, hands it to `use`, and stops it whatever happens. */
async function withServer<T>(start: () => Promise<Server>, use: (server: Server) => Promise<T>): Promise<T> {
  // Every server starts on a clean disk: the dirty pages a run leaves (FreeRADIUS's detail file,
  // iapd's journal) are written back now, not during the next server's run, where they would slow
  // its fdatasyncs (one ext4 journal for the whole file system) and be charged to it.
  spawnSync("sync");
  const server = await start();
  running.add(server.pid);
  try {
    return await use(server);
  } finally {
    await server.stop();
    running.delete(server.pid);
  }
}

function accountingRun(start: () => Promise<Server>, round: number): Promise<AccountingRun> {
  return withServer(start, async (server) => {
    // Warm-up: other subscribers' Start, Interim-Update and Stop, not measured. A server runs for
    // months; this keeps V8's compilation of iapd's hot code (on the same CPU, in its CPU time) and
    // the first growth of its tables out of the steady-state figures. --warmup 0: a cold start.
    if (WARMUP > 0) {
      const warm = await generate(accountingPhases(server.acctPort, SUBSCRIBERS, SUBSCRIBERS + WARMUP));
      const missing = warm.reduce((n, p) => n + p.timeouts + p.unsent, 0);
      if (missing > 0) log(`round ${round} ${server.name}: ${missing} warm-up requests unanswered`);
    }
    const dropsBefore = udpReceiveBufferDrops();
    // One generator per phase, so that the server's CPU time is known for each (read between them).
    const phases: PhaseResult[] = [];
    const phaseCpuMicros: number[] = [];
    let cpu = 0;
    for (const phase of accountingPhases(server.acctPort, 0, SUBSCRIBERS)) {
      const before = cpuSecondsOf(server.pid);
      const [result] = await generate([phase]);
      const used = cpuSecondsOf(server.pid) - before;
      cpu += used;
      phases.push(result);
      phaseCpuMicros.push((used * 1e6) / Math.max(1, result.answered));
    }
    const answered = phases.reduce((s, p) => s + p.answered, 0);
    const seconds = phases.reduce((s, p) => s + p.seconds, 0);
    const bad = phases.reduce((s, p) => s + p.verifyFailures, 0);
    if (bad > 0) throw new Error(`${server.name}: ${bad} answers failed verification`);
    const run: AccountingRun = {
      target: server.name,
      round,
      phases,
      rate: answered / seconds,
      timeouts: phases.reduce((s, p) => s + p.timeouts + p.unsent, 0),
      peakRss: memoryOf(server.pid).peak,
      cpuMicros: (cpu * 1e6) / answered,
      phaseCpuMicros,
      udpDrops: udpReceiveBufferDrops() - dropsBefore,
    };
    const generatorCpu = median(phases.map((p) => p.generatorCpuMicros));
    log(
      `round ${round} ${server.name}: ${Math.round(run.rate)} requests/s, ${run.cpuMicros.toFixed(1)} µs CPU/request ` +
        `(Start ${phaseCpuMicros[0].toFixed(1)}, Interim ${phaseCpuMicros[1].toFixed(1)}, Stop ${phaseCpuMicros[2].toFixed(1)}; generator ${generatorCpu.toFixed(1)}), ${run.timeouts} timeouts, ${run.udpDrops} UDP drops`,
    );
    return run;
  });
}

function coaRun(): Promise<PhaseResult[]> {
  return withServer(startIapd, async (server) => {
    const das = server.dasPort!;
    const phases: LoadPhase[] = [
      { name: "accounting start (setup)", kind: "start", port: server.acctPort, from: 0, to: COA_SESSIONS, window: WINDOW },
      { name: "CoA start, one at a time", kind: "coa-start", port: das, from: 0, to: COA_SEQUENTIAL, window: 1, interceptId: 1 },
      { name: "CoA stop, one at a time", kind: "coa-stop", port: das, from: 0, to: COA_SEQUENTIAL, window: 1, interceptId: 1 },
      { name: `CoA start, window ${WINDOW}`, kind: "coa-start", port: das, from: 0, to: COA_SESSIONS, window: WINDOW, interceptId: 2 },
      { name: `CoA stop, window ${WINDOW}`, kind: "coa-stop", port: das, from: 0, to: COA_SESSIONS, window: WINDOW, interceptId: 2 },
    ];
    const results = await generate(phases);
    for (const r of results) log(`${r.name}: ${Math.round(r.rate)}/s, p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms, ${JSON.stringify(r.codes)}`);
    return results;
  });
}

interface ListenerMemory {
  readonly sessions: number;
  readonly answered: number;
  readonly rssIdle: number;
  readonly rssLoaded: number;
  readonly perSession: number;
}

/** RSS of `iapd run` before and after Accounting-Starts for `count` sessions (duplicate cache off, so only sessions remain). */
function listenerMemory(count: number): Promise<ListenerMemory> {
  return withServer(() => startIapd({ duplicateCacheSeconds: 0 }), async (server) => {
    await new Promise((r) => setTimeout(r, 500));
    const idle = memoryOf(server.pid).rss;
    const [start] = await generate([{ name: "accounting start", kind: "start", port: server.acctPort, from: 0, to: count, window: WINDOW }]);
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = memoryOf(server.pid).rss;
    return { sessions: count, answered: start.answered, rssIdle: idle, rssLoaded: loaded, perSession: (loaded - idle) / start.answered };
  });
}

// ---- report ----------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function report(runs: AccountingRun[], coa: PhaseResult[] | undefined, listener: ListenerMemory | undefined, memory: MemoryResult | undefined): string {
  const lines: string[] = [];
  const targets = [...new Set(runs.map((r) => r.target))];
  const rateOf = (target: string, round: number) => runs.find((r) => r.target === target && r.round === round)?.rate;
  const cpuOf = (target: string, round: number) => runs.find((r) => r.target === target && r.round === round)?.cpuMicros;
  lines.push(`Accounting, ${int(SUBSCRIBERS * 3)} requests per run (Start, Interim-Update, Stop for ${int(SUBSCRIBERS)} sessions), window ${WINDOW}, ${REPEAT} round(s), ${WARMUP > 0 ? `after a warm-up of ${int(WARMUP * 3)} requests (other subscribers)` : "no warm-up (cold start)"}, median:`, "");
  lines.push(
    "| server (one core) | requests/s | Start | Interim | Stop | iapd ÷ this (rate) | CPU µs/request | Start | Interim | Stop | this ÷ iapd (CPU) | generator CPU µs/request | timeouts | UDP drops | peak RSS |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const t of targets) {
    const mine = runs.filter((r) => r.target === t);
    const phase = (i: number) => int(median(mine.map((r) => r.phases[i].rate)));
    const ratios = mine.map((r) => rateOf("iapd", r.round)! / r.rate);
    const cpuRatios = mine.map((r) => r.cpuMicros / cpuOf("iapd", r.round)!);
    const sum = (f: (r: AccountingRun) => number) => mine.reduce((s, r) => s + f(r), 0);
    lines.push(
      `| ${t} | ${int(median(mine.map((r) => r.rate)))} | ${phase(0)} | ${phase(1)} | ${phase(2)} | ${median(ratios).toFixed(2)} | ` +
        `${median(mine.map((r) => r.cpuMicros)).toFixed(1)} | ${[0, 1, 2].map((i) => median(mine.map((r) => r.phaseCpuMicros[i])).toFixed(1)).join(" | ")} | ${median(cpuRatios).toFixed(2)} | ${median(mine.flatMap((r) => r.phases.map((p) => p.generatorCpuMicros))).toFixed(1)} | ${sum((r) => r.timeouts)} | ${sum((r) => r.udpDrops)} | ${mib(median(mine.map((r) => r.peakRss)))} |`,
    );
  }
  if (coa) {
    lines.push("", `iapd dynamic authorization, CoA-Request with the four ERX LI attributes (FreeRADIUS is not a DAS: iapd only):`, "");
    lines.push("| phase | requests | CoA-ACK | other answers | timeouts | requests/s | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (const r of coa.slice(1)) {
      const other = r.answered - (r.codes["CoA-ACK"] ?? 0);
      lines.push(`| ${r.name} | ${int(r.requests)} | ${int(r.codes["CoA-ACK"] ?? 0)} | ${other} | ${r.timeouts + r.unsent} | ${int(r.rate)} | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)} |`);
    }
  }
  if (memory || listener) {
    lines.push("", "Memory per subscriber session:", "", "| measurement | sessions | RSS before | RSS after | heap used after | bytes/session (RSS) | bytes/session (heap) |", "|---|---:|---:|---:|---:|---:|---:|");
    if (memory) {
      lines.push(
        `| SessionStore, forced GC | ${int(memory.sessions)} | ${mib(memory.rssBefore)} | ${mib(memory.rssAfter)} | ${mib(memory.heapUsedAfter)} | ${int(memory.rssPerSession)} | ${int(memory.heapPerSession)} |`,
      );
    }
    if (listener) {
      lines.push(`| \`iapd run\`, Accounting-Start over UDP, no forced GC | ${int(listener.answered)} | ${mib(listener.rssIdle)} | ${mib(listener.rssLoaded)} | | ${int(listener.perSession)} | |`);
    }
  }
  return lines.join("\n");
}

// ---- main ------------------------------------------------------------------------------------

const began = Date.now();
const version = spawnSync("freeradius", ["-v"], { encoding: "utf8" }).stdout.split("\n")[0];
log(`${cpus().length} CPUs (${cpus()[0]?.model.trim()}), ${pinned ? "generator on CPU 0, servers on CPU 1" : "NOT pinned (taskset or a second CPU missing)"}; ${version}; node ${process.version}`);

const targets: [string, () => Promise<Server>][] = [["iapd", () => startIapd()], ...FREERADIUS.map((k) => [k, () => startFreeRadiusTarget(k)] as [string, () => Promise<Server>])];
if (values.binary) targets.splice(1, 0, ["iapd (binary)", () => startIapd({}, values.binary)]);
if (values.compare) targets.splice(1, 0, [`iapd (${values.compare})`, () => startIapd({}, undefined, values.compare)]);
if (values.floor && !values["no-floor"]) targets.push(["floor", startFloor]);
const runs: AccountingRun[] = [];
for (let round = 1; round <= REPEAT; round++) {
  const order = round % 2 ? targets : [...targets].reverse();
  for (const [, start] of order) runs.push(await accountingRun(start, round));
}
const coa = COA_SESSIONS > 0 ? await coaRun() : undefined;
const listener = LISTENER_SESSIONS > 0 ? await listenerMemory(LISTENER_SESSIONS) : undefined;
if (listener) log(`iapd run RSS ${mib(listener.rssIdle)} idle, ${mib(listener.rssLoaded)} with ${int(listener.answered)} sessions`);
let memory: MemoryResult | undefined;
if (MEMORY_SESSIONS > 0) {
  memory = await runChild<MemoryResult>([process.execPath, "--expose-gc", "--import", "tsx", "scripts/bench/radius-memory.ts", String(MEMORY_SESSIONS)], 300);
  log(`SessionStore: ${int(memory.sessions)} sessions in ${memory.loadSeconds.toFixed(1)} s, RSS ${mib(memory.rssAfter)}`);
}

const table = report(runs, coa, listener, memory);
console.log(
  `${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), node ${process.version}, ${version}, ` +
    `${pinned ? "load generator on CPU 0, each server alone on CPU 1" : "not pinned"}; ${((Date.now() - began) / 1000).toFixed(0)} s\n`,
);
console.log(table);
if (values.json) writeFileSync(values.json, JSON.stringify({ runs, coa, listener, memory }, null, 2));
