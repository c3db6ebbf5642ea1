/**
 * The reference filter: docs/filter-abi.md implemented plainly in TypeScript, without wasm memory
 * layout. Differential tests hold the wasm filter (`wasm.ts`) to it, and benchmarks compare the two.
 *
 * ```ts
 * const filter = new OracleFilter({ outCapacity: 1 << 20 });
 * filter.configure({ linkType: 1, sourceAddress: 0xc0000201, mtu: 1500, dscp: DSCP_INHERIT });
 * filter.addTarget(target);
 * const { consumed, packets } = filter.process(records);
 * ```
 */
import {
  COUNTER_COUNT,
  COUNTERS,
  DROP_REASONS,
  DSCP_INHERIT,
  FilterError,
  LINK_TYPES,
  MALFORMED_REASONS,
  MAX_COPIES_PER_FRAME,
  type BatchResult,
  type BlockResult,
  type DropReason,
  type Filter,
  type FilterConfig,
  type MalformedReason,
  type MirroredPacket,
  type Target,
  type TargetCounters,
} from "./types.ts";

export interface OracleFilterOptions {
  /** Slots 0..maxTargets-1 are valid. */
  maxTargets?: number;
  /** Bytes of input one `process` call looks at; a record must fit in it. */
  inCapacity?: number;
  /** Bytes of outer packets one `process` call may produce. */
  outCapacity?: number;
}

/** pcap record header: u32 seconds, u32 nanoseconds, u32 captured length, u32 original length. */
const RECORD_HEADER = 16;
/** struct tpacket_block_desc and struct tpacket3_hdr are both 48 bytes (linux/if_packet.h). */
const TPACKET3_HEADER = 48;
const IPV4_HEADER = 20;
/** UDP header (8) + JMirror header (8). */
const UDP_AND_MIRROR = 16;
const MAX_DATAGRAM = 65535;
/** IEEE 802.1Q, 802.1ad and the pre-standard 0x9100 QinQ tag. */
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);
const MAX_TAGS = 8;
/** Per-target counter words: packets, bytes, dropped, dropped as oversize, dropped as too_many_copies. */
const TARGET_WORDS = 5;

interface StoredTarget extends Target {
  /** (interceptId, sessionId, mediationAddress, mediationPort): copies with equal streams are one copy. */
  stream: string;
}

/** Where the IP packet of a frame starts and which version the link layer announced. */
interface L3Start {
  offset: number;
  family: 4 | 6;
}

interface ParsedFrame {
  family: 4 | 6;
  l3: number;
  /** min(IP length, captured bytes): never padding or FCS, never more than captured. */
  copyLength: number;
  /** The packet's TOS / traffic class, inherited when neither target nor node sets a DSCP. */
  tos: number;
}

export class OracleFilter implements Filter {
  readonly name = "jmirror-oracle";
  readonly version = "1";
  readonly maxTargets: number;
  readonly inCapacity: number;
  readonly outCapacity: number;

  /** docs/filter-abi.md leaves the state before the first configure open; these are the wasm filter's. */
  private config: FilterConfig = { linkType: 1, sourceAddress: 0, mtu: 1500, dscp: DSCP_INHERIT };
  private readonly input: Uint8Array;
  private readonly output: Uint8Array;
  /** Scratch for one copy's IP payload (UDP + mirror header + L3), split into fragments from here. */
  private readonly payload = new Uint8Array(MAX_DATAGRAM);
  /** Counters as plain numbers: exact up to 2^53, decades of traffic at line rate, and far cheaper than bigint per packet. */
  private readonly globalCounters = new Float64Array(COUNTER_COUNT);
  private readonly slotCounters: Float64Array;

  private readonly targets: (StoredTarget | undefined)[];
  /** IPv4 /32 targets: big-endian address -> slots in ascending order. */
  private readonly ipv4 = new Map<number, number[]>();
  /** IPv6 targets: prefix length -> masked prefix (hex) -> slots in ascending order. */
  private readonly ipv6 = new Map<number, Map<string, number[]>>();
  /** Prefix lengths in `ipv6`, longest first: lookups try these in order and stop at the first hit. */
  private ipv6Lengths: number[] = [];

