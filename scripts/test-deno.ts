/**
 * Runs the uvu test files under Deno 2 (the npm package `deno`: node_modules/deno/deno), one
 * `deno run -A scripts/test.ts FILE` per file, each in a process group of its own with a time
 * limit: a file that overruns it is killed with everything it started, and the network namespaces
 * it made (scripts/netns/netns.ts names them after the Deno process's PID) are deleted. Ends with
 * the line "tests: N passed, N failed" like scripts/test.ts. test/deploy/deno.test.ts runs the same
 * files through runOnDeno() as part of the Node test run (CI).
 *
 *   node --import tsx scripts/test-deno.ts [substring] [--timeout SECONDS]
 *
 * `-A`: the test files spawn peers, create namespaces, use FFI and read /proc; the daemon's own
 * flags (what `iapd run` needs) are in docs/deployment.md and tested by test/deploy/deno.test.ts.
 */
import { execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const DENO = join(ROOT, "node_modules/deno/deno");
/** Per file; the slowest (state/crash.test.ts, filter/lifecycle-live.test.ts) take 30-40 s on a loaded 2-CPU machine. */
export const FILE_TIMEOUT_MS = 150_000;

/**
 * Test files not run on Deno, each with why: they are about Node itself, not about iapd on a runtime.
 */
export const NOT_ON_DENO: Record<string, string> = {
  "deploy/binary.test.ts": "tests the Node single-executable binary (built with node --experimental-sea-config and postject from the node binary)",
  "deploy/service.test.ts": "runs that Node single-executable binary under the systemd unit (setpriv, systemd-analyze)",
  "deploy/deno.test.ts": "is the Node side of the Deno tests: it starts Deno (iapd run, replay, and this runner for every other file)",
};

/** Test files under test/, relative to it, sorted (what scripts/test.ts runs). */
export function testFiles(): string[] {
  return readdirSync(join(ROOT, "test"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".test.ts"))
    .sort();
}

export interface DenoFileResult {
  file: string;
  passed: number;
  failed: number;
  /** No summary line: the file crashed, or overran its time (timedOut). */
  summary: boolean;
  timedOut: boolean;
  exitCode: number | null;
  ms: number;
  output: string;
}

/** Deletes the network namespaces a killed test process left (named `iapddp-...-<pid in base 36>`). */
function deleteNamespacesOf(pid: number): string[] {
  const suffix = `-${pid.toString(36)}`;
  let names: string[] = [];
  try {
    names = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.split(" ")[0])
      .filter((n) => n.startsWith("iapddp") && n.endsWith(suffix));
  } catch {
    return [];
  }
  for (const name of names) {
    try {
      execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
    } catch {
      // gone already
    }
  }
  return names;
}

/** `deno run -A scripts/test.ts FILE` (FILE relative to test/), bounded by `timeoutMs`. */
export function runOnDeno(file: string, timeoutMs = FILE_TIMEOUT_MS): Promise<DenoFileResult> {
  const started = performance.now();
  const child = spawn(DENO, ["run", "-A", "scripts/test.ts", file], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, "SIGKILL"); // the group: Deno and every peer it started
    } catch {
      // exited meanwhile
    }
  }, timeoutMs);
  return new Promise((done) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      if (timedOut) {
        const left = deleteNamespacesOf(child.pid!);
        output += `\n(killed after ${timeoutMs / 1000} s${left.length ? `; deleted namespaces ${left.join(", ")}` : ""})\n`;
      }
      const summary = /^tests: (\d+) passed, (\d+) failed$/m.exec(output);
      done({
        file,
        passed: Number(summary?.[1] ?? 0),
        failed: Number(summary?.[2] ?? 0),
        summary: !!summary,
        timedOut,
        exitCode: code,
        ms: performance.now() - started,
        output,
      });
    });
  });
}

/** What a file's run amounts to: passed only with a summary, no failure and at least one test. */
export function verdict(r: DenoFileResult): "ok" | "FAIL" | "TIMEOUT" | "CRASH" {
  if (r.timedOut) return "TIMEOUT";
  if (!r.summary) return "CRASH";
  return r.failed === 0 && r.passed > 0 && r.exitCode === 0 ? "ok" : "FAIL";
}

if (process.argv[1] && import.meta.filename === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const t = args.indexOf("--timeout");
  const timeoutMs = t >= 0 ? Number(args.splice(t, 2)[1]) * 1000 : FILE_TIMEOUT_MS;
  const only = args[0];
  const files = testFiles().filter((f) => !only || f.includes(only));
  let passed = 0;
  let failed = 0;
  const started = performance.now();
  for (const file of files) {
    if (NOT_ON_DENO[file]) {
      console.log(`skip     ${file}: ${NOT_ON_DENO[file]}`);
      continue;
    }
    const r = await runOnDeno(file, timeoutMs);
    const v = verdict(r);
    passed += r.passed;
    failed += r.failed + (v === "ok" || v === "FAIL" ? 0 : 1);
    console.log(`${v.padEnd(8)} ${file}: ${r.passed} passed, ${r.failed} failed, ${(r.ms / 1000).toFixed(1)} s`);
    if (v !== "ok") console.log(r.output.replace(/^/gm, "    "));
  }
  console.log(`deno ${execFileSync(DENO, ["--version"], { encoding: "utf8" }).split("\n")[0]}; ${files.length} files in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(`tests: ${passed} passed, ${failed} failed`);
  if (failed > 0 || files.length === 0) process.exitCode = 1;
}
