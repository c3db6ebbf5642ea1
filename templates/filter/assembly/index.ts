// __NAME__: an iapd filter, filter ABI version 1 (docs/filter-abi.md in iapd). It starts as the
// built-in JMirror filter: change processFrame to mirror something else, or another layer decoder
// in assembly/iapd/ to parse more. `npm run build`, then `iapd filter test build/__NAME__.wasm`.
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
} from "./iapd/counters";
import { buildJmirror, jmirrorOversize, jmirrorSize } from "./iapd/encap/jmirror";
import { BAD_DSCP, BAD_MTU, NOT_INITIALISED, OK, UNSUPPORTED_LINK_TYPE } from "./iapd/errors";
import { decodeIpv4 } from "./iapd/ipv4";
import { decodeIpv6 } from "./iapd/ipv6";
import { ETHERTYPE_IPV4, load16be, load32be, nextOf, reasonOf, valueOf } from "./iapd/layer";
import { decodeLink, LINKTYPE_ETHERNET, supportedLinkType } from "./iapd/link";
import { beginBatch, beginCopy, descriptors, outUsed } from "./iapd/output";
import { candidatesBase, inBase, inCapacity, initialised, outCapacity, resultBase } from "./iapd/regions";
import {
  DSCP,
  DSCP_INHERIT,
  INTERCEPT_ID,
  match4,
  match6,
  MEDIATION_ADDRESS,
  MEDIATION_PORT,
  SESSION_ID,
  SOURCE_ADDRESS,
  targetRecord,
  TUNNEL,
  uniqueStreams,
} from "./iapd/targets";

// Region allocation, region addresses and the target table do not depend on the encapsulation.
export {
  iapd_abi_version,
  iapd_init,
  iapd_in_ptr,
  iapd_out_ptr,
  iapd_desc_ptr,
  iapd_scratch_ptr,
  iapd_counters_ptr,
  iapd_target_counters_ptr,
  iapd_result_ptr,
  iapd_target_add,
  iapd_target_remove,
  iapd_target_clear,
} from "./iapd/jmirror";

const MIN_MTU: u32 = 68;
const MAX_MTU: u32 = 65535;
const MAX_COPIES: u32 = 64;
const RECORD_HEADER: u32 = 16;
// The name and version iapd shows (GET /v1/filters, iapd filter inspect).
const INFO = '{"name":"__NAME__","version":"0.1.0"}';

const info = memory.data(64);

// Node configuration; these defaults hold until the first iapd_configure.
let linkType: u32 = LINKTYPE_ETHERNET;
let nodeSource: u32 = 0;
let mtu: u32 = 1500;
let nodeDscp: u32 = DSCP_INHERIT;

export function iapd_filter_info(): usize {
  const length = String.UTF8.encodeUnsafe(changetype<usize>(INFO), INFO.length, info + 4);
  store<u32>(info, <u32>length);
  return info;
}

export function iapd_configure(newLinkType: u32, sourceAddress: u32, newMtu: u32, dscp: u32): u32 {
  if (!initialised) return NOT_INITIALISED;
  if (!supportedLinkType(newLinkType)) return UNSUPPORTED_LINK_TYPE;
  if (newMtu < MIN_MTU || newMtu > MAX_MTU) return BAD_MTU;
  if (dscp > 63 && dscp != DSCP_INHERIT) return BAD_DSCP;
  linkType = newLinkType;
  nodeSource = sourceAddress;
  mtu = newMtu;
  nodeDscp = dscp;
  return OK;
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
      if (!processFrame(record, captured, load<u32>(record, 12))) break;
      consumed += RECORD_HEADER + captured;
      frames++;
    }
  }
  store<u32>(resultBase, frames);
  store<u32>(resultBase, descriptors, 4);
  store<u32>(resultBase, outUsed, 8);
  return consumed;
}

function malformed(reason: u32): bool {
  count(FRAMES);
  count(reason);
  return true;
}

// Target DSCP, else node DSCP, else the mirrored packet's (ECN cleared,
// RFC 3168 section 5).
@inline function outerTos(targetDscp: u32, innerTos: u32): u32 {
  if (targetDscp != DSCP_INHERIT) return targetDscp << 2;
  if (nodeDscp != DSCP_INHERIT) return nodeDscp << 2;
  return innerTos & 0xfc;
}

/** Filters one record; false if its copies do not fit in the space left (it is then not consumed). */
function processFrame(record: usize, captured: u32, original: u32): bool {
  if (captured > original) return malformed(BAD_RECORD);
  const frame = record + RECORD_HEADER;
  const l2 = decodeLink(linkType, frame, captured);
  if (reasonOf(l2) != 0) return malformed(reasonOf(l2));
  const offset = valueOf(l2);
  const ipv4 = nextOf(l2) == ETHERTYPE_IPV4;
  const l3 = ipv4 ? decodeIpv4(frame, offset, captured, original) : decodeIpv6(frame, offset, captured, original);
  if (reasonOf(l3) != 0) return malformed(reasonOf(l3));
  const packet = frame + offset;
  // What a copy carries: here the IP packet without Ethernet padding or FCS (as the built-in filter).
  // Change `copyStart` and `length` to mirror something else; the self-test accepts the IP packet,
  // or the frame from its first byte to the end of the IP packet.
  const length = valueOf(l3);
  const copyStart = packet;

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
  const space = outCapacity - outUsed;
  if (<u64>writable * size > <u64>space) {
    if (outUsed != 0) return false;
    writable = space / size;
  }

  count(FRAMES);
  count(PARSED);
  count(MATCHED);
  const seconds = load<u32>(record);
  const nanoseconds = load<u32>(record, 4);
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
      copyStart,
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
