/**
 * MD5 (RFC 1321) for the RADIUS layer (runtime/radius/md5.ts loads it): every accounting request
 * costs a Request Authenticator, a Message-Authenticator (HMAC-MD5) and a signed reply, and in
 * WebAssembly that takes about a third less CPU than in JavaScript (docs/benchmarks.md, RADIUS
 * control plane, sixth session). The caller copies what it hashes into `data()` and reads
 * the 16-octet digest back from the `out` address it passed.
 *
 * No allocation: the memory never grows, so the caller's views of it stay valid.
 */

/**
 * The caller's region: a message (a packet of 4096 octets at most and the secret after it) in its
 * first 64 KiB, and the caller's scratch (HMAC key blocks, small MD5s) in the rest.
 */
const DATA_BYTES: usize = 98304;
const DATA: usize = memory.data(<i32>DATA_BYTES, 16);
/** The last, padded block(s) of a message. */
const TAIL: usize = memory.data(128, 16);
/** Digests and states the caller reads: four slots of 16 octets. */
const OUT: usize = memory.data(64, 16);

let A: u32 = 0;
let B: u32 = 0;
let C: u32 = 0;
let D: u32 = 0;

export function data(): usize {
  return DATA;
}

export function dataBytes(): usize {
  return DATA_BYTES;
}

export function out(): usize {
  return OUT;
}

/**
 * The 64 steps of RFC 1321 §3.4 over the block at `p`, unrolled: a = b + ((a + F(b, c, d) + X[k] +
 * T[i]) <<< s), the variables rotating (a, b, c, d) = (d, a', b, c); rounds use F, G, H, I in turn;
 * T[i] = floor(2^32 * abs(sin(i + 1))). Generated once (the same formulas as the JavaScript MD5
 * this replaced); checked against node:crypto in test/radius/crypto.test.ts.
 */
