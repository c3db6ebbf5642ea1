/**
 * The data plane's aggregate counters as the operator sees them (/metrics, /v1/stats: docs/api.md
 * "Metrics"): sums over the workers, by capture interface and by reason only. Nothing here is per
 * intercept, mirror session, target or address.
 */
import { EGRESS_DROPS, type EgressCounters } from "../egress/types.ts";
import { COUNTER_COUNT, COUNTERS, DROP_REASONS, MALFORMED_REASONS, type MalformedReason } from "../filter/types.ts";
import { AGG_EGRESS_DROPS, AGG_FILTER, AGG_FREEZES, AGG_KERNEL_DROPS, AGG_RECEIVED, AGG_SENT, AGG_SENT_BYTES, AGGREGATE_FIELDS, MIRROR_DROP_REASONS, type MirrorDropReason } from "./messages.ts";

export interface CaptureInterfaceCounters {
  interface: string;
  workers: number;
  /** Frames that reached the interface's capture sockets, kernel drops included (PACKET_STATISTICS tp_packets). */
  received: number;
  /** Frames the kernel dropped because a ring was full (tp_drops). */
  kernelDrops: number;
  /** Times a ring was frozen full (tp_freeze_q_cnt). */
  freezes: number;
}

export interface DataPlaneCounters {
  /** `live` (capture workers) or `demo` (the bundled capture replayed into a pcap file). */
  source: "live" | "demo";
  interfaces: CaptureInterfaceCounters[];
  /** Frames the filter consumed; each is in `parsed` or in exactly one `malformed` reason. */
  frames: number;
  parsed: number;
  malformed: Record<MalformedReason, number>;
  /** Frames lost with a filter call that never returned (the watchdog replaced the worker). */
  lostFrames: number;
  /** Worker restarts (a failed or stuck worker replaced on its ring). */
  workerRestarts: number;
  /** The filter the workers run. */
  filter: { name: string; version: string; abiVersion: number; sha256: string } | undefined;
  /**
   * What moves with interception (li-admin only in the API: docs/api.md "Metrics"): frames that
   * matched a target, copies the filter made, outer packets and bytes sent to mediation devices,
   * copies dropped by reason (the filter's, then the egress's).
   */
  mirroring: {
    matched: number;
    copies: number;
    packets: number;
    bytes: number;
    drops: Record<MirrorDropReason, number>;
  };
}

/** Aggregate runs (AGGREGATE_FIELDS numbers each: messages.ts) summed by capture interface into DataPlaneCounters. */
export function countersOf(
  byInterface: { interface: string; workers: number; runs: Float64Array[] }[],
  extra: { lostFrames: number; workerRestarts: number; filter: DataPlaneCounters["filter"] },
): DataPlaneCounters {
  const sum = new Float64Array(AGGREGATE_FIELDS);
  const interfaces: CaptureInterfaceCounters[] = [];
  for (const i of byInterface) {
    const c: CaptureInterfaceCounters = { interface: i.interface, workers: i.workers, received: 0, kernelDrops: 0, freezes: 0 };
    for (const run of i.runs) {
      c.received += run[AGG_RECEIVED];
      c.kernelDrops += run[AGG_KERNEL_DROPS];
      c.freezes += run[AGG_FREEZES];
      for (let f = 0; f < AGGREGATE_FIELDS; f++) sum[f] += run[f];
    }
    interfaces.push(c);
  }
  const filter = (index: number) => sum[AGG_FILTER + index];
  const malformed = {} as Record<MalformedReason, number>;
  for (const [reason, index] of Object.entries(MALFORMED_REASONS)) malformed[reason as MalformedReason] = filter(index);
  const drops = {} as Record<MirrorDropReason, number>;
  for (const [reason, index] of Object.entries(DROP_REASONS)) drops[reason as MirrorDropReason] = filter(index);
  for (let i = 0; i < EGRESS_DROPS.length; i++) drops[EGRESS_DROPS[i]] = sum[AGG_EGRESS_DROPS + i];
  return {
    source: "live",
    interfaces,
    frames: filter(COUNTERS.frames),
    parsed: filter(COUNTERS.parsed),
    malformed,
    lostFrames: extra.lostFrames,
    workerRestarts: extra.workerRestarts,
    filter: extra.filter,
    mirroring: { matched: filter(COUNTERS.matched), copies: filter(COUNTERS.mirrored), packets: sum[AGG_SENT], bytes: sum[AGG_SENT_BYTES], drops },
  };
}

