/**
 * radclient (FreeRADIUS 3.2) as the NAS / RADIUS server side: what it sends must decode and verify,
 * and what iapd answers must be accepted by it, or rejected when the secret or MA is wrong.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  attribute,
  Code,
  computeAuthenticator,
  decodePacket,
  encodePacket,
  ERROR_CAUSE,
  LI_ACTION,
  RadiusDecodeError,
  type RadiusPacket,
} from "../../runtime/radius/mod.ts";
import { radclient, udpResponder } from "./peers.ts";

const SECRET = "radclient-secret";
const LI_INPUT =
  "ERX-LI-Action = on, ERX-Med-Dev-Handle = 0x0000000100000002, ERX-Med-Ip-Address = 127.0.0.1, ERX-Med-Port-Number = 30030";

/** Runs radclient against a responder that decodes each request and answers with `answer`'s datagram. */
async function converse(
  command: "auth" | "acct" | "coa" | "disconnect",
  input: string,
  answer: (request: RadiusPacket) => Uint8Array | undefined,
) {
  const received: RadiusPacket[] = [];
  const errors: unknown[] = [];
  const peer = await udpResponder((datagram) => {
    try {
      const request = decodePacket(datagram, SECRET, { requireMessageAuthenticator: false });
      received.push(request);
      return answer(request);
    } catch (e) {
      errors.push(e);
      return undefined;
    }
  });
  try {
    const run = await radclient(peer.port, command, SECRET, input);
    return { ...run, received, errors };
  } finally {
    await peer.close();
  }
}

function assertLi(p: RadiusPacket) {
  assert.is(p.first("ERX-LI-Action"), LI_ACTION.on);
  assert.equal(p.first("ERX-Med-Dev-Handle"), Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 2));
  assert.is(p.first("ERX-Med-Ip-Address"), "127.0.0.1");
  assert.is(p.first("ERX-Med-Port-Number"), 30030);
}

const rc = suite("radius: radclient");

rc("CoA-Request with LI VSAs and MA: R = zeros decrypts, CoA-ACK accepted", async () => {
  const stamp = new Date(1_700_000_000_000);
  const r = await converse("coa", `Acct-Session-Id = "s1", ${LI_INPUT}, Message-Authenticator = 0x00`, (req) =>
    req.is(Code.CoaRequest)
      ? encodePacket({ code: Code.CoaAck, attributes: [attribute("Event-Timestamp", stamp)] }, SECRET, {
          request: req,
          messageAuthenticator: true,
        }).bytes
      : undefined,
  );
  assert.equal(r.errors, []);
  const [req] = r.received;
  assert.is(req.code, Code.CoaRequest);
  assert.ok(req.messageAuthenticator);
  assert.is(req.first("Acct-Session-Id"), "s1");
  assertLi(req);
  assert.is(r.exitCode, 0, r.output);
  assert.match(r.output, /Received CoA-ACK/);
  assert.match(r.output, /Event-Timestamp = "Nov 14 2023 22:13:20 UTC"/);
});

rc("Disconnect-Request: Disconnect-NAK with Error-Cause shown by radclient", async () => {
  const r = await converse(
    "disconnect",
    `User-Name = "alice", Acct-Session-Id = "s2", Message-Authenticator = 0x00`,
    (req) =>
      req.is(Code.DisconnectRequest)
        ? encodePacket(
            {
              code: Code.DisconnectNak,
              attributes: [attribute("Error-Cause", ERROR_CAUSE["Session-Context-Not-Found"])],
            },
            SECRET,
            { request: req, messageAuthenticator: true },
          ).bytes
        : undefined,
  );
  assert.equal(r.errors, []);
  assert.is(r.received[0].first("User-Name"), "alice");
  assert.ok(r.received[0].messageAuthenticator);
  assert.match(r.output, /Received Disconnect-NAK/);
  // radclient expects an ACK by default: a NAK is a failed request for it.
  assert.is(r.exitCode, 1);
  assert.match(r.output, /Expected Disconnect-ACK got Disconnect-NAK/);
  assert.match(r.output, /Error-Cause = Session-Context-Not-Found/);
});

