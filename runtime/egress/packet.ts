/**
 * Egress by AF_PACKET to a configured next hop: the outer IPv4 packets go out of one interface in
 * Ethernet frames addressed to the next hop's MAC address, bypassing the host's routing table and
 * neighbour cache (for a dedicated mediation link, or a host whose routes must not carry LI
 * traffic). Frames go straight to the driver (PACKET_QDISC_BYPASS): no routing, no IP output path,
 * no queueing discipline, about a third cheaper per copy than the raw socket; a full device queue
 * is counted as socket_full. Needs CAP_NET_RAW.
 */
import { libc } from "../ffi/libc.ts";
import { AF_PACKET, ETH_P_IP, htons, PACKET_QDISC_BYPASS, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, sockaddrLl, SOL_PACKET, u32 } from "../ffi/linux.ts";
import { requireNetRaw } from "../dataplane/capabilities.ts";
import { largeSendBuffer } from "./raw-ipv4.ts";
import { SocketEgress } from "./sockets.ts";

/** "02:00:5e:00:53:01" -> 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`expected a MAC address such as 02:00:5e:00:53:01, found "${text}"`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function packetEgress(interfaceName: string, nextHop: string): SocketEgress {
  requireNetRaw(`egress through AF_PACKET on ${interfaceName}`);
  const mac = parseMac(nextHop);
  const c = libc();
  const defaultIndex = c.ifNameToIndex(interfaceName);
  if (defaultIndex === 0) throw new Error(`egress interface ${interfaceName}: no such interface`);
  const address = sockaddrLl(defaultIndex, ETH_P_IP, mac);
  return new SocketEgress("packet", {
    skip: 0,
    open(tunnel) {
      // The next hop is on the configured link; a tunnel may only name that interface or none.
      if (tunnel?.interface !== undefined && tunnel.interface !== interfaceName) {
        throw new Error(`tunnel ${tunnel.name}: interface ${tunnel.interface} differs from the AF_PACKET egress interface ${interfaceName}`);
      }
      const fd = c.socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
      largeSendBuffer(fd);
      c.setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, u32(1));
      return fd;
    },
    // One next hop for every packet: written once into every message slot.
    name: { fixed: address },
  });
}
