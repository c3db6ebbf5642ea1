/**
 * Group commit, shared by the journal (runtime/state/journal.ts) and the audit log
 * (runtime/audit/log.ts): the callers of one event-loop turn, and all those that arrive while a
 * flush is under way, share one promise and one write + fdatasync.
 *
 * - `join` returns the promise of the next group; the first caller schedules its flush after the
 *   turn (setImmediate), so the records of every request handled in the turn go in one write.
 * - `flushNow` starts the waiting group's flush mid-turn (below MAX_SYNCS): the journal's call once a
 *   group has EARLY_FLUSH_RECORDS, so that under load its fdatasync overlaps the rest of the turn.
 * - `flush` (the owner's) writes everything appended so far, synchronously and in order, and
 *   returns the promise that it is durable (its fdatasync, in the thread pool). Each fdatasync
 *   covers every write before it, so a group is durable when its own completes.
 * - Up to MAX_SYNCS fdatasyncs are in flight: a group formed while the previous one's fdatasync
 *   runs is written and synced at once instead of waiting for it (on a busy disk an fdatasync
 *   takes milliseconds). `mayStart` lets the owner hold a flush back further (the journal runs a
 *   flush that spans a rotation alone).
 * - Never fails silently: after a write or fdatasync error the group waiting for it and every later
 *   one reject with the same error (the kernel may have dropped the dirty pages; retrying could
 *   report success for lost data).
 *
 * ```ts
 * const commit = new GroupCommit({ flush: () => writeAndSync(), describe: (e) => new Error(`log: ${e.message}`) });
 * await commit.join(); // the records appended before the call are on disk
 * ```
 */
import { waiters, type Waiters } from "./waiters.ts";

/** fdatasyncs in flight at once (each covering every write before it). */
export const MAX_SYNCS = 2;

export interface GroupCommitOptions {
  /** Writes what is appended, in order, now; resolves once it is durable. Throws on a write error. */
  flush: () => Promise<void>;
  /** Whether a flush may start now, given the fdatasyncs in flight (below MAX_SYNCS). */
  mayStart?: (inFlight: number) => boolean;
  /** The error every later sync rejects with, made from the first write or fdatasync error. */
  describe: (e: Error) => Error;
}

export class GroupCommit {
  /** The group that the next flush makes durable; undefined: nobody waits. */
  #next: Waiters | undefined;
  /** A flush is scheduled (setImmediate). */
  #scheduled = false;
  #inFlight = 0;
  #failure: Error | undefined;
  /** Called once nothing is waiting, being written or synced. */
  #idle: (() => void)[] = [];

  constructor(private readonly options: GroupCommitOptions) {}

  /** The first write or fdatasync error, if there was one: nothing more can be acknowledged. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Records `e` as the failure (the first one stays) and returns the error callers see. */
  fail(e: Error): Error {
    this.#failure ??= this.options.describe(e);
    return this.#failure;
  }

  /** Resolves once everything appended before the call is durable (the next group's flush). */
  join(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (!this.#next) {
      this.#next = waiters();
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#pump);
      }
    }
    return this.#next.promise;
  }

  /** Settles the waiting group without a flush: the owner made its records durable itself (a final fsync at close) or gives up on them. */
  settleWaiting(error?: Error): void {
    const group = this.#next;
    this.#next = undefined;
    if (error) group?.reject(error);
    else group?.resolve();
    this.#settle();
  }

  /** Runs `done` once no group is waiting, being written or synced (at once when none is). */
  whenIdle(done: () => void): void {
    this.#idle.push(done);
    this.#settle();
  }

  /**
   * Starts the waiting group's flush now, mid-turn, when it may (below MAX_SYNCS): the owner's
   * call once a group is large enough that its fdatasync should overlap with the rest of the turn.
   * Otherwise the group waits as it would have (the turn's end, or a flush in flight completing).
   */
  flushNow(): void {
    if (this.#next) this.#start();
  }

  /** Starts the waiting group's flush when it may. */
  readonly #pump = (): void => {
    this.#scheduled = false;
    this.#start();
  };

  #start(): void {
    const group = this.#next;
    if (!group || this.#inFlight >= MAX_SYNCS || (this.options.mayStart && !this.options.mayStart(this.#inFlight))) return;
    this.#next = undefined;
    if (this.#failure) {
      group.reject(this.#failure);
      this.#settle();
      return;
    }
    let durable: Promise<void>;
    try {
      durable = this.options.flush();
    } catch (e) {
      group.reject(this.fail(e as Error));
      this.#settle();
      return;
    }
    this.#inFlight++;
    durable.then(
      () => {
        this.#inFlight--;
        group.resolve();
        this.#start();
        this.#settle();
      },
      (e: Error) => {
        this.#inFlight--;
        group.reject(this.fail(e));
        this.#start();
        this.#settle();
      },
    );
  }

  #settle(): void {
    if (this.#inFlight > 0 || this.#next || this.#idle.length === 0) return;
    for (const done of this.#idle.splice(0)) done();
  }
}
