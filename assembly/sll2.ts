// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276): 20 bytes, protocol type first.
import { L2_TRUNCATED } from "./counters";
import { fail, load16be, step } from "./layer";

const HEADER: u32 = 20;

export function decodeSll2(frame: usize, offset: u32, captured: u32): u64 {
  if (captured - offset < HEADER) return fail(L2_TRUNCATED);
  return step(offset + HEADER, load16be(frame + offset));
}
