import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Target } from "../../runtime/filter/types.ts";
import { formatPrefix } from "../../runtime/net/address.ts";
import { parseMedDevHandle, sessionIdFromAcctSessionId } from "../../runtime/sessions/handle.ts";
import { SessionStore, StoreError, type StoreEvent } from "../../runtime/sessions/store.ts";

/** A sink that keeps the table the data plane would hold, and checks every remove/add is consistent. */
function tableSink() {
  const table = new Map<number, Target>();
  return {
    table,
    add(t: Target) {
      assert.not.ok(table.has(t.slot), `slot ${t.slot} added twice`);
      table.set(t.slot, t);
    },
    remove(slot: number) {
      assert.ok(table.delete(slot), `slot ${slot} removed but not present`);
    },
    prefixes: () => [...table.values()].map((t) => `${formatPrefix({ family: t.family, bytes: t.address, length: t.prefixLength })}>${t.interceptId}`).sort(),
  };
}

const md = { address: "198.51.100.1", port: 30030 };
const spec = (interceptId: number, sessionId = 1) => ({ interceptId, sessionId, mediation: md });

test("accounting sessions, address change re-targets mirrors, stop ends them", () => {
  const sink = tableSink();
  const events: StoreEvent[] = [];
  const store = new SessionStore({ sink, onEvent: (e) => events.push(e) });
  const { session } = store.upsertSession({ nas: "192.0.2.7", acctSessionId: "a1", userName: "alice", framedIpAddress: "100.64.0.9" }, 1);
  store.startMirror(session.key, spec(7), { kind: "coa" }, 2);
  assert.equal(sink.prefixes(), ["100.64.0.9>7"]);
  store.upsertSession({ nas: "192.0.2.7", acctSessionId: "a1", framedIpAddress: "100.64.0.10", delegatedIpv6Prefix: "2001:db8:100::/56" }, 3);
  assert.equal(sink.prefixes(), ["100.64.0.10>7", "2001:db8:100::/56>7"]);
  assert.is(store.getSession(session.key)!.userName, "alice");
  assert.is(store.findSessions({ framedIpAddress: "100.64.0.9" }).length, 0);
  assert.is(store.findSessions({ framedIpAddress: "100.64.0.10" }).length, 1);
  store.endSession(session.key, "logout", 4);
  assert.equal(sink.prefixes(), []);
  assert.is(store.mirrorCount, 0);
  assert.equal(events.map((e) => e.type), ["mirror-started", "mirror-ended"]);
});

test("CoA stop must repeat the current values; same intercept replaces", () => {
  const sink = tableSink();
  const store = new SessionStore({ sink });
  const { session } = store.upsertSession({ nas: "n", acctSessionId: "s", framedIpAddress: "100.64.0.1" }, 0);
  store.startMirror(session.key, spec(7, 1), { kind: "coa" }, 1);
  store.startMirror(session.key, spec(7, 2), { kind: "coa" }, 2);
  assert.is(store.mirrorCount, 1);
  assert.is([...sink.table.values()][0].sessionId, 2);
  try {
    store.stopMirrorMatching(session.key, spec(7, 1), "coa-stop", 3);
    assert.unreachable();
  } catch (e) {
    assert.is((e as StoreError).code, "mismatch");
  }
  store.stopMirrorMatching(session.key, spec(7, 2), "coa-stop", 3);
  assert.is(sink.table.size, 0);
});

test("capacity: beyond maxMirrors new mirrors are refused and counted", () => {
  const store = new SessionStore({ maxMirrors: 2 });
  for (let i = 0; i < 3; i++) store.upsertSession({ nas: "n", acctSessionId: `s${i}`, framedIpAddress: `100.64.0.${i + 1}` }, 0);
  store.startMirror("n|s0", spec(1), { kind: "coa" }, 0);
  store.startMirror("n|s1", spec(2), { kind: "coa" }, 0);
  assert.throws(() => store.startMirror("n|s2", spec(3), { kind: "coa" }, 0), (e: StoreError) => e.code === "capacity");
  assert.is(store.refused, 1);
});

test("triggers: JunosE precedence, apply to current and later logins, removal ends their mirrors", () => {
  const sink = tableSink();
  const store = new SessionStore({ sink, sessionIdFor: sessionIdFromAcctSessionId });
  store.upsertSession({ nas: "n", acctSessionId: "100", userName: "bob", callingStationId: "00-11-22", framedIpAddress: "100.64.1.1" }, 0);
  const byUser = store.addTrigger({ kind: "username", value: "bob", interceptId: 11, mediation: md }, 1);
  assert.is(byUser.applied.length, 1);
  assert.is(byUser.applied[0].sessionId, 100);
  // a higher-precedence trigger added later does not retroactively win over an applied one here,
  // but at the next login only the calling-station-id trigger applies.
  store.addTrigger({ kind: "calling-station-id", value: "00-11-22", interceptId: 12, sessionId: 5, mediation: md }, 2);
  store.endSession("n|100", "logout", 3);
  store.upsertSession({ nas: "n", acctSessionId: "101", userName: "bob", callingStationId: "00-11-22", framedIpAddress: "100.64.1.2" }, 4);
  assert.equal(store.mirrorsOf("n|101").map((m) => m.interceptId), [12]);
  store.removeTrigger(byUser.trigger.id, 5);
  assert.is(store.mirrorCount, 1);
  const [t12] = [...store.allTriggers()];
  store.removeTrigger(t12.id, 6);
  assert.is(store.mirrorCount, 0);
  assert.is(sink.table.size, 0);
});