  constructor(options: OracleFilterOptions = {}) {
    const { maxTargets = 131072, inCapacity = 4 << 20, outCapacity = 8 << 20 } = options;
    for (const value of [maxTargets, inCapacity, outCapacity]) {
      if (!isU32(value) || value === 0) throw new FilterError("init", 1);
    }
    this.maxTargets = maxTargets;
    this.inCapacity = inCapacity;
    this.outCapacity = outCapacity;
    this.input = new Uint8Array(inCapacity);
    this.output = new Uint8Array(outCapacity);
    this.targets = new Array(maxTargets).fill(undefined);
    this.slotCounters = new Float64Array(maxTargets * TARGET_WORDS);
  }

  configure(config: FilterConfig): void {
    if (!(LINK_TYPES as readonly number[]).includes(config.linkType)) throw new FilterError("configure", 9);
    if (!isU32(config.sourceAddress)) throw new FilterError("configure", 1);
    if (!Number.isInteger(config.mtu) || config.mtu < 68 || config.mtu > 65535) throw new FilterError("configure", 10);
    if (!isDscp(config.dscp)) throw new FilterError("configure", 7);
    this.config = { ...config };
  }

  addTarget(target: Target): void {
    const { slot, family, prefixLength } = target;
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.maxTargets) throw new FilterError("addTarget", 1);
    if (this.targets[slot]) throw new FilterError("addTarget", 2);
    if (family !== 4 && family !== 6) throw new FilterError("addTarget", 3);
    if (target.address.length !== (family === 4 ? 4 : 16)) throw new FilterError("addTarget", 1);
    const maxLength = family === 4 ? 32 : 128;
    if (!Number.isInteger(prefixLength) || prefixLength > maxLength || prefixLength < (family === 4 ? 32 : 0)) {
      throw new FilterError("addTarget", 4);
    }
    if (!Number.isInteger(target.interceptId) || target.interceptId < 0 || target.interceptId > 0x3fffffff) {
      throw new FilterError("addTarget", 5);
    }
    if (!Number.isInteger(target.mediationPort) || target.mediationPort < 1 || target.mediationPort > 65535) {
      throw new FilterError("addTarget", 6);
    }
    if (!isDscp(target.dscp)) throw new FilterError("addTarget", 7);
    if (hasBitsBeyond(target.address, prefixLength)) throw new FilterError("addTarget", 8);
    for (const value of [target.sessionId, target.mediationAddress, target.sourceAddress]) {
      if (!isU32(value)) throw new FilterError("addTarget", 1);
    }
    if (!Number.isInteger(target.tunnel) || target.tunnel < 0 || target.tunnel > 65535) throw new FilterError("addTarget", 1);

