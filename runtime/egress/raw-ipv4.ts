/**
 * The default egress: a raw IPv4 socket with IP_HDRINCL (IPPROTO_RAW implies it, raw(7)). The
 * filter's outer IPv4 header goes out as written (the kernel only fills in the checksum), routed by
 * the host's routing table, or out of the tunnel's interface (SO_BINDTODEVICE) when it names one.
 * Needs CAP_NET_RAW.
 */
import { libc } from "../ffi/libc.ts";
import { AF_INET, IPPROTO_RAW, SO_BINDTODEVICE, SO_SNDBUF, SO_SNDBUFFORCE, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, SOL_SOCKET, u32 } from "../ffi/linux.ts";
import { requireNetRaw } from "../dataplane/capabilities.ts";
import { SocketEgress } from "./sockets.ts";
import type { EgressTunnel } from "./types.ts";

const SEND_BUFFER = 4 << 20;

/** Sets a large send buffer: SO_SNDBUFFORCE with CAP_NET_ADMIN, else as much as net.core.wmem_max allows. */
export function largeSendBuffer(fd: number): void {
  try {
    libc().setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, u32(SEND_BUFFER));
  } catch {
    libc().setsockopt(fd, SOL_SOCKET, SO_SNDBUF, u32(SEND_BUFFER));
  }
}

export function bindToDevice(fd: number, tunnel: EgressTunnel | undefined): void {
  if (tunnel?.interface === undefined) return;
  try {
    libc().setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, new TextEncoder().encode(`${tunnel.interface}\0`));
  } catch (e) {
    libc().close(fd);
    throw new Error(`tunnel ${tunnel.name}: cannot send through interface ${tunnel.interface}: ${(e as Error).message}`);
  }
}

export function rawIpv4Egress(): SocketEgress {
  requireNetRaw("egress through a raw IPv4 socket");
  return new SocketEgress("raw-ipv4", {
    skip: 0,
    open(tunnel) {
      const fd = libc().socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
      largeSendBuffer(fd);
      bindToDevice(fd, tunnel);
      return fd;
    },
    // The destination is the outer header's (bytes 16..19); the port is not used by raw sockets.
    name(b, p, names, at) {
      names.setUint16(at, AF_INET, true);
      names.setUint16(at + 2, 0, false);
      names.setUint32(at + 4, ((b[p + 16] << 24) | (b[p + 17] << 16) | (b[p + 18] << 8) | b[p + 19]) >>> 0, false);
      names.setUint32(at + 8, 0);
      names.setUint32(at + 12, 0);
      return 16;
    },
  });
}
