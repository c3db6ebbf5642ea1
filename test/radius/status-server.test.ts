/**
 * RFC 5997 Status-Server, asked by FreeRADIUS's radclient: answered on the accounting port
 * (Accounting-Response) and the authentication port (Access-Accept) for a known client with a
 * Message-Authenticator; deliberately unanswered on the dynamic authorization port, from unknown
 * clients and without Message-Authenticator.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parsePrefix } from "../../runtime/net/address.ts";
import { Code, decodePacket, encodePacket } from "../../runtime/radius/mod.ts";
import { RadiusServer } from "../../runtime/radius/server.ts";
import type { ControlPlane } from "../../runtime/daemon/control-plane.ts";
import { radclient } from "./peers.ts";
import { LEGACY_SECRET, rawPeer, SECRET, startPlane } from "./iapd.ts";

const MA = "Message-Authenticator = 0x00";
const status = suite<{ plane: ControlPlane }>("radius: Status-Server (RFC 5997)");

status.before.each(async (ctx) => {
  ctx.plane = await startPlane();
});
status.after.each(async (ctx) => {
  await ctx.plane.stop();
});

status("accounting port: radclient's Status-Server gets an Accounting-Response; nothing is handled or cached", async ({ plane }) => {
  const server = plane.accounting.server;
  const r = await radclient(server.address().port, "status", SECRET, MA);
  assert.is(r.exitCode, 0, r.output);
  assert.match(r.output, /Received Accounting-Response/);
  assert.is(server.counters.statusServer, 1);
  assert.is(server.counters.handled, 0);
  assert.is(plane.store.sessionCount, 0);
  // Asked again with the same Identifier and authenticator: answered again, not from a cache.
  const peer = await rawPeer();
  try {
    const request = encodePacket({ code: Code.StatusServer, identifier: 9, attributes: [] }, SECRET, { messageAuthenticator: true });
    for (let i = 0; i < 2; i++) {
      const [answer] = await peer.send(server.address().port, request.bytes);
      assert.ok(answer, "answered");
      assert.is(decodePacket(answer, SECRET, { request: request.packet }).code, Code.AccountingResponse);
    }
    assert.is(server.counters.statusServer, 3);
    assert.is(server.counters.duplicatesAnswered, 0);
  } finally {
    await peer.close();
  }
});

status("dynamic authorization port: unanswered, counted as unsupported-code", async ({ plane }) => {
  const server = plane.dynamicAuthorization.server;
  const r = await radclient(server.address().port, "status", SECRET, MA);
  assert.is.not(r.exitCode, 0, r.output);
  assert.not.match(r.output, /Received/);
  assert.is(server.counters.statusServer, 0);
  assert.is(server.counters.dropped["unsupported-code"], 1);
});

status("without Message-Authenticator (a client that does not require one otherwise) or from an unknown client: unanswered", async ({ plane }) => {
  const server = plane.accounting.server;
  const legacy = await rawPeer("127.0.0.2");
  const stranger = await rawPeer("127.0.0.9");
  try {
    const bare = encodePacket({ code: Code.StatusServer, identifier: 1, attributes: [] }, LEGACY_SECRET, { messageAuthenticator: false });
    assert.equal(await legacy.send(server.address().port, bare.bytes, 300), []);
    assert.is(server.counters.dropped["message-authenticator-missing"], 1);
    const signed = encodePacket({ code: Code.StatusServer, identifier: 2, attributes: [] }, LEGACY_SECRET, { messageAuthenticator: true });
    const [answer] = await legacy.send(server.address().port, signed.bytes);
    assert.is(decodePacket(answer, LEGACY_SECRET, { request: signed.packet }).code, Code.AccountingResponse);
    const unknown = encodePacket({ code: Code.StatusServer, identifier: 3, attributes: [] }, SECRET, { messageAuthenticator: true });
    assert.equal(await stranger.send(server.address().port, unknown.bytes, 300), []);
    assert.is(server.counters.dropped["unknown-client"], 1);
    assert.is(server.counters.statusServer, 1);
  } finally {
    await legacy.close();
    await stranger.close();
  }
});

status("authentication port: radclient's Status-Server gets an Access-Accept with Message-Authenticator; the handler is not called", async () => {
  let called = 0;
  const server = await RadiusServer.listen({
    service: "authentication",
    listen: { address: "127.0.0.1", family: 4, port: 0 },
    clients: [{ prefix: parsePrefix("127.0.0.1/32"), secret: SECRET, requireMessageAuthenticator: true }],
    accepts: [Code.AccessRequest],
    handler: () => {
      called++;
      return { code: Code.AccessReject };
    },
  });
  try {
    const r = await radclient(server.address().port, "status", SECRET, MA);
    assert.is(r.exitCode, 0, r.output);
    assert.match(r.output, /Received Access-Accept/);
    assert.is(called, 0);
    assert.is(server.counters.statusServer, 1);
  } finally {
    await server.close();
  }
});

status.run();
