/**
 * Durable state: the session store and tunnel registry restored from the state directory, every
 * later mutation journaled, snapshots and compaction. The rule for every caller that answers a
 * request (RADIUS handlers, API routes): mutate, then `await state.commit()`, then answer.
 *
 * ```ts
 * const state = await DurableState.open({ directory: "var", snapshotEveryRecords: 100000, store: { maxMirrors: 65536 } });
 * state.store.endSession(key, "logout", Date.now());
 * await state.commit(); // durable: now acknowledge
 * await state.close();  // final snapshot
 * ```
 */
import { mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { SessionStoreOptions } from "../sessions/store.ts";
import { Journal } from "./journal.ts";
import type { JournaledSessionStore, JournaledTunnelRegistry, Operation } from "./journaled.ts";
import { JOURNAL_FORMAT, journalHeader, journalName, recover, snapshotName, type RecoveryReport } from "./recovery.ts";
import { encodeRecord } from "./record.ts";
import { captureSnapshot, writeSnapshot } from "./snapshot.ts";

/**
 * Sessions indexed per turn of the event loop after recovery: well under a millisecond each, so that
 * what start-up still does after recovery (sockets, data plane), and a request meanwhile, waits for
 * little more than one such slice per turn (2,000 delayed "ready" by ~1 s at 1M sessions).
 */
const INDEX_SLICE = 250;

export interface DurableStateOptions {
  directory: string;
  /** A snapshot (and a new journal generation) once the current journal holds this many records. */
  snapshotEveryRecords: number;
  /** For the restored store (maxMirrors, sessionIdFor); its sink is attached after recovery. */
  store: SessionStoreOptions;
  /** Operational lines: recovery, torn tail, snapshots; never LI data. */
  log?: (line: string) => void;
}

export class DurableState {
  private snapshotting: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly options: DurableStateOptions & { log: (line: string) => void },
    readonly store: JournaledSessionStore,
    readonly tunnels: JournaledTunnelRegistry,
    private journal: Journal,
    private generation: number,
    private seq: number,
    /** What recovery found and did. */
    readonly recovery: RecoveryReport & { milliseconds: number },
  ) {
    const append = (op: Operation) => this.journal.appendJson(encodeRecord(++this.seq, op));
    store.onOperation = append;
    tunnels.onOperation = append;
  }

  /**
   * Recovers the directory's state (creating the directory when missing) and opens its journal.
   * Throws StateError, naming file and offset, when anything but a torn last record is damaged.
   */
  static async open(options: DurableStateOptions): Promise<DurableState> {
    const log = options.log ?? (() => {});
    const { directory } = options;
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const started = performance.now();
    const { store, tunnels, report } = recover(directory, "start", options.store, log);
    let generation = report.generation;
    let journal: Journal;
    if (generation === 0) {
      generation = report.snapshot?.generation ?? 1;
      journal = Journal.create(join(directory, journalName(generation)), journalHeader(generation));
    } else {
      const path = join(directory, journalName(generation));
      journal = report.journalNeedsHeader ? Journal.restart(path, journalHeader(generation)) : Journal.continue(path, report.recordsInJournal);
    }
    await journal.sync();
    const state = new DurableState({ ...options, log }, store, tunnels, journal, generation, report.lastSeq, { ...report, milliseconds: performance.now() - started });
    const c = report.counts;
    log(
      `state ${directory}: ${report.snapshot ? report.snapshot.file : "no snapshot"} + ${report.replayed} journal record(s) in ${Math.round(state.recovery.milliseconds)} ms: ` +
        `${c.sessions} session(s), ${c.mirrors} mirror session(s), ${c.triggers} trigger(s), ${c.tunnels} tunnel(s), ${c.pendingArms} pending login arm(s)`,
    );
    // A journal an older version wrote (format 1) is not continued in this version's format: a
    // snapshot now moves on to a new generation, so that every journal file is of one format.
    if (report.journalFormat !== undefined && report.journalFormat !== JOURNAL_FORMAT && !report.journalNeedsHeader) await state.snapshot();
    state.snapshotIfDue();
    state.indexInBackground();
    return state;
  }

  /**
   * The store's secondary indexes (sessions by Acct-Session-Id, User-Name, address... and NAS)
   * are not part of recovery: they are built here in slices once start-up goes on, between
   * requests; a lookup before they are complete finishes them first (SessionStore.indexSome).
   */
  private indexInBackground(): void {
    if (!this.store.indexing) return;
    const started = performance.now();
    const step = () => {
      if (this.closed) return;
      if (this.store.indexSome(INDEX_SLICE)) setImmediate(step);
      else this.options.log(`state: session indexes built in ${Math.round(performance.now() - started)} ms after recovery`);
    };
    setImmediate(step);
  }

  /**
   * Resolves once every mutation made before the call is on disk: acknowledge after it. The
   * callers of one group commit share the promise (Journal.sync), so a request costs none of its own.
   */
  commit(): Promise<void> {
    const durable = this.journal.sync();
    // A snapshot due now first waits for this same sync (writeSnapshot), so starting it here is safe.
    this.snapshotIfDue();
    return durable;
  }

  /**
   * Writes a snapshot of the state now and continues in a new journal generation; then removes
   * generations older than the previous one (kept so that a damaged newest snapshot still has a
   * fallback: the previous snapshot and the journals after it).
   */
  async snapshot(): Promise<void> {
    while (this.snapshotting) await this.snapshotting;
    this.snapshotting = this.writeSnapshot().finally(() => (this.snapshotting = undefined));
    return this.snapshotting;
  }

  /** Waits for a snapshot under way, writes a final one when the journal has records, closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.snapshotting;
    if (this.journal.recordsInFile > 0) await this.snapshot();
    await this.journal.close();
  }

  private snapshotIfDue(): void {
    if (this.closed || this.snapshotting || this.journal.recordsInFile < this.options.snapshotEveryRecords) return;
    this.snapshot().catch((e: Error) => this.options.log(`state: snapshot failed, the journal goes on: ${e.message}`));
  }

  private async writeSnapshot(): Promise<void> {
    const { directory } = this.options;
    const generation = this.generation + 1;
    const started = performance.now();
    // Same tick: the snapshot is the state after record `seq`, the new journal starts at seq + 1.
    const content = captureSnapshot(this.store, this.tunnels, { generation, lastSeq: this.seq });
    this.journal.rotate(join(directory, journalName(generation)), journalHeader(generation));
    this.generation = generation;
    await this.journal.sync();
    await writeSnapshot(join(directory, snapshotName(generation)), content);
    const removed = compact(directory, generation - 1);
    this.options.log(`state: ${snapshotName(generation)} written in ${Math.round(performance.now() - started)} ms (${this.store.sessionCount} sessions)${removed > 0 ? `; removed ${removed} old file(s)` : ""}`);
  }
}

/** Removes snapshots, journals and leftover temporary snapshots older than `keepFrom`. */
function compact(directory: string, keepFrom: number): number {
  let removed = 0;
  for (const name of readdirSync(directory)) {
    const m = /^(?:snapshot|journal)-(\d{8,})\.(?:snap|log|snap\.tmp)$/.exec(name);
    if (m && Number(m[1]) < keepFrom) {
      unlinkSync(join(directory, name));
      removed++;
    }
  }
  return removed;
}
