/**
 * The session store owns subscriber sessions, mirror sessions and triggers, and derives the data
 * plane's target table from them. Everything else (RADIUS listeners, API, data plane) goes through
 * it; the data plane only ever sees target additions and removals through a `TargetSink`.
 *
 * Every mutation takes the current time explicitly so that a journal can replay it exactly.
 *
 * ```ts
 * const store = new SessionStore({ maxMirrors: 65536, sink });
 * store.accounting("start", { nas: "192.0.2.7", acctSessionId: "81", userName: "alice", framedIpAddress: "100.64.0.9" }, now);
 * const [s] = store.findSessions({ acctSessionId: "81" });
 * store.startMirror(s.key, { interceptId: 7, sessionId: 81, mediation: { address: "198.51.100.1", port: 30030 } }, { kind: "coa" }, now);
 * ```
 */
import { DSCP_INHERIT, type Target } from "../filter/types.ts";
import { ipv4ToU32, parseIPv4, parsePrefix, type Prefix } from "../net/address.ts";
import { mirrorIds, type MedDevHandle } from "./handle.ts";

/** Attributes of a subscriber session as RADIUS reports them. */
export interface SessionAttributes {
  /** NAS identity used in keys: the RADIUS client's address. */
  nas: string;
  acctSessionId: string;
  userName?: string;
  framedIpAddress?: string;
  framedIpv6Prefix?: string;
  delegatedIpv6Prefix?: string;
  framedIpv6Address?: string;
  callingStationId?: string;
  nasPortId?: string;
  nasIpAddress?: string;
  nasIdentifier?: string;
}

/**
 * The attributes besides the session's identity (NAS, Acct-Session-Id), in a fixed order: the
 * columns of a journal upsert record (runtime/state/record.ts). Every optional SessionAttributes
 * field is listed; one left out is a compile error below.
 */
export const OPTIONAL_SESSION_ATTRIBUTES = [
  "userName",
  "framedIpAddress",
  "framedIpv6Prefix",
  "delegatedIpv6Prefix",
  "framedIpv6Address",
  "callingStationId",
  "nasPortId",
  "nasIpAddress",
  "nasIdentifier",
] as const satisfies readonly Exclude<keyof SessionAttributes, "nas" | "acctSessionId">[];
type Unlisted = Exclude<keyof SessionAttributes, "nas" | "acctSessionId" | (typeof OPTIONAL_SESSION_ATTRIBUTES)[number]>;
const everyAttributeListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyAttributeListed;

/** How `upsertSession` may treat its attributes. */
export interface UpsertOptions {
  /**
   * The address attributes were decoded from RADIUS wire values of their dictionary types
   * (Framed-IP-Address ipaddr; Framed-IPv6-Prefix, Delegated-IPv6-Prefix ipv6prefix, whose decoder
   * refuses host bits beyond the length; Framed-IPv6-Address ipv6addr): canonical text of the right
   * family, which the store's own check (parsePrefix per address, a third of a new session's
   * cost) would only confirm. Anything else (API, journal replay) leaves it unset.
   */
  addressesDecoded?: boolean;
}

export interface SubscriberSession extends SessionAttributes {
  key: string;
  startTime: number;
  lastUpdate: number;
}

export interface Mediation {
  address: string;
  port: number;
}

/** What to mirror: the mirror header IDs and where to send the copies. */
export interface MirrorSpec {
  interceptId: number;
  sessionId: number;
  mediation: Mediation;
  /** 0..63; absent = node policy. */
  dscp?: number;
}

export type MirrorOrigin =
  | { kind: "access-accept" }
  | { kind: "coa" }
  | { kind: "trigger"; triggerId: string }
  | { kind: "api" };

export interface MirrorSession extends MirrorSpec {
  id: string;
  subscriber: string;
  origin: MirrorOrigin;
  startTime: number;
}

export type EndReason = "coa-stop" | "logout" | "disconnect" | "nas-reboot" | "idle-timeout" | "trigger-removed" | "terminated";

/** JunosE trigger keywords in precedence order, highest first (spec/li-protocols.md §4.2). */
export const TRIGGER_KINDS = ["acct-session-id", "calling-station-id", "ip-address", "username", "nas-port-id"] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

export interface TriggerSpec {
  kind: TriggerKind;
  value: string;
  interceptId: number;
  /** Absent: derived from each matched session's Acct-Session-Id (like a 4-byte Med-Dev-Handle). */
  sessionId?: number;
  mediation: Mediation;
  dscp?: number;
}

export interface Trigger extends TriggerSpec {
  id: string;
  createdAt: number;
}

/**
 * An intercept armed at login by an Access-Accept with ERX-LI-Action 1 (spec/li-protocols.md §1.2):
 * who logged in, the addresses the Accept assigned, and what to mirror.
 */
