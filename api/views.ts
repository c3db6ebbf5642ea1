/**
 * What the API returns for each object, as zod schemas (they also document the responses in
 * /v1/openapi.json) and the functions that build them from the store's objects.
 *
 * A subscriber session's API id is the base64url of its store key (`<nas>|<Acct-Session-Id>`), so
 * that any Acct-Session-Id (slashes, spaces, non-ASCII) is one safe path segment.
 */
import { z } from "zod";
import type { MirrorSession, SubscriberSession, Trigger } from "../runtime/sessions/store.ts";
import type { Tunnel } from "../runtime/sessions/tunnels.ts";
import type { JsonBytes } from "./json.ts";
import { DROP_REASON_NAMES, type MirrorCounters } from "./providers.ts";

const DAY_MS = 86_400_000;
/** "YYYY-MM-DDT" per day number; bounded, so listing sessions of many days cannot grow it forever. */
const dayPrefixes = new Map<number, string>();
const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, about 7x faster: a listing formats two timestamps per session, and
 * Date's formatting was most of the cost of a page (measured: ~2 us per call on the project's VMs).
 * The date part comes from Date itself, once per day; the time of day is plain arithmetic.
 */
export function iso(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  const prefix = dayPrefix(day);
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  return `${prefix}${two(hours)}:${two(minutes)}:${two(seconds)}.${three(Math.floor(rest - seconds * 1000))}Z`;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** The base64url digits of every 12-bit group: two characters per lookup. */
const B64URL_PAIRS: string[] = Array.from({ length: 4096 }, (_, v) => B64URL[v >> 6] + B64URL[v & 63]);

/**
 * base64url (no padding) of the key's UTF-8. Keys are nearly always ASCII: those are encoded here
 * (a listing encodes 100 per page, and Buffer.from + toString cost ~0.5 us each); others by Buffer.
 */
function dayPrefix(day: number): string {
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size >= 4096) dayPrefixes.clear();
    prefix = new Date(day * DAY_MS).toISOString().slice(0, -13);
    dayPrefixes.set(day, prefix);
  }
  return prefix;
}

export function sessionApiId(key: string): string {
  const n = key.length;
  let out = "";
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const a = key.charCodeAt(i);
    const b = key.charCodeAt(i + 1);
    const c = key.charCodeAt(i + 2);
    if ((a | b | c) > 0x7f) return Buffer.from(key, "utf8").toString("base64url");
    const v = (a << 16) | (b << 8) | c;
    out += B64URL_PAIRS[v >> 12] + B64URL_PAIRS[v & 4095];
  }
  if (i < n) {
    const a = key.charCodeAt(i);
    const b = i + 1 < n ? key.charCodeAt(i + 1) : 0;
    if ((a | b) > 0x7f) return Buffer.from(key, "utf8").toString("base64url");
    const v = (a << 16) | (b << 8);
    out += i + 1 < n ? B64URL_PAIRS[v >> 12] + B64URL[(v >> 6) & 63] : B64URL_PAIRS[v >> 12];
  }
  return out;
}

/** The store key for an API id, or undefined when it cannot be one. */
export function sessionKeyOf(id: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(id)) return undefined;
  const key = Buffer.from(id, "base64url").toString("utf8");
  return sessionApiId(key) === id ? key : undefined;
}

const optionalString = z.string().optional();

export const sessionSchema = z.object({
  id: z.string().meta({ description: "base64url of `<nas>|<Acct-Session-Id>`" }),
  nas: z.string().meta({ description: "the RADIUS client's address" }),
  acctSessionId: z.string(),
  userName: optionalString,
  framedIpAddress: optionalString,
  framedIpv6Prefix: optionalString,
  delegatedIpv6Prefix: optionalString,
  framedIpv6Address: optionalString,
  callingStationId: optionalString,
  nasPortId: optionalString,
  nasIpAddress: optionalString,
  nasIdentifier: optionalString,
  startTime: z.string(),
  lastUpdate: z.string(),
  mirrored: z.boolean().optional().meta({ description: "li-admin only" }),
  mirrors: z.array(z.string()).optional().meta({ description: "li-admin only: ids of its mirror sessions" }),
});
export type SessionView = z.output<typeof sessionSchema>;

/** A session for li-admin (`li` given: whether it is mirrored) or without any field that tells. */
export function sessionView(s: SubscriberSession, li: { mirrors: string[] } | undefined): SessionView {
  // One object shape for every session (absent attributes are undefined, which JSON leaves out):
  // this runs 100 times per page of a listing.
  const view: SessionView = {
    id: sessionApiId(s.key),
    nas: s.nas,
    acctSessionId: s.acctSessionId,
    userName: s.userName,
    framedIpAddress: s.framedIpAddress,
    framedIpv6Prefix: s.framedIpv6Prefix,
    delegatedIpv6Prefix: s.delegatedIpv6Prefix,
    framedIpv6Address: s.framedIpv6Address,
    callingStationId: s.callingStationId,
    nasPortId: s.nasPortId,
    nasIpAddress: s.nasIpAddress,
    nasIdentifier: s.nasIdentifier,
    startTime: iso(s.startTime),
    lastUpdate: iso(s.lastUpdate),
    mirrored: li && li.mirrors.length > 0,
    mirrors: li?.mirrors,
  };
  return view;
}

