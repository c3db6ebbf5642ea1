/**
 * Snapshot formats: format 3 (sessions as binary column records) restores the same state as the
 * store that wrote it, every column kind included; format 2 (JSON sessions by column) and format 1
 * (JSON sessions by row) snapshots are still read; a malformed session record is a SnapshotError,
 * not a crash; a format this iapd does not know is refused naming the formats it reads.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeBinaryFrame, encodeFrame, readFrames } from "../../runtime/state/frame.ts";
import { recover, snapshotName } from "../../runtime/state/recovery.ts";
import { captureSnapshot, decodeSessions, decodeSnapshot, encodeSessions, sessionColumns, SNAPSHOT_FORMAT, SnapshotError, writeSnapshot } from "../../runtime/state/snapshot.ts";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";
import { dump, prng, randomOperation, STORE_OPTIONS, tempDir, tryApply } from "./world.ts";

function world(seed: number) {
  const random = prng(seed);
  const store = new SessionStore(STORE_OPTIONS);
  const tunnels = new TunnelRegistry();
  let now = 1_000;
  for (let i = 0; i < 400; i++) tryApply(store, tunnels, randomOperation(store, tunnels, random, (now += 100)));
  // Many sessions of one NAS (a dictionary column), some with a field the others lack.
  for (let i = 0; i < 5000; i++) store.upsertSession({ nas: "192.0.2.200", acctSessionId: `b${i}`, userName: `bulk${i}`, ...(i % 7 === 0 ? { nasPortId: `port ${i % 3}` } : {}) }, (now += 1));
  // Text that is not plain ASCII: multi-byte UTF-8, a surrogate pair (the JSON column), a newline and NUL.
  store.upsertSession({ nas: "192.0.2.201", acctSessionId: "ü-1", userName: "jürgen\n\u0000x" }, (now += 1));
  store.upsertSession({ nas: "192.0.2.201", acctSessionId: "emoji", userName: "user-\u{1f600}", callingStationId: "" }, (now += 1));
  return { store, tunnels };
}

/** Session records by kind of column: [column name, kind] of every binary record. */
function columnKinds(bytes: Buffer): string[] {
  const kinds = new Set<string>();
  for (const { value } of readFrames(bytes).records) {
    if (!(value instanceof Uint8Array)) continue;
    const b = value as Buffer;
    const n = b.readUInt32LE(0);
    let at = 6;
    for (let c = 0; c < b.readUInt16LE(4); c++) {
      const name = b.toString("latin1", at + 1, at + 1 + b[at]);
      at += 1 + b[at];
      const kind = b[at++];
      kinds.add(`${name}:${kind}`);
      if (kind === 1) at += 4 + b.readUInt32LE(at) + 4 * n;
      else if (kind === 2) {
        at += 4 + b.readUInt32LE(at);
        at += 1 + b[at] * n;
      } else if (kind === 3) at += 8 * n;
      else at += 4 + b.readUInt32LE(at);
    }
  }
  return [...kinds].sort();
}

test(`format ${SNAPSHOT_FORMAT}: a written snapshot restores the same state`, async () => {
  for (const seed of [1, 2, 3]) {
    const { store, tunnels } = world(seed);
    const directory = tempDir("snapformat");
    await writeSnapshot(join(directory, snapshotName(1)), captureSnapshot(store, tunnels, { generation: 1, lastSeq: 0 }));
    const bytes = readFileSync(join(directory, snapshotName(1)));
    const frames = readFrames(bytes);
    assert.is((frames.records[0].value as { format: number }).format, 3);
    const kinds = columnKinds(bytes);
    for (const kind of ["nas:2", "key:1", "acctSessionId:1", "startTime:3", "lastUpdate:3"]) assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
    assert.ok(kinds.includes("userName:4"), "the chunk with a surrogate pair has its User-Name as JSON");
    const recovered = recover(directory, "check", STORE_OPTIONS);
    assert.is(recovered.report.damage, undefined);
    assert.is(dump(recovered.store, recovered.tunnels), dump(store, tunnels), `seed ${seed}`);
    assert.equal(recovered.store.getSession("192.0.2.201|\u00fc-1"), store.getSession("192.0.2.201|\u00fc-1"));
    assert.equal(recovered.store.getSession("192.0.2.201|emoji"), store.getSession("192.0.2.201|emoji"));
  }
});

