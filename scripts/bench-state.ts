/**
 * Durable state benchmark (docs/benchmarks.md, "Durable state"):
 * 1. acknowledged changes per second: Interim-Update-style session updates, each followed by
 *    `await state.commit()` (write + fdatasync, group commit), with 1 and with N concurrent writers;
 * 2. recovery time: a state of `--sessions` subscriber sessions (and `--mirrors` mirror sessions)
 *    in a snapshot plus `--journal` journal records after it, recovered by a fresh process as
 *    `iapd run` does at start (DurableState.open).
 *
 * 3. time to ready through the real launchers: `iapd run` (bin/iapd.js, and a bundle of the
 *    sources as the single binary runs them) on that state directory, from spawn to its "ready"
 *    line, with node's defaults and with NODE_OPTIONS=--max-semi-space-size=64, side by side.
 *
 *   node --max-old-space-size=8192 --import tsx scripts/bench-state.ts [--seconds 3] [--writers 1,16,64,256]
 *        [--sessions 1000000] [--mirrors 20000] [--journal 100000] [--dir DIR] [--runs 3]
 *   node --import tsx scripts/bench-state.ts --recover DIR    one in-process recovery of DIR
 *   node --import tsx scripts/bench-state.ts --ready DIR [--root CHECKOUT]
 *        only part 3, on DIR (a directory part 2 built), with the launchers of CHECKOUT (default this
 *        one; another checkout, e.g. a `git worktree` of an older commit, for a before/after)
 *   node --import tsx scripts/bench-state.ts --rewrite-snapshot DIR
 *        rewrites DIR's newest snapshot in the current format, same generation and content (an
 *        older iapd's directory compared with this one on the same state)
 */
