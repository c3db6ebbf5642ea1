/**
 * The RADIUS duplicate cache (RFC 5080 §2.2.2): a request with the same client address and port,
 * Identifier and Request Authenticator as one seen in the last `lifetimeMs` is a retransmission,
 * answered with the first one's reply and never acted on twice.
 *
 * One entry per request at tens of thousands of requests per second, each kept for 30 s, so it is
 * built to cost no JavaScript object of its own: entries live in typed arrays, in arrival order
 * in a ring (which is also expiry order), found through an open-addressing index. The Map it
 * replaces built a string key per datagram and kept a key, an entry object and a map slot alive for
 * the lifetime: the control plane's largest single cost in a profile (docs/benchmarks.md).
 *
 * An entry is named by its sequence number (`Entry`), which stays valid while the ring grows; the
 * entry a request is being handled under is pending and is never expired before it is answered.
 */
import { randomBytes } from "node:crypto";

/** An entry's sequence number. */
export type Entry = number;

export const PENDING = 1;
export const ANSWERED = 2;
/** Handled, with no answer (a handler that gave none, or failed): a retransmission gets none either. */
export const UNANSWERED = 3;
export type EntryState = typeof PENDING | typeof ANSWERED | typeof UNANSWERED;

/** Request Authenticator: datagram octets 4..19. */
const AUTH = 4;
const AUTH_LENGTH = 16;
const ADDRESS_LENGTH = 16;
/**
 * Replies of this length (a RADIUS header without attributes: every Accounting-Response) are kept
 * in a typed array, not as an object each: a reply object per request lived the cache's lifetime
 * (30 s) and was copied by every young-generation collection until promoted.
 */
const INLINE_REPLY = 20;

export class DuplicateCache {
  readonly #lifetimeMs: number;
  /** A per-process secret in the hash, so that a client cannot aim its requests at one chain. */
  readonly #seed = randomBytes(4).readUInt32LE(0);
  #capacity!: number;
  /** Sequence numbers of the oldest entry and of the next one. */
  #head = 0;
  #tail = 0;
  // Per ring slot (sequence & (capacity - 1)).
  #state!: Uint8Array;
  #hash!: Uint32Array;
  /** Port << 8 | Identifier. */
  #portId!: Uint32Array;
  #addressLength!: Uint8Array;
  #address!: Uint8Array;
  #auth!: Uint8Array;
  #expires!: Float64Array;
  #replies!: (Uint8Array | undefined)[];
  /** INLINE_REPLY octets per slot, valid where #inline is 1. */
  #replyBytes!: Uint8Array;
  #inline!: Uint8Array;
  /** Open addressing, linear probing: ring slot + 1, or 0 for empty; twice the ring's size. */
  #index!: Uint32Array;

  constructor(lifetimeMs: number, capacity = 1024) {
    this.#lifetimeMs = lifetimeMs;
    let size = 16;
    while (size < capacity) size *= 2;
    this.#allocate(size);
  }

