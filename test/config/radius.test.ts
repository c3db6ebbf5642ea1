import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseConfig } from "../../runtime/config/load.ts";
import { problems } from "../helpers/config.ts";

test("radius: defaults are loopback listeners, no clients, BlastRADIUS-safe", () => {
  const { radius } = parseConfig("", "t.yaml");
  assert.equal(radius.clients, []);
  assert.equal(radius.accounting.listen, { address: "127.0.0.1", family: 4, port: 1813 });
  assert.equal(radius.dynamicAuthorization.listen, { address: "127.0.0.1", family: 4, port: 3799 });
  assert.is(radius.duplicateCacheSeconds, 30);
  assert.is(radius.eventTimestampWindowSeconds, 300);
  assert.is(radius.limits.maxMirrors, 65536);
  const c = parseConfig("radius:\n  clients:\n    - {address: 192.0.2.0/24, secret: s}\n", "t.yaml").radius.clients[0];
  assert.is(c.requireMessageAuthenticator, true);
  assert.is(c.address.length, 24);
});

test("radius: IPv6 listeners and clients", () => {
  const { radius } = parseConfig(
    "radius:\n  clients:\n    - {address: '2001:db8::/64', secret: s, requireMessageAuthenticator: false, name: bng}\n  dynamicAuthorization: {listen: '[::1]:3799'}\n",
    "t.yaml",
  );
  assert.equal(radius.dynamicAuthorization.listen, { address: "::1", family: 6, port: 3799 });
  assert.is(radius.clients[0].address.family, 6);
  assert.is(radius.clients[0].requireMessageAuthenticator, false);
});

test("radius: errors name the key and the problem", () => {
  const p = problems(
    "radius:\n  clients:\n    - {address: 10.0.0.1/8, secret: ''}\n  accounting: {listen: '::1:1813'}\n  limits: {maxMirrors: 0}\n  bogus: 1\n",
  );
  const has = (s: string) => assert.ok(p.some((l) => l.includes(s)), `${s}\n${p.join("\n")}`);
  has('t.yaml:3:17 radius.clients[0].address: "10.0.0.1/8" has bits set beyond /8 (did you mean 10.0.0.0/8?)');
  has("radius.clients[0].secret: expected a non-empty shared secret");
  has('radius.accounting.listen: expected "address:port" with an IP address and a port 0..65535 (IPv6 in brackets: "[::1]:1812"), found "::1:1813"');
  has("radius.limits.maxMirrors: expected a mirror session limit (an integer 1..100000000), found 0");
  has("radius.bogus: unknown key (allowed: clients, accounting, dynamicAuthorization, authentication, duplicateCacheSeconds, eventTimestampWindowSeconds, limits)");
});

test.run();
