/**
 * The files that ship with iapd (filters, demo capture, demo configuration), read the same way
 * whether iapd runs from a checkout, from the esbuild bundle or as the single binary; and what only
 * the bundle and the binary need (the data plane's worker bundle, koffi's native module).
 *
 * - Single binary (Node SEA, scripts/build-binary.ts): the files are embedded assets, read with
 *   `sea.getAsset`; a file that must be a path (a capture to open) is copied once to a private
 *   temporary directory, removed at exit.
 * - Checkout (tsx, `deno run runtime/cli/main.ts`) or bundle (`node|deno dist/iapd.cjs`): the
 *   repository's files, found from this module's location (the bundle records where the repository
 *   is relative to itself).
 *
 * ```ts
 * const wasm = assetBytes("build/filters/jmirror.wasm");
 * await openCaptureFile(assetPath("fixtures/captures/demo.pcap"));
 * ```
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";

/**
 * The shipped files iapd reads, by their path in the repository; the binary embeds each under the
 * same name, and every filter that asconfig.json builds (`filterAssets`) besides. The RADIUS
 * layer's MD5 (runtime/radius/md5.ts) is WebAssembly built beside the filters.
 */
export const ASSETS = ["build/filters/jmirror.wasm", "fixtures/captures/demo.pcap", "fixtures/configs/demo.yaml", "build/radius/md5.wasm"] as const;
/** The filter kit (runtime/filter/kit.ts): embedded in the binary only, the checkout reads the sources. */
export const KIT_ASSET = "filter-kit.json";
export type AssetName = (typeof ASSETS)[number] | `build/filters/${string}.wasm` | typeof KIT_ASSET;

/** What the build wrote into the bundle (esbuild `define`); absent when running the sources. */
export interface BuildInfo {
  version: string;
  commit: string;
  /** The repository root relative to the bundle file, for the bundle run outside the binary. */
  root: string;
  /** The filters built with it (asconfig.json's targets), embedded in the binary. */
  filters: `build/filters/${string}.wasm`[];
}

declare const IAPD_BUILD: BuildInfo | undefined;
export const build: BuildInfo | undefined = typeof IAPD_BUILD === "undefined" ? undefined : IAPD_BUILD;

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}
declare const require: ((id: string) => unknown) | undefined;

/** `node:sea` when running as the single binary. Only the CommonJS bundle has `require`; the
 * sources are ES modules and Deno has no `node:sea`. */
const sea: SeaModule | undefined = (() => {
  if (typeof require !== "function") return undefined;
  try {
    const module = require("node:sea") as SeaModule;
    return module.isSea() ? module : undefined;
  } catch {
    return undefined;
  }
})();


const root = new URL(build ? `${build.root}/` : "../../", import.meta.url);

/** The repository (or installed package) directory iapd runs from; undefined inside the binary. */
export const sourceRoot: string | undefined = sea ? undefined : fileURLToPath(root);

/** The built filters, the built-in one first: `iapd version` lists their hashes. */
export function filterAssets(): AssetName[] {
  if (build) return build.filters;
  return asconfigFilters(readFileSync(fileURLToPath(new URL("asconfig.json", root)), "utf8"));
}

/** The .wasm files an asconfig.json builds, the built-in filter first. */
export function asconfigFilters(asconfig: string): `build/filters/${string}.wasm`[] {
  const targets = (JSON.parse(asconfig) as { targets: Record<string, { outFile?: string }> }).targets;
  const files = Object.values(targets).flatMap((t) => (t.outFile?.startsWith("build/filters/") && t.outFile.endsWith(".wasm") ? [t.outFile as `build/filters/${string}.wasm`] : []));
  return [...new Set([ASSETS[0], ...files])];
}

export function assetBytes(name: AssetName): Uint8Array {
  if (sea) return new Uint8Array(sea.getAsset(name));
  return new Uint8Array(readFileSync(fileURLToPath(new URL(name, root))));
}

export function assetText(name: AssetName): string {
  return new TextDecoder().decode(assetBytes(name));
}

const paths = new Map<string, string>();
/**
 * The process's directory for extracted assets, named to its worker threads in this variable as
 * "PID:DIRECTORY" (a worker gets a copy of the environment as it was when it was created; the PID
 * keeps a child process that inherits the variable from using a directory its parent removes).
 */
const ASSETS_VARIABLE = "IAPD_ASSETS_DIRECTORY";

/**
 * One private temporary directory (0700) per process, made by the main thread and removed when it
 * exits. A worker thread's exit handlers do not run when the data plane terminates it, so a
 * directory of the worker's own was left behind for every capture worker; workers now use the
 * main thread's, made before the first worker starts (`workerBundle`).
 *
 * A process killed with SIGKILL runs no exit handler either: its directory names its owner (the
 * file `owner`), and the next iapd to make one removes those whose owner is gone (`sweepStale`).
 */
