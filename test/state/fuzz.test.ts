/**
 * Journal fuzz test: random truncations and byte flips in the state files. Recovery must either
 * restore exactly the state after the last intact record, with nothing intact left out (a torn
 * tail is only ever the damaged end of the newest journal), or refuse with StateError naming the
 * file; never crash. After a refusal, repair must keep the intact prefix and let start-up succeed.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFrames } from "../../runtime/state/frame.ts";
import { decodeRecord } from "../../runtime/state/record.ts";
import { journalName, recover, StateError } from "../../runtime/state/recovery.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { dump, prng, randomOperation, STORE_OPTIONS, tempDir, tryApply } from "./world.ts";

const ROUNDS = 400;

interface FileInfo {
  name: string;
  kind: "snapshot" | "journal";
  generation: number;
  bytes: Buffer;
  /** Frames as [start, end) and, for journal records, their seq. */
  frames: { start: number; end: number; seq?: number }[];
}

async function pristine() {
  const directory = tempDir("fuzz");
  const state = await DurableState.open({ directory, snapshotEveryRecords: 40, store: STORE_OPTIONS });
  const states = [dump(state.store, state.tunnels)];
  let seq = 0;
  for (const target of [state.store, state.tunnels]) {
    const append = target.onOperation!;
    target.onOperation = (op) => {
      append(op);
      seq++;
    };
  }
  const random = prng(7);
  let now = 1_000_000;
  while (seq < 130) {
    now += Math.floor(random() * 3000);
    tryApply(state.store, state.tunnels, randomOperation(state.store, state.tunnels, random, now));
    states[seq] = dump(state.store, state.tunnels);
    await state.commit();
  }
  // End on a fresh generation with records after it, whatever the policy left.
  await state.snapshot();
  for (let i = 0; i < 15; i++) {
    now += 1000;
    if (tryApply(state.store, state.tunnels, randomOperation(state.store, state.tunnels, random, now))) states[seq] = dump(state.store, state.tunnels);
  }
  await state.commit();
  const files: FileInfo[] = readdirSync(directory).flatMap((name) => {
    const m = /^(snapshot|journal)-(\d+)\.(snap|log)$/.exec(name);
    if (!m) return [];
    const bytes = readFileSync(join(directory, name));
    const frames = readFrames(bytes).records.map((f, i, all) => ({
      start: f.offset,
      end: i + 1 < all.length ? all[i + 1].offset : bytes.length,
      seq: decodeRecord(f.value)?.seq,
    }));
    return [{ name, kind: m[1] as FileInfo["kind"], generation: Number(m[2]), bytes, frames }];
  });
  return { files, states, total: seq };
}

/** What recovery must do after `damaged` byte ranges (or a cut at `cut`) in `file`: refuse, or end at record K. */
function expected(files: FileInfo[], file: FileInfo, total: number, damaged: Set<number>, cut: number | undefined): "refuse" | number {
  const newestSnapshot = Math.max(...files.filter((f) => f.kind === "snapshot").map((f) => f.generation));
  const journals = files.filter((f) => f.kind === "journal").map((f) => f.generation);
  const lastJournal = Math.max(...journals);
  const unchanged = cut === file.bytes.length && damaged.size === 0;
  if (unchanged) return total;
  if (file.kind === "snapshot") return file.generation < newestSnapshot ? total : "refuse";
  if (file.generation < newestSnapshot) return total;
  if (file.generation !== lastJournal) return "refuse";
  const hit = file.frames.map((f) => (cut !== undefined ? f.end > cut : [...damaged].some((b) => b >= f.start && b < f.end)));
  const first = hit.indexOf(true);
  if (first === -1) return total;
  if (hit.slice(first).some((h) => !h)) return "refuse";
  const before = file.frames.slice(1, first).map((f) => f.seq!);
  if (before.length > 0) return before[before.length - 1];
  // Nothing of this journal survives: the last record is the one before it.
  const firstSeq = file.frames[1]?.seq ?? total + 1;
  return firstSeq - 1;
}

test(`fuzz: ${ROUNDS} random truncations and byte flips: exact recovery of the intact prefix or a clear refusal, never a crash`, async () => {
  const { files, states, total } = await pristine();
  assert.ok(files.filter((f) => f.kind === "snapshot").length === 2, files.map((f) => f.name).join());
  const random = prng(11);
  const scratch = tempDir("fuzz-scratch");
  const outcomes = { recovered: 0, torn: 0, refused: 0, repaired: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch);
    for (const f of files) writeFileSync(join(scratch, f.name), f.bytes);
    const file = files[Math.floor(random() * files.length)];
    const bytes = Buffer.from(file.bytes);
    const damaged = new Set<number>();
    let cut: number | undefined;
    let written = bytes;
    if (random() < 0.4) {
      cut = Math.floor(random() * (bytes.length + 1));
      written = bytes.subarray(0, cut);
    } else {
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const at = Math.floor(random() * bytes.length);
        bytes[at] ^= 1 + Math.floor(random() * 255);
        damaged.add(at);
      }
    }
    writeFileSync(join(scratch, file.name), written);
    const what = `round ${round}: ${file.name} ${cut !== undefined ? `cut at ${cut}/${file.bytes.length}` : `flipped ${[...damaged].join(",")}`}`;
    const expect = expected(files, file, total, damaged, cut);
    let result;
    try {
      result = recover(scratch, "start", STORE_OPTIONS);
    } catch (e) {
      assert.instance(e, StateError, `${what}: ${(e as Error).stack}`);
      assert.is(expect, "refuse", `${what}: refused, expected recovery to record ${expect}: ${(e as Error).message}`);
      assert.match((e as Error).message, /is damaged at byte \d+/);
      assert.match((e as Error).message, "iapd state repair");
      outcomes.refused++;
      const check = recover(scratch, "check", STORE_OPTIONS);
      assert.ok(check.report.damage, `${what}: check names the damage too`);
      const lines: string[] = [];
      const repaired = recover(scratch, "repair", STORE_OPTIONS, (l) => lines.push(l));
      if (!lines.some((l) => /no intact snapshot/.test(l))) {
        assert.is(dump(repaired.store, repaired.tunnels), states[repaired.report.lastSeq], `${what}: repair keeps the state at record ${repaired.report.lastSeq}`);
        assert.ok(repaired.report.lastSeq >= check.report.lastSeq, `${what}: repair keeps at least what check found intact`);
        outcomes.repaired++;
      }
      continue;
    }
    assert.not.equal(expect, "refuse", `${what}: recovered to record ${result.report.lastSeq} where a refusal was expected`);
    assert.is(result.report.lastSeq, expect, `${what}: recovered to record ${result.report.lastSeq}, expected ${expect}`);
    assert.is(dump(result.store, result.tunnels), states[result.report.lastSeq], `${what}: state at record ${result.report.lastSeq}`);
    if (result.report.tornTail) {
      outcomes.torn++;
      assert.is(result.report.tornTail.file, journalName(Math.max(...files.filter((f) => f.kind === "journal").map((f) => f.generation))));
      // Start-up cut the tail off: the next start finds no damage at all.
      assert.is(recover(scratch, "check", STORE_OPTIONS).report.tornTail, undefined);
    } else outcomes.recovered++;
  }
  assert.ok(outcomes.refused > 20 && outcomes.torn > 20 && outcomes.recovered > 20, JSON.stringify(outcomes));
  console.log(`  fuzz: ${JSON.stringify(outcomes)}`);
});

test.run();
