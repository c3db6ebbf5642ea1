/**
 * The data types of RADIUS attribute values (RFC 8044 names, as FreeRADIUS spells them) and their
 * conversion between wire octets and typed JavaScript values.
 *
 * Error messages name the attribute and the sizes involved, never the value: some values are
 * lawful-intercept data.
 */
import { Buffer } from "node:buffer";
import { RadiusDecodeError, RadiusEncodeError } from "./errors.ts";
import { formatAddress, parseIPv4, parseIPv6 } from "../net/address.ts";

/** The JavaScript type of each RADIUS data type. */
export interface ValueTypes {
  /** RFC 2865 §5 "text": UTF-8. */
  string: string;
  octets: Uint8Array;
  /** Unsigned 32-bit. */
  integer: number;
  /** Unsigned 64-bit (RFC 6929 §2.4). */
  integer64: bigint;
  /** Seconds since 1970-01-01 UTC as an unsigned 32-bit number (RFC 2869 §5.3). */
  date: Date;
  /** Dotted quad, e.g. "192.0.2.1". */
  ipaddr: string;
  /** RFC 5952 canonical text, e.g. "2001:db8::1". */
  ipv6addr: string;
  /** Canonical "address/length", e.g. "2001:db8:1::/48" (RFC 3162 §2.3). */
  ipv6prefix: string;
  /** Interface identifier as four hex groups, e.g. "0:0:0:1" (RFC 3162 §2.2), as FreeRADIUS prints it. */
  ifid: string;
}
export type DataType = keyof ValueTypes;

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Node's (and Deno's) Buffer method for one-byte text: for ASCII the same string as UTF-8, a third of TextDecoder's cost. */
const latin1Slice = (Buffer.prototype as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

function u32At(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}
const utf8Encoder = new TextEncoder();

function fixedLength(label: string, what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) {
    throw new RadiusDecodeError(
      "attribute-value",
      `${label}: expected ${length} octets for ${what}, found ${bytes.length}`,
    );
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Wire octets to a typed value; throws RadiusDecodeError("attribute-value") if they do not fit the type. */
export function decodeValue<T extends DataType>(dataType: T, bytes: Uint8Array, label: string): ValueTypes[T] {
  return decoders[dataType](bytes, label) as ValueTypes[T];
}

/**
 * `decodeValue` of `bytes[start..end)` without making a view first for the common types (text,
 * integer, date, IPv4 address); the same values and the same errors.
 */
export function decodeValueAt<T extends DataType>(dataType: T, bytes: Uint8Array, start: number, end: number, label: string): ValueTypes[T] {
  const length = end - start;
  switch (dataType) {
    case "string":
      if (latin1Slice !== undefined) {
        let ascii = true;
        for (let i = start; i < end; i++) {
          if (bytes[i] > 0x7f) {
            ascii = false;
            break;
          }
        }
        if (ascii) return latin1Slice.call(bytes, start, end) as ValueTypes[T];
      }
      break;
    case "integer":
      if (length === 4) return u32At(bytes, start) as ValueTypes[T];
      break;
    case "date":
      if (length === 4) return new Date(u32At(bytes, start) * 1000) as ValueTypes[T];
      break;
    case "ipaddr":
      if (length === 4) return `${bytes[start]}.${bytes[start + 1]}.${bytes[start + 2]}.${bytes[start + 3]}` as ValueTypes[T];
      break;
  }
  return decodeValue(dataType, bytes.subarray(start, end), label);
}

const decoders: { [T in DataType]: (bytes: Uint8Array, label: string) => ValueTypes[T] } = {
  string(bytes, label) {
    if (latin1Slice !== undefined) {
      let ascii = true;
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) return latin1Slice.call(bytes, 0, bytes.length);
    }
    try {
      return utf8.decode(bytes);
    } catch {
      throw new RadiusDecodeError(
        "attribute-value",
        `${label}: expected UTF-8 text, found ${bytes.length} octets that are not UTF-8`,
      );
    }
  },
  octets: (bytes) => new Uint8Array(bytes),
  integer(bytes, label) {
    fixedLength(label, "an integer", bytes, 4);
    return u32At(bytes, 0);
  },
  integer64(bytes, label) {
    fixedLength(label, "an integer64", bytes, 8);
    return view(bytes).getBigUint64(0);
  },
  date(bytes, label) {
    fixedLength(label, "a date", bytes, 4);
    return new Date(u32At(bytes, 0) * 1000);
  },
  ipaddr(bytes, label) {
    fixedLength(label, "an IPv4 address", bytes, 4);
    return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  },
  ipv6addr(bytes, label) {
    fixedLength(label, "an IPv6 address", bytes, 16);
    return formatAddress(bytes);
  },
  ipv6prefix(bytes, label) {
    // RFC 3162 §2.3: Reserved(1) Prefix-Length(1) Prefix(0..16). FreeRADIUS sends all 16 prefix
    // octets; RFC 8044 §3.11 allows only the octets the length covers. Both are accepted.
    if (bytes.length < 2 || bytes.length > 18) {
      throw new RadiusDecodeError(
        "attribute-value",
        `${label}: expected 2..18 octets for an IPv6 prefix, found ${bytes.length}`,
      );
    }
    if (bytes[0] !== 0) {
      throw new RadiusDecodeError(
        "attribute-value",
        `${label}: expected reserved octet 0 in an IPv6 prefix, found ${bytes[0]}`,
      );
    }
    const length = bytes[1];
    const present = bytes.length - 2;
    if (length > 128 || Math.ceil(length / 8) > present) {
      throw new RadiusDecodeError(
        "attribute-value",
        `${label}: expected prefix length 0..${Math.min(128, present * 8)} for ${present} prefix octets, found ${length}`,
      );
    }
    const address = new Uint8Array(16);
    address.set(bytes.subarray(2));
    if (!hostBitsClear(address, length)) {
      throw new RadiusDecodeError("attribute-value", `${label}: expected no bits set beyond prefix length ${length}`);
    }
    return `${formatAddress(address)}/${length}`;
  },
  ifid(bytes, label) {
    fixedLength(label, "an interface identifier", bytes, 8);
    const v = view(bytes);
    return [0, 2, 4, 6].map((i) => v.getUint16(i).toString(16)).join(":");
  },
};

function hostBitsClear(address: Uint8Array, length: number): boolean {
  let at = length >> 3;
  const rest = length & 7;
  if (rest !== 0 && address[at++] & (0xff >> rest)) return false;
  for (; at < 16; at++) if (address[at] !== 0) return false;
  return true;
}

/** A typed value to wire octets; throws RadiusEncodeError if it does not fit the type. */
export function encodeValue<T extends DataType>(dataType: T, value: ValueTypes[T], label: string): Uint8Array {
  return (encoders[dataType] as (value: unknown, label: string) => Uint8Array)(value, label);
}

function expected(label: string, what: string, value: unknown): RadiusEncodeError {
  return new RadiusEncodeError(`${label}: expected ${what}, found ${describe(value)}`);
}

/** What a value is, without showing it. */
function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} octets`;
  if (value instanceof Date) return "a Date outside that range";
  if (typeof value === "string") return `a string of ${value.length} characters that does not parse`;
  if (typeof value === "number" || typeof value === "bigint") return `a ${typeof value} outside that range`;
  return value === null ? "null" : typeof value;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  view(out).setUint32(0, value);
  return out;
}

const encoders: { [T in DataType]: (value: ValueTypes[T], label: string) => Uint8Array } = {
  string(value, label) {
    if (typeof value !== "string") throw expected(label, "a string", value);
    return utf8Encoder.encode(value);
  },
  octets(value, label) {
    if (!(value instanceof Uint8Array)) throw expected(label, "a Uint8Array", value);
    return new Uint8Array(value);
  },
  integer(value, label) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw expected(label, "an integer 0..2^32-1", value);
    return u32(value);
  },
  integer64(value, label) {
    if (typeof value !== "bigint" || value < 0n || value > 0xffffffffffffffffn)
      throw expected(label, "a bigint 0..2^64-1", value);
    const out = new Uint8Array(8);
    view(out).setBigUint64(0, value);
    return out;
  },
  date(value, label) {
    const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : NaN;
    if (!(seconds >= 0 && seconds <= 0xffffffff)) throw expected(label, "a Date between 1970 and 2106", value);
    return u32(seconds);
  },
  ipaddr(value, label) {
    const bytes = typeof value === "string" ? parseIPv4(value) : undefined;
    if (!bytes) throw expected(label, "a dotted-quad IPv4 address", value);
    return bytes;
  },
  ipv6addr(value, label) {
    const bytes = typeof value === "string" ? parseIPv6(value) : undefined;
    if (!bytes) throw expected(label, "an IPv6 address", value);
    return bytes;
  },
  ipv6prefix(value, label) {
    const match = typeof value === "string" ? /^([^/]+)\/(\d{1,3})$/.exec(value) : null;
    const address = match ? parseIPv6(match[1]) : undefined;
    const length = match ? Number(match[2]) : NaN;
    if (!address || !(length <= 128) || !hostBitsClear(address, length)) {
      throw expected(label, 'an IPv6 prefix "address/length" with no bits set beyond the length', value);
    }
    // All 16 prefix octets, as FreeRADIUS 3.2 sends them (RFC 3162 §2.3 allows up to 16).
    const out = new Uint8Array(18);
    out[1] = length;
    out.set(address, 2);
    return out;
  },
  ifid(value, label) {
    const groups = typeof value === "string" ? value.split(":") : [];
    if (groups.length !== 4 || !groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) {
      throw expected(label, "an interface identifier of four hex groups", value);
    }
    const out = new Uint8Array(8);
    groups.forEach((g, i) => view(out).setUint16(2 * i, parseInt(g, 16)));
    return out;
  },
};
