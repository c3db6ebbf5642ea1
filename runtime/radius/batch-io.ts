/**
 * Batched datagram I/O for a RADIUS server's IPv4 socket on Node: recvmmsg(2) drains the datagrams
 * queued on the socket after node:dgram delivered one, and sendmmsg(2) sends the replies released
 * by one group commit, through the libc binding (runtime/ffi) on the socket's own descriptor.
 * node:dgram costs a Buffer, a RemoteInfo object and a trip through libuv and the microtask queue
 * per datagram each way; here one system call moves up to BATCH datagrams.
 *
 * The descriptor stays libuv's: it is non-blocking, libuv polls it, and whatever this module does
 * not read libuv reads as before (it finds the queue empty after a drain and waits). Anything this
 * module cannot do (Deno's node:dgram exposes no descriptor, an IPv6 socket, a libc call that fails,
 * a send the socket buffer refuses) falls back to node:dgram, so it changes cost, never behaviour.
 *
 * ```ts
 * const io = BatchIo.open(socket); // undefined: use node:dgram alone
 * io?.drain((datagram, from) => server.receive(datagram, from));
 * ```
 */
import type { RemoteInfo, Socket } from "node:dgram";
import { libc } from "../ffi/libc.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, MSG_DONTWAIT, PROT_READ, PROT_WRITE } from "../ffi/linux.ts";

/** Datagrams per system call. */
const BATCH = 64;
/** RADIUS's 4096-byte maximum, plus one so that a longer datagram reaches the decoder too long. */
const SLOT = 4097;
const MMSGHDR = 64;
const IOVEC = 16;
const NAME = 32;
const AF_INET = 2;
/** recvmmsg calls per drain, so that one busy socket cannot hold the event loop. */
const MAX_CALLS_PER_DRAIN = 4;

function setAddress(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** One direction's mmsghdr, iovec, address and data arrays in one anonymous mapping (addresses never move). */
class Vector {
  readonly base: number;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly dataAt: number;

  constructor() {
    const size = BATCH * (MMSGHDR + IOVEC + NAME + SLOT);
    this.base = libc().mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const buffer = libc().view(this.base, size);
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
    this.dataAt = BATCH * (MMSGHDR + IOVEC + NAME);
    for (let i = 0; i < BATCH; i++) {
      const header = i * MMSGHDR;
      setAddress(this.view, header, this.base + this.nameAt(i)); // msg_name
      this.view.setUint32(header + 8, NAME, true); // msg_namelen
      setAddress(this.view, header + 16, this.base + this.iovAt(i)); // msg_iov
      setAddress(this.view, header + 24, 1); // msg_iovlen
      setAddress(this.view, this.iovAt(i), this.base + this.slotAt(i));
      setAddress(this.view, this.iovAt(i) + 8, SLOT);
    }
  }

  iovAt(i: number): number {
    return BATCH * MMSGHDR + i * IOVEC;
  }
  nameAt(i: number): number {
    return BATCH * (MMSGHDR + IOVEC) + i * NAME;
  }
  slotAt(i: number): number {
    return this.dataAt + i * SLOT;
  }
}

/** The libuv descriptor of a bound node:dgram socket, or undefined where the runtime hides it. */
function descriptorOf(socket: Socket): number | undefined {
  if ("Deno" in globalThis) return undefined;
  // node:dgram keeps its UDP handle under an internal symbol ("state symbol"); `_handle` is the
  // same handle behind a deprecation warning.
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[symbol];
    const fd = state?.handle?.fd;
    if (typeof fd === "number" && fd >= 0) return fd;
  }
  return undefined;
}

export interface BatchCounters {
  /** recvmmsg calls that returned datagrams, and the datagrams. */
  receiveCalls: number;
  received: number;
  /** sendmmsg calls and the datagrams they sent. */
  sendCalls: number;
  sent: number;
  /** Replies handed back to node:dgram (socket buffer full, or an error). */
  sentByFallback: number;
}

