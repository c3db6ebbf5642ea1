/**
 * Offline replay: a capture file goes through the filter exactly as live traffic would, and every
 * outer packet iapd would put on the wire to a mediation device is written to a pcap file
 * (LINKTYPE_RAW, nanosecond timestamps of the mirrored frames).
 */
import { openCaptureFile, PcapWriter } from "../capture/pcap-file.ts";
import type { Config } from "../config/schema.ts";
import { filterConfig, targetsFromConfig } from "../config/targets.ts";
import { COUNTERS, DROP_REASONS, FilterError, LINK_TYPES, MALFORMED_REASONS, type DropReason, type Filter, type MalformedReason } from "../filter/types.ts";

/** LINKTYPE_RAW: the file holds the outer IPv4 packets as they go on the wire. */
export const OUTPUT_LINK_TYPE = 101;

export interface ReplayProgress {
  bytesRead: number;
  totalBytes: number;
  frames: number;
}

export interface InterceptSummary {
  interceptId: number;
  sessionId: number;
  mediation: string;
  packets: number;
  bytes: number;
  dropped: number;
}

export interface ReplaySummary {
  input: { path: string; format: string; truncatedRecords: number };
  output: { path: string; packets: number };
  frames: number;
  parsed: number;
  matched: number;
  mirrored: number;
  mirroredBytes: number;
  outPackets: number;
  outBytes: number;
  fragmented: number;
  malformed: Record<MalformedReason, number>;
  dropped: Record<DropReason, number>;
  intercepts: InterceptSummary[];
}

export interface ReplayOptions {
  config: Config;
  input: string;
  output: string;
  filter: Filter;
  /** Called after each batch; the next batch waits for a returned promise (a caller may pace the replay or swap filters between batches). */
  onProgress?: (p: ReplayProgress) => void | Promise<void>;
}

export class ReplayError extends Error {
  override name = "ReplayError";
}

export async function replay({ config, input, output, filter, onProgress }: ReplayOptions): Promise<ReplaySummary> {
  const targets = targetsFromConfig(config);
  filter.clearTargets();
  for (const t of targets) filter.addTarget(t);

  // Counters are cumulative over a filter's life (they carry over hot swaps); report this run's share.
  const before = filter.counters();
  const reader = await openCaptureFile(input);
  const writer = await PcapWriter.create(output, OUTPUT_LINK_TYPE);
  let linkType = -1;
  let frames = 0;
  try {
    for (;;) {
      // Asked for each batch: a hot swap (runtime/filter/lifecycle.ts) gives the filter a new input
      // region; a batch read into the old one while the swap happened is copied over by `process`.
      const buffer = filter.inputBuffer();
      const batch = await reader.fill(buffer);
      if (!batch) break;
      if (batch.linkType !== linkType) {
        try {
          filter.configure(filterConfig(config, batch.linkType));
        } catch (e) {
          if (e instanceof FilterError && e.code === 9) {
            throw new ReplayError(`${input}: capture link type ${batch.linkType} is not supported by filter ${filter.name} (the ABI's link types: ${LINK_TYPES.join(", ")})`);
          }
          throw e;
        }
        linkType = batch.linkType;
      }
      for (let offset = 0; offset < batch.length; ) {
        const result = filter.process(buffer.subarray(offset, batch.length));
        if (result.consumed === 0) throw new ReplayError(`${input}: the filter consumed no input at batch offset ${offset}`);
        for (const p of result.packets) writer.write(p.tsSeconds, p.tsNanoseconds, p.bytes);
        offset += result.consumed;
      }
      frames += batch.frames;
      await onProgress?.({ bytesRead: reader.bytesRead, totalBytes: reader.totalBytes, frames });
    }
  } finally {
    await reader.close();
    await writer.close();
  }

  const c = filter.counters().map((v, i) => Number(v - before[i]));
  const intercepts: InterceptSummary[] = config.intercepts.map((ic) => ({
    interceptId: ic.interceptId,
    sessionId: ic.sessionId,
    mediation: `${ic.mediation.address}:${ic.mediation.port}`,
    packets: 0,
    bytes: 0,
    dropped: 0,
  }));
  for (const t of targets) {
    const tc = filter.targetCounters(t.slot);
    intercepts[t.intercept].packets += Number(tc.packets);
    intercepts[t.intercept].bytes += Number(tc.bytes);
    intercepts[t.intercept].dropped += Number(tc.dropped);
  }
  const pick = <K extends string>(table: Record<K, number>) =>
    Object.fromEntries(Object.entries(table).map(([k, i]) => [k, c[i as number]])) as Record<K, number>;
  return {
    input: { path: input, format: reader.format, truncatedRecords: reader.truncatedRecords },
    output: { path: output, packets: writer.records },
    frames: c[COUNTERS.frames],
    parsed: c[COUNTERS.parsed],
    matched: c[COUNTERS.matched],
    mirrored: c[COUNTERS.mirrored],
    mirroredBytes: c[COUNTERS.mirrored_bytes],
    outPackets: c[COUNTERS.out_packets],
    outBytes: c[COUNTERS.out_bytes],
    fragmented: c[COUNTERS.fragmented],
    malformed: pick(MALFORMED_REASONS),
    dropped: pick(DROP_REASONS),
    intercepts,
  };
}

/** The summary as an operator reads it on a terminal. */
export function formatSummary(s: ReplaySummary): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const lines = [
    `input   ${s.input.path} (${s.input.format})${s.input.truncatedRecords ? `, ${s.input.truncatedRecords} truncated record(s) at the end ignored` : ""}`,
    `frames  ${n(s.frames)}   parsed ${n(s.parsed)}   matched ${n(s.matched)}   mirrored ${n(s.mirrored)} (${n(s.mirroredBytes)} bytes)`,
    `output  ${s.output.path}: ${n(s.output.packets)} packets, ${n(s.outBytes)} bytes${s.fragmented ? `, ${n(s.fragmented)} copies fragmented` : ""}`,
  ];
  const malformed = Object.entries(s.malformed).filter(([, v]) => v > 0);
  const total = malformed.reduce((a, [, v]) => a + v, 0);
  lines.push(`malformed ${n(total)}${malformed.length ? `: ${malformed.map(([k, v]) => `${k} ${n(v)}`).join(", ")}` : ""}`);
  const dropped = Object.entries(s.dropped).filter(([, v]) => v > 0);
  if (dropped.length) lines.push(`dropped copies: ${dropped.map(([k, v]) => `${k} ${n(v)}`).join(", ")}`);
  if (s.intercepts.length) {
    lines.push("intercept   session     mediation device       packets        bytes  dropped");
    for (const ic of s.intercepts) {
      lines.push(
        `${String(ic.interceptId).padEnd(11)} ${String(ic.sessionId).padEnd(11)} ${ic.mediation.padEnd(21)} ${n(ic.packets).padStart(8)} ${n(ic.bytes).padStart(12)} ${n(ic.dropped).padStart(8)}`,
      );
    }
  }
  return lines.join("\n");
}
