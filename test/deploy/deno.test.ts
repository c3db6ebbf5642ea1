/**
 * iapd on Deno 2 (the npm package `deno`): `iapd run` from the TypeScript sources and from the
 * bundle dist/iapd.cjs, with the permission flags docs/deployment.md gives instead of -A, passes the
 * same smoke test as the binary; replay from the bundle matches node's byte for byte; and the uvu
 * unit tests of the filter, configuration, RADIUS codec, sessions, API and state run under Deno.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
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
 * Unit test files run by scripts/test.ts under Deno, by path substring. Left out: the slower files
 * that spawn peers or the daemon (covered on Deno by the smoke tests above, api/deno.test.ts and
 * dataplane/deno.test.ts). Of those that do, replay (the progress bar on a pty from util-linux
 * `script`), the RADIUS upstream client, FreeRADIUS interoperability and the crash test (50 SIGKILLs
 * of `iapd run`, about 35 s) run here too.
 */
const UNIT_FILES = [
  "filter/wasm",
  "filter/oracle",
  "config/",
  "radius/packet",
  "radius/message",
  "radius/crypto",
  "radius/malformed",
  "sessions/",
  "net/",
  "api/api.test",
  "api/auth",
  "api/views",
  "api/providers",
  "state/frame",
  "state/config",
  "state/recovery",
  "state/fuzz",
  "state/api",
  "replay/replay.test",
  "radius/upstream",
  "radius/freeradius",
  "state/crash",
];

const units = suite("deploy: unit tests on Deno");

for (const files of UNIT_FILES) {
  units(`deno run -A scripts/test.ts ${files}`, () => {
    const r = spawnSync(DENO, ["run", "-A", "scripts/test.ts", files], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, encoding: "utf8", timeout: 180_000 });
    const summary = /^tests: (\d+) passed, (\d+) failed$/m.exec(r.stdout);
    assert.ok(summary, `no summary from Deno:\n${r.stdout}\n${r.stderr}`);
    assert.is(Number(summary[2]), 0, r.stdout);
    assert.ok(Number(summary[1]) > 0, r.stdout);
  });
}

units.run();
