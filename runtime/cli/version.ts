/** `iapd version`: what is running, so an operator can quote it in a ticket. */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ABI_VERSION } from "../filter/types.ts";
import { WasmFilter } from "../filter/wasm.ts";
import { assetBytes, build, filterAssets, sourceRoot } from "../assets/assets.ts";

/** From a checkout, the commit checked out; the bundle and the binary carry the one they were built from. */
function gitCommit(): string {
  if (build) return build.commit;
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: sourceRoot, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

function packageVersion(): string {
  if (build) return build.version;
  return (JSON.parse(readFileSync(join(sourceRoot!, "package.json"), "utf8")) as { version: string }).version;
}

export async function versionInfo(): Promise<string> {
  const lines = [`iapd ${packageVersion()} (commit ${gitCommit()})`, `filter ABI ${ABI_VERSION}`];
  for (const name of filterAssets()) {
    const wasm = assetBytes(name);
    const filter = await WasmFilter.load(wasm, { maxTargets: 1, inCapacity: 65536, outCapacity: 65536 });
    lines.push(`built-in filter ${filter.name} ${filter.version} sha256:${createHash("sha256").update(wasm).digest("hex")}`);
  }
  return lines.join("\n");
}
