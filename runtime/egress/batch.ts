/**
 * sendmmsg(2) batches whose iovecs point into the filter's memory: the kernel reads the outer
 * packets where the filter wrote them (shared/notes/platform.md: zero-copy). The mmsghdr, iovec and
 * address arrays live in one anonymous mapping so that their addresses never move.
 */
import { ERRNO, libc } from "../ffi/libc.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, MSG_DONTWAIT, PROT_READ, PROT_WRITE } from "../ffi/linux.ts";
import type { FilterOutput, MirroredPacket } from "../filter/types.ts";
import { emptyCounters, SlotTable, type EgressCounters, type EgressDrop } from "./types.ts";

const MMSGHDR = 64;
const IOVEC = 16;
/** Room for a sockaddr_in (16) or sockaddr_ll (20). */
const NAME = 32;
const PER_MESSAGE = MMSGHDR + IOVEC + NAME;

/** A 64-bit little-endian pointer or size from a number (< 2^53), without a BigInt per packet. */
function setAddress(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

export function dropReason(errno: number): EgressDrop {
  switch (errno) {
    case ERRNO.EAGAIN:
    case ERRNO.ENOBUFS:
      return "socket_full";
    case ERRNO.ENETUNREACH:
    case ERRNO.EHOSTUNREACH:
    case ERRNO.ENETDOWN:
    case ERRNO.ENODEV:
    case ERRNO.ENXIO:
    case ERRNO.EADDRNOTAVAIL:
    case ERRNO.EPERM:
    case ERRNO.EACCES:
      return "unreachable";
    case ERRNO.EMSGSIZE:
      return "too_big";
    default:
      return "other";
  }
}

/**
 * Writes the destination address of the outer packet at `bytes[at..]` at `nameAt` in `names`;
 * returns its length. `fixed`: the same address for every packet (written once per message slot).
 */
export interface NameWriter {
  (bytes: Uint8Array, at: number, names: DataView, nameAt: number): number;
}
export type NamePolicy = NameWriter | { fixed: Uint8Array };

/** Descriptor layout (docs/filter-abi.md "Output"): offset, length, slot, tunnel, ... */
const DESCRIPTOR = 32;

export class MessageBatch {
  readonly capacity: number;
  readonly counters: EgressCounters = emptyCounters();
  readonly slotCounters = new SlotTable();
  readonly #base: number;
  readonly #view: DataView;
  #count = 0;
  #slots: Uint32Array;
  #lengths: Uint32Array;
  /** Bytes of each whole outer packet (what the mediation device receives), skipped bytes included. */
  #skip = 0;
  #buffer: ArrayBufferLike | undefined;
  #bufferAddress = 0;
  /** The fixed name written into every message slot, if any. */
  #fixed: Uint8Array | undefined;

  constructor(capacity = 1024) {
    this.capacity = capacity;
    this.#base = libc().mmap(capacity * PER_MESSAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    this.#view = new DataView(libc().view(this.#base, capacity * PER_MESSAGE));
    this.#slots = new Uint32Array(capacity);
    this.#lengths = new Uint32Array(capacity);
    for (let i = 0; i < capacity; i++) {
      const header = i * MMSGHDR;
      const iov = capacity * MMSGHDR + i * IOVEC;
      const name = capacity * (MMSGHDR + IOVEC) + i * NAME;
      setAddress(this.#view, header, this.#base + name); // msg_name
      setAddress(this.#view, header + 16, this.#base + iov); // msg_iov
      setAddress(this.#view, header + 24, 1); // msg_iovlen
    }
  }

  #address(buffer: ArrayBufferLike): number {
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#bufferAddress = libc().addressOf(buffer as ArrayBuffer);
    }
    return this.#bufferAddress;
  }

  #useName(policy: NamePolicy): NameWriter | undefined {
    if (typeof policy === "function") {
      this.#fixed = undefined;
      return policy;
    }
    if (this.#fixed !== policy.fixed) {
      this.#fixed = policy.fixed;
      const first = this.capacity * (MMSGHDR + IOVEC);
      for (let i = 0; i < this.capacity; i++) {
        for (let k = 0; k < policy.fixed.length; k++) this.#view.setUint8(first + i * NAME + k, policy.fixed[k]);
        this.#view.setUint32(i * MMSGHDR + 8, policy.fixed.length, true);
      }
    }
    return undefined;
  }

  /** Queues one message: `length` bytes at absolute `address`; flushes when the batch is full. */
  #add(fd: number, address: number, length: number, slot: number, name: NameWriter | undefined, bytes: Uint8Array, at: number): void {
    if (this.#count === this.capacity) this.flush(fd);
    const i = this.#count++;
    const iov = this.capacity * MMSGHDR + i * IOVEC;
    setAddress(this.#view, iov, address);
    setAddress(this.#view, iov + 8, length);
    if (name) this.#view.setUint32(i * MMSGHDR + 8, name(bytes, at, this.#view, this.capacity * (MMSGHDR + IOVEC) + i * NAME), true);
    this.#slots[i] = slot;
    this.#lengths[i] = length;
  }

  /**
   * Sends `packets` (skipping `skip` leading bytes of each: the UDP egress sends only the payload)
   * on `fd`, `capacity` at a time; failures are counted per reason and slot and the batch goes on.
   */
  send(fd: number, packets: readonly MirroredPacket[], skip: number, policy: NamePolicy): void {
    this.#skip = skip;
    const name = this.#useName(policy);
    for (let p = 0; p < packets.length; p++) {
      const bytes = packets[p].bytes;
      const address = this.#address(bytes.buffer) + bytes.byteOffset + skip;
      this.#add(fd, address, bytes.byteLength - skip, packets[p].slot, name, bytes, 0);
    }
    this.flush(fd);
  }

  /**
   * The same for the packets of `output` (the filter's descriptors, in place) whose tunnel is
   * `tunnel`, or all of them when `tunnel` is -1.
   */
  sendOutput(fd: number, output: FilterOutput, tunnel: number, skip: number, policy: NamePolicy): void {
    this.#skip = skip;
    const name = this.#useName(policy);
    const { view, bytes } = output;
    const base = this.#address(bytes.buffer) + bytes.byteOffset + output.out + skip;
    for (let i = 0, d = output.descriptors; i < output.count; i++, d += DESCRIPTOR) {
      if (tunnel >= 0 && view.getUint32(d + 12, true) !== tunnel) continue;
      const offset = view.getUint32(d, true);
      this.#add(fd, base + offset, view.getUint32(d + 4, true) - skip, view.getUint32(d + 8, true), name, bytes, output.out + offset);
    }
    this.flush(fd);
  }

  flush(fd: number): void {
    const c = libc();
    let at = 0;
    while (at < this.#count) {
      const sent = c.sendmmsg(fd, this.#base + at * MMSGHDR, this.#count - at, MSG_DONTWAIT);
      if (sent > 0) {
        let bytes = 0;
        const table = this.slotCounters;
        for (let i = at; i < at + sent; i++) {
          const length = this.#lengths[i];
          bytes += length;
          table.sent(this.#slots[i], length + this.#skip);
        }
        this.counters.sentBytes += bytes;
        this.counters.sent += sent;
        at += sent;
        continue;
      }
      // The message at `at` failed: count it and go on with the rest (never fatal).
      const reason = dropReason(sent === 0 ? ERRNO.EAGAIN : -sent);
      this.counters.dropped[reason]++;
      this.slotCounters.dropped(this.#slots[at], reason);
      at++;
    }
    this.#count = 0;
  }

  close(): void {
    libc().munmap(this.#base, this.capacity * PER_MESSAGE);
  }
}
