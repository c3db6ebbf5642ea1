/**
 * RFC 5176 §3.6 for values iapd cannot even decode: an authenticated CoA-Request whose ERX LI
 * attribute is malformed on the wire (too short for the salt encryption, or decrypting to a bad
 * inner length) is answered with CoA-NAK, Error-Cause 407 Invalid-Attribute-Value, not dropped;
 * nothing is started. A forged one is still dropped, and the accounting port still drops such values.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { ControlPlane } from "../../runtime/daemon/control-plane.ts";
import { Code, computeAuthenticator, decodePacket, ERROR_CAUSE } from "../../runtime/radius/mod.ts";
import { radclient } from "./peers.ts";
import { coaRequest, LEGACY_SECRET, rawPeer, SECRET, startPlane } from "./iapd.ts";

const MA = "Message-Authenticator = 0x00";
const t = suite<{ plane: ControlPlane; port: number }>("radius: CoA with undecodable LI attribute values");

t.before.each(async (ctx) => {
  ctx.plane = await startPlane();
  ctx.port = ctx.plane.dynamicAuthorization.server.address().port;
  ctx.plane.store.upsertSession({ nas: "127.0.0.1", acctSessionId: "s1", framedIpAddress: "100.64.0.9" }, Date.now());
});
t.after.each(async (ctx) => {
  await ctx.plane.stop();
});

t("radclient: ERX-Med-Ip-Address as 2 raw octets (no salt, no ciphertext) gets CoA-NAK 407", async ({ plane, port }) => {
  const r = await radclient(
    port,
    "coa",
    SECRET,
    `Acct-Session-Id = "s1", ERX-LI-Action = on, ERX-Med-Dev-Handle = 0x0000000100000002, Attr-26.4874.60 = 0x0102, ERX-Med-Port-Number = 30030, ${MA}`,
  );
  assert.is(r.exitCode, 1, r.output);
  assert.match(r.output, /Received CoA-NAK/, r.output);
  assert.match(r.output, /Error-Cause = Invalid-Attribute-Value\b/, r.output);
  const { counters } = plane.dynamicAuthorization.server;
  assert.is(counters.invalidValueNaks, 1);
  assert.is(counters.handled, 0);
  assert.equal(counters.dropped, {});
  assert.is(plane.store.mirrorCount, 0);
});

/** A CoA-Request from the legacy client (no Message-Authenticator) whose Med-Ip-Address decrypts to a bad inner length. */
function tampered(identifier: number, reauthenticate: boolean): Uint8Array {
  const { bytes } = coaRequest(identifier, LEGACY_SECRET, false);
  // Type 26, length, vendor 4874 (0x0000130a), vendor type 60: the salt follows the vendor length.
  let at = -1;
  for (let i = 20; i + 8 <= bytes.length; i++) {
    if (bytes[i] === 26 && bytes[i + 2] === 0 && bytes[i + 3] === 0 && bytes[i + 4] === 0x13 && bytes[i + 5] === 0x0a && bytes[i + 6] === 60) at = i;
  }
  assert.ok(at > 0, "Med-Ip-Address VSA found");
  bytes[at + 10] ^= 0x80; // first ciphertext octet: the inner length
  if (reauthenticate) bytes.set(computeAuthenticator(bytes, new Uint8Array(16), LEGACY_SECRET), 4);
  return bytes;
}

t("raw: a salt-encrypted value that decrypts to a bad inner length gets CoA-NAK 407 signed for the request; forged, no answer", async ({ plane, port }) => {
  const peer = await rawPeer("127.0.0.2");
  try {
    const request = tampered(7, true);
    const [answer, extra] = await peer.send(port, request);
    assert.ok(answer, "answered");
    assert.is(extra, undefined);
    const nak = decodePacket(answer, LEGACY_SECRET, { request: { code: Code.CoaRequest, identifier: 7, authenticator: request.slice(4, 20) } });
    assert.is(nak.code, Code.CoaNak);
    assert.is(nak.first("Error-Cause"), ERROR_CAUSE["Invalid-Attribute-Value"]);
    // The same bytes without a valid Request Authenticator: not authenticated, so dropped.
    assert.equal(await peer.send(port, tampered(8, false), 300), []);
  } finally {
    await peer.close();
  }
  const { counters } = plane.dynamicAuthorization.server;
  assert.is(counters.invalidValueNaks, 1);
  assert.equal(counters.dropped, { "authenticator-mismatch": 1 });
  assert.is(plane.store.mirrorCount, 0);
});

t("the accounting port drops an Accounting-Request with an undecodable value (no NAK exists there)", async ({ plane }) => {
  const port = plane.accounting.server.address().port;
  const r = await radclient(port, "acct", SECRET, `Acct-Status-Type = Start, Acct-Session-Id = "a9", Attr-8 = 0x0102, ${MA}`);
  assert.is.not(r.exitCode, 0, r.output);
  assert.match(r.output, /No reply from server/, r.output);
  assert.is(plane.accounting.server.counters.invalidValueNaks, 0);
  assert.is(plane.accounting.server.counters.dropped["attribute-value"], 1);
});

t.run();
