/**
 * Snapshots: the whole state (sessions, mirror sessions with their target slots, triggers, pending
 * login arms, tunnels, ID counters) as framed records (frame.ts) in one file:
 *
 * 1. header `{ kind: "snapshot", format, generation, lastSeq, createdAt, counts, table }`;
 * 2. sessions in chunks of at most `SESSION_CHUNK`, each one binary record (format 3, below), then
 *    chunks of at most `CHUNK` items as JSON records: `{ mirrors: [...] }`, `{ triggers: [...] }`,
 *    `{ arms: [...] }`, `{ tunnels: [...] }`;
 * 3. `{ kind: "end", records }`: a snapshot without it is incomplete.
 *
 * A format 3 session chunk is the sessions by column, decoded without JSON.parse: a string column
 * is its values' text in one UTF-8 run plus each value's length (restored as substrings of one
 * decoded string), a column of few distinct strings (the NAS) a dictionary plus an index per
 * session, a number column float64s; anything else (a value of another type, text with surrogate
 * pairs) a JSON array. All little-endian:
 *
 * | field | |
 * |---|---|
 * | u32 | session count N |
 * | u16 | column count |
 * | per column: u8 name length, name (ASCII), u8 kind, then by kind: | |
 * | 1 text | u32 byte length, UTF-8 text, N x u32 length in UTF-16 units (0xffffffff: absent) |
 * | 2 dictionary | u32 byte length, JSON array of the distinct values (string or null: absent), u8 index width (1, 2, 4), N indexes |
 * | 3 number | N x f64 (every session has one) |
 * | 4 JSON | u32 byte length, JSON array of N values (null: absent) |
 *
 * Format 2 had JSON session records `{ columns: [...], values: [...] }` (an array per column, or
 * `{ dictionary, indexes }`), format 1 `{ columns: [...], sessions: [[...], ...] }` (a row per
 * session); both are still read.
 *
 * A snapshot is written to a temporary name, fsync'd, renamed into place and the directory fsync'd
 * (POSIX rename is atomic: a reader sees the old state or the whole new file, never a part).
 *
 * ```ts
 * await writeSnapshot("var/snapshot-00000002.snap", captureSnapshot(store, tunnels, { generation: 2, lastSeq: 1234 }));
 * ```
 */
