/**
 * The few libc calls the live data plane makes (AF_PACKET rings, raw sockets, sendmmsg), the same on
 * Node (koffi, `node/libc.ts`) and Deno (`Deno.dlopen`, `deno/libc.ts`). Addresses are plain numbers:
 * x86-64 and arm64 user-space addresses fit in 2^53. Structures are passed as bytes laid out by the
 * caller (Linux x86-64/arm64 LP64 layouts).
 *
 * ```ts
 * import { libc } from "./libc.ts";
 * const fd = libc.socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
 * ```
 */

export interface Libc {
  /** Which binding this is: "koffi" or "deno". */
  readonly binding: string;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, address: Uint8Array): void;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): void;
  /** Fills `value`; returns the length the kernel wrote. */
  getsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
  /** Returns the mapping's address. */
  mmap(length: number, prot: number, flags: number, fd: number, offset: number): number;
  munmap(address: number, length: number): void;
  /** `pollfd` structures as bytes (8 each); returns how many are ready, 0 on timeout or EINTR. */
  poll(fds: Uint8Array, count: number, timeoutMs: number): number;
  /** Messages sent, or -errno: the hot path never throws. */
  sendmmsg(fd: number, vector: number, count: number, flags: number): number;
  /** Messages received, or -errno (EAGAIN: none waiting, with MSG_DONTWAIT); no timeout. */
  recvmmsg(fd: number, vector: number, count: number, flags: number): number;
  close(fd: number): void;
  eventfd(flags: number): number;
  /** Bytes written, or -errno. */
  write(fd: number, bytes: Uint8Array): number;
  /** Bytes read, or -errno (EAGAIN on an empty non-blocking descriptor). */
  read(fd: number, bytes: Uint8Array): number;
  /** 0 if there is no such interface. */
  ifNameToIndex(name: string): number;
  /** An ArrayBuffer over `length` bytes of native memory at `address` (no copy). */
  view(address: number, length: number): ArrayBuffer;
  /** The native address of an ArrayBuffer's bytes (for pointers inside structures). */
  addressOf(buffer: ArrayBuffer): number;
}

/** A failed libc call: names the call and the errno, e.g. "socket(AF_PACKET): EPERM (Operation not permitted)". */
export class LibcError extends Error {
  override name = "LibcError";
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoName(errno)} (${ERRNO_TEXT[errno] ?? "error"})`);
  }
}

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EINVAL: 22,
  EMSGSIZE: 90,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENOBUFS: 105,
  EHOSTUNREACH: 113,
  ENODEV: 19,
  ENXIO: 6,
} as const;

const ERRNO_TEXT: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  4: "Interrupted system call",
  6: "No such device or address",
  9: "Bad file descriptor",
  11: "Resource temporarily unavailable",
  12: "Cannot allocate memory",
  13: "Permission denied",
  19: "No such device",
  22: "Invalid argument",
  90: "Message too long",
  99: "Cannot assign requested address",
  100: "Network is down",
  101: "Network is unreachable",
  105: "No buffer space available",
  113: "No route to host",
};

export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(ERRNO)) if (value === errno) return name;
  return `errno ${errno}`;
}
