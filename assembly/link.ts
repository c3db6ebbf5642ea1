// From the capture's link type to the start of the IP header: the link-layer header, then up to
// eight VLAN tags and a PPPoE session header (docs/filter-abi.md "Link layer").
import { UNSUPPORTED_ETHERTYPE } from "./counters";
import { decodeEthernet } from "./ethernet";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, fail, nextOf, reasonOf, step, valueOf } from "./layer";
import { decodePppoe } from "./pppoe";
import { decodeRaw } from "./raw";
import { decodeSll } from "./sll";
import { decodeSll2 } from "./sll2";
import { decodeVlan } from "./vlan";

// LINKTYPE_* numbers (https://www.tcpdump.org/linktypes.html).
export const LINKTYPE_ETHERNET: u32 = 1;
export const LINKTYPE_RAW: u32 = 101;
export const LINKTYPE_LINUX_SLL: u32 = 113;
export const LINKTYPE_IPV4: u32 = 228;
export const LINKTYPE_IPV6: u32 = 229;
export const LINKTYPE_LINUX_SLL2: u32 = 276;

const MAX_TAGS: u32 = 8;
const ETHERTYPE_PPPOE_SESSION: u32 = 0x8864;

export function supportedLinkType(linkType: u32): bool {
  return (
    linkType == LINKTYPE_ETHERNET ||
    linkType == LINKTYPE_RAW ||
    linkType == LINKTYPE_LINUX_SLL ||
    linkType == LINKTYPE_IPV4 ||
    linkType == LINKTYPE_IPV6 ||
    linkType == LINKTYPE_LINUX_SLL2
  );
}

@inline function isTag(etherType: u32): bool {
  return etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100;
}

/** Decodes the link layer of one frame: the L3 offset and EtherType of an IP packet, or a reason. */
export function decodeLink(linkType: u32, frame: usize, captured: u32): u64 {
  let result: u64;
  if (linkType == LINKTYPE_ETHERNET) result = decodeEthernet(frame, 0, captured);
  else if (linkType == LINKTYPE_LINUX_SLL) result = decodeSll(frame, 0, captured);
  else if (linkType == LINKTYPE_LINUX_SLL2) result = decodeSll2(frame, 0, captured);
  else if (linkType == LINKTYPE_RAW) return decodeRaw(frame, 0, captured);
  else if (linkType == LINKTYPE_IPV4) return step(0, ETHERTYPE_IPV4);
  else return step(0, ETHERTYPE_IPV6);

  let tags: u32 = 0;
  while (reasonOf(result) == 0) {
    const etherType = nextOf(result);
    if (etherType == ETHERTYPE_IPV4 || etherType == ETHERTYPE_IPV6) return result;
    if (etherType == ETHERTYPE_PPPOE_SESSION) return decodePppoe(frame, valueOf(result), captured);
    if (!isTag(etherType) || tags == MAX_TAGS) return fail(UNSUPPORTED_ETHERTYPE);
    result = decodeVlan(frame, valueOf(result), captured);
    tags++;
  }
  return result;
}