// @ts-ignore: decorator
@inline
function compress(p: usize): void {
  const x0 = load<u32>(p, 0);
  const x1 = load<u32>(p, 4);
  const x2 = load<u32>(p, 8);
  const x3 = load<u32>(p, 12);
  const x4 = load<u32>(p, 16);
  const x5 = load<u32>(p, 20);
  const x6 = load<u32>(p, 24);
  const x7 = load<u32>(p, 28);
  const x8 = load<u32>(p, 32);
  const x9 = load<u32>(p, 36);
  const x10 = load<u32>(p, 40);
  const x11 = load<u32>(p, 44);
  const x12 = load<u32>(p, 48);
  const x13 = load<u32>(p, 52);
  const x14 = load<u32>(p, 56);
  const x15 = load<u32>(p, 60);
  let a = A;
  let b = B;
  let c = C;
  let d = D;
  let t: u32;
  t = a + ((b & c) | (~b & d)) + x0 + 0xd76aa478;
  a = b + rotl<u32>(t, 7);
  t = d + ((a & b) | (~a & c)) + x1 + 0xe8c7b756;
  d = a + rotl<u32>(t, 12);
  t = c + ((d & a) | (~d & b)) + x2 + 0x242070db;
  c = d + rotl<u32>(t, 17);
  t = b + ((c & d) | (~c & a)) + x3 + 0xc1bdceee;
  b = c + rotl<u32>(t, 22);
  t = a + ((b & c) | (~b & d)) + x4 + 0xf57c0faf;
  a = b + rotl<u32>(t, 7);
  t = d + ((a & b) | (~a & c)) + x5 + 0x4787c62a;
  d = a + rotl<u32>(t, 12);
  t = c + ((d & a) | (~d & b)) + x6 + 0xa8304613;
  c = d + rotl<u32>(t, 17);
  t = b + ((c & d) | (~c & a)) + x7 + 0xfd469501;
  b = c + rotl<u32>(t, 22);
  t = a + ((b & c) | (~b & d)) + x8 + 0x698098d8;
  a = b + rotl<u32>(t, 7);
  t = d + ((a & b) | (~a & c)) + x9 + 0x8b44f7af;
  d = a + rotl<u32>(t, 12);
  t = c + ((d & a) | (~d & b)) + x10 + 0xffff5bb1;
  c = d + rotl<u32>(t, 17);
  t = b + ((c & d) | (~c & a)) + x11 + 0x895cd7be;
  b = c + rotl<u32>(t, 22);
  t = a + ((b & c) | (~b & d)) + x12 + 0x6b901122;
  a = b + rotl<u32>(t, 7);
  t = d + ((a & b) | (~a & c)) + x13 + 0xfd987193;
  d = a + rotl<u32>(t, 12);
  t = c + ((d & a) | (~d & b)) + x14 + 0xa679438e;
  c = d + rotl<u32>(t, 17);
  t = b + ((c & d) | (~c & a)) + x15 + 0x49b40821;
  b = c + rotl<u32>(t, 22);
  t = a + ((b & d) | (c & ~d)) + x1 + 0xf61e2562;
  a = b + rotl<u32>(t, 5);
  t = d + ((a & c) | (b & ~c)) + x6 + 0xc040b340;
  d = a + rotl<u32>(t, 9);
  t = c + ((d & b) | (a & ~b)) + x11 + 0x265e5a51;
  c = d + rotl<u32>(t, 14);
  t = b + ((c & a) | (d & ~a)) + x0 + 0xe9b6c7aa;
  b = c + rotl<u32>(t, 20);
  t = a + ((b & d) | (c & ~d)) + x5 + 0xd62f105d;
  a = b + rotl<u32>(t, 5);
  t = d + ((a & c) | (b & ~c)) + x10 + 0x02441453;
  d = a + rotl<u32>(t, 9);
  t = c + ((d & b) | (a & ~b)) + x15 + 0xd8a1e681;
  c = d + rotl<u32>(t, 14);
  t = b + ((c & a) | (d & ~a)) + x4 + 0xe7d3fbc8;
  b = c + rotl<u32>(t, 20);
  t = a + ((b & d) | (c & ~d)) + x9 + 0x21e1cde6;
  a = b + rotl<u32>(t, 5);
  t = d + ((a & c) | (b & ~c)) + x14 + 0xc33707d6;
  d = a + rotl<u32>(t, 9);
  t = c + ((d & b) | (a & ~b)) + x3 + 0xf4d50d87;
  c = d + rotl<u32>(t, 14);
  t = b + ((c & a) | (d & ~a)) + x8 + 0x455a14ed;
  b = c + rotl<u32>(t, 20);
  t = a + ((b & d) | (c & ~d)) + x13 + 0xa9e3e905;
  a = b + rotl<u32>(t, 5);
  t = d + ((a & c) | (b & ~c)) + x2 + 0xfcefa3f8;
  d = a + rotl<u32>(t, 9);
  t = c + ((d & b) | (a & ~b)) + x7 + 0x676f02d9;
  c = d + rotl<u32>(t, 14);
  t = b + ((c & a) | (d & ~a)) + x12 + 0x8d2a4c8a;
  b = c + rotl<u32>(t, 20);
  t = a + (b ^ c ^ d) + x5 + 0xfffa3942;
  a = b + rotl<u32>(t, 4);
  t = d + (a ^ b ^ c) + x8 + 0x8771f681;
  d = a + rotl<u32>(t, 11);
  t = c + (d ^ a ^ b) + x11 + 0x6d9d6122;
  c = d + rotl<u32>(t, 16);
  t = b + (c ^ d ^ a) + x14 + 0xfde5380c;
  b = c + rotl<u32>(t, 23);
  t = a + (b ^ c ^ d) + x1 + 0xa4beea44;
  a = b + rotl<u32>(t, 4);
  t = d + (a ^ b ^ c) + x4 + 0x4bdecfa9;
  d = a + rotl<u32>(t, 11);
  t = c + (d ^ a ^ b) + x7 + 0xf6bb4b60;
  c = d + rotl<u32>(t, 16);
  t = b + (c ^ d ^ a) + x10 + 0xbebfbc70;
  b = c + rotl<u32>(t, 23);
  t = a + (b ^ c ^ d) + x13 + 0x289b7ec6;
  a = b + rotl<u32>(t, 4);
  t = d + (a ^ b ^ c) + x0 + 0xeaa127fa;
  d = a + rotl<u32>(t, 11);
  t = c + (d ^ a ^ b) + x3 + 0xd4ef3085;
  c = d + rotl<u32>(t, 16);
  t = b + (c ^ d ^ a) + x6 + 0x04881d05;
  b = c + rotl<u32>(t, 23);
  t = a + (b ^ c ^ d) + x9 + 0xd9d4d039;
  a = b + rotl<u32>(t, 4);
  t = d + (a ^ b ^ c) + x12 + 0xe6db99e5;
  d = a + rotl<u32>(t, 11);
  t = c + (d ^ a ^ b) + x15 + 0x1fa27cf8;
  c = d + rotl<u32>(t, 16);
  t = b + (c ^ d ^ a) + x2 + 0xc4ac5665;
  b = c + rotl<u32>(t, 23);
  t = a + (c ^ (b | ~d)) + x0 + 0xf4292244;
  a = b + rotl<u32>(t, 6);
  t = d + (b ^ (a | ~c)) + x7 + 0x432aff97;
  d = a + rotl<u32>(t, 10);
  t = c + (a ^ (d | ~b)) + x14 + 0xab9423a7;
  c = d + rotl<u32>(t, 15);
  t = b + (d ^ (c | ~a)) + x5 + 0xfc93a039;
  b = c + rotl<u32>(t, 21);
  t = a + (c ^ (b | ~d)) + x12 + 0x655b59c3;
  a = b + rotl<u32>(t, 6);
  t = d + (b ^ (a | ~c)) + x3 + 0x8f0ccc92;
  d = a + rotl<u32>(t, 10);
  t = c + (a ^ (d | ~b)) + x10 + 0xffeff47d;
  c = d + rotl<u32>(t, 15);
  t = b + (d ^ (c | ~a)) + x1 + 0x85845dd1;
  b = c + rotl<u32>(t, 21);
  t = a + (c ^ (b | ~d)) + x8 + 0x6fa87e4f;
  a = b + rotl<u32>(t, 6);
  t = d + (b ^ (a | ~c)) + x15 + 0xfe2ce6e0;
  d = a + rotl<u32>(t, 10);
  t = c + (a ^ (d | ~b)) + x6 + 0xa3014314;
  c = d + rotl<u32>(t, 15);
  t = b + (d ^ (c | ~a)) + x13 + 0x4e0811a1;
  b = c + rotl<u32>(t, 21);
  t = a + (c ^ (b | ~d)) + x4 + 0xf7537e82;
  a = b + rotl<u32>(t, 6);
  t = d + (b ^ (a | ~c)) + x11 + 0xbd3af235;
  d = a + rotl<u32>(t, 10);
  t = c + (a ^ (d | ~b)) + x2 + 0x2ad7d2bb;
  c = d + rotl<u32>(t, 15);
  t = b + (d ^ (c | ~a)) + x9 + 0xeb86d391;
  b = c + rotl<u32>(t, 21);
  A += a;
  B += b;
  C += c;
  D += d;
}