    const stored: StoredTarget = {
      ...target,
      address: target.address.slice(),
      stream: `${target.interceptId}/${target.sessionId}/${target.mediationAddress}/${target.mediationPort}`,
    };
    this.targets[slot] = stored;
    this.index(stored);
    this.slotCounters.fill(0, slot * TARGET_WORDS, (slot + 1) * TARGET_WORDS);
  }

  removeTarget(slot: number): void {
    const target = Number.isInteger(slot) ? this.targets[slot] : undefined;
    if (!target) throw new FilterError("removeTarget", 1);
    this.targets[slot] = undefined;
    this.unindex(target);
  }

  clearTargets(): void {
    this.targets.fill(undefined);
    this.ipv4.clear();
    this.ipv6.clear();
    this.ipv6Lengths = [];
  }

  inputBuffer(): Uint8Array {
    return this.input;
  }

  process(records: Uint8Array): BatchResult {
    if (records.length > this.inCapacity) {
      throw new RangeError(`process: ${records.length} bytes of records exceed the input capacity of ${this.inCapacity} bytes`);
    }
    const packets: MirroredPacket[] = [];
    let offset = 0;
    let frames = 0;
    let written = 0;

    while (offset + RECORD_HEADER <= records.length) {
      const capturedLength = readU32LE(records, offset + 8);
      const end = offset + RECORD_HEADER + capturedLength;
      if (end > records.length) break;
      const frame = records.subarray(offset + RECORD_HEADER, end);
      const next = this.filterFrame(frame, readU32LE(records, offset + 12), readU32LE(records, offset), readU32LE(records, offset + 4), written, packets);
      if (next < 0) break;
      written = next;
      frames++;
      offset = end;
    }
    return { consumed: offset, frames, packets };
  }

  processTpacket3(block: Uint8Array, from: number): BlockResult {
    if (block.length > this.inCapacity) {
      throw new RangeError(`processTpacket3: a ${block.length}-byte block exceeds the input capacity of ${this.inCapacity} bytes`);
    }
    const packets: MirroredPacket[] = [];
    let frames = 0;
    let written = 0;
    if (block.length < TPACKET3_HEADER) return { next: 0, frames, packets };
    const count = readU32LE(block, 12);
    const first = readU32LE(block, 16);
    let index = 0;
    let at = first;
    if (from !== 0) {
      // Packets before `from` went in an earlier call.
      while (at !== from && index < count && at !== 0 && at <= block.length - TPACKET3_HEADER) {
        const step = readU32LE(block, at);
        if (step === 0) break;
        at += step;
        index++;
      }
      at = from;
    }
    while (index < count) {
      const mac = at >= TPACKET3_HEADER && at <= block.length - TPACKET3_HEADER ? block[at + 24] | (block[at + 25] << 8) : -1;
      const snaplen = mac < 0 ? 0 : readU32LE(block, at + 12);
      if (mac < 0 || mac > block.length - at || snaplen > block.length - at - mac) {
        this.count(MALFORMED_REASONS.bad_record);
        this.count(COUNTERS.frames);
        break;
      }
      const frame = block.subarray(at + mac, at + mac + snaplen);
      const next = this.filterFrame(frame, readU32LE(block, at + 16), readU32LE(block, at + 4), readU32LE(block, at + 8), written, packets);
      if (next < 0) return { next: at, frames, packets };
      written = next;
      frames++;
      index++;
      const step = readU32LE(block, at);
      if (step === 0) break;
      at += step;
    }
    return { next: 0, frames, packets };
  }

  /** Filters one frame into the output at `written`; the new output length, or -1 if its copies do not fit. */
  private filterFrame(frame: Uint8Array, originalLength: number, tsSeconds: number, tsNanoseconds: number, written: number, packets: MirroredPacket[]): number {
    const config = this.config;
    const parsed = frame.length > originalLength ? "bad_record" : parseFrame(frame, originalLength, config.linkType);
    if (typeof parsed === "string") {
      this.count(MALFORMED_REASONS[parsed]);
    } else {
      const copies = this.copyList(frame, parsed);
      const made = copies.slice(0, MAX_COPIES_PER_FRAME);
      const udpLength = UDP_AND_MIRROR + parsed.copyLength;
      const oversize = IPV4_HEADER + udpLength > MAX_DATAGRAM;
      const copyBytes = oversize ? 0 : outerBytes(udpLength, config.mtu);
      // Stop before a frame whose outputs do not fit; the host drains the output and calls again.
      // Into an empty region they go as far as they fit (docs/filter-abi.md "Output").
      if (written > 0 && copyBytes * made.length > this.outCapacity - written) return -1;

      this.count(COUNTERS.parsed);
      if (copies.length > 0) this.count(COUNTERS.matched);
      for (const target of made) {
        if (oversize) {
          this.drop("oversize", target.slot);
        } else if (copyBytes > this.outCapacity - written) {
          this.drop("output_full", target.slot);
        } else {
          written = this.writeCopy(frame, parsed, target, config, { tsSeconds, tsNanoseconds }, written, packets);
        }
      }
      for (const target of copies.slice(MAX_COPIES_PER_FRAME)) this.drop("too_many_copies", target.slot);
    }
    this.count(COUNTERS.frames);
    return written;
  }

  counters(): bigint[] {
    return Array.from(this.globalCounters, (value) => BigInt(value));
  }

  targetCounters(slot: number): TargetCounters {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.maxTargets) throw new FilterError("targetCounters", 1);
    const base = slot * TARGET_WORDS;
    return {
      packets: BigInt(this.slotCounters[base]),
      bytes: BigInt(this.slotCounters[base + 1]),
      dropped: BigInt(this.slotCounters[base + 2]),
      oversize: BigInt(this.slotCounters[base + 3]),
      tooManyCopies: BigInt(this.slotCounters[base + 4]),
    };
  }

  private count(index: number, amount = 1): void {
    this.globalCounters[index] += amount;
  }

  private drop(reason: DropReason, slot: number): void {
    this.count(DROP_REASONS[reason]);
    this.slotCounters[slot * TARGET_WORDS + 2]++;
    if (reason === "oversize") this.slotCounters[slot * TARGET_WORDS + 3]++;
    else if (reason === "too_many_copies") this.slotCounters[slot * TARGET_WORDS + 4]++;
  }

  private index(target: StoredTarget): void {
    if (target.family === 4) {
      const address = readU32(target.address, 0);
      this.ipv4.set(address, withSlot(this.ipv4.get(address) ?? [], target.slot));
      return;
    }
    let byPrefix = this.ipv6.get(target.prefixLength);
    if (!byPrefix) {
      this.ipv6.set(target.prefixLength, (byPrefix = new Map()));
      this.ipv6Lengths = [...this.ipv6.keys()].sort((a, b) => b - a);
    }
    const prefix = prefixHex(target.address, target.prefixLength);
    byPrefix.set(prefix, withSlot(byPrefix.get(prefix) ?? [], target.slot));
  }

  private unindex(target: StoredTarget): void {
    const others = (slots: number[]) => slots.filter((slot) => slot !== target.slot);
    if (target.family === 4) {
      const address = readU32(target.address, 0);
      const slots = others(this.ipv4.get(address)!);
      if (slots.length > 0) this.ipv4.set(address, slots);
      else this.ipv4.delete(address);
      return;
    }
    const byPrefix = this.ipv6.get(target.prefixLength)!;
    const prefix = prefixHex(target.address, target.prefixLength);
    const slots = others(byPrefix.get(prefix)!);
    if (slots.length > 0) byPrefix.set(prefix, slots);
    else byPrefix.delete(prefix);
    if (byPrefix.size === 0) {
      this.ipv6.delete(target.prefixLength);
      this.ipv6Lengths = this.ipv6Lengths.filter((length) => length !== target.prefixLength);
    }
  }

  /** Slots of the longest matching prefix (docs/filter-abi.md "Matching"), ascending. */
  private lookup(frame: Uint8Array, family: 4 | 6, addressOffset: number): number[] {
    if (family === 4) return this.ipv4.get(readU32(frame, addressOffset)) ?? [];
    const address = frame.subarray(addressOffset, addressOffset + 16);
    for (const length of this.ipv6Lengths) {
      const bucket = this.ipv6.get(length)!.get(prefixHex(address, length));
      if (bucket) return bucket;
    }
    return [];
  }

  /** Source's targets, then destination's, each in slot order, without repeated streams. */
  private copyList(frame: Uint8Array, parsed: ParsedFrame): StoredTarget[] {
    const [source, destination] = parsed.family === 4 ? [12, 16] : [8, 24];
    const slots = [
      ...this.lookup(frame, parsed.family, parsed.l3 + source),
      ...this.lookup(frame, parsed.family, parsed.l3 + destination),
    ];
    const streams = new Set<string>();
    const copies: StoredTarget[] = [];
    for (const slot of slots) {
      const target = this.targets[slot]!;
      if (streams.has(target.stream)) continue;
      streams.add(target.stream);
      copies.push(target);
    }
    return copies;
  }

  /**
   * Writes one JMirror copy at `output[at]`, split into IPv4 fragments if it exceeds the MTU, and
   * returns the new end of the output.
   */
  private writeCopy(
    frame: Uint8Array,
    parsed: ParsedFrame,
    target: StoredTarget,
    config: FilterConfig,
    timestamp: Pick<MirroredPacket, "tsSeconds" | "tsNanoseconds">,
    at: number,
    packets: MirroredPacket[],
  ): number {
    const udpLength = UDP_AND_MIRROR + parsed.copyLength;
    const payload = this.payload.subarray(0, udpLength);
    writeU16(payload, 0, target.mediationPort);
    writeU16(payload, 2, target.mediationPort);
    writeU16(payload, 4, udpLength);
    // UDP checksum 0: not computed over IPv4 (RFC 768).
    writeU16(payload, 6, 0);
    writeU32(payload, 8, target.interceptId);
    writeU32(payload, 12, target.sessionId);
    payload.set(frame.subarray(parsed.l3, parsed.l3 + parsed.copyLength), UDP_AND_MIRROR);

    const dscp = target.dscp !== DSCP_INHERIT ? target.dscp : config.dscp;
    // The TOS byte minus ECN (RFC 3168 section 5): congestion marks belong to the mirrored path, not ours.
    const tos = dscp !== DSCP_INHERIT ? dscp << 2 : parsed.tos & 0xfc;
    const identification = this.globalCounters[COUNTERS.next_ip_id] % 65536;
    this.count(COUNTERS.next_ip_id);
    const sourceAddress = target.sourceAddress !== 0 ? target.sourceAddress : config.sourceAddress;

    const chunk = fragmentPayloadSize(udpLength, config.mtu);
    const fragmented = chunk < udpLength;
    for (let start = 0; start < udpLength; start += chunk) {
      const part = payload.subarray(start, Math.min(start + chunk, udpLength));
      const moreFragments = start + part.length < udpLength;
      const length = IPV4_HEADER + part.length;
      const header = this.output.subarray(at, at + IPV4_HEADER);
      header[0] = 0x45;
      header[1] = tos;
      writeU16(header, 2, length);
      writeU16(header, 4, identification);
      // RFC 791 section 3.1: flags (bit 2 = MF) and the fragment offset in 8-octet units.
      writeU16(header, 6, (moreFragments ? 0x2000 : 0) | (start / 8));
      header[8] = 255;
      header[9] = 17;
      writeU16(header, 10, 0);
      writeU32(header, 12, sourceAddress);
      writeU32(header, 16, target.mediationAddress);
      writeU16(header, 10, ipv4Checksum(header));
      this.output.set(part, at + IPV4_HEADER);
      packets.push({
        bytes: this.output.subarray(at, at + length),
        slot: target.slot,
        tunnel: target.tunnel,
        ...timestamp,
        fragment: fragmented,
      });
      this.count(COUNTERS.out_packets);
      this.count(COUNTERS.out_bytes, length);
      at += length;
    }

    this.count(COUNTERS.mirrored);
    this.count(COUNTERS.mirrored_bytes, parsed.copyLength);
    if (fragmented) this.count(COUNTERS.fragmented);
    const base = target.slot * TARGET_WORDS;
    this.slotCounters[base]++;
    this.slotCounters[base + 1] += parsed.copyLength;
    return at;
  }
}

