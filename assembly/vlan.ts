// IEEE 802.1Q / 802.1ad tag (TPID 0x8100, 0x88a8, or the pre-standard 0x9100): TCI, then the
// EtherType of what follows.
import { L2_TRUNCATED } from "./counters";
import { fail, load16be, step } from "./layer";

const HEADER: u32 = 4;

export function decodeVlan(frame: usize, offset: u32, captured: u32): u64 {
  if (captured - offset < HEADER) return fail(L2_TRUNCATED);
  return step(offset + HEADER, load16be(frame + offset + 2));
}
