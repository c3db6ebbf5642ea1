/**
 * How soon a worker thread whose loop reschedules itself gets a message from the main thread, by how
 * the loop continues (runtime/dataplane/worker.ts): setImmediate, setTimeout(0), or setImmediate with
 * a setTimeout(0) every 5 ms ("hybrid5", what worker.ts does on Deno). Each turn blocks for
 * --block ms (Atomics.wait, standing in for poll(2)) or not at all. Prints the median and maximum
 * delivery delay of 20 messages sent 30 ms apart, and the loop's turns per second.
 *
 *   node scripts/bench/worker-yield.mjs && node_modules/deno/deno run -A scripts/bench/worker-yield.mjs
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const runtime = typeof Deno === "undefined" ? `node ${process.version}` : `deno ${Deno.version.deno}`;

if (isMainThread) {
  for (const blockMs of [2, 0]) {
    for (const mode of ["immediate", "hybrid5", "timeout"]) {
      const w = new Worker(new URL(import.meta.url), { workerData: { mode, blockMs } });
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 20; i++) {
        w.postMessage({ at: performance.timeOrigin + performance.now() });
        await new Promise((r) => setTimeout(r, 30));
      }
      w.postMessage({ stop: true });
      const { delays, turnsPerSecond } = await new Promise((r) => w.once("message", r));
      delays.sort((a, b) => a - b);
      console.log(`${runtime}  turn blocks ${blockMs} ms  ${mode.padEnd(9)}  delivery median ${delays[10].toFixed(1)} ms, max ${delays.at(-1).toFixed(1)} ms  turns/s ${Math.round(turnsPerSecond)}`);
      await w.terminate();
    }
  }
} else {
  const { mode, blockMs } = workerData;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const delays = [];
  const started = performance.now();
  let running = true;
  let turns = 0;
  let yieldedAt = 0;
  parentPort.on("message", (m) => {
    if (m.stop) {
      running = false;
      parentPort.postMessage({ delays, turnsPerSecond: turns / ((performance.now() - started) / 1000) });
    } else {
      delays.push(performance.timeOrigin + performance.now() - m.at);
    }
  });
  const loop = () => {
    if (!running) return;
    turns++;
    if (blockMs > 0) Atomics.wait(cell, 0, 0, blockMs);
    const now = performance.now();
    if (mode === "timeout" || (mode === "hybrid5" && now - yieldedAt >= 5)) {
      yieldedAt = now;
      setTimeout(loop, 0);
    } else {
      setImmediate(loop);
    }
  };
  loop();
}
