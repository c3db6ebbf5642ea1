/**
 * Runs every uvu test file under test/ in one process (the way uvu's own CLI does, but with the tsx
 * loader already registered) and ends with the line "tests: N passed, N failed" that CI reads.
 *   node --import tsx scripts/test.ts [substring]   runs only the files whose path contains it
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

// Every temporary file of the run (the tests' and the processes' they start, through os.tmpdir()
// and TMPDIR) goes below one directory, removed at the end, so that a run leaves nothing in /tmp.
// Mode 1777 like /tmp: a test drops some processes to another user.
const scratch = mkdtempSync(join(tmpdir(), "iapd-test-"));
chmodSync(scratch, 0o1777);
process.env.TMPDIR = scratch;

const dir = resolve(import.meta.dirname, "..", "test");
const only = process.argv[2];
const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".test.ts"))
  .filter((f) => !only || f.includes(only))
  .sort();

const g = globalThis as unknown as { UVU_DEFER: number; UVU_INDEX: number; UVU_QUEUE: unknown[][] };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];
const { exec } = (await import("uvu")) as unknown as { exec: (bail?: boolean) => Promise<void> };
for (const [i, f] of files.entries()) {
  g.UVU_INDEX = i;
  g.UVU_QUEUE.push([f]);
  await import(pathToFileURL(join(dir, f)).href);
}

// uvu prints "Total: N / Passed: N" with colours; keep a tail of stdout to turn it into one line.
let tail = "";
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  tail = (tail + chunk.toString()).slice(-2000);
  return write(chunk, ...rest);
}) as typeof process.stdout.write;
await exec(false);
process.stdout.write = write;
const plain = tail.replace(/\x1b\[[0-9;]*m/g, "");
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
if (files.length === 0 || !Number.isFinite(total)) {
  console.log("tests: 0 passed, 1 failed (no test ran)");
  process.exitCode = 1;
} else {
  console.log(`tests: ${passed} passed, ${total - passed} failed`);
}
rmSync(scratch, { recursive: true, force: true });
