// LINKTYPE_RAW (101): no link header; the IP version nibble says which family follows.
import { BAD_IP_VERSION, L3_TRUNCATED } from "./counters";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, fail, step } from "./layer";

export function decodeRaw(frame: usize, offset: u32, captured: u32): u64 {
  if (captured == offset) return fail(L3_TRUNCATED);
  const version = load<u8>(frame + offset) >> 4;
  if (version == 4) return step(offset, ETHERTYPE_IPV4);
  if (version == 6) return step(offset, ETHERTYPE_IPV6);
  return fail(BAD_IP_VERSION);
}
