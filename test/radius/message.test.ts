/** The packet API: signing order and placement, encryption keys, misuse, and redaction of secrets. */
import { createHash } from "node:crypto";
import { inspect } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  attribute,
  Code,
  decodePacket,
  decodeWire,
  encodePacket,
  LI_ACTION,
  RadiusDecodeError,
  RadiusEncodeError,
  RadiusPacket,
  REDACTED,
  VENDOR_ERX,
  type Attribute,
} from "../../runtime/radius/mod.ts";
import { hex } from "./peers.ts";

const SECRET = "api-secret";
const isEncodeError = (e: unknown) => e instanceof RadiusEncodeError;

const LI: Attribute[] = [
  attribute("ERX-LI-Action", LI_ACTION.on),
  attribute("ERX-Med-Dev-Handle", Uint8Array.of(0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78, 0x9a)),
  attribute("ERX-Med-Ip-Address", "203.0.113.77"),
  attribute("ERX-Med-Port-Number", 47123),
];
/** Strings that must never appear when a packet carrying `LI` is printed. */
const LI_TEXTS = ["203.0.113.77", "47123", "abcdef", "171", "0xab", "tunnel-pw"];

function assertLi(p: RadiusPacket) {
  assert.is(p.first("ERX-LI-Action"), 1);
  assert.equal(p.first("ERX-Med-Dev-Handle"), Uint8Array.of(0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78, 0x9a));
  assert.is(p.first("ERX-Med-Ip-Address"), "203.0.113.77");
  assert.is(p.first("ERX-Med-Port-Number"), 47123);
}

function accessRequest() {
  return encodePacket(
    {
      code: Code.AccessRequest,
      identifier: 17,
      attributes: [attribute("User-Name", "sub1"), attribute("User-Password", "pw")],
    },
    SECRET,
    { messageAuthenticator: true },
  );
}

test("Access-Accept: MA first; LI VSAs and Tunnel-Password round-trip with R = request authenticator; salts unique", () => {
  const sent = accessRequest();
  const accept = encodePacket(
    {
      code: Code.AccessAccept,
      attributes: [...LI, attribute("Tunnel-Password", "tunnel-pw", 2), attribute("Session-Timeout", 60)],
    },
    SECRET,
    { request: sent.packet, messageAuthenticator: true },
  );
  assert.is(hex(accept.bytes.subarray(20, 22)), "5012");
  assert.is(accept.bytes[1], 17);
  const request = decodePacket(sent.bytes, SECRET);
  assert.ok(request.is(Code.AccessRequest));
  const back = decodePacket(accept.bytes, SECRET, { request: request as RadiusPacket<typeof Code.AccessRequest> });
  assert.ok(back.messageAuthenticator);
  assertLi(back);
  assert.equal(back.attributes[4], { name: "Tunnel-Password", tag: 2, value: "tunnel-pw" });
  const salts = decodeWire(accept.bytes)
    .packet.attributes.flatMap((a) =>
      a.kind === "vendor"
        ? [a.value.subarray(0, 2)]
        : a.kind === "attribute" && a.type === 69
          ? [a.value.subarray(1, 3)]
          : [],
    )
    .map(hex);
  assert.is(salts.length, 5);
  assert.is(new Set(salts).size, 5);
  assert.ok(salts.every((s) => parseInt(s, 16) & 0x8000));
});

test("every request and response kind round-trips with and without MA", () => {
  const requests = [
    Code.AccessRequest,
    Code.StatusServer,
    Code.AccountingRequest,
    Code.CoaRequest,
    Code.DisconnectRequest,
  ] as const;
  const responses = {
    [Code.AccessRequest]: [Code.AccessAccept, Code.AccessReject, Code.AccessChallenge],
    [Code.StatusServer]: [],
    [Code.AccountingRequest]: [Code.AccountingResponse],
    [Code.CoaRequest]: [Code.CoaAck, Code.CoaNak],
    [Code.DisconnectRequest]: [Code.DisconnectAck, Code.DisconnectNak],
  } as const;
  for (const ma of [true, false]) {
    for (const code of requests) {
      const attributes = code === Code.StatusServer ? [] : [attribute("Acct-Session-Id", "s"), ...LI];
      const sent = encodePacket({ code, identifier: 5, attributes }, SECRET, { messageAuthenticator: ma });
      const got = decodePacket(sent.bytes, SECRET, { requireMessageAuthenticator: ma });
      assert.is(got.code, code);
      assert.is(got.messageAuthenticator, ma);
      assert.equal(got.attributes, attributes);
      for (const rcode of responses[code]) {
        const reply = encodePacket(
          { code: rcode, attributes: [attribute("Reply-Message", "r"), ...LI] } as never,
          SECRET,
          {
            request: sent.packet,
            messageAuthenticator: ma,
          } as never,
        );
        const back = decodePacket(reply.bytes, SECRET, {
          request: sent.packet as never,
          requireMessageAuthenticator: ma,
        });
        assert.is(back.code, rcode);
        assert.is(back.first("Reply-Message"), "r");
        assertLi(back);
      }
    }
  }
});

