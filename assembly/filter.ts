// What every iapd filter built here shares (docs/filter-abi.md, ABI version 1): the exports, the
// batch loops over input records and TPACKET_V3 blocks, and the per-frame work (decode, match, one
// JMirror copy per stream). A filter entry file (assembly/jmirror.ts, assembly/jmirror-l2.ts)
// re-exports these, adds `iapd_filter_info` with its own name, and says where a copy starts with
// `copyFrom` at its start.
import {
  BAD_RECORD,
  count,
  countTargetCopy,
  countTargetDrop,
  counter,
  FRAGMENTED,
  FRAMES,
  MATCHED,
  MIRRORED,
  MIRRORED_BYTES,
  NEXT_IP_ID,
  OUT_BYTES,
  OUT_PACKETS,
  OUTPUT_FULL,
  OVERSIZE,
  PARSED,
  TOO_MANY_COPIES,
} from "./counters";
import { buildJmirror, jmirrorOversize, jmirrorSize } from "./encap/jmirror";
import { BAD_ARGUMENT, BAD_DSCP, BAD_MTU, NOT_INITIALISED, OK, UNSUPPORTED_LINK_TYPE } from "./errors";
import { decodeIpv4 } from "./ipv4";
import { decodeIpv6 } from "./ipv6";
import { ETHERTYPE_IPV4, load16be, load32be, nextOf, reasonOf, valueOf } from "./layer";
import { decodeLink, LINKTYPE_ETHERNET, supportedLinkType } from "./link";
import { beginBatch, beginCopy, descriptors, outUsed } from "./output";
import {
  allocate,
  candidatesBase,
  countersBase,
  descBase,
  inBase,
  inCapacity,
  initialised,
  outBase,
  outCapacity,
  resultBase,
  scratchBase,
  targetCountersBase,
} from "./regions";
import {
  addTarget,
  clearTargets,
  DSCP,
  DSCP_INHERIT,
  INTERCEPT_ID,
  match4,
  match6,
  MEDIATION_ADDRESS,
  MEDIATION_PORT,
  removeTarget,
  SESSION_ID,
  SOURCE_ADDRESS,
  targetRecord,
  TUNNEL,
  uniqueStreams,
} from "./targets";

const ABI_VERSION: u32 = 1;
const MIN_MTU: u32 = 68;
const MAX_MTU: u32 = 65535;
const MAX_COPIES: u32 = 64;
const RECORD_HEADER: u32 = 16;
// struct tpacket_block_desc and struct tpacket3_hdr (linux/if_packet.h).
const BLOCK_NUM_PKTS: u32 = 12;
const BLOCK_FIRST_PKT: u32 = 16;
const BLOCK_HEADER: u32 = 48;
const TPACKET3_HEADER: u32 = 48;
const TP_NEXT_OFFSET: u32 = 0;
const TP_SEC: u32 = 4;
const TP_NSEC: u32 = 8;
const TP_SNAPLEN: u32 = 12;
const TP_LEN: u32 = 16;
const TP_MAC: u32 = 24;

/** A copy's payload is the L3 packet (IPv4 or IPv6), for every link type of the ABI. */
export const COPY_L3: u32 = 0;
/** A copy's payload is the frame from its first byte to the end of the L3 packet; Ethernet only. */
export const COPY_FRAME: u32 = 1;

let copyStart: u32 = COPY_L3;

/** Where a copy starts (COPY_L3, COPY_FRAME); an entry file calls it once, at its start. */
export function copyFrom(start: u32): void {
  copyStart = start;
}

const info = memory.data(64);

/** `iapd_filter_info` of an entry file: writes `json` ({"name", "version"}) after its u32 length. */
export function filterInfo(json: string): usize {
  const length = String.UTF8.encodeUnsafe(changetype<usize>(json), json.length, info + 4);
  store<u32>(info, <u32>length);
  return info;
}

// Node configuration; these defaults hold until the first iapd_configure.
let linkType: u32 = LINKTYPE_ETHERNET;
let nodeSource: u32 = 0;
let mtu: u32 = 1500;
let nodeDscp: u32 = DSCP_INHERIT;

export function iapd_abi_version(): u32 {
  return ABI_VERSION;
}

export function iapd_init(maxTargets: u32, inCapacity: u32, outCapacity: u32): u32 {
  if (initialised || maxTargets == 0 || inCapacity == 0 || outCapacity == 0) return BAD_ARGUMENT;
  if (!allocate(maxTargets, inCapacity, outCapacity)) return BAD_ARGUMENT;
  clearTargets();
  return OK;
}

