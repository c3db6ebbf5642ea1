/**
 * Journal records (runtime/state/record.ts): the compact upsert and end records round-trip every
 * attribute value exactly, malformed rows are refused, an update journals only what it changes,
 * and a journal of format 1 (object records, written by the previous version) still recovers and
 * is continued in a new generation.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OPTIONAL_SESSION_ATTRIBUTES, SessionStore, type SessionAttributes } from "../../runtime/sessions/store.ts";
import { readFrames } from "../../runtime/state/frame.ts";
import { Journal } from "../../runtime/state/journal.ts";
import type { Operation } from "../../runtime/state/journaled.ts";
import { decodeRecord, encodeRecord } from "../../runtime/state/record.ts";
import { JOURNAL_FORMAT, journalName, recover } from "../../runtime/state/recovery.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { dump, STORE_OPTIONS, tempDir } from "./world.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";

const roundTrip = (seq: number, op: Operation) => decodeRecord(JSON.parse(encodeRecord(seq, op)));

test("record: an upsert with every attribute, and with awkward text, round-trips exactly", () => {
  const every = Object.fromEntries(OPTIONAL_SESSION_ATTRIBUTES.map((f, i) => [f, `${f}-${i}`]));
  const attrs: SessionAttributes = { nas: "192.0.2.7", acctSessionId: "a-1", ...every };
  const op: Operation = { op: "upsertSession", args: [attrs], now: 1_763_804_400_123 };
  assert.equal(roundTrip(7, op), { seq: 7, ...op });
  const text = encodeRecord(7, op);
  assert.ok(text.startsWith('[7,1763804400123,"U","192.0.2.7","a-1",'), text);
  // Quotes, backslashes, control characters, non-ASCII and a non-BMP character, each where JSON must escape or encode.
  const awkward: SessionAttributes = { nas: "2001:db8::7", acctSessionId: 'id "quoted" \\ back', userName: "ü\u0000\u001f\n\t😀", nasIdentifier: "bng,1]" };
  assert.equal(roundTrip(8, { op: "upsertSession", args: [awkward], now: 1 }), { seq: 8, op: "upsertSession", args: [awkward], now: 1 });
  // Bytes on disk: UTF-8 of that text, as the journal writes it.
  assert.equal(JSON.parse(Buffer.from(encodeRecord(8, { op: "upsertSession", args: [awkward], now: 1 }), "utf8").toString("utf8"))[5], "ü\u0000\u001f\n\t😀");
});

test("record: absent attributes are null in the middle and left out at the end", () => {
  const attrs: SessionAttributes = { nas: "192.0.2.7", acctSessionId: "a-1", framedIpAddress: "100.64.0.1" };
  assert.is(encodeRecord(1, { op: "upsertSession", args: [attrs], now: 5 }), '[1,5,"U","192.0.2.7","a-1",null,"100.64.0.1"]');
  assert.is(encodeRecord(2, { op: "upsertSession", args: [{ nas: "192.0.2.7", acctSessionId: "a-1" }], now: 6 }), '[2,6,"U","192.0.2.7","a-1"]');
  assert.equal(roundTrip(1, { op: "upsertSession", args: [attrs], now: 5 })!.args, [attrs]);
  // No key for an absent attribute (undefined would differ from absent in a deep comparison of sessions).
  assert.equal(Object.keys(roundTrip(1, { op: "upsertSession", args: [attrs], now: 5 })!.args[0] as object), ["nas", "acctSessionId", "framedIpAddress"]);
});

test("record: endSession is a row, every other operation keeps the object form", () => {
  assert.is(encodeRecord(3, { op: "endSession", args: ["192.0.2.7|a-1", "logout"], now: 9 }), '[3,9,"E","192.0.2.7|a-1","logout"]');
  assert.equal(roundTrip(3, { op: "endSession", args: ["192.0.2.7|a-1", "logout"], now: 9 }), { seq: 3, op: "endSession", args: ["192.0.2.7|a-1", "logout"], now: 9 });
  const start: Operation = { op: "startMirror", args: ["192.0.2.7|a-1", { interceptId: 7, sessionId: 81, mediation: { address: "198.51.100.1", port: 30030 } }, { kind: "coa" }], now: 10 };
  assert.equal(JSON.parse(encodeRecord(4, start)), { seq: 4, ...start });
  assert.equal(roundTrip(4, start), { seq: 4, ...start });
});

test("record: rows that are not journal records are refused, not half-read", () => {
  const bad: unknown[] = [
    [],
    [1, 2],
    [1, 2, "U"],
    [1, 2, "U", "192.0.2.7"],
    [1, 2, "U", "192.0.2.7", 5],
    [1, 2, "U", 1, "a"],
    [1, 2, "U", "192.0.2.7", "a", 3],
    [1, 2, "U", "192.0.2.7", "a", ...OPTIONAL_SESSION_ATTRIBUTES.map(() => "x"), "one too many"],
    [1, 2, "X", "192.0.2.7", "a"],
    ["1", 2, "U", "192.0.2.7", "a"],
    [1, null, "U", "192.0.2.7", "a"],
    [1, 2, "E", "key"],
    [1, 2, "E", "key", 3],
    [1, 2, "E", "key", "logout", "extra"],
    { seq: 1, op: "endSession", args: "not an array", now: 2 },
    { seq: 1, args: [], now: 2 },
    "text",
    null,
    7,
  ];
  for (const value of bad) assert.is(decodeRecord(value), undefined, JSON.stringify(value));
});

test("record: an update journals only the attributes it changes, and replays to the same session", async () => {
  const directory = tempDir("record-diff");
  const state = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  const full: SessionAttributes = { nas: "192.0.2.7", acctSessionId: "a-1", userName: "u1", framedIpAddress: "100.64.0.1", callingStationId: "cs-1" };
  state.store.upsertSession(full, 1);
  state.store.upsertSession(full, 2); // an Interim-Update that repeats everything
  state.store.upsertSession({ ...full, framedIpAddress: "100.64.0.2", nasPortId: "ge-0/0/1.100" }, 3);
  state.store.upsertSession({ nas: "192.0.2.7", acctSessionId: "a-1", userName: "u1" }, 4); // fewer attributes: nothing removed
  await state.commit();
  const rows = readFrames(readFileSync(join(directory, journalName(1)))).records.slice(1).map((f) => f.value);
  assert.equal(rows, [
    [1, 1, "U", "192.0.2.7", "a-1", "u1", "100.64.0.1", null, null, null, "cs-1"],
    [2, 2, "U", "192.0.2.7", "a-1"],
    [3, 3, "U", "192.0.2.7", "a-1", null, "100.64.0.2", null, null, null, null, "ge-0/0/1.100"],
    [4, 4, "U", "192.0.2.7", "a-1"],
  ]);
  const session = state.store.getSession("192.0.2.7|a-1")!;
  assert.is(session.lastUpdate, 4);
  assert.is(session.framedIpAddress, "100.64.0.2");
  assert.is(session.callingStationId, "cs-1");
  const recovered = recover(directory, "check", STORE_OPTIONS);
  assert.is(dump(recovered.store, recovered.tunnels), dump(state.store, state.tunnels));
  // The index entries moved with the address, in the replayed store too.
  assert.equal(recovered.store.findSessions({ framedIpAddress: "100.64.0.2" }).map((s) => s.key), ["192.0.2.7|a-1"]);
  assert.equal(recovered.store.findSessions({ framedIpAddress: "100.64.0.1" }), []);
  await state.close();
});

test("record: a format 1 journal (object records) recovers, and start-up continues in a new generation of this format", async () => {
  const directory = tempDir("record-format1");
  const journal = Journal.create(join(directory, journalName(1)), { kind: "journal", format: 1, generation: 1 });
  const ops: Operation[] = [
    { op: "upsertSession", args: [{ nas: "192.0.2.7", acctSessionId: "a-1", userName: "u1", framedIpAddress: "100.64.0.1" }], now: 1 },
    { op: "upsertSession", args: [{ nas: "192.0.2.7", acctSessionId: "a-2", userName: "u2", framedIpAddress: "100.64.0.2" }], now: 2 },
    { op: "startMirror", args: ["192.0.2.7|a-1", { interceptId: 7, sessionId: 81, mediation: { address: "198.51.100.1", port: 30030 } }, { kind: "coa" }], now: 3 },
    { op: "upsertSession", args: [{ nas: "192.0.2.7", acctSessionId: "a-1", userName: "u1", framedIpAddress: "100.64.0.9" }], now: 4 },
    { op: "endSession", args: ["192.0.2.7|a-2", "logout"], now: 5 },
  ];
  ops.forEach((op, i) => journal.append({ seq: i + 1, ...op }));
  await journal.close();
  const reference = new SessionStore(STORE_OPTIONS);
  for (const { op, args, now } of ops) (reference[op as "endSession"] as (...a: unknown[]) => unknown).apply(reference, [...args, now]);
  const expected = dump(reference, new TunnelRegistry());

  const checked = recover(directory, "check", STORE_OPTIONS);
  assert.is(checked.report.damage, undefined);
  assert.is(checked.report.replayed, 5);
  assert.is(dump(checked.store, checked.tunnels), expected);

  const state = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  assert.is(dump(state.store, state.tunnels), expected);
  state.store.upsertSession({ nas: "192.0.2.7", acctSessionId: "a-3", userName: "u3" }, 6);
  await state.commit();
  // Not appended to the format 1 file: a snapshot started generation 2, in this version's format.
  assert.is(readFrames(readFileSync(join(directory, journalName(1)))).records.length, 6);
  const second = readFrames(readFileSync(join(directory, journalName(2)))).records;
  assert.equal(second[0].value, { kind: "journal", format: JOURNAL_FORMAT, generation: 2 });
  assert.equal(second.slice(1).map((f) => f.value), [[6, 6, "U", "192.0.2.7", "a-3", "u3"]]);
  assert.ok(readdirSync(directory).includes("snapshot-00000002.snap"));
  const again = recover(directory, "check", STORE_OPTIONS);
  assert.is(dump(again.store, again.tunnels), dump(state.store, state.tunnels));
  await state.close();
});

test.run();
