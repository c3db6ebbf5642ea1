/** RADIUS cryptography against RFC 2865 §7.1 and captured FreeRADIUS packets. */
import { readFileSync } from "node:fs";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AUTHENTICATOR_LENGTH,
  authenticatorBasisFor,
  Code,
  computeAuthenticator,
  decodePacket,
  decryptUserPassword,
  encryptUserPassword,
  newSalt,
  RadiusDecodeError,
  RadiusEncodeError,
  saltDecrypt,
  saltEncrypt,
  saltKeyFor,
  verifyAuthenticator,
} from "../../runtime/radius/mod.ts";
import { hmacMd5Key, hmacMessage, md5, md5Message, message } from "../../runtime/radius/md5.ts";
import { checkAuthenticators, verifyMessageAuthenticator } from "../../runtime/radius/crypto.ts";
import { encodePacket } from "../../runtime/radius/message.ts";
import { scanWire } from "../../runtime/radius/packet.ts";
import { fromHex, hex } from "./peers.ts";

const text = (s: string) => new TextEncoder().encode(s);
const ZEROS = new Uint8Array(AUTHENTICATOR_LENGTH);

// RFC 2865 §7.1: "nemo" / "arctangent", secret "xyzzy5461".
const RFC_SECRET = "xyzzy5461";
const RFC_REQUEST = fromHex(
  "01000038 0f403f9473978057bd83d5cb98f4227a 01066e656d6f 02120dbe708d93d413ce3196e43f782a0aee 0406c0a80110 050600000003",
);
const RFC_ACCEPT = fromHex("02000026 86fe220e7624ba2a1005f6bf9b55e0b2 060600000001 0f0600000000 0e06c0a80103");

function fixture(name: string): { secret: string; packet: Uint8Array; request?: Uint8Array } {
  const f = JSON.parse(readFileSync(new URL(`../../fixtures/radius/${name}`, import.meta.url), "utf8"));
  return { secret: f.secret, packet: fromHex(f.packet), request: f.request ? fromHex(f.request) : undefined };
}

const isEncodeError = (e: unknown) => e instanceof RadiusEncodeError;

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RadiusDecodeError) return e.reason;
    throw e;
  }
  throw new Error("expected a RadiusDecodeError");
}

test("RFC 2865 §7.1: User-Password hiding", () => {
  const ra = RFC_REQUEST.subarray(4, 20);
  assert.is(hex(encryptUserPassword(text("arctangent"), ra, RFC_SECRET)), "0dbe708d93d413ce3196e43f782a0aee");
  assert.equal(decryptUserPassword(fromHex("0dbe708d93d413ce3196e43f782a0aee"), ra, RFC_SECRET), text("arctangent"));
});

test("RFC 2865 §7.1: Access-Request decodes (no MA allowed only when asked)", () => {
  const p = decodePacket(RFC_REQUEST, RFC_SECRET, { requireMessageAuthenticator: false });
  assert.is(p.code, Code.AccessRequest);
  assert.is(p.first("User-Name"), "nemo");
  assert.is(p.first("User-Password"), "arctangent");
  assert.is(p.first("NAS-IP-Address"), "192.168.1.16");
  assert.is(p.first("NAS-Port"), 3);
  assert.is(
    reason(() => decodePacket(RFC_REQUEST, RFC_SECRET)),
    "message-authenticator-missing",
  );
});

test("RFC 2865 §7.1: Response Authenticator of the Access-Accept", () => {
  const ra = RFC_REQUEST.subarray(4, 20);
  assert.is(hex(computeAuthenticator(RFC_ACCEPT, ra, RFC_SECRET)), "86fe220e7624ba2a1005f6bf9b55e0b2");
  assert.ok(verifyAuthenticator(RFC_ACCEPT, ra, RFC_SECRET));
  assert.not.ok(verifyAuthenticator(RFC_ACCEPT, ra, "xyzzy5462"));
  const request = decodePacket(RFC_REQUEST, RFC_SECRET, { requireMessageAuthenticator: false });
  const accept = decodePacket(RFC_ACCEPT, RFC_SECRET, {
    request: request as never,
    requireMessageAuthenticator: false,
  });
  assert.is(accept.first("Service-Type"), 1);
  // Login-Service (15) and Login-IP-Host (14) are not in iapd's dictionary: kept raw, in order.
  assert.equal(accept.attributes.slice(1), [
    { kind: "attribute", type: 15, value: fromHex("00000000") },
    { kind: "attribute", type: 14, value: fromHex("c0a80103") },
  ]);
});

