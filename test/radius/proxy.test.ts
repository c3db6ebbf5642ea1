/**
 * The authentication proxy between real peers: radclient (FreeRADIUS 3.2) as the NAS, a real
 * FreeRADIUS server as the upstream, with a users file returning the ERX LI attributes.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createSocket } from "node:dgram";
import { authenticationSchema, type AuthenticationConfig } from "../../runtime/config/radius-proxy.ts";
import { formatPrefix, parsePrefix } from "../../runtime/net/address.ts";
import { accountingService } from "../../runtime/radius/accounting.ts";
import { attribute, Code, decodePacket, encodePacket } from "../../runtime/radius/mod.ts";
import { startAuthenticationProxy, type RunningAuthenticationProxy } from "../../runtime/radius/proxy.ts";
import { RadiusServer, type RadiusClient } from "../../runtime/radius/server.ts";
import { sessionIdFromAcctSessionId } from "../../runtime/sessions/handle.ts";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { freePort, radclient, startFreeRadius, type FreeRadius } from "./peers.ts";

const NAS_SECRET = "nas-secret";
const UPSTREAM_SECRET = "upstream-secret";

const USERS = `intercepted Cleartext-Password := "pw-i"
	ERX-LI-Action = on,
	ERX-Med-Dev-Handle = 0x0000030000000090,
	ERX-Med-Ip-Address = 192.0.2.7,
	ERX-Med-Port-Number = 30030,
	Framed-IP-Address = 100.64.0.9,
	Tunnel-Password:3 = "tunnel-secret",
	Reply-Message = "welcome"

plain Cleartext-Password := "pw-p"
	Framed-IP-Address = 100.64.0.10,
	MS-MPPE-Recv-Key = 0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f,
	MS-MPPE-Send-Key = 0xf0e0d0c0b0a09080706050403020100f

unaddressed Cleartext-Password := "pw-u"
	ERX-LI-Action = on,
	ERX-Med-Dev-Handle = 0x40000010,
	ERX-Med-Ip-Address = 192.0.2.8,
	ERX-Med-Port-Number = 30031

decoy Cleartext-Password := "pw-d"
	ERX-LI-Action = noop,
	ERX-Med-Dev-Handle = 0x0000030000000091,
	ERX-Med-Ip-Address = 192.0.2.7,
	ERX-Med-Port-Number = 30030,
	Framed-IP-Address = 100.64.0.11

partial Cleartext-Password := "pw-x"
	ERX-LI-Action = on,
	ERX-Med-Dev-Handle = 0x0000030000000092,
	Framed-IP-Address = 100.64.0.12
`;

const clients: RadiusClient[] = [
  { prefix: parsePrefix("127.0.0.1/32"), secret: NAS_SECRET, requireMessageAuthenticator: true, name: "nas" },
];

interface Context {
  upstream?: FreeRadius;
  store?: SessionStore;
  proxy?: RunningAuthenticationProxy;
  accounting?: RadiusServer;
  logs: string[];
}

const proxy = suite<Context>("radius: authentication proxy (radclient -> iapd -> FreeRADIUS)", { logs: [] });

function config(upstreams: { port: number; name?: string }[], timing = { timeoutMs: 300, retries: 1 }): AuthenticationConfig {
  return authenticationSchema.parse({
    listen: "127.0.0.1:0",
    // Debian's FreeRADIUS 3.2.1 sends no Message-Authenticator in its responses.
    upstreams: upstreams.map((u) => ({ address: "127.0.0.1", secret: UPSTREAM_SECRET, requireMessageAuthenticator: false, ...u })),
    ...timing,
  });
}

/** Every target as "prefix>interceptId/sessionId". */
function targets(store: SessionStore): string[] {
  return store
    .targetTable()
    .map((t) => `${formatPrefix({ family: t.family, bytes: t.address, length: t.prefixLength })}>${t.interceptId}/${t.sessionId}`)
    .sort();
}

function login(user: string, password: string, extra = ""): string {
  return `User-Name = "${user}", User-Password = "${password}", NAS-Identifier = "bng-1", Message-Authenticator = 0x00${extra}`;
}