/**
 * Writes `JSON.stringify(sessionView(s, li))` without the view object or an intermediate string: a
 * listing writes 100 of these per page (test/api/views.test.ts checks both agree byte for byte).
 */
export function writeSession(w: JsonBytes, s: SubscriberSession, li: { mirrors: string[] } | undefined): void {
  w.raw('{"id":');
  if (!w.base64urlAscii(s.key)) w.string(sessionApiId(s.key));
  w.raw(',"nas":');
  w.string(s.nas);
  w.raw(',"acctSessionId":');
  w.string(s.acctSessionId);
  optional(w, ',"userName":', s.userName);
  optional(w, ',"framedIpAddress":', s.framedIpAddress);
  optional(w, ',"framedIpv6Prefix":', s.framedIpv6Prefix);
  optional(w, ',"delegatedIpv6Prefix":', s.delegatedIpv6Prefix);
  optional(w, ',"framedIpv6Address":', s.framedIpv6Address);
  optional(w, ',"callingStationId":', s.callingStationId);
  optional(w, ',"nasPortId":', s.nasPortId);
  optional(w, ',"nasIpAddress":', s.nasIpAddress);
  optional(w, ',"nasIdentifier":', s.nasIdentifier);
  w.raw(',"startTime":');
  writeIso(w, s.startTime);
  w.raw(',"lastUpdate":');
  writeIso(w, s.lastUpdate);
  if (li !== undefined) {
    w.raw(li.mirrors.length > 0 ? ',"mirrored":true,"mirrors":[' : ',"mirrored":false,"mirrors":[');
    for (let i = 0; i < li.mirrors.length; i++) {
      if (i > 0) w.byte(44);
      w.string(li.mirrors[i]);
    }
    w.raw("]");
  }
  w.byte(125);
}

function optional(w: JsonBytes, name: string, v: string | undefined): void {
  if (v === undefined) return;
  w.raw(name);
  w.string(v);
}

/** `iso(ms)` as a JSON string, written digit by digit. */
function writeIso(w: JsonBytes, ms: number): void {
  const day = Math.floor(ms / DAY_MS);
  w.byte(34);
  w.raw(dayPrefix(day));
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  w.digits2(hours);
  w.byte(58);
  w.digits2(minutes);
  w.byte(58);
  w.digits2(seconds);
  w.byte(46);
  w.digits3(Math.floor(rest - seconds * 1000));
  w.raw('Z"');
}

export const mediationViewSchema = z.object({ address: z.string(), port: z.int() });

export const countersSchema = z.object({
  packets: z.number(),
  bytes: z.number(),
  drops: z.object(Object.fromEntries(DROP_REASON_NAMES.map((r) => [r, z.number()])) as Record<(typeof DROP_REASON_NAMES)[number], z.ZodNumber>),
});

export const mirrorSchema = z.object({
  id: z.string(),
  session: z.string().meta({ description: "the subscriber session's id" }),
  interceptId: z.int(),
  sessionId: z.int(),
  mediation: mediationViewSchema,
  dscp: z.int().optional(),
  origin: z.object({ kind: z.enum(["access-accept", "coa", "trigger", "api"]), triggerId: z.string().optional() }),
  startTime: z.string(),
  counters: countersSchema,
});
export type MirrorView = z.output<typeof mirrorSchema>;

export function mirrorView(m: MirrorSession, counters: MirrorCounters): MirrorView {
  const view: MirrorView = {
    id: m.id,
    session: sessionApiId(m.subscriber),
    interceptId: m.interceptId,
    sessionId: m.sessionId,
    mediation: { ...m.mediation },
    origin: { ...m.origin },
    startTime: iso(m.startTime),
    counters,
  };
  if (m.dscp !== undefined) view.dscp = m.dscp;
  return view;
}

export const triggerSchema = z.object({
  id: z.string(),
  kind: z.string(),
  value: z.string(),
  interceptId: z.int(),
  sessionId: z.int().optional(),
  mediation: mediationViewSchema,
  dscp: z.int().optional(),
  createdAt: z.string(),
});
export type TriggerView = z.output<typeof triggerSchema>;

export function triggerView(t: Trigger): TriggerView {
  const { createdAt, mediation, ...rest } = t;
  return { ...rest, mediation: { ...mediation }, createdAt: iso(createdAt) };
}

export const tunnelSchema = z.object({
  name: z.string(),
  sourceAddress: z.string(),
  interface: z.string().optional(),
  dscp: z.int().optional(),
  createdAt: z.string(),
});
export type TunnelView = z.output<typeof tunnelSchema>;

export function tunnelView(t: Tunnel): TunnelView {
  return { ...t, createdAt: iso(t.createdAt) };
}

/** A page of a listing: `next` is the cursor for the following page, null at the end. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next: z.string().nullable() });
}
