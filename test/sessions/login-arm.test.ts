import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Target } from "../../runtime/filter/types.ts";
import { formatPrefix } from "../../runtime/net/address.ts";
import { sessionIdFromAcctSessionId } from "../../runtime/sessions/handle.ts";
import { SessionStore, StoreError, type LoginArm } from "../../runtime/sessions/store.ts";

const md = { address: "198.51.100.1", port: 30030 };
const eight = { format: 8, interceptId: 0x300, sessionId: 0x90 } as const;

function table(store: SessionStore): string[] {
  return store
    .targetTable()
    .map((t: Target) => `${formatPrefix({ family: t.family, bytes: t.address, length: t.prefixLength })}>${t.interceptId}/${t.sessionId}`)
    .sort();
}

const arm = (over: Partial<LoginArm>): LoginArm => ({ nas: "192.0.2.7", handle: eight, mediation: md, ...over });

test("Accept with Acct-Session-Id and Framed-IP-Address: session created, mirroring at once", () => {
  const store = new SessionStore();
  const out = store.armAtLogin(arm({ acctSessionId: "a1", userName: "alice", framedIpAddress: "100.64.0.9" }), 60_000, 1);
  assert.is(out.state, "started");
  assert.equal(table(store), ["100.64.0.9>768/144"]);
  const [s] = store.findSessions({ acctSessionId: "a1" });
  assert.is(s.userName, "alice");
  assert.equal(store.mirrorsOf(s.key)[0].origin, { kind: "access-accept" });
  // Accounting-Start for the same session updates it, the mirror stays.
  store.upsertSession({ nas: "192.0.2.7", acctSessionId: "a1", framedIpAddress: "100.64.0.9", nasPortId: "ge-0/0/1" }, 2);
  assert.equal(table(store), ["100.64.0.9>768/144"]);
  assert.is(store.pendingArmCount, 0);
});

test("no address in the Accept: pending until Accounting-Start by NAS + Acct-Session-Id; 4-byte handle takes its session ID then", () => {
  const store = new SessionStore();
  const four = { format: 4, interceptId: 0x10 } as const;
  assert.equal(store.armAtLogin(arm({ acctSessionId: "0001E240", handle: four }), 60_000, 1), { state: "pending" });
  assert.equal(table(store), []);
  assert.is(store.sessionCount, 0);
  // Another NAS with the same Acct-Session-Id is another session.
  store.upsertSession({ nas: "192.0.2.8", acctSessionId: "0001E240", framedIpAddress: "100.64.0.1" }, 2);
  assert.equal(table(store), []);
  store.upsertSession({ nas: "192.0.2.7", acctSessionId: "0001E240", framedIpv6Prefix: "2001:db8:1::/64" }, 3);
  assert.equal(table(store), [`2001:db8:1::/64>16/${sessionIdFromAcctSessionId("0001E240")}`]);
  assert.is(store.pendingArmCount, 0);
});

test("no Acct-Session-Id in the Access-Request: matched by NAS + User-Name; the Accept's address fills in", () => {
  const store = new SessionStore();
  assert.equal(store.armAtLogin(arm({ userName: "bob", framedIpAddress: "100.64.0.5" }), 60_000, 1), { state: "pending" });
  store.upsertSession({ nas: "192.0.2.7", acctSessionId: "x", userName: "carol" }, 2);
  assert.equal(table(store), []);
  store.upsertSession({ nas: "192.0.2.7", acctSessionId: "y", userName: "bob" }, 3);
  assert.equal(table(store), ["100.64.0.5>768/144"]);
  assert.is(store.findSessions({ acctSessionId: "y" })[0].framedIpAddress, "100.64.0.5");
});

test("pending arms expire; an expired arm is never applied", () => {
  const store = new SessionStore();
  store.armAtLogin(arm({ acctSessionId: "a1" }), 1000, 1);
  store.armAtLogin(arm({ acctSessionId: "a2" }), 1000, 1);
  assert.is(store.expireArms(500), 0);
  // Lazily ignored once expired, even before a sweep.
  store.upsertSession({ nas: "192.0.2.7", acctSessionId: "a1", framedIpAddress: "100.64.0.1" }, 1001);
  assert.equal(table(store), []);
  assert.is(store.expireArms(1001), 1);
  assert.is(store.pendingArmCount, 0);
});

test("mirror limit: refused and counted, not lost silently; bad values and unmatchable logins throw", () => {
  const store = new SessionStore({ maxMirrors: 1 });
  assert.is(store.armAtLogin(arm({ acctSessionId: "a1", framedIpAddress: "100.64.0.1" }), 1000, 1).state, "started");
  const other = { ...eight, interceptId: 9 };
  assert.is(store.armAtLogin(arm({ acctSessionId: "a2", framedIpAddress: "100.64.0.2", handle: other }), 1000, 1).state, "refused");
  assert.is(store.refused, 1);
  assert.throws(() => store.armAtLogin(arm({}), 1000, 1), (e: unknown) => e instanceof StoreError && e.code === "invalid");
  assert.throws(
    () => store.armAtLogin(arm({ userName: "u", mediation: { address: "198.51.100.1", port: 0 } }), 1000, 1),
    (e: unknown) => e instanceof StoreError && e.code === "invalid",
  );
  assert.throws(() => store.armAtLogin(arm({ userName: "u", framedIpAddress: "2001:db8::1" }), 1000, 1), (e: unknown) => e instanceof StoreError);
});

test.run();
