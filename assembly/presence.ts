// A presence filter in front of the target table: one bit per cell, set while some target's key
// hashes to that cell. Almost every lookup is for an address nobody intercepts, and the bitmap is
// sized by the targets in use (32 cells each), not by maxTargets, so it stays a few KiB and in the L1
// cache: such a lookup reads one bit and never the bucket table or a target record (the live data
// plane spent most of its walk in those cache misses, docs/benchmarks.md "Live data plane").
//
// Exact counts behind it: one saturating byte per cell at the finest resolution (`cellCount`,
// fixed by maxTargets). The bitmap uses the low bits of a cell's number (`bitCount`, a power of two
// dividing `cellCount`), so bit j stands for every cell i with i & (bitCount - 1) == j. A count that
// reaches 255 stays there: its bit is never cleared again, which costs lookups, never a match.
import { presenceBitsBase, presenceCellCount, presenceCountsBase } from "./regions";

const CELLS_PER_TARGET: u32 = 32;
const MIN_BITS: u32 = 4096;
const SATURATED: u32 = 255;

let bitCount: u32 = MIN_BITS;
let keys: u32 = 0;

@inline export function present(hash: u32): bool {
  const j = hash & (bitCount - 1);
  return (load<u32>(presenceBitsBase + (<usize>(j >> 5) << 2)) & (1 << (j & 31))) != 0;
}

@inline function setBit(j: u32): void {
  const word = presenceBitsBase + (<usize>(j >> 5) << 2);
  store<u32>(word, load<u32>(word) | (1 << (j & 31)));
}

@inline function clearBit(j: u32): void {
  const word = presenceBitsBase + (<usize>(j >> 5) << 2);
  store<u32>(word, load<u32>(word) & ~(<u32>1 << (j & 31)));
}

/** The bitmap size the keys in use call for: 32 cells each, a power of two, MIN_BITS..cellCount. */
function wanted(n: u32): u32 {
  let bits = MIN_BITS;
  while (bits < presenceCellCount && <u64>bits < <u64>n * CELLS_PER_TARGET) bits <<= 1;
  return bits < presenceCellCount ? bits : presenceCellCount;
}

function rebuild(bits: u32): void {
  bitCount = bits;
  memory.fill(presenceBitsBase, 0, <usize>(bits >> 3));
  for (let i: u32 = 0; i < presenceCellCount; i++) {
    if (load<u8>(presenceCountsBase + i) != 0) setBit(i & (bits - 1));
  }
}

// Grows at once (a fuller bitmap costs lookups), shrinks only below a quarter of what it has, so
// that a count moving around one size does not rebuild it over and over.
function resize(): void {
  const bits = wanted(keys);
  if (bits > bitCount || bits * 4 < bitCount) rebuild(bits);
}

export function presenceClear(): void {
  memory.fill(presenceCountsBase, 0, <usize>presenceCellCount);
  keys = 0;
  rebuild(MIN_BITS < presenceCellCount ? MIN_BITS : presenceCellCount);
}

export function presenceAdd(hash: u32): void {
  const i = hash & (presenceCellCount - 1);
  const count = <u32>load<u8>(presenceCountsBase + i);
  if (count < SATURATED) store<u8>(presenceCountsBase + i, <u8>(count + 1));
  setBit(i & (bitCount - 1));
  keys++;
  resize();
}

export function presenceRemove(hash: u32): void {
  const i = hash & (presenceCellCount - 1);
  const count = <u32>load<u8>(presenceCountsBase + i);
  if (count != 0 && count < SATURATED) store<u8>(presenceCountsBase + i, <u8>(count - 1));
  keys--;
  if (count == 1) {
    // The bit stays while another cell it stands for still counts a key.
    const j = i & (bitCount - 1);
    let used = false;
    for (let c = j; c < presenceCellCount; c += bitCount) {
      if (load<u8>(presenceCountsBase + c) != 0) {
        used = true;
        break;
      }
    }
    if (!used) clearBit(j);
  }
  resize();
}
