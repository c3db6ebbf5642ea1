/**
 * The session store and tunnel registry with every successful mutation reported as one journal
 * operation: the method's name, its arguments and its `now`. Nested calls (an Accounting-Start that
 * applies a trigger, an Accounting-Stop that ends mirrors) are the outer operation's doing and are
 * not reported separately; a call that throws reports nothing. Replaying the operations in order on
 * an identical store (`applyOperation`) rebuilds identical state, IDs and target slots included,
 * because every mutation takes `now` explicitly and IDs are sequential.
 *
 * ```ts
 * const store = new JournaledSessionStore({ maxMirrors: 65536 });
 * store.onOperation = (op) => journal.append(op);
 * store.endSession(key, "logout", Date.now()); // reported
 * ```
 */
import {
  OPTIONAL_SESSION_ATTRIBUTES,
  SessionStore,
  type ArmOutcome,
  type EndReason,
  type LoginArm,
  type MirrorOrigin,
  type MirrorSession,
  type MirrorSpec,
  type SessionAttributes,
  type SubscriberSession,
  type Trigger,
  type TriggerSpec,
  type UpsertOptions,
} from "../sessions/store.ts";
import { TunnelRegistry, type Tunnel, type TunnelSpec } from "../sessions/tunnels.ts";

/** The session store methods that change state, each journaled under its own name. */
export const STORE_OPERATIONS = [
  "upsertSession",
  "endSession",
  "endNasSessions",
  "expireIdle",
  "startMirror",
  "stopMirrorMatching",
  "endMirror",
  "addTrigger",
  "removeTrigger",
  "armAtLogin",
  "expireArms",
] as const;

/** The tunnel registry's, journaled as "tunnel.add" and "tunnel.remove". */
export const TUNNEL_OPERATIONS = ["tunnel.add", "tunnel.remove"] as const;

export type OperationName = (typeof STORE_OPERATIONS)[number] | (typeof TUNNEL_OPERATIONS)[number];

/** One mutation: the method, its arguments without `now`, and `now`. */
export interface Operation {
  op: OperationName;
  args: unknown[];
  now: number;
}

export class JournaledSessionStore extends SessionStore {
  /** Called after each successful outermost mutation, synchronously. */
  onOperation?: (operation: Operation) => void;
  private depth = 0;

  /** `changed` absent: every successful call changed something (no default closure per call on the accounting path). */
  private journaled<T>(op: OperationName, args: unknown[], now: number, run: () => T, changed?: (result: T) => boolean): T {
    this.depth++;
    let result: T;
    try {
      result = run();
    } finally {
      this.depth--;
    }
    if (this.depth === 0 && (changed === undefined || changed(result))) this.onOperation?.({ op, args, now });
    return result;
  }

  /**
   * An update is journaled as what it changes: the session's identity and the attributes whose
   * value differs from the session's (an Interim-Update that only says the session is alive is
   * `[seq, now, "U", nas, acctSessionId]`, record.ts). Replayed on the identical store, that
   * changes what the full attributes changed, the time included. `options` is not journaled: a
   * replay checks the addresses again.
   */
  override upsertSession(attrs: SessionAttributes, now: number, options?: UpsertOptions): { session: SubscriberSession; created: boolean } {
    const key = SessionStore.keyOf(attrs.nas, attrs.acctSessionId);
    const existing = this.getSession(key);
    const recorded = existing ? changedAttributes(existing, attrs) : attrs;
    // `journaled` written out: no closure on the accounting path.
    this.depth++;
    let result: { session: SubscriberSession; created: boolean };
    try {
      result = this.upsertAt(key, existing, attrs, now, options);
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.onOperation?.({ op: "upsertSession", args: [recorded], now });
    return result;
  }
  override endSession(key: string, reason: EndReason, now: number): SubscriberSession {
    // `journaled` written out, as for upsertSession.
    this.depth++;
    let session: SubscriberSession;
    try {
      session = super.endSession(key, reason, now);
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.onOperation?.({ op: "endSession", args: [key, reason], now });
    return session;
  }
  override endNasSessions(nas: string, now: number): number {
    return this.journaled("endNasSessions", [nas], now, () => super.endNasSessions(nas, now), (n) => n > 0);
  }
  override expireIdle(idleMs: number, now: number): number {
    return this.journaled("expireIdle", [idleMs], now, () => super.expireIdle(idleMs, now), (n) => n > 0);
  }
  override startMirror(sessionKey: string, spec: MirrorSpec, origin: MirrorOrigin, now: number): MirrorSession {
    return this.journaled("startMirror", [sessionKey, spec, origin], now, () => super.startMirror(sessionKey, spec, origin, now));
  }
  override stopMirrorMatching(sessionKey: string, spec: MirrorSpec, reason: EndReason, now: number): MirrorSession {
    return this.journaled("stopMirrorMatching", [sessionKey, spec, reason], now, () => super.stopMirrorMatching(sessionKey, spec, reason, now));
  }
  override endMirror(id: string, reason: EndReason, now: number): MirrorSession {
    return this.journaled("endMirror", [id, reason], now, () => super.endMirror(id, reason, now));
  }
  override addTrigger(spec: TriggerSpec, now: number): { trigger: Trigger; applied: MirrorSession[] } {
    return this.journaled("addTrigger", [spec], now, () => super.addTrigger(spec, now));
  }
  override removeTrigger(id: string, now: number): Trigger {
    return this.journaled("removeTrigger", [id], now, () => super.removeTrigger(id, now));
  }
  override armAtLogin(arm: LoginArm, ttlMs: number, now: number): ArmOutcome {
    return this.journaled("armAtLogin", [arm, ttlMs], now, () => super.armAtLogin(arm, ttlMs, now));
  }
  override expireArms(now: number): number {
    return this.journaled("expireArms", [], now, () => super.expireArms(now), (n) => n > 0);
  }
}

/** The attributes of `attrs` that `upsertSession` would change on `session` (store.ts assignChanged), with its identity. */
function changedAttributes(session: SubscriberSession, attrs: SessionAttributes): SessionAttributes {
  const changed: SessionAttributes = { nas: attrs.nas, acctSessionId: attrs.acctSessionId };
  for (const f of OPTIONAL_SESSION_ATTRIBUTES) {
    const value = attrs[f];
    if (value !== undefined && value !== session[f]) changed[f] = value;
  }
  return changed;
}

export class JournaledTunnelRegistry extends TunnelRegistry {
  onOperation?: (operation: Operation) => void;
  /** For `remove`, which takes no time of its own. */
  constructor(private readonly clock: () => number = Date.now) {
    super();
  }
  override add(spec: TunnelSpec, now: number): Tunnel {
    const tunnel = super.add(spec, now);
    this.onOperation?.({ op: "tunnel.add", args: [spec], now });
    return tunnel;
  }
  override remove(name: string): Tunnel {
    const tunnel = super.remove(name);
    this.onOperation?.({ op: "tunnel.remove", args: [name], now: this.clock() });
    return tunnel;
  }
}

/** Applies one journaled operation: what replay does for each record. Throws what the method throws. */
export function applyOperation(store: SessionStore, tunnels: TunnelRegistry, { op, args, now }: Operation): void {
  if (op === "tunnel.add") tunnels.add(args[0] as TunnelSpec, now);
  else if (op === "tunnel.remove") tunnels.remove(args[0] as string);
  else if ((STORE_OPERATIONS as readonly string[]).includes(op)) (store[op] as (...a: unknown[]) => unknown).apply(store, [...args, now]);
  else throw new Error(`unknown operation "${op}"`);
}
