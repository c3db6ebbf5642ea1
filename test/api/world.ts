/**
 * The state an API test runs against, and the control surface the shared request suite uses to set
 * it up and observe it. On Node the suite calls `Control` in-process; against Deno the same calls go
 * over a small loopback control server in the Deno process (`controlApp`), so one suite serves both.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { createApp } from "../../api/app.ts";
import { hashToken } from "../../api/auth/tokens.ts";
import { zeroCounters, type FiltersProvider } from "../../api/providers.ts";
import { AuditLog } from "../../runtime/audit/log.ts";
import type { Role } from "../../runtime/config/api.ts";
import { SessionStore, type SessionAttributes } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";

/** Test-only tokens, one per role (and the names the audit log shows). */
export const TOKENS: Record<Role, string> = {
  viewer: "test-viewer-token-0123456789abcdef",
  operator: "test-operator-token-0123456789abcdef",
  "li-admin": "test-li-admin-token-0123456789abcdef",
};

export interface Seeded {
  sessions: { alice: string; bob: string; carol: string };
  mirror: string;
  trigger: string;
  tunnel: string;
}

export interface Control {
  /** Ends every session, trigger and tunnel, then seeds three sessions, a mirror, a trigger, a tunnel. */
  reset(): Promise<Seeded>;
  addSessions(sessions: SessionAttributes[]): Promise<void>;
  /** Ends sessions by API id. */
  endSessions(ids: string[]): Promise<void>;
  /** Everything an API request could change, as one string. */
  snapshot(): Promise<string>;
  auditPath(): Promise<string>;
}

const apiId = (key: string) => Buffer.from(key, "utf8").toString("base64url");

const FILTERS: FiltersProvider = {
  list: () => [{ name: "jmirror", version: "test", abiVersion: 1, sha256: "0".repeat(64), active: true, loadedAt: new Date(0).toISOString() }],
};

export function buildWorld() {
  const dir = mkdtempSync(join(tmpdir(), "iapd-api-"));
  const store = new SessionStore({ maxMirrors: 1000 });
  const tunnels = new TunnelRegistry();
  const auditPath = join(dir, "audit.log");
  const audit = AuditLog.open(auditPath);
  const clock = Date.now;
  const tokens = (Object.keys(TOKENS) as Role[]).map((role) => ({ name: `${role}-user`, role, sha256: hashToken(TOKENS[role]) }));
  const app = createApp({ store, tunnels, config: { tokens }, audit, clock, filters: FILTERS, counters: zeroCounters });

  const control: Control = {
    async reset() {
      const now = clock();
      for (const t of [...store.allTriggers()]) store.removeTrigger(t.id, now);
      for (const s of [...store.allSessions()]) store.endSession(s.key, "logout", now);
      for (const t of tunnels.list()) tunnels.remove(t.name);
      const add = (a: SessionAttributes) => store.upsertSession(a, now).session.key;
      const alice = add({ nas: "192.0.2.7", acctSessionId: "a-1", userName: "alice", framedIpAddress: "100.64.0.1", delegatedIpv6Prefix: "2001:db8:100::/56", nasIdentifier: "bng1" });
      const bob = add({ nas: "192.0.2.7", acctSessionId: "b/2 x", userName: "bob", framedIpAddress: "100.64.0.2" });
      const carol = add({ nas: "192.0.2.8", acctSessionId: "c-3", userName: "carol", framedIpAddress: "100.64.0.3" });
      const mirror = store.startMirror(alice, { interceptId: 7, sessionId: 70, mediation: { address: "198.51.100.1", port: 30030 } }, { kind: "coa" }, now);
      const { trigger } = store.addTrigger({ kind: "username", value: "carol", interceptId: 9, sessionId: 90, mediation: { address: "198.51.100.1", port: 30030 } }, now);
      tunnels.add({ name: "md1", sourceAddress: "192.0.2.1" }, now);
      return { sessions: { alice: apiId(alice), bob: apiId(bob), carol: apiId(carol) }, mirror: mirror.id, trigger: trigger.id, tunnel: "md1" };
    },
    async addSessions(sessions) {
      for (const a of sessions) store.upsertSession(a, clock());
    },
    async endSessions(ids) {
      for (const id of ids) store.endSession(Buffer.from(id, "base64url").toString("utf8"), "logout", clock());
    },
    async snapshot() {
      const sorted = <T>(xs: Iterable<T>, key: (x: T) => string) => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : 1));
      return JSON.stringify({
        sessions: sorted(store.allSessions(), (s) => s.key),
        mirrors: sorted(store.allMirrors(), (m) => m.id),
        triggers: sorted(store.allTriggers(), (t) => t.id),
        tunnels: tunnels.list(),
        audit: audit.count,
      });
    },
    async auditPath() {
      return auditPath;
    },
  };
  return { app, control, store, audit };
}

/** The control surface over HTTP, for a server in another process (POST /<operation>, JSON args). */
export function controlApp(control: Control) {
  const app = new Hono();
  app.post("/:op", async (c) => {
    const op = c.req.param("op") as keyof Control;
    const args = (await c.req.json()) as unknown[];
    const fn = control[op] as (...a: unknown[]) => Promise<unknown>;
    return c.json({ result: (await fn(...args)) ?? null });
  });
  return app;
}

export function remoteControl(base: string): Control {
  const call = (op: keyof Control) => async (...args: unknown[]) => {
    const res = await fetch(`${base}/${op}`, { method: "POST", body: JSON.stringify(args), headers: { "content-type": "application/json" } });
    if (!res.ok) throw new Error(`control ${op}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { result: unknown }).result;
  };
  return {
    reset: call("reset") as Control["reset"],
    addSessions: call("addSessions") as Control["addSessions"],
    endSessions: call("endSessions") as Control["endSessions"],
    snapshot: call("snapshot") as Control["snapshot"],
    auditPath: call("auditPath") as Control["auditPath"],
  };
}
