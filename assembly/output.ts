// The batch's output: outer packets back to back from offset 0 of `out`, one 32-byte descriptor per
// packet (docs/filter-abi.md "Output").
import { descBase, DESCRIPTOR_SIZE, outBase } from "./regions";

const FLAG_FRAGMENT: u32 = 1;

export let outUsed: u32 = 0;
export let descriptors: u32 = 0;

let slot: u32 = 0;
let tunnel: u32 = 0;
let tsSeconds: u32 = 0;
let tsNanoseconds: u32 = 0;

export function beginBatch(): void {
  outUsed = 0;
  descriptors = 0;
}

/** Attributes the packets emitted next to a target slot and a capture timestamp. */
export function beginCopy(copySlot: u32, copyTunnel: u32, seconds: u32, nanoseconds: u32): void {
  slot = copySlot;
  tunnel = copyTunnel;
  tsSeconds = seconds;
  tsNanoseconds = nanoseconds;
}

/** Reserves `length` bytes of `out` for one outer packet, describes it, and returns where to write
 * it. The caller has checked that the space is there. */
export function emit(length: u32, fragment: bool): usize {
  const d = descBase + <usize>descriptors * DESCRIPTOR_SIZE;
  store<u32>(d, outUsed);
  store<u32>(d, length, 4);
  store<u32>(d, slot, 8);
  store<u32>(d, tunnel, 12);
  store<u32>(d, tsSeconds, 16);
  store<u32>(d, tsNanoseconds, 20);
  store<u32>(d, fragment ? FLAG_FRAGMENT : 0, 24);
  store<u32>(d, 0, 28);
  const p = outBase + outUsed;
  outUsed += length;
  descriptors++;
  return p;
}
