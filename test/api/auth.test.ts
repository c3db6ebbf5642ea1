import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIRST_RUN_TOKEN_FILE, hashToken, resolveTokens, roleAtLeast, TokenVerifier } from "../../api/auth/tokens.ts";
import { Cursors, fill } from "../../api/pagination/cursors.ts";
import { ConfigError, parseConfig } from "../../runtime/config/load.ts";

test("tokens: only hashes configured; the matching token's name and role", () => {
  const v = new TokenVerifier([
    { name: "ops", role: "operator", sha256: hashToken("secret-1") },
    { name: "li", role: "li-admin", sha256: hashToken("secret-2") },
  ]);
  assert.equal(v.verify("secret-2"), { name: "li", role: "li-admin" });
  assert.equal(v.verify("secret-1"), { name: "ops", role: "operator" });
  assert.is(v.verify("secret-3"), undefined);
  assert.is(v.verify(""), undefined);
  assert.ok(roleAtLeast("li-admin", "operator") && roleAtLeast("operator", "viewer") && !roleAtLeast("operator", "li-admin"));
});

test("first run: a token is generated, its hash kept (0600), the token announced exactly once", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "iapd-state-")), "var");
  const announced: string[] = [];
  const first = resolveTokens([], dir, (t) => announced.push(t));
  assert.is(announced.length, 1);
  assert.match(announced[0], /^[A-Za-z0-9_-]{43}$/);
  assert.equal(first, [{ name: "admin", role: "li-admin", sha256: hashToken(announced[0]) }]);
  const file = join(dir, FIRST_RUN_TOKEN_FILE);
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.not.ok(readFileSync(file, "utf8").includes(announced[0]));
  const again = resolveTokens([], dir, (t) => announced.push(t));
  assert.is(announced.length, 1);
  assert.equal(again, first);
  assert.equal(new TokenVerifier(again).verify(announced[0]), { name: "admin", role: "li-admin" });
  // Configured tokens win; the state directory is not touched.
  const configured = [{ name: "x", role: "viewer" as const, sha256: hashToken("t") }];
  assert.equal(resolveTokens(configured, join(dir, "unused"), () => assert.unreachable()), configured);
});

test("config: api section defaults and errors name file, line, key", () => {
  const c = parseConfig("", "t.yaml");
  assert.equal(c.api, { listen: { address: "127.0.0.1", family: 4, port: 8080 }, tokens: [] });
  const ok = parseConfig(`api:\n  listen: "[::1]:0"\n  tokens:\n    - {name: alice, role: li-admin, sha256: ${"AB".repeat(32)}}\n  tls: {cert: a.crt, key: a.key}\n`, "t.yaml");
  assert.is(ok.api.tokens[0].sha256, "ab".repeat(32));
  assert.is(ok.api.listen.family, 6);
  let problems: string[] = [];
  try {
    parseConfig("api:\n  listen: 8080\n  tokens:\n    - {name: alice, role: admin, sha256: abc, token: x}\n", "t.yaml");
  } catch (e) {
    problems = (e as ConfigError).problems;
  }
  assert.ok(problems.some((p) => /^t\.yaml:2:11 api\.listen: /.test(p)), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("t.yaml:4:") && p.includes('api.tokens[0].role: expected a role (viewer, operator, li-admin), found "admin"')), problems.join("\n"));
  assert.ok(problems.some((p) => p.includes('api.tokens[0].sha256: expected a SHA-256 hash (64 hex digits), found "abc"')), problems.join("\n"));
  assert.ok(problems.some((p) => p.includes("api.tokens[0].token: unknown key (allowed: name, role, sha256)")), problems.join("\n"));
});

test("cursors: single use, bound to owner and filters, expire, bounded", () => {
  let now = 0;
  const cursors = new Cursors(() => now, { ttlMs: 1000, max: 3 });
  const it = [1, 2, 3, 4, 5][Symbol.iterator]();
  assert.equal(fill(it, 2, () => true), { items: [1, 2], done: false });
  const token = cursors.park("alice", "{}", it);
  assert.is(cursors.take(token, "bob", "{}"), "gone");
  assert.is(cursors.take(token, "alice", '{"user":"x"}'), "mismatch");
  const back = cursors.take<number>(token, "alice", "{}");
  assert.ok(typeof back === "object");
  assert.is(cursors.take(token, "alice", "{}"), "gone");
  assert.equal(fill(back as Iterator<number>, 10, (n) => n % 2 === 1), { items: [3, 5], done: true });
  const old = cursors.park("a", "{}", it);
  now = 2000;
  assert.is(cursors.take(old, "a", "{}"), "gone");
  for (let i = 0; i < 5; i++) cursors.park("a", "{}", it);
  assert.is(cursors.size, 3);
  // The scan budget bounds the work of one page.
  assert.equal(fill([1, 2, 3, 4][Symbol.iterator](), 10, () => false, 2), { items: [], done: false });
});

test.run();
