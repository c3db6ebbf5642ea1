/**
 * Egress for unprivileged use: a plain UDP socket. The kernel builds the outer IPv4 and UDP
 * headers, so the filter's (the first 28 bytes of each outer packet) are not sent: the datagram's
 * payload is the mirror header and the mirrored packet. The source port is the socket's, the source
 * address the tunnel's (bound when it is local) else the route's, and the filter must not fragment
 * (the data plane configures it with MTU 65535; the kernel fragments instead). DSCP still follows
 * the filter's per-packet choice only with the raw egresses; here the socket's default TOS is used.
 */
import { libc } from "../ffi/libc.ts";
import { AF_INET, IPPROTO_UDP, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, sockaddrIn } from "../ffi/linux.ts";
import { largeSendBuffer } from "./raw-ipv4.ts";
import { SocketEgress } from "./sockets.ts";

const IPV4_AND_UDP = 28;

export function udpEgress(): SocketEgress {
  return new SocketEgress("udp", {
    skip: IPV4_AND_UDP,
    open(tunnel) {
      const fd = libc().socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
      largeSendBuffer(fd);
      if (tunnel) {
        try {
          libc().bind(fd, sockaddrIn(tunnel.sourceAddress, 0));
        } catch (e) {
          libc().close(fd);
          throw new Error(`tunnel ${tunnel.name}: cannot bind a UDP socket to its source address: ${(e as Error).message}`);
        }
      }
      return fd;
    },
    name(b, p, names, at) {
      names.setUint16(at, AF_INET, true);
      names.setUint16(at + 2, (b[p + 22] << 8) | b[p + 23], false);
      names.setUint32(at + 4, ((b[p + 16] << 24) | (b[p + 17] << 16) | (b[p + 18] << 8) | b[p + 19]) >>> 0, false);
      names.setUint32(at + 8, 0);
      names.setUint32(at + 12, 0);
      return 16;
    },
  });
}