export interface LoginArm {
  /** The NAS, named as accounting names it: the RADIUS client's address. */
  nas: string;
  /** From the Access-Request, when the NAS sent one: names the session accounting will report. */
  acctSessionId?: string;
  userName?: string;
  framedIpAddress?: string;
  framedIpv6Prefix?: string;
  delegatedIpv6Prefix?: string;
  framedIpv6Address?: string;
  /** ERX-Med-Dev-Handle: intercept ID, and session ID or "from Acct-Session-Id". */
  handle: MedDevHandle;
  /** ERX-Med-Ip-Address and ERX-Med-Port-Number. */
  mediation: Mediation;
}

/**
 * What `armAtLogin` did: mirroring started, or the arm waits for the session's Accounting-Start
 * (or any first accounting packet), or the mirror limit refused it.
 */
export type ArmOutcome =
  | { state: "started"; mirror: MirrorSession }
  | { state: "pending" }
  | { state: "refused" };

/** The data plane's view: target table additions and removals, applied between batches. */
export interface TargetSink {
  add(target: Target): void;
  remove(slot: number): void;
}

export type StoreEvent =
  | { type: "mirror-started"; mirror: MirrorSession; at: number }
  | { type: "mirror-ended"; mirror: MirrorSession; reason: EndReason; at: number }
  | { type: "mirror-refused"; subscriber: string; spec: MirrorSpec; reason: "capacity"; at: number };

export interface SessionStoreOptions {
  /** Concurrent mirror sessions beyond which new ones are refused (CoA-NAK 506). */
  maxMirrors?: number;
  sink?: TargetSink;
  onEvent?: (event: StoreEvent) => void;
  /** Derives a session ID for triggers without one. */
  sessionIdFor?: (acctSessionId: string) => number;
}

/** The whole store, as `exportState` gives it and `importState` takes it (runtime/state/snapshot.ts). */
export interface StoreState {
  /** In insertion order, which listings and idle expiry follow. */
  sessions: SubscriberSession[];
  /** With the target table slots of each, in the order of the session's prefixes. */
  mirrors: { mirror: MirrorSession; slots: number[] }[];
  triggers: Trigger[];
  /** Pending login arms by their key ("id:" + session key or "user:" + NAS + User-Name). */
  arms: { key: string; arm: LoginArm; expiresAt: number }[];
  /** Occupied target slots in table order; free slots in reuse order; the next never-used slot. */
  tableOrder: number[];
  freeSlots: number[];
  nextSlot: number;
  nextMirrorId: number;
  nextTriggerId: number;
}

export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    readonly code: "session-not-found" | "mirror-not-found" | "capacity" | "mismatch" | "trigger-not-found" | "invalid",
    message: string,
  ) {
    super(message);
  }
}

/** Distinct NAS addresses and identifiers the store shares one string of; later ones are kept as they come. */
const SHARED_LIMIT = 4096;
const ADDRESS_FIELDS = ["framedIpAddress", "framedIpv6Prefix", "delegatedIpv6Prefix", "framedIpv6Address"] as const;
const INDEXED = {
  acctSessionId: "acctSessionId",
  userName: "userName",
  framedIpAddress: "framedIpAddress",
  callingStationId: "callingStationId",
  nasPortId: "nasPortId",
} as const;
type IndexedField = keyof typeof INDEXED;
const INDEXED_FIELDS = Object.keys(INDEXED) as IndexedField[];

/** Keys per value an Index keeps in an array before it switches to a Set. */
const SMALL_MULTI = 8;

/**
 * A multimap that stores the common single key as the string itself, a few keys (sessions of
 * one NAS-Port-Id, a shared User-Name) in a small array, and only many of them in a Set: a Set
 * costs an allocation of a hash table, an array of two or three keys is cheaper to make, search
 * and shrink.
 */
class Index {
  private map = new Map<string, string | string[] | Set<string>>();
  add(value: string | undefined, key: string): void {
    if (value === undefined) return;
    const cur = this.map.get(value);
    if (cur === undefined) this.map.set(value, key);
    else if (typeof cur === "string") {
      if (cur !== key) this.map.set(value, [cur, key]);
    } else if (Array.isArray(cur)) {
      if (cur.includes(key)) return;
      if (cur.length < SMALL_MULTI) cur.push(key);
      else this.map.set(value, new Set([...cur, key]));
    } else cur.add(key);
  }
  delete(value: string | undefined, key: string): void {
    if (value === undefined) return;
    const cur = this.map.get(value);
    if (cur === undefined) return;
    if (typeof cur === "string") {
      if (cur === key) this.map.delete(value);
    } else if (Array.isArray(cur)) {
      const at = cur.indexOf(key);
      if (at === -1) return;
      if (cur.length === 2) this.map.set(value, cur[1 - at]);
      else cur.splice(at, 1);
    } else {
      cur.delete(key);
      // Back to an array well below the switch, so that a count moving around it does not rebuild each time.
      if (cur.size <= SMALL_MULTI / 2) this.map.set(value, [...cur]);
    }
  }
  /**
   * Sorted, so that what a lookup drives (mirror IDs a trigger assigns, the order sessions end in)
   * depends on the keys alone, not on the order they were indexed: a store restored from a
   * snapshot then replays a journal exactly as the original store ran it.
   */
  get(value: string): string[] {
    const cur = this.map.get(value);
    return cur === undefined ? [] : typeof cur === "string" ? [cur] : [...cur].sort();
  }
}