function assetsDirectory(): string {
  const [pid, dir] = (process.env[ASSETS_VARIABLE] ?? "").split(/:(.*)/s);
  if (pid === String(process.pid) && dir) return dir;
  const made = mkdtempSync(join(tmpdir(), "iapd-assets-"));
  process.env[ASSETS_VARIABLE] = `${process.pid}:${made}`;
  // A worker that had to make one (started before prepareAssets) removes it when it can.
  process.once("exit", () => rmSync(made, { recursive: true, force: true }));
  const me = processIdentity(process.pid);
  if (isMainThread && me) {
    writeFileSync(join(made, OWNER_FILE), JSON.stringify(me), { mode: 0o600 });
    sweepStale(tmpdir(), me);
  }
  return made;
}

/** The file in an asset directory that names the process it belongs to. */
const OWNER_FILE = "owner";

/**
 * A process as an asset directory records its owner: a PID alone could be a later, unrelated
 * process's, so also its start time (clock ticks after boot, /proc/PID/stat field 22), the PID
 * namespace the PID means something in, and the boot.
 */
export interface ProcessIdentity {
  pid: number;
  start: string;
  pidNamespace: string;
  boot: string;
}

/**
 * Process `pid` as seen from here (`pidNamespace` and `boot` are this process's: a PID read from
 * our /proc means something in our namespace), or undefined when there is none (or no /proc).
 */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces and parentheses) start with field 3.
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3];
    return { pid, start, pidNamespace: readlinkSync("/proc/self/ns/pid"), boot: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() };
  } catch {
    return undefined;
  }
}

/**
 * Removes the asset directories in `directory` that are ours (same user, a real directory) and
 * whose owner is gone: another boot, or no process with its PID and start time in this PID
 * namespace. A directory without an owner file (being made right now, or by an older iapd) or
 * from another PID namespace is left alone: there is no telling whether its owner runs. Never
 * throws: a directory it cannot judge or remove stays.
 */
export function sweepStale(directory: string, me: ProcessIdentity): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith("iapd-assets-")) continue;
    const path = join(directory, name);
    try {
      const info = lstatSync(path);
      if (!info.isDirectory() || info.uid !== process.getuid?.()) continue;
      const owner = JSON.parse(readFileSync(join(path, OWNER_FILE), "utf8")) as Partial<ProcessIdentity>;
      if (owner.pid === me.pid && owner.start === me.start) continue;
      const gone =
        owner.boot !== me.boot ||
        (owner.pidNamespace === me.pidNamespace && typeof owner.pid === "number" && processIdentity(owner.pid)?.start !== owner.start);
      if (!gone) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // No owner file, unreadable, or removed meanwhile: left as it is.
    }
  }
  return removed;
}

/**
 * In the binary, makes the process's asset directory now, so that worker threads created after
 * this use it instead of each making one (`workerBundle` calls it); elsewhere nothing.
 */
function prepareAssets(): void {
  if (sea && isMainThread) assetsDirectory();
}

/** Copies an embedded asset into the process's asset directory, once per thread. */
function extract(sea: SeaModule, name: string): string {
  let path = paths.get(name);
  if (path === undefined) {
    path = join(assetsDirectory(), basename(name));
    // Written under a name of this thread's own and renamed: another thread may be extracting the
    // same asset, and a reader must never see a half-written file.
    const partial = `${path}.${process.pid}-${Math.random().toString(36).slice(2)}`;
    writeFileSync(partial, new Uint8Array(sea.getAsset(name)), { mode: 0o600 });
    renameSync(partial, path);
    paths.set(name, path);
  }
  return path;
}

/** A file system path holding the asset: the repository file, or inside the binary a private copy. */
export function assetPath(name: AssetName): string {
  return sea ? extract(sea, name) : fileURLToPath(new URL(name, root));
}

/** Worker thread entry points, by the name of the bundle scripts/build-binary.ts makes of each (a
 * worker needs a script of its own). */
export const WORKER_BUNDLES = {
  "dataplane-worker.cjs": "runtime/dataplane/worker.ts",
  "filter-check-worker.cjs": "runtime/filter/check-worker.ts",
} as const;
export type WorkerBundleName = keyof typeof WORKER_BUNDLES;

/**
 * How to start a worker thread from the bundle: the worker's own bundle next to it (dist/), or
 * inside the binary its embedded text, to run with `new Worker(code, { eval: true })` (a Node 20
 * SEA cannot start a worker from a file it does not have). Undefined when running the sources.
 */
export function workerBundle(name: WorkerBundleName): { file: URL } | { code: string } | undefined {
  if (sea) {
    // The worker about to start extracts into the main thread's asset directory (assetsDirectory).
    prepareAssets();
    return { code: new TextDecoder().decode(sea.getAsset(name)) };
  }
  return build ? { file: new URL(name, import.meta.url) } : undefined;
}

/** Native Node-API modules the binary embeds when the build finds them (scripts/build-binary.ts). */
export type NativeAssetName = "koffi.node";

/**
 * Inside the binary, the embedded native module loaded with `process.dlopen` from its private copy
 * (the dynamic loader needs a file; a temporary directory mounted noexec prevents this: point
 * TMPDIR elsewhere). Elsewhere undefined: the npm package is there to be required.
 */
export function embeddedNativeModule(name: NativeAssetName): unknown {
  if (!sea) return undefined;
  const module = { exports: {} as unknown };
  (process as unknown as { dlopen(module: object, path: string): void }).dlopen(module, extract(sea, name));
  return module.exports;
}
