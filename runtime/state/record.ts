/**
 * Journal records as JSON text (docs/state.md, "Journal"). Most records are objects,
 * `{"seq":S,"op":"startMirror","args":[...],"now":T}`; the two an accounting load writes for
 * nearly every request are arrays without the key names:
 *
 * - `[S, T, "U", nas, acctSessionId, userName, framedIpAddress, framedIpv6Prefix,
 *   delegatedIpv6Prefix, framedIpv6Address, callingStationId, nasPortId, nasIpAddress,
 *   nasIdentifier]`: `upsertSession`, an absent attribute `null`, trailing `null`s left out;
 * - `[S, T, "E", key, reason]`: `endSession`.
 *
 * Half the bytes of the object form for an Accounting-Start, and half its `JSON.stringify` time
 * (docs/benchmarks.md, RADIUS control plane, fifth session). Journal format 2 may hold both forms;
 * format 1 (object records only) is read as before.
 *
 * ```ts
 * journal.appendJson(encodeRecord(seq, { op: "endSession", args: ["192.0.2.7|81", "logout"], now }));
 * decodeRecord(JSON.parse(text)); // { seq, op, args, now }, or undefined: not a journal record
 * ```
 */
import { OPTIONAL_SESSION_ATTRIBUTES, type SessionAttributes } from "../sessions/store.ts";
import type { Operation, OperationName } from "./journaled.ts";

/** A journal record: the operation and its place in the sequence that snapshots count in. */
export interface JournalRecord extends Operation {
  seq: number;
}

/** The optional session attributes, in the order of an upsert record's columns 5 on (never reordered). */
const OPTIONAL = OPTIONAL_SESSION_ATTRIBUTES;

const UPSERT = "U";
const END = "E";
/** seq, now, tag, nas, acctSessionId. */
const UPSERT_FIXED = 5;

/** The record's JSON text. */
export function encodeRecord(seq: number, { op, args, now }: Operation): string {
  if (op === "upsertSession") {
    const a = args[0] as SessionAttributes;
    const row: (string | number | null)[] = [seq, now, UPSERT, a.nas, a.acctSessionId];
    let used = UPSERT_FIXED;
    for (let i = 0; i < OPTIONAL.length; i++) {
      const value = a[OPTIONAL[i]];
      row.push(value ?? null);
      if (value !== undefined) used = row.length;
    }
    row.length = used;
    return JSON.stringify(row);
  }
  if (op === "endSession") return JSON.stringify([seq, now, END, args[0], args[1]]);
  return JSON.stringify({ seq, op, args, now });
}

/** A parsed record in either form, or undefined when it is not a journal record. */
export function decodeRecord(value: unknown): JournalRecord | undefined {
  if (Array.isArray(value)) return decodeRow(value);
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Partial<JournalRecord>;
  if (typeof record.seq !== "number" || typeof record.op !== "string" || !Array.isArray(record.args) || typeof record.now !== "number") return undefined;
  return record as JournalRecord;
}

function decodeRow(row: unknown[]): JournalRecord | undefined {
  const [seq, now, tag] = row;
  if (typeof seq !== "number" || typeof now !== "number") return undefined;
  if (tag === END) {
    if (row.length !== 5 || typeof row[3] !== "string" || typeof row[4] !== "string") return undefined;
    return { seq, now, op: "endSession" satisfies OperationName, args: [row[3], row[4]] };
  }
  if (tag !== UPSERT || row.length < UPSERT_FIXED || row.length > UPSERT_FIXED + OPTIONAL.length) return undefined;
  const [, , , nas, acctSessionId] = row;
  if (typeof nas !== "string" || typeof acctSessionId !== "string") return undefined;
  const attrs: SessionAttributes = { nas, acctSessionId };
  for (let i = UPSERT_FIXED; i < row.length; i++) {
    const value = row[i];
    if (value === null) continue;
    if (typeof value !== "string") return undefined;
    attrs[OPTIONAL[i - UPSERT_FIXED]] = value;
  }
  return { seq, now, op: "upsertSession" satisfies OperationName, args: [attrs] };
}
