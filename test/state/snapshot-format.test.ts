/**
 * Snapshot formats: format 2 (sessions by column, repeated strings once) restores the same state
 * as the store that wrote it; a format 1 snapshot (sessions by row) is still read; a format this
 * iapd does not know is refused naming the formats it reads.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeFrame, readFrames } from "../../runtime/state/frame.ts";
import { recover, snapshotName } from "../../runtime/state/recovery.ts";
import { captureSnapshot, decodeSnapshot, SNAPSHOT_FORMAT, writeSnapshot } from "../../runtime/state/snapshot.ts";
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
  return { store, tunnels };
}

test(`format ${SNAPSHOT_FORMAT}: a written snapshot restores the same state`, async () => {
  for (const seed of [1, 2, 3]) {
    const { store, tunnels } = world(seed);
    const directory = tempDir("snapformat");
    await writeSnapshot(join(directory, snapshotName(1)), captureSnapshot(store, tunnels, { generation: 1, lastSeq: 0 }));
    const frames = readFrames(readFileSync(join(directory, snapshotName(1))));
    assert.is((frames.records[0].value as { format: number }).format, 2);
    assert.ok(frames.records.some((f) => JSON.stringify(f.value).includes('"dictionary"')), "the NAS column is a dictionary");
    const recovered = recover(directory, "check", STORE_OPTIONS);
    assert.is(recovered.report.damage, undefined);
    assert.is(dump(recovered.store, recovered.tunnels), dump(store, tunnels), `seed ${seed}`);
  }
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
  assert.throws(() => decodeSnapshot(readFrames(Buffer.concat(future.map((f) => encodeFrame(f)))).records), /snapshot format 9, this iapd reads formats 1 and 2/);
});

test.run();
