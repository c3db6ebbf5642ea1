/**
 * Frames for filter tests: IPv4/IPv6 packets wrapped in every link layer the filter reads
 * (docs/filter-abi.md "Link layer"), filter input records, and seeded random frames and targets that
 * hit each other often.
 *
 * ```ts
 * const packet = ipv4Packet({ source: ipv4Address("10.0.0.1"), destination: ipv4Address("10.0.1.2") });
 * const bytes = frame(1, packet, { tags: [0x8100, 0x8100] }).bytes;
 * filter.process(recordsOf([{ bytes }]));
 * ```
 */
import { DSCP_INHERIT, type LinkType, type Target } from "../../runtime/filter/types.ts";

/** Uniform in [0, 1). */
export type Rng = () => number;

/** mulberry32: a tiny seeded PRNG, so a failing random case is replayed from its seed. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max]. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

function randomBytes(rng: Rng, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = rng() * 256;
  return bytes;
}

export function ipv4Address(text: string): Uint8Array {
  return Uint8Array.from(text.split(".").map(Number));
}

/** Parses the RFC 4291 section 2.2 text forms with at most one "::". */
export function ipv6Address(text: string): Uint8Array {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (part: string | undefined) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const words = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

/** The big-endian u32 reading of four address bytes, as the filter API takes IPv4 addresses. */
export function u32Of(address: Uint8Array): number {
  return ((address[0] << 24) | (address[1] << 16) | (address[2] << 8) | address[3]) >>> 0;
}

/** `address` with every bit beyond `prefixLength` cleared. */
export function maskAddress(address: Uint8Array, prefixLength: number): Uint8Array {
  return address.map((byte, i) => {
    const bits = Math.min(8, Math.max(0, prefixLength - 8 * i));
    return byte & (0xff00 >> bits);
  });
}

/** RFC 791 header checksum, written independently of the filters so tests do not trust either. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Ipv4Spec {
  source: Uint8Array;
  destination: Uint8Array;
  tos?: number;
  identification?: number;
  protocol?: number;
  /** Option bytes, a multiple of 4 long (RFC 791 pads options to 32-bit words). */
  options?: Uint8Array;
  payload?: Uint8Array;
  /** In bytes, a multiple of 8. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  /** Overrides for malformed packets; the checksum is still computed over them. */
  version?: number;
  ihl?: number;
  totalLength?: number;
}

export function ipv4Packet(spec: Ipv4Spec): Uint8Array {
  const options = spec.options ?? new Uint8Array(0);
  const payload = spec.payload ?? new Uint8Array(0);
  const headerLength = 20 + options.length;
  const packet = new Uint8Array(headerLength + payload.length);
  const view = new DataView(packet.buffer);
  packet[0] = ((spec.version ?? 4) << 4) | (spec.ihl ?? headerLength / 4);
  packet[1] = spec.tos ?? 0;
  view.setUint16(2, spec.totalLength ?? packet.length);
  view.setUint16(4, spec.identification ?? 0);
  view.setUint16(6, (spec.moreFragments ? 0x2000 : 0) | ((spec.fragmentOffset ?? 0) / 8));
  packet[8] = 64;
  packet[9] = spec.protocol ?? 17;
  packet.set(spec.source, 12);
  packet.set(spec.destination, 16);
  packet.set(options, 20);
  view.setUint16(10, internetChecksum(packet.subarray(0, headerLength)));
  packet.set(payload, headerLength);
  return packet;
}

export interface Ipv6Spec {
  source: Uint8Array;
  destination: Uint8Array;
  trafficClass?: number;
  flowLabel?: number;
  nextHeader?: number;
  payload?: Uint8Array;
  /** Overrides for malformed packets and jumbograms (0). */
  version?: number;
  payloadLength?: number;
}