test("User-Password: padding, 128-octet limit, length checks", () => {
  const ra = fromHex("00112233445566778899aabbccddeeff");
  for (const n of [0, 1, 15, 16, 17, 128]) {
    const pw = new Uint8Array(n).fill(0x61);
    const hidden = encryptUserPassword(pw, ra, "s");
    assert.is(hidden.length, Math.max(16, Math.ceil(n / 16) * 16));
    assert.equal(decryptUserPassword(hidden, ra, "s"), pw);
  }
  assert.throws(() => encryptUserPassword(new Uint8Array(129), ra, "s"), isEncodeError);
  for (const n of [0, 15, 17, 144])
    assert.is(
      reason(() => decryptUserPassword(new Uint8Array(n), ra, "s")),
      "password-length",
    );
});

test("radclient CoA fixture: authenticator and MA over zeros, LI VSAs salt-decrypted with R = zeros", () => {
  const { secret, packet } = fixture("radclient-coa-li.json");
  assert.ok(verifyAuthenticator(packet, ZEROS, secret));
  const p = decodePacket(packet, secret, { requireMessageAuthenticator: true });
  assert.ok(p.messageAuthenticator);
  assert.is(p.first("ERX-LI-Action"), 1);
  assert.equal(p.first("ERX-Med-Dev-Handle"), fromHex("0000000100000002"));
  assert.is(p.first("ERX-Med-Ip-Address"), "127.0.0.1");
  assert.is(p.first("ERX-Med-Port-Number"), 30030);
  assert.is(p.first("Tunnel-Password"), "abc");
  // Wire layout of li-protocols.md §1.1: no tag octet, vlen = 2 + 2 + 16; no FreeRADIUS tag quirk.
  assert.is(hex(packet.subarray(24, 32)), "1a1a0000130a3a14");
});

test("FreeRADIUS Access-Accept fixture: salt R = the Access-Request's authenticator", () => {
  const { secret, packet, request } = fixture("freeradius-access-accept-li.json");
  const sent = decodePacket(request!, secret);
  assert.ok(sent.is(Code.AccessRequest));
  const accept = decodePacket(packet, secret, { request: sent as never, requireMessageAuthenticator: false });
  assert.is(accept.first("ERX-Med-Ip-Address"), "192.0.2.7");
  assert.equal(accept.first("ERX-Med-Dev-Handle"), fromHex("0000030000000090"));
  assert.is(accept.first("Tunnel-Password"), "tunnel-secret");
  // With R = zeros the same ciphertext does not decrypt to a plausible value.
  const vsa = packet.subarray(20 + 6 + 2, 20 + 26);
  assert.throws(() => {
    const v = saltDecrypt(vsa, ZEROS, secret, "ERX-LI-Action");
    if (v.length === 4) throw new Error("decrypted with the wrong R");
  });
});

test("saltKeyFor: request authenticator for responses and Access-Request, zeros for Accounting/CoA/Disconnect requests", () => {
  const r = fromHex("0102030405060708090a0b0c0d0e0f10");
  for (const code of [
    Code.AccessAccept,
    Code.AccessReject,
    Code.AccessChallenge,
    Code.CoaAck,
    Code.CoaNak,
    Code.DisconnectAck,
    Code.AccountingResponse,
    Code.AccessRequest,
    Code.StatusServer,
  ]) {
    assert.equal(saltKeyFor(code, r), r);
    assert.throws(() => saltKeyFor(code, undefined), isEncodeError);
  }
  for (const code of [Code.AccountingRequest, Code.CoaRequest, Code.DisconnectRequest]) {
    assert.equal(saltKeyFor(code, r), ZEROS);
    assert.equal(authenticatorBasisFor(code, undefined), ZEROS);
  }
});

test("salt encryption: layout, round trip, MSB, uniqueness", () => {
  const r = fromHex("ffeeddccbbaa99887766554433221100");
  const used = new Set<number>();
  const salts = Array.from({ length: 200 }, () => newSalt(used));
  assert.is(new Set(salts.map(hex)).size, 200);
  assert.ok(salts.every((s) => s[0] & 0x80));
  for (const n of [0, 4, 15, 16, 100, 239]) {
    const value = new Uint8Array(n).map((_, i) => i);
    const data = saltEncrypt(value, salts[0], r, "k", "test");
    assert.is(data.length, 2 + Math.ceil((n + 1) / 16) * 16);
    assert.equal(data.subarray(0, 2), salts[0]);
    assert.equal(saltDecrypt(data, r, "k", "test"), value);
  }
  assert.throws(() => saltEncrypt(new Uint8Array(240), salts[0], r, "k", "test"), isEncodeError);
  assert.throws(() => saltEncrypt(new Uint8Array(4), Uint8Array.of(0x7f, 0), r, "k", "test"), isEncodeError);
});

