/**
 * JunosE Med-Dev-Handle (ERX VSA 26-4874-59) and the mirror header's session ID
 * (spec/li-protocols.md §2.3):
 * - 8 bytes, top two bits 00: word 1 = 30-bit intercept ID, word 2 = session ID;
 * - 4 bytes, top two bits 01: 30-bit intercept ID; the session ID is the low 32 bits of the
 *   Acct-Session-Id when that is a number, else `sessionIdFromAcctSessionId`'s stable hash.
 */

export type MedDevHandle =
  | { format: 8; interceptId: number; sessionId: number }
  | { format: 4; interceptId: number };

export class HandleError extends Error {
  override name = "HandleError";
}

export function parseMedDevHandle(bytes: Uint8Array): MedDevHandle {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 8) {
    const w1 = view.getUint32(0);
    if (w1 >>> 30 !== 0) throw new HandleError(`8-byte Med-Dev-Handle must start with bits 00, found ${(w1 >>> 30).toString(2).padStart(2, "0")}`);
    return { format: 8, interceptId: w1 & 0x3fffffff, sessionId: view.getUint32(4) };
  }
  if (bytes.length === 4) {
    const w1 = view.getUint32(0);
    if (w1 >>> 30 !== 1) throw new HandleError(`4-byte Med-Dev-Handle must start with bits 01, found ${(w1 >>> 30).toString(2).padStart(2, "0")}`);
    return { format: 4, interceptId: w1 & 0x3fffffff };
  }
  throw new HandleError(`Med-Dev-Handle must be 4 or 8 bytes, found ${bytes.length}`);
}

/**
 * The 32-bit session ID for a 4-byte handle. JunosE uses the least significant 32 bits of the
 * Acct-Session-Id; iapd reads a decimal ("123456") or hex Acct-Session-Id as a number and takes its
 * low 32 bits. Hex means "0x" followed by hex digits, or at least 8 hex digits (the fixed-width form
 * many BNGs use, "0001E240"); shorter bare strings such as "abc" are names, not numbers. Any other
 * Acct-Session-Id gets FNV-1a 32-bit over its UTF-8 bytes: stable across restarts and versions.
 */
export function sessionIdFromAcctSessionId(acctSessionId: string): number {
  if (/^\d{1,40}$/.test(acctSessionId)) return Number(BigInt(acctSessionId) & 0xffffffffn);
  const hex = /^(?:0x([0-9a-fA-F]{1,40})|([0-9a-fA-F]{8,40}))$/.exec(acctSessionId);
  if (hex) return Number(BigInt(`0x${hex[1] ?? hex[2]}`) & 0xffffffffn);
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(acctSessionId)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Intercept and session ID for a handle on a given subscriber session. */
export function mirrorIds(handle: MedDevHandle, acctSessionId: string): { interceptId: number; sessionId: number } {
  return handle.format === 8
    ? { interceptId: handle.interceptId, sessionId: handle.sessionId }
    : { interceptId: handle.interceptId, sessionId: sessionIdFromAcctSessionId(acctSessionId) };
}
