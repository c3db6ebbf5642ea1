/**
 * iapd on Deno 2 (the npm package `deno`): `iapd run` from the TypeScript sources and from the
 * bundle dist/iapd.cjs, with the permission flags docs/deployment.md gives instead of -A, passes the
 * same smoke test as the binary; replay from the bundle matches node's byte for byte; and every uvu
 * test file but the few about Node itself passes under Deno (scripts/test-deno.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { NOT_ON_DENO, runOnDeno, testFiles, verdict } from "../../scripts/test-deno.ts";
import { buildBinary, BUNDLE, DENO, DENO_RUN_FLAGS, ROOT, smoke, smokeConfig, startDaemon, toolPath } from "./daemon.ts";

const daemon = suite("deploy: iapd run on Deno");
let path = "";

daemon.before(async () => {
  await buildBinary();
  path = toolPath("radclient");
});

daemon.after(() => rmSync(path, { recursive: true, force: true }));

const env = () => ({ PATH: path, HOME: process.env.HOME ?? "/root", NO_COLOR: "1" });

for (const [name, entry] of [
  ["the TypeScript sources", join(ROOT, "runtime/cli/main.ts")],
  ["the bundle", BUNDLE],
] as const) {
  daemon(`${name}: smoke test through Deno.serve, SIGTERM exits 0`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "iapd-deno-"));
    try {
      writeFileSync(join(dir, "iapd.yaml"), smokeConfig("deno-secret"));
      const running = await startDaemon(DENO, ["run", ...DENO_RUN_FLAGS, entry, "run", "--config", "iapd.yaml"], dir, env());
      try {
        assert.match(running.output(), /ready in \d+ ms \(Deno 2\.\d+\.\d+\)/);
        await smoke(running, path, "deno-secret");
      } finally {
        assert.is(await running.stop(), 0, running.output());
      }
      assert.match(running.output(), /iapd: stopped\n?$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

daemon("the bundle's replay is byte-identical to node's", () => {
  const dir = mkdtempSync(join(tmpdir(), "iapd-deno-"));
  try {
    const args = (out: string) => ["replay", "--config", join(ROOT, "fixtures/configs/demo.yaml"), "--in", join(ROOT, "fixtures/captures/demo.pcap"), "--out", out];
    const r = spawnSync(DENO, ["run", ...DENO_RUN_FLAGS, BUNDLE, ...args(join(dir, "var/deno.pcap"))], { cwd: dir, env: env(), encoding: "utf8" });
    assert.is(r.status, 0, r.stderr);
    execFileSync(process.execPath, ["bin/iapd.js", ...args(join(dir, "node.pcap"))], { cwd: ROOT, stdio: "ignore" });
    assert.ok(readFileSync(join(dir, "var/deno.pcap")).equals(readFileSync(join(dir, "node.pcap"))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

daemon.run();

/**
 * Every uvu test file under Deno, one `deno run -A scripts/test.ts FILE` each, bounded in time
 * (scripts/test-deno.ts: a file that overruns is killed with what it started, its namespaces
 * deleted), except the few about Node itself, listed with the reason in NOT_ON_DENO.
 */
const units = suite("deploy: every test file on Deno");

units("the files not run on Deno are few, exist, and each says why", () => {
  const all = testFiles();
  const skipped = Object.entries(NOT_ON_DENO);
  assert.ok(skipped.length <= 3, `${skipped.length} files not run on Deno`);
  for (const [file, why] of skipped) {
    assert.ok(all.includes(file), `${file} (NOT_ON_DENO) is not a test file`);
    assert.ok(why.length > 20, `${file}: no reason given`);
    console.log(`  not on Deno: ${file}: ${why}`);
  }
  assert.ok(all.length - skipped.length >= 50, `only ${all.length - skipped.length} files run on Deno`);
});

for (const file of testFiles().filter((f) => !NOT_ON_DENO[f])) {
  units(`deno run -A scripts/test.ts ${file}`, async () => {
    const r = await runOnDeno(file);
    assert.is(verdict(r), "ok", `${file} on Deno (${r.passed} passed, ${r.failed} failed, ${(r.ms / 1000).toFixed(1)} s):\n${r.output.slice(-6000)}`);
  });
}

units.run();
