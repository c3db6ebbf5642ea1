/**
 * What the socket egresses share: a socket per tunnel (index 0: the node's default path), packets
 * grouped by tunnel in their order, and one sendmmsg batch.
 */
import { libc } from "../ffi/libc.ts";
import type { FilterOutput, MirroredPacket } from "../filter/types.ts";
import { MessageBatch, type NamePolicy } from "./batch.ts";
import type { Egress, EgressTunnel } from "./types.ts";

export interface SocketPath {
  /** Opens the socket for a tunnel (or the default path when `tunnel` is undefined). */
  open(tunnel: EgressTunnel | undefined): number;
  /** Leading bytes of each outer packet not sent (the UDP egress: the outer IPv4 and UDP headers). */
  skip: number;
  name: NamePolicy;
}

export class SocketEgress implements Egress {
  readonly #path: SocketPath;
  readonly #batch = new MessageBatch();
  readonly #sockets = new Map<number, number>();
  readonly #groups = new Map<number, MirroredPacket[]>();

  constructor(
    readonly kind: string,
    path: SocketPath,
  ) {
    this.#path = path;
    this.#sockets.set(0, path.open(undefined));
  }

  get counters() {
    return this.#batch.counters;
  }

  get slotCounters() {
    return this.#batch.slotCounters;
  }

  resetSlot(slot: number): void {
    this.#batch.slotCounters.clear(slot);
  }

  setTunnel(tunnel: EgressTunnel): void {
    const fd = this.#path.open(tunnel);
    const old = this.#sockets.get(tunnel.index);
    this.#sockets.set(tunnel.index, fd);
    if (old !== undefined && tunnel.index !== 0) libc().close(old);
  }

  removeTunnel(index: number): void {
    const fd = this.#sockets.get(index);
    if (fd === undefined || index === 0) return;
    this.#sockets.delete(index);
    libc().close(fd);
  }

  send(packets: readonly MirroredPacket[]): void {
    if (packets.length === 0) return;
    const first = packets[0].tunnel;
    let same = true;
    for (let i = 1; i < packets.length && same; i++) same = packets[i].tunnel === first;
    if (same) return this.#sendOn(first, packets);
    // Order matters only within a stream (fragments of one copy), and a stream uses one tunnel.
    const groups = this.#groups;
    groups.clear();
    for (const p of packets) {
      let group = groups.get(p.tunnel);
      if (!group) groups.set(p.tunnel, (group = []));
      group.push(p);
    }
    for (const [tunnel, group] of groups) this.#sendOn(tunnel, group);
  }

  sendOutput(output: FilterOutput): void {
    const { view, count } = output;
    if (count === 0) return;
    const end = output.descriptors + count * 32;
    const first = view.getUint32(output.descriptors + 12, true);
    let mixed = false;
    for (let d = output.descriptors + 32; d < end; d += 32) {
      if (view.getUint32(d + 12, true) !== first) {
        mixed = true;
        break;
      }
    }
    if (!mixed) return this.#batch.sendOutput(this.#fd(first), output, -1, this.#path.skip, this.#path.name);
    // Order matters only within a stream (fragments of one copy), and a stream uses one tunnel.
    const tunnels = new Set<number>();
    for (let d = output.descriptors; d < end; d += 32) tunnels.add(view.getUint32(d + 12, true));
    for (const tunnel of tunnels) this.#batch.sendOutput(this.#fd(tunnel), output, tunnel, this.#path.skip, this.#path.name);
  }

  /** A tunnel this worker does not know (yet) falls back to the default path rather than dropping. */
  #fd(tunnel: number): number {
    return this.#sockets.get(tunnel) ?? this.#sockets.get(0)!;
  }

  #sendOn(tunnel: number, packets: readonly MirroredPacket[]): void {
    // A tunnel this worker does not know (yet) falls back to the default path rather than dropping.
    const fd = this.#sockets.get(tunnel) ?? this.#sockets.get(0)!;
    this.#batch.send(fd, packets, this.#path.skip, this.#path.name);
  }

  async close(): Promise<void> {
    for (const fd of this.#sockets.values()) libc().close(fd);
    this.#sockets.clear();
    this.#batch.close();
  }
}
