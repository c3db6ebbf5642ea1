import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";
import { readFrames } from "../../runtime/state/frame.ts";
import { Journal } from "../../runtime/state/journal.ts";
import { STORE_OPERATIONS } from "../../runtime/state/journaled.ts";
import { journalName, recover, StateError } from "../../runtime/state/recovery.ts";
import { decodeRecord } from "../../runtime/state/record.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { dump, prng, randomOperation, STORE_OPTIONS, tempDir, tryApply } from "./world.ts";

/** Runs `count` random operations on a durable state and on a plain reference store alike. */
async function run(state: DurableState, reference: { store: SessionStore; tunnels: TunnelRegistry }, count: number, seed: number, start = 1_000_000) {
  const random = prng(seed);
  let now = start;
  let accepted = 0;
  for (let i = 0; i < count; i++) {
    now += Math.floor(random() * 3000);
    const op = randomOperation(state.store, state.tunnels, random, now);
    const a = tryApply(state.store, state.tunnels, op);
    const b = tryApply(reference.store, reference.tunnels, op);
    assert.is(a, b, `operation ${i} (${op.op}) accepted by one store only`);
    if (a) accepted++;
    if (random() < 0.3) await state.commit();
  }
  await state.commit();
  return { now, accepted };
}

const referenceStore = () => ({ store: new SessionStore(STORE_OPTIONS), tunnels: new TunnelRegistry() });

test("state: random operations, snapshots and journal generations: recovery rebuilds the identical state", async () => {
  for (const seed of [1, 2, 3, 4]) {
    const directory = tempDir("state");
    const reference = referenceStore();
    const state = await DurableState.open({ directory, snapshotEveryRecords: 37, store: STORE_OPTIONS });
    const { now, accepted } = await run(state, reference, 400, seed);
    assert.ok(accepted > 200, `seed ${seed}: ${accepted} accepted`);
    assert.is(dump(state.store, state.tunnels), dump(reference.store, reference.tunnels));
    // As after kill -9: the files as they are, nothing closed.
    const { store, tunnels, report } = recover(directory, "check", STORE_OPTIONS);
    assert.is(report.damage, undefined);
    assert.ok(report.snapshot, "a snapshot was written");
    assert.is(dump(store, tunnels), dump(reference.store, reference.tunnels), `seed ${seed}`);
    // Restarted, it goes on exactly as the store that never stopped.
    const again = await DurableState.open({ directory, snapshotEveryRecords: 37, store: STORE_OPTIONS });
    await run(again, reference, 200, seed + 100, now);
    assert.is(dump(again.store, again.tunnels), dump(reference.store, reference.tunnels));
    await again.close();
    const closed = recover(directory, "check", STORE_OPTIONS);
    assert.is(closed.report.replayed, 0, "close wrote a final snapshot");
    assert.is(dump(closed.store, closed.tunnels), dump(reference.store, reference.tunnels));
    const generations = readdirSync(directory).filter((n) => n.startsWith("snapshot-"));
    assert.ok(generations.length <= 2, `compaction keeps the newest two snapshots, found ${generations.join(", ")}`);
  }
});

test("state: only successful outermost mutations are journaled; every mutating store method is", async () => {
  const directory = tempDir("ops");
  const state = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  const { store } = state;
  store.upsertSession({ nas: "192.0.2.1", acctSessionId: "1", userName: "u", framedIpAddress: "100.64.0.1" }, 1);
  store.addTrigger({ kind: "username", value: "u", interceptId: 3, mediation: { address: "198.51.100.1", port: 1 } }, 2);
  assert.throws(() => store.endSession("nope", "logout", 3));
  assert.throws(() => store.startMirror("192.0.2.1|1", { interceptId: 1, sessionId: 1, mediation: { address: "x", port: 1 } }, { kind: "api" }, 4));
  assert.is(store.expireIdle(1000, 5), 0);
  store.endSession("192.0.2.1|1", "logout", 6);
  await state.commit();
  const frames = readFrames(readFileSync(join(directory, journalName(1)))).records.slice(1);
  assert.equal(frames.map((f) => decodeRecord(f.value)?.op), ["upsertSession", "addTrigger", "endSession"]);
  assert.equal(frames.map((f) => decodeRecord(f.value)?.seq), [1, 2, 3]);
  // A new mutating method on SessionStore must be journaled (STORE_OPERATIONS) or listed here as a read.
  const reads = ["constructor", "getSession", "allSessions", "findSessions", "getMirror", "allMirrors", "mirrorsOf", "getTrigger", "allTriggers", "targetTable", "attachSink", "exportState", "importState", "sessionCount", "mirrorCount", "pendingArmCount", "indexing", "indexSome"];
  const helpers = ["upsertAt", "indexSession", "unindexSession", "indexEntries", "indexAll", "winningTriggers", "applyTriggers", "applyTrigger", "takeArm", "startArmed", "retarget", "releaseSlot"];
  const methods = Object.getOwnPropertyNames(SessionStore.prototype).filter((n) => !reads.includes(n) && !helpers.includes(n));
  assert.equal(methods.sort(), [...STORE_OPERATIONS].sort());
  await state.close();
});

