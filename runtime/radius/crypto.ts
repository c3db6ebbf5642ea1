/**
 * RADIUS cryptography: authenticators, Message-Authenticator, User-Password hiding and RFC 2868 salt
 * encryption. MD5 and HMAC-MD5 are md5.ts's (WebAssembly: what is hashed is copied into its
 * memory, no object per packet); node:crypto (also provided by Deno 2) supplies random octets.
 *
 * Functions take the packet octets and the 16 octets that belong in the authenticator field while
 * hashing; `authenticatorBasisFor` and `saltKeyFor` state which octets those are per packet code.
 */
import { randomBytes } from "node:crypto";
import { codeName, isNonceRequestCode, isResponseCode, type PacketCode } from "./codes.ts";
import { RadiusDecodeError, RadiusEncodeError } from "./errors.ts";
import { AUTHENTICATOR_LENGTH, AUTHENTICATOR_OFFSET, HEADER_LENGTH } from "./packet.ts";
import { hmacMd5Key, hmacMessage, md5, md5Message, message, type HmacMd5Key } from "./md5.ts";

/** A shared secret; strings are used as their UTF-8 octets, as FreeRADIUS reads them from clients.conf. */
export type Secret = string | Uint8Array;

const BLOCK = 16;
/** RFC 2865 §5.2: the password is at most 128 octets. */
const MAX_PASSWORD_LENGTH = 128;
/** RFC 2868 §3.5: 15 blocks minus the length octet is the most one attribute can hold. */
const MAX_SALT_VALUE_LENGTH = 239;

const utf8 = new TextEncoder();
/** Secrets come from the configuration: few, and each is encoded (and its HMAC key prepared) once. Bounded all the same. */
const preparedSecrets = new Map<string, { bytes: Uint8Array; hmac: HmacMd5Key }>();

function secretBytes(secret: Secret): Uint8Array {
  return typeof secret === "string" ? prepared(secret).bytes : secret;
}

function hmacKey(secret: Secret): HmacMd5Key {
  return typeof secret === "string" ? prepared(secret).hmac : hmacMd5Key(secret);
}

function prepared(secret: string): { bytes: Uint8Array; hmac: HmacMd5Key } {
  let entry = preparedSecrets.get(secret);
  if (entry === undefined) {
    if (preparedSecrets.size >= 256) preparedSecrets.clear();
    const bytes = utf8.encode(secret);
    preparedSecrets.set(secret, (entry = { bytes, hmac: hmacMd5Key(bytes) }));
  }
  return entry;
}

/** Where the verify functions compute what they compare. */
const computed = new Uint8Array(AUTHENTICATOR_LENGTH);

/**
 * Whether the 16 octets at `bytes[at]` are `expected`, in time that does not depend on where they
 * differ (no early exit). In JavaScript rather than node:crypto's timingSafeEqual, whose binding
 * call and the view it needs cost more than the comparison (two per accounting request).
 */
function equalAt(bytes: Uint8Array, at: number, expected: Uint8Array): boolean {
  if (expected.length !== BLOCK || bytes.length < at + BLOCK) return false;
  let difference = 0;
  for (let i = 0; i < BLOCK; i++) difference |= bytes[at + i] ^ expected[i];
  return difference === 0;
}

/** A fresh Request Authenticator for an Access-Request or Status-Server: 16 unpredictable octets (RFC 2865 §3). */
export function randomAuthenticator(): Uint8Array {
  return new Uint8Array(randomBytes(AUTHENTICATOR_LENGTH));
}

/**
 * The 16 octets that sit in the authenticator field while a packet is hashed or HMAC'd, and the R of
 * RFC 2868 §3.5:
 * - a response (Access-Accept/Reject/Challenge, Accounting-Response, CoA/Disconnect ACK/NAK): the
 *   Request Authenticator of the request it answers (RFC 2865 §3, RFC 3579 §3.2);
 * - Access-Request and Status-Server: their own random Request Authenticator;
 * - Accounting-Request, CoA-Request, Disconnect-Request: 16 zero octets (RFC 2866 §3, RFC 5176 §3.3).
 * `requestAuthenticator` is the request's authenticator for a response and the packet's own for an
 * Access-Request or Status-Server; it is not used for the others.
 */