proxy.before(async (context) => {
  try {
    context.upstream = await startFreeRadius(UPSTREAM_SECRET, USERS);
    context.store = new SessionStore({ sessionIdFor: sessionIdFromAcctSessionId });
    context.proxy = await startAuthenticationProxy({
      config: config([{ port: context.upstream.authPort, name: "freeradius" }]),
      clients,
      store: context.store,
      log: (line) => context.logs.push(line),
    });
    const accounting = accountingService(context.store);
    context.accounting = await RadiusServer.listen({
      service: "accounting",
      listen: { address: "127.0.0.1", family: 4, port: 0 },
      clients,
      accepts: [Code.AccountingRequest],
      handler: accounting.handle,
      // As the control plane runs it: radclient 3.2.1 refuses a Message-Authenticator in an Accounting-Response.
      messageAuthenticatorInReplies: false,
    });
  } catch (e) {
    // uvu reports a failed hook only as failed tests; show why.
    console.error(e);
    throw e;
  }
});

proxy.after(async ({ upstream, proxy, accounting }) => {
  await proxy?.close();
  await accounting?.close();
  await upstream?.stop();
});

proxy("intercepted user: NAS gets the Accept without LI attributes, Tunnel-Password re-encrypted; target added", async (c) => {
  const port = c.proxy!.server.address().port;
  const r = await radclient(
    port,
    "auth",
    NAS_SECRET,
    login("intercepted", "pw-i", ', Acct-Session-Id = "li-1", Proxy-State = 0x6e61732d7374617465'),
  );
  assert.is(r.exitCode, 0, r.output);
  const reply = r.output.slice(r.output.indexOf("Received Access-Accept"));
  assert.match(reply, /Received Access-Accept/);
  assert.not.match(reply, /ERX-|Vendor-4874|Attr-26/);
  assert.match(reply, /Tunnel-Password:3 = "tunnel-secret"/);
  assert.match(reply, /Framed-IP-Address = 100\.64\.0\.9/);
  assert.match(reply, /Reply-Message = "welcome"/);
  // RFC 2865 §5.33: the NAS's Proxy-State comes back, once.
  assert.is(reply.match(/Proxy-State = 0x6e61732d7374617465/g)?.length, 1, reply);
  // Message-Authenticator first, the rest in the upstream's order (the users file's), Proxy-State last.
  assert.match(
    reply,
    /^Received Access-Accept.*\n\tMessage-Authenticator = 0x[0-9a-f]{32}\n\tFramed-IP-Address = .*\n\tTunnel-Password:3 = .*\n\tReply-Message = .*\n\tProxy-State = .*\n/,
  );
  assert.equal(targets(c.store!), [`100.64.0.9>${0x300}/${0x90}`]);
  const [session] = c.store!.findSessions({ acctSessionId: "li-1" });
  assert.is(session.nas, "127.0.0.1");
  assert.is(session.userName, "intercepted");
  assert.equal(c.store!.mirrorsOf(session.key).map((m) => m.origin.kind), ["access-accept"]);
  assert.is(c.proxy!.proxy.counters.li.started, 1);
  // The upstream saw User-Password decrypted with the NAS's secret and re-hidden with its own.
  assert.match(c.upstream!.log(), /User-Password = "pw-i"/);
  assert.match(c.upstream!.log(), /pap: User authenticated successfully/);
});

proxy("plain user: Accept relayed with its MPPE keys re-encrypted for the NAS, no target", async (c) => {
  const before = targets(c.store!);
  const r = await radclient(c.proxy!.server.address().port, "auth", NAS_SECRET, login("plain", "pw-p", ', Acct-Session-Id = "p-1"'));
  assert.is(r.exitCode, 0, r.output);
  const reply = r.output.slice(r.output.indexOf("Received Access-Accept"));
  assert.match(reply, /Framed-IP-Address = 100\.64\.0\.10/);
  assert.match(reply, /MS-MPPE-Recv-Key = 0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n/);
  assert.match(reply, /MS-MPPE-Send-Key = 0xf0e0d0c0b0a09080706050403020100f\n/);
  assert.equal(targets(c.store!), before);
  assert.is(c.store!.findSessions({ acctSessionId: "p-1" }).length, 0);
});

