/**
 * One benchmark script from two checkouts, run at the same time on the same CPU, for a before/after
 * on a noisy shared machine (docs/benchmarks.md, RADIUS control plane, fifth session). Both
 * processes share the core and whatever else the host does to it, so their CPU figures move
 * together; run one after the other, the host's noise was larger than the changes measured.
 *
 *   node --import tsx scripts/bench/side-by-side.ts --a /tmp/before --b . [--rounds 3] [--cpu 1] -- scripts/bench/radius-inprocess.ts --requests 40000
 *
 * `--a` and `--b` are checkouts (e.g. `git worktree add /tmp/before <commit>`, with node_modules
 * and build/ copied or linked). Every output line with a figure in µs is a metric, named by the
 * text before its first number; the medians over the rounds and their ratio b/a are printed.
 * Each round is bounded by a time limit.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    rounds: { type: "string", default: "3" },
    cpu: { type: "string", default: "1" },
    "timeout-seconds": { type: "string", default: "600" },
  },
  allowPositionals: true,
});
if (!values.a || !values.b || positionals.length === 0) {
  console.error("usage: side-by-side.ts --a CHECKOUT --b CHECKOUT [--rounds N] [--cpu N] -- SCRIPT [ARGS...]");
  process.exit(2);
}
const ROUNDS = Number(values.rounds);
const TIMEOUT_MS = Number(values["timeout-seconds"]) * 1000;

/** Runs the script in `checkout`, pinned; resolves with its standard output. */
function run(checkout: string): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn("taskset", ["-c", values.cpu!, process.execPath, "--import", "tsx", ...positionals], { cwd: resolve(checkout), stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) done(out);
      else fail(new Error(`${checkout}: exited with ${code}`));
    });
  });
}

/** Metric name -> value, from every line that has a figure in µs. */
function metrics(out: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of out.split("\n")) {
    const m = /^(.*?)(\d+(?:\.\d+)?)\s*µs/.exec(line);
    if (m) found.set(m[1].trim() || line.trim(), Number(m[2]));
  }
  return found;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const seen: { a: Map<string, number[]>; b: Map<string, number[]> } = { a: new Map(), b: new Map() };
for (let round = 1; round <= ROUNDS; round++) {
  const [a, b] = await Promise.all([run(values.a), run(values.b)]);
  const line: string[] = [];
  for (const [side, out] of [["a", a], ["b", b]] as const) {
    for (const [name, value] of metrics(out)) {
      if (!seen[side].has(name)) seen[side].set(name, []);
      seen[side].get(name)!.push(value);
    }
    line.push(`${side}: ${[...metrics(out).values()].join(" ")}`);
  }
  console.log(`round ${round}  ${line.join("  |  ")}`);
}
console.log("\n| metric | a (median) | b (median) | b / a |\n|---|---:|---:|---:|");
for (const [name, as] of seen.a) {
  const bs = seen.b.get(name);
  if (!bs) continue;
  console.log(`| ${name} | ${median(as)} | ${median(bs)} | ${(median(bs) / median(as)).toFixed(2)} |`);
}
