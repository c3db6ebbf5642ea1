/**
 * The filter kit end to end: `iapd filter new` makes a project that AssemblyScript builds, the module
 * passes `iapd filter test` identical to the built-in filter on every fixture capture (the template
 * starts as the built-in filter), and `iapd filter inspect` names it. npm install is replaced by a
 * link to iapd's own node_modules (same assemblyscript version, no network in tests).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const IAPD = resolve("bin/iapd.js");
const dir = mkdtempSync(join(tmpdir(), "iapd-kit-"));

function run(cwd: string, command: string, ...args: string[]) {
  return spawnSync(command, args, { cwd, encoding: "utf8" });
}

test("iapd filter new, build with asc, iapd filter test: identical to the built-in filter on every fixture", () => {
  const created = run(dir, process.execPath, IAPD, "filter", "new", "acme-mirror");
  assert.is(created.status, 0, created.stderr);
  const project = join(dir, "acme-mirror");
  assert.ok(readdirSync(join(project, "assembly/iapd")).includes("targets.ts"), "ABI helpers copied");
  symlinkSync(resolve("node_modules"), join(project, "node_modules"));
  const built = run(project, "npx", "asc", "assembly/index.ts", "--target", "release");
  assert.is(built.status, 0, built.stderr);

  const inspected = run(project, process.execPath, IAPD, "filter", "inspect", "build/acme-mirror.wasm");
  assert.is(inspected.status, 0, inspected.stderr);
  assert.match(inspected.stdout, /^name {5}acme-mirror$/m);
  assert.match(inspected.stdout, /^ABI {6}1$/m);
  assert.match(inspected.stdout, /^sha256 {3}[0-9a-f]{64}$/m);

  const tested = run(project, process.execPath, IAPD, "filter", "test", "build/acme-mirror.wasm");
  assert.is(tested.status, 0, tested.stderr);
  assert.match(tested.stdout, /acme-mirror 0\.1\.0, ABI 1: self-test passed/);
  assert.match(tested.stdout, /^  demo\.pcap: identical \(\d+ packets\)$/m);
  assert.match(tested.stdout, /identical on all \d+ captures/);
});

test("iapd filter test: a module that is not a filter is rejected with its reason, exit 1", () => {
  const file = join(dir, "not-a-filter.wasm");
  writeFileSync(file, "definitely not wasm");
  const r = run(dir, process.execPath, IAPD, "filter", "test", file);
  assert.is(r.status, 1);
  assert.match(r.stderr, /REJECTED \(not-wasm\): not a WebAssembly module/);
});

test("iapd filter new: bad names and existing folders are refused", () => {
  assert.is(run(dir, process.execPath, IAPD, "filter", "new", "Bad Name").status, 2);
  assert.match(run(dir, process.execPath, IAPD, "filter", "new", "acme-mirror").stderr, /acme-mirror already exists/);
});

test.run();
