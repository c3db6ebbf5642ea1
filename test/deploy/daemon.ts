/**
 * Shared by the deployment tests: building the single binary once per test run, a PATH that holds
 * only the peers a test needs (no node), starting `iapd run` in any form (binary, Node, Deno) and
 * the smoke test every form must pass. Every process is started here and stopped by its PID.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as assert from "uvu/assert";

export const ROOT = resolve(import.meta.dirname, "../..");
export const BINARY = join(ROOT, "dist/iapd");
export const BUNDLE = join(ROOT, "dist/iapd.cjs");
export const DENO = join(ROOT, "node_modules/deno/deno");
/**
 * What `iapd run` needs on Deno (docs/deployment.md), instead of -A: loopback sockets, reading
 * its files, writing its state directory ./var, and three environment variables (its own
 * STATE_DIRECTORY; the yaml package reads LOG_TOKENS and LOG_STREAM).
 */
export const DENO_RUN_FLAGS = ["--allow-net=127.0.0.1", "--allow-read", "--allow-write=var", "--allow-env=STATE_DIRECTORY,LOG_TOKENS,LOG_STREAM"];

let built: Promise<void> | undefined;

/** Builds dist/iapd and dist/iapd.cjs from the working tree, once per process (the filters must be built). */
export function buildBinary(): Promise<void> {
  built ??= new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/build-binary.ts"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => (code === 0 ? done() : fail(new Error(`build-binary exited with ${code}:\n${output}`))));
  });
  return built;
}

/** A directory of symlinks to `tools` and nothing else: a PATH in which no node can be found. */
export function toolPath(...tools: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "iapd-path-"));
  for (const tool of tools) {
    const found = execFileSync("/bin/sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    symlinkSync(found, join(dir, tool));
  }
  const node = spawnSync("/bin/sh", ["-c", "command -v node"], { env: { PATH: dir }, encoding: "utf8" });
  assert.is.not(node.status, 0, `node is reachable from ${dir}: ${node.stdout}`);
  return dir;
}

/** The demo configuration with a RADIUS client and every listener on an ephemeral loopback port. */
export function smokeConfig(secret: string): string {
  return (
    readFileSync(join(ROOT, "fixtures/configs/demo.yaml"), "utf8") +
    `\nradius:\n  clients:\n    - { address: 127.0.0.1, secret: ${secret}, name: smoke }\n` +
    `  accounting: { listen: "127.0.0.1:0" }\n  dynamicAuthorization: { listen: "127.0.0.1:0" }\napi:\n  listen: "127.0.0.1:0"\n`
  );
}

