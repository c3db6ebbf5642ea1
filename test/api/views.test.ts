import { test } from "uvu";
import * as assert from "uvu/assert";
import { iso, sessionApiId, sessionKeyOf } from "../../api/views.ts";

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

test.run();
