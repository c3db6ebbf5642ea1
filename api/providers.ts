/**
 * What the API reads from the data plane, passed in by whoever builds the app. The live data plane
 * supplies per mirror session counters from the cache its capture workers refresh
 * (runtime/dataplane/start.ts `counters`); without one, `zeroCounters` reports zeros. The filters
 * come from runtime/filter/registry.ts.
 */
import { MIRROR_DROP_REASONS, type MirrorCounters, type MirrorDropReason } from "../runtime/dataplane/messages.ts";

/** Counters of one mirror session: outer packets and bytes sent to the mediation device, and copies dropped by reason. */
export type { MirrorCounters };

export type MirrorCountersProvider = (mirrorId: string) => MirrorCounters;

/** The filter ABI's drop reasons (output_full, oversize, too_many_copies), then the egress's (socket_full, unreachable, too_big, other). */
export const DROP_REASON_NAMES: readonly MirrorDropReason[] = MIRROR_DROP_REASONS;

/** The provider when no data plane counts anything: every counter is zero. */
export const zeroCounters: MirrorCountersProvider = () => ({
  packets: 0,
  bytes: 0,
  drops: Object.fromEntries(DROP_REASON_NAMES.map((r) => [r, 0])) as Record<MirrorDropReason, number>,
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
