/**
 * The host side of a WebAssembly filter (docs/filter-abi.md): loads a module, owns its memory layout
 * and turns the ABI's regions into `Filter` calls. Runs on Node 20 and Deno 2.
 *
 *   const filter = await WasmFilter.load();                 // build/filters/jmirror.wasm
 *   filter.configure({ linkType: 1, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT });
 *   const { consumed, packets } = filter.process(records);  // packets are views, valid until the next call
 */
import { readFile } from "node:fs/promises";
import { assetBytes } from "../assets/assets.ts";
import {
  ABI_VERSION,
  COUNTER_COUNT,
  FilterError,
  missingExports,
  type BatchResult,
  type BlockOutput,
  type BlockResult,
  type Filter,
  type FilterOutput,
  type FilterConfig,
  type MirroredPacket,
  type Target,
  type TargetCounters,
} from "./types.ts";

// The project's TypeScript libs (ES2022 + @types/node) declare no WebAssembly API; these are the few
// parts of it this file uses, the same on Node and Deno.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The built-in filter, shipped with iapd (embedded in the single binary). */
const DEFAULT_MODULE = "build/filters/jmirror.wasm";
const DESCRIPTOR_SIZE = 32;
const TARGET_COUNTERS_SIZE = 32;
const FLAG_FRAGMENT = 1;

export interface WasmFilterOptions {
  /** Target slots, 0..maxTargets-1 (default 131072). */
  maxTargets?: number;
  /** Input region bytes: the largest batch of records one `process` call takes (default 4 MiB). */
  inCapacity?: number;
  /** Output region bytes: outer packets produced by one call (default 8 MiB). */
  outCapacity?: number;
}

interface FilterExports {
  memory: WasmMemory;
  iapd_abi_version(): number;
  iapd_filter_info(): number;
  iapd_init(maxTargets: number, inCapacity: number, outCapacity: number): number;
  iapd_configure(linkType: number, sourceAddress: number, mtu: number, dscp: number): number;
  iapd_in_ptr(): number;
  iapd_out_ptr(): number;
  iapd_desc_ptr(): number;
  iapd_scratch_ptr(): number;
  iapd_counters_ptr(): number;
  iapd_target_counters_ptr(): number;
  iapd_result_ptr(): number;
  iapd_target_add(
    slot: number,
    family: number,
    prefixLength: number,
    interceptId: number,
    sessionId: number,
    mediationAddress: number,
    mediationPort: number,
    sourceAddress: number,
    tunnel: number,
    dscp: number,
  ): number;
  iapd_target_remove(slot: number): number;
  iapd_target_clear(): void;
  iapd_process(inOffset: number, inLength: number): number;
  /** Optional (docs/filter-abi.md "TPACKET_V3 blocks"). */
  iapd_process_tpacket3?(inOffset: number, inLength: number, from: number): number;
}

interface Regions {
  in: number;
  out: number;
  desc: number;
  scratch: number;
  counters: number;
  targetCounters: number;
  result: number;
}

const isU32 = (value: number) => Number.isInteger(value) && value >= 0 && value <= 0xffffffff;

/** A range-checked ABI argument: a value that is no u32 becomes 0xffffffff, which the filter rejects
 * with the argument's own error code. */
const checked = (value: number) => (isU32(value) ? value : 0xffffffff);

/** An ABI argument where every u32 is valid (addresses, session ID): anything else is a bad argument. */
function full(operation: string, value: number): number {
  if (!isU32(value)) throw new FilterError(operation, 1);
  return value;
}

function checkExports(exports: Record<string, unknown>, origin: string): FilterExports {
  const missing = missingExports((name) => (exports[name] instanceof wasm.Memory ? "memory" : typeof exports[name]));
  if (missing.length > 0) {
    throw new Error(`${origin} is not an iapd filter: missing export(s) ${missing.join(", ")}`);
  }
  const filter = exports as unknown as FilterExports;
  const version = filter.iapd_abi_version() >>> 0;
  if (version !== ABI_VERSION) {
    throw new Error(`${origin} implements filter ABI version ${version}, this iapd expects ${ABI_VERSION}`);
  }
  return filter;
}

export class WasmFilter implements Filter {
  readonly name: string;
  readonly version: string;
  readonly maxTargets: number;
  readonly inCapacity: number;
  readonly outCapacity: number;
  readonly #filter: FilterExports;
  readonly #regions: Regions;
  #buffer: ArrayBuffer;
  #bytes: Uint8Array;
  #view: DataView;

