/**
 * The RADIUS wire format (RFC 2865 §3, §5, §5.26): header and attribute list, without any
 * cryptography or dictionary types. Attributes stay in wire order, vendor attributes keep their
 * vendor, and attributes nobody here knows are kept raw so that they can be relayed unchanged.
 */
import { codeName, isPacketCode, type PacketCode } from "./codes.ts";
import { MESSAGE_AUTHENTICATOR, STANDARD_FORMAT_VENDORS, VENDOR_SPECIFIC } from "./dictionary.ts";
import { RadiusDecodeError, RadiusEncodeError } from "./errors.ts";

/** Code(1) Identifier(1) Length(2) Authenticator(16). */
export const HEADER_LENGTH = 20;
export const AUTHENTICATOR_OFFSET = 4;
export const AUTHENTICATOR_LENGTH = 16;
/** RFC 2865 §3: "The maximum length is 4096". */
export const MAX_PACKET_LENGTH = 4096;
/** Type(1) Length(1) and at most 253 octets of value (RFC 2865 §5). */
const MAX_VALUE_LENGTH = 253;
/** Vendor-Id(4) inside attribute 26, then the vendor's own data (RFC 2865 §5.26). */
const VENDOR_ID_LENGTH = 4;

/** Any attribute other than 26, value as sent. */
export interface StandardAttribute {
  readonly kind: "attribute";
  readonly type: number;
  readonly value: Uint8Array;
}

/** One vendor attribute in the RFC 2865 §5.26 Vendor-Type(1) Vendor-Length(1) layout. */
export interface VendorAttribute {
  readonly kind: "vendor";
  readonly vendorId: number;
  readonly vendorType: number;
  readonly value: Uint8Array;
}

/** Attribute 26 of a vendor whose layout is unknown here: its data after the Vendor-Id, whole. */
export interface OpaqueVendorAttribute {
  readonly kind: "vendor-opaque";
  readonly vendorId: number;
  readonly data: Uint8Array;
}

export type WireAttribute = StandardAttribute | VendorAttribute | OpaqueVendorAttribute;

export interface WirePacket {
  readonly code: PacketCode;
  /** 0..255; matches a response to its request (RFC 2865 §3). */
  readonly identifier: number;
  /** 16 octets. */
  readonly authenticator: Uint8Array;
  readonly attributes: readonly WireAttribute[];
}

export interface ParsedDatagram {
  readonly packet: WirePacket;
  /** The packet's own octets (a copy, cut to its Length field). */
  readonly bytes: Uint8Array;
  /** Offsets in `bytes` of the 16-octet value of every Message-Authenticator, for verification. */
  readonly messageAuthenticatorOffsets: readonly number[];
}

/** Most attributes a packet can hold: each takes at least two octets. */
const MAX_ATTRIBUTES = MAX_PACKET_LENGTH / 2;

/**
 * Where `scanWire` found each attribute, in arrays reused by every call (read them before the next):
 * kind (0 attribute, 1 vendor, 2 vendor-opaque), type (vendor type), vendor id, and the value's
 * octets `bytes[start..end)` (vendor-opaque: the data after the Vendor-Id).
 */
export interface WireScan {
  readonly code: PacketCode;
  readonly identifier: number;
  /** The packet's octets, cut to its Length field: a plain Uint8Array, a copy or a view (see scanWire). */
  readonly bytes: Uint8Array;
  readonly count: number;
  readonly kind: Uint8Array;
  readonly type: Uint8Array;
  readonly vendorId: Uint32Array;
  readonly start: Uint16Array;
  readonly end: Uint16Array;
  /** Offsets in `bytes` of the 16-octet value of every Message-Authenticator, for verification. */
  readonly messageAuthenticatorOffsets: number[];
}

export const ATTRIBUTE = 0;
export const VENDOR = 1;
export const VENDOR_OPAQUE = 2;

const scanKind = new Uint8Array(MAX_ATTRIBUTES);
const scanType = new Uint8Array(MAX_ATTRIBUTES);
const scanVendor = new Uint32Array(MAX_ATTRIBUTES);
const scanStart = new Uint16Array(MAX_ATTRIBUTES);
const scanEnd = new Uint16Array(MAX_ATTRIBUTES);

/**
 * Splits a datagram into header and attributes. Octets beyond the Length field are padding and
 * ignored; a datagram shorter than it is discarded (RFC 2865 §3).
 */
