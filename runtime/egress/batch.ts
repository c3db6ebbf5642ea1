/**
 * sendmmsg(2) batches whose iovecs point into the filter's memory: the kernel reads the outer
 * packets where the filter wrote them (shared/notes/platform.md: zero-copy). The mmsghdr, iovec and
 * address arrays live in one anonymous mapping so that their addresses never move.
 */
import { ERRNO, libc } from "../ffi/libc.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, MSG_DONTWAIT, PROT_READ, PROT_WRITE } from "../ffi/linux.ts";
import type { MirroredPacket } from "../filter/types.ts";
import { emptyCounters, emptySlotCounters, type EgressCounters, type EgressDrop, type SlotEgressCounters } from "./types.ts";

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

/** Writes a message's destination address at `at` in `names`; returns its length. */
export type NameWriter = (packet: MirroredPacket, names: DataView, at: number) => number;

export class MessageBatch {
  readonly capacity: number;
  readonly counters: EgressCounters = emptyCounters();
  readonly slotCounters = new Map<number, SlotEgressCounters>();
  readonly #base: number;
  readonly #view: DataView;
  #count = 0;
  #slots: Uint32Array;
  #lengths: Uint32Array;
  /** Bytes of each whole outer packet (what the mediation device receives), skipped bytes included. */
  #skip = 0;
  #buffer: ArrayBuffer | undefined;
  #bufferAddress = 0;

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

  /**
   * Sends `packets` (skipping `skip` leading bytes of each: the UDP egress sends only the payload)
   * on `fd`, `capacity` at a time; failures are counted per reason and slot and the batch goes on.
   */
  send(fd: number, packets: readonly MirroredPacket[], skip: number, name: NameWriter): void {
    this.#skip = skip;
    for (const packet of packets) {
      if (this.#count === this.capacity) this.flush(fd);
      const i = this.#count++;
      const buffer = packet.bytes.buffer as ArrayBuffer;
      if (buffer !== this.#buffer) {
        this.#buffer = buffer;
        this.#bufferAddress = libc().addressOf(buffer);
      }
      const iov = this.capacity * MMSGHDR + i * IOVEC;
      const length = packet.bytes.byteLength - skip;
      setAddress(this.#view, iov, this.#bufferAddress + packet.bytes.byteOffset + skip);
      setAddress(this.#view, iov + 8, length);
      const nameLength = name(packet, this.#view, this.capacity * (MMSGHDR + IOVEC) + i * NAME);
      this.#view.setUint32(i * MMSGHDR + 8, nameLength, true);
      this.#slots[i] = packet.slot;
      this.#lengths[i] = length;
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
        // Consecutive packets of one slot (a stream's fragments, a burst) share one map lookup.
        let slot = -1;
        let counts: SlotEgressCounters | undefined;
        for (let i = at; i < at + sent; i++) {
          const length = this.#lengths[i];
          bytes += length;
          if (this.#slots[i] !== slot) counts = this.#slot((slot = this.#slots[i]));
          counts!.packets++;
          counts!.bytes += length + this.#skip;
        }
        this.counters.sentBytes += bytes;
        this.counters.sent += sent;
        at += sent;
        continue;
      }
      // The message at `at` failed: count it and go on with the rest (never fatal).
      const reason = dropReason(sent === 0 ? ERRNO.EAGAIN : -sent);
      this.counters.dropped[reason]++;
      this.#slot(this.#slots[at]).dropped[reason]++;
      at++;
    }
    this.#count = 0;
  }

  #slot(slot: number): SlotEgressCounters {
    let counts = this.slotCounters.get(slot);
    if (!counts) this.slotCounters.set(slot, (counts = emptySlotCounters()));
    return counts;
  }

  close(): void {
    libc().munmap(this.#base, this.capacity * PER_MESSAGE);
  }
}
