/**
 * The journal: an append-only file of framed records (frame.ts), one per store mutation, with
 * group commit. `append` only buffers, synchronously, so that the record sits in the same tick as
 * the mutation it describes; `sync` writes and fdatasyncs everything appended so far, and callers
 * that arrive while a write is under way share the next one: N concurrent requests cost one or two
 * fsyncs, not N.
 *
 * A journal never fails silently: after a write or fsync error every later `sync` rejects with it
 * (group-commit.ts).
 *
 * ```ts
 * const journal = Journal.create("var/journal-00000001.log", { kind: "journal", format: 1, generation: 1 });
 * journal.append({ seq: 1, op: "endSession", args: ["192.0.2.7|81", "logout"], now: Date.now() });
 * await journal.sync(); // now it may be acknowledged
 * ```
 */
import { closeSync, fdatasync, fsync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { encodeFrame, HEADER_BYTES, jsonFrameCrc, MAGIC } from "./frame.ts";
import { GroupCommit } from "./group-commit.ts";

interface Segment {
  path: string;
  fd: number;
  buffers: Buffer[];
  /** Created by us: the directory entry still needs an fsync. */
  fresh: boolean;
}

/** Records are encoded straight into chunks of this size (a larger record gets a chunk of its own). */
const CHUNK_BYTES = 256 * 1024;
const RESOLVED: Promise<void> = Promise.resolve();
/**
 * Records waiting in one group that start its flush at once instead of at the end of the turn.
 * Under load one turn of the event loop handles every request queued on a socket (libuv reads on
 * while there are datagrams), and with the whole window in one group nothing is left to do while
 * its fdatasync runs: the core idled for it once per group (docs/benchmarks.md, RADIUS control
 * plane, sixth session). A group flushed at this size lets the rest of the turn overlap its
 * fdatasync, and its replies leave sooner.
 */
export const EARLY_FLUSH_RECORDS = 32;
const MAGIC_WORD = MAGIC.readUInt32LE(0);

export class Journal {
  private segments: Segment[];
  private appended = 0;
  /** Records handed to a flush (written, their fdatasync started or done). */
  private flushed = 0;
  private durable = 0;
  /** One write + fdatasync for the sync callers of a turn (group-commit.ts). */
  private readonly commit = new GroupCommit({
    flush: () => this.flush(),
    // A flush that spans a rotation runs alone: the old file is closed once it is durable.
    mayStart: (inFlight) => this.segments.length === 1 || inFlight === 0,
    describe: (e) => new Error(`journal ${this.path}: ${e.message}; nothing more can be acknowledged`, { cause: e }),
  });
  /** Where records are encoded: `chunk[chunkStart, chunkUsed)` is appended and not yet handed to a flush. */
  private chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  private chunkStart = 0;
  private chunkUsed = 0;
  /** Records appended to the current file (rotate resets it): the snapshot policy reads it. */
  recordsInFile: number;

  private constructor(segment: Segment, recordsInFile: number) {
    this.segments = [segment];
    this.recordsInFile = recordsInFile;
  }

  /** A new journal file starting with `header` (made durable by the first sync). */
  static create(path: string, header: unknown): Journal {
    const journal = new Journal({ path, fd: openSync(path, "wx", 0o600), buffers: [], fresh: true }, 0);
    journal.segments[0].buffers.push(encodeFrame(header));
    return journal;
  }

  /** An existing, empty journal file, started again with `header`. */
  static restart(path: string, header: unknown): Journal {
    return new Journal({ path, fd: openSync(path, "a", 0o600), buffers: [encodeFrame(header)], fresh: true }, 0);
  }

  /** Appends to an existing journal file that holds `records` intact records and nothing else. */
  static continue(path: string, records: number): Journal {
    return new Journal({ path, fd: openSync(path, "a", 0o600), buffers: [], fresh: false }, records);
  }

  get path(): string {
    return this.segments[this.segments.length - 1].path;
  }

  /**
   * Buffers one record (frame.ts framing: magic, length, CRC-32, JSON), encoded in place into the
   * current chunk: no Buffer of its own per record.
   */
  append(record: unknown): void {
    this.appendJson(JSON.stringify(record));
  }

  /** `append` for a record already in JSON text (record.ts encodes the store's operations). */
  appendJson(json: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const room = HEADER_BYTES + 3 * json.length;
    if (this.chunk.length - this.chunkUsed < room) this.newChunk(room);
    const chunk = this.chunk;
    const at = this.chunkUsed;
    const length = chunk.write(json, at + HEADER_BYTES, "utf8");
    chunk.writeUInt32LE(MAGIC_WORD, at);
    chunk.writeUInt32LE(length, at + 4);
    // From the text and a reused length field: no view of the chunk per record.
    chunk.writeUInt32LE(jsonFrameCrc(json, length), at + 8);
    this.chunkUsed = at + HEADER_BYTES + length;
    this.appended++;
    this.recordsInFile++;
  }

  /** Hands the encoded, not yet flushed records to the current segment. */
  private seal(): void {
    if (this.chunkUsed === this.chunkStart) return;
    this.segments[this.segments.length - 1].buffers.push(this.chunk.subarray(this.chunkStart, this.chunkUsed));
    this.chunkStart = this.chunkUsed;
  }

  /** Seals the current chunk and starts one with at least `room` bytes (the sealed bytes stay with their flush). */
  private newChunk(room: number): void {
    this.seal();
    this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, room));
    this.chunkStart = this.chunkUsed = 0;
  }

  /**
   * Continues in a new file, starting with `header`; records appended before this call stay in
   * the old file, which is closed once they are durable.
   */
  rotate(path: string, header: unknown): void {
    this.seal();
    this.segments.push({ path, fd: openSync(path, "wx", 0o600), buffers: [encodeFrame(header)], fresh: true });
    this.recordsInFile = 0;
  }

  /**
   * Resolves once every record appended before the call is on disk. Callers of one event-loop
   * turn, and all those that arrive while a flush is under way, share one promise and one
   * write + fdatasync (group commit, group-commit.ts); a group of EARLY_FLUSH_RECORDS starts its
   * flush at once, and later callers of the turn form the next group.
   */
  sync(): Promise<void> {
    if (this.commit.failure) return Promise.reject(this.commit.failure);
    if (this.durable === this.appended && !this.segments.some((s) => s.fresh)) return RESOLVED;
    const durable = this.commit.join();
    if (this.appended - this.flushed >= EARLY_FLUSH_RECORDS) this.commit.flushNow();
    return durable;
  }

  /** Syncs, then closes the file (after every write and fdatasync under way has finished). */
  async close(): Promise<void> {
    try {
      await this.sync();
    } finally {
      await new Promise<void>((done) => this.commit.whenIdle(done));
      for (const s of this.segments) closeSync(s.fd);
      this.segments = [];
    }
  }

  /**
   * Writes everything appended so far, in order, and returns the promise that it is durable: the
   * fdatasyncs (and directory fsyncs of new files) started once the writes are done. Then the
   * files a rotation left behind are closed.
   */
  private flush(): Promise<void> {
    const upTo = this.appended;
    this.flushed = upTo;
    const rotated = this.segments.length > 1;
    this.seal();
    const syncs: Promise<void>[] = [];
    for (const segment of this.segments) {
      if (segment.buffers.length > 0) {
        const data = segment.buffers.length === 1 ? segment.buffers[0] : Buffer.concat(segment.buffers);
        segment.buffers = [];
        writeAll(segment.fd, data);
        syncs.push(new Promise<void>((done, fail) => fdatasync(segment.fd, (e) => (e ? fail(e) : done()))));
      }
      if (segment.fresh) {
        syncs.push(
          fsyncDirectory(dirname(segment.path)).then(() => {
            segment.fresh = false;
          }),
        );
      }
    }
    // Start the next records at the chunk's beginning again once nothing in it awaits a write.
    if (this.chunkStart === this.chunkUsed && this.segments.every((s) => s.buffers.length === 0)) this.chunkStart = this.chunkUsed = 0;
    return Promise.all(syncs).then(() => {
      if (upTo > this.durable) this.durable = upTo;
      if (rotated) while (this.segments.length > 1 && this.segments[0].buffers.length === 0) closeSync(this.segments.shift()!.fd);
    });
  }
}

/**
 * On the main thread, as the audit log writes: a group's records are a copy of a few KiB into the
 * page cache, and a round trip through libuv's thread pool for it cost more. Per commit (append and
 * fdatasync, `taskset -c 1 node scripts/bench/journal-commit.mjs`): 38-50 -> 30-35 µs of CPU and
 * 81-92 -> 70-80 µs of wall time. The fdatasync stays in the thread pool.
 */
function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/** Makes a created or renamed file's directory entry durable (POSIX leaves it to an fsync of the directory). */
export async function fsyncDirectory(directory: string): Promise<void> {
  const fd = openSync(directory, "r");
  try {
    await new Promise<void>((done, fail) => fsync(fd, (e) => (e ? fail(e) : done())));
  } finally {
    closeSync(fd);
  }
}
