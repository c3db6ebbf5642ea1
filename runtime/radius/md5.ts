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
    const x = X;
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    let t: number;
    // The 64 steps of RFC 1321 §3.4 unrolled (generated): a = b + ((a + F(b, c, d) + X[k] + T[i]) <<< s),
    // then the variables rotate (a, b, c, d) = (d, a', b, c). Rounds use F, G, H, I in turn.
    t = (a + ((b & c) | (~b & d)) + x[0] + T[0]) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x[1] + T[1]) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x[2] + T[2]) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x[3] + T[3]) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + x[4] + T[4]) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x[5] + T[5]) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x[6] + T[6]) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x[7] + T[7]) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + x[8] + T[8]) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x[9] + T[9]) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x[10] + T[10]) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x[11] + T[11]) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + x[12] + T[12]) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x[13] + T[13]) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x[14] + T[14]) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x[15] + T[15]) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x[1] + T[16]) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x[6] + T[17]) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x[11] + T[18]) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x[0] + T[19]) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x[5] + T[20]) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x[10] + T[21]) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x[15] + T[22]) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x[4] + T[23]) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x[9] + T[24]) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x[14] + T[25]) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x[3] + T[26]) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x[8] + T[27]) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x[13] + T[28]) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x[2] + T[29]) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x[7] + T[30]) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x[12] + T[31]) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + (b ^ c ^ d) + x[5] + T[32]) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x[8] + T[33]) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x[11] + T[34]) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x[14] + T[35]) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x[1] + T[36]) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x[4] + T[37]) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x[7] + T[38]) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x[10] + T[39]) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x[13] + T[40]) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x[0] + T[41]) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x[3] + T[42]) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x[6] + T[43]) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x[9] + T[44]) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x[12] + T[45]) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x[15] + T[46]) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x[2] + T[47]) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (c ^ (b | ~d)) + x[0] + T[48]) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x[7] + T[49]) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x[14] + T[50]) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x[5] + T[51]) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x[12] + T[52]) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x[3] + T[53]) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x[10] + T[54]) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x[1] + T[55]) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x[8] + T[56]) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x[15] + T[57]) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x[6] + T[58]) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x[13] + T[59]) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x[4] + T[60]) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x[11] + T[61]) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x[2] + T[62]) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x[9] + T[63]) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
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