  private constructor(filter: FilterExports, maxTargets: number, inCapacity: number, outCapacity: number) {
    this.#filter = filter;
    this.maxTargets = maxTargets;
    this.inCapacity = inCapacity;
    this.outCapacity = outCapacity;
    this.#buffer = filter.memory.buffer;
    this.#bytes = new Uint8Array(this.#buffer);
    this.#view = new DataView(this.#buffer);

    const infoPtr = filter.iapd_filter_info() >>> 0;
    const infoLength = this.#view.getUint32(infoPtr, true);
    const info = JSON.parse(new TextDecoder().decode(this.#bytes.subarray(infoPtr + 4, infoPtr + 4 + infoLength))) as {
      name?: unknown;
      version?: unknown;
    };
    this.name = String(info.name);
    this.version = String(info.version);

    const code = filter.iapd_init(maxTargets, inCapacity, outCapacity) >>> 0;
    if (code !== 0) throw new FilterError("init", code);
    this.#refresh();
    this.#regions = {
      in: filter.iapd_in_ptr() >>> 0,
      out: filter.iapd_out_ptr() >>> 0,
      desc: filter.iapd_desc_ptr() >>> 0,
      scratch: filter.iapd_scratch_ptr() >>> 0,
      counters: filter.iapd_counters_ptr() >>> 0,
      targetCounters: filter.iapd_target_counters_ptr() >>> 0,
      result: filter.iapd_result_ptr() >>> 0,
    };
  }

  /**
   * Compiles and instantiates a filter module (a path, or the module's bytes; default: the built-in
   * JMirror filter) and allocates its regions.
   */
  static async load(source?: string | Uint8Array, options: WasmFilterOptions = {}): Promise<WasmFilter> {
    const origin = typeof source === "string" ? source : source ? "filter module" : DEFAULT_MODULE;
    // A capacity that is no u32 becomes 0, which iapd_init rejects as a bad argument.
    const capacity = (value: number) => (isU32(value) ? value : 0);
    const maxTargets = capacity(options.maxTargets ?? 131072);
    const inCapacity = capacity(options.inCapacity ?? 4 << 20);
    const outCapacity = capacity(options.outCapacity ?? 8 << 20);
    const bytes = source instanceof Uint8Array ? source : source !== undefined ? await readFile(source) : assetBytes(DEFAULT_MODULE);
    let memory: WasmMemory | undefined;
    const imports = {
      env: {
        abort(message: number, file: number, line: number, column: number): never {
          const text = (ptr: number) => (memory ? readAssemblyScriptString(memory, ptr >>> 0) : "");
          throw new Error(`filter ${origin} aborted: ${text(message)} at ${text(file)}:${line}:${column}`);
        },
      },
    };
    const { instance } = await wasm.instantiate(bytes, imports);
    const filter = checkExports(instance.exports, origin);
    memory = filter.memory;
    return new WasmFilter(filter, maxTargets, inCapacity, outCapacity);
  }