test("Status-Server and Access-* need MA by default; Accounting/CoA/Disconnect do not", () => {
  for (const code of [Code.StatusServer, Code.AccessRequest] as const) {
    const sent = encodePacket({ code, identifier: 1, attributes: [] }, SECRET, { messageAuthenticator: false });
    assert.throws(
      () => decodePacket(sent.bytes, SECRET),
      (e: unknown) => (e as RadiusDecodeError).reason === "message-authenticator-missing",
    );
  }
  const coa = encodePacket({ code: Code.CoaRequest, identifier: 1, attributes: [] }, SECRET, {
    messageAuthenticator: false,
  });
  assert.is(decodePacket(coa.bytes, SECRET).messageAuthenticator, false);
});

test("encode never modifies its input; reusing an attribute list gives one MA each time", () => {
  const attributes = Object.freeze([...LI, attribute("Tunnel-Type", 3, 1)]);
  const snapshot = inspect(attributes, { depth: 5, customInspect: false });
  const first = encodePacket({ code: Code.CoaRequest, identifier: 1, attributes }, SECRET, {
    messageAuthenticator: true,
  });
  const second = encodePacket({ code: Code.CoaRequest, identifier: 2, attributes }, SECRET, {
    messageAuthenticator: true,
  });
  assert.is(inspect(attributes, { depth: 5, customInspect: false }), snapshot);
  for (const { bytes } of [first, second]) {
    assert.is(decodeWire(bytes).messageAuthenticatorOffsets.length, 1);
  }
});

test("tagged attributes (RFC 2868 §3): Tunnel-Type tag replaces the top octet; Tunnel-Password has tag then salt", () => {
  const sent = accessRequest();
  const accept = encodePacket(
    { code: Code.AccessAccept, attributes: [attribute("Tunnel-Type", 3, 1), attribute("Tunnel-Password", "x", 31)] },
    SECRET,
    { request: sent.packet, messageAuthenticator: false },
  );
  assert.is(hex(accept.bytes.subarray(20, 26)), "400601000003");
  assert.is(accept.bytes[28], 31);
  assert.ok(accept.bytes[29] & 0x80);
  const back = decodePacket(accept.bytes, SECRET, { request: sent.packet, requireMessageAuthenticator: false });
  assert.equal(back.attributes, [
    { name: "Tunnel-Type", tag: 1, value: 3 },
    { name: "Tunnel-Password", tag: 31, value: "x" },
  ]);
});

test("User-Password outside an Access-Request is kept raw on decode and refused on encode", () => {
  const raw = { kind: "attribute", type: 2, value: new Uint8Array(16) } as const;
  const acct = encodePacket({ code: Code.AccountingRequest, identifier: 1, attributes: [raw] }, SECRET, {
    messageAuthenticator: false,
  });
  assert.equal(decodePacket(acct.bytes, SECRET).attributes, [raw]);
  assert.throws(
    () =>
      encodePacket(
        { code: Code.AccountingRequest, identifier: 1, attributes: [attribute("User-Password", "x")] },
        SECRET,
        { messageAuthenticator: false },
      ),
    isEncodeError,
  );
});

