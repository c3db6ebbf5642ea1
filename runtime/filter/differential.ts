/**
 * Differential check of a candidate filter against the built-in one (`iapd filter test`): both
 * replay the same captures with the same intercepts, and every counter and every outer packet is
 * compared. A difference is not a failure by itself (a filter may mean to differ, jmirror-l2 does
 * in every payload); the report says where and how, so its author can tell intended from not.
 *
 * ```ts
 * const report = await differentialCheck(candidate, builtin, ["fixtures/captures/vlan.pcap"], tmp);
 * for (const c of report) console.log(formatCapture(c));
 * ```
 */
import { join } from "node:path";
import { openCaptureFile } from "../capture/pcap-file.ts";
import { parseConfig } from "../config/load.ts";
import { replay, ReplayError, type ReplaySummary } from "../replay/replay.ts";
import { FilterSwitch, type CheckedFilter } from "./lifecycle.ts";
import { FilterError } from "./types.ts";

/**
 * Intercepts that hit the fixture captures: both ends of fixtures/captures (192.0.2.1, 192.0.2.2),
 * two demo subscribers (100.64.0.1, 100.64.0.4) and every IPv6 documentation address (2001:db8::/32).
 */
const CONFIG = parseConfig(
  `intercepts:
  - { interceptId: 1, sessionId: 1, targets: [192.0.2.1, 100.64.0.1], mediation: { address: 198.51.100.1, port: 30030 } }
  - { interceptId: 2, sessionId: 2, targets: [192.0.2.2, 100.64.0.4], mediation: { address: 198.51.100.2, port: 30030 }, dscp: 46 }
  - { interceptId: 3, sessionId: 3, targets: ["2001:db8::/32"], mediation: { address: 198.51.100.1, port: 30031 } }
`,
  "differential check",
);

interface Packet {
  seconds: number;
  nanoseconds: number;
  bytes: Uint8Array;
}

export interface CaptureComparison {
  capture: string;
  /** Set when the candidate could not run the capture (e.g. it refuses the link type). */
  notRun?: string;
  /** "name: built-in vs candidate" for each counter that differs. */
  counters: string[];
  packets: { builtin: number; candidate: number; differing: number };
  /** The first differing packet, described. */
  first?: string;
}

async function run(filter: CheckedFilter, capture: string, output: string): Promise<{ summary: ReplaySummary; packets: Packet[] }> {
  const plane = await FilterSwitch.create(filter, { maxTargets: 64 });
  const summary = await replay({ config: CONFIG, input: capture, output, filter: plane });
  return { summary, packets: await readPackets(output) };
}

async function readPackets(path: string): Promise<Packet[]> {
  const reader = await openCaptureFile(path);
  const buffer = new Uint8Array(1 << 20);
  const packets: Packet[] = [];
  try {
    for (let batch = await reader.fill(buffer); batch; batch = await reader.fill(buffer)) {
      const view = new DataView(buffer.buffer, 0, batch.length);
      for (let at = 0; at < batch.length; ) {
        const length = view.getUint32(at + 8, true);
        packets.push({ seconds: view.getUint32(at, true), nanoseconds: view.getUint32(at + 4, true), bytes: buffer.slice(at + 16, at + 16 + length) });
        at += 16 + length;
      }
    }
  } finally {
    await reader.close();
  }
  return packets;
}

/** Counter values of a replay summary by name (malformed reasons and drops included). */
function countersOf(s: ReplaySummary): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of ["frames", "parsed", "matched", "mirrored", "mirroredBytes", "outPackets", "outBytes", "fragmented"] as const) m.set(k, s[k]);
  for (const [k, v] of Object.entries(s.malformed)) m.set(k, v);
  for (const [k, v] of Object.entries(s.dropped)) m.set(k, v);
  return m;
}

const hex = (b: number | undefined) => (b === undefined ? "(end)" : `0x${b.toString(16).padStart(2, "0")}`);

/** Where two outer packets differ, in the terms of the JMirror layout. */
function describe(index: number, a: Packet | undefined, b: Packet | undefined): string {
  if (!a || !b) return `packet ${index}: only the ${a ? "built-in" : "candidate"} filter produced it`;
  if (a.seconds !== b.seconds || a.nanoseconds !== b.nanoseconds) return `packet ${index}: timestamp ${a.seconds}.${a.nanoseconds} vs ${b.seconds}.${b.nanoseconds}`;
  let at = 0;
  while (at < a.bytes.length && at < b.bytes.length && a.bytes[at] === b.bytes[at]) at++;
  const part = at < 20 ? "outer IPv4 header" : at < 28 ? "UDP header" : at < 36 ? "mirror header" : `payload byte ${at - 36}`;
  return `packet ${index}: ${a.bytes.length} vs ${b.bytes.length} bytes, first difference at byte ${at} (${part}): ${hex(a.bytes[at])} vs ${hex(b.bytes[at])}`;
}

/** Replays each capture through both filters (outputs go to `dir`) and compares. */
export async function differentialCheck(candidate: CheckedFilter, builtin: CheckedFilter, captures: string[], dir: string): Promise<CaptureComparison[]> {
  const report: CaptureComparison[] = [];
  for (const [i, capture] of captures.entries()) {
    const expected = await run(builtin, capture, join(dir, `${i}-builtin.pcap`));
    let found;
    try {
      found = await run(candidate, capture, join(dir, `${i}-candidate.pcap`));
    } catch (e) {
      if (!(e instanceof ReplayError || e instanceof FilterError)) throw e;
      report.push({ capture, notRun: e.message, counters: [], packets: { builtin: expected.packets.length, candidate: 0, differing: 0 } });
      continue;
    }
    const a = countersOf(expected.summary);
    const b = countersOf(found.summary);
    const counters = [...a].filter(([k, v]) => b.get(k) !== v).map(([k, v]) => `${k}: ${v} vs ${b.get(k)}`);
    const n = Math.max(expected.packets.length, found.packets.length);
    let differing = 0;
    let first: string | undefined;
    for (let p = 0; p < n; p++) {
      const x = expected.packets[p];
      const y = found.packets[p];
      if (x && y && x.seconds === y.seconds && x.nanoseconds === y.nanoseconds && x.bytes.length === y.bytes.length && x.bytes.every((v, k) => v === y.bytes[k])) continue;
      differing++;
      first ??= describe(p, x, y);
    }
    report.push({ capture, counters, packets: { builtin: expected.packets.length, candidate: found.packets.length, differing }, ...(first ? { first } : {}) });
  }
  return report;
}

/** One line per capture, and indented details when it differs. */
export function formatComparison(c: CaptureComparison): string {
  if (c.notRun) return `${c.capture}: not run: ${c.notRun}`;
  if (c.counters.length === 0 && c.packets.differing === 0) return `${c.capture}: identical (${c.packets.builtin} packets)`;
  const lines = [`${c.capture}: DIFFERS: ${c.packets.differing} of ${Math.max(c.packets.builtin, c.packets.candidate)} packets (built-in ${c.packets.builtin}, candidate ${c.packets.candidate})`];
  if (c.counters.length > 0) lines.push(`    counters (built-in vs candidate): ${c.counters.join(", ")}`);
  if (c.first) lines.push(`    first: ${c.first}`);
  return lines.join("\n");
}
