/**
 * MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) for RADIUS's hot path, in WebAssembly
 * (assembly/radius/md5.ts, built with the filters into build/radius/md5.wasm). Every accounting
 * request costs an authenticator check, a Message-Authenticator check and a signed reply:
 * node:crypto needs a Hash or Hmac object (and a digest Buffer) for each, which costs several times
 * the hashing for packets of a few blocks (5.8x this module's CPU per request), and the
 * JavaScript MD5 this replaced took 1.46x (scripts/bench/radius-md5.ts; docs/benchmarks.md, RADIUS
 * control plane, sixth session).
 *
 * The caller writes what it hashes into `message` (a view of the module's memory: a packet with
 * its secret after it fits many times over), then asks for the digest of its first `length`
 * octets. Each secret's HMAC key blocks are hashed once (`hmacMd5Key`). Checked against
 * node:crypto in test/radius/crypto.test.ts.
 *
 * Synchronous and not re-entrant: every call finishes before it returns.
 *
 * @example
 * message.set(header, 0);
 * message.set(secret, header.length);
 * md5Message(header.length + secret.length, out, 0);
 */
import { assetBytes } from "../assets/assets.ts";

// The project's TypeScript libs (ES2022 + @types/node) declare no WebAssembly API (as in
// runtime/filter/wasm.ts): the synchronous parts used here, the same on Node and Deno.
interface SyncWasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, never>) => { exports: unknown };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: SyncWasmApi }).WebAssembly;

interface Md5Exports {
  memory: { readonly buffer: ArrayBuffer };
  data(): number;
  dataBytes(): number;
  out(): number;
  digest(ptr: number, len: number, slot: number): void;
  digestFrom(sa: number, sb: number, sc: number, sd: number, prefix: number, ptr: number, len: number, slot: number): void;
  block(ptr: number, slot: number): void;
}

export const MD5_WASM = "build/radius/md5.wasm";

const wasm = load();
const DATA = wasm.data();
const OUT = wasm.out();
/** The module's memory never grows (it allocates nothing), so these views stay valid. */
const memory = new Uint8Array(wasm.memory.buffer);
const outWords = new Int32Array(wasm.memory.buffer, OUT, 16);

/** Octets of the module's region that are `message`; the rest is this file's own scratch. */
const MESSAGE_BYTES = 65536;
/** Where a message is put together before it is hashed; writing past its end throws RangeError. */
export const message: Uint8Array = memory.subarray(DATA, DATA + MESSAGE_BYTES);
/** Where `md5` and `hmacMd5Key` work, so that neither overwrites a message being put together. */
const SCRATCH = DATA + MESSAGE_BYTES;
const scratch = memory.subarray(SCRATCH, DATA + wasm.dataBytes());

/** An HMAC-MD5 key with its inner and outer key blocks already hashed (RFC 2104 §2): MD5 states. */
export interface HmacMd5Key {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

function load(): Md5Exports {
  let bytes: Uint8Array;
  try {
    bytes = assetBytes(MD5_WASM);
  } catch (e) {
    throw new Error(`RADIUS needs ${MD5_WASM} (MD5): build it with \`npm run build:filters\` (${(e as Error).message})`, { cause: e });
  }
  // Synchronous: a module of a few KiB compiles in well under a millisecond, once, at import.
  return new WebAssemblyApi.Instance(new WebAssemblyApi.Module(bytes), {}).exports as Md5Exports;
}

/** The 16 octets the module wrote to output slot `slot`, copied to `out[offset]`. */
function copyOut(slot: number, out: Uint8Array, offset: number): void {
  const from = OUT + slot * 16;
  for (let i = 0; i < 16; i++) out[offset + i] = memory[from + i];
}

/** MD5 of `message[0, length)`, written at `out[offset]`. */
export function md5Message(length: number, out: Uint8Array, offset: number): void {
  wasm.digest(DATA, length, 0);
  copyOut(0, out, offset);
}

/** HMAC-MD5 of `message[0, length)` under `key`, written at `out[offset]`. */
export function hmacMessage(key: HmacMd5Key, length: number, out: Uint8Array, offset: number): void {
  const { inner, outer } = key;
  // The inner digest to slot 1, then the outer hash over it (64 octets of key block before each).
  wasm.digestFrom(inner[0], inner[1], inner[2], inner[3], 64, DATA, length, 1);
  wasm.digestFrom(outer[0], outer[1], outer[2], outer[3], 64, OUT + 16, 16, 0);
  copyOut(0, out, offset);
}

/** MD5 of the parts one after the other, as a new 16-octet array (`message` is left as it is). */
export function md5(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) {
    scratch.set(p, length);
    length += p.length;
  }
  wasm.digest(SCRATCH, length, 0);
  const out = new Uint8Array(16);
  copyOut(0, out, 0);
  return out;
}

/** The key's inner and outer key blocks hashed (`message` is left as it is). */
export function hmacMd5Key(key: Uint8Array): HmacMd5Key {
  // RFC 2104 §2: a key longer than the block is replaced by its MD5.
  const k = key.length > 64 ? md5(key) : key;
  const state = (pad: number) => {
    scratch.fill(pad, 0, 64);
    for (let i = 0; i < k.length; i++) scratch[i] = k[i] ^ pad;
    wasm.block(SCRATCH, 0);
    return outWords.slice(0, 4);
  };
  return { inner: state(0x36), outer: state(0x5c) };
}
