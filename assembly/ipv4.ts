// IPv4 header (RFC 791 section 3.1). The value decoded is the number of bytes to mirror: the
// datagram's total length, cut to what was captured, so Ethernet padding and FCS never follow it.
import { BAD_IHL, BAD_IP_VERSION, BAD_LENGTH, L3_TRUNCATED } from "./counters";
import { fail, load16be, step } from "./layer";

const HEADER: u32 = 20;

export function decodeIpv4(frame: usize, offset: u32, captured: u32, original: u32): u64 {
  const avail = captured - offset;
  if (avail == 0) return fail(L3_TRUNCATED);
  const p = frame + offset;
  const first = <u32>load<u8>(p);
  if (first >> 4 != 4) return fail(BAD_IP_VERSION);
  if (avail < HEADER) return fail(L3_TRUNCATED);
  const ihl = first & 0xf;
  if (ihl < 5) return fail(BAD_IHL);
  const totalLength = load16be(p + 2);
  if (totalLength < ihl << 2 || totalLength > original - offset) return fail(BAD_LENGTH);
  return step(min(totalLength, avail), 0);
}
