/**
 * The attributes iapd understands, embedded (a single-file bundle reads no dictionary files).
 * Names, numbers and types follow FreeRADIUS 3.2 `share/dictionary.*` so that configuration and logs
 * read the same on both sides; attributes not listed here are kept raw.
 */
import type { DataType } from "./values.ts";

/** How a value is hidden on the wire. */
export type Encryption =
  /** RFC 2865 §5.2 (FreeRADIUS `encrypt=1`): only in Access-Request. */
  | "user-password"
  /** RFC 2868 §3.5 salt encryption (FreeRADIUS `encrypt=2`). */
  | "salt";

export interface AttributeDefinition {
  /** Attribute type, or the vendor type when `vendorId` is set. */
  readonly type: number;
  /** Private Enterprise Number of a vendor-specific attribute (RFC 2865 §5.26). */
  readonly vendorId?: number;
  readonly dataType: DataType;
  readonly encrypt?: Encryption;
  /** RFC 2868 §3: a tag octet (0x00..0x1F) precedes the value, grouping attributes of one tunnel. */
  readonly tagged?: true;
  /** Named integer values. */
  readonly values?: Readonly<Record<string, number>>;
}

/** Juniper's enterprise number; its E-series ("ERX") attributes carry the lawful-intercept VSAs. */
export const VENDOR_ERX = 4874;
/** Microsoft (RFC 2548): known here for the MPPE keys, which a proxy must re-encrypt. */
export const VENDOR_MICROSOFT = 311;

/**
 * Vendors whose Vendor-Specific attributes use the RFC 2865 §5.26 suggested layout (one-octet vendor
 * type, one-octet vendor length), so that several of them can be read out of one attribute 26.
 * Other vendors' attribute 26 is kept whole.
 */
export const STANDARD_FORMAT_VENDORS: ReadonlySet<number> = new Set([VENDOR_ERX, VENDOR_MICROSOFT]);

export const ACCT_STATUS_TYPE = {
  Start: 1,
  Stop: 2,
  "Interim-Update": 3,
  "Accounting-On": 7,
  "Accounting-Off": 8,
} as const;

/** RFC 5176 §3.6 Error-Cause values. */
export const ERROR_CAUSE = {
  "Residual-Context-Removed": 201,
  "Invalid-EAP-Packet": 202,
  "Unsupported-Attribute": 401,
  "Missing-Attribute": 402,
  "NAS-Identification-Mismatch": 403,
  "Invalid-Request": 404,
  "Unsupported-Service": 405,
  "Unsupported-Extension": 406,
  "Invalid-Attribute-Value": 407,
  "Administratively-Prohibited": 501,
  "Proxy-Request-Not-Routable": 502,
  "Session-Context-Not-Found": 503,
  "Session-Context-Not-Removable": 504,
  "Proxy-Processing-Error": 505,
  "Resources-Unavailable": 506,
  "Request-Initiated": 507,
  "Multiple-Session-Selection-Unsupported": 508,
  /** draft-ietf-radext-deprecating-radius (BlastRADIUS): sent when a required Message-Authenticator is absent. */
  "Missing-Message-Authenticator": 510,
} as const;

/** ERX-LI-Action values (FreeRADIUS dictionary.erx); 2 is a decoy that changes nothing (li-protocols.md §1). */
export const LI_ACTION = { off: 0, on: 1, noop: 2 } as const;

