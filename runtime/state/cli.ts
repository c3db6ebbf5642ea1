/**
 * `iapd state check` and `iapd state repair` (docs/state.md).
 *
 * - check: reads the state directory without changing it; prints what recovery would restore, a
 *   torn last record it would leave out, and damage that would stop start-up (exit 1).
 * - repair: keeps every intact record; a damaged snapshot and the damaged part of a journal (and the
 *   journals after it) are moved aside, never deleted; then writes a snapshot of what was kept as
 *   a new generation, so that the next start recovers from it.
 *
 *   iapd state check --config /etc/iapd/iapd.yaml --json
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.ts";
import { defaultStateDir } from "../daemon/daemon.ts";
import { sessionIdFromAcctSessionId } from "../sessions/handle.ts";
import { Journal } from "./journal.ts";
import { journalHeader, journalName, recover, snapshotName, type RecoveryReport } from "./recovery.ts";
import { captureSnapshot, writeSnapshot } from "./snapshot.ts";

const USAGE = "usage: iapd state check|repair [--state DIR | --config FILE] [--json]";

export async function stateCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  let o;
  try {
    o = parseArgs({ args: rest, options: { state: { type: "string" }, config: { type: "string" }, json: { type: "boolean" } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if ((sub !== "check" && sub !== "repair") || (o.state !== undefined && o.config !== undefined)) {
    err(USAGE);
    return 2;
  }
  const config = o.config === undefined ? undefined : loadConfig(o.config);
  const directory = resolve(o.state ?? config?.state.directory ?? defaultStateDir());
  // Replay must refuse what the daemon refused: the same mirror limit.
  const storeOptions = { maxMirrors: config?.radius.limits.maxMirrors, sessionIdFor: sessionIdFromAcctSessionId };
  const lines: string[] = [];
  let recovered;
  try {
    recovered = recover(directory, sub, storeOptions, (line) => lines.push(line));
  } catch (e) {
    err(`${directory}: ${(e as Error).message}`);
    return 1;
  }
  const { report, store, tunnels } = recovered;
  if (sub === "repair") {
    const generation = Math.max(0, ...readdirSync(directory).flatMap((n) => /^(?:snapshot|journal)-(\d{8,})\./.exec(n)?.[1] ?? []).map(Number)) + 1;
    await writeSnapshot(join(directory, snapshotName(generation)), captureSnapshot(store, tunnels, { generation, lastSeq: report.lastSeq }));
    await Journal.create(join(directory, journalName(generation)), journalHeader(generation)).close();
    lines.push(`repair: wrote ${snapshotName(generation)}: the next start recovers from it`);
  }
  if (o.json) {
    out(JSON.stringify({ ok: report.damage === undefined, ...report }, null, 2));
  } else {
    for (const line of lines) out(line);
    out(summary(report));
  }
  return report.damage === undefined ? 0 : 1;
}

function summary(r: RecoveryReport): string {
  const c = r.counts;
  const parts = [
    `${r.directory}: ${r.damage ? "DAMAGED" : "ok"}`,
    `  from: ${r.snapshot ? `${r.snapshot.file} (record ${r.snapshot.lastSeq}, ${r.snapshot.createdAt})` : "no snapshot"}; ${r.journals.map((j) => `${j.file} (${j.records} records)`).join(", ") || "no journal"}`,
    `  state: ${c.sessions} session(s), ${c.mirrors} mirror session(s), ${c.targets} target(s), ${c.triggers} trigger(s), ${c.tunnels} tunnel(s), ${c.pendingArms} pending login arm(s); last record ${r.lastSeq}`,
  ];
  if (r.tornTail) parts.push(`  torn last record: ${r.tornTail.file} at byte ${r.tornTail.offset} (${r.tornTail.bytes} bytes, ${r.tornTail.problem}); start-up leaves it out`);
  for (const s of r.skipped) parts.push(`  not replayable: ${s.file} byte ${s.offset}, record ${s.seq} (${s.op}): ${s.error}`);
  for (const m of r.movedAside) parts.push(`  moved aside: ${m}`);
  if (r.damage) {
    parts.push(`  damage: ${r.damage.file} at byte ${r.damage.offset}: ${r.damage.problem}`);
    parts.push(`  the state above is what is intact before it; "iapd state repair" keeps it and moves the rest aside`);
  }
  return parts.join("\n");
}