export class SessionStore {
  readonly maxMirrors: number;
  private sessions = new Map<string, SubscriberSession>();
  private indexes: Record<IndexedField, Index> = {
    acctSessionId: new Index(),
    userName: new Index(),
    framedIpAddress: new Index(),
    callingStationId: new Index(),
    nasPortId: new Index(),
  };
  /**
   * Sessions importState loaded that the secondary indexes (the five above) do not hold
   * yet, from `next` on: `indexSome` works through them in slices after recovery, and any lookup
   * finishes them first (`indexAll`). Mutations meanwhile keep the indexes as always: Index.add and
   * Index.delete are idempotent, so a session indexed by a mutation and again by its slice, or
   * unindexed before its slice, leaves the same entries as if it had been indexed at import.
   */
  private unindexed: { sessions: SubscriberSession[]; next: number } | undefined;
  private mirrors = new Map<string, MirrorSession>();
  private mirrorsBySession = new Map<string, Set<string>>();
  private mirrorSlots = new Map<string, number[]>();
  private targetsBySlot = new Map<number, Target>();
  private freeSlots: number[] = [];
  private nextSlot = 0;
  private triggers = new Map<string, Trigger>();
  /** Login arms waiting for their session, by "id:" + session key or "user:" + NAS + User-Name. */
  private arms = new Map<string, { arm: LoginArm; expiresAt: number }>();
  private nextMirrorId = 1;
  private nextTriggerId = 1;
  private sink?: TargetSink;
  /** Mirror session events (audit log); set after a recovery so that replayed history is not reported again. */
  onEvent?: (event: StoreEvent) => void;
  private sessionIdFor: (acctSessionId: string) => number;
  /** Mirrors refused because maxMirrors was reached. */
  refused = 0;
  /** NAS addresses and identifiers, one string per value (bounded: SHARED_LIMIT values). */
  private sharedStrings = new Map<string, string>();
  private sharedNas = new SharedStrings(this.sharedStrings);
  private sharedNasIpAddress = new SharedStrings(this.sharedStrings);
  private sharedNasIdentifier = new SharedStrings(this.sharedStrings);

  constructor(options: SessionStoreOptions = {}) {
    this.maxMirrors = options.maxMirrors ?? 65536;
    this.sink = options.sink;
    this.onEvent = options.onEvent;
    this.sessionIdFor = options.sessionIdFor ?? (() => 0);
  }

  // ---- subscriber sessions -------------------------------------------------------------------

