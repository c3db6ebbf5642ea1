/**
 * API benchmark: list-sessions latency with 1,000,000 subscriber sessions loaded, pages of 100,
 * 50 concurrent clients (autocannon). The server runs in a child process (Node adapter) so that the
 * load generator does not share its event loop.
 *
 *   node --import tsx scripts/bench-api.ts [--sessions 1000000] [--connections 50] [--seconds 10] [--json FILE]
 *       [--only SCENARIO] [--node-flag=--trace-gc ...] [--server-root OTHER_CHECKOUT]
 *
 * Scenarios, each bounded by --seconds:
 * - walk: every client follows `next` cursors through the listing (the steady state of a paging client);
 * - first-page: every request is a fresh listing (each parks a cursor, exercising expiry and the cap);
 * - filtered: a NAS filter that matches one session in three (scans beyond the page);
 * - page of 1: walk with pages of one session, the fixed cost of a request (not part of the target).
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { createApp } from "../api/app.ts";
import { serve } from "../api/adapter/node/server.ts";
import { hashToken } from "../api/auth/tokens.ts";
import { zeroCounters } from "../api/providers.ts";
import type { AuditSink } from "../runtime/audit/log.ts";
import { SessionStore } from "../runtime/sessions/store.ts";
import { TunnelRegistry } from "../runtime/sessions/tunnels.ts";

const TOKEN = "bench-operator-token";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "1000000" },
    connections: { type: "string", default: "50" },
    seconds: { type: "string", default: "10" },
    json: { type: "string" },
    /** Runs only the scenarios whose name starts with this. */
    only: { type: "string" },
    serve: { type: "boolean", default: false },
    /** Extra Node flags for the server process, e.g. --node-flag=--cpu-prof --node-flag=--trace-gc. */
    "node-flag": { type: "string", multiple: true, default: [] },
    /**
     * Another checkout whose scripts/bench-api.ts --serve runs the server (e.g. a worktree of an
     * older commit, to compare with the same client on the same machine).
     */
    "server-root": { type: "string" },
  },
});

const PAGE_END = /"next":(?:null|"([A-Za-z0-9_-]{22})")\}$/;
/** 200 answers that do not end like a page (counted with non-2xx). */
let badPages = 0;

if (values.serve) await server(Number(values.sessions));
else await bench();

/** Child mode: load the sessions, serve, print the port, wait to be killed. */
async function server(count: number) {
  const store = new SessionStore();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    store.upsertSession(
      {
        nas: `192.0.2.${1 + (i % 3)}`,
        acctSessionId: `s${i}`,
        userName: `user${i}`,
        framedIpAddress: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
        callingStationId: `02:00:${((i >>> 16) & 255).toString(16).padStart(2, "0")}:${((i >>> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}:00`,
        nasPortId: `eth0.${i % 4000}`,
      },
      0,
    );
  }
  const loadMs = performance.now() - started;
  const audit: AuditSink = {
    record: () => {
      throw new Error("the benchmark makes no LI action");
    },
  };
  const app = createApp({
    store,
    tunnels: new TunnelRegistry(),
    config: { tokens: [{ name: "bench", role: "operator", sha256: hashToken(TOKEN) }] },
    audit,
    clock: Date.now,
    filters: { list: () => [] },
    counters: zeroCounters,
  });
  const s = await serve(app, { address: "127.0.0.1", port: 0 });
  // Exit at once (open keep-alive connections must not hold the process); --cpu-prof still writes.
  process.on("SIGTERM", () => process.exit(0));
  console.log(JSON.stringify({ port: s.port, loadMs: Math.round(loadMs), heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) }));
}

interface Figures {
  scenario: string;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Non-2xx answers, plus 200s that do not end like a page. */
  non2xx: number;
  errors: number;
  /** Server process CPU time (user + system) per request: less sensitive to other load than latency. */
  serverCpuMsPerRequest: number;
}

