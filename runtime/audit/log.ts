/**
 * The audit log: an append-only file of JSON lines, one per lawful-intercept action (API, RADIUS,
 * triggers), each record carrying the hash of the one before it. Editing, removing or reordering a
 * record breaks the chain at that line; `verifyAuditLog` names the first broken line.
 *
 * Two ways to add a record, both durable before the caller answers:
 * - `record` writes the record (and any appended before it) and fsyncs before it returns: for a
 *   caller that answers right after it (an API read of LI data).
 * - `append` only buffers the record, in chain order, and `sync` makes everything appended so far
 *   durable: the records of one event-loop turn are written together with one fdatasync, shared by
 *   every caller of that turn (group commit, like the journal's, runtime/state/journal.ts). The
 *   RADIUS replies and API answers wait for it through the daemon's commit (`commitWith`).
 * Either way the hash chain is the same: a record's hash is fixed when it is added.
 *
 * ```ts
 * const audit = AuditLog.open("var/audit.log", () => Date.now());
 * audit.record({ actor: "radius:192.0.2.7", action: "mirror.start", object: "mirror:m3", outcome: "ok" });
 * ```
 *
 * The chain proves order and integrity of what is in the file, not that nothing was cut off the end:
 * compare the last hash (`verifyAuditLog(...).head`) with a copy kept elsewhere to detect truncation.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fdatasync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { basename, dirname } from "node:path";
import { GroupCommit } from "../state/group-commit.ts";

/** What happened; `detail` carries action-specific values (intercept ID, reason...). */
export interface AuditEntry {
  /** Token name for the API (`api:alice`), `radius:<client>`, `trigger:<id>`. */
  actor: string;
  /** Dotted verb such as `mirror.terminate`, `trigger.create`. */
  action: string;
  /** What it acted on: `mirror:m3`, `session:<nas>|<acct-session-id>`, `trigger:t1`. */
  object: string;
  /** `ok`, or why not: `not-found`, `denied`, `invalid`. */
  outcome: string;
  detail?: Record<string, string | number | boolean>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  /** ISO 8601, UTC. */
  time: string;
  prevHash: string;
  hash: string;
}

/** The prevHash of the first record. */
export const GENESIS_HASH = "0".repeat(64);

export class AuditError extends Error {
  override name = "AuditError";
}

