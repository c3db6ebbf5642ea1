/**
 * The tunnel pool of the Junos flow-tap service: mirror sessions spread evenly over the egress
 * tunnels, and moved off a tunnel that is removed or fails. It sits between the session store and
 * the data plane as a `TargetSink` decorator: the store derives targets with tunnel 0 and source 0,
 * the pool rewrites each target's tunnel, outer source address and DSCP for the tunnel its mirror
 * session uses.
 *
 * A mirror session is recognised by its stream (intercept ID, session ID, mediation device): all of
 * its targets (IPv4 address, IPv6 prefixes) use one tunnel. Moving a session is a remove and an add
 * of each of its targets, which the data plane applies together between two batches, so no packet
 * falls between the old tunnel and the new one.
 *
 * ```ts
 * const pool = new TunnelPool(dataPlane);
 * pool.addTunnel({ name: "md1", sourceAddress: "192.0.2.1" });
 * store.attachSink(pool);
 * ```
 */
import { DSCP_INHERIT, type Target } from "../filter/types.ts";
import { ipv4ToU32 } from "../net/address.ts";
import type { TargetSink } from "../sessions/store.ts";
import type { TunnelSpec } from "../sessions/tunnels.ts";
import type { EgressTunnel } from "../egress/types.ts";

/** The data plane as the pool drives it: targets, and the tunnels' egress paths. */
export interface PoolSink extends TargetSink {
  setTunnel(tunnel: EgressTunnel): void;
  removeTunnel(index: number): void;
}

interface PoolTunnel {
  index: number;
  spec: TunnelSpec;
  source: number;
  healthy: boolean;
  streams: Set<string>;
}

interface Stream {
  /** Undefined: the node's default path (no tunnel in the pool, or none healthy). */
  tunnel: PoolTunnel | undefined;
  targets: Map<number, Target>;
}

/** Tunnel indexes travel in 16 bits of the filter's output descriptors; 0 is the default path. */
const MAX_INDEX = 0xffff;

export class TunnelPool implements TargetSink {
  readonly #sink: PoolSink;
  readonly #tunnels = new Map<string, PoolTunnel>();
  readonly #streams = new Map<string, Stream>();
  readonly #streamOfSlot = new Map<number, string>();
  /** Mirror sessions moved to the default path because no healthy tunnel was left. */
  readonly #parked = new Set<string>();
  readonly #freeIndexes: number[] = [];
  #nextIndex = 1;

  constructor(sink: PoolSink) {
    this.#sink = sink;
  }