export function ipv6Packet(spec: Ipv6Spec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const packet = new Uint8Array(40 + payload.length);
  const view = new DataView(packet.buffer);
  const trafficClass = spec.trafficClass ?? 0;
  view.setUint32(0, (((spec.version ?? 6) << 28) | (trafficClass << 20) | (spec.flowLabel ?? 0)) >>> 0);
  view.setUint16(4, spec.payloadLength ?? payload.length);
  packet[6] = spec.nextHeader ?? 17;
  packet[7] = 64;
  packet.set(spec.source, 8);
  packet.set(spec.destination, 24);
  packet.set(payload, 40);
  return packet;
}

export interface PppoeSpec {
  /** Version and type nibbles; RFC 2516 requires 0x11. */
  versionType?: number;
  /** 0x00 in session frames. */
  code?: number;
  /** PPP protocol; defaults to 0x0021 / 0x0057 by the packet's version nibble. */
  protocol?: number;
  /** Protocol-Field-Compression (RFC 1661 §6.5): the protocol in one octet (0x21, 0x57). */
  compressed?: boolean;
}

export interface LinkSpec {
  /** TPIDs of VLAN tags, outermost first (0x8100, 0x88a8, 0x9100). */
  tags?: number[];
  pppoe?: PppoeSpec;
  /** The EtherType after the tags (or of the PPPoE session); defaults by the packet's version nibble. */
  etherType?: number;
  /** Bytes after the packet: Ethernet minimum-size padding, an FCS. */
  trailer?: number;
}

export interface BuiltFrame {
  bytes: Uint8Array;
  /** Where the IP packet starts. */
  l3Offset: number;
}

const LINK_HEADER: Record<LinkType, number> = { 1: 14, 101: 0, 113: 16, 228: 0, 229: 0, 276: 20 };

/** Wraps an IP packet (or any bytes) in the link layer of `linkType`. */
export function frame(linkType: LinkType, packet: Uint8Array, link: LinkSpec = {}): BuiltFrame {
  const ipv6 = packet.length > 0 && packet[0] >> 4 === 6;
  const tags = link.tags ?? [];
  const usesEtherType = linkType === 1 || linkType === 113 || linkType === 276;
  const shim = usesEtherType ? tags.length * 4 + (link.pppoe ? (link.pppoe.compressed ? 7 : 8) : 0) : 0;
  const l3Offset = LINK_HEADER[linkType] + shim;
  const bytes = new Uint8Array(l3Offset + packet.length + (link.trailer ?? 0));
  bytes.set(packet, l3Offset);
  if (!usesEtherType) return { bytes, l3Offset };

  const view = new DataView(bytes.buffer);
  const innerType = link.pppoe ? 0x8864 : (link.etherType ?? (ipv6 ? 0x86dd : 0x0800));
  const etherTypes = [...tags, innerType];
  const firstAt = linkType === 1 ? 12 : linkType === 113 ? 14 : 0;
  if (linkType === 1) {
    bytes.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02], 0);
  } else if (linkType === 113) {
    // Packet type 0 (to us), ARPHRD_ETHER, 6-byte link-layer address.
    view.setUint16(2, 1);
    view.setUint16(4, 6);
  } else {
    view.setUint32(4, 3);
    view.setUint16(8, 1);
    bytes[11] = 6;
  }
  view.setUint16(firstAt, etherTypes[0]);
  let at = LINK_HEADER[linkType];
  for (let i = 0; i < tags.length; i++) {
    view.setUint16(at, (i + 1) * 10);
    view.setUint16(at + 2, etherTypes[i + 1]);
    at += 4;
  }
  if (link.pppoe) {
    bytes[at] = link.pppoe.versionType ?? 0x11;
    bytes[at + 1] = link.pppoe.code ?? 0;
    view.setUint16(at + 2, 0x1234);
    const protocol = link.pppoe.protocol ?? (ipv6 ? 0x0057 : 0x0021);
    if (link.pppoe.compressed) {
      view.setUint16(at + 4, packet.length + 1);
      bytes[at + 6] = protocol;
    } else {
      view.setUint16(at + 4, packet.length + 2);
      view.setUint16(at + 6, protocol);
    }
  }
  return { bytes, l3Offset };
}

