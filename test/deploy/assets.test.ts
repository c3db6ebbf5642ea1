/**
 * The single binary's asset directories (runtime/assets/assets.ts): a daemon killed with SIGKILL
 * leaves its `iapd-assets-*` directory behind, and the next one removes it, but only when its owner
 * is provably gone. Owners here are real processes (`sleep`), alive or exited; the binary itself is
 * killed and restarted in test/deploy/binary.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { processIdentity, sweepStale, type ProcessIdentity } from "../../runtime/assets/assets.ts";

test("sweepStale removes the directories of exited or replaced owners and of another boot; it leaves live owners, other PID namespaces, unowned and foreign entries", async () => {
  const root = mkdtempSync(join(tmpdir(), "iapd-assets-test-"));
  const live = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const me = processIdentity(process.pid);
    assert.ok(me, "this process's identity from /proc");
    const alive = processIdentity(live.pid!)!;
    assert.ok(alive, "the live owner's identity");
    // An owner that has exited: its PID names no process now (or, rarely, a later one with another start time).
    const exited = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
    const gone: ProcessIdentity = { ...me!, pid: Number(exited.stdout.trim()), start: "1" };
    const dirs: Record<string, Partial<ProcessIdentity> | undefined> = {
      "iapd-assets-live": alive,
      "iapd-assets-mine": me!,
      "iapd-assets-exited": gone,
      "iapd-assets-pid-reused": { ...alive, start: String(Number(alive.start) + 1) },
      "iapd-assets-other-namespace": { ...gone, pidNamespace: "pid:[1]" },
      "iapd-assets-other-boot": { ...alive, boot: "00000000-0000-0000-0000-000000000000" },
      "iapd-assets-unowned": undefined,
      "something-else": gone,
    };
    for (const [name, owner] of Object.entries(dirs)) {
      mkdirSync(join(root, name), { mode: 0o700 });
      writeFileSync(join(root, name, "koffi.node"), "x");
      if (owner) writeFileSync(join(root, name, "owner"), JSON.stringify(owner));
    }
    // A link named like an asset directory, to a directory with a gone owner: not followed.
    const target = join(root, "target");
    mkdirSync(target);
    writeFileSync(join(target, "owner"), JSON.stringify(gone));
    symlinkSync(target, join(root, "iapd-assets-link"));
    // An owner file that is not JSON: left alone.
    mkdirSync(join(root, "iapd-assets-garbled"));
    writeFileSync(join(root, "iapd-assets-garbled", "owner"), "{");

    const removed = sweepStale(root, me!).map((p) => p.slice(root.length + 1)).sort();
    assert.equal(removed, ["iapd-assets-exited", "iapd-assets-other-boot", "iapd-assets-pid-reused"]);
    assert.equal(readdirSync(root).sort(), ["iapd-assets-garbled", "iapd-assets-link", "iapd-assets-live", "iapd-assets-mine", "iapd-assets-other-namespace", "iapd-assets-unowned", "something-else", "target"]);
    assert.ok(existsSync(join(target, "owner")), "the link's target is untouched");
    assert.equal(sweepStale(join(root, "missing"), me!), [], "a directory that cannot be read: nothing, no throw");
  } finally {
    live.kill();
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