/** CPU time of a process in ms from /proc (Linux): utime + stime, in clock ticks of 10 ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function bench() {
  const count = Number(values.sessions);
  const script = values["server-root"] ? join(resolve(values["server-root"]), "scripts", "bench-api.ts") : fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...values["node-flag"], "--import", "tsx", script, "--serve", "--sessions", String(count)], {
    stdio: ["ignore", "pipe", "inherit"],
    cwd: dirname(dirname(script)),
  });
  try {
    const info = await new Promise<{ port: number; loadMs: number; heapMiB: number }>((resolve, reject) => {
      // The first line starting with {"port" is the server's; anything else (--trace-gc) goes to stderr.
      createInterface({ input: child.stdout! }).on("line", (l) => (l.startsWith('{"port"') ? resolve(JSON.parse(l)) : process.stderr.write(`server: ${l}\n`)));
      child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    });
    if (values["server-root"]) console.log(`server: ${script}`);
    console.log(`${count.toLocaleString("en-US")} sessions loaded in ${info.loadMs} ms (server heap ${info.heapMiB} MiB); ${values.connections} connections, ${values.seconds} s per scenario`);
    const loadBefore = loadavg()[0];
    const base = `http://127.0.0.1:${info.port}`;
    // Warm-up (not reported): lets the JIT settle before the first measured scenario.
    await autocannon({ url: `${base}/v1/sessions?limit=100`, connections: 10, duration: 2, headers: { authorization: `Bearer ${TOKEN}` } });
    const results: Figures[] = [];
    for (const [scenario, first, follow] of [
      ["walk", "/v1/sessions?limit=100", true],
      ["first-page", "/v1/sessions?limit=100", false],
      ["filtered (nas)", "/v1/sessions?limit=100&nas=192.0.2.2", true],
      // Not the target's scenario: a page of one session shows the fixed cost of a request (HTTP, routing, auth).
      ["page of 1", "/v1/sessions?limit=1", true],
    ] as const) {
      if (values.only && !scenario.startsWith(values.only)) continue;
      badPages = 0;
      const cpuBefore = cpuMs(child.pid!);
      const r = await autocannon({
        url: base,
        connections: Number(values.connections),
        duration: Number(values.seconds),
        headers: { authorization: `Bearer ${TOKEN}` },
        requests: [
          {
            method: "GET",
            setupRequest: (req, context) => {
              const next = (context as { next?: string }).next;
              return { ...req, path: follow && next ? `${first}&cursor=${next}` : first };
            },
            // The cursor is read from the end of the page ('"next":"<22 characters>"}' or '"next":null}')
            // rather than by JSON.parse of ~28 kB per response: the load generator shares the 2 CPUs
            // with the server, and the client's parsing is not what is measured. Every page is still
            // checked to end like one.
            onResponse: (status, body, context) => {
              const m = status === 200 ? PAGE_END.exec(body.slice(-40)) : null;
              if (status === 200 && !m) badPages++;
              (context as { next?: string | null }).next = m?.[1] ?? null;
            },
          },
        ],
      });
      const f: Figures = {
        scenario,
        requests: r.requests.total,
        rps: Math.round(r.requests.average),
        p50: r.latency.p50,
        p90: r.latency.p90,
        p99: r.latency.p99,
        max: r.latency.max,
        non2xx: r.non2xx + badPages,
        errors: r.errors + r.timeouts,
        serverCpuMsPerRequest: Math.round(((cpuMs(child.pid!) - cpuBefore) / r.requests.total) * 1000) / 1000,
      };
      results.push(f);
      console.log(`${scenario.padEnd(16)} ${String(f.rps).padStart(6)} req/s  p50 ${f.p50} ms  p90 ${f.p90} ms  p99 ${f.p99} ms  max ${f.max} ms  server CPU ${f.serverCpuMsPerRequest} ms/req  non-2xx ${f.non2xx}  errors ${f.errors}`);
    }
    // On a shared machine the latencies depend on what else runs: report the load around the run.
    const load = { before: Math.round(loadBefore * 100) / 100, after: Math.round(loadavg()[0] * 100) / 100 };
    console.log(`1-minute load average: ${load.before} before, ${load.after} after (${availableParallelism()} CPUs)`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify({ sessions: count, connections: Number(values.connections), seconds: Number(values.seconds), ...info, load, results }, null, 2)}\n`);
  } finally {
    child.kill("SIGTERM");
  }
}