export function authenticatorBasisFor(code: PacketCode, requestAuthenticator: Uint8Array | undefined): Uint8Array {
  if (!isResponseCode(code) && !isNonceRequestCode(code)) return new Uint8Array(AUTHENTICATOR_LENGTH);
  if (requestAuthenticator?.length !== AUTHENTICATOR_LENGTH) {
    const wanted = isResponseCode(code) ? "authenticator of the request" : "Request Authenticator";
    const found = requestAuthenticator ? `${requestAuthenticator.length} octets` : "none";
    throw new RadiusEncodeError(
      `${codeName(code)}: expected the ${AUTHENTICATOR_LENGTH}-octet ${wanted}, found ${found}`,
    );
  }
  return requestAuthenticator;
}

/**
 * R for RFC 2868 §3.5 salt encryption. RFC 2868 defines it for Access-Accept only: the
 * Access-Request's authenticator. For CoA, Disconnect and Accounting requests FreeRADIUS 3.2
 * (radclient and server, verified in test/radius) uses 16 zero octets, sending and receiving.
 */
export function saltKeyFor(code: PacketCode, requestAuthenticator: Uint8Array | undefined): Uint8Array {
  return authenticatorBasisFor(code, requestAuthenticator);
}

/**
 * MD5(Code | Identifier | Length | basis | Attributes | Secret): the Response Authenticator
 * (RFC 2865 §3) or the hashed Request Authenticator (RFC 2866 §3, RFC 5176 §3.5).
 */
export function computeAuthenticator(bytes: Uint8Array, basis: Uint8Array, secret: Secret): Uint8Array {
  const out = new Uint8Array(AUTHENTICATOR_LENGTH);
  authenticatorInto(bytes, basis, secret, out, 0);
  return out;
}

/**
 * `computeAuthenticator`, written at `out[offset]`. `out` may be `bytes` itself with `offset` its
 * authenticator field (a packet being signed): every octet is hashed before the digest is written.
 */
export function authenticatorInto(bytes: Uint8Array, basis: Uint8Array, secret: Secret, out: Uint8Array, offset: number): void {
  md5Message(signedPacket(bytes, basis, secretBytes(secret)), out, offset);
}

/**
 * The packet as its authenticators cover it, in `message`: `basis` in place of the authenticator
 * field, then `after` (the secret, or nothing). Returns the length. The whole packet is copied once
 * and the field overwritten, rather than copied in pieces. A basis is always 16 octets
 * (`authenticatorBasisFor` gives no other): anything else is a caller's mistake, refused.
 */
function signedPacket(bytes: Uint8Array, basis: Uint8Array, after: Uint8Array | undefined): number {
  if (bytes.length < HEADER_LENGTH) throw new RangeError(`a RADIUS packet has at least ${HEADER_LENGTH} octets, found ${bytes.length}`);
  if (basis.length !== AUTHENTICATOR_LENGTH) throw new RangeError(`an authenticator basis has ${AUTHENTICATOR_LENGTH} octets, found ${basis.length}`);
  message.set(bytes, 0);
  message.set(basis, AUTHENTICATOR_OFFSET);
  if (!after) return bytes.length;
  message.set(after, bytes.length);
  return bytes.length + after.length;
}

/**
 * HMAC-MD5 under the secret of `message[0, length)`, the packet `signedPacket` put there, with the
 * Message-Authenticator value at `offset` zeroed first (RFC 3579 §3.2).
 */
