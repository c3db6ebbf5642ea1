/**
 * The capture workers' watchdog state: a small SharedArrayBuffer per worker that the worker writes
 * and the data plane (main thread) reads without a message, since a worker stuck in a filter call
 * answers none. Layout (WATCH_BYTES):
 *
 *   Int32 0  loop turns (the supervisor's sign of life)
 *   Int32 1  ring position: the block the worker reads next (after the one in flight)
 *   Int32 2  frames of the block in flight (its num_pkts)
 *   Int32 3  frames of it the filter has finished with (earlier calls on the same block)
 *   Float64 at byte 16: when the running filter call started (Date.now() ms), 0 between calls
 *
 * ```ts
 * const watch = new WorkerWatch(new SharedArrayBuffer(WATCH_BYTES));    // main thread, to the worker
 * watch.enterCall(); filter.processTpacket3(block, from); watch.leaveCall(frames);   // worker
 * const hung = stuckCall(watch.read(), Date.now(), 250);                  // main thread
 * ```
 */

export const WATCH_BYTES = 32;

/** What the main thread reads of a worker. */
export interface WatchState {
  beats: number;
  position: number;
  blockFrames: number;
  doneFrames: number;
  /** Date.now() when the running filter call started, 0 if none runs. */
  callSince: number;
}

export class WorkerWatch {
  readonly buffer: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #since: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(WATCH_BYTES)) {
    this.buffer = buffer;
    this.#i32 = new Int32Array(buffer, 0, 4);
    this.#since = new Float64Array(buffer, 16, 1);
  }

  /** The loop turned once. */
  beat(): void {
    Atomics.add(this.#i32, 0, 1);
  }

  /** A block was taken from the ring (and given back): `position` is the next one, `frames` its packets. */
  beginBlock(position: number, frames: number): void {
    Atomics.store(this.#i32, 1, position);
    Atomics.store(this.#i32, 2, frames);
    Atomics.store(this.#i32, 3, 0);
  }

  enterCall(now = Date.now()): void {
    this.#since[0] = now;
  }

  /** The call returned having finished with `frames` frames of the block. */
  leaveCall(frames: number): void {
    this.#since[0] = 0;
    Atomics.add(this.#i32, 3, frames);
  }

  read(): WatchState {
    return {
      beats: Atomics.load(this.#i32, 0),
      position: Atomics.load(this.#i32, 1),
      blockFrames: Atomics.load(this.#i32, 2),
      doneFrames: Atomics.load(this.#i32, 3),
      callSince: this.#since[0],
    };
  }
}

/**
 * How long the running filter call has lasted when that is more than `limitMs`, else undefined. A
 * call that returns late is the FilterSwitch's business (it rolls back itself); one that has not
 * returned after the limit will likely never return, and only the main thread can end it.
 */
export function stuckCall(state: WatchState, now: number, limitMs: number): number | undefined {
  if (state.callSince === 0) return undefined;
  const lasted = now - state.callSince;
  return lasted > limitMs ? lasted : undefined;
}

/** Frames of the block in flight that no filter finished with: lost with the worker. */
export function framesInFlight(state: WatchState): number {
  return Math.max(0, state.blockFrames - state.doneFrames);
}
