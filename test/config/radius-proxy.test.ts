import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseConfig } from "../../runtime/config/load.ts";
import { problems } from "../helpers/config.ts";

test("radius.authentication: absent by default; defaults when present", () => {
  assert.is(parseConfig("", "t.yaml").radius.authentication, undefined);
  const auth = parseConfig("radius:\n  authentication:\n    upstreams:\n      - {address: 192.0.2.10, secret: s}\n", "t.yaml").radius
    .authentication!;
  assert.equal(auth.listen, { address: "127.0.0.1", family: 4, port: 1812 });
  assert.equal(auth.upstreams, [{ address: "192.0.2.10", port: 1812, secret: "s", requireMessageAuthenticator: true }]);
  assert.is(auth.timeoutMs, 3000);
  assert.is(auth.retries, 2);
  assert.is(auth.armTimeoutSeconds, 120);
});

test("radius.authentication: IPv6, names, FreeRADIUS 3.2.1 without Message-Authenticator", () => {
  const auth = parseConfig(
    [
      "radius:",
      "  authentication:",
      "    listen: '[::1]:11812'",
      "    upstreams:",
      "      - {address: '2001:db8::10', port: 11812, secret: s, name: aaa-1}",
      "      - {address: 127.0.0.1, secret: t, requireMessageAuthenticator: false}",
      "    timeoutMs: 500",
      "    retries: 0",
      "    armTimeoutSeconds: 30",
      "",
    ].join("\n"),
    "t.yaml",
  ).radius.authentication!;
  assert.equal(auth.listen, { address: "::1", family: 6, port: 11812 });
  assert.equal(auth.upstreams[0], { address: "2001:db8::10", port: 11812, secret: "s", requireMessageAuthenticator: true, name: "aaa-1" });
  assert.is(auth.upstreams[1].requireMessageAuthenticator, false);
  assert.equal([auth.timeoutMs, auth.retries, auth.armTimeoutSeconds], [500, 0, 30]);
});

test("radius.authentication: errors name the key, what was expected and what was found", () => {
  const p = problems(
    [
      "radius:",
      "  authentication:",
      "    listen: 'localhost:1812'",
      "    upstreams:",
      "      - {address: aaa.example, secret: '', port: 0, requireMessageAuthenticator: 'no', secrt: x}",
      "    timeoutMs: 5",
      "    retries: 1.5",
      "",
    ].join("\n"),
  );
  const text = p.join("\n");
  assert.match(text, /t\.yaml:3:\d+ radius\.authentication\.listen: expected "address:port" .*found "localhost:1812"/);
  assert.match(text, /radius\.authentication\.upstreams\[0\]\.address: expected an IPv4 or IPv6 address .*found "aaa\.example"/);
  assert.match(text, /radius\.authentication\.upstreams\[0\]\.secret: expected a non-empty shared secret, found an empty string/);
  assert.match(text, /radius\.authentication\.upstreams\[0\]\.port: expected a UDP port \(an integer 1\.\.65535\), found 0/);
  assert.match(text, /radius\.authentication\.upstreams\[0\]\.requireMessageAuthenticator: expected true or false, found "no"/);
  assert.match(text, /radius\.authentication\.upstreams\[0\]\.secrt: unknown key \(allowed: address, port, secret, requireMessageAuthenticator, name\)/);
  assert.match(text, /radius\.authentication\.timeoutMs: expected a timeout in milliseconds \(an integer 100\.\.60000\), found 5/);
  assert.match(text, /radius\.authentication\.retries: expected a number of retransmissions \(an integer 0\.\.10\), found 1\.5/);
  assert.match(
    problems("radius:\n  authentication:\n    upstreams: []\n").join("\n"),
    /radius\.authentication\.upstreams: expected at least one upstream RADIUS server, found none/,
  );
  assert.match(problems("radius:\n  authentication: {}\n").join("\n"), /radius\.authentication\.upstreams: expected a list of upstream RADIUS servers, found nothing/);
});

test.run();