import { closeSync, fsync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { SessionStore, StoreState, SubscriberSession } from "../sessions/store.ts";
import type { Tunnel, TunnelRegistry } from "../sessions/tunnels.ts";
import { encodeBinaryFrame, encodeFrame, type Frame } from "./frame.ts";
import { fsyncDirectory } from "./journal.ts";

/** Written: 3 (binary session columns). Read: 1 (JSON sessions by row), 2 (JSON sessions by column) and 3. */
export const SNAPSHOT_FORMAT = 3;
const READABLE_FORMATS = [1, 2, 3];
const CHUNK = 4096;
const SESSION_CHUNK = 16384;

export interface SnapshotHeader {
  kind: "snapshot";
  format: number;
  generation: number;
  /** The sequence number of the last journal record the snapshot includes. */
  lastSeq: number;
  createdAt: string;
  counts: { sessions: number; mirrors: number; triggers: number; arms: number; tunnels: number };
  table: Pick<StoreState, "tableOrder" | "freeSlots" | "nextSlot" | "nextMirrorId" | "nextTriggerId">;
}

export interface SnapshotContent {
  header: SnapshotHeader;
  state: StoreState;
  tunnels: Tunnel[];
}

/**
 * The state at this instant, cheaply: shallow copies of what later mutations change in place
 * (sessions, a mirror's slot list), references to what they never change. Encoding and writing
 * then happen in slices (`writeSnapshot`), so a snapshot of a million sessions does not hold
 * RADIUS and API requests for the seconds JSON encoding takes.
 */
export function captureSnapshot(store: SessionStore, tunnels: TunnelRegistry, meta: { generation: number; lastSeq: number }): SnapshotContent {
  const state = store.exportState();
  state.sessions = state.sessions.map((s) => ({ ...s }));
  state.mirrors = state.mirrors.map(({ mirror, slots }) => ({ mirror, slots: [...slots] }));
  const tunnelList = tunnels.list();
  const header: SnapshotHeader = {
    kind: "snapshot",
    format: SNAPSHOT_FORMAT,
    generation: meta.generation,
    lastSeq: meta.lastSeq,
    createdAt: new Date().toISOString(),
    counts: { sessions: state.sessions.length, mirrors: state.mirrors.length, triggers: state.triggers.length, arms: state.arms.length, tunnels: tunnelList.length },
    table: { tableOrder: state.tableOrder, freeSlots: state.freeSlots, nextSlot: state.nextSlot, nextMirrorId: state.nextMirrorId, nextTriggerId: state.nextTriggerId },
  };
  return { header, state, tunnels: tunnelList };
}

/** The snapshot's records in file order, one chunk at a time, framed. */
function* snapshotFrames({ header, state, tunnels }: SnapshotContent): Generator<Buffer> {
  yield encodeFrame(header);
  let records = 1;
  for (let i = 0; i < state.sessions.length; i += SESSION_CHUNK) {
    records++;
    yield encodeBinaryFrame(encodeSessions(state.sessions.slice(i, i + SESSION_CHUNK)));
  }
  const lists: [string, unknown[]][] = [["mirrors", state.mirrors], ["triggers", state.triggers], ["arms", state.arms], ["tunnels", tunnels]];
  for (const [name, items] of lists) {
    for (let i = 0; i < items.length; i += CHUNK) {
      records++;
      yield encodeFrame({ [name]: items.slice(i, i + CHUNK) });
    }
  }
  yield encodeFrame({ kind: "end", records: records + 1 });
}

const TEXT = 1;
const DICTIONARY = 2;
const NUMBER = 3;
const JSON_COLUMN = 4;
const ABSENT = 0xffffffff;
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Format 3: a chunk of sessions as one binary record (the table in the comment at the top). In
 * small functions, one per loop: V8 optimized the single function it was (one loop per column
 * kind, deoptimized and recompiled on OSR as the columns changed kind) at a quarter of the speed
 * (docs/benchmarks.md, RADIUS control plane, fifth session).
 */
export function encodeSessions(sessions: SubscriberSession[]): Buffer {
  const rows = sessions as unknown as Record<string, unknown>[];
  const columns = columnNames(rows);
  const n = rows.length;
  const parts: Buffer[] = [];
  const head = Buffer.alloc(6);
  head.writeUInt32LE(n, 0);
  head.writeUInt16LE(columns.length, 4);
  parts.push(head);
  for (const name of columns) {
    const nameBytes = Buffer.from(name, "latin1");
    parts.push(Buffer.from([nameBytes.length]), nameBytes);
    encodeColumn(columnValues(rows, name), parts);
  }
  return Buffer.concat(parts);
}

/**
 * Every property name in first-seen order. Not a Set of every row's Object.keys: that array of
 * arrays was most of a snapshot's cost (5 µs per session, docs/benchmarks.md, fifth session).
 */
function columnNames(rows: Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  const columns: string[] = [];
  for (const row of rows) {
    for (const name in row) {
      if (!seen.has(name) && Object.hasOwn(row, name)) {
        seen.add(name);
        columns.push(name);
      }
    }
  }
  return columns;
}

function columnValues(rows: Record<string, unknown>[], name: string): unknown[] {
  const column = new Array<unknown>(rows.length);
  for (let r = 0; r < rows.length; r++) column[r] = rows[r][name];
  return column;
}

function allStrings(column: unknown[]): column is (string | undefined)[] {
  for (let r = 0; r < column.length; r++) {
    const v = column[r];
    if (v !== undefined && typeof v !== "string") return false;
  }
  return true;
}

function allNumbers(column: unknown[]): column is number[] {
  for (let r = 0; r < column.length; r++) if (typeof column[r] !== "number") return false;
  return true;
}

const u32 = (v: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(v, 0);
  return b;
};

function encodeColumn(column: unknown[], parts: Buffer[]): void {
  const n = column.length;
  if (allStrings(column)) {
    const distinct = dictionaryOf(column);
    if (distinct) {
      const values = Buffer.from(JSON.stringify([...distinct.keys()].map((v) => v ?? null)), "utf8");
      const width = distinct.size <= 0xff ? 1 : distinct.size <= 0xffff ? 2 : 4;
      parts.push(Buffer.from([DICTIONARY]), u32(values.length), values, Buffer.from([width]), dictionaryIndexes(column, distinct, width));
      return;
    }
    const text = column.join("");
    if (!/[\ud800-\udfff]/.test(text)) {
      const bytes = Buffer.from(text, "utf8");
      parts.push(Buffer.from([TEXT]), u32(bytes.length), bytes, textLengths(column));
      return;
    }
  } else if (allNumbers(column)) {
    const numbers = Buffer.allocUnsafe(n * 8);
    // In one copy where the host's doubles are the format's (and the Buffer is 8-aligned, as Node's pool keeps it).
    if (LITTLE_ENDIAN_HOST && numbers.byteOffset % 8 === 0) new Float64Array(numbers.buffer, numbers.byteOffset, n).set(column);
    else for (let r = 0; r < n; r++) numbers.writeDoubleLE(column[r], r * 8);
    parts.push(Buffer.from([NUMBER]), numbers);
    return;
  }
  const json = Buffer.from(JSON.stringify(column.map((v) => v ?? null)), "utf8");
  parts.push(Buffer.from([JSON_COLUMN]), u32(json.length), json);
}

/**
 * The distinct values by first appearance when they are at most a quarter of the rows, else
 * undefined. A column with more than a quarter of its first rows distinct is not counted further
 * (a unique column would otherwise put n/4 values in the Map to find out).
 */
function dictionaryOf(column: (string | undefined)[]): Map<string | undefined, number> | undefined {
  const n = column.length;
  const sample = Math.min(n, 1024);
  const distinct = new Map<string | undefined, number>();
  for (let r = 0; r < n; r++) {
    const v = column[r];
    if (!distinct.has(v)) distinct.set(v, distinct.size);
    if (distinct.size * 4 > n || (r === sample - 1 && distinct.size * 4 > sample)) return undefined;
  }
  return distinct;
}

/** N little-endian indexes of `width` octets, written octet by octet (Buffer's writeUIntLE per row cost more than the rest). */
function dictionaryIndexes(column: (string | undefined)[], distinct: Map<string | undefined, number>, width: number): Buffer {
  const indexes = Buffer.allocUnsafe(column.length * width);
  for (let r = 0; r < column.length; r++) {
    const index = distinct.get(column[r])!;
    const at = r * width;
    indexes[at] = index;
    if (width > 1) indexes[at + 1] = index >>> 8;
    if (width > 2) {
      indexes[at + 2] = index >>> 16;
      indexes[at + 3] = index >>> 24;
    }
  }
  return indexes;
}

/** N little-endian u32 lengths in UTF-16 units, ABSENT for a missing value. */
function textLengths(column: (string | undefined)[]): Buffer {
  const lengths = Buffer.allocUnsafe(column.length * 4);
  for (let r = 0; r < column.length; r++) {
    const v = column[r];
    const length = v === undefined ? ABSENT : v.length;
    const at = r * 4;
    lengths[at] = length;
    lengths[at + 1] = length >>> 8;
    lengths[at + 2] = length >>> 16;
    lengths[at + 3] = length >>> 24;
  }
  return lengths;
}

type Builder = (columns: unknown[][], count: number, out: SubscriberSession[], slow: (row: number) => SubscriberSession) => void;

/**
 * Session builders by column list: a loop, compiled once per list of column names, that creates
 * each session with every column as one object literal (its final shape in one step, no property
 * added one by one), and leaves a session lacking some column to `slow`.
 */
const builders = new Map<string, Builder | undefined>();

function builderFor(names: string[]): Builder | undefined {
  const id = names.join(",");
  if (builders.has(id)) return builders.get(id);
  // Only names that are plain identifiers (every session field is): they are written into code.
  let builder: Builder | undefined;
  if (names.every((c) => /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(c)) && new Set(names).size === names.length) {
    const body = [
      ...names.map((_, i) => `const c${i} = columns[${i}];`),
      "for (let r = 0; r < count; r++) {",
      ...names.map((_, i) => `  const v${i} = c${i}[r];`),
      `  out[r] = ${names.map((_, i) => `v${i} !== undefined`).join(" && ")} ? { ${names.map((c, i) => `${c}: v${i}`).join(", ")} } : slow(r);`,
      "}",
    ];
    builder = new Function("columns", "count", "out", "slow", body.join("\n")) as Builder;
  }
  builders.set(id, builder);
  return builder;
}

/** Decodes a format 3 session chunk; SnapshotError (at `offset`) when it is not one. */
export function decodeSessions(bytes: Buffer, offset: number): SubscriberSession[] {
  const fail = (what: string): never => {
    throw new SnapshotError(`a sessions record ${what}`, offset);
  };
  let at = 0;
  const need = (count: number) => {
    if (at + count > bytes.length) fail("that ends early");
    const start = at;
    at += count;
    return start;
  };
  const n = bytes.readUInt32LE(need(4));
  const columnCount = bytes.readUInt16LE(need(2));
  // Every column takes at least a byte per session: a count beyond that is not a session record.
  if (columnCount === 0 || n > bytes.length) fail(`claiming ${n} sessions in ${columnCount} columns of ${bytes.length} bytes`);
  const names: string[] = [];
  const values: unknown[][] = [];
  for (let c = 0; c < columnCount; c++) {
    const nameLength = bytes[need(1)];
    names.push(bytes.toString("latin1", need(nameLength), at));
    const kind = bytes[need(1)];
    const column = new Array<unknown>(n);
    if (kind === TEXT) {
      const length = bytes.readUInt32LE(need(4));
      const text = bytes.toString("utf8", need(length), at);
      const start = need(n * 4);
      // An aligned copy: indexing a Uint32Array is cheaper than a read call per value (its byte order
      // is the host's: on a big-endian host, read calls).
      const lengths = LITTLE_ENDIAN_HOST ? new Uint32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + n * 4)) : Array.from({ length: n }, (_, r) => bytes.readUInt32LE(start + r * 4));
      let position = 0;
      for (let r = 0; r < n; r++) {
        const l = lengths[r];
        if (l === ABSENT) continue;
        column[r] = text.substring(position, (position += l));
      }
      if (position !== text.length) fail(`whose text column ${names[c]} does not add up`);
    } else if (kind === DICTIONARY) {
      const length = bytes.readUInt32LE(need(4));
      let dictionary: unknown;
      try {
        dictionary = JSON.parse(bytes.toString("utf8", need(length), at));
      } catch {
        fail(`whose dictionary column ${names[c]} is not JSON`);
      }
      if (!Array.isArray(dictionary)) return fail(`whose dictionary column ${names[c]} is not a list`);
      const width = bytes[need(1)];
      if (width !== 1 && width !== 2 && width !== 4) fail(`whose dictionary column ${names[c]} has index width ${width}`);
      const indexes = need(n * width);
      for (let r = 0; r < n; r++) {
        const i = bytes.readUIntLE(indexes + r * width, width);
        if (i >= dictionary.length) fail(`whose dictionary column ${names[c]} has index ${i} of ${dictionary.length}`);
        column[r] = dictionary[i] ?? undefined;
      }
    } else if (kind === NUMBER) {
      const numbers = need(n * 8);
      for (let r = 0; r < n; r++) column[r] = bytes.readDoubleLE(numbers + r * 8);
    } else if (kind === JSON_COLUMN) {
      const length = bytes.readUInt32LE(need(4));
      let list: unknown;
      try {
        list = JSON.parse(bytes.toString("utf8", need(length), at));
      } catch {
        fail(`whose column ${names[c]} is not JSON`);
      }
      if (!Array.isArray(list) || list.length !== n) return fail(`whose column ${names[c]} does not have ${n} values`);
      for (let r = 0; r < n; r++) column[r] = list[r] ?? undefined;
    } else fail(`with a column of unknown kind ${kind}`);
    values.push(column);
  }
  if (at !== bytes.length) fail("with bytes after its last column");
  const sessions = new Array<SubscriberSession>(n);
  const slow = (r: number) => {
    const session: Record<string, unknown> = {};
    for (let c = 0; c < columnCount; c++) if (values[c][r] !== undefined) session[names[c]] = values[c][r];
    return session as unknown as SubscriberSession;
  };
  const builder = builderFor(names);
  if (builder) builder(values, n, sessions, slow);
  else for (let r = 0; r < n; r++) sessions[r] = slow(r);
  return sessions;
}

