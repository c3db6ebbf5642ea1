/** Messages between the data plane (main thread) and its capture workers. */
import type { CheckedFilter, FilterEvent } from "../filter/lifecycle.ts";
import type { Target } from "../filter/types.ts";
import type { EgressConfig } from "../config/dataplane.ts";
import type { EgressCounters, EgressTunnel } from "../egress/types.ts";
import type { RingHandle, RingStatistics } from "../capture/ring.ts";

import { COUNTER_COUNT, DROP_REASONS } from "../filter/types.ts";
import { EGRESS_DROPS } from "../egress/types.ts";

/** Why a mirror session's copy did not reach the wire: the filter's reasons, then the egress's. */
export const MIRROR_DROP_REASONS = [...(Object.keys(DROP_REASONS) as (keyof typeof DROP_REASONS)[]), ...EGRESS_DROPS] as const;
export type MirrorDropReason = (typeof MIRROR_DROP_REASONS)[number];

/**
 * One target slot's counters as a run of numbers: outer packets sent, their bytes (whole outer IPv4
 * packets), then copies dropped by MIRROR_DROP_REASONS in order.
 */
export const SLOT_PACKETS = 0;
export const SLOT_BYTES = 1;
export const SLOT_DROPS = 2;
export const SLOT_FIELDS = SLOT_DROPS + MIRROR_DROP_REASONS.length;

/** A mirror session's counters as the API shows them (api/providers.ts). */
export interface MirrorCounters {
  /** Outer packets sent to the mediation device (fragments count one each). */
  packets: number;
  /** Their bytes: whole outer IPv4 packets, headers included. */
  bytes: number;
  /** Copies dropped, by reason: the filter's (output_full, oversize, too_many_copies), then the egress's. */
  drops: Record<MirrorDropReason, number>;
}

/** A slot run (SLOT_FIELDS numbers) as MirrorCounters. */
export function mirrorCountersOf(counts: Float64Array): MirrorCounters {
  const drops = {} as Record<MirrorDropReason, number>;
  for (let i = 0; i < MIRROR_DROP_REASONS.length; i++) drops[MIRROR_DROP_REASONS[i]] = counts[SLOT_DROPS + i];
  return { packets: counts[SLOT_PACKETS], bytes: counts[SLOT_BYTES], drops };
}

/**
 * What a worker publishes every COUNTERS_EVERY_MS while it works: the slots whose counters changed,
 * as runs of [slot, ...SLOT_FIELDS numbers], and the slots removed for good since the last one.
 */
export interface CountersUpdate {
  changed: Float64Array;
  removed: number[];
  /** The worker's aggregate counters (AGGREGATE_FIELDS numbers), when they changed since the last update. */
  aggregate?: Float64Array;
}

/**
 * A worker's aggregate counters as a run of numbers (running totals since it started): its ring's
 * PACKET_STATISTICS (received, kernel drops, freezes), the filter's 48 global counters
 * (docs/filter-abi.md "Counters"), then the egress's packets and bytes sent and drops by EGRESS_DROPS.
 */
export const AGG_RECEIVED = 0;
export const AGG_KERNEL_DROPS = 1;
export const AGG_FREEZES = 2;
export const AGG_FILTER = 3;
export const AGG_SENT = AGG_FILTER + COUNTER_COUNT;
export const AGG_SENT_BYTES = AGG_SENT + 1;
export const AGG_EGRESS_DROPS = AGG_SENT + 2;
export const AGGREGATE_FIELDS = AGG_EGRESS_DROPS + EGRESS_DROPS.length;

/** Changes applied in order, all of them between two batches. */
export type Change =
  | { op: "add"; target: Target }
  | { op: "remove"; slot: number }
  | { op: "set-tunnel"; tunnel: EgressTunnel }
  | { op: "remove-tunnel"; index: number };

export interface WorkerSetup {
  /** Worker number, for names (pcap file suffix) and logs. */
  id: number;
  workers: number;
  interface: string;
  fanoutGroup?: number;
  promiscuous: boolean;
  ignoreOutgoing: boolean;
  blockSize: number;
  blockCount: number;
  retireTimeoutMs: number;
  egress: EgressConfig;
  node: { sourceAddress: number; mtu: number; dscp: number };
  maxTargets: number;
  /** The filter module to start with, checked by the main thread (runtime/filter/lifecycle.ts). */
  filter: CheckedFilter;
  /** The current table and tunnels, applied before capture starts. */
  changes: Change[];
  /** An eventfd the data plane writes to after each message, so that an idle worker wakes at once. */
  wakeFd?: number;
  /** The worker's watch (runtime/dataplane/watchdog.ts): loop turns, the block in flight, the filter call running. */
  heartbeat?: SharedArrayBuffer;
  /** Its aggregate counters in shared memory (counters.ts SharedAggregates), stored after every completed filter call. */
  aggregates?: SharedArrayBuffer;
  /** A replacement worker: the ring of the worker it replaces, taken over instead of opening one. */
  adopt?: RingHandle;
  /** Restarts of this worker before it (0 or absent: the first). */
  generation?: number;
}

export type ToWorker =
  | { type: "apply"; changes: Change[]; id: number }
  | { type: "stats"; id: number }
  | { type: "stop"; id: number }
  /** Filter hot swap: the worker's FilterSwitch switches between two blocks. */
  | { type: "prepare" | "activate"; filter: CheckedFilter; id: number }
  | { type: "rollback"; id: number };

export interface WorkerStats {
  interface: string;
  worker: number;
  ring: RingStatistics;
  /** Filter counters by index (docs/filter-abi.md "Counters"), as numbers. */
  filter: number[];
  egress: EgressCounters;
  /** Per target slot: outer packets sent and bytes, copies the filter or the egress dropped (all reasons). */
  slots: { slot: number; packets: number; bytes: number; dropped: number }[];
  blocks: number;
}

export type FromWorker =
  | { type: "ready"; linkType: number; ring: RingHandle }
  | { type: "failed"; message: string; name: string }
  | { type: "applied"; id: number }
  | { type: "stats"; id: number; stats: WorkerStats }
  /** Per-slot counters that changed, and the aggregates (a cache the API reads synchronously: DataPlane.slotCounters, DataPlane.counters). */
  | { type: "counters"; update: CountersUpdate }
  | { type: "stopped"; id: number; stats: WorkerStats }
  /** The answer to prepare, activate or rollback; `error` when the worker's filter did not change. */
  | { type: "filter"; id: number; error?: string }
  /** What the worker's FilterSwitch did on its own (a trap, a slow block). */
  | { type: "filter-event"; event: FilterEvent }
  /** A change the worker could not apply (the others in its message were); `tunnel` for a tunnel's socket. */
  | { type: "change-failed"; message: string; tunnel?: number };
