/**
 * Random store operations for the state tests, and a canonical dump to compare whole states.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StoreError, TRIGGER_KINDS, type SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelError, type TunnelRegistry } from "../../runtime/sessions/tunnels.ts";
import { AddressError } from "../../runtime/net/address.ts";
import { applyOperation, type Operation } from "../../runtime/state/journaled.ts";
import { sessionIdFromAcctSessionId } from "../../runtime/sessions/handle.ts";

export const STORE_OPTIONS = { maxMirrors: 40, sessionIdFor: sessionIdFromAcctSessionId };

/** A temporary directory, removed when the test process exits. */
export function tempDir(name: string): string {
  const directory = mkdtempSync(join(tmpdir(), `iapd-${name}-`));
  process.on("exit", () => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** The tests' seeded PRNG (mulberry32), shared with the frame builders. */
export { mulberry32 as prng } from "../helpers/frames.ts";

/** One random operation that makes sense for the store's current state (it may still be refused). */
export function randomOperation(store: SessionStore, tunnels: TunnelRegistry, random: () => number, now: number): Operation {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const int = (n: number) => Math.floor(random() * n);
  const nas = pick(["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
  const sessions = [...store.allSessions()];
  const mirrors = [...store.allMirrors()];
  const triggers = [...store.allTriggers()];
  const mediation = { address: pick(["198.51.100.1", "198.51.100.2"]), port: pick([30030, 30031]) };
  const r = random();
  if (r < 0.3 || sessions.length === 0) {
    const attrs: Record<string, string> = { nas, acctSessionId: String(int(60)), userName: `user${int(15)}` };
    if (random() < 0.8) attrs.framedIpAddress = `100.64.${int(2)}.${int(30)}`;
    if (random() < 0.3) attrs.framedIpv6Prefix = `2001:db8:${int(20).toString(16)}::/56`;
    if (random() < 0.3) attrs.callingStationId = `cs-${int(10)}`;
    return { op: "upsertSession", args: [attrs], now };
  }
  const session = pick(sessions);
  if (r < 0.4) return { op: "endSession", args: [session.key, pick(["logout", "disconnect"])], now };
  if (r < 0.42) return { op: "endNasSessions", args: [nas], now };
  if (r < 0.44) return { op: "expireIdle", args: [int(50_000)], now };
  if (r < 0.6) return { op: "startMirror", args: [session.key, { interceptId: 1 + int(5), sessionId: int(1000), mediation, dscp: random() < 0.3 ? int(64) : undefined }, { kind: pick(["coa", "api"]) }], now };
  if (r < 0.65 && mirrors.length > 0) {
    const m = pick(mirrors);
    return { op: "stopMirrorMatching", args: [m.subscriber, random() < 0.8 ? { interceptId: m.interceptId, sessionId: m.sessionId, mediation: m.mediation } : { ...m, sessionId: m.sessionId + 1 }, "coa-stop"], now };
  }
  if (r < 0.72 && mirrors.length > 0) return { op: "endMirror", args: [pick(mirrors).id, "terminated"], now };
  if (r < 0.8) {
    const kind = pick(TRIGGER_KINDS.filter((k) => k !== "nas-port-id"));
    const value = kind === "ip-address" ? `100.64.${int(2)}.${int(30)}` : kind === "username" ? `user${int(15)}` : kind === "acct-session-id" ? String(int(60)) : `cs-${int(10)}`;
    return { op: "addTrigger", args: [{ kind, value, interceptId: 10 + int(5), sessionId: random() < 0.5 ? int(1000) : undefined, mediation }], now };
  }
  if (r < 0.84 && triggers.length > 0) return { op: "removeTrigger", args: [pick(triggers).id], now };
  if (r < 0.92) {
    const handle = random() < 0.5 ? { format: 8, interceptId: 20 + int(3), sessionId: int(99) } : { format: 4, interceptId: 20 + int(3) };
    const arm: Record<string, unknown> = { nas, handle, mediation };
    if (random() < 0.7) arm.acctSessionId = String(int(60));
    if (random() < 0.6 || arm.acctSessionId === undefined) arm.userName = `user${int(15)}`;
    if (random() < 0.4) arm.framedIpAddress = `100.64.${int(2)}.${int(30)}`;
    return { op: "armAtLogin", args: [arm, 1 + int(20_000)], now };
  }
  if (r < 0.94) return { op: "expireArms", args: [], now };
  if (r < 0.97) return { op: "tunnel.add", args: [{ name: `md${int(6)}`, sourceAddress: "192.0.2.9", dscp: random() < 0.5 ? int(64) : undefined }], now };
  return { op: "tunnel.remove", args: [`md${int(6)}`], now };
}

/** Applies `operation`; false when the store refused it (as a request would be refused). */
export function tryApply(store: SessionStore, tunnels: TunnelRegistry, operation: Operation): boolean {
  try {
    applyOperation(store, tunnels, operation);
    return true;
  } catch (e) {
    if (e instanceof StoreError || e instanceof TunnelError || e instanceof AddressError) return false;
    throw e;
  }
}

/** The whole state as canonical JSON (sorted keys, no undefined): equal strings = equal states. */
export function dump(store: SessionStore, tunnels: TunnelRegistry): string {
  return canonical({ ...store.exportState(), targets: store.targetTable(), tunnels: tunnels.list() });
}

export function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v) => {
    if (v instanceof Uint8Array) return [...v];
    if (v && typeof v === "object" && !Array.isArray(v)) return Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => [k, v[k]]));
    return v;
  });
}