proxy("CHAP: the NAS's Request Authenticator reaches the upstream as CHAP-Challenge (RFC 2865 §5.3)", async (c) => {
  const port = c.proxy!.server.address().port;
  const ok = await radclient(port, "auth", NAS_SECRET, 'User-Name = "plain", CHAP-Password = "pw-p", Message-Authenticator = 0x00');
  assert.is(ok.exitCode, 0, ok.output);
  assert.match(ok.output, /Received Access-Accept/);
  const bad = await radclient(port, "auth", NAS_SECRET, 'User-Name = "plain", CHAP-Password = "wrong", Message-Authenticator = 0x00');
  assert.match(bad.output, /Received Access-Reject/);
});

proxy("wrong password: Access-Reject relayed without the LI attributes FreeRADIUS put in it", async (c) => {
  const before = targets(c.store!);
  const r = await radclient(c.proxy!.server.address().port, "auth", NAS_SECRET, login("intercepted", "wrong", ', Acct-Session-Id = "li-2"'));
  assert.match(r.output, /Received Access-Reject/, r.output);
  const reply = r.output.slice(r.output.indexOf("Received Access-Reject"));
  assert.not.match(reply, /ERX-|Vendor-4874|Attr-26/);
  assert.match(reply, /Tunnel-Password:3 = "tunnel-secret"/);
  assert.equal(targets(c.store!), before);
  assert.is(c.proxy!.proxy.counters.li.outsideAccept, 1);
});

proxy("decoy (LI-Action 2) and a partial LI set: Accept relayed without them, nothing mirrored, both counted", async (c) => {
  const port = c.proxy!.server.address().port;
  const before = targets(c.store!);
  for (const [user, password] of [["decoy", "pw-d"], ["partial", "pw-x"]]) {
    const r = await radclient(port, "auth", NAS_SECRET, login(user, password, `, Acct-Session-Id = "${user}-1"`));
    assert.is(r.exitCode, 0, r.output);
    const reply = r.output.slice(r.output.indexOf("Received Access-Accept"));
    assert.not.match(reply, /ERX-|Vendor-4874|Attr-26/);
    assert.match(reply, /Framed-IP-Address = 100\.64\.0\.1[12]/);
  }
  assert.equal(targets(c.store!), before);
  assert.is(c.proxy!.proxy.counters.li.noop, 1);
  assert.is(c.proxy!.proxy.counters.li.partial, 1);
});

proxy("Accept without an address: armed, then mirroring starts with the Accounting-Start (4-byte handle)", async (c) => {
  const before = targets(c.store!);
  const auth = await radclient(
    c.proxy!.server.address().port,
    "auth",
    NAS_SECRET,
    login("unaddressed", "pw-u", ', Acct-Session-Id = "0001E240"'),
  );
  assert.is(auth.exitCode, 0, auth.output);
  assert.equal(targets(c.store!), before);
  assert.is(c.proxy!.proxy.counters.li.pending, 1);
  assert.is(c.store!.pendingArmCount, 1);
  const acct = await radclient(
    c.accounting!.address().port,
    "acct",
    NAS_SECRET,
    'Acct-Status-Type = Start, Acct-Session-Id = "0001E240", User-Name = "unaddressed", Framed-IP-Address = 100.64.0.20, Message-Authenticator = 0x00',
  );
  assert.is(acct.exitCode, 0, acct.output);
  assert.equal(targets(c.store!), [...before, `100.64.0.20>${0x10}/${0x1e240}`].sort());
  assert.is(c.store!.pendingArmCount, 0);
});

