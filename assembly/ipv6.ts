// IPv6 header (RFC 8200 section 3). A payload length of 0 (a Jumbo Payload, RFC 2675) is taken as
// a bare 40-byte header, as docs/filter-abi.md "Network layer" fixes.
import { BAD_IP_VERSION, BAD_LENGTH, L3_TRUNCATED } from "./counters";
import { fail, load16be, step } from "./layer";

const HEADER: u32 = 40;

export function decodeIpv6(frame: usize, offset: u32, captured: u32, original: u32): u64 {
  const avail = captured - offset;
  if (avail == 0) return fail(L3_TRUNCATED);
  const p = frame + offset;
  if (load<u8>(p) >> 4 != 6) return fail(BAD_IP_VERSION);
  if (avail < HEADER) return fail(L3_TRUNCATED);
  const length = HEADER + load16be(p + 4);
  if (length > original - offset) return fail(BAD_LENGTH);
  return step(min(length, avail), 0);
}
