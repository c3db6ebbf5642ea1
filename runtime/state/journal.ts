/**
 * The journal: an append-only file of framed records (frame.ts), one per store mutation, with
 * group commit. `append` only buffers, synchronously, so that the record sits in the same tick as
 * the mutation it describes; `sync` writes and fdatasyncs everything appended so far, and callers
 * that arrive while a write is under way share the next one: N concurrent requests cost one or two
 * fsyncs, not N.
 *
 * A journal never fails silently: after a write or fsync error every later `sync` rejects with it
 * (the kernel may have dropped the dirty pages; retrying could report success for lost data).
 *
 * ```ts
 * const journal = Journal.create("var/journal-00000001.log", { kind: "journal", format: 1, generation: 1 });
 * journal.append({ seq: 1, op: "endSession", args: ["192.0.2.7|81", "logout"], now: Date.now() });
 * await journal.sync(); // now it may be acknowledged
 * ```
 */
import { closeSync, fdatasync, fsync, openSync, write } from "node:fs";
import { dirname } from "node:path";
import { encodeFrame } from "./frame.ts";

interface Segment {
  path: string;
  fd: number;
  buffers: Buffer[];
  /** Created by us: the directory entry still needs an fsync. */
  fresh: boolean;
}

export class Journal {
  private segments: Segment[];
  private appended = 0;
  private durable = 0;
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
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

  append(record: unknown): void {
    this.segments[this.segments.length - 1].buffers.push(encodeFrame(record));
    this.appended++;
    this.recordsInFile++;
  }

  /**
   * Continues in a new file, starting with `header`; records appended before this call stay in
   * the old file, which is closed once they are durable.
   */
  rotate(path: string, header: unknown): void {
    this.segments.push({ path, fd: openSync(path, "wx", 0o600), buffers: [encodeFrame(header)], fresh: true });
    this.recordsInFile = 0;
  }

  /** Resolves once every record appended before the call is on disk. */
  async sync(): Promise<void> {
    const target = this.appended;
    while (this.durable < target || this.segments.some((s) => s.fresh)) {
      if (this.failure) throw this.failure;
      this.flushing ??= this.flush()
        .catch((e: Error) => {
          this.failure = new Error(`journal ${this.path}: ${e.message}; nothing more can be acknowledged`, { cause: e });
        })
        .finally(() => (this.flushing = undefined));
      await this.flushing;
    }
    if (this.failure) throw this.failure;
  }

  /** Syncs, then closes the file. */
  async close(): Promise<void> {
    await this.sync();
    for (const s of this.segments) closeSync(s.fd);
    this.segments = [];
  }

  private async flush(): Promise<void> {
    const upTo = this.appended;
    // By index: a rotation during the awaits adds a segment that this flush also writes.
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i];
      if (segment.buffers.length > 0) {
        const data = Buffer.concat(segment.buffers);
        segment.buffers = [];
        await writeAll(segment.fd, data);
        await new Promise<void>((done, fail) => fdatasync(segment.fd, (e) => (e ? fail(e) : done())));
      }
      if (segment.fresh) {
        await fsyncDirectory(dirname(segment.path));
        segment.fresh = false;
      }
    }
    while (this.segments.length > 1 && this.segments[0].buffers.length === 0) closeSync(this.segments.shift()!.fd);
    this.durable = upTo;
  }
}

async function writeAll(fd: number, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) {
    off += await new Promise<number>((done, fail) => write(fd, data, off, data.length - off, null, (e, n) => (e ? fail(e) : done(n))));
  }
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
