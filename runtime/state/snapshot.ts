/**
 * Snapshots: the whole state (sessions, mirror sessions with their target slots, triggers, pending
 * login arms, tunnels, ID counters) as framed records (frame.ts) in one file:
 *
 * 1. header `{ kind: "snapshot", format, generation, lastSeq, createdAt, counts, table }`;
 * 2. chunks of at most `CHUNK` items: `{ columns: [...], values: [...] }` (sessions by column:
 *    one array per field, `null` where a session has none; a string field with few distinct
 *    values, such as the NAS, as `{ "dictionary": [...], "indexes": [...] }`), `{ mirrors: [...] }`,
 *    `{ triggers: [...] }`, `{ arms: [...] }`, `{ tunnels: [...] }` (large JSON documents of a few
 *    arrays parse faster per byte than many small ones, and no single string approaches V8's
 *    limit). Format 1 had `{ columns: [...], sessions: [[...], ...] }`, a row per session; it is
 *    still read;
 * 3. `{ kind: "end", records }`: a snapshot without it is incomplete.
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
import { encodeFrame, type Frame } from "./frame.ts";
import { fsyncDirectory } from "./journal.ts";

/** Written: 2 (sessions by column). Read: 1 (sessions by row) and 2. */
export const SNAPSHOT_FORMAT = 2;
const READABLE_FORMATS = [1, 2];
const CHUNK = 4096;

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

/** The snapshot's records in file order, one chunk at a time. */
function* snapshotRecords({ header, state, tunnels }: SnapshotContent): Generator<unknown> {
  yield header;
  let records = 1;
  for (let i = 0; i < state.sessions.length; i += CHUNK) {
    records++;
    yield sessionColumns(state.sessions.slice(i, i + CHUNK));
  }
  const lists: [string, unknown[]][] = [["mirrors", state.mirrors], ["triggers", state.triggers], ["arms", state.arms], ["tunnels", tunnels]];
  for (const [name, items] of lists) {
    for (let i = 0; i < items.length; i += CHUNK) {
      records++;
      yield { [name]: items.slice(i, i + CHUNK) };
    }
  }
  yield { kind: "end", records: records + 1 };
}

/** A column of strings that repeat (the NAS, a pool's port names): each distinct one once. */
interface DictionaryColumn {
  dictionary: (string | null)[];
  indexes: number[];
}

/**
 * Sessions by column (format 2): one array per field instead of one per session, fewer and larger
 * arrays for JSON.parse; repeated strings stored once (and shared by the decoded sessions).
 */
function sessionColumns(sessions: SubscriberSession[]): { columns: string[]; values: (unknown[] | DictionaryColumn)[] } {
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
    for (const record of snapshotRecords(content)) {
      writeSync(fd, encodeFrame(record));
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
  if (!READABLE_FORMATS.includes(header.format)) throw new SnapshotError(`snapshot format ${header.format}, this iapd reads formats ${READABLE_FORMATS.join(" and ")}`, first.offset);
  const state: StoreState = { ...header.table, sessions: [], mirrors: [], triggers: [], arms: [] };
  const tunnels: Tunnel[] = [];
  let complete = false;
  for (const { offset, value } of frames.slice(1)) {
    if (complete) throw new SnapshotError("records after the end record", offset);
    const v = value as Record<string, unknown[] | undefined> & { kind?: string; records?: number };
    if (v.kind === "end") {
      if (v.records !== frames.length) throw new SnapshotError(`end record counts ${v.records} records, the file has ${frames.length}`, offset);
      complete = true;
    } else if (v.values && v.columns && header.format >= 2) pushAll(state.sessions, sessionsFromColumns(v.columns as string[], v.values as (unknown[] | DictionaryColumn)[], offset));
    else if (v.sessions && v.columns) pushAll(state.sessions, sessionObjects(v.columns as string[], v.sessions as unknown[][]));
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
