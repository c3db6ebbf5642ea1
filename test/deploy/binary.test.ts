/**
 * The single binary (scripts/build-binary.ts) alone in an empty directory, with a PATH that holds
 * only radclient and tshark (no node): version, check-config, replay, filter, state check, audit
 * verify; the daemon driven by radclient and the API, SIGHUP reloads; replay output byte for byte the
 * same as `node bin/iapd.js replay`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Lab } from "../../scripts/netns/netns.ts";
import { BINARY, buildBinary, coaInput, mirrors, radclient, ROOT, smoke, smokeConfig, startDaemon, toolPath } from "./daemon.ts";

const test = suite("deploy: single binary");

const DEMO_CONFIG = join(ROOT, "fixtures/configs/demo.yaml");
const DEMO_CAPTURE = join(ROOT, "fixtures/captures/demo.pcap");
let dir = "";
let path = "";

/** The binary in `dir`, with only PATH in its environment. */
function iapd(...args: string[]) {
  return spawnSync(join(dir, "iapd"), args, { cwd: dir, env: { PATH: path }, encoding: "utf8" });
}

/** `node bin/iapd.js replay` of the same input, from the checkout. */
function nodeReplay(out: string): Buffer {
  execFileSync(process.execPath, ["bin/iapd.js", "replay", "--config", DEMO_CONFIG, "--in", DEMO_CAPTURE, "--out", out], { cwd: ROOT, stdio: "ignore" });
  return readFileSync(out);
}

test.before(async () => {
  await buildBinary();
  dir = mkdtempSync(join(tmpdir(), "iapd-binary-"));
  copyFileSync(BINARY, join(dir, "iapd"));
  execFileSync("chmod", ["755", join(dir, "iapd")]);
  path = toolPath("radclient", "tshark");
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(path, { recursive: true, force: true });
});

test("version: the build's version and commit, filter ABI, a hash per embedded filter", () => {
  const r = iapd("version");
  assert.is(r.status, 0, r.stderr);
  const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  assert.match(r.stdout, new RegExp(`^iapd ${version.replaceAll(".", "\\.")} \\(commit ${head}(-dirty)?\\)\\nfilter ABI 1\\n`));
  const filters = [...r.stdout.matchAll(/^built-in filter (\S+) \S+ sha256:([0-9a-f]{64})$/gm)];
  assert.ok(filters.length >= 1, r.stdout);
  assert.is(filters[0][1], "jmirror");
});

test("check-config and a bad command, without node in PATH", () => {
  const ok = iapd("check-config", "--config", DEMO_CONFIG);
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /ok: 2 intercept\(s\), 3 target\(s\)/);
  writeFileSync(join(dir, "bad.yaml"), "node:\n  mtu: 9\n");
  const bad = iapd("check-config", "--config", "bad.yaml");
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /bad\.yaml:2:8 node\.mtu: expected an MTU/);
  assert.is(iapd("frobnicate").status, 2);
});

test("replay: the embedded demo and an explicit capture, byte-identical to node's; tshark decodes it", () => {
  const expected = nodeReplay(join(dir, "node.pcap"));
  const demo = iapd("replay");
  assert.is(demo.status, 0, demo.stderr);
  assert.ok(readFileSync(join(dir, "var/demo-mirrored.pcap")).equals(expected), "demo replay differs from node's");
  const explicit = iapd("replay", "--config", DEMO_CONFIG, "--in", DEMO_CAPTURE, "--out", "explicit.pcap", "--json");
  assert.is(explicit.status, 0, explicit.stderr);
  assert.is((JSON.parse(explicit.stdout) as { outPackets: number }).outPackets, 230);
  assert.ok(readFileSync(join(dir, "explicit.pcap")).equals(expected), "explicit replay differs from node's");
  const decoded = spawnSync("tshark", ["-r", "explicit.pcap", "-d", "udp.port==30030,jmirror", "-Y", "jmirror", "-T", "fields", "-e", "jmirror.mid"], {
    cwd: dir,
    env: { PATH: path, HOME: dir },
    encoding: "utf8",
  });
  assert.is(decoded.status, 0, decoded.stderr);
  assert.ok(decoded.stdout.trim().split("\n").length >= 198, "every mirrored packet decodes as jmirror");
});

