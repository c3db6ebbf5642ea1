/** The wire codec (RFC 2865 §3, §5.26) and the value types. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeWire, encodeWire, RadiusEncodeError, VENDOR_ERX, type WirePacket } from "../../runtime/radius/mod.ts";
import { decodeValue, encodeValue } from "../../runtime/radius/values.ts";
import { RadiusDecodeError } from "../../runtime/radius/errors.ts";
import { fromHex, hex } from "./peers.ts";

const isEncodeError = (e: unknown) => e instanceof RadiusEncodeError;
const valueError = (f: () => unknown) =>
  assert.throws(f, (e: unknown) => e instanceof RadiusDecodeError && e.reason === "attribute-value");

test("header, order and vendor ids survive a round trip; one VSA per attribute 26", () => {
  const packet: WirePacket = {
    code: 4,
    identifier: 200,
    authenticator: new Uint8Array(16).fill(7),
    attributes: [
      { kind: "attribute", type: 44, value: fromHex("7331") },
      { kind: "vendor", vendorId: VENDOR_ERX, vendorType: 1, value: fromHex("7672") },
      { kind: "vendor-opaque", vendorId: 9, data: fromHex("010a636973636f3d31") },
      { kind: "attribute", type: 200, value: fromHex("") },
    ],
  };
  const bytes = encodeWire(packet);
  assert.is(hex(bytes.subarray(0, 4)), "04c80033");
  const { packet: back, bytes: own } = decodeWire(bytes);
  assert.equal(back, packet);
  assert.equal(own, bytes);
});

test("several ERX VSAs in one attribute 26 are read out in order; unknown vendors stay whole", () => {
  const datagram = fromHex("04010028" + "00".repeat(16) + "1a0d0000130a01037802046162" + "1a070000000900");
  assert.equal(decodeWire(datagram).packet.attributes, [
    { kind: "vendor", vendorId: VENDOR_ERX, vendorType: 1, value: fromHex("78") },
    { kind: "vendor", vendorId: VENDOR_ERX, vendorType: 2, value: fromHex("6162") },
    { kind: "vendor-opaque", vendorId: 9, data: fromHex("00") },
  ]);
});

test("octets beyond the Length field are ignored", () => {
  const datagram = fromHex("05010016" + "00".repeat(16) + "1202" + "deadbeef");
  const { packet, bytes } = decodeWire(datagram);
  assert.is(bytes.length, 22);
  assert.equal(packet.attributes, [{ kind: "attribute", type: 18, value: new Uint8Array(0) }]);
});

test("decoding copies: a Buffer input is not shared or modified", () => {
  const datagram = Buffer.from(fromHex("05010018" + "00".repeat(16) + "01046869"));
  const { bytes, packet } = decodeWire(datagram);
  bytes[20] = 99;
  (packet.attributes[0] as { value: Uint8Array }).value[0] = 0;
  assert.is(hex(datagram), "05010018" + "00".repeat(16) + "01046869");
});

test("encoding limits: 253-octet values, 247 in a VSA, 4096-octet packets, types and vendor ids", () => {
  const base = { code: 4, identifier: 1, authenticator: new Uint8Array(16) } as const;
  encodeWire({ ...base, attributes: [{ kind: "attribute", type: 1, value: new Uint8Array(253) }] });
  assert.throws(
    () => encodeWire({ ...base, attributes: [{ kind: "attribute", type: 1, value: new Uint8Array(254) }] }),
    isEncodeError,
  );
  encodeWire({ ...base, attributes: [{ kind: "vendor", vendorId: 1, vendorType: 1, value: new Uint8Array(247) }] });
  assert.throws(
    () =>
      encodeWire({ ...base, attributes: [{ kind: "vendor", vendorId: 1, vendorType: 1, value: new Uint8Array(248) }] }),
    isEncodeError,
  );
  const big = Array.from({ length: 17 }, () => ({ kind: "attribute", type: 1, value: new Uint8Array(253) }) as const);
  assert.throws(() => encodeWire({ ...base, attributes: big }), isEncodeError);
  assert.throws(
    () => encodeWire({ ...base, attributes: [{ kind: "attribute", type: 26, value: new Uint8Array(8) }] }),
    isEncodeError,
  );
  assert.throws(
    () => encodeWire({ ...base, attributes: [{ kind: "attribute", type: 256, value: new Uint8Array(1) }] }),
    isEncodeError,
  );
  assert.throws(() => encodeWire({ ...base, identifier: 256, attributes: [] }), isEncodeError);
  assert.throws(
    () => encodeWire({ ...base, attributes: [{ kind: "vendor-opaque", vendorId: -1, data: new Uint8Array(1) }] }),
    isEncodeError,
  );
});

test("ipv6prefix (RFC 3162 §2.3): full and short forms, reserved octet, length, bits beyond the length", () => {
  assert.is(decodeValue("ipv6prefix", fromHex("0030" + "20010db80001" + "00".repeat(10)), "P"), "2001:db8:1::/48");
  assert.is(decodeValue("ipv6prefix", fromHex("003020010db80001"), "P"), "2001:db8:1::/48");
  assert.is(decodeValue("ipv6prefix", fromHex("0000"), "P"), "::/0");
  assert.is(decodeValue("ipv6prefix", fromHex("0080" + "20010db8000000000000000000000001"), "P"), "2001:db8::1/128");
  valueError(() => decodeValue("ipv6prefix", fromHex("0130" + "20010db80001"), "P"));
  valueError(() => decodeValue("ipv6prefix", fromHex("0081" + "00".repeat(16)), "P"));
  valueError(() => decodeValue("ipv6prefix", fromHex("003020010db8"), "P"));
  valueError(() => decodeValue("ipv6prefix", fromHex("0020" + "20010db8ff"), "P"));
  valueError(() => decodeValue("ipv6prefix", fromHex("00"), "P"));
  assert.is(hex(encodeValue("ipv6prefix", "2001:DB8:1::/48", "P")), "0030" + "20010db80001" + "00".repeat(10));
  assert.throws(() => encodeValue("ipv6prefix", "2001:db8:1::1/48", "P"), isEncodeError);
  assert.throws(() => encodeValue("ipv6prefix", "2001:db8::/129", "P"), isEncodeError);
});

test("other types: integer, integer64, date, ipaddr, ipv6addr (RFC 5952 text), ifid, string", () => {
  assert.is(decodeValue("integer", fromHex("ffffffff"), "I"), 0xffffffff);
  valueError(() => decodeValue("integer", fromHex("000001"), "I"));
  assert.is(decodeValue("integer64", fromHex("0000000100000002"), "I"), 0x100000002n);
  assert.is(hex(encodeValue("integer64", 0xffffffffffffffffn, "I")), "ffffffffffffffff");
  assert.equal(decodeValue("date", fromHex("6553f100"), "D"), new Date(1_700_000_000_000));
  assert.is(decodeValue("ipaddr", fromHex("c0000201"), "A"), "192.0.2.1");
  assert.is(decodeValue("ipv6addr", fromHex("20010db8000000000001000000000001"), "A"), "2001:db8::1:0:0:1");
  assert.is(decodeValue("ipv6addr", fromHex("20010db8000000010000000000000001"), "A"), "2001:db8:0:1::1");
  assert.is(decodeValue("ipv6addr", new Uint8Array(16), "A"), "::");
  assert.is(hex(encodeValue("ipv6addr", "::ffff:192.0.2.1", "A")), "00000000000000000000ffffc0000201");
  assert.is(decodeValue("ipv6addr", fromHex("00000000000000000000ffffc0000201"), "A"), "::ffff:192.0.2.1");
  assert.is(decodeValue("ipv6addr", fromHex("00000000000000000000fffec0000201"), "A"), "::fffe:c000:201");
  assert.is(decodeValue("ifid", fromHex("000000000000000a"), "F"), "0:0:0:a");
  assert.is(hex(encodeValue("ifid", "0:0:0:A", "F")), "000000000000000a");
  assert.is(decodeValue("string", fromHex("c3a9"), "S"), "é");
  valueError(() => decodeValue("string", fromHex("ff"), "S"));
  for (const [type, bad] of [
    ["integer", -1],
    ["integer", 2 ** 32],
    ["integer", "1"],
    ["ipaddr", "256.0.0.1"],
    ["ipaddr", "1.2.3"],
    ["ipv6addr", "1::2::3"],
    ["ipv6addr", "1:2:3:4:5:6:7:8:9"],
    ["ifid", "0:0:1"],
    ["date", new Date(-1000)],
    ["octets", "text"],
  ] as const) {
    assert.throws(() => encodeValue(type, bad as never, "X"), isEncodeError, `${type} ${String(bad)}`);
  }
});

test.run();
