/**
 * The live data plane: capture workers (one per ring: a worker thread per capture queue, joined by
 * PACKET_FANOUT when an interface has more than one), fed the target table and tunnels as changes.
 * Changes made in one synchronous stretch (a store mutation, a tunnel move) go to every worker in one
 * message, and a worker applies a message whole between two blocks.
 *
 * ```ts
 * const plane = await DataPlane.start({ capture, egress, node: { sourceAddress: 0xc0000201, mtu: 1500, dscp: 255 } });
 * store.attachSink(new TunnelPool(plane));
 * console.log(await plane.stats());
 * await plane.stop();
 * ```
 */
import { Worker } from "node:worker_threads";
import type { CaptureConfig, EgressConfig } from "../config/dataplane.ts";
import type { EgressTunnel } from "../egress/types.ts";
import { assetBytes, workerBundle } from "../assets/assets.ts";
import { checkFilter, SwapError, type CheckedFilter, type FilterEvent } from "../filter/lifecycle.ts";
import type { FilterHost } from "../filter/registry.ts";
import type { Target } from "../filter/types.ts";
import { libc } from "../ffi/libc.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK } from "../ffi/linux.ts";
import type { PoolSink } from "./pool.ts";
import { countersOf, SharedAggregates, type DataPlaneCounters } from "./counters.ts";
import { AGGREGATE_FIELDS, SLOT_FIELDS, type Change, type CountersUpdate, type FromWorker, type ToWorker, type WorkerSetup, type WorkerStats } from "./messages.ts";
import { requireNetRaw } from "./capabilities.ts";
import { framesInFlight, stuckCall, WorkerWatch, type WatchState } from "./watchdog.ts";
import type { RingHandle } from "../capture/ring.ts";

export interface DataPlaneOptions {
  capture: CaptureConfig;
  egress: EgressConfig;
  /** Node policy for outer packets: big-endian u32 source, MTU, DSCP (255 inherit). */
  node: { sourceAddress: number; mtu: number; dscp: number };
  /** Target slots per filter (default 262144: the store's 65536 mirrors with up to four prefixes each). */
  maxTargets?: number;
  /** The filter every worker starts with (default: the built-in jmirror filter). */
  filter?: CheckedFilter;
  /** A worker's filter trapped, was too slow or never returned, and every worker went back to the previous filter. */
  onFilterEvent?: (event: FilterEvent) => void;
  /**
   * A filter call that has not returned after this long is taken to never return (default 250 ms):
   * the watchdog terminates its worker and starts a replacement on the same ring with the previous filter.
   */
  filterCallLimitMs?: number;
  /** A worker could not open a tunnel's socket (the tunnel pool then fails the tunnel over). */
  onTunnelError?: (index: number, message: string) => void;
  log?: (line: string) => void;
}

export interface DataPlaneStats {
  workers: WorkerStats[];
  /** Sums over the workers. */
  total: {
    received: number;
    kernelDrops: number;
    frames: number;
    matched: number;
    mirrored: number;
    sent: number;
    egressDrops: number;
  };
  /** Per target slot over all workers: outer packets sent and their bytes, copies dropped by the filter or the egress. */
  slots: Map<number, { packets: number; bytes: number; dropped: number }>;
}

class CaptureWorker {
  readonly #worker: Worker;
  #wake: number;
  readonly #waiting = new Map<number, (message: FromWorker) => void>();
  failure: Error | undefined;
  /** What the worker publishes for the supervisor and watchdog (watchdog.ts); loop turns at index 0. */
  readonly watch = new WorkerWatch();
  readonly heartbeat = new Int32Array(this.watch.buffer, 0, 1);
  /** Its ring, as a replacement adopts it (from its "ready" message). */
  ring: RingHandle | undefined;
  lastBeat = -1;
  stillFor = 0;
  readonly startedAt = Date.now();
  /** Its loop runs: supervision starts then (starting compiles the filter and may take a while). */
  running = false;
  /** Its per-slot counters as it last published them (SLOT_FIELDS numbers each). */
  readonly counters = new Map<number, Float64Array>();
  /** Its aggregate counters as it last published them (AGGREGATE_FIELDS numbers), none before its first publication. */
  aggregate: Float64Array | undefined;
  /** Its aggregate counters as it stores them after every filter call (counters.ts): what is taken from it once replaced. */
  readonly shared = new SharedAggregates();
  /** Its counters were added to the retired ones (once: DataPlane.#replace). */
  retired = false;

