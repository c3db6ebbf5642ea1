/**
 * The tunnel registry: the egress paths to mediation devices that an LI admin has configured
 * (Junos radius-flow-tap tunnel interfaces): a name, the outer source address, optionally an
 * interface and a forwarding class (DSCP).
 *
 * This holds and validates the list only. Pool behaviour (spreading new mirror sessions evenly,
 * moving them off a removed or failed tunnel, the sockets themselves) comes with the live data
 * plane, which will read this registry.
 *
 * ```ts
 * const tunnels = new TunnelRegistry();
 * tunnels.add({ name: "md1", sourceAddress: "192.0.2.1", interface: "eth1", dscp: 46 }, Date.now());
 * ```
 */
import { parseIPv4 } from "../net/address.ts";

export interface TunnelSpec {
  /** 1-32 characters: letters, digits, `.`, `_`, `-`; unique. */
  name: string;
  /** Source address of the outer IPv4 header for packets sent through this tunnel. */
  sourceAddress: string;
  /** Egress interface; absent = the route to the mediation device decides. */
  interface?: string;
  /** 0..63; absent = the intercept's, else the mirrored packet's. */
  dscp?: number;
}

export interface Tunnel extends TunnelSpec {
  createdAt: number;
}

export class TunnelError extends Error {
  override name = "TunnelError";
  constructor(
    readonly code: "exists" | "not-found" | "invalid",
    readonly field: keyof TunnelSpec | undefined,
    message: string,
  ) {
    super(message);
  }
}

export const TUNNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
/** Linux IFNAMSIZ is 16 including the NUL; no '/', ':' or whitespace (net/core/dev.c dev_valid_name). */
export const INTERFACE_NAME = /^[^/:\s]{1,15}$/;

/** A change to the registry, for the live data plane's tunnel pool. */
export type TunnelChange = { type: "added"; tunnel: Tunnel } | { type: "removed"; tunnel: Tunnel };

export class TunnelRegistry {
  private tunnels = new Map<string, Tunnel>();
  private listeners = new Set<(change: TunnelChange) => void>();

  /** Calls `listener` after every add and remove; returns the function that unsubscribes it. */
  subscribe(listener: (change: TunnelChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): Tunnel[] {
    return [...this.tunnels.values()];
  }

  get(name: string): Tunnel | undefined {
    return this.tunnels.get(name);
  }

  get size(): number {
    return this.tunnels.size;
  }

  /** Validates and adds; throws TunnelError naming the field. */
  add(spec: TunnelSpec, now: number): Tunnel {
    if (!TUNNEL_NAME.test(spec.name)) throw new TunnelError("invalid", "name", "expected 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit");
    if (parseIPv4(spec.sourceAddress) === null) throw new TunnelError("invalid", "sourceAddress", "expected an IPv4 address such as 192.0.2.1");
    if (spec.interface !== undefined && (!INTERFACE_NAME.test(spec.interface) || spec.interface === "." || spec.interface === "..")) {
      throw new TunnelError("invalid", "interface", "expected a Linux interface name (1-15 characters, no '/', ':' or spaces)");
    }
    if (spec.dscp !== undefined && (!Number.isInteger(spec.dscp) || spec.dscp < 0 || spec.dscp > 63)) throw new TunnelError("invalid", "dscp", "expected a DSCP value 0..63");
    if (this.tunnels.has(spec.name)) throw new TunnelError("exists", "name", `a tunnel named "${spec.name}" already exists`);
    const tunnel: Tunnel = { name: spec.name, sourceAddress: spec.sourceAddress, createdAt: now };
    if (spec.interface !== undefined) tunnel.interface = spec.interface;
    if (spec.dscp !== undefined) tunnel.dscp = spec.dscp;
    this.tunnels.set(tunnel.name, tunnel);
    for (const listener of this.listeners) listener({ type: "added", tunnel });
    return tunnel;
  }

  remove(name: string): Tunnel {
    const tunnel = this.tunnels.get(name);
    if (!tunnel) throw new TunnelError("not-found", "name", `no tunnel named "${name}"`);
    this.tunnels.delete(name);
    for (const listener of this.listeners) listener({ type: "removed", tunnel });
    return tunnel;
  }
}