/** Something that records LI actions: the API, the RADIUS layer and triggers all take one. */
export interface AuditSink {
  /** Adds a record, durable when this returns. */
  record(entry: AuditEntry): AuditRecord;
  /**
   * Adds a record, durable once the caller's commit resolves (group commit): for records made
   * inside a request that waits for the commit before it answers (RADIUS, API mutations).
   * Optional: a sink without it gets `record`.
   */
  append?(entry: AuditEntry): AuditRecord;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class AuditLog implements AuditSink {
  /** Lines appended and not yet written. */
  private pending: string[] = [];
  /** Records added (seq of the last one), written to the file, and fdatasync'd. */
  private written: number;
  private durable: number;
  /** One write + fdatasync for the sync callers of a turn (runtime/state/group-commit.ts). */
  private readonly commit = new GroupCommit({
    flush: () => this.flush(),
    describe: (e) => (e instanceof AuditError ? e : new AuditError(`audit log: ${e.message}; nothing more can be acknowledged`, { cause: e })),
  });
  private closing = false;
  /** The last `commitWith` result, shared by the callers of one group commit. */
  private joined: { first: Promise<void>; audit: Promise<void>; both: Promise<void> } | undefined;

  private constructor(
    private fd: number,
    private seq: number,
    private prevHash: string,
    private clock: () => number,
  ) {
    this.written = this.durable = seq;
  }

  /**
   * Opens (creating with mode 0600) a log and continues its chain. Refuses a log whose chain is
   * already broken: appending to it would make the damage look like part of a valid history.
   *
   * One exception, the journal's torn-tail rule: a last line without its newline, or a last line
   * that is not JSON, is a write a crash cut short (`record` returns only once the whole line is
   * fsync'd, so it was never acknowledged). When everything before it verifies, its bytes are set
   * aside in `<path>.torn-at-<OFFSET>` (never deleted), the file is cut back to the last intact
   * record, `log` says so, and the chain continues from there.
   */
  static open(path: string, clock: () => number = Date.now, log: (line: string) => void = () => {}): AuditLog {
    let bytes = Buffer.alloc(0);
    try {
      bytes = readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    let check = verifyAuditText(bytes.toString("utf8"));
    const torn = check.ok ? undefined : tornTailOffset(bytes);
    if (!check.ok && torn !== undefined) {
      const intact = verifyAuditText(bytes.subarray(0, torn).toString("utf8"));
      if (intact.ok) {
        const problem = check.problem;
        let side = `${path}.torn-at-${torn}`;
        for (let n = 1; existsSync(side); n++) side = `${path}.torn-at-${torn}.${n}`;
        const sideFd = openSync(side, "wx", 0o600);
        try {
          writeSync(sideFd, bytes.subarray(torn));
          fsyncSync(sideFd);
        } finally {
          closeSync(sideFd);
        }
        fsyncDirectory(dirname(path));
        const fd = openSync(path, "r+");
        try {
          ftruncateSync(fd, torn);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        log(`audit: ${path}: set aside a torn last line at byte ${torn} (${bytes.length - torn} byte(s), ${problem}) in ${basename(side)}: a write cut short by a crash, never acknowledged; the chain continues from record ${intact.records}`);
        check = intact;
      }
    }
    if (!check.ok) throw new AuditError(`${path}:${check.line}: ${check.problem}; refusing to append to a broken audit chain`);
    const fd = openSync(path, "a", 0o600);
    return new AuditLog(fd, check.records, check.head, clock);
  }

  /**
   * Appends one record and fsyncs it (with every record appended before it); throws if the disk
   * refuses (the caller must not claim success).
   */
  record(entry: AuditEntry): AuditRecord {
    const record = this.append(entry);
    this.writePending();
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw this.fail(e as Error);
    }
    this.durable = Math.max(this.durable, record.seq);
    return record;
  }

  /**
   * Adds one record to the chain and buffers its line; `sync` makes it durable. Throws only after
   * an earlier write failed (the log accepts nothing more).
   */
  append(entry: AuditEntry): AuditRecord {
    if (this.commit.failure) throw this.commit.failure;
    if (this.closing) throw new AuditError("audit log closed");
    const body = {
      seq: this.seq + 1,
      time: new Date(this.clock()).toISOString(),
      actor: entry.actor,
      action: entry.action,
      object: entry.object,
      outcome: entry.outcome,
      ...(entry.detail ? { detail: entry.detail } : {}),
      prevHash: this.prevHash,
    };
    const record: AuditRecord = { ...body, hash: hashRecord(body) };
    this.pending.push(`${JSON.stringify(record)}\n`);
    this.seq = record.seq;
    this.prevHash = record.hash;
    return record;
  }

  /**
   * Resolves once every record added before the call is on disk. The callers of one event-loop
   * turn, and those arriving while a flush is under way, share one promise and one write +
   * fdatasync; the flush starts after the turn (setImmediate). After a write or fdatasync error
   * every later sync rejects (the kernel may have dropped the dirty pages).
   */
  sync(): Promise<void> {
    if (this.commit.failure) return Promise.reject(this.commit.failure);
    if (this.durable === this.seq) return RESOLVED;
    return this.commit.join();
  }

  /**
   * `first` (the journal's commit) and this log's `sync`, as one promise; the same promise for the
   * callers of one group commit (the RADIUS server batches the replies that share one).
   */
  commitWith(first: Promise<void>): Promise<void> {
    const audit = this.sync();
    if (audit === RESOLVED) return first;
    const joined = this.joined;
    if (joined && joined.first === first && joined.audit === audit) return joined.both;
    const both = Promise.all([first, audit]).then(() => {});
    both.catch(() => {});
    this.joined = { first, audit, both };
    return both;
  }

  /** Records fdatasync'd (or fsync'd) so far, including those found at open. */
  get durableCount(): number {
    return this.durable;
  }

  /** Writes what is buffered and returns the promise of its fdatasync. */
  private flush(): Promise<void> {
    this.writePending();
    const upTo = this.written;
    return new Promise<void>((done, fail) => fdatasync(this.fd, (e) => (e ? fail(e) : done()))).then(() => {
      if (upTo > this.durable) this.durable = upTo;
    });
  }

  /** Writes the buffered lines, in order, with one write (the page cache: cheap). */
  private writePending(): void {
    if (this.pending.length === 0) return;
    if (this.commit.failure) throw this.commit.failure;
    const line = Buffer.from(this.pending.length === 1 ? this.pending[0] : this.pending.join(""));
    const upTo = this.seq;
    this.pending = [];
    try {
      let written = 0;
      while (written < line.length) written += writeSync(this.fd, line, written);
    } catch (e) {
      throw this.fail(e as Error);
    }
    this.written = upTo;
  }

  private fail(e: Error): Error {
    return this.commit.fail(e);
  }

  /** Records written so far, including those found at open. */
  get count(): number {
    return this.seq;
  }

  /**
   * Writes and fsyncs what is buffered, then closes the file (once the fdatasyncs under way have
   * finished). Throws if the final write or fsync fails.
   */
  close(): void {
    if (this.closing) return;
    try {
      if (!this.commit.failure && this.durable < this.seq) {
        this.writePending();
        fsyncSync(this.fd);
        this.durable = this.seq;
      }
    } catch (e) {
      throw this.fail(e as Error);
    } finally {
      this.closing = true;
      // Unless the log failed, everything appended is durable now: those waiting may go on.
      this.commit.settleWaiting(this.commit.failure);
      const fd = this.fd;
      this.commit.whenIdle(() => closeSync(fd));
    }
  }
}

/**
 * Where a torn last line starts: the last line has no newline, or is not JSON. Undefined when the
 * last line is whole (a chain broken there is an edit, not a torn write).
 */
export function tornTailOffset(bytes: Uint8Array): number | undefined {
  if (bytes.length === 0) return undefined;
  const end = bytes[bytes.length - 1] === 0x0a ? bytes.length - 1 : bytes.length;
  const start = bytes.lastIndexOf(0x0a, end - 1) + 1;
  if (end === bytes.length) return start;
  try {
    JSON.parse(Buffer.from(bytes.subarray(start, end)).toString("utf8"));
    return undefined;
  } catch {
    return start;
  }
}

function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** SHA-256 over the canonical form (keys sorted at every level, no whitespace) of a record without its hash. */
export function hashRecord(record: Omit<AuditRecord, "hash">): string {
  return createHash("sha256").update(canonicalJson(record)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export type VerifyResult =
  | { ok: true; records: number; head: string }
  | { ok: false; records: number; head: string; line: number; problem: string };

/** Checks a whole log: `line` is the 1-based number of the first line that breaks the chain. */
export function verifyAuditLog(path: string): VerifyResult {
  return verifyAuditText(readFileSync(path, "utf8"));
}

export function verifyAuditText(text: string): VerifyResult {
  const lines = text.split("\n");
  // A last line without its newline was cut short: `record` writes the newline with the record.
  const unterminated = lines.at(-1) !== "";
  if (!unterminated) lines.pop();
  let head = GENESIS_HASH;
  for (const [i, line] of lines.entries()) {
    const fail = (problem: string): VerifyResult => ({ ok: false, records: i, head, line: i + 1, problem });
    if (unterminated && i === lines.length - 1) return fail("the last line has no newline (a torn write)");
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      return fail("not a JSON record (a torn or edited line)");
    }
    if (record === null || typeof record !== "object" || typeof record.hash !== "string") return fail("not an audit record");
    if (record.seq !== i + 1) return fail(`expected seq ${i + 1}, found ${JSON.stringify(record.seq)} (a record was removed, inserted or moved)`);
    if (record.prevHash !== head) return fail("prevHash does not match the previous record's hash (a record was removed or moved)");
    const { hash, ...body } = record;
    if (hashRecord(body) !== hash) return fail("hash does not match the record's content (the record was edited)");
    head = hash;
  }
  return { ok: true, records: lines.length, head };
}
