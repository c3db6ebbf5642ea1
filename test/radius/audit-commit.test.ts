/**
 * The audit log's group commit as the RADIUS layer uses it: the store's audit records of a CoA are
 * appended, and the CoA-ACK leaves only once they are fdatasync'd (issue 8: the audit log shares the
 * journal's durability rule). Also: records appended in one turn and records written at once keep
 * one hash chain that `iapd audit verify` verifies, and in which it still finds an edit.
 */
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AuditLog, verifyAuditLog, type AuditRecord } from "../../runtime/audit/log.ts";
import { auditStoreEvents } from "../../runtime/audit/store-events.ts";
import { radiusSchema } from "../../runtime/config/radius.ts";
import { ControlPlane } from "../../runtime/daemon/control-plane.ts";
import { attribute, Code, encodePacket } from "../../runtime/radius/mod.ts";
import { SECRET } from "./iapd.ts";
import { auditVerifyCli } from "../helpers/audit-cli.ts";

const NOTHING_ELSE = Promise.resolve();

const coa = suite("radius: CoA-ACK after its audit record is durable (audit group commit)");

coa("32 CoAs at once: each ACK arrives once its mirror.start record is fdatasync'd and in the file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iapd-audit-coa-"));
  const path = join(dir, "audit.log");
  const audit = AuditLog.open(path);
  const plane = await ControlPlane.start(
    radiusSchema.parse({
      clients: [{ address: "127.0.0.1", secret: SECRET }],
      accounting: { listen: "127.0.0.1:0" },
      dynamicAuthorization: { listen: "127.0.0.1:0" },
    }),
    // What the daemon does, without the journal.
    { commit: () => audit.commitWith(NOTHING_ELSE) },
  );
  plane.store.onEvent = auditStoreEvents(audit);
  const socket = createSocket("udp4");
  const N = 32;
  try {
    for (let i = 0; i < N; i++) plane.store.upsertSession({ nas: "127.0.0.1", acctSessionId: `s${i}`, framedIpAddress: `100.64.1.${i + 1}` }, Date.now());
    const port = plane.dynamicAuthorization.server.address().port;
    // At the moment each answer arrives: what the log says is durable, and what the file holds.
    const seen = new Map<number, { code: number; durable: number; file: string }>();
    const all = new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${seen.size} of ${N} answers within 5 s`)), 5000);
      socket.on("message", (m) => {
        // Code and Identifier octets (RFC 2865 3): all this needs of the answer.
        seen.set(m[1], { code: m[0], durable: audit.durableCount, file: readFileSync(path, "utf8") });
        if (seen.size === N) {
          clearTimeout(timer);
          done();
        }
      });
    });
    await new Promise<void>((done) => socket.bind(0, "127.0.0.1", () => done()));
    for (let i = 0; i < N; i++) {
      const { bytes } = encodePacket(
        {
          code: Code.CoaRequest,
          identifier: i,
          attributes: [
            attribute("Acct-Session-Id", `s${i}`),
            attribute("ERX-LI-Action", 1),
            attribute("ERX-Med-Dev-Handle", Uint8Array.of(0, 0, 0, 1, 0, 0, 0, i + 1)),
            attribute("ERX-Med-Ip-Address", "127.0.0.1"),
            attribute("ERX-Med-Port-Number", 30030),
          ],
        },
        SECRET,
        { messageAuthenticator: true },
      );
      socket.send(bytes, port, "127.0.0.1");
    }
    await all;
    // Everything, for the comparison (a broken commit would leave it unwritten until here).
    await audit.sync();
    const records = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as AuditRecord);
    assert.is(records.length, N);
    for (let i = 0; i < N; i++) {
      const answer = seen.get(i)!;
      assert.is(answer.code, Code.CoaAck, `answer ${i}`);
      const record = records.find((r) => r.action === "mirror.start" && r.detail?.subscriber === `127.0.0.1|s${i}`);
      assert.ok(record, `a mirror.start record for s${i}`);
      assert.ok(answer.durable >= record.seq, `CoA-ACK ${i} left with ${answer.durable} record(s) durable; its record is number ${record.seq}`);
      assert.ok(answer.file.includes(record.hash), `record ${record.seq} in the file when CoA-ACK ${i} arrived`);
    }
    assert.ok(verifyAuditLog(path).ok);
  } finally {
    socket.close();
    await plane.stop();
    audit.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

coa.run();

const chain = suite("audit: appended (group-committed) and written records share one chain");

const cli = auditVerifyCli;

chain("one sync for a turn's appends; record() in between keeps the order; close() writes the rest; verify ok, then finds an edit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iapd-audit-group-"));
  const path = join(dir, "audit.log");
  try {
    let t = Date.UTC(2026, 0, 1);
    const log = AuditLog.open(path, () => t++);
    const entry = (i: number) => ({ actor: "radius:coa", action: "mirror.start", object: `mirror:m${i}`, outcome: "ok", detail: { n: i } });
    for (let i = 1; i <= 5; i++) log.append(entry(i));
    const first = log.sync();
    assert.is(log.sync(), first, "the callers of one turn share one promise");
    assert.is(log.durableCount, 0);
    assert.is(readFileSync(path, "utf8"), "", "append only buffers");
    // A record written at once also writes (and fsyncs) what was appended before it, in order.
    const written = log.record(entry(6));
    assert.is(written.seq, 6);
    assert.is(log.durableCount, 6);
    for (let i = 7; i <= 9; i++) log.append(entry(i));
    await Promise.all([first, log.sync()]);
    assert.is(log.durableCount, 9);
    log.append(entry(10));
    assert.is(log.durableCount, 9);
    log.close();
    const lines = readFileSync(path, "utf8").trim().split("\n");
    assert.equal(lines.map((l) => (JSON.parse(l) as AuditRecord).detail?.n), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const check = verifyAuditLog(path);
    assert.ok(check.ok && check.records === 10);
    const run = cli(path);
    assert.is(run.code, 0, run.out);
    assert.is(run.out.trim(), `${path}: ok: 10 record(s), head ${(JSON.parse(lines[9]) as AuditRecord).hash}`);
    // Reopened, the chain continues.
    const again = AuditLog.open(path, () => t++);
    assert.is(again.append(entry(11)).prevHash, (JSON.parse(lines[9]) as AuditRecord).hash);
    await again.sync();
    again.close();
    assert.ok(verifyAuditLog(path).ok);
    // An edited record is found, at its line.
    const edited = readFileSync(path, "utf8").split("\n");
    edited[3] = edited[3].replace('"mirror:m4"', '"mirror:m44"');
    writeFileSync(path, edited.join("\n"));
    const broken = cli(path);
    assert.is.not(broken.code, 0);
    assert.match(broken.out, /:4: hash does not match/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

chain.run();
