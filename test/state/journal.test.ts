/**
 * The journal's write path (runtime/state/journal.ts): group commit with up to two fdatasyncs in
 * flight keeps the file an ordered append, across a rotation; every sync resolves only once its
 * records are in the file; a write error fails that sync and every later one.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFrames } from "../../runtime/state/frame.ts";
import { MAX_SYNCS } from "../../runtime/state/group-commit.ts";
import { EARLY_FLUSH_RECORDS, Journal } from "../../runtime/state/journal.ts";
import { journalName } from "../../runtime/state/recovery.ts";
import { tempDir } from "./world.ts";

const values = (path: string) => readFrames(readFileSync(path)).records.map((r) => r.value as { i?: number; kind?: string });

test("pipelined group commit: records appended over many turns, with a rotation, land in order; each sync resolves once its record is in its file", async () => {
  const directory = tempDir("journal-pipeline");
  const first = join(directory, journalName(1));
  const second = join(directory, journalName(2));
  const journal = Journal.create(first, { kind: "journal", format: 1, generation: 1 });
  const waits: Promise<void>[] = [];
  let i = 0;
  for (let turn = 0; turn < 60; turn++) {
    if (turn === 30) journal.rotate(second, { kind: "journal", format: 1, generation: 2 });
    const path = turn < 30 ? first : second;
    // Unicode too: the record is encoded in place, its length is its UTF-8 length.
    for (let n = 0; n < 1 + (turn % 7) * 9; n++, i++) {
      const record = { i, text: turn % 5 === 0 ? "é✓😀" : "x" };
      journal.append(record);
      const mine = i;
      waits.push(journal.sync().then(() => assert.ok(values(path).some((v) => v.i === mine), `record ${mine} in ${path} when its sync resolved`)));
    }
    // Let flushes start (and overlap) between the turns' appends.
    if (turn % 3 === 0) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(waits);
  await journal.close();
  const a = values(first);
  const b = values(second);
  assert.is(a[0].kind, "journal");
  assert.is(b[0].kind, "journal");
  const all = [...a.slice(1), ...b.slice(1)].map((v) => v.i);
  assert.equal(all, Array.from({ length: i }, (_, k) => k), "every record once, in append order");
  assert.ok(a.length > 1 && b.length > 1);
  for (const path of [first, second]) assert.is(readFrames(readFileSync(path)).damage, undefined);
});

test("a write error fails the sync waiting for it and every later one; nothing is reported durable", async () => {
  // /dev/full: every write fails with ENOSPC, a real disk-full error.
  const journal = Journal.continue("/dev/full", 0);
  journal.append({ i: 1 });
  let error: Error | undefined;
  await journal.sync().catch((e: Error) => (error = e));
  assert.ok(error, "the sync rejected");
  assert.match(error!.message, /ENOSPC|No space left/);
  assert.match(error!.message, /nothing more can be acknowledged/);
  journal.append({ i: 2 });
  let later: Error | undefined;
  await journal.sync().catch((e: Error) => (later = e));
  assert.is(later, error, "a later sync fails with the same error, without trying again");
  await journal.close().catch(() => {});
});


test(`a turn of many syncs writes each group of ${EARLY_FLUSH_RECORDS} at once, while fewer than MAX_SYNCS flushes are in flight; every sync resolves once its record is in the file`, async () => {
  const directory = tempDir("journal-early");
  const path = join(directory, journalName(1));
  const journal = Journal.create(path, { kind: "journal", format: 1, generation: 1 });
  await journal.sync();
  const waits: Promise<void>[] = [];
  const total = 3 * EARLY_FLUSH_RECORDS;
  for (let i = 0; i < total; i++) {
    journal.append({ i });
    waits.push(journal.sync());
  }
  const numbers = () => values(path).flatMap((r) => (r.i === undefined ? [] : [r.i]));
  // Still in the turn that appended them: two groups are written already, the third waits.
  assert.is(MAX_SYNCS, 2);
  assert.equal(numbers(), [...Array(2 * EARLY_FLUSH_RECORDS).keys()]);
  const groups = new Set(waits);
  assert.is(groups.size, 3, "three groups, one promise each");
  for (let g = 0; g < 3; g++) assert.is(waits[g * EARLY_FLUSH_RECORDS], waits[(g + 1) * EARLY_FLUSH_RECORDS - 1], `group ${g} shares one promise`);
  await Promise.all(waits);
  assert.equal(numbers(), [...Array(total).keys()]);
  await journal.close();
});

test.run();
