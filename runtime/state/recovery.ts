/**
 * Recovery: the latest intact snapshot, then every journal record after it, in order.
 *
 * - A torn last record (the crash cut the last write short; it was never acknowledged) is reported
 *   as `tornTail` and left out; start-up goes on.
 * - Anything else that is not intact (a damaged record with intact records after it, a damaged or
 *   incomplete snapshot, a missing journal generation, a gap in the record sequence) is `damage`:
 *   start-up refuses, naming the file and offset; `iapd state check` shows it, `iapd state repair`
 *   keeps the intact prefix and moves the rest aside.
 *
 * The state directory holds `snapshot-<generation>.snap` and `journal-<generation>.log`
 * (docs/state.md): snapshot G is the state when journal G began, so the state is the latest
 * snapshot plus the journals from its generation on.
 */
import { readdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SessionStoreOptions, StoreState } from "../sessions/store.ts";
import { iterateFrames, readFrames, type Damage, type Frame } from "./frame.ts";
import { applyOperation, JournaledSessionStore, JournaledTunnelRegistry } from "./journaled.ts";
import { decodeRecord } from "./record.ts";
import { decodeSnapshot, SnapshotError, type SnapshotContent } from "./snapshot.ts";

/** Written by this version: records in either form of record.ts. Format 1 (object records only) is still read. */
export const JOURNAL_FORMAT = 2;
const READABLE_JOURNAL_FORMATS: readonly unknown[] = [1, 2];

const pad = (generation: number) => String(generation).padStart(8, "0");
export const snapshotName = (generation: number) => `snapshot-${pad(generation)}.snap`;
export const journalName = (generation: number) => `journal-${pad(generation)}.log`;
const SNAPSHOT_FILE = /^snapshot-(\d{8,})\.snap$/;
const JOURNAL_FILE = /^journal-(\d{8,})\.log$/;

export interface JournalHeader {
  kind: "journal";
  format: number;
  generation: number;
}
export const journalHeader = (generation: number): JournalHeader => ({ kind: "journal", format: JOURNAL_FORMAT, generation });

export type { JournalRecord } from "./record.ts";

/** Where the state cannot be read as written. */
export interface DamageReport {
  file: string;
  offset: number;
  problem: string;
}

export interface RecoveryReport {
  directory: string;
  snapshot?: { file: string; generation: number; lastSeq: number; createdAt: string };
  journals: { file: string; records: number }[];
  /** Journal records applied. */
  replayed: number;
  /** Records whose operation threw on replay (e.g. radius.limits.maxMirrors lowered since): logged, left out. */
  skipped: { file: string; offset: number; seq: number; op: string; error: string }[];
  /** A torn last record, left out. */
  tornTail?: DamageReport & { bytes: number };
  /** What stops start-up (check reports it; repair moves it aside). */
  damage?: DamageReport;
  /** Files or parts repair moved aside (never deleted). */
  movedAside: string[];
  /** The sequence number of the last record applied. */
  lastSeq: number;
  /** The generation of the journal to continue, 0 when there is none. */
  generation: number;
  /** Intact records in that journal (its header not counted). */
  recordsInJournal: number;
  /** That journal is empty or its header was torn off: it starts again with a header. */
  journalNeedsHeader: boolean;
  /** The format its header names (an older one is not continued: DurableState.open starts a new generation). */
  journalFormat?: number;
  counts: { sessions: number; mirrors: number; triggers: number; pendingArms: number; tunnels: number; targets: number };
}

export class StateError extends Error {
  override name = "StateError";
  constructor(
    readonly damage: DamageReport,
    directory: string,
  ) {
    super(
      `state directory ${directory}: ${damage.file} is damaged at byte ${damage.offset}: ${damage.problem}.\n` +
        `iapd will not start from partial state. Run "iapd state check --state ${directory}" to see what is intact, ` +
        `then "iapd state repair --state ${directory}" to keep the intact records and move the rest aside (docs/state.md).`,
    );
  }
}

export type RecoveryMode = "start" | "check" | "repair";

export interface Recovered {
  store: JournaledSessionStore;
  tunnels: JournaledTunnelRegistry;
  report: RecoveryReport;
}

/**
 * Rebuilds the state of `directory`. "start" throws StateError on damage, and cuts a torn tail
 * off its journal (keeping the bytes in journal-G.log.torn-at-OFFSET) so that appends follow the
 * intact prefix; "check" reports damage and what is intact before it, changing no file; "repair"
 * moves damaged parts aside (file.damaged-at-OFFSET, file.moved-aside) and recovers what is intact.
 */