/** The frame's IP packet, or why it is malformed (docs/filter-abi.md "Link layer", "Network layer"). */
function parseFrame(frame: Uint8Array, originalLength: number, linkType: number): ParsedFrame | MalformedReason {
  const start = linkLayer(frame, linkType);
  if (typeof start === "string") return start;
  const { offset: l3, family } = start;
  const avail = frame.length - l3;
  const wire = originalLength - l3;
  if (avail === 0) return "l3_truncated";
  if (frame[l3] >> 4 !== family) return "bad_ip_version";
  if (family === 4) {
    if (avail < 20) return "l3_truncated";
    const headerLength = (frame[l3] & 0x0f) * 4;
    if (headerLength < 20) return "bad_ihl";
    const totalLength = readU16(frame, l3 + 2);
    if (totalLength < headerLength || totalLength > wire) return "bad_length";
    return { family, l3, copyLength: Math.min(totalLength, avail), tos: frame[l3 + 1] };
  }
  if (avail < 40) return "l3_truncated";
  // A payload length of 0 announces a jumbogram (RFC 2675); its payload is not mirrored.
  const length = 40 + readU16(frame, l3 + 4);
  if (length > wire) return "bad_length";
  const trafficClass = ((frame[l3] & 0x0f) << 4) | (frame[l3 + 1] >> 4);
  return { family, l3, copyLength: Math.min(length, avail), tos: trafficClass };
}

