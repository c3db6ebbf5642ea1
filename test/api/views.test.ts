import { test } from "uvu";
import * as assert from "uvu/assert";
import { sessionApiId, sessionKeyOf } from "../../api/views.ts";

test("session ids: base64url of the key, round trip, anything else is no id", () => {
  for (const key of ["192.0.2.7|a-1", "192.0.2.7|b/2 x", "2001:db8::1|ü€😀", "n|"]) {
    const id = sessionApiId(key);
    assert.match(id, /^[A-Za-z0-9_-]+$/);
    assert.is(sessionKeyOf(id), key);
  }
  for (const bad of ["", "a", "not an id", "MTkyLjAuMi43fGEtMQ==", "MTkyLjAuMi43fGEtMR", "x".repeat(3000)]) assert.is(sessionKeyOf(bad), undefined, bad);
});

test.run();
