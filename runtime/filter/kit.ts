/**
 * The files of a new filter project (`iapd filter new`): templates/filter/ and this iapd's ABI
 * helpers (assembly/ without the built-in filters' entry files) under assembly/iapd/. From a
 * checkout they are read from the source tree; the single binary carries them as one asset
 * (`filter-kit.json`, written by scripts/build-binary.ts with `kitJson`).
 *
 * ```ts
 * const files = kitFiles(sourceRoot);   // Map { "package.json" => bytes, "assembly/iapd/filter.ts" => bytes, ... }
 * ```
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

/**
 * Not copied into a new project: filter entry points in assembly/ (its own entry is index.ts), and
 * assembly/radius/, the RADIUS layer's MD5 module, which is not part of the filter ABI.
 */
const ENTRY_FILES = new Set(["jmirror-l2.ts", "tsconfig.json", "radius"]);

function walk(dir: string, prefix: string, keep: (name: string) => boolean, out: Map<string, Uint8Array>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!keep(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`, keep, out);
    else out.set(`${prefix}${entry.name}`, new Uint8Array(readFileSync(path)));
  }
}

/** The project's files by path inside it, read from iapd's source tree at `root`. */
export function kitFiles(root: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  walk(join(root, "templates/filter"), "", () => true, files);
  walk(join(root, "assembly"), "assembly/iapd/", (name) => !ENTRY_FILES.has(basename(name)), files);
  return files;
}

export function kitJson(files: Map<string, Uint8Array>): string {
  return JSON.stringify(Object.fromEntries([...files].map(([path, bytes]) => [path, Buffer.from(bytes).toString("base64")])));
}

export function kitFromJson(text: string): Map<string, Uint8Array> {
  return new Map(Object.entries(JSON.parse(text) as Record<string, string>).map(([path, b64]) => [path, new Uint8Array(Buffer.from(b64, "base64"))]));
}