function linkLayer(frame: Uint8Array, linkType: number): L3Start | MalformedReason {
  switch (linkType) {
    case 1:
      return frame.length < 14 ? "l2_truncated" : etherTypeDispatch(frame, readU16(frame, 12), 14);
    case 113:
      // Linux cooked capture v1: the protocol field holds an EtherType for IP frames.
      return frame.length < 16 ? "l2_truncated" : etherTypeDispatch(frame, readU16(frame, 14), 16);
    case 276:
      return frame.length < 20 ? "l2_truncated" : etherTypeDispatch(frame, readU16(frame, 0), 20);
    case 101: {
      if (frame.length === 0) return "l3_truncated";
      const version = frame[0] >> 4;
      if (version === 4 || version === 6) return { offset: 0, family: version };
      return "bad_ip_version";
    }
    case 228:
      return { offset: 0, family: 4 };
    default:
      return { offset: 0, family: 6 };
  }
}

function etherTypeDispatch(frame: Uint8Array, etherType: number, offset: number): L3Start | MalformedReason {
  for (let tags = 0; ; tags++) {
    if (etherType === 0x0800) return { offset, family: 4 };
    if (etherType === 0x86dd) return { offset, family: 6 };
    if (etherType === 0x8864) return pppoeSession(frame, offset);
    if (!VLAN_TPIDS.has(etherType) || tags === MAX_TAGS) return "unsupported_ethertype";
    if (frame.length < offset + 4) return "l2_truncated";
    etherType = readU16(frame, offset + 2);
    offset += 4;
  }
}

