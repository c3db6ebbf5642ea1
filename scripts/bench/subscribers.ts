/**
 * The subscribers the RADIUS benchmark invents: subscriber `i` has the same attributes in the
 * accounting load (as a BNG would send them) and in the memory measurement (as accounting stores
 * them), so both measure the same attribute mix.
 */
import { attribute, type Attribute } from "../../runtime/radius/attributes.ts";
import type { SessionAttributes } from "../../runtime/sessions/store.ts";
import { ACCT_STATUS_TYPE } from "../../runtime/radius/dictionary.ts";

export interface Subscriber {
  acctSessionId: string;
  userName: string;
  framedIpAddress: string;
  delegatedIpv6Prefix: string;
  callingStationId: string;
  nasPortId: string;
  nasIpAddress: string;
  nasIdentifier: string;
}

const hex2 = (n: number) => (n & 255).toString(16).padStart(2, "0");

/** Subscriber `i` (0 <= i < 4,194,304): unique Acct-Session-Id, User-Name, addresses and MAC. */
export function subscriber(i: number): Subscriber {
  return {
    // Decimal, as Juniper BNGs send it; iapd derives 4-byte-handle session IDs from it.
    acctSessionId: String(268435456 + i),
    userName: `sub${i}@isp.example`,
    framedIpAddress: `100.${64 + ((i >>> 16) & 63)}.${(i >>> 8) & 255}.${i & 255}`,
    delegatedIpv6Prefix: `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`,
    callingStationId: `02-00-00-${hex2(i >>> 16)}-${hex2(i >>> 8)}-${hex2(i)}`,
    nasPortId: `ge-0/0/${i & 3}.${100 + (i % 4000)}`,
    nasIpAddress: "192.0.2.7",
    nasIdentifier: "bng-1",
  };
}

export type AccountingStatus = "Start" | "Interim-Update" | "Stop";

/** An Accounting-Request's attributes for subscriber `i`; Interim-Update and Stop add usage counters. */
export function accountingAttributes(i: number, status: AccountingStatus): Attribute[] {
  const s = subscriber(i);
  const attributes = [
    attribute("Acct-Status-Type", ACCT_STATUS_TYPE[status]),
    attribute("Acct-Session-Id", s.acctSessionId),
    attribute("User-Name", s.userName),
    attribute("Framed-IP-Address", s.framedIpAddress),
    attribute("Delegated-IPv6-Prefix", s.delegatedIpv6Prefix),
    attribute("Calling-Station-Id", s.callingStationId),
    attribute("NAS-Port-Id", s.nasPortId),
    attribute("NAS-IP-Address", s.nasIpAddress),
    attribute("NAS-Identifier", s.nasIdentifier),
  ];
  if (status !== "Start") {
    attributes.push(
      attribute("Acct-Session-Time", 600),
      attribute("Acct-Input-Octets", (i * 7919) >>> 0),
      attribute("Acct-Output-Octets", (i * 104729) >>> 0),
      attribute("Acct-Input-Packets", i & 0xffff),
      attribute("Acct-Output-Packets", (i * 3) & 0xffff),
    );
  }
  if (status === "Stop") attributes.push(attribute("Acct-Terminate-Cause", 1));
  return attributes;
}

/** A flat copy of `text`, as the RADIUS decoder makes its strings (not a template literal's concatenation). */
const flat = (text: string) => Buffer.from(text, "latin1").toString("latin1");

/** Subscriber `i`'s session as accounting stores it from the NAS at `nas`. */
export function sessionAttributes(i: number, nas = "127.0.0.1"): SessionAttributes {
  const s = subscriber(i);
  return {
    nas: flat(nas),
    acctSessionId: flat(s.acctSessionId),
    userName: flat(s.userName),
    framedIpAddress: flat(s.framedIpAddress),
    delegatedIpv6Prefix: flat(s.delegatedIpv6Prefix),
    callingStationId: flat(s.callingStationId),
    nasPortId: flat(s.nasPortId),
    nasIpAddress: flat(s.nasIpAddress),
    nasIdentifier: flat(s.nasIdentifier),
  };
}
