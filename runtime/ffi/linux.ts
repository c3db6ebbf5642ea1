/** Linux constants and structure layouts (x86-64/arm64) for the data plane's sockets. */

export const AF_INET = 2;
export const AF_PACKET = 17;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_IP = 0;
export const IPPROTO_UDP = 17;
export const IPPROTO_RAW = 255;
export const IP_HDRINCL = 3;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_SNDBUFFORCE = 32;
export const SO_BINDTODEVICE = 25;
export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_MR_PROMISC = 1;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_FANOUT = 18;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;
export const PACKET_FANOUT_HASH = 0;
export const TPACKET_V3 = 2;
export const TP_STATUS_USER = 1;
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_LOCKED = 0x2000;
export const MAP_POPULATE = 0x8000;
export const POLLIN = 0x001;
export const POLLERR = 0x008;
export const SO_ERROR = 4;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const MSG_DONTWAIT = 0x40;
/** CAP_NET_RAW's bit in /proc/self/status CapEff (linux/capability.h). */
export const CAP_NET_RAW = 13;

export const htons = (value: number) => ((value & 0xff) << 8) | ((value >> 8) & 0xff);

/** struct sockaddr_ll (20 bytes). */
export function sockaddrLl(ifindex: number, protocol: number, hardwareAddress?: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(20);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, AF_PACKET, true);
  view.setUint16(2, protocol, false);
  view.setInt32(4, ifindex, true);
  if (hardwareAddress) {
    bytes[11] = hardwareAddress.length;
    bytes.set(hardwareAddress, 12);
  }
  return bytes;
}

/** struct sockaddr_in (16 bytes); `address` is the big-endian u32 reading of the IPv4 address. */
export function sockaddrIn(address: number, port: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, port, false);
  view.setUint32(4, address, false);
  return bytes;
}

export const u32 = (value: number) => new Uint8Array(Uint32Array.of(value).buffer);