proxy("failover: the first upstream never answers, the second does", async (c) => {
  const dead = await freePort();
  const running = await startAuthenticationProxy({
    config: config([{ port: dead, name: "dead" }, { port: c.upstream!.authPort, name: "live" }], { timeoutMs: 200, retries: 1 }),
    clients,
    store: new SessionStore(),
  });
  try {
    const r = await radclient(running.server.address().port, "auth", NAS_SECRET, login("plain", "pw-p"), 3);
    assert.is(r.exitCode, 0, r.output);
    assert.match(r.output, /Received Access-Accept/);
    const counters = running.proxy.upstreamCounters();
    assert.is(counters.dead.requests, 1);
    assert.is(counters.dead.retransmissions, 1);
    assert.is(counters.dead.timeouts, 1);
    assert.is(counters.live.responses, 1);
  } finally {
    await running.close();
  }
});

proxy("no upstream answers: no answer to the NAS", async (c) => {
  const running = await startAuthenticationProxy({
    config: config([{ port: await freePort(), name: "dead" }], { timeoutMs: 150, retries: 1 }),
    clients,
    store: new SessionStore(),
  });
  try {
    const r = await radclient(running.server.address().port, "auth", NAS_SECRET, login("plain", "pw-p"), 1);
    assert.is.not(r.exitCode, 0);
    assert.not.match(r.output, /Received Access-/);
  } finally {
    await running.close();
  }
  assert.is(running.proxy.counters.unanswered, 1);
  assert.equal(running.proxy.counters.relayed, {});
});

proxy("NAS retransmission while the upstream is slow: one upstream request, retransmissions answered from the cache", async () => {
  let seen = 0;
  // A slow upstream: answers each Access-Request 400 ms later.
  const upstream = createSocket("udp4");
  upstream.on("message", (datagram, from) => {
    seen++;
    const request = decodePacket(datagram, UPSTREAM_SECRET);
    if (!request.is(Code.AccessRequest)) return;
    const accept = encodePacket({ code: Code.AccessAccept, attributes: [attribute("Reply-Message", "slow")] }, UPSTREAM_SECRET, {
      request,
      messageAuthenticator: true,
    });
    setTimeout(() => upstream.send(accept.bytes, from.port, from.address), 400);
  });
  await new Promise<void>((bound) => upstream.bind(0, "127.0.0.1", () => bound()));
  const running = await startAuthenticationProxy({
    config: authenticationSchema.parse({
      listen: "127.0.0.1:0",
      upstreams: [{ address: "127.0.0.1", port: upstream.address().port, secret: UPSTREAM_SECRET }],
      timeoutMs: 2000,
    }),
    clients,
    store: new SessionStore(),
  });
  const nas = createSocket("udp4");
  try {
    const request = encodePacket(
      { code: Code.AccessRequest, identifier: 42, attributes: [attribute("User-Name", "x"), attribute("User-Password", "y")] },
      NAS_SECRET,
      { messageAuthenticator: true },
    );
    const replies: Buffer[] = [];
    nas.on("message", (m) => replies.push(m));
    const port = running.server.address().port;
    const send = () => new Promise<void>((sent) => nas.send(request.bytes, port, "127.0.0.1", () => sent()));
    await send();
    await new Promise((r) => setTimeout(r, 100));
    await send();
    await new Promise((r) => setTimeout(r, 600));
    assert.is(seen, 1);
    assert.is(replies.length, 1);
    await send();
    await new Promise((r) => setTimeout(r, 100));
    assert.is(seen, 1);
    assert.is(replies.length, 2);
    assert.equal(replies[1], replies[0]);
    const accept = decodePacket(replies[0], NAS_SECRET, { request: request.packet });
    assert.is(accept.code, Code.AccessAccept);
    assert.is(accept.first("Reply-Message"), "slow");
    assert.is(running.proxy.counters.requests, 1);
  } finally {
    nas.close();
    await running.close();
    upstream.close();
  }
});

proxy("nothing iapd logged names a subscriber or an LI value", ({ logs, proxy }) => {
  // The listener logs handler failures; there must have been none.
  assert.equal(proxy!.server.counters.dropped["handler-error"] ?? 0, 0);
  for (const line of logs) assert.not.match(line, /intercepted|unaddressed|192\.0\.2\.[78]|3003[01]|100\.64\./, line);
});

proxy.run();
