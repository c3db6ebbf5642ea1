/**
 * deploy/iapd.service: systemd accepts it, its hardening scores well, and the binary runs the way
 * the unit starts it: a dedicated unprivileged user holding CAP_NET_RAW and nothing else (ambient,
 * bounding set), no new privileges, state in $STATE_DIRECTORY. No systemd runs in CI, so
 * util-linux's setpriv builds that process instead.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BINARY, buildBinary, ROOT, smoke, smokeConfig, startDaemon, toolPath } from "./daemon.ts";

const test = suite("deploy: systemd unit");
const UNIT = readFileSync(join(ROOT, "deploy/iapd.service"), "utf8");
const NOBODY = 65534;

test.before(() => buildBinary());

test("systemd-analyze verify accepts the unit; offline security exposure is low", () => {
  const dir = mkdtempSync(join(tmpdir(), "iapd-unit-"));
  try {
    // verify checks that ExecStart's program exists: point it at the binary just built.
    writeFileSync(join(dir, "iapd.service"), UNIT.replace("ExecStart=/usr/local/bin/iapd", `ExecStart=${BINARY}`));
    const verify = spawnSync("systemd-analyze", ["verify", "iapd.service"], { cwd: dir, encoding: "utf8" });
    assert.is(verify.status, 0, verify.stderr);
    assert.not.match(verify.stderr, /iapd\.service/);
    const security = spawnSync("systemd-analyze", ["security", "--offline=yes", "iapd.service"], { cwd: dir, encoding: "utf8" });
    const exposure = Number(/Overall exposure level for iapd\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
    assert.ok(exposure <= 2.5, `exposure ${exposure}:\n${security.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the unit sets what the setpriv test below reproduces, and no MemoryDenyWriteExecute", () => {
  for (const line of [
    "User=iapd",
    "AmbientCapabilities=CAP_NET_RAW",
    "CapabilityBoundingSet=CAP_NET_RAW",
    "NoNewPrivileges=yes",
    "StateDirectory=iapd",
    "Restart=on-failure",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "ExecReload=/bin/kill -HUP $MAINPID",
  ]) {
    assert.ok(UNIT.split("\n").includes(line), `deploy/iapd.service lacks ${line}`);
  }
  assert.not.match(UNIT, /^MemoryDenyWriteExecute=yes/m, "V8 needs W+X pages");
});

test("deploy/iapd.yaml, the configuration template, passes check-config", async () => {
  await buildBinary();
  const r = spawnSync(BINARY, ["check-config", "--config", join(ROOT, "deploy/iapd.yaml")], { encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
});

test("as an unprivileged user with only CAP_NET_RAW (setpriv): smoke test, state written as that user", async () => {
  if (process.getuid?.() !== 0) return; // setpriv needs root to drop to another user (CI runs as root)
  const dir = mkdtempSync(join(tmpdir(), "iapd-unit-"));
  const path = toolPath("radclient");
  try {
    chmodSync(dir, 0o755);
    copyFileSync(BINARY, join(dir, "iapd"));
    chmodSync(join(dir, "iapd"), 0o755);
    writeFileSync(join(dir, "iapd.yaml"), smokeConfig("unit-secret"), { mode: 0o644 });
    const state = join(dir, "state");
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, NOBODY, NOBODY);
    const setpriv = [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      "--inh-caps=-all,+net_raw",
      "--ambient-caps=-all,+net_raw",
      "--bounding-set=-all,+net_raw",
      "--no-new-privs",
    ];
    const daemon = await startDaemon("/usr/bin/setpriv", [...setpriv, join(dir, "iapd"), "run", "--config", "iapd.yaml"], dir, { PATH: path, STATE_DIRECTORY: state });
    try {
      const status = readFileSync(`/proc/${daemon.pid}/status`, "utf8");
      assert.match(status, /^Uid:\s+65534\s/m);
      assert.match(status, /^CapEff:\s+0000000000002000$/m, "CAP_NET_RAW (13) only");
      assert.match(status, /^CapBnd:\s+0000000000002000$/m);
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      await smoke(daemon, path, "unit-secret");
    } finally {
      assert.is(await daemon.stop(), 0, daemon.output());
    }
    assert.ok(readdirSync(state).includes("api-token.json"), "state goes to $STATE_DIRECTORY");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(path, { recursive: true, force: true });
  }
});

test.run();
