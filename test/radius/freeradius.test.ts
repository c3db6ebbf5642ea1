/**
 * A real FreeRADIUS 3.2 server as iapd's upstream: it must accept what iapd encodes (Access-Request
 * with MA and hidden User-Password; Accounting-Request with salt-encrypted LI VSAs, R = zeros) and
 * its Access-Accept must decode to the LI values and Tunnel-Password of its users file.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  ACCT_STATUS_TYPE,
  attribute,
  Code,
  decodePacket,
  encodePacket,
  LI_ACTION,
  RadiusDecodeError,
} from "../../runtime/radius/mod.ts";
import { exchange, startFreeRadius, type FreeRadius } from "./peers.ts";

const SECRET = "upstream-secret";
const USERS = `bob Cleartext-Password := "hello"
	ERX-LI-Action = on,
	ERX-Med-Dev-Handle = 0x0000030000000090,
	ERX-Med-Ip-Address = 192.0.2.7,
	ERX-Med-Port-Number = 30030,
	Tunnel-Password:3 = "tunnel-secret",
	Framed-IPv6-Prefix = 2001:db8:7::/48
`;

const fr = suite<{ server?: FreeRadius }>("radius: freeradius server", {});

fr.before(async (context) => {
  try {
    context.server = await startFreeRadius(SECRET, USERS);
  } catch (e) {
    // uvu reports a failed hook only as failed tests; show why.
    console.error(e);
    throw e;
  }
});

fr.after(async (context) => {
  await context.server?.stop();
});

function accessRequest(password: string) {
  return encodePacket(
    {
      code: Code.AccessRequest,
      identifier: 7,
      attributes: [
        attribute("User-Name", "bob"),
        attribute("User-Password", password),
        attribute("NAS-Identifier", "iapd-test"),
      ],
    },
    SECRET,
    { messageAuthenticator: true },
  );
}

fr(
  "Access-Accept decodes: LI VSAs (R = request authenticator), Tunnel-Password tag 3, IPv6 prefix; no MA from 3.2.1",
  async ({ server }) => {
    const sent = accessRequest("hello");
    const reply = await exchange(server!.authPort, sent.bytes);
    const accept = decodePacket(reply, SECRET, { request: sent.packet, requireMessageAuthenticator: false });
    assert.is(accept.code, Code.AccessAccept);
    assert.is(accept.identifier, 7);
    assert.is(accept.first("ERX-LI-Action"), LI_ACTION.on);
    assert.equal(accept.first("ERX-Med-Dev-Handle"), Uint8Array.of(0, 0, 3, 0, 0, 0, 0, 0x90));
    assert.is(accept.first("ERX-Med-Ip-Address"), "192.0.2.7");
    assert.is(accept.first("ERX-Med-Port-Number"), 30030);
    assert.is(accept.first("Tunnel-Password"), "tunnel-secret");
    assert.equal(
      accept.attributes.find((a) => "name" in a && a.name === "Tunnel-Password"),
      { name: "Tunnel-Password", tag: 3, value: "tunnel-secret" },
    );
    assert.is(accept.first("Framed-IPv6-Prefix"), "2001:db8:7::/48");
    // Finding: Debian's FreeRADIUS 3.2.1 sends no Message-Authenticator in Access-Accept, even when
    // the Access-Request had one; so by default (BlastRADIUS) iapd refuses its Accepts.
    assert.is(accept.messageAuthenticator, false);
    try {
      decodePacket(reply, SECRET, { request: sent.packet });
      assert.unreachable("an Access-Accept without MA must be refused by default");
    } catch (e) {
      assert.instance(e, RadiusDecodeError);
      assert.is((e as RadiusDecodeError).reason, "message-authenticator-missing");
    }
    assert.match(await server!.logged(/Sent Access-Accept Id 7 /), /Message-Authenticator = 0x[0-9a-f]{32}/);
  },
);

fr("a wrong password gets an Access-Reject that verifies, and it still carries the LI VSAs", async ({ server }) => {
  const sent = accessRequest("wrong");
  const reply = await exchange(server!.authPort, sent.bytes);
  const reject = decodePacket(reply, SECRET, { request: sent.packet, requireMessageAuthenticator: false });
  assert.is(reject.code, Code.AccessReject);
  assert.is(reject.messageAuthenticator, false);
  // Finding: 3.2.1 copies the users-file reply items into the Reject too (encrypted with the
  // request's authenticator), so LI data can arrive in an Access-Reject.
  assert.is(reject.first("ERX-LI-Action"), LI_ACTION.on);
  assert.is(reject.first("ERX-Med-Ip-Address"), "192.0.2.7");
});

fr("the reply to someone else's request is refused", async ({ server }) => {
  const sent = accessRequest("hello");
  const other = accessRequest("hello");
  const reply = await exchange(server!.authPort, sent.bytes);
  try {
    decodePacket(reply, SECRET, { request: other.packet, requireMessageAuthenticator: false });
    assert.unreachable("a response must only verify against its own request");
  } catch (e) {
    assert.is((e as RadiusDecodeError).reason, "authenticator-mismatch");
  }
});

fr(
  "Accounting-Request with salt-encrypted LI VSAs (R = zeros) and MA: FreeRADIUS decrypts them and answers",
  async ({ server }) => {
    const sent = encodePacket(
      {
        code: Code.AccountingRequest,
        identifier: 9,
        attributes: [
          attribute("Acct-Status-Type", ACCT_STATUS_TYPE.Start),
          attribute("Acct-Session-Id", "acct-li-1"),
          attribute("ERX-LI-Action", LI_ACTION.noop),
          attribute("ERX-Med-Dev-Handle", Uint8Array.of(0x40, 0, 0, 0x11)),
          attribute("ERX-Med-Ip-Address", "198.51.100.23"),
          attribute("ERX-Med-Port-Number", 40404),
        ],
      },
      SECRET,
      { messageAuthenticator: true },
    );
    const reply = await exchange(server!.acctPort, sent.bytes);
    const response = decodePacket(reply, SECRET, { request: sent.packet });
    assert.is(response.code, Code.AccountingResponse);
    const log = await server!.logged(/Sent Accounting-Response Id 9 /);
    assert.match(log, /ERX-LI-Action = noop/);
    assert.match(log, /ERX-Med-Dev-Handle = 0x40000011/);
    assert.match(log, /ERX-Med-Ip-Address = 198\.51\.100\.23/);
    assert.match(log, /ERX-Med-Port-Number = 40404/);
  },
);

fr("Status-Server (RFC 5997) is answered with an Access-Accept that verifies", async ({ server }) => {
  const sent = encodePacket(
    { code: Code.StatusServer, identifier: 11, attributes: [attribute("NAS-Identifier", "iapd-test")] },
    SECRET,
    {
      messageAuthenticator: true,
    },
  );
  const reply = await exchange(server!.authPort, sent.bytes);
  const accept = decodePacket(reply, SECRET, { request: sent.packet, requireMessageAuthenticator: false });
  assert.is(accept.code, Code.AccessAccept);
  assert.is(accept.identifier, 11);
  // Finding: 3.2.1 drops a Status-Server without MA (RFC 5997 §3) but answers without one.
  assert.is(accept.messageAuthenticator, false);
});

fr.run();
