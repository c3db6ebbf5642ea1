/**
 * What the API reads from the data plane, passed in by whoever builds the app. The live data plane
 * supplies real implementations; until it exists, `zeroCounters` reports zeros (nothing is mirrored
 * outside `iapd replay` yet). The filters come from runtime/filter/registry.ts.
 */
import { DROP_REASONS, type DropReason } from "../runtime/filter/types.ts";

/** Counters of one mirror session: what was sent to the mediation device and what was dropped. */
export interface MirrorCounters {
  packets: number;
  bytes: number;
  drops: Record<DropReason, number>;
}

export type MirrorCountersProvider = (mirrorId: string) => MirrorCounters;

export const DROP_REASON_NAMES = Object.keys(DROP_REASONS) as DropReason[];

/** The provider to use until the live data plane exists: every counter is zero. */
export const zeroCounters: MirrorCountersProvider = () => ({
  packets: 0,
  bytes: 0,
  drops: Object.fromEntries(DROP_REASON_NAMES.map((r) => [r, 0])) as Record<DropReason, number>,
});

export interface FilterInfo {
  /** The first 16 hex digits of sha256; names the filter in the hot-swap routes. */
  id?: string;
  name: string;
  version: string;
  abiVersion: number;
  /** SHA-256 of the .wasm module. */
  sha256: string;
  active: boolean;
  /** The filter a rollback returns to. */
  previous?: boolean;
  /** "built-in", "upload" or "directory". */
  origin?: string;
  /** ISO 8601. */
  loadedAt: string;
}

/**
 * The known filters; with the hot-swap methods (runtime/filter/registry.ts) also upload, activate
 * and rollback. Each method throws FilterRegistryError, which the filter routes turn into problems.
 */
export interface FiltersProvider {
  list(): FilterInfo[];
  upload?(bytes: Uint8Array, actor: string): Promise<{ filter: FilterInfo; created: boolean }>;
  activate?(id: string, actor: string): Promise<FilterInfo>;
  rollback?(actor: string): Promise<FilterInfo>;
}
