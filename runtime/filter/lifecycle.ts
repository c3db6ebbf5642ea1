/**
 * Filter hot swap (docs/filters.md): a candidate module is checked (compiles, imports only
 * `env.abort`, implements ABI version 1, has every required export, passes the self-test), then a
 * `FilterSwitch` instantiates it next to the serving filter (ahead of time with `prepare`), feeds it
 * the configuration and target table, and switches between two batches, carrying every counter
 * over. The previous filter stays loaded and in sync for rollback.
 *
 * The switch is the one swap point of every data plane: `iapd replay` and the live data plane's
 * workers call `process` on it as they would on a filter, and it owns "the active filter".
 *
 * ```ts
 * const filters = await FilterSwitch.create(await checkFilter(builtinBytes), { onEvent: log });
 * store.attachSink(filters);                     // the target table follows the session store
 * filters.configure(config);
 * await filters.activate(await checkFilter(uploaded));  // between two batches
 * const { consumed, packets } = filters.process(records);
 * ```
 *
 * Failure on traffic: if the active filter traps (wasm trap, `abort`, output the host cannot read,
 * no progress) the previous filter is switched back in with the counters as they were before the
 * batch, and the batch is processed again by it. Re-processing rather than counting the batch as
 * lost: the input is intact (a trap leaves the failed filter's memory readable, and filters never
 * write to their input region) and nothing of the failed call was sent (its output is only read
 * after it returns), so the result is exactly what the previous filter would have produced.
 * A call that returns but took longer than `timeoutMs` is used (its output is complete) and the
 * previous filter serves from the next batch on. A call that never returns cannot be interrupted
 * on the thread that runs it (docs/filters.md "When a filter fails").
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { workerBundle } from "../assets/assets.ts";
import type { CheckAnswer } from "./check-worker.ts";
import { selfTest, SELF_TEST_CAPACITY } from "./selftest.ts";
import {
  ABI_VERSION,
  COUNTER_COUNT,
  COUNTERS,
  MALFORMED_REASONS,
  missingExports,
  OPTIONAL_EXPORTS,
  REQUIRED_EXPORTS,
  type BatchResult,
  type BlockOutput,
  type BlockResult,
  type Filter,
  type FilterConfig,
  type Target,
  type TargetCounters,
} from "./types.ts";
import { WasmFilter, type WasmFilterOptions } from "./wasm.ts";

// The project's TypeScript libs declare no WebAssembly API; these are the parts used here.
interface WasmModule {
  readonly __brand?: "WebAssembly.Module";
}
interface WasmStatic {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    exports(module: WasmModule): { name: string; kind: string }[];
    imports(module: WasmModule): { module: string; name: string; kind: string }[];
  };
  instantiate(module: WasmModule, imports: Record<string, Record<string, unknown>>): Promise<{ exports: Record<string, unknown> }>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmStatic }).WebAssembly;

export { OPTIONAL_EXPORTS, REQUIRED_EXPORTS } from "./types.ts";

/** Why a candidate was refused; each comes with a message saying what was expected and found. */
export type RejectReason = "not-wasm" | "imports" | "missing-exports" | "abi-version" | "info" | "init" | "self-test" | "trap" | "timeout";

export class FilterRejected extends Error {
  override name = "FilterRejected";
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
  }
}

/** What a checked module is; `id` (the first 16 hex digits of its SHA-256) names it in the API. */
export interface FilterModuleInfo {
  id: string;
  name: string;
  version: string;
  abiVersion: number;
  sha256: string;
  size: number;
  /** Exports of the ABI the module has, optional ones included. */
  exports: string[];
}

