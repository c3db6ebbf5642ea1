/**
 * The live data plane as `iapd run` composes it: capture workers, the tunnel pool between the
 * session store and them, and the tunnel registry (configuration file and API) driving the pool.
 *
 * ```ts
 * const live = await startDataPlane(config, store, tunnels, { log });
 * // ... CoA, accounting, API: the store's target changes reach the workers between two blocks
 * await live.stop();
 * ```
 */
import type { Config } from "../config/schema.ts";
import { dscpCode } from "../config/targets.ts";
import type { FilterRegistry } from "../filter/registry.ts";
import { ipv4ToU32 } from "../net/address.ts";
import type { MirrorSession, SessionStore } from "../sessions/store.ts";
import type { TunnelRegistry } from "../sessions/tunnels.ts";
import type { DataPlaneCounters } from "./counters.ts";
import { DataPlane, type DataPlaneStats } from "./dataplane.ts";
import { watchTunnelLinks } from "./links.ts";
import { mirrorCountersOf, type MirrorCounters } from "./messages.ts";
import { TunnelPool } from "./pool.ts";

export interface LiveDataPlane {
  /** One log line: what is captured and how copies leave (no LI data). */
  readonly description: string;
  readonly plane: DataPlane;
  readonly pool: TunnelPool;
  stats(): Promise<DataPlaneStats>;
  /** Per running mirror session (by ID), asked of the workers now: outer packets and bytes sent, copies dropped by the filter or the egress. */
  mirrorStats(): Promise<Map<string, { packets: number; bytes: number; dropped: number }>>;
  /**
   * One mirror session's counters from the cache the workers refresh every 250 ms (synchronous: the
   * API's provider); undefined for a mirror session the store does not know.
   */
  counters(mirrorId: string): MirrorCounters | undefined;
  /** The aggregate counters (by capture interface and reason) from the same cache: DataPlane.counters. */
  aggregates(): DataPlaneCounters;
  /** Applies a new configuration's tunnels; capture and egress changes take effect at the next start. */
  reload(config: Config): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: (line: string) => void;
  maxTargets?: number;
  /** The daemon's filters: the workers start with its active one, and it drives hot swaps. */
  filters?: FilterRegistry;
}

type Stream = { interceptId: number; sessionId: number; mediationAddress: number; mediationPort: number };
const stream = (t: Stream) => `${t.interceptId}/${t.sessionId}/${t.mediationAddress >>> 0}:${t.mediationPort}`;
const streamOf = (m: MirrorSession): Stream => ({ interceptId: m.interceptId, sessionId: m.sessionId, mediationAddress: ipv4ToU32(m.mediation.address), mediationPort: m.mediation.port });

export async function startDataPlane(config: Config, store: SessionStore, tunnels: TunnelRegistry, options: StartOptions = {}): Promise<LiveDataPlane> {
  const log = options.log ?? (() => {});
  if (!config.capture) throw new Error("the configuration has no capture section: there is nothing to capture from");
  const plane = await DataPlane.start({
    capture: config.capture,
    egress: config.egress,
    node: { sourceAddress: ipv4ToU32(config.node.sourceAddress), mtu: config.node.mtu, dscp: dscpCode(config.node.dscp) },
    maxTargets: options.maxTargets,
    filter: options.filters?.active,
    onFilterEvent: (event) => options.filters?.onHostEvent(event),
    // A tunnel whose socket cannot be opened (an interface that does not exist) fails over.
    onTunnelError: (index) => {
      const name = pool.nameOf(index);
      if (name) pool.fail(name);
    },
    log,
  });
  options.filters?.attach(plane.filters);
  const pool = new TunnelPool(plane);
  for (const t of tunnels.list()) pool.addTunnel(t);
  const unsubscribe = tunnels.subscribe((change) => (change.type === "added" ? pool.addTunnel(change.tunnel) : pool.removeTunnel(change.tunnel.name)));
  let fromConfig = new Set<string>();
  const applyTunnels = (next: Config) => {
    const wanted = new Map(next.tunnels.map((t) => [t.name, t]));
    for (const name of fromConfig) if (!wanted.has(name) && tunnels.get(name)) tunnels.remove(name);
    for (const t of next.tunnels) {
      const current = tunnels.get(t.name);
      if (current && (current.sourceAddress !== t.sourceAddress || current.interface !== t.interface || current.dscp !== t.dscp)) tunnels.remove(t.name);
      if (!tunnels.get(t.name)) tunnels.add(t, Date.now());
    }
    fromConfig = new Set(wanted.keys());
  };
  applyTunnels(config);
  store.attachSink(pool);
  // The tunnels and the restored target table are in every worker before this returns (before the
  // daemon says "ready"): posted is not applied, and a worker takes its messages between blocks.
  await plane.settled();
  const links = watchTunnelLinks(tunnels, pool, { log });
  let running = config;
  const describe = (c: Config) =>
    `live: capture on ${c.capture!.interfaces.map((i) => `${i.name} x${i.workers}`).join(", ")} (TPACKET_V3, ${c.capture!.retireTimeoutMs} ms block timeout), egress ${c.egress.mode}, ${tunnels.size} tunnel(s)`;
  return {
    get description() {
      return describe(running);
    },
    plane,
    pool,
    stats: () => plane.stats(),
    async mirrorStats() {
      const { slots } = await plane.stats();
      const byStream = new Map<string, { packets: number; bytes: number; dropped: number }>();
      for (const t of store.targetTable()) {
        const c = slots.get(t.slot) ?? { packets: 0, bytes: 0, dropped: 0 };
        const sum = byStream.get(stream(t)) ?? { packets: 0, bytes: 0, dropped: 0 };
        byStream.set(stream(t), { packets: sum.packets + c.packets, bytes: sum.bytes + c.bytes, dropped: sum.dropped + c.dropped });
      }
      const result = new Map<string, { packets: number; bytes: number; dropped: number }>();
      for (const m of store.allMirrors()) result.set(m.id, byStream.get(stream(streamOf(m))) ?? { packets: 0, bytes: 0, dropped: 0 });
      return result;
    },
    counters(mirrorId) {
      const m = store.getMirror(mirrorId);
      return m ? mirrorCountersOf(plane.streamCounters(streamOf(m))) : undefined;
    },
    aggregates: () => plane.counters(),
    async reload(next) {
      if (JSON.stringify(next.capture) !== JSON.stringify(running.capture) || JSON.stringify(next.egress) !== JSON.stringify(running.egress)) {
        log("reload: capture and egress changes take effect at the next start");
      }
      applyTunnels(next);
      running = { ...running, tunnels: next.tunnels };
      await plane.settled();
    },
    async stop() {
      unsubscribe();
      links.stop();
      store.attachSink({ add() {}, remove() {} });
      await plane.stop();
    },
  };
}