/**
 * RFC 2516 section 4: version 1, type 1, code 0 in session frames, then the PPP protocol (RFC 1661
 * section 2), two octets or, with Protocol-Field-Compression (RFC 1661 section 6.5), one odd octet.
 */
function pppoeSession(frame: Uint8Array, offset: number): L3Start | MalformedReason {
  if (frame.length < offset + 7) return "l2_truncated";
  if (frame[offset] !== 0x11 || frame[offset + 1] !== 0x00) return "bad_pppoe";
  const compressed = (frame[offset + 6] & 1) === 1;
  if (!compressed && frame.length < offset + 8) return "l2_truncated";
  const protocol = compressed ? frame[offset + 6] : readU16(frame, offset + 6);
  const l3 = offset + (compressed ? 7 : 8);
  if (protocol === 0x0021) return { offset: l3, family: 4 };
  if (protocol === 0x0057) return { offset: l3, family: 6 };
  return "unsupported_ppp_protocol";
}

/** IP payload bytes per fragment: the whole payload if it fits the MTU, else a multiple of 8 (RFC 791). */
function fragmentPayloadSize(udpLength: number, mtu: number): number {
  return IPV4_HEADER + udpLength <= mtu ? udpLength : Math.floor((mtu - IPV4_HEADER) / 8) * 8;
}

/** Bytes of all outer packets of one copy: its IP payload plus one IPv4 header per fragment. */
function outerBytes(udpLength: number, mtu: number): number {
  return udpLength + IPV4_HEADER * Math.ceil(udpLength / fragmentPayloadSize(udpLength, mtu));
}

/** RFC 791 header checksum: ones' complement of the ones' complement sum of the header's 16-bit words. */
function ipv4Checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += readU16(header, i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Hex of an address's first `length` bits, the rest of the last byte masked: the IPv6 lookup key. */
function prefixHex(address: Uint8Array, length: number): string {
  let key = "";
  for (let i = 0; i < length >> 3; i++) key += HEX[address[i]];
  if (length & 7) key += HEX[address[length >> 3] & (0xff << (8 - (length & 7)))];
  return key;
}

function hasBitsBeyond(address: Uint8Array, length: number): boolean {
  for (let bit = length; bit < address.length * 8; bit++) {
    if (address[bit >> 3] & (0x80 >> (bit & 7))) return true;
  }
  return false;
}

function withSlot(slots: number[], slot: number): number[] {
  return [...slots, slot].sort((a, b) => a - b);
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function isDscp(value: number): boolean {
  return Number.isInteger(value) && ((value >= 0 && value <= 63) || value === DSCP_INHERIT);
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Record headers are little-endian (docs/filter-abi.md "Input records"). */
function readU32LE(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
}

function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value;
}

function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}