  constructor(
    readonly setup: WorkerSetup,
    readonly onFailure: (error: Error, worker: CaptureWorker) => void,
    readonly onFilterEvent: (event: FilterEvent) => void,
    readonly onChangeFailed: (message: string, tunnel: number | undefined) => void,
  ) {
    this.#wake = libc().eventfd(EFD_NONBLOCK | EFD_CLOEXEC);
    this.#worker = spawnWorker(new URL("./worker.ts", import.meta.url), { ...setup, wakeFd: this.#wake, heartbeat: this.heartbeat.buffer as SharedArrayBuffer, aggregates: this.shared.buffer });
    this.#worker.on("message", (message: FromWorker) => {
      if (message.type === "filter-event") {
        this.onFilterEvent(message.event);
      } else if (message.type === "counters") {
        this.#cache(message.update);
      } else if (message.type === "change-failed") {
        this.onChangeFailed(message.message, message.tunnel);
      } else if (message.type === "failed") {
        this.failure = namedError(message.name, message.message);
        for (const resolve of this.#waiting.values()) resolve(message);
        this.#waiting.clear();
        this.onFailure(this.failure, this);
      } else if (message.type === "ready") {
        this.running = true;
        this.ring = message.ring;
        this.#waiting.get(-1)?.(message);
        this.#waiting.delete(-1);
      } else {
        this.#waiting.get(message.id)?.(message);
        this.#waiting.delete(message.id);
      }
    });
    this.#worker.on("error", (e) => {
      this.failure = e;
      for (const resolve of this.#waiting.values()) resolve({ type: "failed", message: e.message, name: e.name });
      this.#waiting.clear();
      this.onFailure(e, this);
    });
  }

  ready(): Promise<FromWorker> {
    return this.#expect(-1);
  }

  #cache(update: CountersUpdate): void {
    if (update.aggregate) this.aggregate = update.aggregate;
    for (const slot of update.removed) this.counters.delete(slot);
    const run = SLOT_FIELDS + 1;
    // Copied into the slot's own array (kept from one update to the next): nothing retained from the message.
    for (let at = 0; at + run <= update.changed.length; at += run) {
      const slot = update.changed[at];
      let counts = this.counters.get(slot);
      if (!counts) this.counters.set(slot, (counts = new Float64Array(SLOT_FIELDS)));
      counts.set(update.changed.subarray(at + 1, at + run));
    }
  }

  request(message: ToWorker): Promise<FromWorker> {
    const reply = this.#expect(message.id);
    this.send(message);
    return reply;
  }

  /** Posts a message and wakes the worker if it waits in poll(2). */
  send(message: ToWorker): void {
    this.#worker.postMessage(message);
    libc().write(this.#wake, WAKE);
  }

  #expect(id: number): Promise<FromWorker> {
    if (this.failure) return Promise.resolve({ type: "failed", message: this.failure.message, name: this.failure.name });
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  async terminate(): Promise<number> {
    const code = await this.#worker.terminate();
    // Requests it never answered (it hung) get an answer, so no caller waits forever.
    for (const resolve of this.#waiting.values()) resolve({ type: "failed", message: "the worker was terminated", name: "Error" });
    this.#waiting.clear();
    if (this.#wake >= 0) libc().close(this.#wake);
    this.#wake = -1;
    return code;
  }
}

const WAKE = new Uint8Array(BigUint64Array.of(1n).buffer);

/** Workers run the TypeScript sources directly: Deno does natively, Node through tsx's loader. The
 * bundle and the binary run the worker's own bundle instead (scripts/build-binary.ts). */
function spawnWorker(url: URL, workerData: WorkerSetup): Worker {
  const bundled = workerBundle("dataplane-worker.cjs");
  if (bundled) return "code" in bundled ? new Worker(bundled.code, { eval: true, workerData }) : new Worker(bundled.file, { workerData });
  if ("Deno" in globalThis || !url.pathname.endsWith(".ts")) return new Worker(url, { workerData });
  const code = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

function namedError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

/** Supervision: a worker whose loop has not turned for this long is stuck (a filter call that never returns). */
const HUNG_AFTER_MS = 3000;
/** Often enough for the watchdog's filter call limit (250 ms by default). */
const SUPERVISE_EVERY_MS = 50;
/** Restarts of one worker are at least this far apart. */
const RESTART_BACKOFF_MS = 1000;

export class DataPlane implements PoolSink {
  readonly #workers: CaptureWorker[];
  /** What a restarted worker must be given: the current target table and tunnels. */
  readonly #table = new Map<number, Target>();
  readonly #tunnels = new Map<number, EgressTunnel>();
  /** Target slots by stream (intercept ID, session ID, mediation address and port): a mirror session's slots. */
  readonly #streams = new Map<string, Set<number>>();
  /** Aggregate counters of workers that were replaced, by capture interface (AGGREGATE_FIELDS numbers each). */
  readonly #retiredAggregates = new Map<string, Float64Array>();
  /** Per-slot counters of workers that were replaced, added to the live ones' (SLOT_FIELDS numbers each). */
  readonly #retired = new Map<number, Float64Array>();
  /** The filter workers run, and the one before it (what a rollback returns to). */
  #filter: { current: CheckedFilter; previous: CheckedFilter | undefined };
  #supervisor: ReturnType<typeof setInterval> | undefined;
  /** Worker restarts since start. */
  restarts = 0;
  /** Filter calls the watchdog found stuck (their workers were replaced), and the frames lost with them. */
  hangs = 0;
  lostFrames = 0;
  #callLimitMs = 250;
  #onChangeFailed: (message: string, tunnel: number | undefined) => void = () => {};
  readonly #log: (line: string) => void;
  #pending: Change[] = [];
  /** Non-empty batches of changes sent to the workers (settled() waits for those made while it waits). */
  #sent = 0;
  #nextId = 1;
  #stopped = false;
  /** Failed changes already reported, by "tunnel:message" (see DataPlane.start). */
  #changeErrors = new Set<string>();
  /** The first worker failure; the data plane keeps the others running and reports it. */
  failure: Error | undefined;

  readonly #onFilterEvent: (event: FilterEvent) => void;
  /** The filter the workers last fell back from on their own, so one failure is reported once. */
  #failedFilter: string | undefined;

  private constructor(workers: CaptureWorker[], log: (line: string) => void, onFilterEvent: (event: FilterEvent) => void, filter: CheckedFilter) {
    this.#workers = workers;
    this.#log = log;
    this.#onFilterEvent = onFilterEvent;
    this.#filter = { current: filter, previous: undefined };
    this.#supervisor = setInterval(() => this.#supervise(), SUPERVISE_EVERY_MS);
    this.#supervisor.unref();
  }

  // ---- supervision: a worker that failed or hangs is replaced ----------------------------------

  #supervise(): void {
    for (const w of this.#workers) {
      if (w.failure || !w.running) continue;
      const state = w.watch.read();
      const lasted = stuckCall(state, Date.now(), this.#callLimitMs);
      if (lasted !== undefined) {
        this.#hung(w, state, lasted);
        continue;
      }
      const beat = Atomics.load(w.heartbeat, 0);
      w.stillFor = beat === w.lastBeat ? w.stillFor + SUPERVISE_EVERY_MS : 0;
      w.lastBeat = beat;
      if (w.stillFor >= HUNG_AFTER_MS) {
        w.failure = new Error(`worker ${w.setup.interface}#${w.setup.id} did not turn its loop for ${w.stillFor} ms (a filter call that never returns?)`);
        this.#log(`data plane: ${w.failure.message}: restarting it on the previous filter`);
        if (this.#filter.previous) this.#filter = { current: this.#filter.previous, previous: undefined };
        void this.#replace(w);
      }
    }
  }

  /**
   * The watchdog: `worker` is stuck in a filter call. It is replaced by a worker on the same ring
   * with the previous filter; the other workers roll back too and the registry records it (a
   * `rolled-back` event, cause `hang`). The block in flight was given back to the kernel before
   * the call (the worker copies it into the filter first), so its frames the filter had not
   * finished with are counted lost (a `batch-lost` event), never processed twice.
   */
  #hung(worker: CaptureWorker, state: WatchState, lasted: number): void {
    const name = `${worker.setup.interface}#${worker.setup.id}`;
    const stuck = this.#filter.current;
    const previous = this.#filter.previous;
    const lost = framesInFlight(state);
    worker.failure = new Error(`worker ${name}: a call of filter ${stuck.info.name} ${stuck.info.version} has not returned for ${Math.round(lasted)} ms (limit ${this.#callLimitMs} ms)`);
    this.hangs++;
    this.lostFrames += lost;
    if (previous) this.#filter = { current: previous, previous: undefined };
    this.#log(`data plane: ${worker.failure.message}: terminating it, a new worker takes its ring on ${this.#filter.current.info.name} ${this.#filter.current.info.version}; ${lost} frames of the block in flight lost`);
    void this.#replace(worker);
    const message = worker.failure.message;
    this.#filterEvent({ type: "batch-lost", filter: stuck.info, frames: lost, message: `${message}; the block was given back to the kernel before the call` });
    if (previous) this.#filterEvent({ type: "rolled-back", filter: previous.info, from: stuck.info, cause: "hang", message });
  }

  /** Ends `worker` and starts a new one with the same setup, the current table, tunnels and filter. */
  async #replace(worker: CaptureWorker): Promise<void> {
    if (this.#stopped) return;
    const since = Date.now() - worker.startedAt;
    if (since < RESTART_BACKOFF_MS) await new Promise((r) => setTimeout(r, RESTART_BACKOFF_MS - since));
    await worker.terminate();
    // Its per-slot counters as it last posted them stay counted (what it counted after that, at most
    // COUNTERS_EVERY_MS of it, is not in the per-slot figures).
    for (const [slot, counts] of worker.counters) {
      if (!this.#table.has(slot)) continue;
      const sum = this.#retired.get(slot) ?? new Float64Array(SLOT_FIELDS);
      for (let i = 0; i < SLOT_FIELDS; i++) sum[i] += counts[i];
      this.#retired.set(slot, sum);
    }
    worker.counters.clear();
    // Its aggregates as it stored them after its last completed filter call (exact: the frames of
    // the block in flight are counted lost, the ring's unread statistics go on with the adopter);
    // what it last posted only if a store was cut short.
    const final = worker.retired ? undefined : (worker.shared.read() ?? worker.aggregate);
    worker.retired = true;
    if (final) {
      const sum = this.#retiredAggregates.get(worker.setup.interface) ?? new Float64Array(AGGREGATE_FIELDS);
      for (let i = 0; i < AGGREGATE_FIELDS; i++) sum[i] += final[i];
      this.#retiredAggregates.set(worker.setup.interface, sum);
      worker.aggregate = undefined;
    }
    const index = this.#workers.indexOf(worker);
    if (this.#stopped || index < 0) return;
    // Changes still queued are in the table already; sent again they would be applied twice.
    this.#flush();
    const changes: Change[] = [
      ...[...this.#tunnels.values()].map((tunnel): Change => ({ op: "set-tunnel", tunnel })),
      ...[...this.#table.values()].map((target): Change => ({ op: "add", target })),
    ];
    // The ring it used, at the block it would have read next: same capture queue, nothing retired meanwhile lost.
    const adopt = worker.ring ? { ...worker.ring, position: worker.watch.read().position } : undefined;
    const generation = (worker.setup.generation ?? 0) + 1;
    const fresh = new CaptureWorker({ ...worker.setup, filter: this.#filter.current, changes, adopt, generation }, (e, w) => this.#failed(e, w), (event) => this.#filterEvent(event), (message, tunnel) => this.#onChangeFailed(message, tunnel));
    this.#workers[index] = fresh;
    this.restarts++;
    const answer = await fresh.ready();
    if (answer.type === "ready") this.#log(`data plane: worker ${fresh.setup.interface}#${fresh.setup.id} restarted`);
  }

  #failed(e: Error, worker: CaptureWorker): void {
    if (!this.failure) this.failure = e;
    this.#log(`data plane worker ${worker.setup.interface}#${worker.setup.id} failed: ${e.message}; restarting it`);
    void this.#replace(worker);
  }

  // ---- filter hot swap: every worker's FilterSwitch, between two of its blocks -----------------

  /** For FilterRegistry.attach: activation and rollback on every worker. */
  readonly filters: FilterHost = {
    prepare: async (filter) => {
      const answers = await this.#everyWorker((id) => ({ type: "prepare", filter, id }));
      const refused = answers.find((a) => a.answer.type === "filter" && a.answer.error !== undefined);
      if (refused && refused.answer.type === "filter") throw new SwapError(refused.answer.error ?? "");
    },
    activate: async (filter) => {
      const answers = await this.#everyWorker((id) => ({ type: "activate", filter, id }));
      const refused = answers.find((a) => a.answer.type !== "filter" || a.answer.error !== undefined);
      if (!refused) {
        this.#failedFilter = undefined;
        this.#filter = { current: filter, previous: this.#filter.current };
        return;
      }
      // All or none: the workers that switched go back.
      await Promise.all(answers.filter((a) => a !== refused && a.answer.type === "filter" && !a.answer.error).map((a) => a.worker.request({ type: "rollback", id: this.#nextId++ })));
      const answer = refused.answer;
      throw new SwapError(answer.type === "filter" ? (answer.error ?? "") : answer.type === "failed" ? answer.message : "no answer");
    },
    rollback: async () => {
      const answers = await this.#everyWorker((id) => ({ type: "rollback", id }));
      const refused = answers.find((a) => a.answer.type === "filter" && a.answer.error !== undefined);
      if (refused && refused.answer.type === "filter") throw new SwapError(refused.answer.error ?? "");
      if (this.#filter.previous) this.#filter = { current: this.#filter.previous, previous: this.#filter.current };
    },
  };

  async #everyWorker(message: (id: number) => ToWorker): Promise<{ worker: CaptureWorker; answer: FromWorker }[]> {
    const id = this.#nextId++;
    return Promise.all(this.#workers.filter((w) => !w.failure).map(async (worker) => ({ worker, answer: await worker.request(message(id)) })));
  }

  /** One worker fell back on its own: the others follow, so every worker runs the same filter. */
  #filterEvent(event: FilterEvent): void {
    if (event.type === "rolled-back" && event.cause !== "request") {
      if (this.#failedFilter === event.from.id) return;
      this.#failedFilter = event.from.id;
      if (this.#filter.previous) this.#filter = { current: this.#filter.previous, previous: this.#filter.current };
      this.#log(`filter ${event.from.name} ${event.from.version} ${event.cause === "trap" ? "trapped" : event.cause === "hang" ? "never returned" : "was too slow"}; every worker is back on ${event.filter.name} ${event.filter.version}: ${event.message ?? ""}`);
      const id = this.#nextId++;
      for (const w of this.#workers) if (!w.failure) void w.request({ type: "rollback", id });
    } else if (event.type === "batch-lost") {
      this.#log(`filter ${event.filter.name}: a block of ${event.frames} frames was lost: ${event.message}`);
    }
    this.#onFilterEvent(event);
  }

  static async start(options: DataPlaneOptions): Promise<DataPlane> {
    const log = options.log ?? (() => {});
    const { capture } = options;
    // Fail in this thread, with the capability named, before any worker starts.
    requireNetRaw("capturing packets (AF_PACKET sockets)");
    // The built-in filter is trusted: checked on this thread, without the worker an upload gets.
    const filter = options.filter ?? (await checkFilter(assetBytes("build/filters/jmirror.wasm"), { timeoutMs: 0 }));
    const setups: WorkerSetup[] = [];
    for (const [n, iface] of capture.interfaces.entries()) {
      const ifindex = libc().ifNameToIndex(iface.name);
      if (ifindex === 0) throw new Error(`capture interface ${iface.name}: no such interface`);
      // Fanout group IDs are per network namespace: derive one from this process and the interface.
      const fanoutGroup = iface.workers > 1 ? ((process.pid << 4) ^ (n * 7919) ^ ifindex) & 0xffff : undefined;
      for (let id = 0; id < iface.workers; id++) {
        setups.push({
          id,
          workers: iface.workers,
          interface: iface.name,
          fanoutGroup,
          promiscuous: iface.promiscuous,
          ignoreOutgoing: iface.ignoreOutgoing,
          blockSize: capture.blockSize,
          blockCount: capture.blockCount,
          retireTimeoutMs: capture.retireTimeoutMs,
          egress: options.egress,
          node: options.node,
          maxTargets: options.maxTargets ?? 262144,
          filter,
          changes: [],
        });
      }
    }
    let plane: DataPlane | undefined;
    const onFailure = (e: Error, worker: CaptureWorker) => {
      if (plane) plane.#failed(e, worker);
    };
    const onFilterEvent = (event: FilterEvent) => {
      if (plane) plane.#filterEvent(event);
    };
    // Every worker reports the same failed change: the first report of each is logged and passed on.
    const onChangeFailed = (message: string, tunnel: number | undefined) => {
      if (!plane) return;
      const key = `${tunnel}:${message}`;
      if (plane.#changeErrors.has(key)) return;
      plane.#changeErrors.add(key);
      log(`data plane: ${message}`);
      if (tunnel !== undefined) options.onTunnelError?.(tunnel, message);
    };
    const workers = setups.map((s) => new CaptureWorker(s, onFailure, onFilterEvent, onChangeFailed));
    const answers = await Promise.all(workers.map((w) => w.ready()));
    const failed = answers.find((a) => a.type === "failed");
    if (failed && failed.type === "failed") {
      await Promise.all(workers.map((w) => w.terminate()));
      throw namedError(failed.name, failed.message);
    }
    plane = new DataPlane(workers, log, options.onFilterEvent ?? (() => {}), filter);
    plane.#onChangeFailed = onChangeFailed;
    plane.#callLimitMs = options.filterCallLimitMs ?? 250;
    log(`data plane capturing on ${capture.interfaces.map((i) => `${i.name} (${i.workers} worker${i.workers > 1 ? "s" : ""})`).join(", ")}, egress ${options.egress.mode}`);
    return plane;
  }

  // ---- PoolSink: changes batched per synchronous stretch ---------------------------------------

  add(target: Target): void {
    this.#queue({ op: "add", target });
  }

  remove(slot: number): void {
    this.#queue({ op: "remove", slot });
  }

  setTunnel(tunnel: EgressTunnel): void {
    for (const key of this.#changeErrors) if (key.startsWith(`${tunnel.index}:`)) this.#changeErrors.delete(key);
    this.#queue({ op: "set-tunnel", tunnel });
  }

  removeTunnel(index: number): void {
    this.#queue({ op: "remove-tunnel", index });
  }

  #queue(change: Change): void {
    if (this.#stopped) return;
    if (change.op === "add") {
      this.#unstream(change.target.slot);
      this.#table.set(change.target.slot, change.target);
      const key = streamKey(change.target);
      let set = this.#streams.get(key);
      if (!set) this.#streams.set(key, (set = new Set()));
      set.add(change.target.slot);
    } else if (change.op === "remove") {
      this.#unstream(change.slot);
      this.#table.delete(change.slot);
    }
    else if (change.op === "set-tunnel") this.#tunnels.set(change.tunnel.index, change.tunnel);
    else this.#tunnels.delete(change.index);
    if (this.#pending.length === 0) queueMicrotask(() => this.#flush());
    this.#pending.push(change);
  }

  #unstream(slot: number): void {
    const old = this.#table.get(slot);
    if (!old) return;
    const key = streamKey(old);
    const set = this.#streams.get(key);
    set?.delete(slot);
    if (set?.size === 0) this.#streams.delete(key);
  }

  #flush(): void {
    if (this.#pending.length === 0 || this.#stopped) return;
    const changes = this.#pending;
    // A slot removed and not added back in the same stretch (a move is both) ends its counters.
    for (const c of changes) if (c.op === "remove" && !this.#table.has(c.slot)) this.#retired.delete(c.slot);
    this.#pending = [];
    this.#sent++;
    const message: ToWorker = { type: "apply", changes, id: this.#nextId++ };
    for (const w of this.#workers) if (!w.failure) w.send(message);
  }

  /**
   * Resolves once every worker has applied every change made so far, including those that answers
   * arriving meanwhile cause: a tunnel whose socket a worker cannot open is reported while the
   * changes are applied, and its mirror sessions move to other tunnels (a further batch) before this
   * resolves, so that "ready" after a restart means every mirror is on a working tunnel.
   */
  async settled(): Promise<void> {
    for (let round = 0; round < 16; round++) {
      this.#flush();
      const sent = this.#sent;
      const id = this.#nextId++;
      await Promise.all(this.#workers.filter((w) => !w.failure).map((w) => w.request({ type: "apply", changes: [], id })));
      if (this.#pending.length === 0 && this.#sent === sent) return;
    }
  }

  /**
   * A target slot's counters summed over the workers, from the cache they refresh every 250 ms while
   * they work (synchronous, for the API): SLOT_FIELDS numbers (messages.ts), added into `into`.
   */
  slotCounters(slot: number, into = new Float64Array(SLOT_FIELDS)): Float64Array {
    const add = (counts: Float64Array | undefined) => {
      if (counts) for (let i = 0; i < SLOT_FIELDS; i++) into[i] += counts[i];
    };
    add(this.#retired.get(slot));
    for (const w of this.#workers) add(w.counters.get(slot));
    return into;
  }

  /** The counters of every slot of a stream (a mirror session's targets), summed; zeros if it has none. */
  streamCounters(stream: { interceptId: number; sessionId: number; mediationAddress: number; mediationPort: number }): Float64Array {
    const into = new Float64Array(SLOT_FIELDS);
    for (const slot of this.#streams.get(streamKey(stream)) ?? []) this.slotCounters(slot, into);
    return into;
  }

  /**
   * The aggregate counters (by capture interface and by reason, nothing per target) from the cache
   * the workers refresh every 250 ms while they work: synchronous, for /metrics and /v1/stats.
   * A replaced worker's figures are the ones it stored in shared memory after its last completed
   * filter call (SharedAggregates), and so are a stuck worker's while it waits to be replaced.
   */
  counters(): DataPlaneCounters {
    const byInterface = new Map<string, { interface: string; workers: number; runs: Float64Array[] }>();
    for (const w of this.#workers) {
      let entry = byInterface.get(w.setup.interface);
      if (!entry) byInterface.set(w.setup.interface, (entry = { interface: w.setup.interface, workers: 0, runs: [] }));
      entry.workers++;
      const run = w.retired ? undefined : w.failure ? (w.shared.read() ?? w.aggregate) : w.aggregate;
      if (run) entry.runs.push(run);
    }
    for (const [name, run] of this.#retiredAggregates) byInterface.get(name)?.runs.push(run);
    const { name, version, abiVersion, sha256 } = this.#filter.current.info;
    return countersOf([...byInterface.values()], { lostFrames: this.lostFrames, workerRestarts: this.restarts, filter: { name, version, abiVersion, sha256 } });
  }

  async stats(): Promise<DataPlaneStats> {
    const id = this.#nextId++;
    const answers = await Promise.all(this.#workers.filter((w) => !w.failure).map((w) => w.request({ type: "stats", id })));
    return summarise(answers.flatMap((a) => (a.type === "stats" ? [a.stats] : [])));
  }

  /** Stops every worker (rings closed, pcap files flushed); returns the final counters. */
  async stop(): Promise<DataPlaneStats> {
    this.#flush();
    this.#stopped = true;
    clearInterval(this.#supervisor);
    const id = this.#nextId++;
    const answers = await Promise.all(
      this.#workers.map(async (w) => {
        const answer = w.failure ? undefined : await Promise.race([w.request({ type: "stop", id }), new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
        await w.terminate();
        return answer;
      }),
    );
    this.#log("data plane stopped");
    return summarise(answers.flatMap((a) => (a?.type === "stopped" ? [a.stats] : [])));
  }
}

/** The filter merges copies of one stream; the pool gives all targets of a mirror session one stream. */
function streamKey(t: { interceptId: number; sessionId: number; mediationAddress: number; mediationPort: number }): string {
  return `${t.interceptId}/${t.sessionId}/${t.mediationAddress >>> 0}:${t.mediationPort}`;
}

const FRAMES = 0;
const MATCHED = 2;
const MIRRORED = 3;

function summarise(workers: WorkerStats[]): DataPlaneStats {
  const total = { received: 0, kernelDrops: 0, frames: 0, matched: 0, mirrored: 0, sent: 0, egressDrops: 0 };
  const slots = new Map<number, { packets: number; bytes: number; dropped: number }>();
  for (const w of workers) {
    total.received += w.ring.packets;
    total.kernelDrops += w.ring.drops;
    total.frames += w.filter[FRAMES] ?? 0;
    total.matched += w.filter[MATCHED] ?? 0;
    total.mirrored += w.filter[MIRRORED] ?? 0;
    total.sent += w.egress.sent;
    total.egressDrops += Object.values(w.egress.dropped).reduce((a, b) => a + b, 0);
    for (const s of w.slots) {
      const sum = slots.get(s.slot) ?? { packets: 0, bytes: 0, dropped: 0 };
      sum.packets += s.packets;
      sum.bytes += s.bytes;
      sum.dropped += s.dropped;
      slots.set(s.slot, sum);
    }
  }
  return { workers, total, slots };
}