/** A column of strings that repeat (the NAS, a pool's port names): each distinct one once. */
interface DictionaryColumn {
  dictionary: (string | null)[];
  indexes: number[];
}

/**
 * Sessions by column as format 2 wrote them (JSON: one array per field, repeated strings once);
 * kept to write format 2 snapshots in the tests that check they are still read.
 */
export function sessionColumns(sessions: SubscriberSession[]): { columns: string[]; values: (unknown[] | DictionaryColumn)[] } {
  const columns = [...new Set(sessions.flatMap((s) => Object.keys(s)))];
  const values = columns.map((c) => {
    const column = sessions.map((s) => (s as unknown as Record<string, unknown>)[c] ?? null);
    const distinct = new Map<unknown, number>();
    for (const v of column) {
      if (typeof v !== "string" && v !== null) return column;
      if (!distinct.has(v)) distinct.set(v, distinct.size);
      if (distinct.size * 4 > column.length) return column;
    }
    return { dictionary: [...distinct.keys()] as (string | null)[], indexes: column.map((v) => distinct.get(v)!) };
  });
  return { columns, values };
}

function sessionsFromColumns(columns: string[], values: (unknown[] | DictionaryColumn)[], offset: number): SubscriberSession[] {
  if (!Array.isArray(values) || values.length !== columns.length) throw new SnapshotError("a sessions record whose columns and values do not match", offset);
  const arrays = values.map((v) => {
    if (Array.isArray(v)) return v;
    if (v && Array.isArray(v.dictionary) && Array.isArray(v.indexes)) return v.indexes.map((i) => v.dictionary[i] ?? null);
    throw new SnapshotError("a sessions record with a malformed column", offset);
  });
  const count = arrays.length > 0 ? arrays[0].length : 0;
  if (arrays.some((a) => a.length !== count)) throw new SnapshotError("a sessions record with columns of different lengths", offset);
  const sessions = new Array<SubscriberSession>(count);
  for (let r = 0; r < count; r++) {
    const session: Record<string, unknown> = {};
    for (let c = 0; c < columns.length; c++) {
      const v = arrays[c][r];
      if (v !== null) session[columns[c]] = v;
    }
    sessions[r] = session as unknown as SubscriberSession;
  }
  return sessions;
}