export interface FrameRecord {
  bytes: Uint8Array;
  /** Defaults to the captured length. */
  origLen?: number;
  tsSec?: number;
  tsNsec?: number;
}

/** Filter input records (docs/filter-abi.md "Input records"): little-endian pcap record headers. */
export function recordsOf(frames: readonly FrameRecord[]): Uint8Array {
  const records = new Uint8Array(frames.reduce((sum, f) => sum + 16 + f.bytes.length, 0));
  const view = new DataView(records.buffer);
  let at = 0;
  for (const f of frames) {
    view.setUint32(at, f.tsSec ?? 0, true);
    view.setUint32(at + 4, f.tsNsec ?? 0, true);
    view.setUint32(at + 8, f.bytes.length, true);
    view.setUint32(at + 12, f.origLen ?? f.bytes.length, true);
    records.set(f.bytes, at + 16);
    at += 16 + f.bytes.length;
  }
  return records;
}

/**
 * Addresses random frames and random targets share, so that they meet often: IPv4 10.0.{0,1}.{1..6},
 * IPv6 2001:db8:{0,1}:{0,1}{0..3}::{1..3}, which fall into common /48, /56 and /64 prefixes.
 */
export const ADDRESS_POOL: { ipv4: Uint8Array[]; ipv6: Uint8Array[] } = {
  ipv4: [0, 1].flatMap((net) => [1, 2, 3, 4, 5, 6].map((host) => Uint8Array.of(10, 0, net, host))),
  ipv6: [0, 1].flatMap((site) =>
    [0, 1].flatMap((delegation) =>
      [0, 1, 2, 3].flatMap((subnet) =>
        [1, 2, 3].map((host) => ipv6Address(`2001:db8:${site}:${delegation}${subnet.toString(16).padStart(2, "0")}::${host}`)),
      ),
    ),
  ),
};

function randomAddress(rng: Rng, family: 4 | 6): Uint8Array {
  if (rng() < 0.85) return pick(rng, family === 4 ? ADDRESS_POOL.ipv4 : ADDRESS_POOL.ipv6).slice();
  return randomBytes(rng, family === 4 ? 4 : 16);
}

/** Packet lengths: mostly small, some around common MTUs, a few near the 64 KiB limits. */
function randomPayloadLength(rng: Rng, headerLength: number): number {
  const r = rng();
  if (r < 0.6) return randomInt(rng, 0, 120);
  if (r < 0.9) return randomInt(rng, 121, 1500);
  if (r < 0.97) return randomInt(rng, 1501, 9000);
  return randomInt(rng, 65400, 65535 - headerLength);
}

function randomIpv4(rng: Rng): Uint8Array {
  const options = rng() < 0.2 ? randomBytes(rng, 4 * randomInt(rng, 1, 10)) : undefined;
  const fragment = rng() < 0.15;
  return ipv4Packet({
    source: randomAddress(rng, 4),
    destination: randomAddress(rng, 4),
    tos: randomInt(rng, 0, 255),
    identification: randomInt(rng, 0, 65535),
    protocol: pick(rng, [1, 6, 17, 47, 50]),
    options,
    payload: randomBytes(rng, randomPayloadLength(rng, 20 + (options?.length ?? 0))),
    fragmentOffset: fragment ? 8 * randomInt(rng, 0, 8000) : 0,
    moreFragments: fragment && rng() < 0.5,
  });
}

function randomIpv6(rng: Rng): Uint8Array {
  const payload = randomBytes(rng, randomPayloadLength(rng, 0));
  return ipv6Packet({
    source: randomAddress(rng, 6),
    destination: randomAddress(rng, 6),
    trafficClass: randomInt(rng, 0, 255),
    flowLabel: randomInt(rng, 0, 0xfffff),
    nextHeader: pick(rng, [6, 17, 58, 44, 0]),
    payload,
    payloadLength: rng() < 0.03 ? 0 : payload.length,
  });
}