/** A module that passed every check, ready to be activated. */
export interface CheckedFilter {
  info: FilterModuleInfo;
  bytes: Uint8Array;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Compiles a module and reads what it is without running the self-test: imports, exports, ABI
 * version, name and version. Throws FilterRejected.
 */
export async function inspectFilter(bytes: Uint8Array): Promise<FilterModuleInfo> {
  let module: WasmModule;
  try {
    module = new wasm.Module(bytes);
  } catch (e) {
    const magic = bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
    throw new FilterRejected("not-wasm", magic ? `not a valid WebAssembly module: ${errorText(e)}` : "not a WebAssembly module (no \\0asm magic at the start)");
  }
  const unexpected = wasm.Module.imports(module).filter((i) => !(i.module === "env" && i.name === "abort" && i.kind === "function"));
  if (unexpected.length > 0) {
    throw new FilterRejected("imports", `imports ${unexpected.map((i) => `${i.module}.${i.name}`).join(", ")}; a filter may import env.abort only`);
  }
  const exports = new Map(wasm.Module.exports(module).map((e) => [e.name, e.kind]));
  const missing = missingExports((name) => exports.get(name));
  if (missing.length > 0) throw new FilterRejected("missing-exports", `missing export(s) ${missing.join(", ")} (docs/filter-abi.md "Exports")`);

  const instance = await instantiate(module);
  const version = (instance.iapd_abi_version as () => number)() >>> 0;
  if (version !== ABI_VERSION) throw new FilterRejected("abi-version", `implements filter ABI version ${version}, this iapd implements version ${ABI_VERSION}`);
  const { name, version: filterVersion } = readInfo(instance);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return {
    id: sha256.slice(0, 16),
    name,
    version: filterVersion,
    abiVersion: version,
    sha256,
    size: bytes.length,
    exports: [...REQUIRED_EXPORTS, ...OPTIONAL_EXPORTS.filter((name) => exports.get(name) === "function")],
  };
}

async function instantiate(module: WasmModule): Promise<Record<string, unknown>> {
  try {
    return (await wasm.instantiate(module, { env: { abort: () => { throw new Error("abort called"); } } })).exports;
  } catch (e) {
    throw new FilterRejected("trap", `trapped while starting: ${errorText(e)}`);
  }
}

function readInfo(exports: Record<string, unknown>): { name: string; version: string } {
  try {
    const memory = exports.memory as { buffer: ArrayBuffer };
    const at = (exports.iapd_filter_info as () => number)() >>> 0;
    const view = new DataView(memory.buffer);
    const length = view.getUint32(at, true);
    const info = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(memory.buffer, at + 4, length))) as Record<string, unknown>;
    if (typeof info.name !== "string" || typeof info.version !== "string" || info.name === "") throw new Error('expected {"name": "...", "version": "..."}');
    return { name: info.name, version: info.version };
  } catch (e) {
    throw new FilterRejected("info", `iapd_filter_info does not point to a u32 length and UTF-8 JSON {"name", "version"}: ${errorText(e)}`);
  }
}

/**
 * Every check a filter passes before it may serve: `inspectFilter`, then the self-test on a fresh
 * instance, on the calling thread: a module whose self-test never returns hangs it. Uploads use
 * `checkFilter`, which runs this in a worker thread with a time limit. Throws FilterRejected naming
 * the first check that failed.
 */
