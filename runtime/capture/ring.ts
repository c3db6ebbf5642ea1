/**
 * An AF_PACKET TPACKET_V3 receive ring on one interface (packet(7), Documentation/networking/
 * packet_mmap.rst). The kernel fills fixed-size blocks and hands each over when it is full or after
 * `retireTimeoutMs`; the reader copies a retired block out (into the filter's memory) and gives it
 * back by writing 0 to its block_status.
 *
 * ```ts
 * const ring = CaptureRing.open({ interface: "eth1" });
 * for (;;) {
 *   const block = ring.next() ?? (ring.wait(10), undefined);
 *   if (block) { filterInput.set(block); ring.release(); }
 * }
 * ```
 */
import { readFileSync } from "node:fs";
import { libc, LibcError, ERRNO } from "../ffi/libc.ts";
import {
  AF_PACKET,
  ETH_P_ALL,
  htons,
  MAP_SHARED,
  PACKET_ADD_MEMBERSHIP,
  PACKET_FANOUT,
  PACKET_FANOUT_HASH,
  PACKET_IGNORE_OUTGOING,
  PACKET_MR_PROMISC,
  PACKET_RX_RING,
  PACKET_STATISTICS,
  PACKET_VERSION,
  POLLERR,
  POLLIN,
  PROT_READ,
  PROT_WRITE,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SO_ERROR,
  SOL_SOCKET,
  sockaddrLl,
  SOL_PACKET,
  TP_STATUS_USER,
  TPACKET_V3,
  u32,
} from "../ffi/linux.ts";
import { CapabilityError, requireNetRaw } from "../dataplane/capabilities.ts";

export interface RingOptions {
  interface: string;
  /** Bytes per block, a multiple of the page size (default 256 KiB). */
  blockSize?: number;
  /** Blocks in the ring (default 128: 32 MiB, about 400k small packets, or 512 ms at low rates). */
  blockCount?: number;
  /** Milliseconds after which a partly filled block is handed over: the latency floor at low rates (default 4). */
  retireTimeoutMs?: number;
  /** Join a PACKET_FANOUT group (hash of the flow) with the other rings of the same interface. */
  fanoutGroup?: number;
  /** Put the interface in promiscuous mode while the ring is open (a SPAN port needs it; default true). */
  promiscuous?: boolean;
  /**
   * Skip packets this host sends on the interface (PACKET_IGNORE_OUTGOING; default true). Set false
   * when iapd runs on the router itself and the subscriber's downstream traffic leaves through it.
   */
  ignoreOutgoing?: boolean;
}

export interface RingStatistics {
  /** Packets the kernel received for this socket (tp_packets, accumulated). */
  packets: number;
  /** Packets dropped because the ring was full (tp_drops). */
  drops: number;
  /** Times the ring was frozen full (tp_freeze_q_cnt). */
  freezes: number;
  /** Socket errors, e.g. ENETDOWN when the interface went down (capture resumes when it is up). */
  errors: number;
}

/** PACKET_STATISTICS reads reset the kernel's counters; these hold the running totals. */
const STATS_SIZE = 12;

/** pcap link type of an interface, from /sys/class/net/IF/type (ARPHRD_*). */
export function linkTypeOf(name: string): number {
  const type = Number(readFileSync(`/sys/class/net/${name}/type`, "utf8").trim());
  // ARPHRD_ETHER and ARPHRD_LOOPBACK carry Ethernet headers; ARPHRD_NONE (tun) bare IP packets.
  if (type === 1 || type === 772) return 1;
  if (type === 65534) return 101;
  throw new Error(`capture interface ${name}: hardware type ${type} is not supported (Ethernet, loopback or tun)`);
}

/**
 * What another thread of this process needs to take a ring over (`CaptureRing.adopt`): the socket,
 * its mapping and the block to read next. Descriptors and mappings belong to the process, so a
 * capture worker that had to be terminated leaves its ring to its replacement, on the same capture
 * queue (and fanout group) and with the blocks the kernel retired meanwhile.
 */
