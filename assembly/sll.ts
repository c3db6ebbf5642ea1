// Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113): 16 bytes, protocol type at 14.
import { L2_TRUNCATED } from "./counters";
import { fail, load16be, step } from "./layer";

const HEADER: u32 = 16;

export function decodeSll(frame: usize, offset: u32, captured: u32): u64 {
  if (captured - offset < HEADER) return fail(L2_TRUNCATED);
  return step(offset + HEADER, load16be(frame + offset + 14));
}