export async function checkFilterHere(bytes: Uint8Array): Promise<CheckedFilter> {
  const info = await inspectFilter(bytes);
  let problems: string[];
  try {
    const instance = await WasmFilter.load(bytes, SELF_TEST_CAPACITY);
    problems = selfTest(instance);
  } catch (e) {
    if (e instanceof FilterRejected) throw e;
    throw new FilterRejected("trap", `failed during the self-test: ${errorText(e)}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join("; ");
    throw new FilterRejected("self-test", `self-test failed: ${shown}${problems.length > 5 ? `; and ${problems.length - 5} more` : ""}`);
  }
  return { info, bytes };
}

/** Time limit of `checkFilter` (compile, exports, ABI and self-test together). */
export const CHECK_TIMEOUT_MS = 2000;

export interface CheckOptions {
  /**
   * Milliseconds the checks may take, in a worker thread (default CHECK_TIMEOUT_MS); beyond it the
   * worker is terminated and the module refused with reason `timeout`. 0: on the calling thread,
   * without a limit (for the built-in filters, which are trusted).
   */
  timeoutMs?: number;
}

/**
 * Every check a filter passes before it may serve (`checkFilterHere`), run in a short-lived worker
 * thread with a time limit, so that a module that loops forever is refused (reason `timeout`) and
 * the calling thread (the daemon's) stays responsive. Where no worker script is at hand (a bundle
 * built without it) the checks run on the calling thread. Throws FilterRejected.
 */
export async function checkFilter(bytes: Uint8Array, options: CheckOptions = {}): Promise<CheckedFilter> {
  const timeoutMs = options.timeoutMs ?? CHECK_TIMEOUT_MS;
  const worker = timeoutMs > 0 ? spawnCheckWorker(bytes.slice()) : undefined;
  if (!worker) return checkFilterHere(bytes);
  const answer = await new Promise<CheckAnswer | { type: "timeout" }>((resolve) => {
    const timer = setTimeout(() => resolve({ type: "timeout" }), timeoutMs);
    const done = (a: CheckAnswer) => {
      clearTimeout(timer);
      resolve(a);
    };
    worker.once("message", done);
    worker.once("error", (e: Error) => done({ type: "error", message: e.message }));
    worker.once("exit", (code: number) => done({ type: "error", message: `the check worker exited (${code})` }));
  });
  void worker.terminate();
  switch (answer.type) {
    case "checked":
      return { info: answer.info, bytes };
    case "rejected":
      throw new FilterRejected(answer.reason, answer.message);
    case "timeout":
      throw new FilterRejected("timeout", `the checks did not finish within ${timeoutMs} ms (a call into the module that never returns?)`);
    default:
      throw new FilterRejected("trap", `failed during the checks: ${answer.message}`);
  }
}

/** The check worker (runtime/filter/check-worker.ts): Deno runs it as it is, Node through tsx's
 * loader, a bundle from its own bundle; undefined when a bundle has none. */
function spawnCheckWorker(bytes: Uint8Array): Worker | undefined {
  const url = new URL("./check-worker.ts", import.meta.url);
  const workerData = { bytes };
  let bundled: ReturnType<typeof workerBundle>;
  try {
    bundled = workerBundle("filter-check-worker.cjs");
  } catch {
    return undefined; // a binary built without it
  }
  if (bundled) return "code" in bundled ? new Worker(bundled.code, { eval: true, workerData }) : existsSync(bundled.file) ? new Worker(bundled.file, { workerData }) : undefined;
  if (!url.pathname.endsWith(".ts")) return undefined;
  if ("Deno" in globalThis) return new Worker(url, { workerData });
  const code = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/** What the switch reports: swaps, rollbacks, and batches a failing filter could not process. */
export type FilterEvent =
  | { type: "activated"; filter: FilterModuleInfo; previous: FilterModuleInfo; latencyMs: number }
  | { type: "rolled-back"; filter: FilterModuleInfo; from: FilterModuleInfo; cause: "request" | "trap" | "timeout" | "hang"; message?: string; reprocessedFrames?: number }
  | { type: "batch-lost"; filter: FilterModuleInfo; frames: number; message: string }
  | { type: "dropped"; filter: FilterModuleInfo; which: "previous" | "staged"; message: string };

/** Counts kept by the switch itself; the filters' own counters carry over swaps. */
export interface SwitchStats {
  swaps: number;
  rollbacks: number;
  traps: number;
  timeouts: number;
  /** Batches processed again by the previous filter after the active one trapped, and their frames. */
  reprocessedBatches: number;
  reprocessedFrames: number;
  /** Batches no filter could process (a trap with no previous filter, or both trapped), and their frames. */
  lostBatches: number;
  lostFrames: number;
}

export interface FilterSwitchOptions extends WasmFilterOptions {
  /** A `process` call slower than this rolls back to the previous filter (default 250 ms). */
  timeoutMs?: number;
  onEvent?: (event: FilterEvent) => void;
  /** Milliseconds, for latencies; default performance.now. */
  now?: () => number;
}

export class SwapError extends Error {
  override name = "SwapError";
}

interface Generation {
  filter: WasmFilter;
  info: FilterModuleInfo;
}

const RECORD_HEADER = 16;
const TARGET_COUNTERS_SIZE = 32;
/** The global drop counters (output_full, oversize, too_many_copies): indexes 32..34. */
const DROPS_FIRST = 32;
const DROPS_END = 35;
/** The slots of a batch's outer packets. */
const packetSlots = (result: { packets: readonly { slot: number }[] }, visit: (slot: number) => void): void => {
  for (const p of result.packets) visit(p.slot);
};
// struct tpacket_block_desc: num_pkts at 12, offset_to_first_pkt at 16; 48-byte block and packet headers.
const TP_BLOCK_PACKETS = 12;
const TP_BLOCK_FIRST = 16;
const TP_BLOCK_HEADER = 48;
const TP_HEADER = 48;

/** Whole input records in `records` (the frames a failed batch held). */
function countRecords(records: Uint8Array): { frames: number; bytes: number } {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  let at = 0;
  let frames = 0;
  while (records.length - at >= RECORD_HEADER) {
    const next = at + RECORD_HEADER + view.getUint32(at + 8, true);
    if (next > records.length) break;
    at = next;
    frames++;
  }
  return { frames, bytes: at };
}

/**
 * The active filter of a data plane, swappable between batches. Implements `Filter` (so a data
 * plane calls it as it would call a filter) and the session store's `TargetSink`.
 */
export class FilterSwitch implements Filter {
  readonly stats: SwitchStats = { swaps: 0, rollbacks: 0, traps: 0, timeouts: 0, reprocessedBatches: 0, reprocessedFrames: 0, lostBatches: 0, lostFrames: 0 };
  readonly #options: WasmFilterOptions;
  readonly #timeoutMs: number;
  readonly #onEvent: (event: FilterEvent) => void;
  readonly #now: () => number;
  #active: Generation;
  #previous: Generation | undefined;
  #staged: Generation | undefined;
  #config: FilterConfig | undefined;
  readonly #targets = new Map<number, Target>();
  /** Highest slot ever used: per-target counters are carried over for slots 0..highSlot. */
  #highSlot = -1;
  /** Counters before the running batch, to restore if the active filter fails in it. */
  readonly #savedGlobal = new Uint8Array(COUNTER_COUNT * 8);
  #savedTargets = new Uint8Array(0);
  /**
   * The filter whose per-target counters #savedTargets holds, as of the end of its last batch: kept
   * in step slot by slot after each batch (the slots of its outer packets), so that a batch does not
   * copy the whole per-target region (32 bytes x every slot in use) first. Undefined: copy it whole.
   */
  #savedFor: WasmFilter | undefined;

  private constructor(first: Generation, options: FilterSwitchOptions) {
    this.#active = first;
    this.#options = { maxTargets: options.maxTargets, inCapacity: options.inCapacity, outCapacity: options.outCapacity };
    this.#timeoutMs = options.timeoutMs ?? 250;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#now = options.now ?? (() => performance.now());
  }

  /** A switch serving `first` (checked by `checkFilter`). */
  static async create(first: CheckedFilter, options: FilterSwitchOptions = {}): Promise<FilterSwitch> {
    const filter = await WasmFilter.load(first.bytes, options);
    return new FilterSwitch({ filter, info: first.info }, options);
  }

  get name(): string {
    return this.#active.info.name;
  }

  get version(): string {
    return this.#active.info.version;
  }

  /** The serving filter. */
  get active(): FilterModuleInfo {
    return this.#active.info;
  }

  /** The filter `rollback()` returns to, kept loaded and in sync. */
  get previous(): FilterModuleInfo | undefined {
    return this.#previous?.info;
  }

  /** The filter `activate` would switch to without instantiating anything, prepared ahead. */
  get staged(): FilterModuleInfo | undefined {
    return this.#staged?.info;
  }

  /**
   * Instantiates `candidate` and gives it the configuration and the target table ahead of its
   * activation, and keeps it in sync until then: `activate` is then only the switch. One filter is
   * staged at a time. Throws SwapError if the candidate refuses the configuration or a target.
   */
  async prepare(candidate: CheckedFilter): Promise<void> {
    if (this.#generation(candidate.info.id)) return;
    this.#staged = await this.#load(candidate);
  }

  /**
   * Makes `candidate` the active filter; the one serving until now becomes the previous one. A
   * candidate already loaded (staged, or the previous filter) is switched to at once; any other is
   * instantiated and fed first. Everything after the instantiation is synchronous, so the switch
   * happens between two `process` calls. Throws SwapError (and leaves the active filter serving)
   * if the candidate refuses the configuration or a target.
   */
  async activate(candidate: CheckedFilter): Promise<void> {
    const started = this.#now();
    const id = candidate.info.id;
    const loaded = this.#generation(id);
    if (loaded === this.#active) return;
    const next = loaded ?? (await this.#load(candidate));
    if (this.#staged === next) this.#staged = undefined;
    const from = this.#active;
    this.#carryCounters(from.filter, next.filter);
    this.#active = next;
    this.#previous = from;
    this.stats.swaps++;
    this.#onEvent({ type: "activated", filter: next.info, previous: from.info, latencyMs: this.#now() - started });
  }

  /** The loaded generation running module `id`, if any. */
  #generation(id: string): Generation | undefined {
    return [this.#active, this.#previous, this.#staged].find((g) => g?.info.id === id);
  }

  /** A new generation of `candidate` with the running configuration and the whole target table. */
  async #load(candidate: CheckedFilter): Promise<Generation> {
    const filter = await WasmFilter.load(candidate.bytes, this.#options);
    try {
      if (this.#config) filter.configure(this.#config);
      for (const t of this.#targets.values()) filter.addTarget(t);
    } catch (e) {
      throw new SwapError(`${candidate.info.name} ${candidate.info.version} refuses the running configuration: ${errorText(e)}`);
    }
    return { filter, info: candidate.info };
  }

  /** Switches back to the previous filter, counters carried over. Throws SwapError if there is none. */
  rollback(): void {
    if (!this.#previous) throw new SwapError("there is no previous filter to roll back to");
    const from = this.#active;
    this.#fallBack("request");
    this.#onEvent({ type: "rolled-back", filter: this.#active.info, from: from.info, cause: "request" });
  }

  /** Copies global and per-target counters (next_ip_id included) from one generation to the next. */
  #carryCounters(from: WasmFilter, to: WasmFilter): void {
    const source = from.counterRegions();
    const target = to.counterRegions();
    target.global.set(source.global);
    const bytes = (this.#highSlot + 1) * TARGET_COUNTERS_SIZE;
    target.targets.set(source.targets.subarray(0, bytes));
  }

  /** Makes the previous filter active again, carrying the active one's counters over. */
  #fallBack(cause: "request" | "timeout"): void {
    const previous = this.#previous!;
    this.#carryCounters(this.#active.filter, previous.filter);
    this.#active = previous;
    this.#previous = undefined;
    this.stats.rollbacks++;
    if (cause === "timeout") this.stats.timeouts++;
  }

  // ---- configuration and target table: applied to the active and the previous filter ----------

  configure(config: FilterConfig): void {
    this.#active.filter.configure(config);
    this.#config = { ...config };
    this.#sync((f) => f.configure(config));
  }

  addTarget(target: Target): void {
    this.#active.filter.addTarget(target);
    this.#savedFor = undefined;
    this.#targets.set(target.slot, target);
    if (target.slot > this.#highSlot) this.#highSlot = target.slot;
    this.#sync((f) => f.addTarget(target));
  }

  removeTarget(slot: number): void {
    this.#active.filter.removeTarget(slot);
    this.#savedFor = undefined;
    this.#targets.delete(slot);
    this.#sync((f) => f.removeTarget(slot));
  }

  clearTargets(): void {
    this.#active.filter.clearTargets();
    this.#savedFor = undefined;
    this.#targets.clear();
    this.#sync((f) => f.clearTargets());
  }

  /** TargetSink (runtime/sessions/store.ts): the session store feeds the table through these. */
  add(target: Target): void {
    this.addTarget(target);
  }

  remove(slot: number): void {
    this.removeTarget(slot);
  }

  /**
   * The previous and the staged filter follow every change; one that refuses a change can no
   * longer take over and is dropped.
   */
  #sync(change: (filter: WasmFilter) => void): void {
    for (const which of ["previous", "staged"] as const) {
      const g = which === "previous" ? this.#previous : this.#staged;
      if (!g) continue;
      try {
        change(g.filter);
      } catch (e) {
        if (which === "previous") this.#previous = undefined;
        else this.#staged = undefined;
        this.#onEvent({ type: "dropped", filter: g.info, which, message: `it refuses a change the active filter took: ${errorText(e)}` });
      }
    }
  }

  // ---- batches ---------------------------------------------------------------------------------

  /** The active filter's input region; take it again after any await, a swap may have happened. */
  inputBuffer(): Uint8Array {
    return this.#active.filter.inputBuffer();
  }

  process(records: Uint8Array): BatchResult {
    return this.#run(records, (f) => {
      const result = f.process(records);
      if (result.consumed > records.length) throw new Error(`consumed ${result.consumed} bytes of a ${records.length}-byte batch`);
      if (result.consumed === 0 && countRecords(records).frames > 0) throw new Error("consumed no input although a whole record was there");
      return result;
    }, () => countRecords(records).frames, () => ({ consumed: countRecords(records).bytes, frames: 0, packets: [] }), packetSlots);
  }

  /**
   * Processes one retired TPACKET_V3 block (docs/filter-abi.md "TPACKET_V3 blocks") from block
   * offset `from`: with the active filter's `iapd_process_tpacket3`, or, for a filter without it,
   * converted to input records here (one more copy), so that every ABI version 1 filter can serve
   * the live data plane.
   */
  processTpacket3(block: Uint8Array, from: number): BlockResult {
    if (!this.#active.filter.processTpacket3) return this.#blockAsRecords(block, from);
    return this.#run(
      block,
      (f) => {
        const call = f.processTpacket3;
        if (!call) return this.#blockAsRecords(block, from);
        return call(block, from);
      },
      () => new DataView(block.buffer, block.byteOffset, block.byteLength).getUint32(TP_BLOCK_PACKETS, true),
      () => ({ next: 0, frames: 0, packets: [] }),
      packetSlots,
    );
  }

  /**
   * As `processTpacket3`, with the output left in the filter's memory (FilterOutput), for an egress
   * that sends from the descriptors. A filter without `iapd_process_tpacket3` (the active one, or
   * the previous one taking over after a trap) answers with packets, as `processTpacket3` does.
   */
  processTpacket3Output(block: Uint8Array, from: number): BlockOutput | BlockResult {
    if (!this.#active.filter.processTpacket3Output) return this.#blockAsRecords(block, from);
    return this.#run<BlockOutput | BlockResult>(
      block,
      (f) => {
        const call = f.processTpacket3Output;
        if (!call) return this.#blockAsRecords(block, from);
        return call(block, from);
      },
      () => new DataView(block.buffer, block.byteOffset, block.byteLength).getUint32(TP_BLOCK_PACKETS, true),
      () => ({ next: 0, frames: 0, packets: [] }),
      (result, visit) => {
        if (!("output" in result)) return packetSlots(result, visit);
        const { view, descriptors, count } = result.output;
        for (let i = 0; i < count; i++) visit(view.getUint32(descriptors + i * 32 + 8, true));
      },
    );
  }

  /** The block last converted to records: the data plane calls again with `next` on the same block. */
  #converted: { block: Uint8Array; records: Uint8Array; offsets: number[]; starts: number[]; end: number } | undefined;

  #blockAsRecords(block: Uint8Array, from: number): BlockResult {
    let c = this.#converted;
    if (!c || c.block !== block || from === 0) c = this.#converted = this.#convert(block);
    const index = from === 0 ? 0 : c.offsets.indexOf(from);
    if (index < 0 || index >= c.offsets.length) return { next: 0, frames: 0, packets: [] };
    const start = c.starts[index];
    const { frames, consumed, packets } = this.process(c.records.subarray(start, c.end));
    let next = index;
    while (next < c.starts.length && c.starts[next] < start + consumed) next++;
    return { next: next < c.offsets.length ? c.offsets[next] : 0, frames, packets };
  }

  /** struct tpacket3_hdr fields (linux/if_packet.h) to input records; a broken header ends the block
   * and counts once in frames and bad_record, as the ABI has the filter do. */
  #convert(block: Uint8Array): { block: Uint8Array; records: Uint8Array; offsets: number[]; starts: number[]; end: number } {
    const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
    const records = new Uint8Array(block.length);
    const out = new DataView(records.buffer);
    const offsets: number[] = [];
    const starts: number[] = [];
    let end = 0;
    const count = block.length >= TP_BLOCK_HEADER ? v.getUint32(TP_BLOCK_PACKETS, true) : 0;
    let at = count > 0 ? v.getUint32(TP_BLOCK_FIRST, true) : 0;
    for (let i = 0; i < count; i++) {
      const mac = at >= TP_BLOCK_HEADER && at <= block.length - TP_HEADER ? v.getUint16(at + 24, true) : -1;
      const snaplen = mac >= 0 ? v.getUint32(at + 12, true) : 0;
      if (mac < 0 || mac > block.length - at || snaplen > block.length - at - mac) {
        const global = this.#active.filter.counterRegions().global;
        const g = new DataView(global.buffer, global.byteOffset, global.byteLength);
        for (const index of [COUNTERS.frames, MALFORMED_REASONS.bad_record]) g.setBigUint64(index * 8, g.getBigUint64(index * 8, true) + 1n, true);
        break;
      }
      offsets.push(at);
      starts.push(end);
      out.setUint32(end, v.getUint32(at + 4, true), true);
      out.setUint32(end + 4, v.getUint32(at + 8, true), true);
      out.setUint32(end + 8, snaplen, true);
      out.setUint32(end + 12, v.getUint32(at + 16, true), true);
      records.set(block.subarray(at + mac, at + mac + snaplen), end + RECORD_HEADER);
      end += RECORD_HEADER + snaplen;
      const step = v.getUint32(at, true);
      if (step === 0) break;
      at += step;
    }
    return { block, records, offsets, starts, end };
  }

  /**
   * Runs one batch on the active filter; on failure falls back to the previous filter (counters as
   * before the batch) and runs the batch again there. With no previous filter, or if it fails too,
   * the batch's frames are counted lost and `lost()` is returned.
   */
  #run<R>(input: Uint8Array, call: (filter: WasmFilter) => R, frames: () => number, lost: () => R, slots?: (result: R, visit: (slot: number) => void) => void): R {
    if (input.byteLength > this.#active.filter.inCapacity) {
      throw new RangeError(`${input.byteLength} bytes of input exceed the filter's input capacity of ${this.#active.filter.inCapacity} bytes`);
    }
    const failed = this.#active;
    const saving = this.#previous !== undefined;
    if (saving) this.#save(failed.filter);
    const started = this.#now();
    try {
      const result = call(failed.filter);
      if (saving) this.#track(failed.filter, result, slots);
      const took = this.#now() - started;
      if (this.#previous && took > this.#timeoutMs) {
        this.#fallBack("timeout");
        this.#onEvent({ type: "rolled-back", filter: this.#active.info, from: failed.info, cause: "timeout", message: `a batch took ${Math.round(took)} ms, the limit is ${this.#timeoutMs} ms` });
      }
      return result;
    } catch (e) {
      this.stats.traps++;
      const message = `${failed.info.name} ${failed.info.version} failed on a batch: ${errorText(e)}`;
      const previous = this.#previous;
      if (!previous) return this.#lose(failed.info, frames(), message, lost);
      // The counters as they were before the batch: the failed call's partial counts are discarded
      // with its output, and the batch is counted once, by the filter that processes it again.
      const regions = previous.filter.counterRegions();
      regions.global.set(this.#savedGlobal);
      regions.targets.set(this.#savedTargets);
      this.#savedFor = undefined;
      this.#active = previous;
      this.#previous = undefined;
      this.stats.rollbacks++;
      try {
        const result = call(previous.filter);
        const n = frames();
        this.stats.reprocessedBatches++;
        this.stats.reprocessedFrames += n;
        this.#onEvent({ type: "rolled-back", filter: previous.info, from: failed.info, cause: "trap", message, reprocessedFrames: n });
        return result;
      } catch (again) {
        this.#onEvent({ type: "rolled-back", filter: previous.info, from: failed.info, cause: "trap", message });
        return this.#lose(previous.info, frames(), `${previous.info.name} ${previous.info.version} failed on the same batch: ${errorText(again)}`, lost);
      }
    }
  }

  #save(filter: WasmFilter): void {
    const regions = filter.counterRegions();
    this.#savedGlobal.set(regions.global);
    const bytes = (this.#highSlot + 1) * TARGET_COUNTERS_SIZE;
    if (this.#savedFor === filter && this.#savedTargets.length === bytes) return;
    if (this.#savedTargets.length !== bytes) this.#savedTargets = new Uint8Array(bytes);
    this.#savedTargets.set(regions.targets.subarray(0, bytes));
    this.#savedFor = filter;
  }

  /**
   * After a batch that `filter` finished: its per-target counters changed only for the slots of its
   * outer packets (docs/filter-abi.md: per-target packets and bytes count copies, and a copy is an
   * output), unless it dropped copies (a drop has no output): then the next batch copies them whole.
   */
  #track<R>(filter: WasmFilter, result: R, slots: ((result: R, visit: (slot: number) => void) => void) | undefined): void {
    if (this.#savedFor !== filter) return;
    const regions = filter.counterRegions();
    const global = regions.global;
    let dropped = !slots;
    for (let i = DROPS_FIRST * 8; i < DROPS_END * 8 && !dropped; i++) dropped = global[i] !== this.#savedGlobal[i];
    if (dropped) {
      this.#savedFor = undefined;
      return;
    }
    const saved = this.#savedTargets;
    const targets = regions.targets;
    if (targets.byteOffset % 4 === 0) {
      // Eight 32-bit words per slot.
      const from = new Uint32Array(targets.buffer, targets.byteOffset, saved.length >> 2);
      const to = new Uint32Array(saved.buffer, saved.byteOffset, saved.length >> 2);
      slots!(result, (slot) => {
        const at = slot * 8;
        if (at + 8 > to.length) return;
        for (let i = at; i < at + 8; i++) to[i] = from[i];
      });
      return;
    }
    slots!(result, (slot) => {
      const at = slot * TARGET_COUNTERS_SIZE;
      if (at + TARGET_COUNTERS_SIZE <= saved.length) saved.set(targets.subarray(at, at + TARGET_COUNTERS_SIZE), at);
    });
  }

  #lose<R>(filter: FilterModuleInfo, frames: number, message: string, lost: () => R): R {
    this.stats.lostBatches++;
    this.stats.lostFrames += frames;
    this.#onEvent({ type: "batch-lost", filter, frames, message });
    return lost();
  }

  counters(): bigint[] {
    return this.#active.filter.counters();
  }

  /** The active filter's counter regions in place (WasmFilter.counterRegions): valid until its next call or a swap. */
  counterRegions(): { global: Uint8Array; targets: Uint8Array } {
    return this.#active.filter.counterRegions();
  }

  targetCounters(slot: number): TargetCounters {
    return this.#active.filter.targetCounters(slot);
  }

  /** Frames accounted for: counted by the filters plus lost with a failed batch. */
  framesAccounted(): bigint {
    return this.counters()[COUNTERS.frames] + BigInt(this.stats.lostFrames);
  }
}