export function iapd_configure(newLinkType: u32, sourceAddress: u32, newMtu: u32, dscp: u32): u32 {
  if (!initialised) return NOT_INITIALISED;
  // Only Ethernet captures have an Ethernet header to keep.
  if (!supportedLinkType(newLinkType) || (copyStart == COPY_FRAME && newLinkType != LINKTYPE_ETHERNET)) return UNSUPPORTED_LINK_TYPE;
  if (newMtu < MIN_MTU || newMtu > MAX_MTU) return BAD_MTU;
  if (dscp > 63 && dscp != DSCP_INHERIT) return BAD_DSCP;
  linkType = newLinkType;
  nodeSource = sourceAddress;
  mtu = newMtu;
  nodeDscp = dscp;
  return OK;
}

export function iapd_in_ptr(): usize {
  return inBase;
}

export function iapd_out_ptr(): usize {
  return outBase;
}

export function iapd_desc_ptr(): usize {
  return descBase;
}

export function iapd_scratch_ptr(): usize {
  return scratchBase;
}

export function iapd_counters_ptr(): usize {
  return countersBase;
}

export function iapd_target_counters_ptr(): usize {
  return targetCountersBase;
}

export function iapd_result_ptr(): usize {
  return resultBase;
}

export function iapd_target_add(
  slot: u32,
  family: u32,
  prefixLength: u32,
  interceptId: u32,
  sessionId: u32,
  mediationAddress: u32,
  mediationPort: u32,
  sourceAddress: u32,
  tunnel: u32,
  dscp: u32,
): u32 {
  if (!initialised) return NOT_INITIALISED;
  return addTarget(slot, family, prefixLength, interceptId, sessionId, mediationAddress, mediationPort, sourceAddress, tunnel, dscp);
}

export function iapd_target_remove(slot: u32): u32 {
  return initialised && removeTarget(slot) ? 0 : 1;
}

export function iapd_target_clear(): void {
  if (initialised) clearTargets();
}

export function iapd_process(inOffset: u32, inLength: u32): u32 {
  if (!initialised) return 0;
  beginBatch();
  let consumed: u32 = 0;
  let frames: u32 = 0;
  if (inOffset <= inCapacity && inLength <= inCapacity - inOffset) {
    const start = inBase + inOffset;
    while (inLength - consumed >= RECORD_HEADER) {
      const record = start + consumed;
      const captured = load<u32>(record, 8);
      if (captured > inLength - consumed - RECORD_HEADER) break;
      if (!processFrame(record + RECORD_HEADER, captured, load<u32>(record, 12), load<u32>(record), load<u32>(record, 4))) break;
      consumed += RECORD_HEADER + captured;
      frames++;
    }
  }
  store<u32>(resultBase, frames);
  store<u32>(resultBase, descriptors, 4);
  store<u32>(resultBase, outUsed, 8);
  return consumed;
}

/**
 * Optional export (docs/filter-abi.md "TPACKET_V3 blocks"): processes the packets of one retired
 * AF_PACKET TPACKET_V3 block copied as it is to `in[inOffset..inOffset+inLength)`, starting with the
 * packet at block offset `from` (0: the block's first packet). Returns the block offset of the first
 * packet not processed because the output region is full, or 0 when the block is done.
 */
export function iapd_process_tpacket3(inOffset: u32, inLength: u32, from: u32): u32 {
  if (!initialised) return 0;
  beginBatch();
  let frames: u32 = 0;
  let next: u32 = 0;
  if (inOffset <= inCapacity && inLength <= inCapacity - inOffset && inLength >= BLOCK_HEADER) {
    const block = inBase + inOffset;
    const packets = load<u32>(block, BLOCK_NUM_PKTS);
    let at = from != 0 ? from : load<u32>(block, BLOCK_FIRST_PKT);
    let index: u32 = 0;
    // Packets before `from` were processed by an earlier call; skipping them walks the chain.
    if (from != 0) {
      let walk = load<u32>(block, BLOCK_FIRST_PKT);
      while (walk != from && index < packets && walk != 0 && walk <= inLength - TPACKET3_HEADER) {
        const step = load<u32>(block + walk);
        if (step == 0) break;
        walk += step;
        index++;
      }
    }
    while (index < packets) {
      if (at < BLOCK_HEADER || at > inLength - TPACKET3_HEADER) {
        count(FRAMES);
        count(BAD_RECORD);
        break;
      }
      const hdr = block + at;
      const mac = <u32>load<u16>(hdr, TP_MAC);
      const snaplen = load<u32>(hdr, TP_SNAPLEN);
      if (mac > inLength - at || snaplen > inLength - at - mac) {
        count(FRAMES);
        count(BAD_RECORD);
        break;
      }
      if (!processFrame(hdr + mac, snaplen, load<u32>(hdr, TP_LEN), load<u32>(hdr, TP_SEC), load<u32>(hdr, TP_NSEC))) {
        next = at;
        break;
      }
      frames++;
      index++;
      const step = load<u32>(hdr, TP_NEXT_OFFSET);
      if (step == 0) break;
      at += step;
    }
  }
  store<u32>(resultBase, frames);
  store<u32>(resultBase, descriptors, 4);
  store<u32>(resultBase, outUsed, 8);
  return next;
}

