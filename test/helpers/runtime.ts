/**
 * Child processes of the tests run on the runtime running the tests: `node --import tsx` under Node,
 * `deno run -A` under Deno (the test run with `deno run -A scripts/test.ts`). Use these whenever the
 * command line is not a direct spawn of process.execPath (through `ip netns exec`, capsh, setpriv,
 * `script`): only a direct spawn gets Deno's translation of node's arguments, and not of all of them.
 */

export const IS_DENO = "Deno" in globalThis;

/** The current runtime's binary (node, or deno). */
export const RUNTIME = process.execPath;

/** Arguments that run a TypeScript file (tests' helper programs) with the current runtime. */
export function tsArgs(file: string, ...args: string[]): string[] {
  return IS_DENO ? ["run", "-A", file, ...args] : ["--import", "tsx", file, ...args];
}

/** Arguments that run a JavaScript file (bin/iapd.js, a bundle) with the current runtime. */
export function jsArgs(file: string, ...args: string[]): string[] {
  return IS_DENO ? ["run", "-A", file, ...args] : [file, ...args];
}

/**
 * Arguments that evaluate a CommonJS snippet the way `node -e CODE ARG...` does (require, and the
 * first ARG as process.argv[1]); under Deno, `deno eval` with a prelude that makes it so.
 */
export function evalArgs(code: string, ...args: string[]): string[] {
  if (!IS_DENO) return ["-e", code, ...args];
  const prelude = 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url); process.argv.splice(1, 1);\n';
  return ["eval", prelude + code, ...args];
}