  /** Views of memory must be re-created whenever memory.grow replaced its ArrayBuffer. */
  #refresh(): void {
    const buffer = this.#filter.memory.buffer;
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#bytes = new Uint8Array(buffer);
      this.#view = new DataView(buffer);
    }
  }

  configure(config: FilterConfig): void {
    const code =
      this.#filter.iapd_configure(
        checked(config.linkType),
        full("configure", config.sourceAddress),
        checked(config.mtu),
        checked(config.dscp),
      ) >>> 0;
    if (code !== 0) throw new FilterError("configure", code);
  }

  addTarget(target: Target): void {
    const op = "addTarget";
    const expected = target.family === 4 ? 4 : target.family === 6 ? 16 : undefined;
    if (expected !== undefined && target.address.length !== expected) throw new FilterError(op, 1);
    this.#refresh();
    this.#bytes.fill(0, this.#regions.scratch, this.#regions.scratch + 16);
    if (expected !== undefined) this.#bytes.set(target.address, this.#regions.scratch);
    const code =
      this.#filter.iapd_target_add(
        checked(target.slot),
        checked(target.family),
        checked(target.prefixLength),
        checked(target.interceptId),
        full(op, target.sessionId),
        full(op, target.mediationAddress),
        checked(target.mediationPort),
        full(op, target.sourceAddress),
        checked(target.tunnel),
        checked(target.dscp),
      ) >>> 0;
    if (code !== 0) throw new FilterError(op, code);
  }

  /** Removes the target in `slot`; a slot not in use is a FilterError (code 1). */
  removeTarget(slot: number): void {
    const code = this.#filter.iapd_target_remove(checked(slot)) >>> 0;
    if (code !== 0) throw new FilterError("removeTarget", code);
  }

  clearTargets(): void {
    this.#filter.iapd_target_clear();
  }

  inputBuffer(): Uint8Array {
    this.#refresh();
    return this.#bytes.subarray(this.#regions.in, this.#regions.in + this.inCapacity);
  }

  process(records: Uint8Array): BatchResult {
    const offset = this.#place(records, "process");
    const consumed = this.#filter.iapd_process(offset, records.byteLength) >>> 0;
    const { frames, packets } = this.#output();
    return { consumed, frames, packets };
  }

  /** Present when the module exports `iapd_process_tpacket3`. */
  get processTpacket3(): ((block: Uint8Array, from: number) => BlockResult) | undefined {
    const call = this.#filter.iapd_process_tpacket3;
    if (typeof call !== "function") return undefined;
    return (block, from) => {
      const offset = this.#place(block, "processTpacket3");
      const next = call(offset, block.byteLength, from >>> 0) >>> 0;
      const { frames, packets } = this.#output();
      return { next, frames, packets };
    };
  }

  /**
   * As `processTpacket3`, with the output left in place (FilterOutput) instead of one MirroredPacket
   * per outer packet: what the socket egresses send from directly.
   */
  get processTpacket3Output(): ((block: Uint8Array, from: number) => BlockOutput) | undefined {
    const call = this.#filter.iapd_process_tpacket3;
    if (typeof call !== "function") return undefined;
    return (block, from) => {
      const offset = this.#place(block, "processTpacket3");
      const next = call(offset, block.byteLength, from >>> 0) >>> 0;
      this.#refresh();
      const result = this.#regions.result;
      const output: FilterOutput = {
        bytes: this.#bytes,
        view: this.#view,
        descriptors: this.#regions.desc,
        count: this.#view.getUint32(result + 4, true),
        out: this.#regions.out,
      };
      return { next, frames: this.#view.getUint32(result, true), output };
    };
  }

  /** Where `input` lies in the input region: in place when it is a view of it, else copied to its start. */
  #place(input: Uint8Array, operation: string): number {
    this.#refresh();
    const inStart = this.#regions.in;
    if (input.buffer === this.#buffer && input.byteOffset >= inStart && input.byteOffset + input.byteLength <= inStart + this.inCapacity) {
      return input.byteOffset - inStart;
    }
    if (input.byteLength > this.inCapacity) {
      throw new RangeError(`${operation}: ${input.byteLength} bytes of input exceed the filter's input capacity of ${this.inCapacity} bytes`);
    }
    this.#bytes.set(input, inStart);
    return 0;
  }

  #output(): { frames: number; packets: MirroredPacket[] } {
    this.#refresh();
    const view = this.#view;
    const result = this.#regions.result;
    const frames = view.getUint32(result, true);
    const descriptors = view.getUint32(result + 4, true);
    const packets: MirroredPacket[] = new Array(descriptors);
    const out = this.#regions.out;
    for (let i = 0, d = this.#regions.desc; i < descriptors; i++, d += DESCRIPTOR_SIZE) {
      packets[i] = {
        bytes: new Uint8Array(this.#buffer, out + view.getUint32(d, true), view.getUint32(d + 4, true)),
        slot: view.getUint32(d + 8, true),
        tunnel: view.getUint32(d + 12, true),
        tsSeconds: view.getUint32(d + 16, true),
        tsNanoseconds: view.getUint32(d + 20, true),
        fragment: (view.getUint32(d + 24, true) & FLAG_FRAGMENT) !== 0,
      };
    }
    return { frames, packets };
  }

  /**
   * The global and per-target counter regions as they lie in the filter's memory: live views, valid
   * until the next call. A hot swap copies them into the next generation (runtime/filter/lifecycle.ts)
   * so that counters, `next_ip_id` included, carry over. `targets` holds maxTargets slots of 32 bytes.
   */
  counterRegions(): { global: Uint8Array; targets: Uint8Array } {
    this.#refresh();
    const { counters, targetCounters } = this.#regions;
    return {
      global: this.#bytes.subarray(counters, counters + COUNTER_COUNT * 8),
      targets: this.#bytes.subarray(targetCounters, targetCounters + this.maxTargets * TARGET_COUNTERS_SIZE),
    };
  }

  counters(): bigint[] {
    this.#refresh();
    const counters: bigint[] = new Array(COUNTER_COUNT);
    for (let i = 0; i < COUNTER_COUNT; i++) counters[i] = this.#view.getBigUint64(this.#regions.counters + i * 8, true);
    return counters;
  }

  targetCounters(slot: number): TargetCounters {
    if (!isU32(slot) || slot >= this.maxTargets) throw new FilterError("targetCounters", 1);
    this.#refresh();
    const at = this.#regions.targetCounters + slot * TARGET_COUNTERS_SIZE;
    return {
      packets: this.#view.getBigUint64(at, true),
      bytes: this.#view.getBigUint64(at + 8, true),
      dropped: this.#view.getBigUint64(at + 16, true),
      oversize: BigInt(this.#view.getUint32(at + 24, true)),
      tooManyCopies: BigInt(this.#view.getUint32(at + 28, true)),
    };
  }
}

/** AssemblyScript strings are UTF-16LE with their byte length in the u32 before them. */
function readAssemblyScriptString(memory: WasmMemory, ptr: number): string {
  if (ptr < 4 || ptr > memory.buffer.byteLength) return "";
  const length = new DataView(memory.buffer).getUint32(ptr - 4, true);
  if (ptr + length > memory.buffer.byteLength) return "";
  return new TextDecoder("utf-16le").decode(new Uint8Array(memory.buffer, ptr, length));
}
