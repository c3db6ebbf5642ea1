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

  /**
   * The 64 steps of RFC 1321 §3.4, unrolled (generated): a = b + ((a + F(b, c, d) + X[k] + T[i]) <<< s),
   * then the variables rotate (a, b, c, d) = (d, a', b, c); rounds use F, G, H, I in turn. T[i] =
   * floor(2^32 * abs(sin(i + 1))) written as int32 literals, and the block's 16 little-endian words
   * in locals: no table loads, about 20 % less time per block than with Int32Array tables
   * (docs/benchmarks.md, RADIUS control plane, fifth session).
   */
  private compress(data: Uint8Array, at: number): void {
    const x0 = data[at + 0] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24);
    const x1 = data[at + 4] | (data[at + 5] << 8) | (data[at + 6] << 16) | (data[at + 7] << 24);
    const x2 = data[at + 8] | (data[at + 9] << 8) | (data[at + 10] << 16) | (data[at + 11] << 24);
    const x3 = data[at + 12] | (data[at + 13] << 8) | (data[at + 14] << 16) | (data[at + 15] << 24);
    const x4 = data[at + 16] | (data[at + 17] << 8) | (data[at + 18] << 16) | (data[at + 19] << 24);
    const x5 = data[at + 20] | (data[at + 21] << 8) | (data[at + 22] << 16) | (data[at + 23] << 24);
    const x6 = data[at + 24] | (data[at + 25] << 8) | (data[at + 26] << 16) | (data[at + 27] << 24);
    const x7 = data[at + 28] | (data[at + 29] << 8) | (data[at + 30] << 16) | (data[at + 31] << 24);
    const x8 = data[at + 32] | (data[at + 33] << 8) | (data[at + 34] << 16) | (data[at + 35] << 24);
    const x9 = data[at + 36] | (data[at + 37] << 8) | (data[at + 38] << 16) | (data[at + 39] << 24);
    const x10 = data[at + 40] | (data[at + 41] << 8) | (data[at + 42] << 16) | (data[at + 43] << 24);
    const x11 = data[at + 44] | (data[at + 45] << 8) | (data[at + 46] << 16) | (data[at + 47] << 24);
    const x12 = data[at + 48] | (data[at + 49] << 8) | (data[at + 50] << 16) | (data[at + 51] << 24);
    const x13 = data[at + 52] | (data[at + 53] << 8) | (data[at + 54] << 16) | (data[at + 55] << 24);
    const x14 = data[at + 56] | (data[at + 57] << 8) | (data[at + 58] << 16) | (data[at + 59] << 24);
    const x15 = data[at + 60] | (data[at + 61] << 8) | (data[at + 62] << 16) | (data[at + 63] << 24);
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    let t: number;
    t = (a + ((b & c) | (~b & d)) + x0 + -680876936) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x1 + -389564586) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x2 + 606105819) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x3 + -1044525330) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + x4 + -176418897) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x5 + 1200080426) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x6 + -1473231341) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x7 + -45705983) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + x8 + 1770035416) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x9 + -1958414417) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x10 + -42063) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x11 + -1990404162) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + x12 + 1804603682) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + x13 + -40341101) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + x14 + -1502002290) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + x15 + 1236535329) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x1 + -165796510) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x6 + -1069501632) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x11 + 643717713) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x0 + -373897302) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x5 + -701558691) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x10 + 38016083) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x15 + -660478335) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x4 + -405537848) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x9 + 568446438) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x14 + -1019803690) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x3 + -187363961) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x8 + 1163531501) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + x13 + -1444681467) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + x2 + -51403784) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + x7 + 1735328473) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + x12 + -1926607734) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + (b ^ c ^ d) + x5 + -378558) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x8 + -2022574463) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x11 + 1839030562) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x14 + -35309556) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x1 + -1530992060) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x4 + 1272893353) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x7 + -155497632) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x10 + -1094730640) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x13 + 681279174) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x0 + -358537222) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x3 + -722521979) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x6 + 76029189) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x9 + -640364487) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x12 + -421815835) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x15 + 530742520) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x2 + -995338651) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (c ^ (b | ~d)) + x0 + -198630844) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x7 + 1126891415) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x14 + -1416354905) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x5 + -57434055) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x12 + 1700485571) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x3 + -1894986606) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x10 + -1051523) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x1 + -2054922799) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x8 + 1873313359) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x15 + -30611744) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x6 + -1560198380) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x13 + 1309151649) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x4 + -145523070) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x11 + -1120210379) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x2 + 718787259) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x9 + -343485551) | 0;
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