  /** Tunnel name -> mirror sessions (streams) on it, for stats and tests. */
  load(): Map<string, number> {
    return new Map([...this.#tunnels.values()].map((t) => [t.spec.name, t.streams.size]));
  }

  /** Tunnels that failed (interface down, socket not opened) and take no sessions. */
  failed(): string[] {
    return [...this.#tunnels.values()].filter((t) => !t.healthy).map((t) => t.spec.name);
  }

  /** The name of the tunnel with this index (EgressTunnel.index). */
  nameOf(index: number): string | undefined {
    for (const t of this.#tunnels.values()) if (t.index === index) return t.spec.name;
    return undefined;
  }

  /** The tunnel a target's mirror session uses; undefined for the default path or an unknown slot. */
  tunnelOf(slot: number): string | undefined {
    const key = this.#streamOfSlot.get(slot);
    return key === undefined ? undefined : this.#streams.get(key)?.tunnel?.spec.name;
  }

  // ---- TargetSink ----------------------------------------------------------------------------

  add(target: Target): void {
    const key = streamKey(target);
    let stream = this.#streams.get(key);
    if (!stream) {
      stream = { tunnel: undefined, targets: new Map() };
      this.#streams.set(key, stream);
      const tunnel = this.#choose();
      // All tunnels failed: the session waits on the default path for one to come back or be added.
      if (!tunnel && this.#tunnels.size > 0) this.#parked.add(key);
      this.#place(key, stream, tunnel);
    }
    stream.targets.set(target.slot, target);
    this.#streamOfSlot.set(target.slot, key);
    this.#sink.add(rewrite(target, stream.tunnel));
  }

  remove(slot: number): void {
    const key = this.#streamOfSlot.get(slot);
    this.#streamOfSlot.delete(slot);
    const stream = key === undefined ? undefined : this.#streams.get(key);
    if (key !== undefined && stream) {
      stream.targets.delete(slot);
      if (stream.targets.size === 0) {
        stream.tunnel?.streams.delete(key);
        this.#streams.delete(key);
        this.#parked.delete(key);
      }
    }
    this.#sink.remove(slot);
  }

  // ---- tunnels -------------------------------------------------------------------------------

  /** Adds a tunnel; it takes new mirror sessions (it is the least loaded) and those parked on the default path. */
  addTunnel(spec: TunnelSpec): void {
    if (this.#tunnels.has(spec.name)) throw new Error(`tunnel ${spec.name} is already in the pool`);
    const index = this.#freeIndexes.pop() ?? this.#nextIndex++;
    if (index > MAX_INDEX) throw new Error(`more than ${MAX_INDEX} tunnels`);
    const tunnel: PoolTunnel = { index, spec: { ...spec }, source: ipv4ToU32(spec.sourceAddress), healthy: true, streams: new Set() };
    this.#tunnels.set(spec.name, tunnel);
    const egress: EgressTunnel = { index, name: spec.name, sourceAddress: tunnel.source };
    if (spec.interface !== undefined) egress.interface = spec.interface;
    this.#sink.setTunnel(egress);
    this.#adoptParked();
  }

  /** Removes a tunnel: its mirror sessions move to the others (or the default path) first. */
  removeTunnel(name: string): void {
    const tunnel = this.#tunnels.get(name);
    if (!tunnel) throw new Error(`no tunnel ${name} in the pool`);
    this.#tunnels.delete(name);
    this.#evacuate(tunnel);
    this.#sink.removeTunnel(tunnel.index);
    this.#freeIndexes.push(tunnel.index);
  }

  /** A tunnel stopped working: its mirror sessions move off and it takes no new ones until `recover`. */
  fail(name: string): void {
    const tunnel = this.#tunnels.get(name);
    if (!tunnel || !tunnel.healthy) return;
    tunnel.healthy = false;
    this.#evacuate(tunnel);
  }

  recover(name: string): void {
    const tunnel = this.#tunnels.get(name);
    if (!tunnel || tunnel.healthy) return;
    tunnel.healthy = true;
    this.#adoptParked();
  }

  /** The healthy tunnel with the fewest mirror sessions (the oldest on a tie), or the default path. */
  #choose(): PoolTunnel | undefined {
    let best: PoolTunnel | undefined;
    for (const t of this.#tunnels.values()) {
      if (t.healthy && (!best || t.streams.size < best.streams.size)) best = t;
    }
    return best;
  }

  #place(key: string, stream: Stream, tunnel: PoolTunnel | undefined): void {
    stream.tunnel?.streams.delete(key);
    stream.tunnel = tunnel;
    tunnel?.streams.add(key);
  }

  #move(key: string, stream: Stream, tunnel: PoolTunnel | undefined): void {
    this.#place(key, stream, tunnel);
    for (const target of stream.targets.values()) {
      this.#sink.remove(target.slot);
      this.#sink.add(rewrite(target, tunnel));
    }
  }

  #evacuate(tunnel: PoolTunnel): void {
    for (const key of [...tunnel.streams]) {
      tunnel.streams.delete(key);
      const stream = this.#streams.get(key)!;
      stream.tunnel = undefined;
      const next = this.#choose();
      if (!next) this.#parked.add(key);
      this.#move(key, stream, next);
    }
  }

  /** Mirror sessions on the default path while the pool has tunnels go to the healthy ones. */
  #adoptParked(): void {
    for (const key of [...this.#parked]) {
      const stream = this.#streams.get(key)!;
      const tunnel = this.#choose();
      if (!tunnel) return;
      this.#parked.delete(key);
      this.#move(key, stream, tunnel);
    }
  }
}

function streamKey(t: Target): string {
  return `${t.interceptId}/${t.sessionId}/${t.mediationAddress}:${t.mediationPort}`;
}

/** The target as the filter gets it: the tunnel's index and source; the tunnel's DSCP before the intercept's. */
function rewrite(target: Target, tunnel: PoolTunnel | undefined): Target {
  if (!tunnel) return { ...target, tunnel: 0 };
  const dscp = tunnel.spec.dscp ?? target.dscp;
  return { ...target, tunnel: tunnel.index, sourceAddress: tunnel.source, dscp: dscp ?? DSCP_INHERIT };
}