/**
 * MD5 of `len` octets at `ptr`, continuing from the state (sa, sb, sc, sd) after `prefix` octets
 * (a multiple of 64: 0 and the initial state for a plain MD5, 64 and a key block's state for
 * HMAC). The digest goes to `OUT + slot * 16`.
 */
export function digestFrom(sa: u32, sb: u32, sc: u32, sd: u32, prefix: u32, ptr: usize, len: u32, slot: u32): void {
  A = sa;
  B = sb;
  C = sc;
  D = sd;
  const end = ptr + <usize>len;
  let p = ptr;
  while (p + 64 <= end) {
    compress(p);
    p += 64;
  }
  const rest = <u32>(end - p);
  memory.copy(TAIL, p, rest);
  store<u8>(TAIL + rest, 0x80);
  // The 0x80 and the 8-octet length fit after the rest in one block, or take a second.
  const blocks: u32 = rest < 56 ? 1 : 2;
  memory.fill(TAIL + rest + 1, 0, blocks * 64 - 8 - rest - 1);
  store<u64>(TAIL + blocks * 64 - 8, (<u64>prefix + <u64>len) << 3);
  compress(TAIL);
  if (blocks === 2) compress(TAIL + 64);
  writeState(slot);
}

/** `digestFrom` from the initial state. */
export function digest(ptr: usize, len: u32, slot: u32): void {
  digestFrom(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0, ptr, len, slot);
}

/** The state after the one block at `ptr` (no padding: an HMAC key block), to `OUT + slot * 16`. */
export function block(ptr: usize, slot: u32): void {
  A = 0x67452301;
  B = 0xefcdab89;
  C = 0x98badcfe;
  D = 0x10325476;
  compress(ptr);
  writeState(slot);
}

// @ts-ignore: decorator
@inline
function writeState(slot: u32): void {
  const at = OUT + (<usize>slot << 4);
  store<u32>(at, A);
  store<u32>(at, B, 4);
  store<u32>(at, C, 8);
  store<u32>(at, D, 12);
}