function messageAuthenticatorOfMessage(length: number, offset: number, secret: Secret, out: Uint8Array): void {
  message.fill(0, offset, Math.min(offset + BLOCK, length));
  hmacMessage(hmacKey(secret), length, out, 0);
}

/** Whether the authenticator in `bytes` is the one `computeAuthenticator` gives. */
export function verifyAuthenticator(bytes: Uint8Array, basis: Uint8Array, secret: Secret): boolean {
  authenticatorInto(bytes, basis, secret, computed, 0);
  return equalAt(bytes, AUTHENTICATOR_OFFSET, computed);
}

/**
 * HMAC-MD5 keyed with the secret over the packet with `basis` in the authenticator field and the
 * Message-Authenticator value (at `offset`) zeroed (RFC 3579 §3.2, RFC 5176 §3.3). Compute it before
 * the packet's own authenticator, which covers it.
 */
export function computeMessageAuthenticator(
  bytes: Uint8Array,
  offset: number,
  basis: Uint8Array,
  secret: Secret,
): Uint8Array {
  const out = new Uint8Array(BLOCK);
  messageAuthenticatorInto(bytes, offset, basis, secret, out);
  return out;
}

/** The packet as signed: `basis` for the authenticator field, zeros for the value at `offset`. */
function messageAuthenticatorInto(bytes: Uint8Array, offset: number, basis: Uint8Array, secret: Secret, out: Uint8Array): void {
  messageAuthenticatorOfMessage(signedPacket(bytes, basis, undefined), offset, secret, out);
}

export function verifyMessageAuthenticator(
  bytes: Uint8Array,
  offset: number,
  basis: Uint8Array,
  secret: Secret,
): boolean {
  messageAuthenticatorInto(bytes, offset, basis, secret, computed);
  return equalAt(bytes, offset, computed);
}

/**
 * What decoding a packet checks, over one copy of it: the authenticator (`checkAuthenticator`:
 * false for Access-Request and Status-Server, whose authenticator is a nonce), then the
 * Message-Authenticator at `maOffset` when there is one. Returns the first that does not match, or
 * undefined when both do. The same results as `verifyAuthenticator` and then
 * `verifyMessageAuthenticator`, with the packet put into md5.ts's memory once instead of twice.
 */
export function checkAuthenticators(
  bytes: Uint8Array,
  basis: Uint8Array,
  secret: Secret,
  checkAuthenticator: boolean,
  maOffset: number | undefined,
): "authenticator-mismatch" | "message-authenticator-invalid" | undefined {
  const length = signedPacket(bytes, basis, undefined);
  if (checkAuthenticator) {
    const s = secretBytes(secret);
    // The secret after the packet: the Message-Authenticator's HMAC below covers [0, length) only.
    message.set(s, length);
    md5Message(length + s.length, computed, 0);
    if (!equalAt(bytes, AUTHENTICATOR_OFFSET, computed)) return "authenticator-mismatch";
  }
  if (maOffset !== undefined) {
    // After the authenticator, which covers the Message-Authenticator's value as sent.
    messageAuthenticatorOfMessage(length, maOffset, secret, computed);
    if (!equalAt(bytes, maOffset, computed)) return "message-authenticator-invalid";
  }
  return undefined;
}

/** b(1) = MD5(S | first), b(i) = MD5(S | c(i-1)), c(i) = p(i) xor b(i): the chain of RFC 2865 §5.2 and RFC 2868 §3.5. */
function xorChain(input: Uint8Array, first: Uint8Array, secret: Uint8Array, encrypting: boolean): Uint8Array {
  const out = new Uint8Array(input.length);
  let previous = first;
  for (let at = 0; at < input.length; at += BLOCK) {
    const b = md5(secret, previous);
    for (let i = 0; i < BLOCK; i++) out[at + i] = input[at + i] ^ b[i];
    previous = (encrypting ? out : input).subarray(at, at + BLOCK);
  }
  return out;
}

