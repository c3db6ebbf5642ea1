// Global and per-target counters, laid out as docs/filter-abi.md "Counters" fixes them.
import { countersBase, targetCountersBase, TARGET_COUNTERS_SIZE } from "./regions";

export const FRAMES: u32 = 0;
export const PARSED: u32 = 1;
export const MATCHED: u32 = 2;
export const MIRRORED: u32 = 3;
export const MIRRORED_BYTES: u32 = 4;
export const OUT_PACKETS: u32 = 5;
export const OUT_BYTES: u32 = 6;
export const FRAGMENTED: u32 = 7;
export const NEXT_IP_ID: u32 = 8;

export const L2_TRUNCATED: u32 = 16;
export const UNSUPPORTED_ETHERTYPE: u32 = 17;
export const UNSUPPORTED_PPP_PROTOCOL: u32 = 18;
export const BAD_PPPOE: u32 = 19;
export const L3_TRUNCATED: u32 = 20;
export const BAD_IP_VERSION: u32 = 21;
export const BAD_IHL: u32 = 22;
export const BAD_LENGTH: u32 = 23;
export const BAD_RECORD: u32 = 24;

export const OUTPUT_FULL: u32 = 32;
export const OVERSIZE: u32 = 33;
export const TOO_MANY_COPIES: u32 = 34;

const TARGET_PACKETS: usize = 0;
const TARGET_BYTES: usize = 8;
const TARGET_DROPPED: usize = 16;
// Of `dropped`, the copies dropped as oversize and as too_many_copies (u32 each; the rest are
// output_full). Older filters leave both words zero.
const TARGET_OVERSIZE: usize = 24;
const TARGET_TOO_MANY_COPIES: usize = 28;

@inline export function count(index: u32, by: u64 = 1): void {
  const p = countersBase + (<usize>index << 3);
  store<u64>(p, load<u64>(p) + by);
}

@inline export function counter(index: u32): u64 {
  return load<u64>(countersBase + (<usize>index << 3));
}

@inline export function countTargetCopy(slot: u32, bytes: u32): void {
  const p = targetCountersBase + <usize>slot * TARGET_COUNTERS_SIZE;
  store<u64>(p + TARGET_PACKETS, load<u64>(p + TARGET_PACKETS) + 1);
  store<u64>(p + TARGET_BYTES, load<u64>(p + TARGET_BYTES) + <u64>bytes);
}

/** Counts a dropped copy of `slot` for `reason` (OUTPUT_FULL, OVERSIZE or TOO_MANY_COPIES). */
@inline export function countTargetDrop(slot: u32, reason: u32): void {
  const p = targetCountersBase + <usize>slot * TARGET_COUNTERS_SIZE;
  store<u64>(p + TARGET_DROPPED, load<u64>(p + TARGET_DROPPED) + 1);
  if (reason == OVERSIZE) store<u32>(p + TARGET_OVERSIZE, load<u32>(p + TARGET_OVERSIZE) + 1);
  else if (reason == TOO_MANY_COPIES) store<u32>(p + TARGET_TOO_MANY_COPIES, load<u32>(p + TARGET_TOO_MANY_COPIES) + 1);
}

export function resetTargetCounters(slot: u32): void {
  memory.fill(targetCountersBase + <usize>slot * TARGET_COUNTERS_SIZE, 0, TARGET_COUNTERS_SIZE);
}