export const ATTRIBUTES = {
  "User-Name": { type: 1, dataType: "string" },
  "User-Password": { type: 2, dataType: "string", encrypt: "user-password" },
  "NAS-IP-Address": { type: 4, dataType: "ipaddr" },
  "NAS-Port": { type: 5, dataType: "integer" },
  "Service-Type": { type: 6, dataType: "integer" },
  "Framed-Protocol": { type: 7, dataType: "integer" },
  "Framed-IP-Address": { type: 8, dataType: "ipaddr" },
  "Framed-IP-Netmask": { type: 9, dataType: "ipaddr" },
  "Reply-Message": { type: 18, dataType: "string" },
  State: { type: 24, dataType: "octets" },
  Class: { type: 25, dataType: "octets" },
  "Session-Timeout": { type: 27, dataType: "integer" },
  "Idle-Timeout": { type: 28, dataType: "integer" },
  "Called-Station-Id": { type: 30, dataType: "string" },
  "Calling-Station-Id": { type: 31, dataType: "string" },
  "NAS-Identifier": { type: 32, dataType: "string" },
  "Proxy-State": { type: 33, dataType: "octets" },
  "Acct-Status-Type": { type: 40, dataType: "integer", values: ACCT_STATUS_TYPE },
  "Acct-Delay-Time": { type: 41, dataType: "integer" },
  "Acct-Input-Octets": { type: 42, dataType: "integer" },
  "Acct-Output-Octets": { type: 43, dataType: "integer" },
  "Acct-Session-Id": { type: 44, dataType: "string" },
  "Acct-Authentic": { type: 45, dataType: "integer" },
  "Acct-Session-Time": { type: 46, dataType: "integer" },
  "Acct-Input-Packets": { type: 47, dataType: "integer" },
  "Acct-Output-Packets": { type: 48, dataType: "integer" },
  "Acct-Terminate-Cause": { type: 49, dataType: "integer" },
  "Acct-Multi-Session-Id": { type: 50, dataType: "string" },
  "Event-Timestamp": { type: 55, dataType: "date" },
  "NAS-Port-Type": { type: 61, dataType: "integer" },
  "Tunnel-Type": { type: 64, dataType: "integer", tagged: true },
  "Tunnel-Medium-Type": { type: 65, dataType: "integer", tagged: true },
  "Tunnel-Password": { type: 69, dataType: "string", encrypt: "salt", tagged: true },
  "Connect-Info": { type: 77, dataType: "string" },
  "Message-Authenticator": { type: 80, dataType: "octets" },
  "NAS-Port-Id": { type: 87, dataType: "string" },
  "Chargeable-User-Identity": { type: 89, dataType: "octets" },
  "NAS-IPv6-Address": { type: 95, dataType: "ipv6addr" },
  "Framed-Interface-Id": { type: 96, dataType: "ifid" },
  "Framed-IPv6-Prefix": { type: 97, dataType: "ipv6prefix" },
  "Error-Cause": { type: 101, dataType: "integer", values: ERROR_CAUSE },
  "Delegated-IPv6-Prefix": { type: 123, dataType: "ipv6prefix" },
  "Framed-IPv6-Address": { type: 168, dataType: "ipv6addr" },
  // RFC 2548 §2.4.2, §2.4.3: same salt scheme as RFC 2868 (FreeRADIUS encrypt=2).
  "MS-MPPE-Send-Key": { vendorId: VENDOR_MICROSOFT, type: 16, dataType: "octets", encrypt: "salt" },
  "MS-MPPE-Recv-Key": { vendorId: VENDOR_MICROSOFT, type: 17, dataType: "octets", encrypt: "salt" },
  "ERX-LI-Action": { vendorId: VENDOR_ERX, type: 58, dataType: "integer", encrypt: "salt", values: LI_ACTION },
  "ERX-Med-Dev-Handle": { vendorId: VENDOR_ERX, type: 59, dataType: "octets", encrypt: "salt" },
  "ERX-Med-Ip-Address": { vendorId: VENDOR_ERX, type: 60, dataType: "ipaddr", encrypt: "salt" },
  "ERX-Med-Port-Number": { vendorId: VENDOR_ERX, type: 61, dataType: "integer", encrypt: "salt" },
} as const satisfies Record<string, AttributeDefinition>;

export type AttributeName = keyof typeof ATTRIBUTES;

/** Type 26 is the container of vendor attributes (RFC 2865 §5.26), never a named attribute itself. */
export const VENDOR_SPECIFIC = 26;
export const MESSAGE_AUTHENTICATOR = ATTRIBUTES["Message-Authenticator"].type;

const byNumber = new Map<string, AttributeName>(
  (Object.entries(ATTRIBUTES) as [AttributeName, AttributeDefinition][]).map(([name, d]) => [
    key(d.vendorId ?? 0, d.type),
    name,
  ]),
);

function key(vendorId: number, type: number): string {
  return `${vendorId}:${type}`;
}

/** The dictionary name of a standard attribute (vendorId 0) or of a vendor attribute, if known. */
export function attributeName(vendorId: number, type: number): AttributeName | undefined {
  return byNumber.get(key(vendorId, type));
}
