/** `iapd version`: what is running, so an operator can quote it in a ticket. */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { ABI_VERSION } from "../filter/types.ts";
import { WasmFilter } from "../filter/wasm.ts";
import { repoPath } from "./paths.ts";

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: repoPath("."), stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

export async function versionInfo(): Promise<string> {
  const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { version: string };
  const wasmPath = repoPath("build/filters/jmirror.wasm");
  const wasm = readFileSync(wasmPath);
  const filter = await WasmFilter.load(new Uint8Array(wasm));
  const hash = createHash("sha256").update(wasm).digest("hex");
  return [
    `iapd ${pkg.version} (commit ${gitCommit()})`,
    `filter ABI ${ABI_VERSION}`,
    `built-in filter ${filter.name} ${filter.version} sha256:${hash}`,
  ].join("\n");
}
