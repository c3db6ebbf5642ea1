/**
 * RFC 5176 dynamic authorization server. iapd is not a NAS: the one authorization change it offers
 * is lawful-intercept mirroring by the four Juniper ERX attributes (spec/li-protocols.md §1.2):
 *
 * - CoA-Request with ERX-LI-Action 1 starts mirroring the identified session, 0 stops it (the
 *   request must repeat the current Med-Dev-Handle, Med-Ip-Address and Med-Port-Number), 2 is a
 *   decoy that is validated and answered like the others but changes nothing.
 * - Disconnect-Request ends the identified session and every mirror on it.
 *
 * Every refusal is a NAK with one Error-Cause (RFC 5176 §3.6); the checks run in this order and
 * the first that fails answers:
 *
 * | check | Error-Cause |
 * |---|---|
 * | an attribute iapd cannot act on (e.g. Filter-Id, Session-Timeout, Service-Type, unknown VSAs) | 401 Unsupported-Attribute |
 * | CoA-Request without any LI attribute: a NAS authorization change iapd does not offer | 405 Unsupported-Service |
 * | some but not all four LI attributes (Juniper: "must carry all four") | 402 Missing-Attribute |
 * | ERX-LI-Action not 0/1/2, Med-Port-Number not 1..65535, Med-Ip-Address not unicast | 407 Invalid-Attribute-Value |
 * | Med-Dev-Handle in neither JunosE format (JunosE answers a bad Mirror Identifier with 404) | 404 Invalid-Request |
 * | no session identification attribute (RFC 5176 §3: one is required) | 402 Missing-Attribute |
 * | sessions match, but none on the NAS named by NAS-IP-Address / NAS-Identifier / NAS-IPv6-Address | 403 NAS-Identification-Mismatch |
 * | no session matches | 503 Session-Context-Not-Found |
 * | more than one session matches | 508 Multiple-Session-Selection-Unsupported |
 * | then the session store's answer, by `STORE_ERROR_CAUSE` (a stop that does not repeat the current values: 404; capacity: 506) | |
 *
 * Session identification (RFC 5176 §3): Acct-Session-Id, User-Name, Framed-IP-Address,
 * Calling-Station-Id, NAS-Port-Id; when several are given, a session must match all of them.
 *
 * Nothing here logs: LI actions belong in the audit log, never in the general one.
 */
import { Code } from "./codes.ts";
import { ERROR_CAUSE, LI_ACTION, type AttributeName } from "./dictionary.ts";
import { attribute, nameOf } from "./attributes.ts";
import type { RadiusPacket } from "./message.ts";
import type { RadiusHandler, RadiusReply, RadiusRequest } from "./server.ts";
import { parseIPv4 } from "../net/address.ts";
import { HandleError, mirrorIds, parseMedDevHandle, type MedDevHandle } from "../sessions/handle.ts";
import { StoreError, type MirrorSpec, type SessionStore, type SubscriberSession } from "../sessions/store.ts";
import type { ServiceOptions } from "./accounting.ts";

type ErrorCause = (typeof ERROR_CAUSE)[keyof typeof ERROR_CAUSE];

/** The session store's refusals as Error-Causes: one table, so every path answers alike. */
export const STORE_ERROR_CAUSE: Record<StoreError["code"], ErrorCause> = {
  /** The session ended between lookup and action. */
  "session-not-found": ERROR_CAUSE["Session-Context-Not-Found"],
  /** A stop for an intercept the session is not mirrored for: it cannot repeat current values. */
  "mirror-not-found": ERROR_CAUSE["Invalid-Request"],
  /** A stop whose values differ from the running mirror's (Juniper: "the action fails"). */
  mismatch: ERROR_CAUSE["Invalid-Request"],
  /** maxMirrors reached: refused and counted by the store. */
  capacity: ERROR_CAUSE["Resources-Unavailable"],
  "trigger-not-found": ERROR_CAUSE["Invalid-Request"],
  invalid: ERROR_CAUSE["Invalid-Attribute-Value"],
};

const SESSION_IDENTIFICATION = ["Acct-Session-Id", "User-Name", "Framed-IP-Address", "Calling-Station-Id", "NAS-Port-Id"] as const;
const NAS_IDENTIFICATION = ["NAS-IP-Address", "NAS-Identifier", "NAS-IPv6-Address"] as const;
const LI_ATTRIBUTES = ["ERX-LI-Action", "ERX-Med-Dev-Handle", "ERX-Med-Ip-Address", "ERX-Med-Port-Number"] as const;
/** Attributes any request may carry without changing what it asks. */
const NEUTRAL = ["Event-Timestamp", "Proxy-State"] as const;

const DISCONNECT_ALLOWED: ReadonlySet<AttributeName> = new Set([...SESSION_IDENTIFICATION, ...NAS_IDENTIFICATION, ...NEUTRAL]);
const COA_ALLOWED: ReadonlySet<AttributeName> = new Set([...DISCONNECT_ALLOWED, ...LI_ATTRIBUTES]);

export interface DasCounters {
  mirrorsStarted: number;
  mirrorsStopped: number;
  decoys: number;
  disconnects: number;
  /** NAKs sent, by Error-Cause number. */
  naks: Record<number, number>;
}

export interface DasService {
  readonly counters: DasCounters;
  readonly handle: RadiusHandler;
}