test("misuse is refused at run time", () => {
  const sent = accessRequest();
  const coa = encodePacket({ code: Code.CoaRequest, identifier: 1, attributes: [] }, SECRET, {
    messageAuthenticator: true,
  });
  const bad: Array<() => unknown> = [
    () =>
      encodePacket({ code: Code.AccessAccept, attributes: [] } as never, SECRET, {
        messageAuthenticator: true,
      } as never),
    () =>
      encodePacket({ code: Code.AccessAccept, attributes: [] }, SECRET, {
        request: coa.packet as never,
        messageAuthenticator: true,
      }),
    () =>
      encodePacket({ code: Code.CoaRequest, identifier: 1, attributes: [] }, SECRET, {
        request: sent.packet,
        messageAuthenticator: true,
      } as never),
    () => encodePacket({ code: 99 as never, identifier: 1, attributes: [] }, SECRET, { messageAuthenticator: true }),
    () =>
      encodePacket(
        {
          code: Code.CoaRequest,
          identifier: 1,
          attributes: [{ name: "Message-Authenticator", value: new Uint8Array(16) } as never],
        },
        SECRET,
        { messageAuthenticator: false },
      ),
    () =>
      encodePacket(
        {
          code: Code.CoaRequest,
          identifier: 1,
          attributes: [{ kind: "attribute", type: 80, value: new Uint8Array(16) }],
        },
        SECRET,
        { messageAuthenticator: false },
      ),
    () =>
      encodePacket(
        { code: Code.CoaRequest, identifier: 1, attributes: [{ name: "No-Such-Attribute", value: 1 } as never] },
        SECRET,
        { messageAuthenticator: false },
      ),
    () =>
      encodePacket({ code: Code.CoaRequest, identifier: 1, attributes: [attribute("User-Name", "u", 1)] }, SECRET, {
        messageAuthenticator: false,
      }),
    () =>
      encodePacket({ code: Code.CoaRequest, identifier: 1, attributes: [attribute("Tunnel-Type", 3, 32)] }, SECRET, {
        messageAuthenticator: false,
      }),
    () =>
      encodePacket(
        { code: Code.CoaRequest, identifier: 1, attributes: [attribute("Tunnel-Type", 0x1000000, 1)] },
        SECRET,
        { messageAuthenticator: false },
      ),
    () =>
      encodePacket({ code: Code.CoaRequest, identifier: 256, attributes: [] }, SECRET, { messageAuthenticator: false }),
  ];
  for (const [i, f] of bad.entries()) assert.throws(f, isEncodeError, `case ${i}`);
});

/** Type-level misuse: each line must fail to compile (checked by `npm run typecheck`); never called. */
export function typeChecks(
  request: RadiusPacket<typeof Code.AccessRequest>,
  coa: RadiusPacket<typeof Code.CoaRequest>,
) {
  // @ts-expect-error a response needs the request it answers
  encodePacket({ code: Code.CoaAck, attributes: [] }, SECRET, { messageAuthenticator: true });
  // @ts-expect-error an Access-Accept answers an Access-Request, not a CoA-Request
  encodePacket({ code: Code.AccessAccept, attributes: [] }, SECRET, { request: coa, messageAuthenticator: true });
  // @ts-expect-error a response takes its identifier from the request
  encodePacket({ code: Code.AccessAccept, identifier: 3, attributes: [] }, SECRET, {
    request,
    messageAuthenticator: true,
  });
  // @ts-expect-error the value type follows from the name
  attribute("ERX-Med-Port-Number", "30030");
  // @ts-expect-error Message-Authenticator is added by the encoder, not by callers
  attribute("Message-Authenticator", new Uint8Array(16));
  // @ts-expect-error messageAuthenticator must be decided by the caller
  encodePacket({ code: Code.CoaRequest, identifier: 1, attributes: [] }, SECRET, {});
}

test("printing a packet, its attributes or JSON never shows LI values or passwords", () => {
  const sent = accessRequest();
  const accept = encodePacket(
    {
      code: Code.AccessAccept,
      attributes: [...LI, attribute("Tunnel-Password", "tunnel-pw", 1), attribute("Reply-Message", "hi")],
    },
    SECRET,
    {
      request: sent.packet,
      messageAuthenticator: true,
    },
  );
  const decoded = decodePacket(accept.bytes, SECRET, { request: sent.packet });
  const request = decodePacket(sent.bytes, SECRET);
  const texts = [
    inspect(decoded, { depth: 10 }),
    inspect(decoded.attributes, { depth: 10 }),
    inspect(decoded.attributes[2]),
    JSON.stringify(decoded),
    JSON.stringify(decoded.attributes),
    String(decoded),
    `${decoded}`,
    inspect(accept.packet, { depth: 10 }),
    inspect(accept.packet.attributes, { depth: 10 }),
    inspect(request, { depth: 10 }),
  ];
  for (const t of texts) {
    for (const secret of [...LI_TEXTS, '"pw"']) assert.not.ok(t.includes(secret), `${secret} leaked in ${t}`);
    assert.ok(t.includes(REDACTED), t);
  }
  assert.match(texts[0], /Reply-Message/);
  assert.match(texts[0], /hi/);
  // Wire-form LI VSAs (e.g. relayed unchanged) are hidden too.
  const wire = decodeWire(accept.bytes).packet.attributes.filter(
    (a) => a.kind === "vendor" && a.vendorId === VENDOR_ERX,
  );
  const relayed = new RadiusPacket(Code.AccessAccept, 1, new Uint8Array(16), wire, false);
  assert.is(wire.length, 4);
  const shown = inspect(relayed, { depth: 10 });
  assert.not.match(shown, /0x[0-9a-f]{8}/);
  assert.is(shown.split(REDACTED).length - 1, 4);
});