test("salt decryption rejects bad length, clear MSB and an impossible inner length", () => {
  const r = ZEROS;
  assert.is(
    reason(() => saltDecrypt(new Uint8Array(2), r, "k", "x")),
    "salt-length",
  );
  assert.is(
    reason(() => saltDecrypt(new Uint8Array(2 + 17).fill(0x80), r, "k", "x")),
    "salt-length",
  );
  assert.is(
    reason(() => saltDecrypt(new Uint8Array(2 + 16), r, "k", "x")),
    "salt-msb",
  );
  // Plaintext whose length octet (200) exceeds the 15 data octets, encrypted by hand: c(1) = p(1) xor MD5(S | R | A).
  const salt = Uint8Array.of(0x80, 0x01);
  const b1 = createHash("md5").update("k").update(r).update(salt).digest();
  const c1 = Uint8Array.from(b1, (b, i) => b ^ (i === 0 ? 200 : 0));
  assert.is(
    reason(() => saltDecrypt(Uint8Array.of(...salt, ...c1), r, "k", "x")),
    "salt-inner-length",
  );
});

test("md5.ts: MD5 and HMAC-MD5 equal node:crypto's for every length 0..300 and a 4096-octet packet with a secret, in parts, any key length", () => {
  const out = new Uint8Array(16);
  for (const n of [...Array(301).keys(), 4096 + 200]) {
    const data = randomBytes(n);
    // In parts (md5's), and from the message region at an offset of the caller's own (md5Message).
    const cut = Math.floor(Math.random() * (n + 1));
    assert.is(hex(md5(data.subarray(0, cut), data.subarray(cut))), createHash("md5").update(data).digest("hex"), `MD5 of ${n} octets`);
    message.set(data, 0);
    md5Message(n, out, 0);
    assert.is(hex(out), createHash("md5").update(data).digest("hex"), `MD5 of ${n} octets in place`);
    const key = randomBytes([0, 1, 19, 63, 64, 65, 200][n % 7]);
    hmacMessage(hmacMd5Key(key), n, out, 0);
    assert.is(hex(out), createHmac("md5", key).update(data).digest("hex"), `HMAC-MD5 of ${n} octets, ${key.length}-octet key`);
  }
  assert.throws(() => message.set(new Uint8Array(message.length + 1), 0), RangeError, "nothing is written past the region");
});

test("checkAuthenticators gives what verifyAuthenticator then verifyMessageAuthenticator give, for intact, altered and wrongly keyed packets", () => {
  let checked = 0;
  for (let n = 0; n < 60; n++) {
    const code = n % 3 === 0 ? Code.AccessRequest : n % 3 === 1 ? Code.AccountingRequest : Code.CoaRequest;
    const secret = n % 2 ? "s3cret" : new Uint8Array(randomBytes(1 + (n % 70)));
    const attributes = [{ name: "User-Name" as const, value: "u".repeat(n) }, { name: "Acct-Session-Id" as const, value: String(n) }];
    const packet = encodePacket({ code, identifier: n, attributes }, secret, { messageAuthenticator: n % 5 !== 0 }).bytes;
    const maOffset = scanWire(packet, false).messageAuthenticatorOffsets[0];
    for (const change of ["none", "authenticator", "message-authenticator", "body", "secret"] as const) {
      const bytes = new Uint8Array(packet);
      let key = secret;
      if (change === "authenticator") bytes[4] ^= 1;
      if (change === "message-authenticator" && maOffset !== undefined) bytes[maOffset] ^= 1;
      if (change === "body") bytes[bytes.length - 1] ^= 1;
      if (change === "secret") key = "another";
      const basis = authenticatorBasisFor(code, bytes.subarray(4, 20));
      const nonce = code === Code.AccessRequest;
      const expected =
        !nonce && !verifyAuthenticator(bytes, basis, key)
          ? "authenticator-mismatch"
          : maOffset !== undefined && !verifyMessageAuthenticator(bytes, maOffset, basis, key)
            ? "message-authenticator-invalid"
            : undefined;
      assert.is(checkAuthenticators(bytes, basis, key, !nonce, maOffset), expected, `${n} ${change}`);
      if (change === "none") assert.is(expected, undefined, "an intact packet passes");
      // Caught, unless nothing covers the change: a nonce authenticator, or no Message-Authenticator to alter.
      else if (!(nonce && (change === "authenticator" || maOffset === undefined)) && !(change === "message-authenticator" && maOffset === undefined)) {
        assert.ok(expected !== undefined, `${n} ${change} is caught`);
      }
      checked++;
    }
  }
  assert.is(checked, 300);
});

test.run();