export function decodeWire(datagram: Uint8Array): ParsedDatagram {
  const scan = scanWire(datagram, true);
  const { bytes, count, start, end } = scan;
  const attributes: WireAttribute[] = [];
  for (let i = 0; i < count; i++) {
    // Views, not copies: `bytes` is already this packet's own copy of the datagram.
    const value = bytes.subarray(start[i], end[i]);
    const kind = scan.kind[i];
    if (kind === ATTRIBUTE) attributes.push({ kind: "attribute", type: scan.type[i], value });
    else if (kind === VENDOR) attributes.push({ kind: "vendor", vendorId: scan.vendorId[i], vendorType: scan.type[i], value });
    else attributes.push({ kind: "vendor-opaque", vendorId: scan.vendorId[i], data: value });
  }
  return {
    packet: { code: scan.code, identifier: scan.identifier, authenticator: bytes.slice(AUTHENTICATOR_OFFSET, HEADER_LENGTH), attributes },
    bytes,
    messageAuthenticatorOffsets: scan.messageAuthenticatorOffsets,
  };
}

/**
 * The checks and the attribute walk of `decodeWire`, without building attribute objects. `copy`
 * false (message.ts's decodePacket, which converts or copies every value it keeps): `bytes` is a
 * view of the datagram's octets instead of a copy.
 */
export function scanWire(datagram: Uint8Array, copy: boolean): WireScan {
  if (datagram.length < HEADER_LENGTH) {
    throw new RadiusDecodeError(
      "packet-too-short",
      `expected at least ${HEADER_LENGTH} octets, found ${datagram.length}`,
    );
  }
  const length = (datagram[2] << 8) | datagram[3];
  if (length < HEADER_LENGTH || length > MAX_PACKET_LENGTH) {
    throw new RadiusDecodeError(
      "length-out-of-range",
      `expected a Length field of ${HEADER_LENGTH}..${MAX_PACKET_LENGTH}, found ${length}`,
    );
  }
  if (datagram.length < length) {
    throw new RadiusDecodeError(
      "packet-truncated",
      `Length field says ${length} octets, datagram has ${datagram.length}`,
    );
  }
  const code = datagram[0];
  if (!isPacketCode(code)) {
    throw new RadiusDecodeError("unknown-code", `expected a known RADIUS code, found ${code}`);
  }
  // A plain Uint8Array either way, so that slice() copies (a Buffer's would share memory with the
  // caller's datagram).
  const bytes = copy ? new Uint8Array(datagram.subarray(0, length)) : new Uint8Array(datagram.buffer, datagram.byteOffset, length);
  const messageAuthenticatorOffsets: number[] = [];
  let count = 0;
  for (let at = HEADER_LENGTH; at < length;) {
    if (length - at < 2) {
      throw new RadiusDecodeError(
        "attribute-overflow",
        `attribute at offset ${at} needs 2 header octets, packet has ${length - at} left`,
      );
    }
    const type = bytes[at];
    const attributeLength = bytes[at + 1];
    if (attributeLength < 2) {
      throw new RadiusDecodeError(
        "attribute-too-short",
        `attribute ${type} at offset ${at}: expected Length >= 2, found ${attributeLength}`,
      );
    }
    if (at + attributeLength > length) {
      throw new RadiusDecodeError(
        "attribute-overflow",
        `attribute ${type} at offset ${at}: Length ${attributeLength} runs past the packet end ` +
          `by ${at + attributeLength - length} octets`,
      );
    }
    if (type === VENDOR_SPECIFIC) {
      count = scanVendorSpecific(bytes, at + 2, at + attributeLength, at, count);
    } else {
      if (type === MESSAGE_AUTHENTICATOR) messageAuthenticatorOffsets.push(at + 2);
      scanKind[count] = ATTRIBUTE;
      scanType[count] = type;
      scanVendor[count] = 0;
      scanStart[count] = at + 2;
      scanEnd[count] = at + attributeLength;
      count++;
    }
    at += attributeLength;
  }
  return {
    code,
    identifier: bytes[1],
    bytes,
    count,
    kind: scanKind,
    type: scanType,
    vendorId: scanVendor,
    start: scanStart,
    end: scanEnd,
    messageAuthenticatorOffsets,
  };
}