test("NAS reboot ends that NAS's sessions only; idle timeout ends stale sessions", () => {
  const store = new SessionStore();
  store.upsertSession({ nas: "a", acctSessionId: "1" }, 0);
  store.upsertSession({ nas: "a", acctSessionId: "2" }, 0);
  store.upsertSession({ nas: "b", acctSessionId: "1" }, 50);
  assert.is(store.endNasSessions("a", 60), 2);
  assert.is(store.sessionCount, 1);
  assert.is(store.expireIdle(100, 200), 1);
  assert.is(store.sessionCount, 0);
});

test("findSessions intersects identification attributes", () => {
  const store = new SessionStore();
  store.upsertSession({ nas: "a", acctSessionId: "1", userName: "u" }, 0);
  store.upsertSession({ nas: "b", acctSessionId: "1", userName: "v" }, 0);
  assert.is(store.findSessions({ acctSessionId: "1" }).length, 2);
  assert.is(store.findSessions({ acctSessionId: "1", userName: "v" })[0].nas, "b");
  assert.is(store.findSessions({ acctSessionId: "1", nas: "a" })[0].userName, "u");
  assert.is(store.findSessions({}).length, 0);
});

test("findSessions by a value many sessions share: lookups match a scan while the sharers grow past and shrink below the index's array/Set switch", () => {
  const store = new SessionStore();
  // Tens of sessions per NAS-Port-Id and User-Name, then back to none: single keys, small arrays
  // and Sets, in both directions.
  let seed = 7;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const keys: string[] = [];
  for (let step = 0; step < 4000; step++) {
    if (keys.length > 0 && random(100) < (step < 2000 ? 40 : 70)) {
      const key = keys.splice(random(keys.length), 1)[0];
      store.endSession(key, "logout", step);
    } else {
      const id = `s${step}`;
      const nasPortId = `ge-0/0/0.${random(3)}`;
      // Some Interim-Updates move a session to another port: its entry moves between shared values.
      const { session } = store.upsertSession({ nas: `192.0.2.${1 + random(2)}`, acctSessionId: id, nasPortId, userName: `u${random(2)}` }, step);
      keys.push(session.key);
      if (random(10) === 0) store.upsertSession({ nas: session.nas, acctSessionId: id, nasPortId: `ge-0/0/0.${random(3)}` }, step);
    }
    if (step % 25 === 0 || keys.length < 12) {
      for (const criteria of [{ nasPortId: "ge-0/0/0.0" }, { nasPortId: "ge-0/0/0.2" }, { userName: "u1" }, { userName: "u0", nasPortId: "ge-0/0/0.1" }]) {
        const expected = [...store.allSessions()]
          .filter((s) => Object.entries(criteria).every(([f, v]) => s[f as keyof typeof s] === v))
          .map((s) => s.key)
          .sort();
        assert.equal(store.findSessions(criteria).map((s) => s.key).sort(), expected, `step ${step} ${JSON.stringify(criteria)}`);
      }
    }
    if (step === 2000) assert.ok(keys.length > 100, "enough sessions share each value to need a Set");
  }
  assert.ok(keys.length < 10, `and few are left at the end (${keys.length})`);
});

test("bad addresses are refused before anything changes", () => {
  const store = new SessionStore();
  assert.throws(() => store.upsertSession({ nas: "a", acctSessionId: "1", framedIpAddress: "2001:db8::1" }, 0), /IPv4/);
  assert.throws(() => store.upsertSession({ nas: "a", acctSessionId: "1", delegatedIpv6Prefix: "2001:db8::1/56" }, 0), /bits set/);
  assert.is(store.sessionCount, 0);
});

test("Med-Dev-Handle: both JunosE formats (spec/li-protocols.md §2.3)", () => {
  assert.equal(parseMedDevHandle(Buffer.from("0000030000000090", "hex")), { format: 8, interceptId: 0x300, sessionId: 0x90 });
  assert.equal(parseMedDevHandle(Buffer.from("40000010", "hex")), { format: 4, interceptId: 0x10 });
  assert.throws(() => parseMedDevHandle(Buffer.from("80000010", "hex")), /bits 01/);
  assert.throws(() => parseMedDevHandle(Buffer.from("4000000000000010", "hex")), /bits 00/);
  assert.throws(() => parseMedDevHandle(Buffer.from("400000", "hex")), /4 or 8 bytes/);
  assert.is(sessionIdFromAcctSessionId("4294967297"), 1);
  assert.is(sessionIdFromAcctSessionId("0x1e240"), 0x1e240);
  assert.is(sessionIdFromAcctSessionId("0001E240"), 0x1e240);
  assert.is(sessionIdFromAcctSessionId("erx atm 1/0.100:0"), sessionIdFromAcctSessionId("erx atm 1/0.100:0"));
  // FNV-1a 32 of "user@isp", computed independently.
  assert.is(sessionIdFromAcctSessionId("user@isp"), 0x97ee8b9e);
  assert.is(sessionIdFromAcctSessionId("abc"), sessionIdFromAcctSessionId("abc"));
  assert.is.not(sessionIdFromAcctSessionId("abc"), 0xabc);
});

test.run();
