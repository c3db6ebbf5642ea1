/**
 * Every RadiusDecodeError reason, each from a packet broken in exactly one way. The table is typed
 * as a Record over the reason union, so a new reason cannot be added without a case here.
 */
import { createHash } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  attribute,
  Code,
  computeAuthenticator,
  decodePacket,
  encodePacket,
  encodeWire,
  RadiusDecodeError,
  VENDOR_ERX,
  type DecodeErrorReason,
  type WireAttribute,
} from "../../runtime/radius/mod.ts";
import { fromHex } from "./peers.ts";

const SECRET = "malformed";
const ZEROS = new Uint8Array(16);

/** An Accounting-Request with the given wire attributes and a correct Request Authenticator. */
function accounting(attributes: WireAttribute[], secret = SECRET): Uint8Array {
  const bytes = encodeWire({ code: Code.AccountingRequest, identifier: 1, authenticator: ZEROS, attributes });
  bytes.set(computeAuthenticator(bytes, ZEROS, secret), 4);
  return bytes;
}

function header(code: number, length: number): string {
  return code.toString(16).padStart(2, "0") + "01" + length.toString(16).padStart(4, "0") + "00".repeat(16);
}

const li = (value: Uint8Array): WireAttribute => ({ kind: "vendor", vendorId: VENDOR_ERX, vendorType: 58, value });
const ma = (value: Uint8Array): WireAttribute => ({ kind: "attribute", type: 80, value });

function accessRequest() {
  return encodePacket({ code: Code.AccessRequest, identifier: 3, attributes: [attribute("User-Name", "u")] }, SECRET, {
    messageAuthenticator: true,
  });
}

const cases: Record<DecodeErrorReason, () => unknown> = {
  "packet-too-short": () => decodePacket(new Uint8Array(19), SECRET),
  "length-out-of-range": () => decodePacket(fromHex(header(4, 4097)), SECRET),
  "packet-truncated": () => decodePacket(fromHex(header(4, 24) + "0102"), SECRET),
  "unknown-code": () => decodePacket(fromHex(header(99, 20)), SECRET),
  "attribute-too-short": () => decodePacket(fromHex(header(4, 24) + "0101" + "0000"), SECRET),
  "attribute-overflow": () => decodePacket(fromHex(header(4, 24) + "0106" + "0000"), SECRET),
  "vendor-specific-malformed": () => decodePacket(fromHex(header(4, 29) + "1a09" + "0000130a" + "3a04ff"), SECRET),
  "attribute-value": () => decodePacket(accounting([{ kind: "attribute", type: 5, value: fromHex("000001") }]), SECRET),
  "authenticator-mismatch": () => decodePacket(accounting([], "other secret"), SECRET),
  "message-authenticator-missing": () => decodePacket(accounting([]), SECRET, { requireMessageAuthenticator: true }),
  "message-authenticator-invalid": () => decodePacket(accounting([ma(new Uint8Array(16))]), SECRET),
  "message-authenticator-duplicate": () =>
    decodePacket(accounting([ma(new Uint8Array(16)), ma(new Uint8Array(16))]), SECRET),
  "message-authenticator-length": () => decodePacket(accounting([ma(new Uint8Array(15))]), SECRET),
  "password-length": () =>
    decodePacket(
      encodeWire({
        code: Code.AccessRequest,
        identifier: 1,
        authenticator: ZEROS,
        attributes: [{ kind: "attribute", type: 2, value: new Uint8Array(15) }],
      }),
      SECRET,
      {
        requireMessageAuthenticator: false,
      },
    ),
  "salt-length": () => decodePacket(accounting([li(new Uint8Array(2 + 15).fill(0x80))]), SECRET),
  "salt-msb": () => decodePacket(accounting([li(new Uint8Array(2 + 16))]), SECRET),
  "salt-inner-length": () => {
    const salt = Uint8Array.of(0x80, 0x02);
    const b1 = createHash("md5").update(SECRET).update(ZEROS).update(salt).digest();
    return decodePacket(accounting([li(Uint8Array.of(...salt, ...b1.map((b, i) => (i === 0 ? b ^ 16 : b))))]), SECRET);
  },
  "unexpected-response": () => {
    const sent = accessRequest();
    const accept = encodePacket({ code: Code.AccessAccept, attributes: [] }, SECRET, {
      request: sent.packet,
      messageAuthenticator: true,
    });
    return decodePacket(accept.bytes, SECRET);
  },
  "response-mismatch": () => {
    const sent = accessRequest();
    const other = encodePacket({ code: Code.AccessRequest, identifier: 4, attributes: [] }, SECRET, {
      messageAuthenticator: true,
    });
    const accept = encodePacket({ code: Code.AccessAccept, attributes: [] }, SECRET, {
      request: sent.packet,
      messageAuthenticator: true,
    });
    return decodePacket(accept.bytes, SECRET, { request: other.packet });
  },
};

for (const [reason, run] of Object.entries(cases)) {
  test(`decode error: ${reason}`, () => {
    try {
      run();
    } catch (e) {
      assert.instance(e, RadiusDecodeError);
      assert.is((e as RadiusDecodeError).reason, reason, (e as Error).message);
      assert.ok((e as Error).message.length > 10);
      return;
    }
    assert.unreachable(`expected a RadiusDecodeError with reason ${reason}`);
  });
}

test("more ways to reach some reasons", () => {
  const reasonOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as RadiusDecodeError).reason;
    }
  };
  assert.is(
    reasonOf(() => decodePacket(fromHex(header(4, 19)), SECRET)),
    "length-out-of-range",
  );
  assert.is(
    reasonOf(() => decodePacket(fromHex(header(4, 21) + "01"), SECRET)),
    "attribute-overflow",
  );
  assert.is(
    reasonOf(() => decodePacket(fromHex(header(4, 26) + "1a06" + "0000130a"), SECRET)),
    "vendor-specific-malformed",
  );
  assert.is(
    reasonOf(() => decodePacket(fromHex(header(4, 28) + "1a08" + "0000130a" + "3a01"), SECRET)),
    "vendor-specific-malformed",
  );
  assert.is(
    reasonOf(() => decodePacket(fromHex(header(4, 27) + "1a07" + "0000130a" + "3a"), SECRET)),
    "vendor-specific-malformed",
  );
  // A tag above 0x1F is ignored, not refused (RFC 2868 §3.1).
  assert.equal(
    decodePacket(accounting([{ kind: "attribute", type: 64, value: fromHex("20000003") }]), SECRET).attributes,
    [{ name: "Tunnel-Type", tag: 0, value: 3 }],
  );
  // A request answered with a request.
  const sent = accessRequest();
  assert.is(
    reasonOf(() => decodePacket(sent.bytes, SECRET, { request: sent.packet })),
    "response-mismatch",
  );
  // Missing MA is reported before a wrong authenticator (BlastRADIUS order).
  assert.is(
    reasonOf(() => decodePacket(accounting([], "other"), SECRET, { requireMessageAuthenticator: true })),
    "message-authenticator-missing",
  );
});

test.run();
