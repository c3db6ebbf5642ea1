/**
 * The active filter, durable: which module serves traffic (and which one a rollback returns to)
 * is written to the state directory, fsync'd, before an activation or rollback returns, so that
 * the API's 2xx never announces a filter a restart would forget. A module that is not built in is
 * stored by its SHA-256 next to the record, its bytes checked against that hash when read back.
 *
 * Files (state directory):
 *
 * - `active-filter.json`: `{ "format": 1, "configured": "jmirror", "active": REF, "previous": REF? }`,
 *   REF being `{ "builtin": "jmirror-l2" }` or `{ "sha256": "…", "name": "…", "origin": "upload" }`;
 *   `configured` is the config's `filter.module` when it was written: once that changes, the
 *   configuration wins again (the record is then ignored, with a log line);
 * - `filters/<sha256>.wasm`: the bytes of every module a record names.
 *
 * Written as a temporary file, fsync'd, renamed, directory fsync'd (as snapshots are).
 */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { CheckedFilter } from "./lifecycle.ts";

export const ACTIVE_FILTER_FORMAT = 1;
export const ACTIVE_FILTER_FILE = "active-filter.json";
export const FILTER_MODULE_DIRECTORY = "filters";

export type FilterRef = { builtin: string } | { sha256: string; name: string; origin: string };

export interface ActiveFilterRecord {
  format: number;
  /** The config's filter.module when this was written. */
  configured: string;
  active: FilterRef;
  previous?: FilterRef;
}

/** A module named by a record, read back and verified against its SHA-256. */
export interface StoredModule {
  ref: FilterRef;
  /** Present for a module that is not built in. */
  bytes?: Uint8Array;
}

function writeDurably(path: string, data: Uint8Array | string): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    const buffer = typeof data === "string" ? Buffer.from(data) : data;
    for (let off = 0; off < buffer.length; ) off += writeSync(fd, buffer, off, buffer.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

function fsyncDirectorySync(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads and writes the active filter record of one state directory. */
export class ActiveFilterStore {
  constructor(readonly directory: string) {}

  get modules(): string {
    return join(this.directory, FILTER_MODULE_DIRECTORY);
  }

  /**
   * Makes `active` (and `previous`) durable: the modules' bytes first, then the record; returns
   * once both are on disk. Module files no record names any more are removed afterwards.
   */
  save(configured: string, active: { ref: FilterRef; checked: CheckedFilter }, previous?: { ref: FilterRef; checked: CheckedFilter }): void {
    mkdirSync(this.modules, { recursive: true, mode: 0o700 });
    let wroteModule = false;
    const keep = new Set<string>();
    for (const item of [active, previous]) {
      if (!item || !("sha256" in item.ref)) continue;
      const name = `${item.ref.sha256}.wasm`;
      keep.add(name);
      const path = join(this.modules, name);
      if (readdirSync(this.modules).includes(name) && sha256(readFileSync(path)) === item.ref.sha256) continue;
      writeDurably(path, item.checked.bytes);
      wroteModule = true;
    }
    if (wroteModule) fsyncDirectorySync(this.modules);
    const record: ActiveFilterRecord = { format: ACTIVE_FILTER_FORMAT, configured, active: active.ref, ...(previous ? { previous: previous.ref } : {}) };
    writeDurably(join(this.directory, ACTIVE_FILTER_FILE), `${JSON.stringify(record)}\n`);
    fsyncDirectorySync(this.directory);
    for (const name of readdirSync(this.modules)) {
      if (name.endsWith(".wasm") && !keep.has(name)) unlinkSync(join(this.modules, name));
    }
  }

  /** The record, or undefined when there is none. Throws (naming the file) when it is unreadable. */
  load(): ActiveFilterRecord | undefined {
    const path = join(this.directory, ACTIVE_FILTER_FILE);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    let record: ActiveFilterRecord;
    try {
      record = JSON.parse(text) as ActiveFilterRecord;
    } catch {
      throw new Error(`${path}: not JSON`);
    }
    if (record?.format !== ACTIVE_FILTER_FORMAT || typeof record.configured !== "string" || !isRef(record.active) || (record.previous !== undefined && !isRef(record.previous))) {
      throw new Error(`${path}: not an active filter record of format ${ACTIVE_FILTER_FORMAT}`);
    }
    return record;
  }

  /** The bytes of a stored module, checked against its SHA-256. Throws when missing or altered. */
  moduleBytes(hash: string): Uint8Array {
    const path = join(this.modules, `${hash}.wasm`);
    const bytes = new Uint8Array(readFileSync(path));
    const actual = sha256(bytes);
    if (actual !== hash) throw new Error(`${path}: its SHA-256 is ${actual}, not the name's`);
    return bytes;
  }
}

function isRef(value: unknown): value is FilterRef {
  const v = value as Record<string, unknown> | undefined;
  return !!v && (typeof v.builtin === "string" || (typeof v.sha256 === "string" && /^[0-9a-f]{64}$/.test(v.sha256) && typeof v.name === "string"));
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