test("error messages about LI values name the attribute, never the value", () => {
  const cases: Array<() => unknown> = [
    () =>
      encodePacket(
        { code: Code.CoaRequest, identifier: 1, attributes: [attribute("ERX-Med-Ip-Address", "203.0.113.777")] },
        SECRET,
        { messageAuthenticator: false },
      ),
    () =>
      encodePacket(
        { code: Code.CoaRequest, identifier: 1, attributes: [attribute("ERX-Med-Port-Number", 47123 * 2 ** 20)] },
        SECRET,
        { messageAuthenticator: false },
      ),
    () =>
      encodePacket(
        {
          code: Code.CoaRequest,
          identifier: 1,
          attributes: [attribute("ERX-Med-Dev-Handle", new Uint8Array(240).fill(0xab))],
        },
        SECRET,
        { messageAuthenticator: false },
      ),
  ];
  for (const f of cases) {
    try {
      f();
      assert.unreachable();
    } catch (e) {
      assert.instance(e, RadiusEncodeError);
      const m = (e as Error).message;
      assert.match(m, /^ERX-Med-/);
      for (const leak of ["203.0.113", "777", String(47123 * 2 ** 20), "ab"])
        assert.not.ok(m.toLowerCase().includes(leak), `${leak} in "${m}"`);
    }
  }
});

test("decodePacket shares no memory with the datagram: raw values and the authenticator are copies", () => {
  const { bytes } = encodePacket(
    {
      code: Code.AccountingRequest,
      identifier: 9,
      attributes: [
        attribute("User-Name", "alice"),
        { kind: "attribute", type: 200, value: Uint8Array.of(1, 2, 3) },
        { kind: "vendor-opaque", vendorId: 9, data: Uint8Array.of(4, 5) },
      ],
    },
    "s3cret",
    { messageAuthenticator: true },
  );
  const datagram = Buffer.from(bytes);
  const packet = decodePacket(datagram, "s3cret");
  const authenticator = hex(packet.authenticator);
  datagram.fill(0xee);
  assert.is(hex(packet.authenticator), authenticator);
  assert.equal(packet.attributes, [
    { name: "User-Name", value: "alice" },
    { kind: "attribute", type: 200, value: Uint8Array.of(1, 2, 3) },
    { kind: "vendor-opaque", vendorId: 9, data: Uint8Array.of(4, 5) },
  ]);
});


test("a response without attributes (the Accounting-Response) is the 20-octet header signed with MD5(header | request authenticator | secret)", () => {
  const request = encodePacket({ code: Code.AccountingRequest, identifier: 201, attributes: [attribute("Acct-Session-Id", "a-1"), attribute("Acct-Status-Type", 1)] }, SECRET, { messageAuthenticator: true });
  for (const [code, requestCode] of [[Code.AccountingResponse, request.packet], [Code.CoaAck, encodePacket({ code: Code.CoaRequest, identifier: 9, attributes: [] }, SECRET, { messageAuthenticator: false }).packet]] as const) {
    const { bytes } = encodePacket({ code, attributes: [] } as never, SECRET, { request: requestCode, messageAuthenticator: false } as never);
    const header = Uint8Array.of(code, requestCode.identifier, 0, 20);
    const expected = createHash("md5").update(header).update(requestCode.authenticator).update(SECRET).digest();
    assert.is(hex(bytes), hex(Buffer.concat([header, expected])));
    // It decodes as the answer to its request, and as nothing else.
    assert.is(decodePacket(bytes, SECRET, { request: requestCode }).code, code);
    assert.throws(() => decodePacket(bytes, "other-secret", { request: requestCode }), (e: unknown) => e instanceof RadiusDecodeError && e.reason === "authenticator-mismatch");
  }
  // The identifier is checked as on every other path, never wrapped into an octet.
  for (const identifier of [256, -1, 1.5]) {
    assert.throws(
      () => encodePacket({ code: Code.AccountingResponse, attributes: [] }, SECRET, { request: { ...request.packet, identifier } as never, messageAuthenticator: false }),
      isEncodeError,
      String(identifier),
    );
  }
});

test.run();