function malformed(reason: u32): bool {
  count(FRAMES);
  count(reason);
  return true;
}

// The outer TOS: target DSCP, else node DSCP, else the mirrored packet's DSCP (its ECN bits
// cleared, RFC 3168 section 5).
@inline function outerTos(targetDscp: u32, innerTos: u32): u32 {
  if (targetDscp != DSCP_INHERIT) return targetDscp << 2;
  if (nodeDscp != DSCP_INHERIT) return nodeDscp << 2;
  return innerTos & 0xfc;
}

/** Filters one frame; false if its copies do not fit in the space left (it is then not consumed). */
function processFrame(frame: usize, captured: u32, original: u32, seconds: u32, nanoseconds: u32): bool {
  if (captured > original) return malformed(BAD_RECORD);
  const l2 = decodeLink(linkType, frame, captured);
  if (reasonOf(l2) != 0) return malformed(reasonOf(l2));
  const offset = valueOf(l2);
  const ipv4 = nextOf(l2) == ETHERTYPE_IPV4;
  const l3 = ipv4 ? decodeIpv4(frame, offset, captured, original) : decodeIpv6(frame, offset, captured, original);
  if (reasonOf(l3) != 0) return malformed(reasonOf(l3));
  const packet = frame + offset;
  // COPY_FRAME: the link-layer header, tags and PPPoE header as captured, then the L3 bytes
  // COPY_L3 copies (never Ethernet padding or FCS).
  const copy = copyStart == COPY_FRAME ? frame : packet;
  const length = copyStart == COPY_FRAME ? offset + valueOf(l3) : valueOf(l3);

  const list = candidatesBase;
  let n: u32;
  let innerTos: u32;
  if (ipv4) {
    n = match4(load32be(packet + 16), list, match4(load32be(packet + 12), list, 0));
    innerTos = <u32>load<u8>(packet, 1);
  } else {
    n = match6(packet + 24, list, match6(packet + 8, list, 0));
    innerTos = (load16be(packet) >> 4) & 0xff;
  }
  n = uniqueStreams(list, n);
  if (n == 0) {
    // Most frames match no target: counted and done.
    count(FRAMES);
    count(PARSED);
    return true;
  }

  const copies = min(n, MAX_COPIES);
  const oversize = jmirrorOversize(length);
  const size = jmirrorSize(length, mtu);
  let writable: u32 = oversize ? 0 : copies;
  // Every copy of a frame has the same size, so when an empty region cannot take them all, the
  // ones that fit are the first `space / size` and the rest are dropped (output_full).
  const space = outCapacity - outUsed;
  if (<u64>writable * size > <u64>space) {
    if (outUsed != 0) return false;
    writable = space / size;
  }

  count(FRAMES);
  count(PARSED);
  count(MATCHED);
  for (let i: u32 = 0; i < n; i++) {
    const slot = load<u32>(list + (<usize>i << 2));
    if (i >= writable) {
      const reason = i >= MAX_COPIES ? TOO_MANY_COPIES : oversize ? OVERSIZE : OUTPUT_FULL;
      count(reason);
      countTargetDrop(slot, reason);
      continue;
    }
    const t = targetRecord(slot);
    const source = load<u32>(t + SOURCE_ADDRESS);
    const id = <u32>counter(NEXT_IP_ID) & 0xffff;
    count(NEXT_IP_ID);
    beginCopy(slot, load<u32>(t + TUNNEL), seconds, nanoseconds);
    const packets = buildJmirror(
      copy,
      length,
      outerTos(load<u32>(t + DSCP), innerTos),
      id,
      source != 0 ? source : nodeSource,
      load<u32>(t + MEDIATION_ADDRESS),
      load<u32>(t + MEDIATION_PORT),
      load<u32>(t + INTERCEPT_ID),
      load<u32>(t + SESSION_ID),
      mtu,
    );
    count(MIRRORED);
    count(MIRRORED_BYTES, length);
    count(OUT_PACKETS, packets);
    count(OUT_BYTES, size);
    if (packets > 1) count(FRAGMENTED);
    countTargetCopy(slot, length);
  }
  return true;
}