rc("Accounting-Request with IPv6 prefixes, LI VSAs and MA (MA over zeroed authenticator)", async () => {
  const r = await converse(
    "acct",
    `Acct-Status-Type = Start, Acct-Session-Id = "s3", Framed-IP-Address = 10.0.0.1, Framed-IPv6-Prefix = 2001:db8:1::/48, ` +
      `Delegated-IPv6-Prefix = 2001:db8:200::/56, Framed-IPv6-Address = 2001:db8::5, Framed-Interface-Id = 0:0:0:1, ` +
      `Event-Timestamp = 1700000000, ${LI_INPUT}, Message-Authenticator = 0x00`,
    (req) =>
      req.is(Code.AccountingRequest)
        ? encodePacket({ code: Code.AccountingResponse, attributes: [] }, SECRET, {
            request: req,
            messageAuthenticator: false,
          }).bytes
        : undefined,
  );
  assert.equal(r.errors, []);
  const [req] = r.received;
  assert.ok(req.messageAuthenticator);
  assert.is(req.first("Acct-Status-Type"), 1);
  assert.is(req.first("Framed-IP-Address"), "10.0.0.1");
  assert.is(req.first("Framed-IPv6-Prefix"), "2001:db8:1::/48");
  assert.is(req.first("Delegated-IPv6-Prefix"), "2001:db8:200::/56");
  assert.is(req.first("Framed-IPv6-Address"), "2001:db8::5");
  assert.is(req.first("Framed-Interface-Id"), "0:0:0:1");
  assert.equal(req.first("Event-Timestamp"), new Date(1_700_000_000_000));
  assertLi(req);
  assert.is(r.exitCode, 0, r.output);
  assert.match(r.output, /Received Accounting-Response/);
});

rc(
  "Access-Request with User-Password and MA: Access-Accept with MA first, LI VSAs and Tunnel-Password decrypted by radclient",
  async () => {
    const r = await converse(
      "auth",
      `User-Name = "bob", User-Password = "correct horse battery staple!!", Message-Authenticator = 0x00`,
      (req) =>
        req.is(Code.AccessRequest)
          ? encodePacket(
              {
                code: Code.AccessAccept,
                attributes: [
                  attribute("ERX-LI-Action", LI_ACTION.on),
                  attribute("ERX-Med-Dev-Handle", Uint8Array.of(0x40, 0, 0, 0x10)),
                  attribute("ERX-Med-Ip-Address", "192.0.2.9"),
                  attribute("ERX-Med-Port-Number", 30031),
                  attribute("Tunnel-Password", "tunnel-secret", 2),
                  attribute("Framed-IPv6-Prefix", "2001:db8:9::/48"),
                ],
              },
              SECRET,
              { request: req, messageAuthenticator: true },
            ).bytes
          : undefined,
    );
    assert.equal(r.errors, []);
    const [req] = r.received;
    assert.ok(req.messageAuthenticator);
    assert.is(req.first("User-Password"), "correct horse battery staple!!");
    assert.is(r.exitCode, 0, r.output);
    assert.match(r.output, /Received Access-Accept/);
    assert.match(r.output, /ERX-LI-Action = on/);
    assert.match(r.output, /ERX-Med-Dev-Handle = 0x40000010/);
    assert.match(r.output, /ERX-Med-Ip-Address = 192\.0\.2\.9/);
    assert.match(r.output, /ERX-Med-Port-Number = 30031/);
    assert.match(r.output, /Tunnel-Password:2 = "tunnel-secret"/);
    assert.match(r.output, /Framed-IPv6-Prefix = 2001:db8:9::\/48/);
  },
);

rc("Access-Request without MA is refused by default (BlastRADIUS)", async () => {
  const peer = await udpResponder((datagram) => {
    try {
      decodePacket(datagram, SECRET);
      errors.push("decoded");
    } catch (e) {
      errors.push(e);
    }
    return undefined;
  });
  const errors: unknown[] = [];
  try {
    await radclient(peer.port, "auth", SECRET, `User-Name = "bob", User-Password = "x"`, 1);
  } finally {
    await peer.close();
  }
  assert.instance(errors[0], RadiusDecodeError);
  assert.is((errors[0] as RadiusDecodeError).reason, "message-authenticator-missing");
});

rc("radclient drops a reply signed with the wrong secret", async () => {
  const r = await converse("coa", `Acct-Session-Id = "s4", Message-Authenticator = 0x00`, (req) =>
    req.is(Code.CoaRequest)
      ? encodePacket({ code: Code.CoaAck, attributes: [] }, "not-the-secret", {
          request: req,
          messageAuthenticator: false,
        }).bytes
      : undefined,
  );
  assert.equal(r.errors, []);
  assert.is.not(r.exitCode, 0);
  assert.match(r.output, /Reply verification failed.*invalid Response Authenticator/);
  assert.not.match(r.output, /Received CoA-ACK Id/);
});

rc("radclient drops a reply whose MA is bad but whose authenticator is right", async () => {
  const r = await converse("auth", `User-Name = "bob", User-Password = "pw", Message-Authenticator = 0x00`, (req) => {
    if (!req.is(Code.AccessRequest)) return undefined;
    const { bytes } = encodePacket({ code: Code.AccessAccept, attributes: [] }, SECRET, {
      request: req,
      messageAuthenticator: true,
    });
    bytes[22] ^= 0x01;
    bytes.set(computeAuthenticator(bytes, req.authenticator, SECRET), 4);
    return bytes;
  });
  assert.equal(r.errors, []);
  assert.is.not(r.exitCode, 0);
  assert.match(r.output, /Reply verification failed.*invalid Message-Authenticator/);
  assert.not.match(r.output, /Received Access-Accept Id/);
});

rc.run();
