/**
 * The shape every filter implementation shares: the wasm filter (`wasm.ts`) and the plain TypeScript
 * oracle (`oracle.ts`). Semantics are specified in docs/filter-abi.md.
 */

export const ABI_VERSION = 1;

/** Exports every ABI version 1 filter has (docs/filter-abi.md "Exports"). */
export const REQUIRED_EXPORTS = [
  "memory",
  "iapd_abi_version",
  "iapd_filter_info",
  "iapd_init",
  "iapd_configure",
  "iapd_in_ptr",
  "iapd_out_ptr",
  "iapd_desc_ptr",
  "iapd_scratch_ptr",
  "iapd_counters_ptr",
  "iapd_target_counters_ptr",
  "iapd_result_ptr",
  "iapd_target_add",
  "iapd_target_remove",
  "iapd_target_clear",
  "iapd_process",
] as const;

export const OPTIONAL_EXPORTS = ["iapd_process_tpacket3"] as const;

/** The required exports a module lacks, given the kind ("memory", "function") of each of its exports. */
export function missingExports(kind: (name: string) => string | undefined): string[] {
  return REQUIRED_EXPORTS.filter((name) => kind(name) !== (name === "memory" ? "memory" : "function"));
}

/** Capture link types the filter understands (LINKTYPE_* numbers from pcap). */
export const LINK_TYPES = [1, 101, 113, 228, 229, 276] as const;
export type LinkType = (typeof LINK_TYPES)[number];

/** DSCP value meaning "inherit" (from the node policy for a target; from the packet for the node). */
export const DSCP_INHERIT = 255;

export interface FilterConfig {
  linkType: number;
  /** Node source address of outer packets, big-endian u32 (192.0.2.1 = 0xC0000201). */
  sourceAddress: number;
  /** Egress MTU, 68..65535. */
  mtu: number;
  /** 0..63, or DSCP_INHERIT. */
  dscp: number;
}

/** One target table entry: a prefix and the mirror stream its packets are copied to. */
export interface Target {
  /** Host-chosen index, 0..maxTargets-1; per-target counters are kept per slot. */
  slot: number;
  family: 4 | 6;
  /** Network-order address bytes: 4 for IPv4, 16 for IPv6; no bits set beyond prefixLength. */
  address: Uint8Array;
  prefixLength: number;
  /** 30-bit intercept ID. */
  interceptId: number;
  /** 32-bit session ID. */
  sessionId: number;
  /** Mediation device address, big-endian u32. */
  mediationAddress: number;
  mediationPort: number;
  /** Outer source address, big-endian u32; 0 = the node's. */
  sourceAddress: number;
  /** Egress tunnel index, copied into output descriptors. */
  tunnel: number;
  /** 0..63, or DSCP_INHERIT for the node's policy. */
  dscp: number;
}

/** One outer packet produced by a batch. `bytes` may be a view into filter memory, valid until the next call. */
export interface MirroredPacket {
  bytes: Uint8Array;
  slot: number;
  tunnel: number;
  tsSeconds: number;
  tsNanoseconds: number;
  fragment: boolean;
}

export interface BatchResult {
  /** Input bytes consumed (whole records only). */
  consumed: number;
  frames: number;
  packets: MirroredPacket[];
}

/** The outcome of one `processTpacket3` call. */
export interface BlockResult {
  /** Block offset of the first packet not processed (the output region filled up), or 0 when the block is done. */
  next: number;
  frames: number;
  packets: MirroredPacket[];
}

/**
 * The filter's output in place (docs/filter-abi.md "Output"), for a host that sends straight from
 * the descriptors without a MirroredPacket per packet: valid until the filter's next call.
 */
export interface FilterOutput {
  /** The whole linear memory. */
  bytes: Uint8Array;
  view: DataView;
  /** Offsets in memory of the first descriptor (32 bytes each) and of the out region. */
  descriptors: number;
  count: number;
  out: number;
}

export interface BlockOutput {
  /** As BlockResult.next. */
  next: number;
  frames: number;
  output: FilterOutput;
}

/** Global counter names by index, as laid out in docs/filter-abi.md. */
export const COUNTERS = {
  frames: 0,
  parsed: 1,
  matched: 2,
  mirrored: 3,
  mirrored_bytes: 4,
  out_packets: 5,
  out_bytes: 6,
  fragmented: 7,
  next_ip_id: 8,
} as const;

export const MALFORMED_REASONS = {
  l2_truncated: 16,
  unsupported_ethertype: 17,
  unsupported_ppp_protocol: 18,
  bad_pppoe: 19,
  l3_truncated: 20,
  bad_ip_version: 21,
  bad_ihl: 22,
  bad_length: 23,
  bad_record: 24,
} as const;

export const DROP_REASONS = {
  output_full: 32,
  oversize: 33,
  too_many_copies: 34,
} as const;

export const COUNTER_COUNT = 48;
export const MAX_COPIES_PER_FRAME = 64;

export type MalformedReason = keyof typeof MALFORMED_REASONS;
export type DropReason = keyof typeof DROP_REASONS;

export interface TargetCounters {
  packets: bigint;
  bytes: bigint;
  /** Copies dropped, every reason. */
  dropped: bigint;
  /** Of `dropped`, those dropped as `oversize` and as `too_many_copies`; the rest are `output_full`. */
  oversize: bigint;
  tooManyCopies: bigint;
}

/** Error codes returned by init/configure/targetAdd (docs/filter-abi.md). */
export const FILTER_ERRORS: Record<number, string> = {
  1: "bad argument (capacity 0 or slot out of range)",
  2: "slot already in use",
  3: "address family must be 4 or 6",
  4: "bad prefix length (IPv4 must be 32, IPv6 0..128)",
  5: "intercept ID above 2^30 - 1",
  6: "port must be 1..65535",
  7: "DSCP must be 0..63 or inherit",
  8: "address has bits set beyond the prefix length",
  9: "unsupported link type",
  10: "MTU must be 68..65535",
  11: "filter not initialised",
};

export class FilterError extends Error {
  constructor(
    readonly operation: string,
    readonly code: number,
  ) {
    super(`${operation}: ${FILTER_ERRORS[code] ?? `error code ${code}`}`);
    this.name = "FilterError";
  }
}

/**
 * A filter instance. Both implementations follow docs/filter-abi.md exactly, so the same calls give
 * byte-identical packets and equal counters.
 */
export interface Filter {
  readonly name: string;
  readonly version: string;
  configure(config: FilterConfig): void;
  addTarget(target: Target): void;
  removeTarget(slot: number): void;
  clearTargets(): void;
  /**
   * The filter's input region (inCapacity bytes). Records written here and passed to `process` as a
   * subarray of it are not copied again.
   */
  inputBuffer(): Uint8Array;
  /**
   * Processes the records in `records` (docs/filter-abi.md "Input records"). Stops early when the
   * output region is full; call again with the unconsumed rest.
   */
  process(records: Uint8Array): BatchResult;
  /**
   * Processes one retired TPACKET_V3 block as the kernel wrote it (docs/filter-abi.md "TPACKET_V3
   * blocks"), from the packet at block offset `from` (0: the first). Absent when a filter module does
   * not export `iapd_process_tpacket3`. Call again with `next` until it is 0.
   */
  processTpacket3?(block: Uint8Array, from: number): BlockResult;
  /** All 48 global counters. */
  counters(): bigint[];
  targetCounters(slot: number): TargetCounters;
}
