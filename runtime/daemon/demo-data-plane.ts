/**
 * The data plane of `iapd run` while no capture interface is configured (the live one plugs into
 * daemon.ts): the bundled demo capture goes through the built-in filter with the configuration's
 * intercepts, and what would go to the mediation devices lands in `<state dir>/mirrored.pcap`,
 * byte for byte as `iapd replay` writes it.
 *
 * ```ts
 * const plane = await DemoDataPlane.start(config, "var");
 * plane.summary.outPackets; // packets written to var/mirrored.pcap
 * ```
 */
import { join } from "node:path";
import { assetPath } from "../assets/assets.ts";
import type { Config } from "../config/schema.ts";
import { FilterSwitch } from "../filter/lifecycle.ts";
import type { FilterRegistry } from "../filter/registry.ts";
import { replay, type ReplaySummary } from "../replay/replay.ts";
import type { DataPlane } from "./daemon.ts";
import { zeroMirrorDrops, type DataPlaneCounters } from "../dataplane/counters.ts";
import { MALFORMED_REASONS, type MalformedReason } from "../filter/types.ts";

export class DemoDataPlane implements DataPlane {
  /** Every replay's counts added up (what /metrics shows: counters only grow). */
  readonly #totals: DataPlaneCounters = {
    source: "demo",
    interfaces: [],
    frames: 0,
    parsed: 0,
    malformed: Object.fromEntries(Object.keys(MALFORMED_REASONS).map((r) => [r, 0])) as Record<MalformedReason, number>,
    lostFrames: 0,
    workerRestarts: 0,
    filter: undefined,
    mirroring: { matched: 0, copies: 0, packets: 0, bytes: 0, drops: zeroMirrorDrops() },
  };

  private constructor(
    private readonly filter: FilterSwitch,
    private readonly filters: FilterRegistry,
    readonly output: string,
    public summary: ReplaySummary,
  ) {
    this.#add(summary);
  }

  #add(s: ReplaySummary): void {
    const t = this.#totals;
    t.frames += s.frames;
    t.parsed += s.parsed;
    for (const r of Object.keys(t.malformed) as MalformedReason[]) t.malformed[r] += s.malformed[r] ?? 0;
    t.mirroring.matched += s.matched;
    t.mirroring.copies += s.mirrored;
    t.mirroring.packets += s.outPackets;
    t.mirroring.bytes += s.outBytes;
    for (const [r, n] of Object.entries(s.dropped)) t.mirroring.drops[r as keyof typeof t.mirroring.drops] += n;
  }

  /** The replays' counters summed (no capture interface: `interfaces` is empty). */
  aggregates(): DataPlaneCounters {
    const { name, version, abiVersion, sha256 } = this.filters.active.info;
    return { ...structuredClone(this.#totals), filter: { name, version, abiVersion, sha256 } };
  }

  /** Replays with the registry's active filter; a filter activated later serves the next replay (reload). */
  static async start(config: Config, stateDir: string, filters: FilterRegistry): Promise<DemoDataPlane> {
    const filter = await FilterSwitch.create(filters.active, { onEvent: (e) => filters.onHostEvent(e) });
    filters.attach(filter);
    const output = join(stateDir, "mirrored.pcap");
    return new DemoDataPlane(filter, filters, output, await replayDemo(filter, config, output));
  }

  get description(): string {
    return `no capture interface configured: replayed the bundled demo capture, ${this.summary.outPackets} mirrored packet(s) in ${this.output}`;
  }

  /** The intercepts or node settings changed: the capture is replayed again with the new ones. */
  async reload(config: Config): Promise<void> {
    this.summary = await replayDemo(this.filter, config, this.output);
    this.#add(this.summary);
  }

  /** Nothing runs between replays; each one finishes (and closes its pcap) before it returns. */
  async stop(): Promise<void> {}
}

function replayDemo(filter: FilterSwitch, config: Config, output: string): Promise<ReplaySummary> {
  return replay({ config, input: assetPath("fixtures/captures/demo.pcap"), output, filter });
}