export interface RingHandle {
  fd: number;
  address: number;
  linkType: number;
  blockSize: number;
  blockCount: number;
  /** Index of the block `next` reads. */
  position: number;
}

export class CaptureRing {
  readonly fd: number;
  readonly linkType: number;
  readonly blockSize: number;
  readonly blockCount: number;
  readonly #address: number;
  readonly #ring: Uint8Array;
  readonly #view: DataView;
  /** The ring's socket and an optional wake-up descriptor (poll(2) ignores a negative fd). */
  readonly #pollfd = new Uint8Array(16);
  readonly #wakeBytes = new Uint8Array(8);
  readonly #stats = new Uint8Array(STATS_SIZE);
  #current = 0;
  #closed = false;
  readonly statistics: RingStatistics = { packets: 0, drops: 0, freezes: 0, errors: 0 };
  readonly #error = new Uint8Array(4);

  private constructor(fd: number, linkType: number, address: number, blockSize: number, blockCount: number) {
    this.fd = fd;
    this.linkType = linkType;
    this.#address = address;
    this.blockSize = blockSize;
    this.blockCount = blockCount;
    this.#ring = new Uint8Array(libc().view(address, blockSize * blockCount));
    this.#view = new DataView(this.#ring.buffer);
    const poll = new DataView(this.#pollfd.buffer);
    poll.setInt32(0, fd, true);
    poll.setInt16(4, POLLIN, true);
    poll.setInt32(8, -1, true);
    poll.setInt16(12, POLLIN, true);
  }

  static open(options: RingOptions): CaptureRing {
    const name = options.interface;
    const blockSize = options.blockSize ?? 1 << 18;
    const blockCount = options.blockCount ?? 128;
    const retire = options.retireTimeoutMs ?? 4;
    if (!Number.isInteger(blockSize) || blockSize < 4096 || blockSize % 4096 !== 0) throw new RangeError(`capture block size: expected a multiple of 4096, found ${blockSize}`);
    if (!Number.isInteger(blockCount) || blockCount < 2) throw new RangeError(`capture block count: expected 2 or more, found ${blockCount}`);
    if (!Number.isInteger(retire) || retire < 1 || retire > 1000) throw new RangeError(`capture retire timeout: expected 1..1000 ms, found ${retire}`);
    const c = libc();
    const ifindex = c.ifNameToIndex(name);
    if (ifindex === 0) throw new Error(`capture interface ${name}: no such interface`);
    const linkType = linkTypeOf(name);
    requireNetRaw(`capturing on ${name} (an AF_PACKET socket)`);
    let fd: number;
    try {
      fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    } catch (e) {
      if (e instanceof LibcError && e.errno === ERRNO.EPERM) throw new CapabilityError(`capturing on ${name} needs CAP_NET_RAW: ${e.message}`);
      throw e;
    }
    let address = 0;
    try {
      c.setsockopt(fd, SOL_PACKET, PACKET_VERSION, u32(TPACKET_V3));
      if (options.ignoreOutgoing ?? true) c.setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, u32(1));
      const req = new Uint8Array(28);
      const r = new DataView(req.buffer);
      r.setUint32(0, blockSize, true); // tp_block_size
      r.setUint32(4, blockCount, true); // tp_block_nr
      r.setUint32(8, 2048, true); // tp_frame_size: unused by V3 but checked
      r.setUint32(12, (blockSize / 2048) * blockCount, true); // tp_frame_nr
      r.setUint32(16, retire, true); // tp_retire_blk_tov
      c.setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req);
      address = c.mmap(blockSize * blockCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      c.bind(fd, sockaddrLl(ifindex, ETH_P_ALL));
      if (options.promiscuous ?? true) {
        const mreq = new Uint8Array(16);
        new DataView(mreq.buffer).setInt32(0, ifindex, true);
        new DataView(mreq.buffer).setUint16(4, PACKET_MR_PROMISC, true);
        c.setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq);
      }
      if (options.fanoutGroup !== undefined) c.setsockopt(fd, SOL_PACKET, PACKET_FANOUT, u32((options.fanoutGroup & 0xffff) | (PACKET_FANOUT_HASH << 16)));
    } catch (e) {
      if (address !== 0) c.munmap(address, blockSize * blockCount);
      c.close(fd);
      if (e instanceof LibcError) e.message = `capture interface ${name}: ${e.message}`;
      throw e;
    }
    return new CaptureRing(fd, linkType, address, blockSize, blockCount);
  }

  /** Takes over a ring another thread opened (RingHandle); the other thread must no longer use it. */
  static adopt(handle: RingHandle): CaptureRing {
    const ring = new CaptureRing(handle.fd, handle.linkType, handle.address, handle.blockSize, handle.blockCount);
    ring.#current = handle.position % handle.blockCount;
    return ring;
  }

  /** This ring as another thread would adopt it, at the block `next` reads now. */
  get handle(): RingHandle {
    return { fd: this.fd, address: this.#address, linkType: this.linkType, blockSize: this.blockSize, blockCount: this.blockCount, position: this.#current };
  }

  /** Index of the block `next` reads. */
  get position(): number {
    return this.#current;
  }

  /** The next retired block (its used length, blk_len), or undefined while the kernel still fills it. */
  next(): Uint8Array | undefined {
    const at = this.#current * this.blockSize;
    if ((this.#view.getUint32(at + 8, true) & TP_STATUS_USER) === 0) return undefined;
    const used = Math.min(this.#view.getUint32(at + 20, true), this.blockSize);
    return this.#ring.subarray(at, at + used);
  }

  /** Gives the block `next` returned back to the kernel and moves on. */
  release(): void {
    this.#view.setUint32(this.#current * this.blockSize + 8, 0, true);
    this.#current = (this.#current + 1) % this.blockCount;
  }

  /**
   * Blocks up to `timeoutMs` until a block is retired, or `wakeFd` (an eventfd) is written to;
   * true if a block is ready.
   */
  wait(timeoutMs: number, wakeFd = -1): boolean {
    if (this.next()) return true;
    const poll = new DataView(this.#pollfd.buffer);
    poll.setInt32(8, wakeFd, true);
    poll.setInt16(6, 0, true);
    poll.setInt16(14, 0, true);
    if (libc().poll(this.#pollfd, 2, timeoutMs) === 0) return false;
    if (wakeFd >= 0 && (poll.getInt16(14, true) & POLLIN) !== 0) libc().read(wakeFd, this.#wakeBytes);
    if ((poll.getInt16(6, true) & POLLERR) !== 0) {
      // A pending socket error (ENETDOWN while the interface is down) keeps poll(2) returning at
      // once until it is read: read it, and sleep out the rest of the wait.
      libc().getsockopt(this.fd, SOL_SOCKET, SO_ERROR, this.#error);
      this.statistics.errors++;
      libc().poll(this.#pollfd.subarray(8), 1, timeoutMs);
    }
    return this.next() !== undefined;
  }

  /** Reads PACKET_STATISTICS (which the kernel resets on every read) into the running totals. */
  readStatistics(): RingStatistics {
    if (!this.#closed) {
      libc().getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, this.#stats);
      const v = new DataView(this.#stats.buffer);
      this.statistics.packets += v.getUint32(0, true);
      this.statistics.drops += v.getUint32(4, true);
      this.statistics.freezes += v.getUint32(8, true);
    }
    return { ...this.statistics };
  }

  close(): void {
    if (this.#closed) return;
    this.readStatistics();
    this.#closed = true;
    libc().munmap(this.#address, this.blockSize * this.blockCount);
    libc().close(this.fd);
  }
}
