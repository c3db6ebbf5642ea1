/**
 * MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) over byte ranges, written for RADIUS's hot path: every
 * accounting request costs an authenticator check, a Message-Authenticator check and a signed
 * reply. node:crypto needs a new Hash or Hmac object (and a digest Buffer) for each of them, which
 * cost several times the hashing itself for packets of a few blocks; this keeps one state, hashes
 * the packet's pieces in place (no copy with the authenticator field replaced), and keeps each
 * secret's HMAC key blocks pre-hashed. Checked against node:crypto in test/radius/crypto.test.ts.
 *
 * Synchronous and not re-entrant: every call finishes before it returns.
 *
 * @example
 * const md5 = new Md5();
 * md5.update(header, 0, 4).update(basis, 0, 16).digestInto(out, 0);
 */

/** T[i] = floor(2^32 * abs(sin(i + 1))) (RFC 1321 §3.4). */
const T = new Int32Array(64);
for (let i = 0; i < 64; i++) T[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0;

const S1 = [7, 12, 17, 22];
const S2 = [5, 9, 14, 20];
const S3 = [4, 11, 16, 23];
const S4 = [6, 10, 15, 21];

/** The 16 little-endian words of the block being processed. */
const X = new Int32Array(16);

export class Md5 {
  private a = 0x67452301;
  private b = 0xefcdab89 | 0;
  private c = 0x98badcfe | 0;
  private d = 0x10325476;
  private readonly block = new Uint8Array(64);
  private buffered = 0;
  /** Octets hashed so far (a packet is at most 4096, so a number is exact). */
  private length = 0;

  /** Back to the initial state, or to a saved one (`saveState`), e.g. after an HMAC key block. */
  reset(state?: Int32Array, length = 0): this {
    if (state) {
      this.a = state[0];
      this.b = state[1];
      this.c = state[2];
      this.d = state[3];
    } else {
      this.a = 0x67452301;
      this.b = 0xefcdab89 | 0;
      this.c = 0x98badcfe | 0;
      this.d = 0x10325476;
    }
    this.buffered = 0;
    this.length = length;
    return this;
  }

  /** The chaining state; only meaningful on a block boundary (nothing buffered). */
  saveState(): Int32Array {
    if (this.buffered !== 0) throw new Error("md5: state saved between block boundaries");
    return Int32Array.of(this.a, this.b, this.c, this.d);
  }

  update(data: Uint8Array, start = 0, end = data.length): this {
    if (end <= start) return this;
    this.length += end - start;
    let at = start;
    const block = this.block;
    // Pieces are small (a header, an authenticator, a secret): copied octet by octet, no views.
    if (this.buffered > 0) {
      let buffered = this.buffered;
      while (buffered < 64 && at < end) block[buffered++] = data[at++];
      this.buffered = buffered;
      if (buffered < 64) return this;
      this.compress(block, 0);
      this.buffered = 0;
    }
    for (; at + 64 <= end; at += 64) this.compress(data, at);
    let buffered = 0;
    while (at < end) block[buffered++] = data[at++];
    this.buffered = buffered;
    return this;
  }

  /** `count` zero octets. */
  zeros(count: number): this {
    this.length += count;
    while (count > 0) {
      const take = Math.min(64 - this.buffered, count);
      this.block.fill(0, this.buffered, this.buffered + take);
      this.buffered += take;
      count -= take;
      if (this.buffered === 64) {
        this.compress(this.block, 0);
        this.buffered = 0;
      }
    }
    return this;
  }

  /** Pads, writes the 16-octet digest at `out[offset]`, and resets. */
  digestInto(out: Uint8Array, offset: number): void {
    const bits = this.length * 8;
    const block = this.block;
    block[this.buffered++] = 0x80;
    if (this.buffered > 56) {
      block.fill(0, this.buffered, 64);
      this.compress(block, 0);
      this.buffered = 0;
    }
    block.fill(0, this.buffered, 56);
    // Length in bits, 64-bit little-endian.
    const low = bits >>> 0;
    const high = Math.floor(bits / 0x100000000) >>> 0;
    block[56] = low;
    block[57] = low >>> 8;
    block[58] = low >>> 16;
    block[59] = low >>> 24;
    block[60] = high;
    block[61] = high >>> 8;
    block[62] = high >>> 16;
    block[63] = high >>> 24;
    this.compress(block, 0);
    const words = [this.a, this.b, this.c, this.d];
    for (let i = 0; i < 4; i++) {
      const w = words[i];
      out[offset + 4 * i] = w;
      out[offset + 4 * i + 1] = w >>> 8;
      out[offset + 4 * i + 2] = w >>> 16;
      out[offset + 4 * i + 3] = w >>> 24;
    }
    this.reset();
  }

  private compress(data: Uint8Array, at: number): void {
    for (let i = 0; i < 16; i++) {
      const o = at + 4 * i;
      X[i] = data[o] | (data[o + 1] << 8) | (data[o + 2] << 16) | (data[o + 3] << 24);
    }
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    let t: number;
    // Round 1: F(b, c, d) = (b & c) | (~b & d), word i.
    for (let i = 0; i < 16; i++) {
      t = (a + ((b & c) | (~b & d)) + X[i] + T[i]) | 0;
      const s = S1[i & 3];
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    // Round 2: G(b, c, d) = (b & d) | (c & ~d), word (5i + 1) mod 16.
    for (let i = 16; i < 32; i++) {
      t = (a + ((b & d) | (c & ~d)) + X[(5 * i + 1) & 15] + T[i]) | 0;
      const s = S2[i & 3];
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    // Round 3: H(b, c, d) = b ^ c ^ d, word (3i + 5) mod 16.
    for (let i = 32; i < 48; i++) {
      t = (a + (b ^ c ^ d) + X[(3 * i + 5) & 15] + T[i]) | 0;
      const s = S3[i & 3];
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    // Round 4: I(b, c, d) = c ^ (b | ~d), word 7i mod 16.
    for (let i = 48; i < 64; i++) {
      t = (a + (c ^ (b | ~d)) + X[(7 * i) & 15] + T[i]) | 0;
      const s = S4[i & 3];
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    this.a = (this.a + a) | 0;
    this.b = (this.b + b) | 0;
    this.c = (this.c + c) | 0;
    this.d = (this.d + d) | 0;
  }
}

/** An HMAC-MD5 key with its inner and outer key blocks already hashed (RFC 2104 §2). */
export interface HmacMd5Key {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

export function hmacMd5Key(key: Uint8Array): HmacMd5Key {
  const md5 = new Md5();
  let k = key;
  if (k.length > 64) {
    k = new Uint8Array(16);
    md5.update(key).digestInto(k, 0);
  }
  const pad = new Uint8Array(64);
  pad.set(k);
  const inner = md5.reset().update(pad.map((b) => b ^ 0x36)).saveState();
  const outer = md5.reset().update(pad.map((b) => b ^ 0x5c)).saveState();
  md5.reset();
  return { inner, outer };
}

/** Starts an HMAC: `md5` continues from the inner key block; feed the message, then `finishHmac`. */
export function startHmac(md5: Md5, key: HmacMd5Key): Md5 {
  return md5.reset(key.inner, 64);
}

const innerDigest = new Uint8Array(16);

/** Ends the HMAC started by `startHmac`, writing the 16-octet result at `out[offset]`. */
export function finishHmac(md5: Md5, key: HmacMd5Key, out: Uint8Array, offset: number): void {
  md5.digestInto(innerDigest, 0);
  md5.reset(key.outer, 64).update(innerDigest).digestInto(out, offset);
}
