/**
 * One group commit of the journal as the thread pool sees it, side by side (docs/benchmarks.md,
 * RADIUS control plane): a 2 KiB append then fdatasync, 3,000 times in a row on one file in the
 * state directory's file system, with the append through libuv's thread pool (fs.write) or on the
 * main thread (fs.writeSync, what runtime/state/journal.ts and the audit log do); fdatasync in the
 * thread pool either way. Reports process CPU (all threads) and wall time per commit.
 *
 *   taskset -c 1 node scripts/bench/journal-commit.mjs [DIRECTORY]   (default: the OS temp directory)
 */
import { fdatasync, mkdtempSync, openSync, closeSync, rmSync, write, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), "iapd-journal-commit-"));
const record = Buffer.alloc(2048, 0x61);
const COMMITS = 3000;

async function run(mode) {
  const path = join(dir, mode);
  const fd = openSync(path, "w");
  const cpu = process.cpuUsage();
  const wall = performance.now();
  let done = 0;
  await new Promise((finished) => {
    const next = (e) => {
      if (e) throw e;
      if (++done < COMMITS) commit();
      else finished();
    };
    const commit =
      mode === "thread pool"
        ? () => write(fd, record, 0, record.length, null, (e) => (e ? next(e) : fdatasync(fd, next)))
        : () => {
            writeSync(fd, record);
            fdatasync(fd, next);
          };
    commit();
  });
  const used = process.cpuUsage(cpu);
  const elapsed = performance.now() - wall;
  closeSync(fd);
  rmSync(path);
  return `${mode}: CPU ${((used.user + used.system) / COMMITS).toFixed(1)} µs (user ${(used.user / COMMITS).toFixed(1)}, system ${(used.system / COMMITS).toFixed(1)}), wall ${((elapsed * 1000) / COMMITS).toFixed(0)} µs per commit`;
}

try {
  for (let round = 1; round <= 3; round++) console.log(`round ${round}: ${await run("thread pool")} | ${await run("main thread")}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