  /** Empty arrays for a ring of `size` entries (a power of two) and its index. */
  #allocate(size: number): void {
    this.#capacity = size;
    this.#state = new Uint8Array(size);
    this.#hash = new Uint32Array(size);
    this.#portId = new Uint32Array(size);
    this.#addressLength = new Uint8Array(size);
    this.#address = new Uint8Array(size * ADDRESS_LENGTH);
    this.#auth = new Uint8Array(size * AUTH_LENGTH);
    this.#expires = new Float64Array(size);
    this.#replies = new Array(size).fill(undefined);
    this.#replyBytes = new Uint8Array(size * INLINE_REPLY);
    this.#inline = new Uint8Array(size);
    this.#index = new Uint32Array(size * 2);
  }

  /** Entries held (pending and answered, not yet expired). */
  get size(): number {
    return this.#tail - this.#head;
  }

  /**
   * The entry of this request (its source address bytes and port, and the datagram's Identifier
   * and Request Authenticator), or -1. An entry whose lifetime is over is not found, even before
   * `expire` removes it.
   */
  find(address: Uint8Array, port: number, datagram: Uint8Array, now: number): Entry | -1 {
    const hash = this.#hashOf(address, port, datagram);
    const mask = this.#index.length - 1;
    const slotMask = this.#capacity - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const at = this.#index[i];
      if (at === 0) return -1;
      const slot = at - 1;
      // An expired entry not yet removed (behind a pending one) may be followed by a live one.
      if (this.#hash[slot] === hash && this.#matches(slot, address, port, datagram) && (this.#state[slot] === PENDING || this.#expires[slot] > now)) {
        // The sequence number of the entry in `slot`: the one in [head, tail) that maps there.
        return this.#head + ((slot - (this.#head & slotMask)) & slotMask);
      }
    }
  }

  state(entry: Entry): EntryState {
    return this.#state[entry & (this.#capacity - 1)] as EntryState;
  }

  /** The reply an answered entry keeps (a copy, for one kept inline). */
  reply(entry: Entry): Uint8Array | undefined {
    const slot = entry & (this.#capacity - 1);
    if (this.#inline[slot] === 1) return this.#replyBytes.slice(slot * INLINE_REPLY, (slot + 1) * INLINE_REPLY);
    return this.#replies[slot];
  }

  /** Adds a pending entry for a request `find` did not know. */
  add(address: Uint8Array, port: number, datagram: Uint8Array): Entry {
    if (this.#tail - this.#head === this.#capacity) this.#grow();
    const entry = this.#tail++;
    const slot = entry & (this.#capacity - 1);
    const hash = this.#hashOf(address, port, datagram);
    this.#state[slot] = PENDING;
    this.#hash[slot] = hash;
    this.#portId[slot] = (port << 8) | datagram[1];
    const length = Math.min(address.length, ADDRESS_LENGTH);
    this.#addressLength[slot] = length;
    const a = slot * ADDRESS_LENGTH;
    for (let i = 0; i < length; i++) this.#address[a + i] = address[i];
    const k = slot * AUTH_LENGTH;
    for (let i = 0; i < AUTH_LENGTH; i++) this.#auth[k + i] = datagram[AUTH + i];
    this.#replies[slot] = undefined;
    this.#inline[slot] = 0;
    const mask = this.#index.length - 1;
    let i = hash & mask;
    while (this.#index[i] !== 0) i = (i + 1) & mask;
    this.#index[i] = slot + 1;
    return entry;
  }

  /** Records how a pending entry was answered (undefined: not at all); it expires `lifetimeMs` from now. */
  finish(entry: Entry, reply: Uint8Array | undefined, now: number): void {
    if (entry < this.#head || entry >= this.#tail) return;
    const slot = entry & (this.#capacity - 1);
    this.#state[slot] = reply ? ANSWERED : UNANSWERED;
    if (reply?.length === INLINE_REPLY) {
      const at = slot * INLINE_REPLY;
      for (let i = 0; i < INLINE_REPLY; i++) this.#replyBytes[at + i] = reply[i];
      this.#inline[slot] = 1;
      this.#replies[slot] = undefined;
    } else {
      this.#inline[slot] = 0;
      this.#replies[slot] = reply;
    }
    this.#expires[slot] = now + this.#lifetimeMs;
  }

  /**
   * Removes the entries whose lifetime is over, oldest first, up to the first pending or live one
   * (all entries share one lifetime, so arrival order is nearly expiry order; an entry behind a
   * slow one lives on for as long as that one was handled).
   */
  expire(now: number): void {
    const slotMask = this.#capacity - 1;
    while (this.#head < this.#tail) {
      const slot = this.#head & slotMask;
      if (this.#state[slot] === PENDING || this.#expires[slot] > now) return;
      this.#unindex(slot);
      this.#state[slot] = 0;
      this.#replies[slot] = undefined;
      this.#inline[slot] = 0;
      this.#head++;
    }
  }

  #matches(slot: number, address: Uint8Array, port: number, datagram: Uint8Array): boolean {
    if (this.#portId[slot] !== ((port << 8) | datagram[1])) return false;
    const length = this.#addressLength[slot];
    if (length !== Math.min(address.length, ADDRESS_LENGTH)) return false;
    const a = slot * ADDRESS_LENGTH;
    for (let i = 0; i < length; i++) if (this.#address[a + i] !== address[i]) return false;
    const k = slot * AUTH_LENGTH;
    for (let i = 0; i < AUTH_LENGTH; i++) if (this.#auth[k + i] !== datagram[AUTH + i]) return false;
    return true;
  }

  #hashOf(address: Uint8Array, port: number, datagram: Uint8Array): number {
    let h = this.#seed ^ Math.imul((port << 8) | datagram[1], 0x9e3779b1);
    for (let i = 0; i < AUTH_LENGTH; i += 4) {
      const word = datagram[AUTH + i] | (datagram[AUTH + i + 1] << 8) | (datagram[AUTH + i + 2] << 16) | (datagram[AUTH + i + 3] << 24);
      h = Math.imul(h ^ word, 0x85ebca6b);
      h ^= h >>> 13;
    }
    for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address[i], 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  }

  /** Removes `slot` from the index (backward-shift deletion: no tombstones). */
  #unindex(slot: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let i = this.#hash[slot] & mask;
    while (index[i] !== slot + 1) {
      if (index[i] === 0) return;
      i = (i + 1) & mask;
    }
    let hole = i;
    for (let j = (hole + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const home = this.#hash[index[j] - 1] & mask;
      // Move the entry at j into the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        index[hole] = index[j];
        hole = j;
      }
    }
    index[hole] = 0;
  }

  /** Doubles the ring and the index; entries keep their sequence numbers. */
  #grow(): void {
    const old = {
      capacity: this.#capacity,
      state: this.#state,
      hash: this.#hash,
      portId: this.#portId,
      addressLength: this.#addressLength,
      address: this.#address,
      auth: this.#auth,
      expires: this.#expires,
      replies: this.#replies,
      replyBytes: this.#replyBytes,
      inline: this.#inline,
    };
    this.#allocate(old.capacity * 2);
    const size = this.#capacity;
    const mask = this.#index.length - 1;
    for (let entry = this.#head; entry < this.#tail; entry++) {
      const from = entry & (old.capacity - 1);
      const to = entry & (size - 1);
      this.#state[to] = old.state[from];
      this.#hash[to] = old.hash[from];
      this.#portId[to] = old.portId[from];
      this.#addressLength[to] = old.addressLength[from];
      // Octet by octet: a subarray view per entry made growing the cache the control plane's
      // largest allocation while its load grows (docs/benchmarks.md, fifth session).
      for (let i = 0; i < ADDRESS_LENGTH; i++) this.#address[to * ADDRESS_LENGTH + i] = old.address[from * ADDRESS_LENGTH + i];
      for (let i = 0; i < AUTH_LENGTH; i++) this.#auth[to * AUTH_LENGTH + i] = old.auth[from * AUTH_LENGTH + i];
      this.#expires[to] = old.expires[from];
      this.#replies[to] = old.replies[from];
      this.#inline[to] = old.inline[from];
      for (let i = 0; i < INLINE_REPLY; i++) this.#replyBytes[to * INLINE_REPLY + i] = old.replyBytes[from * INLINE_REPLY + i];
      let i = this.#hash[to] & mask;
      while (this.#index[i] !== 0) i = (i + 1) & mask;
      this.#index[i] = to + 1;
    }
  }
}