  static keyOf(nas: string, acctSessionId: string): string {
    return `${nas}|${acctSessionId}`;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get mirrorCount(): number {
    return this.mirrors.size;
  }

  getSession(key: string): SubscriberSession | undefined {
    return this.sessions.get(key);
  }

  /** All sessions in key order is not kept; iteration order is insertion order. */
  allSessions(): IterableIterator<SubscriberSession> {
    return this.sessions.values();
  }

  /**
   * Accounting-Request Start / Interim-Update: creates or updates the session (an Interim-Update
   * for an unknown session creates it, so sessions survive an iapd restart), re-targets its mirrors
   * when an address changed, and applies triggers to a new session.
   */
  upsertSession(attrs: SessionAttributes, now: number, options?: UpsertOptions): { session: SubscriberSession; created: boolean } {
    const key = SessionStore.keyOf(attrs.nas, attrs.acctSessionId);
    return this.upsertAt(key, this.sessions.get(key), attrs, now, options);
  }

  /** `upsertSession` once the session's key and current state (`getSession(key)`) are known. */
  protected upsertAt(
    key: string,
    existing: SubscriberSession | undefined,
    attrs: SessionAttributes,
    now: number,
    options?: UpsertOptions,
  ): { session: SubscriberSession; created: boolean } {
    if (!existing) {
      if (options?.addressesDecoded !== true) validateAddresses(attrs);
      const arm = this.takeArm(attrs, now);
      // Addresses the Access-Accept assigned stand in for those accounting does not report.
      const session = (arm ? { ...definedOnly(addressesOf(arm)), ...definedOnly(attrs) } : definedOnly(attrs)) as SubscriberSession;
      // Assigned onto the fresh copy, not spread: V8 gives each object spread from an
      // Object.fromEntries result a hidden class of its own, about 400 bytes per session
      // (scripts/bench-radius.ts, docs/benchmarks.md).
      session.key = key;
      session.startTime = now;
      session.lastUpdate = now;
      // The same few values in every session of a NAS: one string each, not a copy per session.
      session.nas = this.sharedNas.of(session.nas);
      if (session.nasIpAddress !== undefined) session.nasIpAddress = this.sharedNasIpAddress.of(session.nasIpAddress);
      if (session.nasIdentifier !== undefined) session.nasIdentifier = this.sharedNasIdentifier.of(session.nasIdentifier);
      this.sessions.set(key, session);
      this.indexSession(session);
      this.applyTriggers(session, now);
      // After the triggers: at login, RADIUS wins over CLI-style triggers (li-protocols.md §1.2, JunosE).
      if (arm) this.startArmed(session, arm, now);
      return { session, created: true };
    }
    // An Interim-Update mostly repeats what the session has: the addresses it already holds were
    // validated when they were stored, and only the index entries of changed values move.
    const addressesChanged = ADDRESS_FIELDS.some((f) => attrs[f] !== undefined && attrs[f] !== existing[f]);
    if (addressesChanged && options?.addressesDecoded !== true) validateAddresses(attrs);
    for (const f of INDEXED_FIELDS) {
      const value = attrs[f];
      if (value === undefined || value === existing[f]) continue;
      this.indexes[f].delete(existing[f], key);
      this.indexes[f].add(value, key);
    }
    // Equal values are left as they are (assignChanged): the session keeps its strings (shared
    // ones stay shared), and the request's copies die young instead of being kept.
    assignChanged(existing, attrs);
    existing.lastUpdate = now;
    if (addressesChanged) for (const id of this.mirrorsBySession.get(key) ?? []) this.retarget(id);
    return { session: existing, created: false };
  }

  /** Accounting-Stop, Disconnect, idle timeout: ends the session and every mirror on it. */
  endSession(key: string, reason: EndReason, now: number): SubscriberSession {
    const session = this.sessions.get(key);
    if (!session) throw new StoreError("session-not-found", "no such subscriber session");
    // Most sessions have no mirror: no lookup of their key while no session has one.
    const mirrors = this.mirrorsBySession.size === 0 ? undefined : this.mirrorsBySession.get(key);
    if (mirrors) for (const id of [...mirrors]) this.endMirror(id, reason, now);
    this.unindexSession(session);
    this.sessions.delete(key);
    return session;
  }

  /**
   * Accounting-On/Off: the NAS rebooted, so every session it had is gone. Returns how many ended.
   * A scan of all sessions: a NAS reboots rarely, and an index by NAS would cost every
   * Accounting-Start an entry in a set as large as the NAS's sessions. Ended in key order, so that
   * a replay of the journal ends them (and frees their mirrors' slots) as the original did.
   */
  endNasSessions(nas: string, now: number): number {
    const keys: string[] = [];
    for (const s of this.sessions.values()) if (s.nas === nas) keys.push(s.key);
    keys.sort();
    for (const key of keys) this.endSession(key, "nas-reboot", now);
    return keys.length;
  }

  /** Ends sessions whose last update is older than `idleMs` (lost Accounting-Stop). */
  expireIdle(idleMs: number, now: number): number {
    const stale = [...this.sessions.values()].filter((s) => now - s.lastUpdate > idleMs);
    for (const s of stale) this.endSession(s.key, "idle-timeout", now);
    return stale.length;
  }

  /**
   * Sessions matching every given RFC 5176 identification attribute (spec/li-protocols.md §3.3).
   * At least one of acctSessionId, userName, framedIpAddress, callingStationId, nasPortId is needed.
   */
  findSessions(criteria: Partial<Pick<SessionAttributes, IndexedField | "nas">>): SubscriberSession[] {
    const fields = (Object.keys(INDEXED) as IndexedField[]).filter((f) => criteria[f] !== undefined);
    if (fields.length === 0) return [];
    this.indexAll();
    let keys = this.indexes[fields[0]].get(criteria[fields[0]] as string);
    for (const f of fields.slice(1)) {
      const other = new Set(this.indexes[f].get(criteria[f] as string));
      keys = keys.filter((k) => other.has(k));
    }
    const sessions = keys.map((k) => this.sessions.get(k)!);
    return criteria.nas === undefined ? sessions : sessions.filter((s) => s.nas === criteria.nas);
  }

  private indexSession(s: SubscriberSession): void {
    this.indexEntries(s, "add");
  }

  /**
   * Adds or removes the session's entries in the five indexes: field by field, not a loop over
   * the field names (a lookup of one shape each, on the accounting path).
   */
  private indexEntries(s: SubscriberSession, op: "add" | "delete"): void {
    const { key } = s;
    const x = this.indexes;
    x.acctSessionId[op](s.acctSessionId, key);
    x.userName[op](s.userName, key);
    x.framedIpAddress[op](s.framedIpAddress, key);
    x.callingStationId[op](s.callingStationId, key);
    x.nasPortId[op](s.nasPortId, key);
  }


  /** Secondary index entries importState left for later: true while there are some. */
  get indexing(): boolean {
    return this.unindexed !== undefined;
  }

  /**
   * Indexes up to `count` of the sessions importState loaded (those still in the store); returns
   * false once none is left. Run it in slices after recovery, between other work.
   */
  indexSome(count: number): boolean {
    const u = this.unindexed;
    if (!u) return false;
    const end = Math.min(u.sessions.length, u.next + count);
    for (let i = u.next; i < end; i++) {
      const s = u.sessions[i];
      // Ended (or ended and started again as another object) since: not this session's entries.
      if (this.sessions.get(s.key) === s) this.indexSession(s);
    }
    u.next = end;
    if (end < u.sessions.length) return true;
    this.unindexed = undefined;
    return false;
  }

  /** Finishes the secondary indexes before a lookup (a no-op once they are complete). */
  private indexAll(): void {
    if (this.unindexed) this.indexSome(Number.MAX_SAFE_INTEGER);
  }

  private unindexSession(s: SubscriberSession): void {
    this.indexEntries(s, "delete");
  }

  // ---- mirror sessions -----------------------------------------------------------------------

  getMirror(id: string): MirrorSession | undefined {
    return this.mirrors.get(id);
  }

  allMirrors(): IterableIterator<MirrorSession> {
    return this.mirrors.values();
  }

  mirrorsOf(sessionKey: string): MirrorSession[] {
    return [...(this.mirrorsBySession.get(sessionKey) ?? [])].map((id) => this.mirrors.get(id)!);
  }

  /**
   * Starts mirroring a session. A mirror of the same intercept ID already on the session is
   * replaced by the new one (JunosE: in-session, the newest request replaces the existing one).
   * Refuses with StoreError "capacity" beyond maxMirrors.
   */
  startMirror(sessionKey: string, spec: MirrorSpec, origin: MirrorOrigin, now: number): MirrorSession {
    validateSpec(spec);
    if (!this.sessions.has(sessionKey)) throw new StoreError("session-not-found", "no such subscriber session");
    const same = this.mirrorsOf(sessionKey).find((m) => m.interceptId === spec.interceptId);
    if (same) this.endMirror(same.id, "terminated", now);
    else if (this.mirrors.size >= this.maxMirrors) {
      this.refused++;
      this.onEvent?.({ type: "mirror-refused", subscriber: sessionKey, spec, reason: "capacity", at: now });
      throw new StoreError("capacity", `mirror session limit (${this.maxMirrors}) reached`);
    }
    const mirror: MirrorSession = { ...copySpec(spec), id: `m${this.nextMirrorId++}`, subscriber: sessionKey, origin, startTime: now };
    this.mirrors.set(mirror.id, mirror);
    let set = this.mirrorsBySession.get(sessionKey);
    if (!set) this.mirrorsBySession.set(sessionKey, (set = new Set()));
    set.add(mirror.id);
    this.mirrorSlots.set(mirror.id, []);
    this.retarget(mirror.id);
    this.onEvent?.({ type: "mirror-started", mirror, at: now });
    return mirror;
  }

  /**
   * CoA stop (ERX-LI-Action 0): the request must repeat the current values of the mirror it stops
   * (spec/li-protocols.md §1.2), otherwise StoreError "mismatch".
   */
  stopMirrorMatching(sessionKey: string, spec: MirrorSpec, reason: EndReason, now: number): MirrorSession {
    const current = this.mirrorsOf(sessionKey).find((m) => m.interceptId === spec.interceptId);
    if (!current) throw new StoreError("mirror-not-found", "the session has no mirror with that intercept");
    if (current.sessionId !== spec.sessionId || current.mediation.address !== spec.mediation.address || current.mediation.port !== spec.mediation.port) {
      throw new StoreError("mismatch", "stop request does not repeat the mirror's current values");
    }
    return this.endMirror(current.id, reason, now);
  }

  endMirror(id: string, reason: EndReason, now: number): MirrorSession {
    const mirror = this.mirrors.get(id);
    if (!mirror) throw new StoreError("mirror-not-found", "no such mirror session");
    for (const slot of this.mirrorSlots.get(id) ?? []) this.releaseSlot(slot);
    this.mirrorSlots.delete(id);
    this.mirrors.delete(id);
    const set = this.mirrorsBySession.get(mirror.subscriber);
    set?.delete(id);
    if (set?.size === 0) this.mirrorsBySession.delete(mirror.subscriber);
    this.onEvent?.({ type: "mirror-ended", mirror, reason, at: now });
    return mirror;
  }

  // ---- triggers ------------------------------------------------------------------------------

  getTrigger(id: string): Trigger | undefined {
    return this.triggers.get(id);
  }

  allTriggers(): IterableIterator<Trigger> {
    return this.triggers.values();
  }

  /** Adds a trigger and applies it at once to matching sessions already logged in. */
  addTrigger(spec: TriggerSpec, now: number): { trigger: Trigger; applied: MirrorSession[] } {
    if (!TRIGGER_KINDS.includes(spec.kind)) throw new StoreError("invalid", `trigger kind must be one of ${TRIGGER_KINDS.join(", ")}`);
    if (spec.value === "") throw new StoreError("invalid", "trigger value must not be empty");
    if (spec.kind === "ip-address" && parseIPv4(spec.value) === null) throw new StoreError("invalid", "ip-address triggers match Framed-IP-Address: an IPv4 address");
    validateSpec({ ...spec, sessionId: spec.sessionId ?? 0 });
    const trigger: Trigger = { ...spec, mediation: { ...spec.mediation }, id: `t${this.nextTriggerId++}`, createdAt: now };
    this.triggers.set(trigger.id, trigger);
    const applied: MirrorSession[] = [];
    this.indexAll();
    for (const key of this.indexes[fieldOf(spec.kind)].get(spec.value)) {
      const session = this.sessions.get(key)!;
      if (this.winningTriggers(session).includes(trigger)) applied.push(...this.applyTrigger(trigger, session, now));
    }
    return { trigger, applied };
  }

  /** Removes a trigger and ends the mirrors it created. */
  removeTrigger(id: string, now: number): Trigger {
    const trigger = this.triggers.get(id);
    if (!trigger) throw new StoreError("trigger-not-found", "no such trigger");
    this.triggers.delete(id);
    for (const m of [...this.mirrors.values()]) {
      if (m.origin.kind === "trigger" && m.origin.triggerId === id) this.endMirror(m.id, "trigger-removed", now);
    }
    return trigger;
  }

  /** The triggers that apply to a session: those of the highest-precedence kind that matches. */
  private winningTriggers(session: SubscriberSession): Trigger[] {
    if (this.triggers.size === 0) return [];
    for (const kind of TRIGGER_KINDS) {
      const value = session[fieldOf(kind)];
      if (value === undefined) continue;
      const found = [...this.triggers.values()].filter((t) => t.kind === kind && t.value === value);
      if (found.length > 0) return found;
    }
    return [];
  }

  private applyTriggers(session: SubscriberSession, now: number): void {
    for (const t of this.winningTriggers(session)) this.applyTrigger(t, session, now);
  }

  private applyTrigger(t: Trigger, session: SubscriberSession, now: number): MirrorSession[] {
    const spec: MirrorSpec = {
      interceptId: t.interceptId,
      sessionId: t.sessionId ?? this.sessionIdFor(session.acctSessionId),
      mediation: t.mediation,
      dscp: t.dscp,
    };
    try {
      return [this.startMirror(session.key, spec, { kind: "trigger", triggerId: t.id }, now)];
    } catch (e) {
      if (e instanceof StoreError && e.code === "capacity") return [];
      throw e;
    }
  }

  // ---- login arms (Access-Accept) -----------------------------------------------------------

  get pendingArmCount(): number {
    return this.arms.size;
  }

  /**
   * Arms mirroring at login. With the Acct-Session-Id of the Access-Request and an address (from the
   * Accept, or a session accounting already reported), the subscriber session is created or updated
   * and mirroring starts at once. Otherwise the arm waits, for at most `ttlMs`, for the session's
   * first accounting packet: matched by NAS + Acct-Session-Id when known, else NAS + User-Name; a
   * newer arm for the same login replaces it. Throws StoreError "invalid" for bad values or a login
   * that names neither an Acct-Session-Id nor a User-Name.
   */
  armAtLogin(arm: LoginArm, ttlMs: number, now: number): ArmOutcome {
    validateSpec({ interceptId: arm.handle.interceptId, sessionId: 0, mediation: arm.mediation });
    validateAddresses({ nas: arm.nas, acctSessionId: "", ...addressesOf(arm) });
    const copy: LoginArm = { ...arm, mediation: { ...arm.mediation } };
    if (arm.acctSessionId !== undefined) {
      const key = SessionStore.keyOf(arm.nas, arm.acctSessionId);
      const addressed = ADDRESS_FIELDS.some((f) => arm[f] !== undefined);
      if (this.sessions.has(key) || addressed) {
        const { session } = this.upsertSession(
          { nas: arm.nas, acctSessionId: arm.acctSessionId, userName: arm.userName, ...addressesOf(arm) },
          now,
        );
        const mirror = this.startArmed(session, copy, now);
        return mirror ? { state: "started", mirror } : { state: "refused" };
      }
      this.arms.set(`id:${key}`, { arm: copy, expiresAt: now + ttlMs });
      return { state: "pending" };
    }
    if (arm.userName === undefined) {
      throw new StoreError("invalid", "an armed login needs an Acct-Session-Id or a User-Name to find its session");
    }
    this.arms.set(`user:${SessionStore.keyOf(arm.nas, arm.userName)}`, { arm: copy, expiresAt: now + ttlMs });
    return { state: "pending" };
  }

  /** Drops login arms whose session did not appear in time. Returns how many. */
  expireArms(now: number): number {
    let dropped = 0;
    for (const [k, { expiresAt }] of this.arms) {
      if (expiresAt <= now) {
        this.arms.delete(k);
        dropped++;
      }
    }
    return dropped;
  }

  private takeArm(attrs: SessionAttributes, now: number): LoginArm | undefined {
    if (this.arms.size === 0) return undefined;
    const keys = [`id:${SessionStore.keyOf(attrs.nas, attrs.acctSessionId)}`];
    if (attrs.userName !== undefined) keys.push(`user:${SessionStore.keyOf(attrs.nas, attrs.userName)}`);
    for (const k of keys) {
      const entry = this.arms.get(k);
      if (!entry) continue;
      this.arms.delete(k);
      if (entry.expiresAt > now) return entry.arm;
    }
    return undefined;
  }

  /** Starts an armed mirror on its session; undefined when the mirror limit refuses it (counted, event sent). */
  private startArmed(session: SubscriberSession, arm: LoginArm, now: number): MirrorSession | undefined {
    const spec: MirrorSpec = { ...mirrorIds(arm.handle, session.acctSessionId), mediation: arm.mediation };
    try {
      return this.startMirror(session.key, spec, { kind: "access-accept" }, now);
    } catch (e) {
      if (e instanceof StoreError && e.code === "capacity") return undefined;
      throw e;
    }
  }

  // ---- snapshots -----------------------------------------------------------------------------

  /**
   * Everything the store holds, as references (serialize before the next mutation): what a
   * snapshot writes so that `importState` rebuilds a store that behaves identically, target slots
   * and ID counters included. `refused` is a counter, not state.
   */
  exportState(): StoreState {
    return {
      sessions: [...this.sessions.values()],
      mirrors: [...this.mirrors.values()].map((mirror) => ({ mirror, slots: this.mirrorSlots.get(mirror.id)! })),
      triggers: [...this.triggers.values()],
      arms: [...this.arms].map(([key, { arm, expiresAt }]) => ({ key, arm, expiresAt })),
      tableOrder: [...this.targetsBySlot.keys()],
      freeSlots: [...this.freeSlots],
      nextSlot: this.nextSlot,
      nextMirrorId: this.nextMirrorId,
      nextTriggerId: this.nextTriggerId,
    };
  }

  /** Loads an `exportState` result into an empty store; the sink (if any) is fed the table. */
  importState(state: StoreState): void {
    if (this.sessions.size + this.mirrors.size + this.triggers.size + this.arms.size > 0) throw new StoreError("invalid", "importState needs an empty store");
    const sessions = this.sessions;
    const list = state.sessions;
    for (let i = 0; i < list.length; i++) sessions.set(list[i].key, list[i]);
    // The secondary indexes follow in slices (indexSome), or at the first lookup (indexAll).
    if (list.length > 0) this.unindexed = { sessions: list, next: 0 };
    const targets = new Map<number, Target>();
    for (const { mirror, slots } of state.mirrors) {
      const session = this.sessions.get(mirror.subscriber);
      const prefixes = session ? sessionPrefixes(session) : [];
      if (prefixes.length !== slots.length) throw new StoreError("invalid", `mirror ${mirror.id}: ${slots.length} target slot(s) for ${prefixes.length} prefix(es) of its session`);
      this.mirrors.set(mirror.id, mirror);
      let set = this.mirrorsBySession.get(mirror.subscriber);
      if (!set) this.mirrorsBySession.set(mirror.subscriber, (set = new Set()));
      set.add(mirror.id);
      this.mirrorSlots.set(mirror.id, [...slots]);
      for (let i = 0; i < slots.length; i++) targets.set(slots[i], targetOf(mirror, prefixes[i], slots[i]));
    }
    for (const slot of state.tableOrder) {
      const target = targets.get(slot);
      if (!target) throw new StoreError("invalid", `target slot ${slot} belongs to no mirror`);
      this.targetsBySlot.set(slot, target);
      this.sink?.add(target);
    }
    for (const t of state.triggers) this.triggers.set(t.id, t);
    for (const { key, arm, expiresAt } of state.arms) this.arms.set(key, { arm, expiresAt });
    this.freeSlots = [...state.freeSlots];
    this.nextSlot = state.nextSlot;
    this.nextMirrorId = state.nextMirrorId;
    this.nextTriggerId = state.nextTriggerId;
  }

  // ---- target table --------------------------------------------------------------------------

  /** The whole target table, e.g. to feed a freshly loaded filter. */
  targetTable(): Target[] {
    return [...this.targetsBySlot.values()];
  }

  /** Replaces the sink and feeds it the whole current table. */
  attachSink(sink: TargetSink): void {
    this.sink = sink;
    for (const t of this.targetsBySlot.values()) sink.add(t);
  }

  private retarget(mirrorId: string): void {
    const mirror = this.mirrors.get(mirrorId)!;
    const session = this.sessions.get(mirror.subscriber)!;
    const slots = this.mirrorSlots.get(mirrorId)!;
    for (const slot of slots) this.releaseSlot(slot);
    slots.length = 0;
    for (const prefix of sessionPrefixes(session)) {
      const slot = this.freeSlots.pop() ?? this.nextSlot++;
      const target = targetOf(mirror, prefix, slot);
      slots.push(slot);
      this.targetsBySlot.set(slot, target);
      this.sink?.add(target);
    }
  }

  private releaseSlot(slot: number): void {
    this.targetsBySlot.delete(slot);
    this.sink?.remove(slot);
    this.freeSlots.push(slot);
  }
}

function targetOf(mirror: MirrorSession, prefix: Prefix, slot: number): Target {
  return {
    slot,
    family: prefix.family,
    address: prefix.bytes,
    prefixLength: prefix.length,
    interceptId: mirror.interceptId,
    sessionId: mirror.sessionId,
    mediationAddress: ipv4ToU32(mirror.mediation.address),
    mediationPort: mirror.mediation.port,
    sourceAddress: 0,
    tunnel: 0,
    dscp: mirror.dscp ?? DSCP_INHERIT,
  };
}

function fieldOf(kind: TriggerKind): IndexedField {
  switch (kind) {
    case "acct-session-id":
      return "acctSessionId";
    case "calling-station-id":
      return "callingStationId";
    case "ip-address":
      return "framedIpAddress";
    case "username":
      return "userName";
    case "nas-port-id":
      return "nasPortId";
  }
}

/** The prefixes a session's traffic can come from: Framed-IP-Address, the IPv6 prefixes and address. */
function sessionPrefixes(s: SubscriberSession): Prefix[] {
  const out: Prefix[] = [];
  const seen = new Set<string>();
  for (const f of ADDRESS_FIELDS) {
    const v = s[f];
    if (v === undefined || seen.has(v)) continue;
    seen.add(v);
    out.push(parsePrefix(v));
  }
  return out;
}

function addressesOf(o: Pick<SessionAttributes, (typeof ADDRESS_FIELDS)[number]>): Pick<SessionAttributes, (typeof ADDRESS_FIELDS)[number]> {
  return {
    framedIpAddress: o.framedIpAddress,
    framedIpv6Prefix: o.framedIpv6Prefix,
    delegatedIpv6Prefix: o.delegatedIpv6Prefix,
    framedIpv6Address: o.framedIpv6Address,
  };
}

function validateAddresses(attrs: SessionAttributes): void {
  for (const f of ADDRESS_FIELDS) {
    const v = attrs[f];
    if (v === undefined) continue;
    const p = parsePrefix(v);
    if (f === "framedIpAddress" && p.family !== 4) throw new StoreError("invalid", "Framed-IP-Address must be IPv4");
    if (f !== "framedIpAddress" && p.family !== 6) throw new StoreError("invalid", `${f} must be IPv6`);
  }
}

function validateSpec(spec: MirrorSpec): void {
  const bad = (what: string) => {
    throw new StoreError("invalid", what);
  };
  if (!Number.isInteger(spec.interceptId) || spec.interceptId < 0 || spec.interceptId > 0x3fffffff) bad("intercept ID must be 0..2^30-1");
  if (!Number.isInteger(spec.sessionId) || spec.sessionId < 0 || spec.sessionId > 0xffffffff) bad("session ID must be 0..2^32-1");
  if (!Number.isInteger(spec.mediation.port) || spec.mediation.port < 1 || spec.mediation.port > 65535) bad("mediation port must be 1..65535");
  ipv4ToU32(spec.mediation.address);
  if (spec.dscp !== undefined && (!Number.isInteger(spec.dscp) || spec.dscp < 0 || spec.dscp > 63)) bad("DSCP must be 0..63");
}

function copySpec(spec: MirrorSpec): MirrorSpec {
  const out: MirrorSpec = { interceptId: spec.interceptId, sessionId: spec.sessionId, mediation: { ...spec.mediation } };
  if (spec.dscp !== undefined) out.dscp = spec.dscp;
  return out;
}

/**
 * The one copy of a NAS address or identifier a store keeps (of the first SHARED_LIMIT values),
 * per attribute. The copy the previous call returned is compared first: consecutive sessions
 * mostly come from the same NAS, and comparing a short string costs less than hashing a fresh one
 * for a lookup.
 */
class SharedStrings {
  private last = "";
  constructor(private readonly strings: Map<string, string>) {}
  of(value: string): string {
    if (value === this.last) return this.last;
    let one = this.strings.get(value);
    if (one === undefined) {
      one = value;
      if (this.strings.size < SHARED_LIMIT) this.strings.set(value, value);
    }
    this.last = one;
    return one;
  }
}

/** The properties a session takes from its SessionAttributes, in one order for every session. */
const SESSION_ATTRIBUTES = ["nas", "acctSessionId", ...OPTIONAL_SESSION_ATTRIBUTES] as const;

/**
 * The attributes of `o` that are not undefined, in SESSION_ATTRIBUTES order. A fixed list, not
 * `Object.keys`: no array per call, and every session built from the same attributes gets the same
 * hidden class whatever order its caller wrote them in.
 */
function definedOnly<T extends Partial<SessionAttributes>>(o: T): T {
  const to: Partial<SessionAttributes> = {};
  for (const k of SESSION_ATTRIBUTES) {
    const v = o[k];
    if (v !== undefined) to[k] = v;
  }
  return to as T;
}

/** Copies the optional attributes of `from` that are neither undefined nor equal to those of `to` onto `to`. */
function assignChanged(to: SessionAttributes, from: SessionAttributes): void {
  for (const k of OPTIONAL_SESSION_ATTRIBUTES) {
    const v = from[k];
    if (v !== undefined && v !== to[k]) to[k] = v;
  }
}
