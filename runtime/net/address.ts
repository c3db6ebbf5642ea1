/**
 * IP address and prefix parsing shared by the configuration, the session store and the API.
 *
 * ```ts
 * parsePrefix("2001:db8:100::/56") // { family: 6, bytes: Uint8Array(16) [...], length: 56 }
 * ipv4ToU32("192.0.2.1")           // 0xC0000201
 * ```
 */

export interface Prefix {
  family: 4 | 6;
  /** Network-order bytes: 4 or 16. */
  bytes: Uint8Array;
  /** 0..32 or 0..128. */
  length: number;
}

export class AddressError extends Error {
  override name = "AddressError";
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses dotted-quad IPv4 into 4 bytes, or returns null. */
export function parseIPv4(text: string): Uint8Array | null {
  if (!IPV4.test(text)) return null;
  // The pattern admits only four decimal octets 0..255: read them without split/map.
  const out = new Uint8Array(4);
  let k = 0;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      out[k++] = v;
      v = 0;
    } else v = v * 10 + c - 48;
  }
  out[k] = v;
  return out;
}

/** Parses an IPv6 address (RFC 4291 §2.2 text forms, including `::` and a trailing dotted quad) into 16 bytes, or returns null. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = ipv6Groups(halves[0]);
  const tail = halves.length === 2 ? ipv6Groups(halves[1]) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  // Head, then the zero groups `::` stands for (already zero), then tail.
  const bytes = new Uint8Array(16);
  for (let i = 0; i < head.length; i++) {
    bytes[2 * i] = head[i] >> 8;
    bytes[2 * i + 1] = head[i] & 0xff;
  }
  for (let i = 0, at = 8 - tail.length; i < tail.length; i++, at++) {
    bytes[2 * at] = tail[i] >> 8;
    bytes[2 * at + 1] = tail[i] & 0xff;
  }
  return bytes;
}

/** The 16-bit groups of one side of `::` (a trailing dotted quad counts as two), or null. A module function, not a closure per call. */
function ipv6Groups(part: string): number[] | null {
  if (part === "") return [];
  const out: number[] = [];
  const pieces = part.split(":");
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i];
    if (i === pieces.length - 1 && p.includes(".")) {
      const v4 = parseIPv4(p);
      if (!v4) return null;
      out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (HEX_GROUP.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return null;
    }
  }
  return out;
}

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/** Parses an address of either family; throws AddressError naming the text. */
export function parseAddress(text: string): { family: 4 | 6; bytes: Uint8Array } {
  const v4 = parseIPv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  if (v6) return { family: 6, bytes: v6 };
  throw new AddressError(`"${text}" is not an IPv4 or IPv6 address`);
}

/**
 * Parses "ADDRESS" or "ADDRESS/LENGTH". A bare address is a host prefix (/32 or /128). Bits set beyond
 * the length are an error, with the corrected prefix in the message.
 */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf("/");
  const addr = parseAddress(slash < 0 ? text : text.slice(0, slash));
  const max = addr.family === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      throw new AddressError(`"${text}": prefix length must be 0..${max}, found "${lenText}"`);
    }
    length = Number(lenText);
  }
  const masked = maskBytes(addr.bytes, length);
  if (!masked.every((b, i) => b === addr.bytes[i])) {
    throw new AddressError(
      `"${text}" has bits set beyond /${length} (did you mean ${formatPrefix({ family: addr.family, bytes: masked, length })}?)`,
    );
  }
  return { family: addr.family, bytes: addr.bytes, length };
}

/** Returns a copy of `bytes` with every bit beyond `length` cleared. */
export function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, length - 8 * i));
    out[i] &= (0xff00 >> keep) & 0xff;
  }
  return out;
}

/**
 * Formats address bytes: dotted quad, or RFC 5952 canonical IPv6 text, so equal addresses compare
 * equal as strings. RFC 5952 §5: an IPv4-mapped address ends in a dotted quad ("::ffff:192.0.2.1"),
 * as inet_ntop and FreeRADIUS print it.
 */
export function formatAddress(bytes: Uint8Array): string {
  // Built by hand, without arrays: the RADIUS decoder formats every address attribute it reads.
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (bytes[i] !== 0) mapped = false;
  if (mapped) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  // Into a module scratch array (the function never re-enters), not a closure: tsx names each
  // closure it creates, which cost more than the formatting.
  const groups = GROUPS;
  for (let i = 0; i < 8; i++) groups[i] = (bytes[2 * i] << 8) | bytes[2 * i + 1];
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== best + bestLen) out += ":";
    out += groups[i].toString(16);
  }
  return out;
}

const GROUPS = new Uint16Array(8);

export function formatPrefix(p: Prefix): string {
  const host = p.family === 4 ? 32 : 128;
  return p.length === host ? formatAddress(p.bytes) : `${formatAddress(p.bytes)}/${p.length}`;
}

/** Big-endian u32 of an IPv4 address: "192.0.2.1" -> 0xC0000201. */
export function ipv4ToU32(text: string): number {
  const b = parseIPv4(text);
  if (!b) throw new AddressError(`"${text}" is not an IPv4 address`);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function u32ToIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join(".");
}

/** A socket address: an IP address of either family (IPv6 without brackets) and a port. */
export interface HostPort {
  address: string;
  family: 4 | 6;
  port: number;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

/**
 * Parses "127.0.0.1:1812" or "[::1]:1812" (RFC 3986 §3.2.2 brackets for IPv6); port 0..65535, 0
 * asking the kernel for a free one. Throws AddressError naming the text.
 */
export function parseHostPort(text: string): HostPort {
  const m = HOST_PORT.exec(text);
  const port = m ? Number(m[3]) : NaN;
  const family = m?.[1] !== undefined ? (parseIPv6(m[1]) ? 6 : undefined) : m && parseIPv4(m[2]) ? 4 : undefined;
  if (!m || family === undefined || port > 65535) {
    throw new AddressError(
      `expected "address:port" with an IP address and a port 0..65535 (IPv6 in brackets: "[::1]:1812"), found ${JSON.stringify(text)}`,
    );
  }
  return { address: m[1] ?? m[2], family, port };
}