export class BatchIo {
  readonly counters: BatchCounters = { receiveCalls: 0, received: 0, sendCalls: 0, sent: 0, sentByFallback: 0 };
  private readonly rx = new Vector();
  private readonly tx = new Vector();
  /** Source address text by its 32-bit value: the few NAS addresses, formatted once. */
  private readonly names = new Map<number, string>();
  private failed = false;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly fd: number,
  ) {}

  /** Batched I/O for a bound IPv4 socket, or undefined (then node:dgram alone does the I/O). */
  static open(socket: Socket): BatchIo | undefined {
    try {
      if (socket.address().family !== "IPv4") return undefined;
      const fd = descriptorOf(socket);
      return fd === undefined ? undefined : new BatchIo(socket, fd);
    } catch {
      return undefined;
    }
  }

  /** Reads the datagrams queued now (a bounded number) and hands each to `deliver`, in order. */
  drain(deliver: (datagram: Buffer, from: RemoteInfo) => void): void {
    if (this.failed) return;
    const { rx } = this;
    const c = libc();
    for (let call = 0; call < MAX_CALLS_PER_DRAIN; call++) {
      const n = c.recvmmsg(this.fd, rx.base, BATCH, MSG_DONTWAIT);
      if (n <= 0) {
        // EAGAIN/EINTR: nothing queued. Anything else (EBADF: closed under us) ends batching;
        // node:dgram goes on alone and reports socket errors itself.
        if (n < 0 && n !== -11 && n !== -4) this.failed = true;
        return;
      }
      this.counters.receiveCalls++;
      this.counters.received += n;
      for (let i = 0; i < n; i++) {
        const header = i * MMSGHDR;
        const length = rx.view.getUint32(header + 56, true); // msg_len
        const name = rx.nameAt(i);
        const family = rx.view.getUint16(name, true);
        // Reset for the next call: the kernel wrote the name length back.
        rx.view.setUint32(header + 8, NAME, true);
        if (family !== AF_INET) continue;
        const port = rx.view.getUint16(name + 2, false);
        const address = this.nameOf(rx.view.getUint32(name + 4, false));
        const at = rx.slotAt(i);
        // A copy: the request's handling may outlive this batch (the slot is reused by the next call).
        const datagram = Buffer.allocUnsafe(length);
        datagram.set(rx.bytes.subarray(at, at + length));
        deliver(datagram, { address, family: "IPv4", port, size: length });
      }
      if (n < BATCH) return;
    }
  }

  /** Sends each reply to its destination, BATCH per system call; what the kernel refuses goes through node:dgram. */
  send(replies: readonly { readonly bytes: Uint8Array; readonly from: RemoteInfo }[]): void {
    let at = 0;
    if (!this.failed) {
      const { tx } = this;
      const c = libc();
      while (at < replies.length) {
        const count = Math.min(BATCH, replies.length - at);
        let fits = 0;
        for (; fits < count; fits++) {
          const { bytes, from } = replies[at + fits];
          if (bytes.length > SLOT || from.family !== "IPv4") break;
          const name = tx.nameAt(fits);
          tx.view.setUint16(name, AF_INET, true);
          tx.view.setUint16(name + 2, from.port, false);
          if (!writeIPv4(tx.view, name + 4, from.address)) break;
          tx.view.setUint32(fits * MMSGHDR + 8, 16, true);
          tx.bytes.set(bytes, tx.slotAt(fits));
          setAddress(tx.view, tx.iovAt(fits) + 8, bytes.length);
        }
        if (fits === 0) break;
        const sent = c.sendmmsg(this.fd, tx.base, fits, MSG_DONTWAIT);
        if (sent <= 0) break;
        this.counters.sendCalls++;
        this.counters.sent += sent;
        at += sent;
        if (sent < fits) break;
      }
    }
    for (; at < replies.length; at++) {
      const { bytes, from } = replies[at];
      this.counters.sentByFallback++;
      this.socket.send(bytes, from.port, from.address);
    }
  }

  /** Stops batching and unmaps the vectors (the server closes the socket itself). */
  close(): void {
    if (this.closed) return;
    this.closed = this.failed = true;
    const size = BATCH * (MMSGHDR + IOVEC + NAME + SLOT);
    libc().munmap(this.rx.base, size);
    libc().munmap(this.tx.base, size);
  }

  private nameOf(value: number): string {
    let text = this.names.get(value);
    if (text === undefined) {
      text = `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
      if (this.names.size >= 4096) this.names.clear();
      this.names.set(value, text);
    }
    return text;
  }
}

/** Dotted-quad text into 4 bytes; false if it is not one. */
function writeIPv4(view: DataView, at: number, text: string): boolean {
  let value = 0;
  let digits = 0;
  let index = 0;
  for (let i = 0; i <= text.length; i++) {
    const ch = i < text.length ? text.charCodeAt(i) : 46;
    if (ch === 46) {
      if (digits === 0 || value > 255 || index > 3) return false;
      view.setUint8(at + index++, value);
      value = 0;
      digits = 0;
    } else if (ch >= 48 && ch <= 57 && digits < 3) {
      value = value * 10 + (ch - 48);
      digits++;
    } else return false;
  }
  return index === 4;
}
