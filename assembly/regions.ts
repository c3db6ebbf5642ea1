// Every region the filter uses, allocated once by iapd_init. Nothing grows afterwards: memory.grow
// detaches the host's views of memory (shared/notes/platform.md, "AssemblyScript and hot swap").

const PAGE: u64 = 65536;
const MAX_PAGES: u64 = 65536;
const ALIGN: u64 = 64;

export const DESCRIPTOR_SIZE: u32 = 32;
export const TARGET_RECORD_SIZE: u32 = 64;
export const SCRATCH_SIZE: u32 = 64;
export const RESULT_SIZE: u32 = 12;
export const COUNTERS_SIZE: u32 = 48 * 8;
export const TARGET_COUNTERS_SIZE: u32 = 32;
// Outer packets average at least 44.5 bytes per copy: an unfragmented copy is at least 56 bytes
// (headers + a 20-byte IPv4 packet); a fragmented one has n >= 2 packets, all but the last at least
// 68 bytes (MTU >= 68) and the last at least 21. So one descriptor per 44 bytes of `out` never runs
// short, and only `out` limits a batch, as docs/filter-abi.md "Output" describes.
const MIN_AVERAGE_PACKET: u32 = 44;

export let initialised = false;
export let maxTargets: u32 = 0;
export let bucketCount: u32 = 0;
export let inCapacity: u32 = 0;
export let outCapacity: u32 = 0;

export let inBase: usize = 0;
export let outBase: usize = 0;
export let descBase: usize = 0;
export let scratchBase: usize = 0;
export let countersBase: usize = 0;
export let targetCountersBase: usize = 0;
export let resultBase: usize = 0;
export let targetsBase: usize = 0;
export let buckets4Base: usize = 0;
export let buckets6Base: usize = 0;
// presence.ts: one saturating count per cell, and the bitmap lookups read.
export let presenceCellCount: u32 = 0;
export let presenceCountsBase: usize = 0;
export let presenceBitsBase: usize = 0;
export let candidatesBase: usize = 0;

let cursor: u64 = 0;

function take(size: u64): usize {
  const at = (cursor + ALIGN - 1) & ~(ALIGN - 1);
  cursor = at + size;
  return <usize>at;
}

/** Lays out all regions after the module's static data and grows memory to hold them; false if
 * they do not fit in 4 GiB. */
export function allocate(targets: u32, inCap: u32, outCap: u32): bool {
  let buckets: u64 = 1;
  while (buckets < (<u64>targets << 1)) buckets <<= 1;

  cursor = <u64>memory.size() * PAGE;
  const inAt = take(inCap);
  const outAt = take(outCap);
  const descAt = take((<u64>(outCap / MIN_AVERAGE_PACKET) + 1) * DESCRIPTOR_SIZE);
  const scratchAt = take(SCRATCH_SIZE);
  const countersAt = take(COUNTERS_SIZE);
  const targetCountersAt = take(<u64>targets * TARGET_COUNTERS_SIZE);
  const resultAt = take(RESULT_SIZE);
  const targetsAt = take(<u64>targets * TARGET_RECORD_SIZE);
  const buckets4At = take(buckets << 2);
  const buckets6At = take(buckets << 2);
  // 32 cells per target, at least 4096 and at most 2^21 (2 MiB of counts, a 256 KiB bitmap at most).
  let cells: u64 = 4096;
  while (cells < (<u64>targets << 5) && cells < (1 << 21)) cells <<= 1;
  const presenceCountsAt = take(cells);
  const presenceBitsAt = take(cells >> 3);
  const candidatesAt = take(<u64>targets << 3);

  const pages = (cursor + PAGE - 1) / PAGE;
  if (pages > MAX_PAGES) return false;
  const grow = <i32>(pages - <u64>memory.size());
  if (grow > 0 && memory.grow(grow) < 0) return false;

  maxTargets = targets;
  bucketCount = <u32>buckets;
  inCapacity = inCap;
  outCapacity = outCap;
  inBase = inAt;
  outBase = outAt;
  descBase = descAt;
  scratchBase = scratchAt;
  countersBase = countersAt;
  targetCountersBase = targetCountersAt;
  resultBase = resultAt;
  targetsBase = targetsAt;
  buckets4Base = buckets4At;
  buckets6Base = buckets6At;
  presenceCellCount = <u32>cells;
  presenceCountsBase = presenceCountsAt;
  presenceBitsBase = presenceBitsAt;
  candidatesBase = candidatesAt;
  initialised = true;
  return true;
}