export interface RandomFrameOptions {
  linkType: LinkType;
  /** Probability of a malformed mutation; 0.3 if not given. */
  malformed?: number;
}

type Mutation =
  | "truncate"
  | "version"
  | "ihl"
  | "longer"
  | "shorter"
  | "etherType"
  | "tooManyTags"
  | "pppoeHeader"
  | "pppProtocol"
  | "capturedBeyondOriginal"
  | "snaplen";

const MUTATIONS_FOR_ANY: readonly Mutation[] = ["truncate", "version", "ihl", "longer", "shorter", "capturedBeyondOriginal", "snaplen"];
const MUTATIONS_FOR_ETHERTYPE: readonly Mutation[] = [...MUTATIONS_FOR_ANY, "etherType", "tooManyTags", "pppoeHeader", "pppProtocol"];

/**
 * A random frame of `linkType`: IPv4 (with options, fragments) or IPv6 behind random VLAN/QinQ tags and
 * PPPoE where the link layer has EtherTypes, with Ethernet padding or FCS; or, with probability
 * `malformed`, one of those broken at some layer.
 */
export function randomFrame(rng: Rng, options: RandomFrameOptions): FrameRecord {
  const { linkType } = options;
  const usesEtherType = linkType === 1 || linkType === 113 || linkType === 276;
  const family: 4 | 6 = linkType === 228 ? 4 : linkType === 229 ? 6 : rng() < 0.5 ? 4 : 6;
  const packet = family === 4 ? randomIpv4(rng) : randomIpv6(rng);
  const link: LinkSpec = {};
  if (usesEtherType) {
    link.tags = Array.from({ length: pick(rng, [0, 0, 0, 1, 1, 2, 3, 8]) }, () => pick(rng, [0x8100, 0x88a8, 0x9100]));
    if (rng() < 0.25) link.pppoe = { compressed: rng() < 0.3 };
  }
  if (linkType === 1) link.trailer = Math.max(0, 60 - 14 - packet.length) + (rng() < 0.3 ? 4 : 0);

  const mutation: Mutation | undefined =
    rng() < (options.malformed ?? 0.3) ? pick(rng, usesEtherType ? MUTATIONS_FOR_ETHERTYPE : MUTATIONS_FOR_ANY) : undefined;
  const l3 = new DataView(packet.buffer);
  switch (mutation) {
    case "version":
      packet[0] = (packet[0] & 0x0f) | (pick(rng, [0, 1, 5, 7, 15, family === 4 ? 6 : 4]) << 4);
      break;
    case "ihl":
      if (family === 4) packet[0] = 0x40 | randomInt(rng, 0, 4);
      break;
    case "longer":
      // Beyond what the wire carried after the header, trailer included.
      if (family === 4) l3.setUint16(2, randomInt(rng, Math.min(65535, packet.length + 1 + (link.trailer ?? 0)), 65535));
      else l3.setUint16(4, randomInt(rng, Math.min(65535, packet.length - 40 + 1 + (link.trailer ?? 0)), 65535));
      break;
    case "shorter":
      if (family === 4) l3.setUint16(2, randomInt(rng, 0, (packet[0] & 0x0f) * 4 - 1));
      else l3.setUint16(4, randomInt(rng, 0, packet.length - 40));
      break;
    case "etherType":
      link.etherType = pick(rng, [0x0806, 0x88cc, 0x8863, 0x0000, 0x05dc, 0x86dc, 0x0801, 0xffff]);
      link.pppoe = undefined;
      break;
    case "tooManyTags":
      link.tags = Array.from({ length: randomInt(rng, 9, 11) }, () => pick(rng, [0x8100, 0x88a8, 0x9100]));
      break;
    case "pppoeHeader":
      link.pppoe = rng() < 0.5 ? { versionType: pick(rng, [0x00, 0x10, 0x01, 0x21, 0x12]) } : { code: pick(rng, [0x09, 0x07, 0xa7]) };
      break;
    case "pppProtocol":
      link.pppoe = rng() < 0.3 ? { compressed: true, protocol: pick(rng, [0x23, 0x31, 0x3d]) } : { protocol: pick(rng, [0xc021, 0x8021, 0x8057, 0x0031, 0xc223]) };
      break;
  }

  const built = frame(linkType, packet, link);
  let bytes = built.bytes;
  let origLen = bytes.length;
  if (mutation === "truncate") {
    // Cut inside the link layer, a tag, the PPPoE header or the IP header about equally often.
    const cut = randomInt(rng, 0, built.l3Offset + (family === 4 ? 19 : 39));
    bytes = bytes.subarray(0, Math.min(cut, bytes.length));
    origLen = rng() < 0.5 ? bytes.length : origLen;
  } else if (mutation === "snaplen") {
    bytes = bytes.subarray(0, randomInt(rng, built.l3Offset, bytes.length));
  } else if (mutation === "capturedBeyondOriginal") {
    origLen = randomInt(rng, 0, bytes.length - 1);
  }
  return { bytes: bytes.slice(), origLen, tsSec: randomInt(rng, 0, 0xffffffff), tsNsec: randomInt(rng, 0, 999_999_999) };
}

