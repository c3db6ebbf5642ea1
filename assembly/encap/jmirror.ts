// Juniper packet mirror ("JMirror") encapsulation: IPv4 | UDP | mirror header | mirrored L3 packet,
// as docs/filter-abi.md "JMirror encapsulation" fixes it. Wireshark decodes it as `jmirror`.
import { internetChecksum } from "../checksum";
import { emit } from "../output";

const IPV4_HEADER: u32 = 20;
const UDP_HEADER: u32 = 8;
const MIRROR_HEADER: u32 = 8;
const ENCAP: u32 = UDP_HEADER + MIRROR_HEADER;
const MAX_DATAGRAM: u32 = 65535;
const TTL: u8 = 255;
const PROTOCOL_UDP: u8 = 17;
// RFC 791 section 3.1: flags and fragment offset share one 16-bit field; MF is bit 13.
const MORE_FRAGMENTS: u32 = 0x2000;

/** True if the outer datagram for `length` mirrored bytes would exceed 65,535 bytes. */
export function jmirrorOversize(length: u32): bool {
  return IPV4_HEADER + ENCAP + length > MAX_DATAGRAM;
}

// RFC 791: every fragment but the last carries a multiple of 8 bytes of payload.
@inline function fragmentPayload(mtu: u32): u32 {
  return ((mtu - IPV4_HEADER) >> 3) << 3;
}

/** Bytes of `out` one copy of `length` mirrored bytes takes, all fragments included. */
export function jmirrorSize(length: u32, mtu: u32): u32 {
  const payload = ENCAP + length;
  if (IPV4_HEADER + payload <= mtu) return IPV4_HEADER + payload;
  const chunk = fragmentPayload(mtu);
  return ((payload + chunk - 1) / chunk) * IPV4_HEADER + payload;
}

function writeIpv4(p: usize, tos: u32, totalLength: u32, id: u32, fragment: u32, source: u32, destination: u32): void {
  store<u8>(p, 0x45);
  store<u8>(p, <u8>tos, 1);
  store<u16>(p, bswap<u16>(<u16>totalLength), 2);
  store<u16>(p, bswap<u16>(<u16>id), 4);
  store<u16>(p, bswap<u16>(<u16>fragment), 6);
  store<u8>(p, TTL, 8);
  store<u8>(p, PROTOCOL_UDP, 9);
  store<u16>(p, 0, 10);
  store<u32>(p, bswap<u32>(source), 12);
  store<u32>(p, bswap<u32>(destination), 16);
  store<u16>(p, internetChecksum(p, IPV4_HEADER), 10);
}

// UDP checksum 0: not computed (RFC 768), as JMirror senders do.
function writeUdpAndMirror(p: usize, port: u32, udpLength: u32, interceptId: u32, sessionId: u32): void {
  const portBe = bswap<u16>(<u16>port);
  store<u16>(p, portBe);
  store<u16>(p, portBe, 2);
  store<u16>(p, bswap<u16>(<u16>udpLength), 4);
  store<u16>(p, 0, 6);
  store<u32>(p, bswap<u32>(interceptId), 8);
  store<u32>(p, bswap<u32>(sessionId), 12);
}

/** Writes one copy of `length` bytes at `packet`, fragmented to `mtu` if needed; returns the
 * number of outer packets emitted. */
export function buildJmirror(
  packet: usize,
  length: u32,
  tos: u32,
  id: u32,
  source: u32,
  destination: u32,
  port: u32,
  interceptId: u32,
  sessionId: u32,
  mtu: u32,
): u32 {
  const payload = ENCAP + length;
  if (IPV4_HEADER + payload <= mtu) {
    const p = emit(IPV4_HEADER + payload, false);
    writeIpv4(p, tos, IPV4_HEADER + payload, id, 0, source, destination);
    writeUdpAndMirror(p + IPV4_HEADER, port, payload, interceptId, sessionId);
    memory.copy(p + IPV4_HEADER + ENCAP, packet, length);
    return 1;
  }
  const chunk = fragmentPayload(mtu);
  let done: u32 = 0;
  let packets: u32 = 0;
  while (done < payload) {
    const size = min(chunk, payload - done);
    const more = done + size < payload ? MORE_FRAGMENTS : 0;
    const p = emit(IPV4_HEADER + size, true);
    writeIpv4(p, tos, IPV4_HEADER + size, id, more | (done >> 3), source, destination);
    if (done == 0) {
      writeUdpAndMirror(p + IPV4_HEADER, port, payload, interceptId, sessionId);
      memory.copy(p + IPV4_HEADER + ENCAP, packet, size - ENCAP);
    } else {
      memory.copy(p + IPV4_HEADER, packet + done - ENCAP, size);
    }
    done += size;
    packets++;
  }
  return packets;
}
