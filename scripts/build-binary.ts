/**
 * Builds the single binary `dist/iapd` (and the bundle it carries, `dist/iapd.cjs`, which also runs
 * on its own under `node` or `deno run`):
 *
 *   1. esbuild bundles runtime/cli/main.ts and its npm dependencies (yaml, zod, hono...) into one
 *      CommonJS file that requires only Node built-ins: what a Node 20 single-executable
 *      application (SEA) can run. The version, the git commit and where the repository lies relative
 *      to the bundle are written into it (`IAPD_BUILD`, read by runtime/assets/assets.ts).
 *   2. `node --experimental-sea-config` turns it into a blob, with the shipped files
 *      (runtime/assets ASSETS: filters, demo capture and configuration), the worker threads' scripts
 *      (WORKER_BUNDLES, bundled the same way into dist/) and koffi's native module as assets.
 *   3. postject injects the blob into a copy of this node binary (`NODE_SEA_FUSE` sentinel).
 *
 *   node --import tsx scripts/build-binary.ts      (npm run build:binary builds the filters first)
 *
 * `deno compile` would be the Deno way, but it downloads its runtime from the internet.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { bundleOptions } from "./bundle-options.ts";
import { join, relative, resolve } from "node:path";
import { build } from "esbuild";
import { ASSETS, asconfigFilters, KIT_ASSET, WORKER_BUNDLES, type BuildInfo } from "../runtime/assets/assets.ts";
import { kitFiles, kitJson } from "../runtime/filter/kit.ts";

// postject ships no types: the one call used here.
const { inject } = createRequire(import.meta.url)("postject") as {
  inject(file: string, resource: string, data: Buffer, options: { sentinelFuse: string }): Promise<void>;
};

const root = resolve(import.meta.dirname, "..");
const dist = join(root, "dist");
const work = join(dist, "sea");
const bundle = join(dist, "iapd.cjs");
const binary = join(dist, "iapd");
const started = performance.now();

function git(...args: string[]): string {
  return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
}

function commit(): string {
  try {
    const head = git("rev-parse", "--short=12", "HEAD");
    // Tracked files that differ from HEAD: the binary is not exactly that commit.
    const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

/** koffi's prebuilt native module for this platform (the data plane's FFI on Node). */
function koffiNative(): string | undefined {
  const require = createRequire(join(root, "package.json"));
  try {
    return require.resolve(`@koromix/koffi-${process.platform}-${process.arch}/${process.platform}_${process.arch}/koffi.node`);
  } catch {
    return undefined;
  }
}

const filters = asconfigFilters(readFileSync(join(root, "asconfig.json"), "utf8"));
const embedded = [...new Set([...ASSETS, ...filters])];
for (const name of embedded) statSync(join(root, name)); // a missing file fails here, with its name
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const info: BuildInfo = {
  version: (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version,
  commit: commit(),
  root: relative(dist, root) || ".",
  filters,
};

const options = bundleOptions(info);
await build({ ...options, entryPoints: [join(root, "runtime/cli/main.ts")], outfile: bundle });
// Worker threads (data plane, filter checks) each from a bundle of their own, next to the main one.
for (const [name, entry] of Object.entries(WORKER_BUNDLES)) await build({ ...options, entryPoints: [join(root, entry)], outfile: join(dist, name) });

const assets: Record<string, string> = Object.fromEntries(embedded.map((name) => [name, join(root, name)]));
for (const name of Object.keys(WORKER_BUNDLES)) assets[name] = join(dist, name);
// The filter kit: `iapd filter new` writes a project from it without iapd's sources.
const kit = join(dist, KIT_ASSET);
writeFileSync(kit, kitJson(kitFiles(root)));
assets[KIT_ASSET] = kit;
const koffi = koffiNative();
if (koffi) assets["koffi.node"] = koffi;
const blob = join(work, "iapd.blob");
const seaConfig = join(work, "sea-config.json");
writeFileSync(
  seaConfig,
  JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }, null, 2),
);
execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: ["ignore", "ignore", "inherit"] });

rmSync(binary, { force: true });
copyFileSync(process.execPath, binary);
chmodSync(binary, 0o755);
await inject(binary, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2" });
rmSync(work, { recursive: true, force: true });

const mb = (path: string) => `${(statSync(path).size / 1e6).toFixed(1)} MB`;
console.log(
  `${relative(root, binary)}: ${mb(binary)} (node ${process.version}: ${mb(process.execPath)}; bundle ${relative(root, bundle)}: ${mb(bundle)}), ` +
    `iapd ${info.version} commit ${info.commit}, assets ${Object.keys(assets).join(", ")}; ${Math.round(performance.now() - started)} ms`,
);
