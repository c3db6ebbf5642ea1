/** Paths of files that ship with iapd (demo capture, demo configuration, built filters). */
import { fileURLToPath } from "node:url";

export function repoPath(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}
