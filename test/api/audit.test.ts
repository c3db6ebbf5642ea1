import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditError, AuditLog, GENESIS_HASH, verifyAuditLog } from "../../runtime/audit/log.ts";
import { auditVerifyCli } from "../helpers/audit-cli.ts";

function logWith(n: number): { path: string; lines: string[] } {
  const path = join(mkdtempSync(join(tmpdir(), "iapd-audit-")), "audit.log");
  let t = Date.UTC(2026, 0, 1);
  const log = AuditLog.open(path, () => t++);
  for (let i = 1; i <= n; i++) log.record({ actor: "api:alice", action: "mirror.terminate", object: `mirror:m${i}`, outcome: "ok", detail: { interceptId: i } });
  log.close();
  return { path, lines: readFileSync(path, "utf8").trim().split("\n") };
}

const cli = auditVerifyCli;

test("records chain: seq, prevHash, hash over the canonical record; file mode 0600", () => {
  const { path, lines } = logWith(3);
  const recs = lines.map((l) => JSON.parse(l));
  assert.equal(recs.map((r) => r.seq), [1, 2, 3]);
  assert.is(recs[0].prevHash, GENESIS_HASH);
  assert.is(recs[1].prevHash, recs[0].hash);
  assert.is(recs[0].time, "2026-01-01T00:00:00.000Z");
  assert.equal(Object.keys(recs[0]), ["seq", "time", "actor", "action", "object", "outcome", "detail", "prevHash", "hash"]);
  assert.is(statSync(path).mode & 0o777, 0o600);
  const v = verifyAuditLog(path);
  assert.equal(v, { ok: true, records: 3, head: recs[2].hash });
});

test("reopening continues the chain", () => {
  const { path } = logWith(2);
  const log = AuditLog.open(path);
  assert.is(log.count, 2);
  assert.is(log.record({ actor: "radius:192.0.2.7", action: "mirror.start", object: "mirror:m9", outcome: "ok" }).seq, 3);
  log.close();
  assert.ok(verifyAuditLog(path).ok);
});

test("verify names the first edited, removed or reordered line; open refuses a broken chain", () => {
  const cases: [string, (l: string[]) => string[], number, RegExp][] = [
    ["edited", (l) => l.map((x, i) => (i === 2 ? x.replace('"outcome":"ok"', '"outcome":"not-found"') : x)), 3, /edited/],
    ["edited detail", (l) => l.map((x, i) => (i === 3 ? x.replace('"interceptId":4', '"interceptId":5') : x)), 4, /edited/],
    ["removed", (l) => l.filter((_, i) => i !== 1), 2, /removed/],
    ["reordered", (l) => [l[0], l[2], l[1], ...l.slice(3)], 2, /moved/],
    ["re-numbered after removal", (l) => [l[0], ...l.slice(2).map((x) => x.replace(/"seq":(\d+)/, (_, n) => `"seq":${Number(n) - 1}`))], 2, /prevHash|edited/],
    ["torn", (l) => [...l.slice(0, 4), l[4].slice(0, 30)], 5, /not a JSON record/],
  ];
  for (const [name, change, line, problem] of cases) {
    const { path, lines } = logWith(5);
    writeFileSync(path, `${change(lines).join("\n")}\n`);
    const v = verifyAuditLog(path);
    assert.is(v.ok, false, name);
    if (!v.ok) {
      assert.is(v.line, line, `${name}: ${v.problem}`);
      assert.match(v.problem, problem, name);
    }
    const run = cli(path);
    assert.is(run.code, 1, name);
    assert.ok(run.out.includes(`${path}:${line}: `), run.out);
    // A torn last line is set aside at open (below); anything else is refused.
    if (name !== "torn") assert.throws(() => AuditLog.open(path), (e: unknown) => e instanceof AuditError && e.message.includes(`:${line}:`), name);
  }
});

test("a torn last line (no newline, or not JSON) is set aside at open, kept in a side file; the chain continues; verify reports it", () => {
  const cases: [string, (l: string[]) => string][] = [
    ["no newline", (l) => `${l.slice(0, 4).join("\n")}\n${l[4].slice(0, 40)}`],
    ["no newline, whole record", (l) => `${l.join("\n")}`],
    ["not JSON", (l) => `${l.slice(0, 4).join("\n")}\n${l[4].slice(0, 40)}\n`],
  ];
  for (const [name, change] of cases) {
    const { path, lines } = logWith(5);
    const text = change(lines);
    writeFileSync(path, text);
    const before = cli(path);
    assert.is(before.code, 1, name);
    assert.match(before.out, /:5: .*the last line, torn: iapd sets it aside at its next start/, name);
    const logged: string[] = [];
    const log = AuditLog.open(path, Date.now, (l) => logged.push(l));
    const offset = Buffer.byteLength(`${lines.slice(0, 4).join("\n")}\n`);
    assert.match(logged.join("\n"), new RegExp(`set aside a torn last line at byte ${offset} .*torn-at-${offset}.*continues from record 4`), name);
    assert.is(readFileSync(`${path}.torn-at-${offset}`, "utf8"), text.slice(offset), `${name}: kept byte for byte`);
    assert.is(log.count, 4);
    assert.is(log.record({ actor: "api:alice", action: "mirror.terminate", object: "mirror:m9", outcome: "ok" }).seq, 5);
    log.close();
    const v = verifyAuditLog(path);
    assert.ok(v.ok && v.records === 5, name);
    const after = cli(path);
    assert.is(after.code, 0, name);
    assert.match(after.out, new RegExp(`torn last line was set aside at start-up in audit.log.torn-at-${offset} \\(${text.length - offset} byte`), name);
  }
  // A damaged line before the last one is not a torn tail: still refused.
  const { path, lines } = logWith(5);
  writeFileSync(path, `${lines.slice(0, 2).join("\n")}\n{x\n${lines.slice(3, 4).join("\n")}\n${lines[4].slice(0, 20)}`);
  assert.throws(() => AuditLog.open(path), (e: unknown) => e instanceof AuditError && e.message.includes(":3:"));
});

test("iapd audit verify: ok with the head hash, usage errors", () => {
  const { path, lines } = logWith(4);
  const run = cli(path);
  assert.is(run.code, 0);
  assert.is(run.out.trim(), `${path}: ok: 4 record(s), head ${JSON.parse(lines[3]).hash}`);
  assert.is(cli(join(tmpdir(), "no-such-audit.log")).code, 1);
});

test.run();