export interface RandomTargetsOptions {
  count: number;
  /** Slots to choose from (each used at most once). */
  freeSlots: number[];
  /** Probability of an IPv6 target; 0.5 if not given. */
  ipv6?: number;
}

const IPV6_PREFIX_LENGTHS = [128, 128, 64, 64, 56, 56, 48, 48, 0, 1, 47, 52, 57, 60, 63, 65, 100, 127];

/**
 * Random targets on ADDRESS_POOL: IPv4 /32s and IPv6 prefixes of common and odd lengths that overlap,
 * with several intercepts on one prefix and repeated streams. Slots are taken from `freeSlots`.
 */
export function randomTargets(rng: Rng, options: RandomTargetsOptions): Target[] {
  const targets: Target[] = [];
  const free = options.freeSlots.slice();
  for (let i = 0; i < options.count && free.length > 0; i++) {
    const slot = free.splice(randomInt(rng, 0, free.length - 1), 1)[0];
    const previous = targets.length > 0 ? pick(rng, targets) : undefined;
    const family: 4 | 6 = previous && rng() < 0.25 ? previous.family : rng() < (options.ipv6 ?? 0.5) ? 6 : 4;
    const sharePrefix = previous?.family === family && rng() < 0.25;
    const prefixLength = sharePrefix ? previous.prefixLength : family === 4 ? 32 : pick(rng, IPV6_PREFIX_LENGTHS);
    const address = sharePrefix ? previous.address.slice() : maskAddress(randomAddress(rng, family), prefixLength);
    const stream =
      previous && rng() < 0.2
        ? previous
        : {
            interceptId: rng() < 0.05 ? 0x3fffffff : randomInt(rng, 1, 6),
            sessionId: rng() < 0.05 ? 0xffffffff : randomInt(rng, 0, 3),
            mediationAddress: pick(rng, [0xc6336401, 0xc6336402]),
            mediationPort: pick(rng, [30030, 30031, 65535]),
          };
    targets.push({
      slot,
      family,
      address,
      prefixLength,
      interceptId: stream.interceptId,
      sessionId: stream.sessionId,
      mediationAddress: stream.mediationAddress,
      mediationPort: stream.mediationPort,
      sourceAddress: rng() < 0.8 ? 0 : pick(rng, [0xc0000263, 0xcb007101]),
      tunnel: randomInt(rng, 0, 3),
      dscp: rng() < 0.7 ? DSCP_INHERIT : randomInt(rng, 0, 63),
    });
  }
  return targets;
}