test("filter inspect and filter test (self-test, differential check on the embedded demo capture)", () => {
  const wasm = join(ROOT, "build/filters/jmirror.wasm");
  const inspect = iapd("filter", "inspect", wasm);
  assert.is(inspect.status, 0, inspect.stderr);
  assert.match(inspect.stdout, /^name\s+jmirror$/m);
  const selfTest = iapd("filter", "test", wasm);
  assert.is(selfTest.status, 0, selfTest.stdout + selfTest.stderr);
  assert.match(selfTest.stdout, /self-test passed/);
  assert.match(selfTest.stdout, /demo\.pcap: identical/);
});

test("run: smoke test, SIGHUP reloads (invalid refused, mirrors kept), SIGTERM exits 0; audit verify", async () => {
  writeFileSync(join(dir, "iapd.yaml"), smokeConfig("old-secret"));
  const daemon = await startDaemon(join(dir, "iapd"), ["run", "--config", "iapd.yaml"], dir, { PATH: path });
  try {
    const mirror = await smoke(daemon, path, "old-secret");
    // The data plane (no capture interface): the demo capture replayed into var/mirrored.pcap.
    assert.ok(readFileSync(join(dir, "var/mirrored.pcap")).equals(nodeReplay(join(dir, "node2.pcap"))), "the daemon's pcap sink differs from node's replay");

    let from = daemon.output().length;
    writeFileSync(join(dir, "iapd.yaml"), `${smokeConfig("old-secret")}bogus: 1\n`);
    daemon.signal("SIGHUP");
    await daemon.waitFor(/reload refused, the running configuration is kept: iapd\.yaml is invalid:\niapd\.yaml:\d+:\d+ bogus: unknown key/, from);
    assert.match(radclient(path, daemon.ports().dynamicAuthorization, "coa", "old-secret", coaInput("noop")).output, /Received CoA-ACK/);

    from = daemon.output().length;
    writeFileSync(join(dir, "iapd.yaml"), smokeConfig("new-secret"));
    daemon.signal("SIGHUP");
    await daemon.waitFor(/reloaded iapd\.yaml: restarted radius; 1 mirror session\(s\) kept running/, from);
    assert.equal((await mirrors(daemon)).map((m) => m.id), [mirror.id]);
    const das = daemon.ports().dynamicAuthorization;
    assert.match(radclient(path, das, "coa", "new-secret", coaInput("noop")).output, /Received CoA-ACK/);
    assert.not.match(radclient(path, das, "coa", "old-secret", coaInput("noop")).output, /Received/);

    const res = await fetch(`${daemon.api}/v1/mirrors/${mirror.id}`, { method: "DELETE", headers: { authorization: `Bearer ${daemon.token}` } });
    assert.ok(res.ok, `${res.status} ${await res.text()}`);
    assert.equal(await mirrors(daemon), []);
  } finally {
    assert.is(await daemon.stop(), 0, daemon.output());
  }
  assert.match(daemon.output(), /SIGTERM: stopping\n.*iapd: stopped\n?$/s);
  const state = iapd("state", "check", "--state", "var");
  assert.is(state.status, 0, state.stdout + state.stderr);
  assert.match(state.stdout, /1 session\(s\), 0 mirror session\(s\)/);
  const verify = iapd("audit", "verify", "var/audit.log");
  assert.is(verify.status, 0, verify.stderr);
  assert.match(verify.stdout, /var\/audit\.log: ok: [1-9]\d* record\(s\)/);
});

