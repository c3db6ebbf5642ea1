/**
 * `iapd run` as a child process for the crash test, and a client that speaks to it: RADIUS
 * accounting and CoA over node:dgram with iapd's own codec, the API over fetch.
 *
 * The daemon runs from an esbuild bundle of the current sources (the way scripts/build-binary.ts
 * bundles them): it starts in about 0.6 s instead of 1.5 s under tsx, which is what lets the test
 * restart it fifty times within its time budget.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { build } from "esbuild";
import { bundleOptions } from "../../scripts/bundle-options.ts";
import { WORKER_BUNDLES, type BuildInfo } from "../../runtime/assets/assets.ts";
import type { Attribute } from "../../runtime/radius/attributes.ts";
import { Code } from "../../runtime/radius/codes.ts";
import { encodePacket } from "../../runtime/radius/message.ts";
import { CAPTURE_INTERFACE, runtimeArgs, type DatagramPort, type HttpAnswer, type Lab } from "./lab.ts";

const ROOT = resolve(import.meta.dirname, "../..");
export const SECRET = "crash-test-secret";
export const TOKEN = randomBytes(24).toString("base64url");

let bundled: Promise<string> | undefined;

/**
 * The bundle, built once per test run, in a directory under node_modules/.cache: the live data
 * plane requires koffi at run time, found by walking up from the bundle.
 */
export function iapdBundle(): Promise<string> {
  bundled ??= bundleIapd(cacheDir());
  return bundled;
}

function cacheDir(): string {
  const parent = join(ROOT, "node_modules", ".cache");
  mkdirSync(parent, { recursive: true });
  const directory = mkdtempSync(join(parent, "iapd-state-test-"));
  process.on("exit", () => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Bundles runtime/cli/main.ts into `directory`/iapd.cjs, and the worker threads' scripts next to it (as scripts/build-binary.ts does). */
async function bundleIapd(directory: string): Promise<string> {
  const outfile = join(directory, "iapd.cjs");
  const info: BuildInfo = { version: "test", commit: "test", root: relative(directory, ROOT), filters: [] };
  const options = bundleOptions(info);
  await build({ ...options, entryPoints: [join(ROOT, "runtime/cli/main.ts")], outfile });
  for (const [name, entry] of Object.entries(WORKER_BUNDLES)) await build({ ...options, entryPoints: [join(ROOT, entry)], outfile: join(directory, name) });
  return outfile;
}

/**
 * A configuration on loopback ephemeral ports with its state in `stateDir`. With `live`, the live
 * data plane captures on the lab's veth end and sends mirrored packets as UDP (docs/dataplane.md
 * "Egress") to the mediation socket of test/state/relay.mjs; without, the demo data plane.
 */
export function writeConfig(directory: string, stateDir: string, snapshotEveryRecords: number, live = false): string {
  const path = join(directory, "iapd.yaml");
  const sha256 = createHash("sha256").update(TOKEN).digest("hex");
  writeFileSync(
    path,
    [
      "radius:",
      `  clients: [{ address: 127.0.0.1, secret: ${SECRET} }]`,
      '  accounting: { listen: "127.0.0.1:0" }',
      '  dynamicAuthorization: { listen: "127.0.0.1:0" }',
      "api:",
      '  listen: "127.0.0.1:0"',
      `  tokens: [{ name: crash, role: li-admin, sha256: ${sha256} }]`,
      "state:",
      `  directory: ${stateDir}`,
      `  snapshotEveryRecords: ${snapshotEveryRecords}`,
      ...(live ? ["capture:", `  interfaces: [{ name: ${CAPTURE_INTERFACE} }]`, "  blockCount: 8", "  retireTimeoutMs: 2", "egress: { mode: udp }"] : []),
    ].join("\n"),
  );
  return path;
}

export interface Running {
  child: ChildProcess;
  api: string;
  accountingPort: number;
  dasPort: number;
  log: string[];
  exited: Promise<number | null>;
  /** A request to the API (from inside the lab when the daemon runs there). */
  http(method: string, path: string, body?: unknown): Promise<HttpAnswer>;
}

/** Starts `node bundle run --config config` (inside `lab`'s namespace when given); resolves once it logs "ready". */
export function startDaemon(bundle: string, config: string, lab?: Lab): Promise<Running> {
  const child = lab
    ? lab.spawn(runtimeArgs(bundle, ["run", "--config", config]), ["ignore", "ignore", "pipe"])
    : spawn(process.execPath, [bundle, "run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  const log: string[] = [];
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`iapd not ready after 10 s:\n${log.join("")}`));
    }, 10_000);
    let buffered = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      log.push(chunk.toString());
      buffered += chunk.toString();
      const ready = /ready in .*api (http:\/\/[^;]+); radius accounting 127\.0\.0\.1:(\d+), dynamic authorization 127\.0\.0\.1:(\d+)/.exec(buffered);
      if (ready) {
        clearTimeout(timer);
        const api = ready[1];
        const http = async (method: string, path: string, body?: unknown): Promise<HttpAnswer> => {
          const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
          const text = body === undefined ? undefined : JSON.stringify(body);
          if (lab) return lab.http(method, `${api}${path}`, headers, text);
          try {
            const res = await fetch(`${api}${path}`, { method, headers, body: text, signal: AbortSignal.timeout(5000) });
            return { status: res.status, body: await res.text() };
          } catch {
            return { status: undefined, body: "" };
          }
        };
        resolveReady({ child, api, accountingPort: Number(ready[2]), dasPort: Number(ready[3]), log, exited, http });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`iapd exited (${code}) before ready:\n${log.join("")}`));
    });
  });
}

/**
 * A RADIUS client on one socket: `request` resolves with the response code, or undefined when no
 * answer came (within `timeoutMs`, or before `abort`).
 */
export class RadiusClient {
  private socket: DatagramPort;
  private identifier = 0;
  private pending = new Map<number, (code: number | undefined) => void>();

  private constructor(socket: DatagramPort) {
    this.socket = socket;
    socket.onMessage((m) => this.pending.get(m[1])?.(m[0]));
  }

  /** On a socket of this process, or of `lab`'s relay in its namespace. */
  static async open(lab?: Lab): Promise<RadiusClient> {
    if (lab) return new RadiusClient(await lab.datagramPort());
    const socket = createSocket("udp4");
    await new Promise<void>((done) => socket.bind(0, "127.0.0.1", () => done()));
    return new RadiusClient({
      send: (bytes, port) => socket.send(bytes, port, "127.0.0.1"),
      onMessage: (listener) => socket.on("message", (m) => listener(m)),
      close: () => new Promise((done) => socket.close(() => done())),
    });
  }

  request(port: number, code: typeof Code.AccountingRequest | typeof Code.CoaRequest, attributes: Attribute[], timeoutMs = 2000): Promise<number | undefined> {
    const identifier = (this.identifier = (this.identifier + 1) & 0xff);
    const { bytes } = encodePacket({ code, identifier, attributes }, SECRET, { messageAuthenticator: true });
    return new Promise((done) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (answer: number | undefined) => {
        clearTimeout(timer);
        this.pending.delete(identifier);
        done(answer);
      };
      this.pending.set(identifier, finish);
      this.socket.send(bytes, port);
    });
  }

  /** Every request waiting for an answer ends unanswered (the daemon was killed). */
  abort(): void {
    for (const finish of [...this.pending.values()]) finish(undefined);
  }

  close(): Promise<void> {
    this.abort();
    return this.socket.close();
  }
}