export function dasService(store: SessionStore, options: ServiceOptions = {}): DasService {
  const counters: DasCounters = { mirrorsStarted: 0, mirrorsStopped: 0, decoys: 0, disconnects: 0, naks: {} };

  // Synchronous: the reply carries the commit's promise (RadiusReply.after), sent once it resolves.
  const handle = (request: RadiusRequest): RadiusReply => {
    const { packet } = request;
    const outcome = packet.is(Code.DisconnectRequest) ? disconnect(packet, request.receivedAt) : coa(packet, request.receivedAt);
    // Durable before the ACK; a NAK waits too, as it may rest on changes not yet written.
    const after = options.commit?.();
    if (outcome === "ack") return { code: packet.is(Code.DisconnectRequest) ? Code.DisconnectAck : Code.CoaAck, attributes: [], after };
    counters.naks[outcome] = (counters.naks[outcome] ?? 0) + 1;
    return {
      code: packet.is(Code.DisconnectRequest) ? Code.DisconnectNak : Code.CoaNak,
      attributes: [attribute("Error-Cause", outcome)],
      after,
    };
  };

  function disconnect(packet: RadiusPacket, now: number): "ack" | ErrorCause {
    if (hasUnsupported(packet, DISCONNECT_ALLOWED)) return ERROR_CAUSE["Unsupported-Attribute"];
    const selected = selectSession(store, packet);
    if (typeof selected === "number") return selected;
    store.endSession(selected.key, "disconnect", now);
    counters.disconnects++;
    return "ack";
  }

  function coa(packet: RadiusPacket, now: number): "ack" | ErrorCause {
    if (hasUnsupported(packet, COA_ALLOWED)) return ERROR_CAUSE["Unsupported-Attribute"];
    const present = LI_ATTRIBUTES.filter((n) => packet.first(n) !== undefined).length;
    if (present === 0) return ERROR_CAUSE["Unsupported-Service"];
    if (present < LI_ATTRIBUTES.length) return ERROR_CAUSE["Missing-Attribute"];
    const action = packet.first("ERX-LI-Action")!;
    const port = packet.first("ERX-Med-Port-Number")!;
    const address = packet.first("ERX-Med-Ip-Address")!;
    if (![LI_ACTION.off, LI_ACTION.on, LI_ACTION.noop].includes(action as 0 | 1 | 2) || port < 1 || port > 65535 || !isUnicast(address)) {
      return ERROR_CAUSE["Invalid-Attribute-Value"];
    }
    let medDevHandle: MedDevHandle;
    try {
      medDevHandle = parseMedDevHandle(packet.first("ERX-Med-Dev-Handle")!);
    } catch (e) {
      if (e instanceof HandleError) return ERROR_CAUSE["Invalid-Request"];
      throw e;
    }
    const selected = selectSession(store, packet);
    if (typeof selected === "number") return selected;
    const spec: MirrorSpec = { ...mirrorIds(medDevHandle, selected.acctSessionId), mediation: { address, port } };
    try {
      if (action === LI_ACTION.on) {
        store.startMirror(selected.key, spec, { kind: "coa" }, now);
        counters.mirrorsStarted++;
      } else if (action === LI_ACTION.off) {
        store.stopMirrorMatching(selected.key, spec, "coa-stop", now);
        counters.mirrorsStopped++;
      } else {
        counters.decoys++;
      }
    } catch (e) {
      if (e instanceof StoreError) return STORE_ERROR_CAUSE[e.code];
      throw e;
    }
    return "ack";
  }

  return { counters, handle };
}

function hasUnsupported(packet: RadiusPacket, allowed: ReadonlySet<AttributeName>): boolean {
  return packet.attributes.some((a) => {
    const name = nameOf(a);
    return name === undefined || !allowed.has(name);
  });
}

/** RFC 5176 §3 session identification, narrowed by the NAS identification attributes when given. */
function selectSession(store: SessionStore, packet: RadiusPacket): SubscriberSession | ErrorCause {
  const criteria = {
    acctSessionId: packet.first("Acct-Session-Id"),
    userName: packet.first("User-Name"),
    framedIpAddress: packet.first("Framed-IP-Address"),
    callingStationId: packet.first("Calling-Station-Id"),
    nasPortId: packet.first("NAS-Port-Id"),
  };
  if (Object.values(criteria).every((v) => v === undefined)) return ERROR_CAUSE["Missing-Attribute"];
  const matching = store.findSessions(criteria);
  const nasIp = packet.first("NAS-IP-Address");
  const nasIdentifier = packet.first("NAS-Identifier");
  const nasIpv6 = packet.first("NAS-IPv6-Address");
  // The session's NAS is the accounting client's source address, and what its NAS-IP-Address /
  // NAS-Identifier said.
  const onNas = matching.filter(
    (s) =>
      (nasIp === undefined || (s.nasIpAddress ?? s.nas) === nasIp) &&
      (nasIdentifier === undefined || s.nasIdentifier === nasIdentifier) &&
      (nasIpv6 === undefined || s.nas === nasIpv6),
  );
  if (matching.length > 0 && onNas.length === 0) return ERROR_CAUSE["NAS-Identification-Mismatch"];
  if (onNas.length === 0) return ERROR_CAUSE["Session-Context-Not-Found"];
  if (onNas.length > 1) return ERROR_CAUSE["Multiple-Session-Selection-Unsupported"];
  return onNas[0];
}

/** A mediation device must be a unicast IPv4 address: not 0.0.0.0, broadcast, multicast or 240/4. */
function isUnicast(address: string): boolean {
  const bytes = parseIPv4(address);
  return bytes !== null && !bytes.every((b) => b === 0) && bytes[0] < 224;
}