test("format 3: a session record that does not decode is a SnapshotError naming its offset, never a crash", () => {
  const { store } = world(5);
  const good = encodeSessions([...store.allSessions()].slice(0, 300));
  assert.is(decodeSessions(good, 0).length, 300);
  const random = prng(11);
  let refused = 0;
  for (let round = 0; round < 300; round++) {
    const bad = Buffer.from(good.subarray(0, round % 3 === 0 ? Math.floor(random() * good.length) : good.length));
    for (let flips = 0; flips < 3 && bad.length > 0; flips++) bad[Math.floor(random() * bad.length)] ^= 1 << Math.floor(random() * 8);
    try {
      const sessions = decodeSessions(bad, 1234);
      assert.ok(Array.isArray(sessions));
    } catch (e) {
      if (!(e instanceof SnapshotError)) throw e;
      assert.is(e.offset, 1234);
      refused++;
    }
  }
  assert.ok(refused > 100, `${refused} refused`);
});

test("format 2 (JSON sessions by column) is still read", async () => {
  const { store, tunnels } = world(6);
  const content = captureSnapshot(store, tunnels, { generation: 1, lastSeq: 0 });
  const { state } = content;
  const frames: unknown[] = [{ ...content.header, format: 2 }];
  for (let i = 0; i < state.sessions.length; i += 4096) frames.push(sessionColumns(state.sessions.slice(i, i + 4096)));
  frames.push({ mirrors: state.mirrors }, { triggers: state.triggers }, { arms: state.arms }, { tunnels: content.tunnels });
  frames.push({ kind: "end", records: frames.length + 1 });
  assert.ok(frames.some((f) => JSON.stringify(f).includes('"dictionary"')), "the NAS column is a dictionary");
  const directory = tempDir("snapformat2");
  writeFileSync(join(directory, snapshotName(1)), Buffer.concat(frames.map((f) => encodeFrame(f))));
  const recovered = recover(directory, "check", STORE_OPTIONS);
  assert.is(recovered.report.damage, undefined);
  assert.is(dump(recovered.store, recovered.tunnels), dump(store, tunnels));
  // A binary session record has no place in a format 2 snapshot.
  const mixed = [encodeFrame(frames[0]), encodeBinaryFrame(encodeSessions(state.sessions.slice(0, 10))), ...frames.slice(1).map((f) => encodeFrame(f))];
  assert.throws(() => decodeSnapshot(readFrames(Buffer.concat(mixed)).records), /a binary record in a format 2 snapshot/);
});

test("format 1 (sessions by row) is still read; an unknown format is refused clearly", async () => {
  const { store, tunnels } = world(4);
  const content = captureSnapshot(store, tunnels, { generation: 1, lastSeq: 0 });
  const { state } = content;
  const header = { ...content.header, format: 1 };
  const frames: unknown[] = [header];
  for (let i = 0; i < state.sessions.length; i += 4096) {
    const chunk = state.sessions.slice(i, i + 4096) as unknown as Record<string, unknown>[];
    const columns = [...new Set(chunk.flatMap((s) => Object.keys(s)))];
    frames.push({ columns, sessions: chunk.map((s) => columns.map((c) => s[c] ?? null)) });
  }
  frames.push({ mirrors: state.mirrors }, { triggers: state.triggers }, { arms: state.arms }, { tunnels: content.tunnels });
  frames.push({ kind: "end", records: frames.length + 1 });
  const directory = tempDir("snapformat1");
  writeFileSync(join(directory, snapshotName(1)), Buffer.concat(frames.map((f) => encodeFrame(f))));
  const recovered = recover(directory, "check", STORE_OPTIONS);
  assert.is(recovered.report.damage, undefined);
  assert.is(dump(recovered.store, recovered.tunnels), dump(store, tunnels));

  const future = frames.map((f, i) => (i === 0 ? { ...header, format: 9 } : f));
  assert.throws(() => decodeSnapshot(readFrames(Buffer.concat(future.map((f) => encodeFrame(f)))).records), /snapshot format 9, this iapd reads formats 1, 2 and 3/);
});

test.run();