/** Format 1: sessions as rows under a column list (the fields the chunk's sessions have, null where one has none). */
function sessionObjects(columns: string[], rows: unknown[][]): SubscriberSession[] {
  return rows.map((row) => {
    const session: Record<string, unknown> = {};
    for (let i = 0; i < columns.length; i++) if (row[i] !== null) session[columns[i]] = row[i];
    return session as unknown as SubscriberSession;
  });
}

/**
 * Writes `content` to `path` atomically and durably: a temporary file written a chunk at a time
 * (yielding to other work between chunks), fsync, rename, directory fsync.
 */
export async function writeSnapshot(path: string, content: SnapshotContent): Promise<void> {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    for (const frame of snapshotFrames(content)) {
      writeSync(fd, frame);
      await new Promise((next) => setImmediate(next));
    }
    await new Promise<void>((done, fail) => fsync(fd, (e) => (e ? fail(e) : done())));
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  await fsyncDirectory(dirname(path));
}

export class SnapshotError extends Error {
  override name = "SnapshotError";
  constructor(
    message: string,
    /** Byte offset of the record at fault. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/**
 * Rebuilds the content from a snapshot's intact frames. Throws SnapshotError for a frame that is
 * not what it should be; `complete: false` when the end record is missing (only repair uses that).
 */
export function decodeSnapshot(frames: Frame[]): SnapshotContent & { complete: boolean } {
  const first = frames[0];
  const header = first?.value as SnapshotHeader | undefined;
  if (!header || header.kind !== "snapshot") throw new SnapshotError("no snapshot header", first?.offset ?? 0);
  if (!READABLE_FORMATS.includes(header.format)) throw new SnapshotError(`snapshot format ${header.format}, this iapd reads formats ${READABLE_FORMATS.slice(0, -1).join(", ")} and ${READABLE_FORMATS.at(-1)}`, first.offset);
  const state: StoreState = { ...header.table, sessions: [], mirrors: [], triggers: [], arms: [] };
  const tunnels: Tunnel[] = [];
  let complete = false;
  for (const { offset, value } of frames.slice(1)) {
    if (complete) throw new SnapshotError("records after the end record", offset);
    if (value instanceof Uint8Array) {
      if (header.format < 3) throw new SnapshotError(`a binary record in a format ${header.format} snapshot`, offset);
      pushAll(state.sessions, decodeSessions(value as Buffer, offset));
      continue;
    }
    const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown[] | undefined> & { kind?: string; records?: number };
    if (v.kind === "end") {
      if (v.records !== frames.length) throw new SnapshotError(`end record counts ${v.records} records, the file has ${frames.length}`, offset);
      complete = true;
    } else if (v.values && v.columns && header.format === 2) pushAll(state.sessions, sessionsFromColumns(v.columns as string[], v.values as (unknown[] | DictionaryColumn)[], offset));
    else if (v.sessions && v.columns && header.format === 1) pushAll(state.sessions, sessionObjects(v.columns as string[], v.sessions as unknown[][]));
    else if (v.mirrors) pushAll(state.mirrors, v.mirrors as StoreState["mirrors"]);
    else if (v.triggers) pushAll(state.triggers, v.triggers as StoreState["triggers"]);
    else if (v.arms) pushAll(state.arms, v.arms as StoreState["arms"]);
    else if (v.tunnels) pushAll(tunnels, v.tunnels as Tunnel[]);
    else throw new SnapshotError("unknown snapshot record", offset);
  }
  return { header, state, tunnels, complete };
}

function pushAll<T>(to: T[], items: T[]): void {
  for (const item of items) to.push(item);
}