export function recover(directory: string, mode: RecoveryMode, storeOptions: SessionStoreOptions, log: (line: string) => void = () => {}): Recovered {
  const names = readdirSync(directory);
  const generations = (re: RegExp) => names.flatMap((n) => (re.exec(n) ? [Number(re.exec(n)![1])] : [])).sort((a, b) => a - b);
  const snapshots = generations(SNAPSHOT_FILE);
  const journals = generations(JOURNAL_FILE);
  const report: RecoveryReport = { directory, journals: [], replayed: 0, skipped: [], movedAside: [], lastSeq: 0, generation: 0, recordsInJournal: 0, journalNeedsHeader: false, counts: { sessions: 0, mirrors: 0, triggers: 0, pendingArms: 0, tunnels: 0, targets: 0 } };
  let store = new JournaledSessionStore(storeOptions);
  let tunnels = new JournaledTunnelRegistry();
  const recovered = () => {
    report.counts = { sessions: store.sessionCount, mirrors: store.mirrorCount, triggers: [...store.allTriggers()].length, pendingArms: store.pendingArmCount, tunnels: tunnels.size, targets: store.targetTable().length };
    return { store, tunnels, report };
  };
  /** Damage: start refuses; check stops here; repair moves `aside` away and goes on. */
  const damaged = (d: DamageReport): void => {
    if (mode === "start") throw new StateError(d, directory);
    if (mode === "check") report.damage ??= d;
  };
  const moveAside = (file: string, suffix: string) => {
    renameSync(join(directory, file), join(directory, `${file}.${suffix}`));
    report.movedAside.push(`${file} -> ${file}.${suffix}`);
  };

  // 1. The latest intact snapshot.
  let base = 0;
  let partial: { file: string; content: SnapshotContent } | undefined;
  for (const generation of [...snapshots].reverse()) {
    const file = snapshotName(generation);
    const frames = readFrames(readFileSync(join(directory, file)));
    let problem: { offset: number; problem: string } | undefined = frames.damage;
    let content: (SnapshotContent & { complete: boolean }) | undefined;
    try {
      content = decodeSnapshot(frames.records);
      if (!problem && !content.complete) problem = { offset: frames.intactEnd, problem: "the end record is missing: the snapshot is incomplete" };
      if (!problem && content.header.generation !== generation) problem = { offset: 0, problem: `its header names generation ${content.header.generation}` };
    } catch (e) {
      if (!(e instanceof SnapshotError)) throw e;
      problem ??= { offset: e.offset, problem: e.message };
    }
    if (!problem && content) {
      load(content);
      base = generation;
      report.snapshot = { file, generation, lastSeq: content.header.lastSeq, createdAt: content.header.createdAt };
      break;
    }
    damaged({ file, offset: problem!.offset, problem: problem!.problem });
    if (mode === "check") return recovered();
    if (content && !partial) partial = { file, content };
    moveAside(file, `damaged-at-${problem!.offset}`);
    log(`repair: ${file} is damaged at byte ${problem!.offset} (${problem!.problem}); moved aside`);
  }
  if (base === 0 && partial) {
    // No intact snapshot: the intact records of the newest damaged one are all there is.
    const { state } = partial.content;
    const sessions = new Set(state.sessions.map((s) => s.key));
    state.mirrors = state.mirrors.filter((m) => sessions.has(m.mirror.subscriber));
    const used = new Set(state.mirrors.flatMap((m) => m.slots));
    state.tableOrder = state.tableOrder.filter((slot) => used.has(slot));
    load(partial.content);
    base = partial.content.header.generation;
    report.snapshot = { file: partial.file, generation: base, lastSeq: partial.content.header.lastSeq, createdAt: partial.content.header.createdAt };
    log(`repair: no intact snapshot; kept the intact part of ${partial.file} (${state.sessions.length} sessions, ${state.mirrors.length} mirror sessions)`);
  }

  // 2. The journals from the snapshot's generation on, without gaps.
  const chain = journals.filter((g) => g >= base);
  const expectedFirst = base === 0 ? 1 : base;
  if (chain.length > 0 && chain[0] > expectedFirst) {
    damaged({ file: journalName(chain[0]), offset: 0, problem: `${base === 0 ? "there is no snapshot and" : `snapshot ${base} is followed by`} no ${journalName(expectedFirst)}: the records before this journal are missing` });
    if (mode === "check") return recovered();
    if (base === 0 && mode === "repair") log(`repair: starting from ${journalName(chain[0])} without what came before it`);
  }
  for (const [i, generation] of chain.entries()) {
    const file = journalName(generation);
    if (i > 0 && generation !== chain[i - 1] + 1) {
      damaged({ file, offset: 0, problem: `${journalName(chain[i - 1] + 1)} is missing` });
      if (mode === "check") return recovered();
      for (const later of chain.slice(i)) moveAside(journalName(later), "moved-aside");
      break;
    }
    const bytes = readFileSync(join(directory, file));
    // Each record parsed as it is applied (iterateFrames); `end` is where the frames stopped, and why.
    const reader = iterateFrames(bytes);
    let end: { damage?: Damage } | undefined;
    const next = (): Frame | undefined => {
      if (end) return undefined;
      const step = reader.next();
      if (step.done) end = step.value;
      return step.done ? undefined : step.value;
    };
    const last = i === chain.length - 1;
    let stop: { offset: number; problem: string; torn: boolean } | undefined;
    const header = next();
    const h = header?.value as Partial<JournalHeader> | undefined;
    if (header && (h?.kind !== "journal" || !READABLE_JOURNAL_FORMATS.includes(h.format) || h.generation !== generation)) {
      stop = { offset: 0, problem: `not a generation ${generation} journal header (${JSON.stringify(header.value).slice(0, 80)})`, torn: false };
    }
    let applied = 0;
    for (let frame = stop ? undefined : next(); frame !== undefined; frame = next()) {
      const { offset, value } = frame;
      const record = decodeRecord(value);
      if (!record) {
        stop = { offset, problem: "not a journal record", torn: false };
        break;
      }
      if (record.seq !== report.lastSeq + 1) {
        stop = { offset, problem: `record ${record.seq} follows record ${report.lastSeq}: ${record.seq > report.lastSeq ? "records are missing" : "records are repeated"}`, torn: false };
        break;
      }
      try {
        applyOperation(store, tunnels, record);
      } catch (e) {
        const error = (e as Error).message;
        report.skipped.push({ file, offset, seq: record.seq, op: record.op, error });
        log(`recovery: ${file} byte ${offset}: record ${record.seq} (${record.op}) cannot be replayed: ${error}; left out`);
      }
      report.lastSeq = record.seq;
      report.replayed++;
      applied++;
    }
    const damage: Damage | undefined = end?.damage;
    if (!stop && damage) stop = { offset: damage.offset, problem: damage.problem, torn: damage.kind === "torn" && last };
    report.journals.push({ file, records: applied });
    report.generation = generation;
    report.recordsInJournal = applied;
    report.journalNeedsHeader = header === undefined;
    report.journalFormat = header ? h?.format : undefined;
    if (!stop) continue;
    if (stop.torn) {
      report.tornTail = { file, offset: stop.offset, bytes: bytes.length - stop.offset, problem: stop.problem };
      log(`recovery: ${file}: discarded a torn last record at byte ${stop.offset} (${stop.problem}): a write cut short by a crash, never acknowledged`);
      if (mode !== "check") {
        writeFileSync(join(directory, `${file}.torn-at-${stop.offset}`), bytes.subarray(stop.offset), { mode: 0o600 });
        truncateSync(join(directory, file), stop.offset);
      }
      break;
    }
    damaged({ file, offset: stop.offset, problem: stop.problem });
    if (mode === "check") return recovered();
    // Repair: keep the intact prefix, move the rest of this file and every later journal aside.
    const rest = `${file}.damaged-at-${stop.offset}`;
    writeFileSync(join(directory, rest), bytes.subarray(stop.offset), { mode: 0o600 });
    truncateSync(join(directory, file), stop.offset);
    report.movedAside.push(`${file} bytes ${stop.offset}..${bytes.length} -> ${rest}`);
    for (const later of chain.slice(i + 1)) moveAside(journalName(later), "moved-aside");
    log(`repair: ${file} is damaged at byte ${stop.offset} (${stop.problem}); kept the ${applied} record(s) before it, moved the rest aside`);
    break;
  }
  return recovered();

  function load(content: SnapshotContent): void {
    store = new JournaledSessionStore(storeOptions);
    tunnels = new JournaledTunnelRegistry();
    store.importState(content.state as StoreState);
    for (const t of content.tunnels) restoreTunnel(tunnels, t);
    report.lastSeq = content.header.lastSeq;
  }
}

function restoreTunnel(tunnels: JournaledTunnelRegistry, tunnel: { name: string; sourceAddress: string; interface?: string; dscp?: number; createdAt: number }): void {
  const { createdAt, ...spec } = tunnel;
  tunnels.add(spec, createdAt);
}
