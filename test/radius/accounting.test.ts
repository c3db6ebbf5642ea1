/**
 * The accounting listener driven by FreeRADIUS's radclient as the NAS: Start / Interim-Update /
 * Stop / Accounting-On / Accounting-Off change the session store before the Accounting-Response.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { formatPrefix } from "../../runtime/net/address.ts";
import type { ControlPlane } from "../../runtime/daemon/control-plane.ts";
import { radclient } from "./peers.ts";
import { SECRET, startPlane } from "./iapd.ts";

const MA = "Message-Authenticator = 0x00";
const MIRROR = { interceptId: 7, sessionId: 81, mediation: { address: "198.51.100.1", port: 30030 } };

const acct = suite<{ plane: ControlPlane; port: number }>("radius: accounting listener");

acct.before.each(async (ctx) => {
  ctx.plane = await startPlane();
  ctx.port = ctx.plane.accounting.server.address().port;
});
acct.after.each(async (ctx) => {
  await ctx.plane.stop();
});

async function send(port: number, input: string) {
  return radclient(port, "acct", SECRET, `${input}, ${MA}`);
}

function targets(plane: ControlPlane): string[] {
  return plane.store
    .targetTable()
    .map((t) => `${formatPrefix({ family: t.family, bytes: t.address, length: t.prefixLength })} ${t.interceptId}/${t.sessionId}`)
    .sort();
}

acct("Start creates the session with every attribute; the NAS is the client's address", async ({ plane, port }) => {
  const r = await send(
    port,
    'Acct-Status-Type = Start, Acct-Session-Id = "a1", User-Name = "alice", Framed-IP-Address = 100.64.0.9, ' +
      "Framed-IPv6-Prefix = 2001:db8:1::/64, Delegated-IPv6-Prefix = 2001:db8:100::/56, Framed-IPv6-Address = 2001:db8:1::9, " +
      'Calling-Station-Id = "00-11-22-33-44-55", NAS-Port-Id = "ge-0/0/1.100", NAS-IP-Address = 192.0.2.7, NAS-Identifier = "bng-1"',
  );
  assert.is(r.exitCode, 0, r.output);
  assert.match(r.output, /Received Accounting-Response/);
  const s = plane.store.getSession("127.0.0.1|a1");
  assert.ok(s);
  const { key, startTime, lastUpdate, ...attrs } = s!;
  assert.equal(attrs, {
    nas: "127.0.0.1",
    acctSessionId: "a1",
    userName: "alice",
    framedIpAddress: "100.64.0.9",
    framedIpv6Prefix: "2001:db8:1::/64",
    delegatedIpv6Prefix: "2001:db8:100::/56",
    framedIpv6Address: "2001:db8:1::9",
    callingStationId: "00-11-22-33-44-55",
    nasPortId: "ge-0/0/1.100",
    nasIpAddress: "192.0.2.7",
    nasIdentifier: "bng-1",
  });
  assert.ok(startTime > 0 && lastUpdate === startTime);
  assert.is(plane.accounting.service.counters.starts, 1);
});

acct("Interim-Update re-targets the mirrors of a session whose address changed; Stop ends both", async ({ plane, port }) => {
  await send(port, 'Acct-Status-Type = Start, Acct-Session-Id = "a2", Framed-IP-Address = 100.64.0.9');
  plane.store.startMirror("127.0.0.1|a2", MIRROR, { kind: "api" }, Date.now());
  assert.equal(targets(plane), ["100.64.0.9 7/81"]);

  const r = await send(
    port,
    'Acct-Status-Type = Interim-Update, Acct-Session-Id = "a2", Framed-IP-Address = 100.64.0.10, Delegated-IPv6-Prefix = 2001:db8:200::/56',
  );
  assert.is(r.exitCode, 0, r.output);
  assert.equal(targets(plane), ["100.64.0.10 7/81", "2001:db8:200::/56 7/81"]);

  const stop = await send(port, 'Acct-Status-Type = Stop, Acct-Session-Id = "a2"');
  assert.is(stop.exitCode, 0, stop.output);
  assert.is(plane.store.getSession("127.0.0.1|a2"), undefined);
  assert.is(plane.store.mirrorCount, 0);
  assert.equal(targets(plane), []);
  assert.is(plane.accounting.service.counters.stops, 1);
});

acct("Interim-Update for an unknown session creates it; Stop for an unknown one is answered", async ({ plane, port }) => {
  assert.is((await send(port, 'Acct-Status-Type = Interim-Update, Acct-Session-Id = "a3", User-Name = "bob"')).exitCode, 0);
  assert.is(plane.store.getSession("127.0.0.1|a3")?.userName, "bob");
  assert.is((await send(port, 'Acct-Status-Type = Stop, Acct-Session-Id = "never-started"')).exitCode, 0);
  assert.is(plane.accounting.service.counters.stopsUnknown, 1);
});

for (const status of ["Accounting-On", "Accounting-Off"]) {
  acct(`${status} ends every session of that NAS (and their mirrors), no other NAS's`, async ({ plane, port }) => {
    await send(port, 'Acct-Status-Type = Start, Acct-Session-Id = "b1", Framed-IP-Address = 100.64.1.1');
    await send(port, 'Acct-Status-Type = Start, Acct-Session-Id = "b2", Framed-IP-Address = 100.64.1.2');
    plane.store.upsertSession({ nas: "192.0.2.99", acctSessionId: "b1", framedIpAddress: "100.64.9.9" }, Date.now());
    plane.store.startMirror("127.0.0.1|b1", MIRROR, { kind: "api" }, Date.now());
    const r = await send(port, `Acct-Status-Type = ${status}, NAS-IP-Address = 192.0.2.7`);
    assert.is(r.exitCode, 0, r.output);
    assert.equal([...plane.store.allSessions()].map((s) => s.key), ["192.0.2.99|b1"]);
    assert.is(plane.store.mirrorCount, 0);
    assert.is(plane.accounting.service.counters.nasReboots, 1);
  });
}

acct("no Acct-Status-Type, or no Acct-Session-Id on Start: not answered (RFC 2866 §2), counted", async ({ plane, port }) => {
  const r1 = await send(port, 'Acct-Session-Id = "c1", User-Name = "carol"');
  assert.is.not(r1.exitCode, 0);
  assert.match(r1.output, /No reply from server/);
  const r2 = await send(port, 'Acct-Status-Type = Start, User-Name = "carol"');
  assert.is.not(r2.exitCode, 0);
  assert.is(plane.store.sessionCount, 0);
  assert.equal(plane.accounting.service.counters.dropped, {
    "missing-acct-status-type": 1,
    "missing-acct-session-id": 1,
    "invalid-session": 0,
  });
  assert.is(plane.accounting.server.counters.dropped["not-answered"], 2);
});

acct("Event-Timestamp: an old event held back for Acct-Delay-Time is current; an old one is discarded", async ({ plane, port }) => {
  const old = new Date(Date.now() - 3600_000);
  const stamp = old.toUTCString().replace(/^\w+, (\d+) (\w+) (\d+) ([\d:]+) GMT$/, "$2 $1 $3 $4 UTC");
  const late = await send(port, `Acct-Status-Type = Start, Acct-Session-Id = "d1", Event-Timestamp = "${stamp}", Acct-Delay-Time = 3600`);
  assert.is(late.exitCode, 0, late.output);
  const replay = await send(port, `Acct-Status-Type = Start, Acct-Session-Id = "d2", Event-Timestamp = "${stamp}"`);
  assert.is.not(replay.exitCode, 0);
  assert.equal([...plane.store.allSessions()].map((s) => s.acctSessionId), ["d1"]);
  assert.is(plane.accounting.server.counters.dropped["event-timestamp-window"], 1);
});

acct("a CoA-Request sent to the accounting port is dropped and counted", async ({ plane, port }) => {
  const r = await radclient(port, "coa", SECRET, `Acct-Session-Id = "x", ${MA}`);
  assert.is.not(r.exitCode, 0);
  assert.is(plane.accounting.server.counters.dropped["unsupported-code"], 1);
});

acct.run();