/** RFC 2865 §5.26 (the value is bytes[from..to)); a vendor in the standard layout may pack several attributes into one. */
function scanVendorSpecific(bytes: Uint8Array, from: number, to: number, offset: number, count: number): number {
  if (to - from < VENDOR_ID_LENGTH + 1) {
    throw new RadiusDecodeError(
      "vendor-specific-malformed",
      `Vendor-Specific at offset ${offset}: expected Length >= 7, found ${to - from + 2}`,
    );
  }
  const vendorId = ((bytes[from] << 24) | (bytes[from + 1] << 16) | (bytes[from + 2] << 8) | bytes[from + 3]) >>> 0;
  const data = from + VENDOR_ID_LENGTH;
  if (!STANDARD_FORMAT_VENDORS.has(vendorId)) {
    scanKind[count] = VENDOR_OPAQUE;
    scanType[count] = 0;
    scanVendor[count] = vendorId;
    scanStart[count] = data;
    scanEnd[count] = to;
    return count + 1;
  }
  const dataLength = to - data;
  for (let at = 0; at < dataLength;) {
    const vendorLength = bytes[data + at + 1];
    if (at + 2 > dataLength || vendorLength < 2 || at + vendorLength > dataLength) {
      throw new RadiusDecodeError(
        "vendor-specific-malformed",
        `Vendor-Specific at offset ${offset}, vendor ${vendorId}: sub-attribute at ${at} ` +
          (at + 2 > dataLength
            ? "has no length octet"
            : `has Vendor-Length ${vendorLength}, ${dataLength - at} octets left`),
      );
    }
    scanKind[count] = VENDOR;
    scanType[count] = bytes[data + at];
    scanVendor[count] = vendorId;
    scanStart[count] = data + at + 2;
    scanEnd[count] = data + at + vendorLength;
    count++;
    at += vendorLength;
  }
  return count;
}

/** Serialises a packet as given (one vendor attribute per attribute 26, as FreeRADIUS sends them). Never modifies its input. */
export function encodeWire(packet: WirePacket): Uint8Array {
  if (!Number.isInteger(packet.identifier) || packet.identifier < 0 || packet.identifier > 255) {
    throw new RadiusEncodeError(`expected an identifier 0..255, found ${packet.identifier}`);
  }
  if (packet.authenticator.length !== AUTHENTICATOR_LENGTH) {
    throw new RadiusEncodeError(
      `expected a ${AUTHENTICATOR_LENGTH}-octet authenticator, found ${packet.authenticator.length}`,
    );
  }
  const chunks = packet.attributes.map(encodeAttribute);
  const length = chunks.reduce((sum, c) => sum + c.length, HEADER_LENGTH);
  if (length > MAX_PACKET_LENGTH) {
    throw new RadiusEncodeError(
      `${codeName(packet.code)}: expected at most ${MAX_PACKET_LENGTH} octets, the attributes make ${length}`,
    );
  }
  const out = new Uint8Array(length);
  out[0] = packet.code;
  out[1] = packet.identifier;
  out[2] = length >> 8;
  out[3] = length & 0xff;
  out.set(packet.authenticator, AUTHENTICATOR_OFFSET);
  let at = HEADER_LENGTH;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function encodeAttribute(attribute: WireAttribute): Uint8Array {
  switch (attribute.kind) {
    case "attribute":
      if (attribute.type === VENDOR_SPECIFIC) {
        throw new RadiusEncodeError('attribute 26: give vendor attributes as kind "vendor" or "vendor-opaque"');
      }
      return tlv(attribute.type, attribute.value, `attribute ${attribute.type}`);
    case "vendor": {
      const label = `vendor ${attribute.vendorId} attribute ${attribute.vendorType}`;
      return vendorSpecific(
        attribute.vendorId,
        tlv(attribute.vendorType, attribute.value, label, MAX_VALUE_LENGTH - VENDOR_ID_LENGTH - 2),
        label,
      );
    }
    case "vendor-opaque":
      return vendorSpecific(attribute.vendorId, attribute.data, `vendor ${attribute.vendorId} data`);
  }
}

function vendorSpecific(vendorId: number, data: Uint8Array, label: string): Uint8Array {
  if (!Number.isInteger(vendorId) || vendorId < 0 || vendorId > 0xffffffff) {
    throw new RadiusEncodeError(`${label}: expected a vendor id 0..2^32-1, found ${vendorId}`);
  }
  const value = new Uint8Array(VENDOR_ID_LENGTH + data.length);
  new DataView(value.buffer).setUint32(0, vendorId);
  value.set(data, VENDOR_ID_LENGTH);
  return tlv(VENDOR_SPECIFIC, value, label);
}

function tlv(type: number, value: Uint8Array, label: string, maxValueLength = MAX_VALUE_LENGTH): Uint8Array {
  if (!Number.isInteger(type) || type < 1 || type > 255) {
    throw new RadiusEncodeError(`${label}: expected a type 1..255, found ${type}`);
  }
  if (value.length > maxValueLength) {
    throw new RadiusEncodeError(
      `${label}: expected a value of at most ${maxValueLength} octets, found ${value.length}`,
    );
  }
  const out = new Uint8Array(2 + value.length);
  out[0] = type;
  out[1] = out.length;
  out.set(value, 2);
  return out;
}
