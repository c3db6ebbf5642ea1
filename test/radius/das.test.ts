/**
 * The dynamic authorization server (RFC 5176) driven by FreeRADIUS's radclient as the RADIUS
 * server: CoA start / stop / decoy with the ERX LI attributes, Disconnect, every NAK cause, and the
 * hygiene of the shared UDP server (secrets, Message-Authenticator, unknown clients, retransmissions,
 * malformed datagrams). Raw datagrams where radclient cannot send what is needed.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { verifyAuditLog } from "../../runtime/audit/log.ts";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { formatPrefix, u32ToIPv4 } from "../../runtime/net/address.ts";
import type { ControlPlane } from "../../runtime/daemon/control-plane.ts";
import { attribute, Code, computeAuthenticator, decodePacket, ERROR_CAUSE } from "../../runtime/radius/mod.ts";
import { RadiusServer } from "../../runtime/radius/server.ts";
import { parsePrefix } from "../../runtime/net/address.ts";
import { radclient } from "./peers.ts";
import { coaRequest, LEGACY_SECRET, rawPeer, SECRET, startPlane } from "./iapd.ts";

const MA = "Message-Authenticator = 0x00";
const HANDLE_8 = "0x0000000100000002";
const li = (action: string, handle = HANDLE_8, port = 30030, address = "127.0.0.1") =>
  `ERX-LI-Action = ${action}, ERX-Med-Dev-Handle = ${handle}, ERX-Med-Ip-Address = ${address}, ERX-Med-Port-Number = ${port}`;

interface Ctx {
  plane: ControlPlane;
  port: number;
}

function coa(port: number, input: string) {
  return radclient(port, "coa", SECRET, `${input}, ${MA}`);
}

function targets(plane: ControlPlane): string[] {
  return plane.store
    .targetTable()
    .map(
      (t) =>
        `${formatPrefix({ family: t.family, bytes: t.address, length: t.prefixLength })} ` +
        `${t.interceptId}/${t.sessionId} ${u32ToIPv4(t.mediationAddress)}:${t.mediationPort}`,
    )
    .sort();
}

function login(plane: ControlPlane, acctSessionId: string, extra: Record<string, string> = {}) {
  return plane.store.upsertSession(
    { nas: "127.0.0.1", acctSessionId, framedIpAddress: "100.64.0.9", delegatedIpv6Prefix: "2001:db8:100::/56", ...extra },
    Date.now(),
  ).session;
}

function assertNak(r: { exitCode: number | null; output: string }, kind: "CoA" | "Disconnect", cause: keyof typeof ERROR_CAUSE) {
  assert.is(r.exitCode, 1, r.output);
  assert.match(r.output, new RegExp(`Received ${kind}-NAK`), r.output);
  assert.match(r.output, new RegExp(`Error-Cause = ${cause}\\b`), r.output);
}

function assertNoAnswer(r: { exitCode: number | null; output: string }) {
  assert.is.not(r.exitCode, 0, r.output);
  assert.match(r.output, /No reply from server/, r.output);
}

const das = suite<Ctx>("radius: dynamic authorization (CoA, Disconnect)");
das.before.each(async (ctx) => {
  ctx.plane = await startPlane();
  ctx.port = ctx.plane.dynamicAuthorization.server.address().port;
});
das.after.each(async (ctx) => {
  await ctx.plane.stop();
});

das("CoA start, 8-byte handle: the subscriber's prefixes are targets with its intercept and session ID", async ({ plane, port }) => {
  login(plane, "s1", { userName: "alice" });
  const r = await coa(port, `Acct-Session-Id = "s1", ${li("on")}`);
  assert.is(r.exitCode, 0, r.output);
  assert.match(r.output, /Received CoA-ACK/);
  assert.equal(targets(plane), ["100.64.0.9 1/2 127.0.0.1:30030", "2001:db8:100::/56 1/2 127.0.0.1:30030"]);
  const [mirror] = plane.store.mirrorsOf("127.0.0.1|s1");
  assert.equal(mirror.origin, { kind: "coa" });
  assert.is(plane.dynamicAuthorization.service.counters.mirrorsStarted, 1);
});

das("CoA start, 4-byte handle (top bits 01): session ID from the Acct-Session-Id; session named by User-Name", async ({ plane, port }) => {
  login(plane, "0001E240", { userName: "bob" });
  const r = await coa(port, `User-Name = "bob", ${li("on", "0x40000010", 30031, "192.0.2.9")}`);
  assert.is(r.exitCode, 0, r.output);
  assert.equal(targets(plane), [
    `100.64.0.9 ${0x10}/${0x1e240} 192.0.2.9:30031`,
    `2001:db8:100::/56 ${0x10}/${0x1e240} 192.0.2.9:30031`,
  ]);
});

das("CoA stop repeating the current values ends the mirror; other values are refused with 404", async ({ plane, port }) => {
  login(plane, "s1", { userName: "alice", callingStationId: "00-11-22-33-44-55" });
  assert.is((await coa(port, `Acct-Session-Id = "s1", ${li("on")}`)).exitCode, 0);
  assertNak(await coa(port, `Acct-Session-Id = "s1", ${li("off", HANDLE_8, 30031)}`), "CoA", "Invalid-Request");
  assertNak(await coa(port, `Acct-Session-Id = "s1", ${li("off", "0x0000000100000003")}`), "CoA", "Invalid-Request");
  assertNak(await coa(port, `Acct-Session-Id = "s1", ${li("off", "0x0000000900000002")}`), "CoA", "Invalid-Request");
  assert.is(plane.store.mirrorCount, 1);
  // Several identification attributes: all must match.
  const r = await coa(port, `User-Name = "alice", Calling-Station-Id = "00-11-22-33-44-55", Framed-IP-Address = 100.64.0.9, ${li("off")}`);
  assert.is(r.exitCode, 0, r.output);
  assert.is(plane.store.mirrorCount, 0);
  assert.equal(targets(plane), []);
  assert.is(plane.dynamicAuthorization.service.counters.mirrorsStopped, 1);
});

das("decoy (ERX-LI-Action 2): ACK, nothing changes; it still needs a session", async ({ plane, port }) => {
  login(plane, "s1");
  const r = await coa(port, `Acct-Session-Id = "s1", ${li("noop")}`);
  assert.is(r.exitCode, 0, r.output);
  assert.match(r.output, /Received CoA-ACK/);
  assert.is(plane.store.mirrorCount, 0);
  assert.equal(targets(plane), []);
  assert.is(plane.dynamicAuthorization.service.counters.decoys, 1);
  assertNak(await coa(port, `Acct-Session-Id = "nobody", ${li("noop")}`), "CoA", "Session-Context-Not-Found");
});

das("CoA-NAK causes: 401, 402, 403, 404, 405, 407, 503, 508", async ({ plane, port }) => {
  login(plane, "s1", { userName: "carol", nasIpAddress: "192.0.2.7" });
  login(plane, "s2", { userName: "carol" });
  const cases: [string, keyof typeof ERROR_CAUSE][] = [
    [`Acct-Session-Id = "s1", Filter-Id = "gold", ${li("on")}`, "Unsupported-Attribute"],
    [`Acct-Session-Id = "s1", ERX-LI-Action = on, ERX-Med-Dev-Handle = ${HANDLE_8}, ERX-Med-Ip-Address = 127.0.0.1`, "Missing-Attribute"],
    [`ERX-LI-Action = on, ERX-Med-Dev-Handle = ${HANDLE_8}, ERX-Med-Ip-Address = 127.0.0.1, ERX-Med-Port-Number = 1`, "Missing-Attribute"],
    [li("on"), "Missing-Attribute"],
    [`Acct-Session-Id = "s1", NAS-IP-Address = 192.0.2.8, ${li("on")}`, "NAS-Identification-Mismatch"],
    [`Acct-Session-Id = "s1", ${li("on", "0x4000000100000002")}`, "Invalid-Request"],
    [`Acct-Session-Id = "s1", ${li("on", "0x00000010")}`, "Invalid-Request"],
    [`Acct-Session-Id = "s1", ${li("on", "0x000000010000000200")}`, "Invalid-Request"],
    [`Acct-Session-Id = "s1"`, "Unsupported-Service"],
    [`Acct-Session-Id = "s1", ${li("3")}`, "Invalid-Attribute-Value"],
    [`Acct-Session-Id = "s1", ${li("on", HANDLE_8, 0)}`, "Invalid-Attribute-Value"],
    [`Acct-Session-Id = "s1", ${li("on", HANDLE_8, 70000)}`, "Invalid-Attribute-Value"],
    [`Acct-Session-Id = "s1", ${li("on", HANDLE_8, 30030, "0.0.0.0")}`, "Invalid-Attribute-Value"],
    [`Acct-Session-Id = "s1", ${li("on", HANDLE_8, 30030, "239.1.1.1")}`, "Invalid-Attribute-Value"],
    [`Acct-Session-Id = "s9", ${li("on")}`, "Session-Context-Not-Found"],
    [`User-Name = "carol", ${li("on")}`, "Multiple-Session-Selection-Unsupported"],
  ];
  for (const [input, cause] of cases) assertNak(await coa(port, input), "CoA", cause);
  assert.is(plane.store.mirrorCount, 0);
  // NAS identification narrows the selection: now only s1 matches.
  assert.is((await coa(port, `User-Name = "carol", NAS-IP-Address = 192.0.2.7, ${li("on")}`)).exitCode, 0);
  assert.equal(plane.dynamicAuthorization.service.counters.naks, {
    401: 1,
    402: 3,
    403: 1,
    404: 3,
    405: 1,
    407: 5,
    503: 1,
    508: 1,
  });
});

das("CoA-NAK 506 beyond limits.maxMirrors, counted; a stop frees the place", async () => {
  const plane = await startPlane({ limits: { maxMirrors: 1 } });
  try {
    const port = plane.dynamicAuthorization.server.address().port;
    login(plane, "s1");
    plane.store.upsertSession({ nas: "127.0.0.1", acctSessionId: "s2", framedIpAddress: "100.64.0.10" }, Date.now());
    assert.is((await coa(port, `Acct-Session-Id = "s1", ${li("on")}`)).exitCode, 0);
    assertNak(await coa(port, `Acct-Session-Id = "s2", ${li("on")}`), "CoA", "Resources-Unavailable");
    assert.is(plane.store.refused, 1);
    assert.is(plane.dynamicAuthorization.service.counters.naks[506], 1);
    assert.is((await coa(port, `Acct-Session-Id = "s1", ${li("off")}`)).exitCode, 0);
    assert.is((await coa(port, `Acct-Session-Id = "s2", ${li("on")}`)).exitCode, 0);
  } finally {
    await plane.stop();
  }
});

das("Disconnect-Request ends the session and its mirrors (ACK); unknown session: NAK 503", async ({ plane, port }) => {
  login(plane, "s1");
  assert.is((await coa(port, `Acct-Session-Id = "s1", ${li("on")}`)).exitCode, 0);
  const r = await radclient(port, "disconnect", SECRET, `Acct-Session-Id = "s1", ${MA}`);
  assert.is(r.exitCode, 0, r.output);
  assert.match(r.output, /Received Disconnect-ACK/);
  assert.is(plane.store.sessionCount, 0);
  assert.is(plane.store.mirrorCount, 0);
  assert.equal(targets(plane), []);
  assertNak(await radclient(port, "disconnect", SECRET, `Acct-Session-Id = "s1", ${MA}`), "Disconnect", "Session-Context-Not-Found");
  assertNak(await radclient(port, "disconnect", SECRET, `User-Name = "x", ${li("on")}, ${MA}`), "Disconnect", "Unsupported-Attribute");
});

das("wrong secret, missing Message-Authenticator: no answer, counted", async ({ plane, port }) => {
  login(plane, "s1");
  assertNoAnswer(await radclient(port, "coa", "not-the-secret", `Acct-Session-Id = "s1", ${li("on")}, ${MA}`));
  assertNoAnswer(await radclient(port, "coa", SECRET, `Acct-Session-Id = "s1", ${li("on")}`));
  assert.is(plane.store.mirrorCount, 0);
  const { dropped, handled } = plane.dynamicAuthorization.server.counters;
  assert.is(dropped["authenticator-mismatch"], 1);
  assert.is(dropped["message-authenticator-missing"], 1);
  assert.is(handled, 0);
});

das("bad Message-Authenticator (authenticator valid): no answer, counted", async ({ plane, port }) => {
  login(plane, "s1");
  const { bytes } = coaRequest(1, SECRET, true);
  bytes[22] ^= 0xff; // first octet of the Message-Authenticator value, which encodePacket puts first
  bytes.set(computeAuthenticator(bytes, new Uint8Array(16), SECRET), 4);
  const peer = await rawPeer();
  try {
    assert.equal(await peer.send(port, bytes), []);
  } finally {
    await peer.close();
  }
  assert.is(plane.dynamicAuthorization.server.counters.dropped["message-authenticator-invalid"], 1);
  assert.is(plane.store.mirrorCount, 0);
});

das("clients by longest prefix: a legacy client without Message-Authenticator; unknown clients get nothing", async ({ plane, port }) => {
  login(plane, "s1");
  const legacy = await rawPeer("127.0.0.2");
  const stranger = await rawPeer("127.0.0.9");
  try {
    const request = coaRequest(5, LEGACY_SECRET, false);
    const [answer] = await legacy.send(port, request.bytes);
    assert.ok(answer, "legacy client answered");
    assert.is(decodePacket(answer, LEGACY_SECRET, { request: request.packet }).code, Code.CoaAck);
    assert.equal(await stranger.send(port, coaRequest(6, SECRET, true).bytes), []);
  } finally {
    await legacy.close();
    await stranger.close();
  }
  assert.is(plane.dynamicAuthorization.server.counters.dropped["unknown-client"], 1);
  // 127.0.0.1 is inside the legacy /30 too, but its own entry (secret, MA required) wins.
  assertNoAnswer(await radclient(port, "coa", LEGACY_SECRET, `Acct-Session-Id = "s1", ${li("noop")}`));
});

das("retransmission: the same bytes twice get the same reply bytes; the request is acted on once", async ({ plane, port }) => {
  login(plane, "s1");
  const peer = await rawPeer();
  try {
    const { bytes, packet } = coaRequest(9, SECRET, true);
    const [first] = await peer.send(port, bytes);
    const [second] = await peer.send(port, bytes);
    assert.ok(first && second);
    assert.equal(new Uint8Array(second), new Uint8Array(first));
    assert.is(decodePacket(first, SECRET, { request: packet }).code, Code.CoaAck);
    // A new request (new Identifier) with the same content is a new request.
    const [third] = await peer.send(port, coaRequest(10, SECRET, true).bytes);
    assert.ok(third);
  } finally {
    await peer.close();
  }
  const { handled, duplicatesAnswered } = plane.dynamicAuthorization.server.counters;
  assert.is(handled, 2);
  assert.is(duplicatesAnswered, 1);
  assert.is(plane.dynamicAuthorization.service.counters.mirrorsStarted, 2);
});

das("Event-Timestamp outside the window: silently discarded (RFC 5176 §3.4)", async ({ plane, port }) => {
  login(plane, "s1");
  assertNoAnswer(await coa(port, `Acct-Session-Id = "s1", Event-Timestamp = "Nov 14 2023 22:13:20 UTC", ${li("on")}`));
  assert.is(plane.dynamicAuthorization.server.counters.dropped["event-timestamp-window"], 1);
  const peer = await rawPeer();
  try {
    const [answer] = await peer.send(port, coaRequest(3, SECRET, true, [attribute("Event-Timestamp", new Date())]).bytes);
    assert.ok(answer, "a current Event-Timestamp is accepted");
  } finally {
    await peer.close();
  }
});

das("malformed datagrams are counted by reason and dropped; the listener keeps serving", async ({ plane, port }) => {
  login(plane, "s1");
  const good = coaRequest(4, SECRET, true).bytes;
  const truncated = good.slice(0, good.length - 1);
  const badLength = good.slice();
  badLength[2] = 0x20; // Length 8192 > 4096
  const overflow = good.slice();
  overflow[21] = 0xff; // the first attribute's Length runs past the end
  const unknownCode = good.slice();
  unknownCode[0] = 99;
  const response = good.slice();
  response[0] = Code.CoaAck;
  const peer = await rawPeer();
  try {
    for (const d of [Uint8Array.of(1, 2, 3), truncated, badLength, overflow, unknownCode, response]) {
      assert.equal(await peer.send(port, d, 50), []);
    }
    assert.is((await peer.send(port, good)).length, 1);
  } finally {
    await peer.close();
  }
  assert.equal(plane.dynamicAuthorization.server.counters.dropped, {
    "packet-too-short": 1,
    "packet-truncated": 1,
    "length-out-of-range": 1,
    "attribute-overflow": 1,
    "unknown-code": 1,
    "unexpected-response": 1,
  });
});

das("IPv6: a listener on [::1] and a client ::1; on [::] an IPv4 client is known by its IPv4 address", async () => {
  const clients = [
    { address: "::1", secret: SECRET },
    { address: "127.0.0.1", secret: LEGACY_SECRET },
  ];
  for (const [listen, from, to, secret] of [
    ["[::1]:0", "::1", "::1", SECRET],
    ["[::]:0", "127.0.0.1", "127.0.0.1", LEGACY_SECRET],
  ]) {
    const plane = await startPlane({ clients, dynamicAuthorization: { listen } });
    const peer = await rawPeer(from, to);
    try {
      plane.store.upsertSession({ nas: from, acctSessionId: "s1", framedIpAddress: "100.64.0.9" }, Date.now());
      const request = coaRequest(1, secret, true);
      const [answer] = await peer.send(plane.dynamicAuthorization.server.address().port, request.bytes);
      assert.ok(answer, `${listen} answered ${from}`);
      assert.is(decodePacket(answer, secret, { request: request.packet }).code, Code.CoaAck);
      assert.is(plane.store.mirrorsOf(`${from}|s1`).length, 1);
    } finally {
      await peer.close();
      await plane.stop();
    }
  }
});

das.run();

const server = suite("radius: server duplicate cache while a request is being handled");

server("a retransmission that arrives before the first is answered is dropped; later ones get the reply", async () => {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const srv = await RadiusServer.listen({
    service: "test",
    listen: { address: "127.0.0.1", family: 4, port: 0 },
    clients: [{ prefix: parsePrefix("127.0.0.1"), secret: SECRET, requireMessageAuthenticator: true }],
    accepts: [Code.CoaRequest],
    handler: async () => {
      calls++;
      await gate;
      return { code: Code.CoaAck };
    },
  });
  const peer = await rawPeer();
  try {
    const { port } = srv.address();
    const { bytes } = coaRequest(1, SECRET, true);
    const pending = peer.send(port, bytes, 200);
    await new Promise((r) => setTimeout(r, 50));
    const [whileBusy] = await Promise.all([peer.send(port, bytes, 50)]);
    assert.equal(whileBusy, []);
    release();
    assert.is((await pending).length, 1);
    assert.is((await peer.send(port, bytes)).length, 1);
  } finally {
    await peer.close();
    await srv.close();
  }
  assert.is(calls, 1);
  assert.is(srv.counters.dropped["duplicate-in-progress"], 1);
  assert.is(srv.counters.duplicatesAnswered, 1);
});

server("a retransmission within the cache lifetime is answered from the cache; after it, the request is handled again", async () => {
  let calls = 0;
  let now = 1_000_000;
  const srv = await RadiusServer.listen({
    service: "test",
    listen: { address: "127.0.0.1", family: 4, port: 0 },
    clients: [{ prefix: parsePrefix("127.0.0.1"), secret: SECRET, requireMessageAuthenticator: true }],
    accepts: [Code.CoaRequest],
    duplicateCacheSeconds: 1,
    now: () => now,
    handler: () => {
      calls++;
      return { code: Code.CoaAck };
    },
  });
  const peer = await rawPeer();
  try {
    const { port } = srv.address();
    const { bytes } = coaRequest(1, SECRET, true);
    assert.is((await peer.send(port, bytes)).length, 1);
    now += 999;
    assert.is((await peer.send(port, bytes)).length, 1);
    assert.is(calls, 1);
    now += 1;
    assert.is((await peer.send(port, bytes)).length, 1);
    assert.is(calls, 2);
  } finally {
    await peer.close();
    await srv.close();
  }
  assert.is(srv.counters.duplicatesAnswered, 1);
});

server("a listener on a port in use fails to start, naming the error", async () => {
  const options = {
    service: "test",
    listen: { address: "127.0.0.1", family: 4 as const, port: 0 },
    clients: [],
    accepts: [Code.CoaRequest],
    handler: () => undefined,
  };
  const first = await RadiusServer.listen(options);
  try {
    const taken = { ...options.listen, port: first.address().port };
    await RadiusServer.listen({ ...options, listen: taken }).then(
      () => assert.unreachable("bound twice"),
      (e: NodeJS.ErrnoException) => assert.is(e.code, "EADDRINUSE"),
    );
  } finally {
    await first.close();
  }
});

server.run();

const e2e = suite("radius: iapd run end to end");

e2e("iapd run --config: accounting and CoA from radclient, stops on SIGTERM", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iapd-run-"));
  const config = join(dir, "iapd.yaml");
  writeFileSync(
    config,
    `radius:\n  clients:\n    - { address: 127.0.0.1, secret: "${SECRET}" }\n  accounting: { listen: "127.0.0.1:0" }\n  dynamicAuthorization: { listen: "127.0.0.1:0" }\n` +
      // A configured token: no first-run token is printed (its random text could match the check below).
      `api:\n  listen: "127.0.0.1:0"\n  tokens: [{ name: t, role: viewer, sha256: "${"0".repeat(64)}" }]\n`,
  );
  // State (./var) goes to the temporary directory.
  const child = spawn(process.execPath, [resolve("bin/iapd.js"), "run", "--config", config], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
  try {
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`iapd run not ready after 10 s:\n${output}`)), 10_000);
      child.stderr.on("data", () => {
        // Printed once everything is up; the signal handlers are installed before.
        if (/iapd: ready/.test(output)) {
          clearTimeout(timer);
          ready();
        }
      });
      void exited.then((code) => fail(new Error(`iapd run exited with ${code}:\n${output}`)));
    });
    const acctPort = Number(/accounting listening on 127\.0\.0\.1:(\d+)/.exec(output)![1]);
    const dasPort = Number(/dynamic authorization listening on 127\.0\.0\.1:(\d+)/.exec(output)![1]);
    const start = await radclient(acctPort, "acct", SECRET, `Acct-Status-Type = Start, Acct-Session-Id = "e1", Framed-IP-Address = 100.64.0.1, ${MA}`);
    assert.is(start.exitCode, 0, start.output);
    const r = await coa(dasPort, `Acct-Session-Id = "e1", ${li("on")}`);
    assert.is(r.exitCode, 0, r.output);
    assert.match(r.output, /Received CoA-ACK/);
    assertNak(await coa(dasPort, `Acct-Session-Id = "e2", ${li("on")}`), "CoA", "Session-Context-Not-Found");
    const stop = await radclient(acctPort, "acct", SECRET, `Acct-Status-Type = Stop, Acct-Session-Id = "e1", ${MA}`);
    assert.is(stop.exitCode, 0, stop.output);
  } finally {
    if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGTERM");
    assert.is(await exited, 0, output);
  }
  try {
    // The CoA's start and the logout's end are LI actions from RADIUS: both in the hash-chained audit log.
    const auditPath = join(dir, "var", "audit.log");
    assert.ok(verifyAuditLog(auditPath).ok, "audit log verifies");
    const records = readFileSync(auditPath, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { actor: string; action: string; detail?: { reason?: string } });
    assert.ok(records.some((r) => r.actor === "radius:coa" && r.action === "mirror.start"), JSON.stringify(records));
    assert.ok(records.some((r) => r.actor === "radius:accounting" && r.action === "mirror.end" && r.detail?.reason === "logout"), JSON.stringify(records));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // What the daemon prints never names the subscriber or the intercept.
  assert.not.match(output, /100\.64\.0\.1|e1|30030|127\.0\.0\.1:30030/);
});

e2e.run();