/** Every reason with a zero, so that a reason's series exists before its first count. */
export function zeroMirrorDrops(): Record<MirrorDropReason, number> {
  return Object.fromEntries(MIRROR_DROP_REASONS.map((r) => [r, 0])) as Record<MirrorDropReason, number>;
}

/**
 * A worker's aggregate counters in shared memory (issue 5: every frame accounted for across a
 * worker hang). The data plane (main thread) owns the buffer and gives it to the worker, which
 * stores its running totals there after every completed filter call and its egress send, and after
 * every read of its ring's PACKET_STATISTICS; never in the middle of a call. When the watchdog
 * replaces a worker stuck in a filter call (no message can come from it any more), the data plane
 * reads its final figures here: the frames of the block in flight that no call finished with are
 * the ones the watchdog counts lost, and what the kernel counted on the ring since the last read
 * stays in the socket for the worker that adopts the ring, so nothing is counted twice or missed.
 *
 * Layout: Int32 0 a sequence number (odd while the worker writes), then AGGREGATE_FIELDS Float64
 * from byte 8 (messages.ts). A reader that finds it odd (a worker terminated in the middle of a
 * store, which a hang in a filter call never is) gets undefined.
 */
/**
 * The layout's positions as this module's own constants: read through the imports, each access in
 * the store costs a module-namespace lookup when the sources run under tsx (store ~0.9 µs instead
 * of ~0.25 µs per call; bundled, no difference).
 */
const S_RECEIVED = AGG_RECEIVED;
const S_KERNEL_DROPS = AGG_KERNEL_DROPS;
const S_FREEZES = AGG_FREEZES;
const S_FILTER = AGG_FILTER;
const S_COUNTERS = COUNTER_COUNT;
const S_SENT = AGG_SENT;
const S_SENT_BYTES = AGG_SENT_BYTES;
const S_EGRESS_DROPS = AGG_EGRESS_DROPS;
const S_EGRESS_REASONS: readonly (keyof EgressCounters["dropped"])[] = [...EGRESS_DROPS];
const S_FIELDS = AGGREGATE_FIELDS;

export class SharedAggregates {
  readonly buffer: SharedArrayBuffer;
  readonly #seq: Int32Array;
  readonly #cells: Float64Array;
  /** A view of the filter's global counters, kept while its region stays where it is (a swap or a memory growth moves it). */
  #global: DataView | undefined;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(8 + AGGREGATE_FIELDS * 8)) {
    this.buffer = buffer;
    this.#seq = new Int32Array(buffer, 0, 1);
    this.#cells = new Float64Array(buffer, 8, AGGREGATE_FIELDS);
  }

  /**
   * The worker's store: ring statistics (running totals as CaptureRing.statistics keeps them), the
   * filter's global counter region (COUNTER_COUNT little-endian u64, read in place), the egress's
   * counters. No allocation while the filter's counter region stays where it is.
   */
  store(ring: { packets: number; drops: number; freezes: number }, global: Uint8Array, egress: EgressCounters): void {
    const c = this.#cells;
    Atomics.add(this.#seq, 0, 1);
    c[S_RECEIVED] = ring.packets;
    c[S_KERNEL_DROPS] = ring.drops;
    c[S_FREEZES] = ring.freezes;
    if (global.byteLength >= S_COUNTERS * 8) {
      let g = this.#global;
      if (!g || g.buffer !== global.buffer || g.byteOffset !== global.byteOffset) g = this.#global = new DataView(global.buffer, global.byteOffset, S_COUNTERS * 8);
      for (let i = 0; i < S_COUNTERS; i++) c[S_FILTER + i] = g.getUint32(i * 8, true) + g.getUint32(i * 8 + 4, true) * 2 ** 32;
    }
    c[S_SENT] = egress.sent;
    c[S_SENT_BYTES] = egress.sentBytes;
    for (let i = 0; i < S_EGRESS_REASONS.length; i++) c[S_EGRESS_DROPS + i] = egress.dropped[S_EGRESS_REASONS[i]];
    Atomics.add(this.#seq, 0, 1);
  }

  /** A copy of the figures last stored; undefined before the first store or if a store was cut short. */
  read(): Float64Array | undefined {
    for (let attempt = 0; attempt < 4; attempt++) {
      const before = Atomics.load(this.#seq, 0);
      if (before === 0) return undefined;
      if (before & 1) continue;
      // (slice() of a shared array takes V8's slow path: microseconds.)
      const copy = new Float64Array(S_FIELDS);
      copy.set(this.#cells);
      if (Atomics.load(this.#seq, 0) === before) return copy;
    }
    return undefined;
  }
}