test("state: a torn last record is discarded with a log line; start-up goes on and appends after the intact prefix", async () => {
  const directory = tempDir("torn");
  const state = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  for (let i = 0; i < 5; i++) state.store.upsertSession({ nas: "192.0.2.1", acctSessionId: String(i) }, i);
  await state.commit();
  const path = join(directory, journalName(1));
  const size = statSync(path).size;
  // A sixth record cut short by the crash.
  state.store.upsertSession({ nas: "192.0.2.1", acctSessionId: "5" }, 5);
  await state.commit();
  writeFileSync(path, readFileSync(path).subarray(0, statSync(path).size - 7));
  const lines: string[] = [];
  const again = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS, log: (l) => lines.push(l) });
  assert.is(again.store.sessionCount, 5);
  assert.ok(lines.some((l) => /discarded a torn last record/.test(l)), lines.join("\n"));
  assert.ok(readdirSync(directory).some((n) => n.startsWith(`${journalName(1)}.torn-at-${size}`)), "the torn bytes are kept aside");
  again.store.upsertSession({ nas: "192.0.2.1", acctSessionId: "6" }, 6);
  await again.commit();
  const { store, report } = recover(directory, "check", STORE_OPTIONS);
  assert.is(report.damage, undefined);
  assert.is(report.tornTail, undefined);
  assert.is(store.sessionCount, 6);
  await again.close();
});

test("state: a corrupted earlier record stops start-up naming file and offset; check reports it, repair keeps the prefix and moves the rest aside", async () => {
  const directory = tempDir("corrupt");
  const state = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  for (let i = 0; i < 5; i++) {
    state.store.upsertSession({ nas: "192.0.2.1", acctSessionId: String(i) }, i);
    await state.commit();
  }
  const path = join(directory, journalName(1));
  const bytes = readFileSync(path);
  const third = readFrames(bytes).records[3].offset;
  bytes[third + 20] ^= 1;
  writeFileSync(path, bytes);
  try {
    await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
    assert.unreachable("start-up must refuse");
  } catch (e) {
    assert.instance(e, StateError);
    assert.match((e as Error).message, `${journalName(1)} is damaged at byte ${third}`);
    assert.match((e as Error).message, /iapd state check .*iapd state repair/s);
  }
  const check = recover(directory, "check", STORE_OPTIONS);
  assert.equal(check.report.damage?.offset, third);
  assert.is(check.store.sessionCount, 2);
  const repaired = recover(directory, "repair", STORE_OPTIONS);
  assert.is(repaired.store.sessionCount, 2);
  assert.ok(readFileSync(join(directory, `${journalName(1)}.damaged-at-${third}`)).length > 0);
  const reopened = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  assert.is(reopened.store.sessionCount, 2);
  await reopened.close();
});

test("journal: group commit: many concurrent syncs share few fsyncs, and each resolves only once its record is written", async () => {
  const directory = tempDir("group");
  const path = join(directory, journalName(1));
  const journal = Journal.create(path, { kind: "journal", format: 1, generation: 1 });
  await journal.sync();
  const waits: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) {
    journal.append({ i });
    waits.push(journal.sync().then(() => assert.ok(readFrames(readFileSync(path)).records.length >= i + 2, `record ${i} on disk when its sync resolved`)));
  }
  await Promise.all(waits);
  assert.is(readFrames(readFileSync(path)).records.length, 201);
  appendFileSync(path, Buffer.from("x"));
  await journal.close();
});

test.run();
