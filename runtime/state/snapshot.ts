/**
 * Snapshots: the whole state (sessions, mirror sessions with their target slots, triggers, pending
 * login arms, tunnels, ID counters) as framed records (frame.ts) in one file:
 *
 * 1. header `{ kind: "snapshot", format, generation, lastSeq, createdAt, counts, table }`;
 * 2. chunks `{ sessions: [...] }`, `{ mirrors: [...] }`, `{ triggers: [...] }`, `{ arms: [...] }`,
 *    `{ tunnels: [...] }` of at most `CHUNK` items each (large JSON documents parse faster per byte
 *    than many small ones, and no single string approaches V8's limit);
 * 3. `{ kind: "end", records }`: a snapshot without it is incomplete.
 *
 * A snapshot is written to a temporary name, fsync'd, renamed into place and the directory fsync'd
 * (POSIX rename is atomic: a reader sees the old state or the whole new file, never a part).
 *
 * ```ts
 * await writeSnapshot("var/snapshot-00000002.snap", encodeSnapshot(store, tunnels, { generation: 2, lastSeq: 1234 }));
 * ```
 */
import { closeSync, fsync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { SessionStore, StoreState } from "../sessions/store.ts";
import type { Tunnel, TunnelRegistry } from "../sessions/tunnels.ts";
import { encodeFrame, type Frame } from "./frame.ts";
import { fsyncDirectory } from "./journal.ts";

export const SNAPSHOT_FORMAT = 1;
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

/** Serializes the state synchronously, so that it is the state at this instant. */
export function encodeSnapshot(store: SessionStore, tunnels: TunnelRegistry, meta: { generation: number; lastSeq: number }): Buffer[] {
  const state = store.exportState();
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
  const frames = [encodeFrame(header)];
  const chunks = (name: string, items: unknown[]) => {
    for (let i = 0; i < items.length; i += CHUNK) frames.push(encodeFrame({ [name]: items.slice(i, i + CHUNK) }));
  };
  chunks("sessions", state.sessions);
  chunks("mirrors", state.mirrors);
  chunks("triggers", state.triggers);
  chunks("arms", state.arms);
  chunks("tunnels", tunnelList);
  frames.push(encodeFrame({ kind: "end", records: frames.length + 1 }));
  return frames;
}

/** Writes `frames` to `path` atomically and durably (temporary file, fsync, rename, directory fsync). */
export async function writeSnapshot(path: string, frames: Buffer[]): Promise<void> {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    for (const frame of frames) writeSync(fd, frame);
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
  if (header.format !== SNAPSHOT_FORMAT) throw new SnapshotError(`snapshot format ${header.format}, this iapd reads ${SNAPSHOT_FORMAT}`, first.offset);
  const state: StoreState = { ...header.table, sessions: [], mirrors: [], triggers: [], arms: [] };
  const tunnels: Tunnel[] = [];
  let complete = false;
  for (const { offset, value } of frames.slice(1)) {
    if (complete) throw new SnapshotError("records after the end record", offset);
    const v = value as Record<string, unknown[] | undefined> & { kind?: string; records?: number };
    if (v.kind === "end") {
      if (v.records !== frames.length) throw new SnapshotError(`end record counts ${v.records} records, the file has ${frames.length}`, offset);
      complete = true;
    } else if (v.sessions) pushAll(state.sessions, v.sessions as StoreState["sessions"]);
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
