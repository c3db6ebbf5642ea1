import { test } from "uvu";
import * as assert from "uvu/assert";
import { Worker } from "node:worker_threads";
import { framesInFlight, stuckCall, WorkerWatch } from "../../runtime/dataplane/watchdog.ts";

test("watch: a call in progress is stuck only after the limit; between calls never", () => {
  const watch = new WorkerWatch();
  assert.is(stuckCall(watch.read(), 10_000, 250), undefined);
  watch.beginBlock(7, 12);
  watch.enterCall(1_000);
  assert.is(stuckCall(watch.read(), 1_250, 250), undefined);
  assert.is(stuckCall(watch.read(), 1_400, 250), 400);
  watch.leaveCall(5);
  assert.is(stuckCall(watch.read(), 5_000, 250), undefined);
  watch.enterCall(5_000);
  const state = watch.read();
  assert.equal({ position: state.position, blockFrames: state.blockFrames, doneFrames: state.doneFrames }, { position: 7, blockFrames: 12, doneFrames: 5 });
  assert.is(framesInFlight(state), 7, "the frames the stuck call had not finished with");
  watch.beginBlock(8, 3);
  assert.is(framesInFlight(watch.read()), 3);
});

test("watch: the main thread reads what a worker stuck in a loop published", async () => {
  const watch = new WorkerWatch();
  // The worker publishes a block and a call, then never returns from it.
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    const i32 = new Int32Array(workerData, 0, 4); const since = new Float64Array(workerData, 16, 1);
    Atomics.store(i32, 1, 5); Atomics.store(i32, 2, 9); since[0] = Date.now();
    parentPort.postMessage("in call");
    for (;;) {}`;
  const worker = new Worker(code, { eval: true, workerData: watch.buffer });
  try {
    await new Promise((r) => worker.once("message", r));
    await new Promise((r) => setTimeout(r, 120));
    const state = watch.read();
    const lasted = stuckCall(state, Date.now(), 100);
    assert.ok(lasted !== undefined && lasted >= 100, `stuck for ${lasted} ms`);
    assert.is(state.position, 5);
    assert.is(framesInFlight(state), 9);
  } finally {
    await worker.terminate();
  }
});

test.run();