test("run with a capture section: the live data plane (embedded worker and koffi) mirrors a ping after a CoA", async () => {
  if (process.getuid?.() !== 0) return; // network namespaces and AF_PACKET need root (CI runs as root)
  const lab = new Lab();
  try {
    const ns = lab.namespace("iapddp-deploy");
    const pcap = join(dir, "live-md.pcap");
    writeFileSync(
      join(dir, "live.yaml"),
      smokeConfig("live-secret") +
        `state:\n  directory: live-var\ncapture:\n  interfaces: [{ name: lo }]\n  retireTimeoutMs: 2\negress: { mode: pcap, path: ${pcap} }\n`,
    );
    const ip = execFileSync("/bin/sh", ["-c", "command -v ip"], { encoding: "utf8" }).trim();
    // A temporary directory of its own: koffi's native module is extracted there, once for the
    // process (not once per capture worker), and nothing of it may remain after the daemon stops.
    const tmp = join(dir, "live-tmp");
    mkdirSync(tmp);
    // ip netns exec execs the binary in place: the PID is the daemon's.
    const daemon = await startDaemon(ip, ["netns", "exec", ns, join(dir, "iapd"), "run", "--config", "live.yaml"], dir, { PATH: path, TMPDIR: tmp });
    try {
      assert.match(daemon.output(), /data plane: live: capture on lo x1/);
      const { accounting, dynamicAuthorization } = daemon.ports();
      const login = radclient(path, accounting, "acct", "live-secret", 'Acct-Status-Type = Start, Acct-Session-Id = "live-1", Framed-IP-Address = 127.0.0.2, Message-Authenticator = 0x00', ns);
      assert.match(login.output, /Received Accounting-Response/);
      const arm = `Acct-Session-Id = "live-1", ERX-LI-Action = on, ERX-Med-Dev-Handle = 0x0000000700000009, ERX-Med-Ip-Address = 198.51.100.1, ERX-Med-Port-Number = 30030, Message-Authenticator = 0x00`;
      assert.match(radclient(path, dynamicAuthorization, "coa", "live-secret", arm, ns).output, /Received CoA-ACK/);
      lab.run(ns, "ping", "-c", "3", "-i", "0.2", "127.0.0.2");
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      assert.is(await daemon.stop(), 0, daemon.output());
    }
    assert.equal(readdirSync(tmp), [], "the extracted assets are removed at exit");
    // SIGKILL runs no exit handler: the directory stays, and the next daemon removes it.
    // Each with a state directory of its own: startDaemon reads the token a first run prints.
    const again = (name: string) => {
      writeFileSync(join(dir, `${name}.yaml`), smokeConfig("live-secret") + `state:\n  directory: ${name}-var\ncapture:\n  interfaces: [{ name: lo }]\n  retireTimeoutMs: 2\negress: { mode: pcap, path: ${join(dir, `${name}.pcap`)} }\n`);
      return startDaemon(ip, ["netns", "exec", ns, join(dir, "iapd"), "run", "--config", `${name}.yaml`], dir, { PATH: path, TMPDIR: tmp });
    };
    const killed = await again("killed");
    killed.signal("SIGKILL");
    await killed.stop();
    const left = readdirSync(tmp);
    assert.is(left.length, 1, `one directory left by the killed daemon: ${left}`);
    assert.match(left[0], /^iapd-assets-/);
    const next = await again("next");
    try {
      const now = readdirSync(tmp);
      assert.is(now.length, 1, `only the running daemon's directory: ${now}`);
      assert.is.not(now[0], left[0], "the killed daemon's directory was removed");
    } finally {
      assert.is(await next.stop(), 0, next.output());
    }
    assert.equal(readdirSync(tmp), []);
    const copies = spawnSync("tshark", ["-r", pcap, "-d", "udp.port==30030,jmirror", "-Y", "jmirror", "-T", "fields", "-e", "jmirror.mid", "-e", "jmirror.sid"], {
      env: { PATH: path, HOME: dir },
      encoding: "utf8",
    });
    assert.is(copies.status, 0, copies.stderr);
    // Three echo requests and three replies to and from 127.0.0.2, each copied once.
    assert.equal(copies.stdout.trim().split("\n"), new Array(6).fill("0x00000007\t0x00000009"));
  } finally {
    lab.close();
  }
});

test("filter new: the binary writes the same project as a checkout does", () => {
  const fromBinary = iapd("filter", "new", "myfilter");
  assert.is(fromBinary.status, 0, fromBinary.stderr);
  const ref = mkdtempSync(join(tmpdir(), "iapd-kit-ref-"));
  try {
    execFileSync(process.execPath, [join(ROOT, "bin/iapd.js"), "filter", "new", "myfilter"], { cwd: ref, stdio: "ignore" });
    const tree = (root: string) =>
      (readdirSync(root, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath ?? e.path, e.name).slice(root.length + 1))
        .sort();
    const files = tree(join(ref, "myfilter"));
    assert.ok(files.includes("assembly/index.ts") && files.includes("assembly/iapd/filter.ts") && files.includes(".gitignore"), files.join(" "));
    assert.equal(tree(join(dir, "myfilter")), files);
    for (const f of files) assert.ok(readFileSync(join(dir, "myfilter", f)).equals(readFileSync(join(ref, "myfilter", f))), f);
  } finally {
    rmSync(ref, { recursive: true, force: true });
  }
});

test.run();