export interface RunningDaemon {
  readonly pid: number;
  /** http://127.0.0.1:port */
  readonly api: string;
  /** The first-run token the daemon printed. */
  readonly token: string;
  /** Current RADIUS ports (they change when a reload restarts the listeners). */
  ports(): { accounting: number; dynamicAuthorization: number };
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output after `from` characters. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<void>;
  signal(name: NodeJS.Signals): void;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `command args` in `cwd` with exactly `env`, and waits for its "ready" line. */
export async function startDaemon(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<RunningDaemon> {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const watchers = new Set<() => void>();
  const collect = (d: Buffer) => {
    output += d.toString();
    for (const w of watchers) w();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
  const waitFor = (pattern: RegExp, from = 0, timeoutMs = 15_000) =>
    new Promise<void>((done, fail) => {
      const check = () => {
        if (pattern.test(output.slice(from))) {
          watchers.delete(check);
          clearTimeout(timer);
          done();
        }
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        fail(new Error(`no ${pattern} within ${timeoutMs} ms from ${command} ${args.join(" ")}:\n${output}`));
      }, timeoutMs);
      watchers.add(check);
      void exited.then(() => {
        if (watchers.has(check)) {
          watchers.delete(check);
          clearTimeout(timer);
          fail(new Error(`${command} exited before ${pattern}:\n${output}`));
        }
      });
      check();
    });
  const last = (re: RegExp) => {
    const all = [...output.matchAll(re)];
    assert.ok(all.length > 0, `${re} in:\n${output}`);
    return all[all.length - 1][1];
  };
  let api: string;
  let token: string;
  try {
    await waitFor(/iapd: ready in \d+ ms/);
    api = `http://${last(/ready in .* api (?:http:\/\/)?(127\.0\.0\.1:\d+)/g)}`;
    token = last(/API token[^\n]*\n\s+(\S+)/g);
  } catch (e) {
    // Not the daemon the caller expected: it must not outlive the test.
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    throw e;
  }
  return {
    pid: child.pid!,
    api,
    token,
    ports: () => ({
      accounting: Number(last(/radius accounting listening on 127\.0\.0\.1:(\d+)/g)),
      dynamicAuthorization: Number(last(/radius dynamic authorization listening on 127\.0\.0\.1:(\d+)/g)),
    }),
    output: () => output,
    waitFor,
    signal: (name) => process.kill(child.pid!, name),
    async stop() {
      if (child.exitCode === null) process.kill(child.pid!, "SIGTERM");
      return exited;
    },
  };
}

/** FreeRADIUS's radclient from `path` (one try, 2 s), in network namespace `netns` if given. */
export function radclient(path: string, port: number, command: "acct" | "coa", secret: string, input: string, netns?: string) {
  const args = ["-x", "-r", "1", "-t", "2", `127.0.0.1:${port}`, command, secret];
  const r = netns
    ? spawnSync("ip", ["netns", "exec", netns, join(path, "radclient"), ...args], { input: `${input}\n`, encoding: "utf8" })
    : spawnSync("radclient", args, { input: `${input}\n`, env: { PATH: path }, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export const SESSION = "smoke-1";
export const coaInput = (action: "on" | "off" | "noop") =>
  `Acct-Session-Id = "${SESSION}", ERX-LI-Action = ${action}, ERX-Med-Dev-Handle = 0x0000000100000002, ERX-Med-Ip-Address = 127.0.0.1, ERX-Med-Port-Number = 30030, Message-Authenticator = 0x00`;

export async function get(daemon: RunningDaemon, path: string, token?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${daemon.api}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() };
}

export interface Mirror {
  id: string;
  interceptId: number;
  sessionId: number;
  mediation: { address: string; port: number };
}

export async function mirrors(daemon: RunningDaemon): Promise<Mirror[]> {
  const r = await get(daemon, "/v1/mirrors", daemon.token);
  assert.is(r.status, 200, JSON.stringify(r.body));
  return (r.body as { items: Mirror[] }).items;
}

/**
 * What every form of `iapd run` must do: answer /healthz and /readyz, refuse /v1 without a token,
 * take a subscriber login by accounting and a mirror by CoA from radclient, and show that mirror to
 * the li-admin token it printed.
 */
export async function smoke(daemon: RunningDaemon, path: string, secret: string): Promise<Mirror> {
  assert.equal(await get(daemon, "/healthz"), { status: 200, body: { status: "ok" } });
  assert.equal(await get(daemon, "/readyz"), { status: 200, body: { status: "ready" } });
  assert.is((await get(daemon, "/v1/mirrors")).status, 401);
  assert.equal(await mirrors(daemon), []);
  const { accounting, dynamicAuthorization } = daemon.ports();
  const login = radclient(path, accounting, "acct", secret, `Acct-Status-Type = Start, Acct-Session-Id = "${SESSION}", Framed-IP-Address = 100.64.0.9, Message-Authenticator = 0x00`);
  assert.match(login.output, /Received Accounting-Response/);
  const coa = radclient(path, dynamicAuthorization, "coa", secret, coaInput("on"));
  assert.match(coa.output, /Received CoA-ACK/);
  const [mirror, ...more] = await mirrors(daemon);
  assert.equal(more, []);
  assert.is(mirror.interceptId, 1);
  assert.is(mirror.sessionId, 2);
  assert.equal(mirror.mediation, { address: "127.0.0.1", port: 30030 });
  return mirror;
}
