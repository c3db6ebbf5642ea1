import { test } from "uvu";
import * as assert from "uvu/assert";
import { JsonBytes } from "../../api/json.ts";
import { iso, sessionApiId, sessionKeyOf, sessionView, writeSession } from "../../api/views.ts";
import type { SubscriberSession } from "../../runtime/sessions/store.ts";

let seed = 11;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
/** Strings that exercise every escaping rule: quotes, backslashes, controls, DEL, non-ASCII, emoji, lone surrogates. */
const ODD = ['a"b', "back\\slash", "tab\tnl\ncr\r", "\u0000\u001f\u007f", "ü€", "😀", "\ud800", "x\udc00y", "\u2028\u2029", "</script>", ""];
function randomString(): string {
  const pool = ["a", "Z", "0", "-", ".", ":", "|", "/", " ", '"', "\\", "\u0001", "\u007f", "é", "€", "😀", "\ud83d", "\ude00"];
  return Array.from({ length: Math.floor(random() * 12) }, () => pool[Math.floor(random() * pool.length)]).join("");
}

test("session ids: base64url of the key, round trip, anything else is no id", () => {
  for (const key of ["192.0.2.7|a-1", "192.0.2.7|b/2 x", "2001:db8::1|ü€😀", "n|"]) {
    const id = sessionApiId(key);
    assert.match(id, /^[A-Za-z0-9_-]+$/);
    assert.is(sessionKeyOf(id), key);
  }
  for (const bad of ["", "a", "not an id", "MTkyLjAuMi43fGEtMQ==", "MTkyLjAuMi43fGEtMR", "x".repeat(3000)]) assert.is(sessionKeyOf(bad), undefined, bad);
});

test("iso() formats exactly like Date.prototype.toISOString", () => {
  const edges = [0, -1, 1, 86_399_999, 86_400_000, -86_400_000, 951_782_400_000, 4_102_444_800_000, 253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_000, Date.now()];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const values = [...edges, ...Array.from({ length: 20_000 }, () => Math.floor((random() - 0.3) * 8e12))];
  for (const ms of values) assert.is(iso(ms), new Date(ms).toISOString(), String(ms));
  assert.throws(() => iso(NaN), RangeError);
});

test("session ids: the ASCII fast path gives what Buffer's base64url gives", () => {
  for (let n = 0; n < 2000; n++) {
    const key = Array.from({ length: n % 40 }, () => String.fromCharCode(Math.floor(random() * (n % 3 === 0 ? 0x250 : 0x80)))).join("");
    assert.is(sessionApiId(key), Buffer.from(key, "utf8").toString("base64url"), JSON.stringify(key));
  }
});

test("JsonBytes writes strings exactly as JSON.stringify", () => {
  const w = new JsonBytes(16); // small, so that it grows
  const values = [...ODD, ...Array.from({ length: 5000 }, randomString), "long".repeat(10_000)];
  for (const v of values) {
    w.reset().string(v);
    assert.is(w.text(), JSON.stringify(v), JSON.stringify(v));
  }
  w.reset();
  w.raw("[");
  values.forEach((v, i) => {
    if (i > 0) w.byte(44);
    w.string(v);
  });
  w.raw("]");
  assert.is(w.finish().toString("utf8"), JSON.stringify(values));
  // A document beyond the 1 MiB the scratch buffer keeps, then a small one: both whole.
  const big = Array.from({ length: 300 }, (_, i) => `${"\u0001é".repeat(1000)}${i}`);
  w.reset();
  w.raw("[");
  big.forEach((v, i) => {
    if (i > 0) w.byte(44);
    w.string(v);
  });
  w.raw("]");
  assert.is(w.finish().toString("utf8"), JSON.stringify(big));
  w.reset().string("after");
  assert.is(w.text(), '"after"');
});

test("writeSession writes what JSON.stringify(sessionView) writes, with and without LI fields", () => {
  const fields = ["userName", "framedIpAddress", "framedIpv6Prefix", "delegatedIpv6Prefix", "framedIpv6Address", "callingStationId", "nasPortId", "nasIpAddress", "nasIdentifier"] as const;
  const w = new JsonBytes(64);
  for (let n = 0; n < 3000; n++) {
    const pick = () => (n < ODD.length * 4 ? ODD[(n + Math.floor(random() * 3)) % ODD.length] : randomString());
    const nas = random() < 0.5 ? "192.0.2.7" : pick();
    const acctSessionId = random() < 0.5 ? `s${n}` : pick();
    const s: SubscriberSession = { key: `${nas}|${acctSessionId}`, nas, acctSessionId, startTime: Math.floor((random() - 0.2) * 4e12), lastUpdate: Math.floor(random() * 4e12) };
    for (const f of fields) if (random() < 0.6) s[f] = pick();
    const li = n % 3 === 0 ? undefined : { mirrors: Array.from({ length: n % 3 === 1 ? 0 : 1 + (n % 4) }, (_, i) => (i === 1 ? pick() : `m${n + i}`)) };
    w.reset();
    writeSession(w, s, li);
    assert.is(w.text(), JSON.stringify(sessionView(s, li)), JSON.stringify(s));
  }
});

test.run();
