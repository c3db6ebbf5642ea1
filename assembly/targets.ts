// The target table: one 64-byte record per host slot, IPv4 /32s and IPv6 prefixes in two chained
// hash tables. A chain is kept in ascending slot order, so walking it yields a key's targets in the
// order docs/filter-abi.md "Matching" requires. IPv6 longest-prefix match probes only the prefix
// lengths in use, longest first, so its cost does not grow with the number of targets. A presence
// bitmap in front of both tables (presence.ts) answers most lookups, those for addresses nobody
// intercepts, without reading either.
import { resetTargetCounters } from "./counters";
import { present, presenceAdd, presenceClear, presenceRemove } from "./presence";
import { BAD_ARGUMENT, BAD_DSCP, BAD_FAMILY, BAD_INTERCEPT_ID, BAD_PORT, BAD_PREFIX_LENGTH, HOST_BITS_SET, OK, SLOT_IN_USE } from "./errors";
import { bucketCount, buckets4Base, buckets6Base, maxTargets, scratchBase, targetsBase, TARGET_RECORD_SIZE } from "./regions";

export const DSCP_INHERIT: u32 = 255;
const MAX_INTERCEPT_ID: u32 = (1 << 30) - 1;
const MAX_TUNNEL: u32 = 0xffff;
const NONE: u32 = 0xffffffff;

const IN_USE: usize = 0;
const FAMILY: usize = 4;
const PREFIX_LENGTH: usize = 8;
// interceptId, sessionId, mediation address and port are contiguous: the 16 bytes of the stream.
export const INTERCEPT_ID: usize = 12;
export const SESSION_ID: usize = 16;
export const MEDIATION_ADDRESS: usize = 20;
export const MEDIATION_PORT: usize = 24;
export const SOURCE_ADDRESS: usize = 28;
export const TUNNEL: usize = 32;
export const DSCP: usize = 36;
const NEXT: usize = 40;
const BUCKET: usize = 44;
const KEY_HIGH: usize = 48;
const KEY_LOW: usize = 56;

const lengthCounts = memory.data(129 * 4);
const lengthsInUse = memory.data(129);
let lengthsInUseCount: u32 = 0;

@inline export function targetRecord(slot: u32): usize {
  return targetsBase + <usize>slot * TARGET_RECORD_SIZE;
}

// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
@inline function mix(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

// A key's hash: its low bits pick the bucket, its high 32 bits the presence cell (presence.ts).
@inline function hash4(address: u32): u64 {
  return mix(<u64>address);
}

@inline function hash6(high: u64, low: u64, length: u32): u64 {
  return mix(high ^ mix(low ^ (<u64>length << 56)));
}

@inline function bucketOf(hash: u64): u32 {
  return <u32>hash & (bucketCount - 1);
}

@inline function cellOf(hash: u64): u32 {
  return <u32>(hash >> 32);
}

@inline function maskHigh(high: u64, length: u32): u64 {
  if (length == 0) return 0;
  if (length >= 64) return high;
  return high & (<u64>-1 << (64 - length));
}

@inline function maskLow(low: u64, length: u32): u64 {
  if (length <= 64) return 0;
  return low & (<u64>-1 << (128 - length));
}

function link(head: usize, slot: u32): void {
  let at = head;
  let next = load<u32>(at);
  while (next != NONE && next < slot) {
    at = targetRecord(next) + NEXT;
    next = load<u32>(at);
  }
  store<u32>(targetRecord(slot) + NEXT, next);
  store<u32>(at, slot);
}

function unlink(head: usize, slot: u32): void {
  let at = head;
  let next = load<u32>(at);
  while (next != NONE && next != slot) {
    at = targetRecord(next) + NEXT;
    next = load<u32>(at);
  }
  if (next == slot) store<u32>(at, load<u32>(targetRecord(slot) + NEXT));
}

function rebuildLengths(): void {
  let n: u32 = 0;
  for (let length: i32 = 128; length >= 0; length--) {
    if (load<u32>(lengthCounts + (<usize>length << 2)) != 0) store<u8>(lengthsInUse + n++, <u8>length);
  }
  lengthsInUseCount = n;
}

function countLength(length: u32, delta: i32): void {
  const p = lengthCounts + (<usize>length << 2);
  const before = load<u32>(p);
  const after = <u32>(<i32>before + delta);
  store<u32>(p, after);
  if (before == 0 || after == 0) rebuildLengths();
}

/** Empties the table; also the state after iapd_init. */
export function clearTargets(): void {
  memory.fill(buckets4Base, 0xff, <usize>bucketCount << 2);
  memory.fill(buckets6Base, 0xff, <usize>bucketCount << 2);
  for (let slot: u32 = 0; slot < maxTargets; slot++) store<u32>(targetRecord(slot) + IN_USE, 0);
  memory.fill(lengthCounts, 0, 129 * 4);
  lengthsInUseCount = 0;
  presenceClear();
}

/** Adds a target whose address bytes are in scratch; 0 or an ABI error code. */
export function addTarget(
  slot: u32,
  family: u32,
  prefixLength: u32,
  interceptId: u32,
  sessionId: u32,
  mediationAddress: u32,
  mediationPort: u32,
  sourceAddress: u32,
  tunnel: u32,
  dscp: u32,
): u32 {
  if (slot >= maxTargets) return BAD_ARGUMENT;
  const t = targetRecord(slot);
  if (load<u32>(t + IN_USE) != 0) return SLOT_IN_USE;
  if (family != 4 && family != 6) return BAD_FAMILY;
  if (family == 4 ? prefixLength != 32 : prefixLength > 128) return BAD_PREFIX_LENGTH;
  if (interceptId > MAX_INTERCEPT_ID) return BAD_INTERCEPT_ID;
  if (mediationPort == 0 || mediationPort > 0xffff) return BAD_PORT;
  if (dscp > 63 && dscp != DSCP_INHERIT) return BAD_DSCP;

  let high: u64 = 0;
  let low: u64;
  let head: usize;
  let hash: u64;
  if (family == 4) {
    low = <u64>bswap<u32>(load<u32>(scratchBase));
    hash = hash4(<u32>low);
    head = buckets4Base + (<usize>bucketOf(hash) << 2);
  } else {
    high = bswap<u64>(load<u64>(scratchBase));
    low = bswap<u64>(load<u64>(scratchBase, 8));
    if (maskHigh(high, prefixLength) != high || maskLow(low, prefixLength) != low) return HOST_BITS_SET;
    hash = hash6(high, low, prefixLength);
    head = buckets6Base + (<usize>bucketOf(hash) << 2);
  }
  const bucket = bucketOf(hash);
  // The tunnel (0..65535) has no error code of its own: a bad argument, checked last.
  if (tunnel > MAX_TUNNEL) return BAD_ARGUMENT;

  store<u32>(t + IN_USE, 1);
  store<u32>(t + FAMILY, family);
  store<u32>(t + PREFIX_LENGTH, prefixLength);
  store<u32>(t + INTERCEPT_ID, interceptId);
  store<u32>(t + SESSION_ID, sessionId);
  store<u32>(t + MEDIATION_ADDRESS, mediationAddress);
  store<u32>(t + MEDIATION_PORT, mediationPort);
  store<u32>(t + SOURCE_ADDRESS, sourceAddress);
  store<u32>(t + TUNNEL, tunnel);
  store<u32>(t + DSCP, dscp);
  store<u32>(t + BUCKET, bucket);
  store<u64>(t + KEY_HIGH, high);
  store<u64>(t + KEY_LOW, low);
  link(head, slot);
  presenceAdd(cellOf(hash));
  if (family == 6) countLength(prefixLength, 1);
  resetTargetCounters(slot);
  return OK;
}

/** Removes the target in `slot`; false if the slot is not in use. */
export function removeTarget(slot: u32): bool {
  if (slot >= maxTargets) return false;
  const t = targetRecord(slot);
  if (load<u32>(t + IN_USE) == 0) return false;
  const bucket = <usize>load<u32>(t + BUCKET) << 2;
  if (load<u32>(t + FAMILY) == 4) {
    unlink(buckets4Base + bucket, slot);
    presenceRemove(cellOf(hash4(<u32>load<u64>(t + KEY_LOW))));
  } else {
    unlink(buckets6Base + bucket, slot);
    const length = load<u32>(t + PREFIX_LENGTH);
    presenceRemove(cellOf(hash6(load<u64>(t + KEY_HIGH), load<u64>(t + KEY_LOW), length)));
    countLength(length, -1);
  }
  store<u32>(t + IN_USE, 0);
  return true;
}

/** Appends to `list` (from index `n`) the slots of the IPv4 targets for `address`, in ascending
 * order; returns the new count. */
export function match4(address: u32, list: usize, n: u32): u32 {
  const hash = hash4(address);
  if (!present(cellOf(hash))) return n;
  let slot = load<u32>(buckets4Base + (<usize>bucketOf(hash) << 2));
  while (slot != NONE) {
    const t = targetRecord(slot);
    if (load<u64>(t + KEY_LOW) == <u64>address) store<u32>(list + (<usize>(n++) << 2), slot);
    slot = load<u32>(t + NEXT);
  }
  return n;
}

/** Appends to `list` (from index `n`) the slots of the IPv6 targets with the longest prefix
 * containing the 16 address bytes at `address`, in ascending order; returns the new count. */
export function match6(address: usize, list: usize, n: u32): u32 {
  const high = bswap<u64>(load<u64>(address));
  const low = bswap<u64>(load<u64>(address, 8));
  for (let i: u32 = 0; i < lengthsInUseCount; i++) {
    const length = <u32>load<u8>(lengthsInUse + i);
    const keyHigh = maskHigh(high, length);
    const keyLow = maskLow(low, length);
    const hash = hash6(keyHigh, keyLow, length);
    if (!present(cellOf(hash))) continue;
    const start = n;
    let slot = load<u32>(buckets6Base + (<usize>bucketOf(hash) << 2));
    while (slot != NONE) {
      const t = targetRecord(slot);
      if (load<u64>(t + KEY_HIGH) == keyHigh && load<u64>(t + KEY_LOW) == keyLow && load<u32>(t + PREFIX_LENGTH) == length) {
        store<u32>(list + (<usize>(n++) << 2), slot);
      }
      slot = load<u32>(t + NEXT);
    }
    if (n != start) return n;
  }
  return n;
}

/** Removes from `list` every slot whose stream (intercept ID, session ID, mediation address and
 * port) equals an earlier one's, keeping order; returns the new count. */
export function uniqueStreams(list: usize, n: u32): u32 {
  let kept: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const slot = load<u32>(list + (<usize>i << 2));
    const t = targetRecord(slot);
    const a = load<u64>(t + INTERCEPT_ID);
    const b = load<u64>(t + MEDIATION_ADDRESS);
    let seen = false;
    for (let j: u32 = 0; j < kept; j++) {
      const u = targetRecord(load<u32>(list + (<usize>j << 2)));
      if (load<u64>(u + INTERCEPT_ID) == a && load<u64>(u + MEDIATION_ADDRESS) == b) {
        seen = true;
        break;
      }
    }
    if (!seen) store<u32>(list + (<usize>(kept++) << 2), slot);
  }
  return kept;
}
