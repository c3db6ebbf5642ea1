/**
 * Filter modules for the hot-swap tests, made from WebAssembly text with binaryen (a dependency of
 * AssemblyScript): a bare ABI skeleton with one thing wrong at a time, and the built-in filter with a
 * wrapper around `iapd_process` that traps on its n-th call.
 *
 * ```ts
 * const bytes = skeleton({ abiVersion: 2 });          // refused: wrong ABI version
 * const trapper = builtinTrappingOnCall(3);           // passes the self-test, traps on its 3rd batch
 * ```
 */
import { readFileSync } from "node:fs";
import binaryen from "binaryen";

const WAT = new URL("../../build/filters/jmirror.wat", import.meta.url);

function compile(text: string): Uint8Array {
  const module = binaryen.parseText(text);
  module.setFeatures(binaryen.Features.All);
  try {
    if (!module.validate()) throw new Error("invalid test module");
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

export interface SkeletonSpec {
  abiVersion?: number;
  /** Export left out. */
  without?: string;
  /** An import besides env.abort. */
  extraImport?: boolean;
  /** iapd_process body: consume everything and produce nothing (fails the self-test), trap, or
   * loop forever (never returns). */
  process?: "consume-all" | "trap" | "loop";
}

/** A module with every ABI export that does nothing useful; regions at fixed addresses in 6 pages. */
export function skeleton(spec: SkeletonSpec = {}): Uint8Array {
  const info = '{"name":"skeleton","version":"1"}';
  const exports: Record<string, string> = {
    iapd_abi_version: `(func (export "iapd_abi_version") (result i32) (i32.const ${spec.abiVersion ?? 1}))`,
    iapd_filter_info: `(func (export "iapd_filter_info") (result i32) (i32.const 16))`,
    iapd_init: `(func (export "iapd_init") (param i32 i32 i32) (result i32) (i32.const 0))`,
    iapd_configure: `(func (export "iapd_configure") (param i32 i32 i32 i32) (result i32) (i32.const 0))`,
    iapd_in_ptr: `(func (export "iapd_in_ptr") (result i32) (i32.const 0x10000))`,
    iapd_out_ptr: `(func (export "iapd_out_ptr") (result i32) (i32.const 0x20000))`,
    iapd_desc_ptr: `(func (export "iapd_desc_ptr") (result i32) (i32.const 0x30000))`,
    iapd_scratch_ptr: `(func (export "iapd_scratch_ptr") (result i32) (i32.const 0x400))`,
    iapd_counters_ptr: `(func (export "iapd_counters_ptr") (result i32) (i32.const 0x800))`,
    iapd_target_counters_ptr: `(func (export "iapd_target_counters_ptr") (result i32) (i32.const 0x1000))`,
    iapd_result_ptr: `(func (export "iapd_result_ptr") (result i32) (i32.const 0x3000))`,
    iapd_target_add: `(func (export "iapd_target_add") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 0))`,
    iapd_target_remove: `(func (export "iapd_target_remove") (param i32) (result i32) (i32.const 0))`,
    iapd_target_clear: `(func (export "iapd_target_clear"))`,
    iapd_process:
      spec.process === "trap"
        ? `(func (export "iapd_process") (param i32 i32) (result i32) (unreachable))`
        : spec.process === "loop"
          ? `(func (export "iapd_process") (param i32 i32) (result i32) (loop $forever (br $forever)) (unreachable))`
          : `(func (export "iapd_process") (param i32 i32) (result i32) (local.get 1))`,
  };
  if (spec.without) delete exports[spec.without];
  const escaped = [...new TextEncoder().encode(info)].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
  return compile(`(module
    (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
    ${spec.extraImport ? '(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))' : ""}
    (memory (export "memory") 6)
    (data (i32.const 16) "\\${info.length.toString(16).padStart(2, "0")}\\00\\00\\00${escaped}")
    ${Object.values(exports).join("\n")}
  )`);
}

/**
 * The built-in filter whose `iapd_process` traps (`unreachable`) on call number `trapAt` of an
 * instance, and is the built-in filter on every other call; `name` replaces "jmirror" in its info
 * (7 letters, so the info keeps its length). The self-test's instance makes one call. With
 * `tpacket3: false` the module lacks the optional iapd_process_tpacket3 export; with `hang: true` that
 * call loops forever instead of trapping (it never returns).
 */
export function builtinTrappingOnCall(trapAt: number, name = "trapper", options: { tpacket3?: boolean; hang?: boolean } = {}): Uint8Array {
  if (name.length !== 7) throw new Error("the name must have 7 letters");
  let text = readFileSync(WAT, "utf8");
  if (options.tpacket3 === false) text = text.replace(/\(export "iapd_process_tpacket3" \(func [^)]*\)\)/, "");
  const exported = /\(export "iapd_process" \(func (\$[^)]+)\)\)/.exec(text);
  if (!exported) throw new Error("build/filters/jmirror.wat has no iapd_process export");
  const process = exported[1];
  text = text.replace(exported[0], '(export "iapd_process" (func $test/trap_wrapper))');
  text = text.replace(/\)\s*$/, `
    (global $test/calls (mut i32) (i32.const 0))
    (func $test/trap_wrapper (param $offset i32) (param $length i32) (result i32)
      (global.set $test/calls (i32.add (global.get $test/calls) (i32.const 1)))
      (if (i32.eq (global.get $test/calls) (i32.const ${trapAt})) (then ${options.hang ? "(loop $forever (br $forever))" : "(unreachable)"}))
      (call ${process} (local.get $offset) (local.get $length)))
  )`);
  const bytes = compile(text);
  // INFO is an AssemblyScript string (UTF-16LE) in a data segment.
  const from = [..."jmirror"].flatMap((c) => [c.charCodeAt(0), 0]);
  const to = [...name].flatMap((c) => [c.charCodeAt(0), 0]);
  for (let i = 0; i + from.length <= bytes.length; i++) {
    if (from.every((b, k) => bytes[i + k] === b) && bytes[i - 2] === 0x22) bytes.set(to, i);
  }
  return bytes;
}
