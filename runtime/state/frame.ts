/**
 * The record framing shared by journals and snapshots: each record is
 *
 * | bytes | field |
 * |---|---|
 * | 4 | magic `iaps` |
 * | 4 | payload length, little-endian |
 * | 4 | CRC-32 (zlib's, ISO-HDLC) of the length field and the payload, little-endian |
 * | n | payload: one JSON document, UTF-8 |
 *
 * A record with magic `iapb` has the same layout with a binary payload (snapshot format 3 stores
 * its sessions so, runtime/state/snapshot.ts); the reader hands its bytes over as a Buffer.
 *
 * The CRC covers the length so that a flipped length bit is caught, not trusted; the magic lets a
 * reader that met damage look for intact records after it, which is how a torn tail (nothing
 * intact follows: a crash mid-write) is told from damage in the middle (intact records follow).
 *
 * ```ts
 * const bytes = Buffer.concat([encodeFrame({ op: "x" }), encodeFrame({ op: "y" })]);
 * const { records, damage } = readFrames(bytes); // 2 records, no damage
 * ```
 */
import { crc32 } from "node:zlib";

export const MAGIC = Buffer.from("iaps", "latin1");
/** A record whose payload is bytes, not JSON. */
export const BINARY_MAGIC = Buffer.from("iapb", "latin1");
export const HEADER_BYTES = 12;
/** Larger claimed lengths are damage, not records: no record iapd writes comes near it. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** The length field `jsonFrameCrc` hashes: one reused buffer, not a view of the frame per record. */
const LENGTH_FIELD = Buffer.alloc(4);

/**
 * A frame's CRC for a JSON payload given as its text (the octets are its UTF-8, as `Buffer.write`
 * writes them: JSON.stringify's output has no lone surrogates, so there is one encoding).
 */
export function jsonFrameCrc(json: string, payloadLength: number): number {
  LENGTH_FIELD.writeUInt32LE(payloadLength, 0);
  return crc32(json, crc32(LENGTH_FIELD));
}

export function encodeFrame(value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value), "utf8");
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  MAGIC.copy(frame, 0);
  frame.writeUInt32LE(payload.length, 4);
  payload.copy(frame, HEADER_BYTES);
  frame.writeUInt32LE(crc32(payload, crc32(frame.subarray(4, 8))), 8);
  return frame;
}

/** A record of `payload` as it is (read back as a Buffer). */
export function encodeBinaryFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  BINARY_MAGIC.copy(frame, 0);
  frame.writeUInt32LE(payload.length, 4);
  frame.set(payload, HEADER_BYTES);
  frame.writeUInt32LE(crc32(payload, crc32(frame.subarray(4, 8))), 8);
  return frame;
}

export interface Frame {
  /** Byte offset of the frame in the file. */
  offset: number;
  value: unknown;
}

/**
 * Where reading stopped before the end: `torn` when no intact frame follows (a write the crash cut
 * short), `corrupt` when one does (the bytes were damaged after they were written).
 */
export interface Damage {
  kind: "torn" | "corrupt";
  offset: number;
  /** What was wrong at `offset`. */
  problem: string;
  /** For `corrupt`: where the next intact frame starts. */
  nextIntact?: number;
}

export interface FrameRead {
  records: Frame[];
  /** End of the intact prefix: the offset of the damage, or the length when there is none. */
  intactEnd: number;
  damage?: Damage;
}

/** Parses frames from the start of `bytes` up to the end or the first damage. */
export function readFrames(bytes: Buffer): FrameRead {
  const records: Frame[] = [];
  const reader = iterateFrames(bytes);
  for (let step = reader.next(); ; step = reader.next()) {
    if (step.done) return { records, ...step.value };
    records.push(step.value);
  }
}

/**
 * The frames of `bytes` one at a time, as readFrames finds them; the generator's return value is
 * where reading stopped and why. Recovery replays a journal so, each record parsed as it is
 * applied: no array of every record parsed first (at 100,000 records a few hundred MB of young
 * objects for the garbage collector to copy while the store is being rebuilt).
 */
export function* iterateFrames(bytes: Buffer): Generator<Frame, Omit<FrameRead, "records">> {
  let offset = 0;
  while (offset < bytes.length) {
    const problem = frameProblem(bytes, offset);
    if (problem !== undefined) {
      const nextIntact = findIntactFrame(bytes, offset + 1);
      const damage: Damage = nextIntact === undefined ? { kind: "torn", offset, problem } : { kind: "corrupt", offset, problem, nextIntact };
      return { intactEnd: offset, damage };
    }
    const length = bytes.readUInt32LE(offset + 4);
    const start = offset + HEADER_BYTES;
    let value: unknown;
    if (bytes[offset + 3] === BINARY_MAGIC[3]) {
      yield { offset, value: bytes.subarray(start, start + length) };
      offset = start + length;
      continue;
    }
    try {
      value = JSON.parse(bytes.toString("utf8", start, start + length));
    } catch {
      // The CRC matched bytes that are not JSON: written so, not damaged later. Treat as corrupt.
      return { intactEnd: offset, damage: { kind: "corrupt", offset, problem: "payload is not JSON" } };
    }
    yield { offset, value };
    offset = start + length;
  }
  return { intactEnd: offset };
}

function frameProblem(bytes: Buffer, offset: number): string | undefined {
  if (bytes.length - offset < HEADER_BYTES) return `${bytes.length - offset} byte(s) where a ${HEADER_BYTES}-byte record header belongs`;
  if (!bytes.subarray(offset, offset + 4).equals(MAGIC) && !bytes.subarray(offset, offset + 4).equals(BINARY_MAGIC)) return "no record magic";
  const length = bytes.readUInt32LE(offset + 4);
  if (length > MAX_PAYLOAD_BYTES) return `record length ${length} is beyond the ${MAX_PAYLOAD_BYTES}-byte limit`;
  const end = offset + HEADER_BYTES + length;
  if (end > bytes.length) return `record of ${length} bytes runs past the end of the file (${bytes.length - offset - HEADER_BYTES} byte(s) left)`;
  const expected = bytes.readUInt32LE(offset + 8);
  const actual = crc32(bytes.subarray(offset + HEADER_BYTES, end), crc32(bytes.subarray(offset + 4, offset + 8)));
  if (expected !== actual) return `checksum mismatch (stored ${hex(expected)}, computed ${hex(actual)})`;
  return undefined;
}

/** "iap", the part both magics share. */
const MAGIC_STEM = MAGIC.subarray(0, 3);

function findIntactFrame(bytes: Buffer, from: number): number | undefined {
  for (let at = bytes.indexOf(MAGIC_STEM, from); at !== -1; at = bytes.indexOf(MAGIC_STEM, at + 1)) {
    if (frameProblem(bytes, at) === undefined) return at;
  }
  return undefined;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