function padToBlocks(data: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(Math.max(BLOCK, Math.ceil((prefix + data.length) / BLOCK) * BLOCK));
  out.set(data, prefix);
  return out;
}

/** RFC 2865 §5.2 User-Password hiding with the Access-Request's authenticator. */
export function encryptUserPassword(
  password: Uint8Array,
  requestAuthenticator: Uint8Array,
  secret: Secret,
): Uint8Array {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new RadiusEncodeError(
      `User-Password: expected at most ${MAX_PASSWORD_LENGTH} octets, found ${password.length}`,
    );
  }
  return xorChain(padToBlocks(password, 0), requestAuthenticator, secretBytes(secret), true);
}

/** Inverse of `encryptUserPassword`; the NUL padding is removed. */
export function decryptUserPassword(hidden: Uint8Array, requestAuthenticator: Uint8Array, secret: Secret): Uint8Array {
  if (hidden.length === 0 || hidden.length % BLOCK !== 0 || hidden.length > MAX_PASSWORD_LENGTH) {
    throw new RadiusDecodeError(
      "password-length",
      `User-Password: expected 16..128 octets in steps of 16, found ${hidden.length}`,
    );
  }
  const plain = xorChain(hidden, requestAuthenticator, secretBytes(secret), false);
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return plain.slice(0, end);
}

/** A random salt with its most significant bit set (RFC 2868 §3.5), different from those in `used`, which it joins. */
export function newSalt(used: Set<number>): Uint8Array {
  for (;;) {
    const salt = new Uint8Array(randomBytes(2));
    salt[0] |= 0x80;
    const n = (salt[0] << 8) | salt[1];
    if (!used.has(n)) {
      used.add(n);
      return salt;
    }
  }
}

/**
 * RFC 2868 §3.5: returns Salt(2) | ciphertext of (length octet | value | zero padding). A tagged
 * attribute puts its tag octet before this; the ERX lawful-intercept VSAs have none.
 */
export function saltEncrypt(
  value: Uint8Array,
  salt: Uint8Array,
  key: Uint8Array,
  secret: Secret,
  label: string,
): Uint8Array {
  if (value.length > MAX_SALT_VALUE_LENGTH) {
    throw new RadiusEncodeError(
      `${label}: expected at most ${MAX_SALT_VALUE_LENGTH} octets to salt-encrypt, found ${value.length}`,
    );
  }
  if (salt.length !== 2 || !(salt[0] & 0x80)) {
    throw new RadiusEncodeError(`${label}: expected a 2-octet salt with its most significant bit set`);
  }
  const plain = padToBlocks(value, 1);
  plain[0] = value.length;
  const s = secretBytes(secret);
  const out = new Uint8Array(2 + plain.length);
  out.set(salt);
  out.set(xorChain(plain, concat(key, salt), s, true), 2);
  return out;
}

/** Inverse of `saltEncrypt`: `data` is Salt(2) | ciphertext. */
export function saltDecrypt(data: Uint8Array, key: Uint8Array, secret: Secret, label: string): Uint8Array {
  const cipherLength = data.length - 2;
  if (cipherLength < BLOCK || cipherLength % BLOCK !== 0) {
    throw new RadiusDecodeError(
      "salt-length",
      `${label}: expected salt + a multiple of 16 octets, found salt + ${Math.max(0, cipherLength)}`,
    );
  }
  if (!(data[0] & 0x80)) {
    throw new RadiusDecodeError("salt-msb", `${label}: expected the salt's most significant bit set, found it clear`);
  }
  const plain = xorChain(data.subarray(2), concat(key, data.subarray(0, 2)), secretBytes(secret), false);
  const length = plain[0];
  if (length > plain.length - 1) {
    throw new RadiusDecodeError(
      "salt-inner-length",
      `${label}: decrypted length octet exceeds the ${plain.length - 1} octets of data (wrong secret or wrong R?)`,
    );
  }
  return plain.slice(1, 1 + length);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
