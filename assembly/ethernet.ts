// Ethernet II (IEEE 802.3 clause 3.2.6): destination, source, EtherType at 12.
import { L2_TRUNCATED } from "./counters";
import { fail, load16be, step } from "./layer";

const HEADER: u32 = 14;

export function decodeEthernet(frame: usize, offset: u32, captured: u32): u64 {
  if (captured - offset < HEADER) return fail(L2_TRUNCATED);
  return step(offset + HEADER, load16be(frame + offset + 12));
}