import { spawn, spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { sessionIdFromAcctSessionId } from "../runtime/sessions/handle.ts";
import { readFrames } from "../runtime/state/frame.ts";
import { decodeSnapshot, SNAPSHOT_FORMAT, writeSnapshot } from "../runtime/state/snapshot.ts";
import { DurableState } from "../runtime/state/state.ts";

const { values: o } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    writers: { type: "string", default: "1,16,64,256" },
    sessions: { type: "string", default: "1000000" },
    mirrors: { type: "string", default: "20000" },
    journal: { type: "string", default: "100000" },
    dir: { type: "string" },
    recover: { type: "string" },
    ready: { type: "string" },
    "rewrite-snapshot": { type: "string" },
    root: { type: "string" },
    runs: { type: "string", default: "3" },
  },
});
const STORE = { maxMirrors: 1_000_000, sessionIdFor: sessionIdFromAcctSessionId };
const ip = (n: number) => `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;
const attrs = (n: number) => ({ nas: "192.0.2.1", acctSessionId: `s${n}`, userName: `user${n}`, framedIpAddress: ip(n), callingStationId: `cs${n}`, nasPortId: `port ${n % 4096}` });
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

if (o.recover) {
  // The child: recover as iapd run does, and report.
  // Wall time, and CPU time (user + system, this process): on a shared VM the wall time also counts
  // other tenants' load, the CPU time does not.
  const started = performance.now();
  const cpu = process.cpuUsage();
  const state = await DurableState.open({ directory: o.recover, snapshotEveryRecords: Number.MAX_SAFE_INTEGER, store: STORE });
  const ms = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  const c = state.recovery.counts;
  // How fast this machine is at what recovery mostly does: a Map insert of a fresh string per key.
  const keys = Array.from({ length: 1_000_000 }, (_, i) => `192.0.2.1|s${i}`);
  const calibration = performance.now();
  const map = new Map<string, string>();
  for (const k of keys) map.set(k, k);
  const mapMs = Math.round(performance.now() - calibration);
  console.log(JSON.stringify({ mapMs, wallMs: Math.round(ms), cpuMs: Math.round((user + system) / 1000), replayed: state.recovery.replayed, sessions: c.sessions, mirrors: c.mirrors, targets: c.targets, heap: mb(process.memoryUsage().heapUsed) }));
  process.exit(0);
}

if (o["rewrite-snapshot"]) {
  const directory = o["rewrite-snapshot"];
  const name = readdirSync(directory).filter((n) => /^snapshot-\d+\.snap$/.test(n)).sort().at(-1)!;
  const content = decodeSnapshot(readFrames(readFileSync(join(directory, name))).records);
  await writeSnapshot(join(directory, name), { ...content, header: { ...content.header, format: SNAPSHOT_FORMAT } });
  console.log(`${name}: rewritten in format ${SNAPSHOT_FORMAT}, ${mb(statSync(join(directory, name)).size)}`);
  process.exit(0);
}

if (o.ready) {
  await timeToReady(o.ready);
  process.exit(0);
}

const base = o.dir ?? mkdtempSync(join(tmpdir(), "iapd-bench-state-"));
console.log(`state directories under ${base}\n`);

// 1. Acknowledged changes per second.
{
  const seconds = Number(o.seconds);
  const population = 10_000;
  console.log(`acknowledged changes/s (session update + await commit; ${population.toLocaleString("en-US")} sessions; ${seconds} s each):`);
  console.log("| writers | changes/s | commit latency p50 | p99 |\n|---:|---:|---:|---:|");
  for (const writers of o.writers.split(",").map(Number)) {
    const directory = join(base, `throughput-${writers}`);
    rmSync(directory, { recursive: true, force: true });
    const state = await DurableState.open({ directory, snapshotEveryRecords: 100_000, store: STORE });
    for (let n = 0; n < population; n++) state.store.upsertSession(attrs(n), Date.now());
    await state.commit();
    const latencies: number[] = [];
    let acked = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (performance.now() < end) {
          const n = Math.floor(Math.random() * population);
          state.store.upsertSession({ ...attrs(n), framedIpAddress: ip(n) }, Date.now());
          const t = performance.now();
          await state.commit();
          latencies.push(performance.now() - t);
          acked++;
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const q = (p: number) => `${latencies[Math.floor(p * (latencies.length - 1))].toFixed(2)} ms`;
    console.log(`| ${writers} | ${Math.round(acked / seconds).toLocaleString("en-US")} | ${q(0.5)} | ${q(0.99)} |`);
    await state.close();
  }
}

// 2. Recovery of a large state: snapshot + journal.
{
  const sessions = Number(o.sessions);
  const mirrors = Number(o.mirrors);
  const records = Number(o.journal);
  const directory = join(base, "recovery");
  rmSync(directory, { recursive: true, force: true });
  console.log(`\nrecovery: ${sessions.toLocaleString("en-US")} sessions, ${mirrors.toLocaleString("en-US")} mirror sessions in a snapshot, then ${records.toLocaleString("en-US")} journal records`);
  let t = performance.now();
  const state = await DurableState.open({ directory, snapshotEveryRecords: Number.MAX_SAFE_INTEGER, store: STORE, log: (l) => console.log(`  ${l}`) });
  const now = Date.now();
  for (let n = 0; n < sessions; n++) state.store.upsertSession(attrs(n), now);
  for (let n = 0; n < mirrors; n++) {
    state.store.startMirror(`192.0.2.1|s${n * Math.floor(sessions / mirrors)}`, { interceptId: n + 1, sessionId: n, mediation: { address: "198.51.100.1", port: 30030 } }, { kind: "coa" }, now);
  }
  await state.commit();
  console.log(`  built in ${Math.round(performance.now() - t)} ms`);
  t = performance.now();
  await state.snapshot();
  // The journal after the snapshot: Interim-Updates, some with a new address, and mirror starts and stops.
  for (let i = 0; i < records; i++) {
    const n = Math.floor(Math.random() * sessions);
    if (i % 10 === 0) {
      const key = `192.0.2.1|s${n}`;
      const [m] = state.store.mirrorsOf(key);
      if (m) state.store.endMirror(m.id, "terminated", now + i);
      else state.store.startMirror(key, { interceptId: 5_000_000 + i, sessionId: i, mediation: { address: "198.51.100.2", port: 30030 } }, { kind: "coa" }, now + i);
    } else state.store.upsertSession({ ...attrs(n), framedIpAddress: i % 3 === 0 ? ip(sessions + i) : ip(n) }, now + i);
  }
  await state.commit();
  for (const name of readdirSync(directory).sort()) console.log(`  ${name}: ${mb(statSync(join(directory, name)).size)}`);
  // Left as after kill -9: no final snapshot. A fresh process recovers it, three times.
  for (let run = 1; run <= Number(o.runs); run++) {
    const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, "--recover", directory], { encoding: "utf8" });
    if (child.status !== 0) throw new Error(child.stderr);
    console.log(`  recovery run ${run}: ${child.stdout.trim()}`);
  }
  await timeToReady(directory);
}

/**
 * 3. `iapd run` on `directory` until it says "ready": wall time from spawn, its own recovery log
 * figure, and its CPU time until then (/proc/PID/stat). Killed with SIGKILL once ready, which
 * leaves the directory as it was (a SIGTERM would write a final snapshot); snapshotEveryRecords is
 * set high so that start-up takes none either. Launchers and V8 options alternate run by run.
 */
async function timeToReady(directory: string): Promise<void> {
  const root = resolve(o.root ?? resolve(import.meta.dirname, ".."));
  const work = mkdtempSync(join(tmpdir(), "iapd-bench-ready-"));
  const config = join(work, "iapd.yaml");
  writeFileSync(
    config,
    [
      "radius:",
      "  clients: [{ address: 127.0.0.1, secret: bench-secret }]",
      '  accounting: { listen: "127.0.0.1:0" }',
      '  dynamicAuthorization: { listen: "127.0.0.1:0" }',
      "  limits: { maxMirrors: 1000000 }",
      'api: { listen: "127.0.0.1:0" }',
      `state: { directory: ${directory}, snapshotEveryRecords: 100000000 }`,
    ].join("\n"),
  );
  // The bundle the single binary is made of (scripts/build-binary.ts), below the checkout so that
  // koffi is found from it (in the checkout itself when node_modules is a symlink: node runs the
  // main script by its real path, and the bundle finds its assets relative to it).
  const parent = lstatSync(join(root, "node_modules")).isSymbolicLink() ? root : join(root, "node_modules", ".cache");
  mkdirSync(parent, { recursive: true });
  const bundleDir = mkdtempSync(join(parent, "iapd-bench-state-"));
  const bundle = join(bundleDir, "iapd.cjs");
  await build({
    entryPoints: [join(root, "runtime/cli/main.ts")],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "error",
    define: { IAPD_BUILD: JSON.stringify({ version: "bench", commit: "bench", root: relative(bundleDir, root), filters: [] }), "import.meta.url": "IAPD_BUNDLE_URL" },
    banner: { js: 'var IAPD_BUNDLE_URL = require("node:url").pathToFileURL(__filename).href;' },
  });
  const launchers = [
    { name: "bin/iapd.js", args: [join(root, "bin/iapd.js")] },
    { name: "bundle", args: [bundle] },
  ];
  const variants = [
    { name: "defaults", env: {} },
    { name: "--max-semi-space-size=64", env: { NODE_OPTIONS: "--max-semi-space-size=64" } },
  ];
  const tick = 100; // USER_HZ
  console.log(`\ntime to ready: iapd run of ${root} on ${directory}, ${o.runs} run(s) each, alternating`);
  console.log("| launcher | V8 options | run | spawn to ready, wall | recovery (its log) | CPU until ready |\n|---|---|---:|---:|---:|---:|");
  const rows: string[] = [];
  for (let run = 1; run <= Number(o.runs); run++) {
    for (const launcher of launchers) {
      for (const variant of variants) {
        const started = performance.now();
        const child = spawn(process.execPath, [...launcher.args, "run", "--config", config], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...variant.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, variant.env.NODE_OPTIONS].filter(Boolean).join(" ") } });
        let log = "";
        const result = await new Promise<{ wall: number; recovery: string; cpu: number }>((done, fail) => {
          child.stderr!.on("data", (d: Buffer) => {
            log += d.toString();
            if (!/ready in \d+ ms/.test(log)) return;
            const wall = performance.now() - started;
            const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ");
            const cpu = ((Number(stat[11]) + Number(stat[12])) / tick) * 1000;
            done({ wall, recovery: /journal record\(s\) in (\d+) ms/.exec(log)?.[1] ?? "?", cpu });
          });
          child.on("exit", (code) => fail(new Error(`iapd run exited (${code}) before ready:\n${log}`)));
        });
        child.removeAllListeners("exit");
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
        rows.push(`| ${launcher.name} | ${variant.name} | ${run} | ${(result.wall / 1000).toFixed(2)} s | ${(Number(result.recovery) / 1000).toFixed(2)} s | ${(result.cpu / 1000).toFixed(2)} s |`);
        console.log(rows.at(-1));
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
  rmSync(bundleDir, { recursive: true, force: true });
}
