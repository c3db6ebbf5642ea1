/**
 * The files that ship with iapd (built-in filter, demo capture, demo configuration), read the same
 * way whether iapd runs from a checkout, from the esbuild bundle or as the single binary.
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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Every shipped file, by its path in the repository; the binary embeds each under the same name. */
export const ASSETS = ["build/filters/jmirror.wasm", "fixtures/captures/demo.pcap", "fixtures/configs/demo.yaml"] as const;
export type AssetName = (typeof ASSETS)[number];

/** The filters among the assets: `iapd version` lists their hashes. */
export const FILTER_ASSETS = ASSETS.filter((a): a is Extract<AssetName, `${string}.wasm`> => a.endsWith(".wasm"));

/** What the build wrote into the bundle (esbuild `define`); absent when running the sources. */
export interface BuildInfo {
  version: string;
  commit: string;
  /** The repository root relative to the bundle file, for the bundle run outside the binary. */
  root: string;
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

export function assetBytes(name: AssetName): Uint8Array {
  if (sea) return new Uint8Array(sea.getAsset(name));
  return new Uint8Array(readFileSync(fileURLToPath(new URL(name, root))));
}

export function assetText(name: AssetName): string {
  return new TextDecoder().decode(assetBytes(name));
}

let extracted: string | undefined;
const paths = new Map<AssetName, string>();

/** A file system path holding the asset: the repository file, or inside the binary a private copy. */
export function assetPath(name: AssetName): string {
  if (!sea) return fileURLToPath(new URL(name, root));
  let path = paths.get(name);
  if (path === undefined) {
    if (extracted === undefined) {
      const dir = mkdtempSync(join(tmpdir(), "iapd-assets-"));
      extracted = dir;
      process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    }
    path = join(extracted, basename(name));
    writeFileSync(path, assetBytes(name), { mode: 0o600 });
    paths.set(name, path);
  }
  return path;
}
