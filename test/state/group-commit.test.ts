/**
 * Group commit (runtime/state/group-commit.ts), the part the journal and the audit log share: who
 * shares a flush, how many are in flight, when a group resolves, and that a failure is final. The
 * flushes here are the owner's side of the contract, driven by hand so that their order can be
 * chosen; the journal and audit tests run the same code against real files.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GroupCommit, MAX_SYNCS } from "../../runtime/state/group-commit.ts";

const turn = () => new Promise((r) => setImmediate(r));

/** A GroupCommit whose flushes wait until the test settles them; `flushes` lists each with the records it wrote. */
function harness(mayStart?: (inFlight: number) => boolean) {
  let appended = 0;
  let written = 0;
  const flushes: { upTo: number; settle: (e?: Error) => void }[] = [];
  const commit = new GroupCommit({
    flush: () => {
      written = appended;
      return new Promise<void>((done, fail) => flushes.push({ upTo: written, settle: (e) => (e ? fail(e) : done()) }));
    },
    mayStart,
    describe: (e) => new Error(`test log: ${e.message}`),
  });
  return { commit, flushes, append: () => ++appended };
}

test("the callers of one turn share a flush; those arriving meanwhile share the next; at most MAX_SYNCS in flight; each group resolves with its own flush", async () => {
  const { commit, flushes, append } = harness();
  const resolved: string[] = [];
  const joinAs = (name: string) => commit.join().then(() => resolved.push(name));
  append();
  const a1 = joinAs("a1");
  append();
  const a2 = joinAs("a2");
  assert.is(commit.join(), commit.join(), "one promise per group");
  assert.is(flushes.length, 0, "the flush waits for the end of the turn");
  await turn();
  assert.equal(flushes.map((f) => f.upTo), [2], "one flush for the turn's two records");
  append();
  const b = joinAs("b");
  await turn();
  append();
  const c = joinAs("c");
  await turn();
  assert.is(MAX_SYNCS, 2);
  assert.equal(flushes.map((f) => f.upTo), [2, 3], "the third group waits: two fdatasyncs in flight");
  // The second flush completes first: its group is durable (its fdatasync covers the first write too).
  flushes[1].settle();
  await b;
  assert.equal(resolved, ["b"]);
  await turn();
  assert.equal(flushes.map((f) => f.upTo), [2, 3, 4], "a slot freed: the waiting group is written");
  flushes[0].settle();
  await Promise.all([a1, a2]);
  flushes[2].settle();
  await c;
  assert.equal(resolved, ["b", "a1", "a2", "c"]);
});

test("mayStart holds a flush back until it allows it (the journal's flush across a rotation runs alone)", async () => {
  let alone = false;
  const { commit, flushes, append } = harness((inFlight) => !alone || inFlight === 0);
  append();
  const first = commit.join();
  await turn();
  alone = true;
  append();
  const second = commit.join();
  await turn();
  assert.is(flushes.length, 1, "held back while a flush is in flight");
  flushes[0].settle();
  await first;
  await turn();
  assert.is(flushes.length, 2, "started once nothing was in flight");
  flushes[1].settle();
  await second;
});

test("a write error fails its group and every later one with the same error, without another flush", async () => {
  let calls = 0;
  const commit = new GroupCommit({
    flush: () => {
      calls++;
      throw new Error("ENOSPC: no space left on device");
    },
    describe: (e) => new Error(`test log: ${e.message}; nothing more can be acknowledged`),
  });
  const error = await commit.join().catch((e: Error) => e);
  assert.instance(error, Error);
  assert.match((error as Error).message, /ENOSPC.*nothing more can be acknowledged/);
  assert.is(commit.failure, error);
  assert.is(await commit.join().catch((e: Error) => e), error, "a later join rejects with the same error");
  await turn();
  assert.is(calls, 1, "no retry");
});

test("an fdatasync error fails its group; the group in flight beside it still resolves if its own sync succeeded; later groups reject", async () => {
  const { commit, flushes, append } = harness();
  append();
  const a = commit.join();
  await turn();
  append();
  const b = commit.join();
  await turn();
  flushes[0].settle(new Error("EIO: i/o error"));
  const error = await a.catch((e: Error) => e);
  assert.match((error as Error).message, /test log: EIO/);
  flushes[1].settle();
  await b;
  append();
  assert.is(await commit.join().catch((e: Error) => e), error);
});

test("whenIdle runs once no group waits or is in flight; settleWaiting settles the waiting group without a flush", async () => {
  const { commit, flushes, append } = harness();
  let idle = 0;
  commit.whenIdle(() => idle++);
  assert.is(idle, 1, "idle at once when nothing is under way");
  append();
  const a = commit.join();
  await turn();
  commit.whenIdle(() => idle++);
  assert.is(idle, 1);
  append();
  const b = commit.join();
  commit.settleWaiting(new Error("closed"));
  assert.match(String(await b.catch((e: Error) => e)), /closed/);
  assert.is(idle, 1, "still a flush in flight");
  flushes[0].settle();
  await a;
  await turn();
  assert.is(idle, 2);
  assert.is(flushes.length, 1, "the settled group was not flushed");
});


test("flushNow starts the waiting group mid-turn while fewer than MAX_SYNCS are in flight; the turn's later callers form the next group", async () => {
  const { commit, flushes, append } = harness();
  commit.flushNow();
  assert.is(flushes.length, 0, "nobody waits: nothing to flush");
  append();
  const first = commit.join();
  commit.flushNow();
  assert.equal(flushes.map((f) => f.upTo), [1], "started at once, not at the end of the turn");
  append();
  const second = commit.join();
  assert.is.not(second, first, "a caller after the early flush waits for the next group");
  commit.flushNow();
  assert.equal(flushes.map((f) => f.upTo), [1, 2], "a second one: MAX_SYNCS is 2");
  append();
  const third = commit.join();
  commit.flushNow();
  await turn();
  assert.equal(flushes.map((f) => f.upTo), [1, 2], "the third group waits for a flush to complete, early or not");
  flushes[0].settle();
  await first;
  assert.equal(flushes.map((f) => f.upTo), [1, 2, 3], "and starts when one does");
  flushes[1].settle();
  flushes[2].settle();
  await Promise.all([second, third]);
});

test.run();
