// PPPoE session stage (RFC 2516 section 4): VER/TYPE 0x11, CODE 0x00, SESSION_ID, LENGTH, then the
// PPP protocol field (RFC 1661 section 2): 0x0021 IPv4 (RFC 1332), 0x0057 IPv6 (RFC 5072). RFC 2516
// does not forbid Protocol-Field-Compression (RFC 1661 section 6.5), so a one-octet field (an odd
// first octet: 0x21, 0x57) is accepted too.
import { BAD_PPPOE, L2_TRUNCATED, UNSUPPORTED_PPP_PROTOCOL } from "./counters";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, fail, load16be, step } from "./layer";

const HEADER: u32 = 6;
const PPP_IPV4: u32 = 0x0021;
const PPP_IPV6: u32 = 0x0057;

export function decodePppoe(frame: usize, offset: u32, captured: u32): u64 {
  if (captured - offset < HEADER + 1) return fail(L2_TRUNCATED);
  const p = frame + offset;
  if (load<u8>(p) != 0x11 || load<u8>(p, 1) != 0) return fail(BAD_PPPOE);
  let protocol = <u32>load<u8>(p + HEADER);
  let next = offset + HEADER + 1;
  if ((protocol & 1) == 0) {
    if (captured - offset < HEADER + 2) return fail(L2_TRUNCATED);
    protocol = load16be(p + HEADER);
    next++;
  }
  if (protocol == PPP_IPV4) return step(next, ETHERTYPE_IPV4);
  if (protocol == PPP_IPV6) return step(next, ETHERTYPE_IPV6);
  return fail(UNSUPPORTED_PPP_PROTOCOL);
}
