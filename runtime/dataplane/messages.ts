/** Messages between the data plane (main thread) and its capture workers. */
import type { CheckedFilter, FilterEvent } from "../filter/lifecycle.ts";
import type { Target } from "../filter/types.ts";
import type { EgressConfig } from "../config/dataplane.ts";
import type { EgressCounters, EgressTunnel } from "../egress/types.ts";
import type { RingHandle, RingStatistics } from "../capture/ring.ts";

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
  /** Per target slot: copies made by the filter, copies it or the egress dropped. */
  slots: { slot: number; packets: number; dropped: number }[];
  blocks: number;
}

export type FromWorker =
  | { type: "ready"; linkType: number; ring: RingHandle }
  | { type: "failed"; message: string; name: string }
  | { type: "applied"; id: number }
  | { type: "stats"; id: number; stats: WorkerStats }
  | { type: "stopped"; id: number; stats: WorkerStats }
  /** The answer to prepare, activate or rollback; `error` when the worker's filter did not change. */
  | { type: "filter"; id: number; error?: string }
  /** What the worker's FilterSwitch did on its own (a trap, a slow block). */
  | { type: "filter-event"; event: FilterEvent }
  /** A change the worker could not apply (the others in its message were); `tunnel` for a tunnel's socket. */
  | { type: "change-failed"; message: string; tunnel?: number };
