/**
 * Capture files in and out of the data plane's record format (docs/filter-abi.md "Input records":
 * `u32 tsSeconds | u32 tsNanoseconds | u32 capturedLength | u32 originalLength | bytes`, little-endian).
 *
 * Reads classic pcap (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng) in either byte
 * order, a few MiB at a time, so a capture larger than memory streams through a fixed buffer.
 * Writes nanosecond little-endian pcap, whose records are that format byte for byte.
 *
 * ```ts
 * const reader = await openCaptureFile("fixtures/captures/demo.pcap");
 * const batch = filter.inputBuffer();
 * for (let b = await reader.fill(batch); b; b = await reader.fill(batch)) {
 *   filter.configure({ ...config, linkType: b.linkType });
 *   filter.process(batch.subarray(0, b.length));
 * }
 * await reader.close();
 * ```
 */
import { writeSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";

/** Length of one record header in the data plane's format (and in classic pcap). */
export const RECORD_HEADER_LENGTH = 16;

/**
 * Largest captured length accepted: libpcap's MAXIMUM_SNAPLEN. Wireshark rejects larger records
 * too, so a bigger length means a corrupt file rather than a big packet.
 */
export const MAX_CAPTURED_LENGTH = 262144;

const DEFAULT_CHUNK_SIZE = 4 << 20;

/**
 * Largest pcapng block read whole (packet, interface and section blocks). A packet block holds at most
 * MAX_CAPTURED_LENGTH bytes of data; the rest is room for options. Other blocks are skipped unread.
 */
const MAX_PARSED_BLOCK = 1 << 20;

/** Result of one `CaptureReader.fill`: `length` bytes holding `frames` records of one link type. */
export interface FillResult {
  length: number;
  frames: number;
  /** LINKTYPE_* number of every record in this batch. */
  linkType: number;
}

/** A capture file opened by `openCaptureFile`, read batch by batch. */
export interface CaptureReader {
  readonly path: string;
  readonly format: "pcap" | "pcapng";
  /** File size when opened. */
  readonly totalBytes: number;
  /** File bytes consumed so far; equals `totalBytes` once `fill` has returned null. */
  readonly bytesRead: number;
  /** Records or blocks cut off by the end of the file (a capture stopped mid-write); at most 1. */
  readonly truncatedRecords: number;
  /**
   * Writes whole records from offset 0 of `dst`, stopping before a record that does not fit and
   * before a change of link type. Returns null once the file is exhausted.
   * Throws `CaptureFileError` on a structurally corrupt file or a record larger than `dst`.
   */
  fill(dst: Uint8Array): Promise<FillResult | null>;
  close(): Promise<void>;
}

/**
 * A capture file that cannot be read: bad magic, impossible lengths, unknown interface.
 * `offset` is the file offset of the header or block at fault.
 */
export class CaptureFileError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number,
    expected: string,
    found: string,
  ) {
    super(`${path}: at byte ${offset}: expected ${expected}, found ${found}`);
    this.name = "CaptureFileError";
  }
}

export interface OpenOptions {
  /** Bytes per read from the file; the reader's memory is this plus 1 MiB. Default 4 MiB. */
  chunkSize?: number;
}

/**
 * Opens a classic pcap or pcapng file, recognised by its first four bytes.
 *
 * ```ts
 * const reader = await openCaptureFile("capture.pcapng");
 * console.log(reader.format, reader.totalBytes);
 * ```
 */
export async function openCaptureFile(path: string, options: OpenOptions = {}): Promise<CaptureReader> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 64) {
    throw new RangeError(`chunkSize: expected an integer >= 64, found ${chunkSize}`);
  }
  const handle = await open(path, "r");
  try {
    const { size } = await stat(path);
    const file = new ChunkedFile(path, handle, size, chunkSize);
    await file.fillTo(4);
    if (file.available < 4) {
      throw new CaptureFileError(path, 0, "a pcap or pcapng file header", `a ${file.available}-byte file`);
    }
    const magic = file.view.getUint32(file.start, false);
    if (magic === PCAPNG_SHB) return await PcapngReader.open(file);
    const format = PCAP_MAGICS.get(magic);
    if (format) return await PcapReader.open(file, format);
    throw new CaptureFileError(
      path,
      0,
      "magic a1b2c3d4 or a1b23c4d (pcap, either byte order) or 0a0d0d0a (pcapng)",
      hex(file.buf.subarray(file.start, file.start + 4)),
    );
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * A window onto a file: `buf[start..end)` holds the bytes at file offset `offset` onwards.
 * Reads happen only in `fillTo`, so parsers work synchronously on what is buffered and await only
 * when a record straddles the end of the buffer.
 */
class ChunkedFile {
  readonly buf: Uint8Array;
  readonly view: DataView;
  start = 0;
  end = 0;
  /** File offset of the byte after `buf[end - 1]`. */
  private next = 0;
  private eof = false;

  constructor(
    readonly path: string,
    readonly handle: FileHandle,
    readonly size: number,
    private readonly chunkSize: number,
  ) {
    this.buf = new Uint8Array(chunkSize + MAX_PARSED_BLOCK);
    this.view = new DataView(this.buf.buffer);
  }

  get available(): number {
    return this.end - this.start;
  }

  /** File offset of `buf[start]`. */
  get offset(): number {
    return this.next - this.available;
  }

  /** Reads until `n` bytes are buffered from `start` (n <= MAX_PARSED_BLOCK); false if the file ends first. */
  async fillTo(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    this.buf.copyWithin(0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    while (this.end < n && !this.eof) {
      const { bytesRead } = await this.handle.read(this.buf, this.end, this.chunkSize, this.next);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
      this.next += bytesRead;
    }
    return this.end >= n;
  }

  /** Consumes `n` bytes, seeking past what is not buffered; false if that passes the end of the file. */
  skip(n: number): boolean {
    if (n <= this.available) {
      this.start += n;
      return true;
    }
    this.next += n - this.available;
    this.start = this.end = 0;
    return this.next <= this.size;
  }

  /** Consumes the rest of the file, which holds no further whole record. */
  finish(): void {
    this.start = this.end = 0;
    this.next = this.size;
  }

  error(offset: number, expected: string, found: string): CaptureFileError {
    return new CaptureFileError(this.path, offset, expected, found);
  }
}

const PCAPNG_SHB = 0x0a0d0d0a;
/** The Section Header Block's byte-order magic 1a2b3c4d, read little-endian from a little-endian section. */
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;
const PCAPNG_SHB_MINIMUM = 28;
const PCAPNG_IDB = 1;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;

interface PcapFormat {
  littleEndian: boolean;
  /** Fraction-of-second units: 1e6 for the original magic, 1e9 for the nanosecond one. */
  units: number;
}

/** Classic pcap magics read big-endian, i.e. as the file's first four bytes. */
const PCAP_MAGICS = new Map<number, PcapFormat>([
  [0xd4c3b2a1, { littleEndian: true, units: 1e6 }],
  [0x4d3cb2a1, { littleEndian: true, units: 1e9 }],
  [0xa1b2c3d4, { littleEndian: false, units: 1e6 }],
  [0xa1b23c4d, { littleEndian: false, units: 1e9 }],
]);

/** What both readers share: the file, progress, and the end of the stream. */
abstract class FileReader {
  truncatedRecords = 0;
  protected done = false;

  constructor(protected readonly file: ChunkedFile) {}

  get path(): string {
    return this.file.path;
  }
  get totalBytes(): number {
    return this.file.size;
  }
  get bytesRead(): number {
    return this.file.offset;
  }

  async close(): Promise<void> {
    this.done = true;
    await this.file.handle.close();
  }

  /** Ends the stream; `truncated` when the file ends inside a record or block. */
  protected end(truncated: boolean): void {
    if (truncated) this.truncatedRecords++;
    this.file.finish();
    this.done = true;
  }
}

class PcapReader extends FileReader implements CaptureReader {
  readonly format = "pcap";

  private constructor(
    file: ChunkedFile,
    private readonly littleEndian: boolean,
    private readonly units: number,
    private readonly linkType: number,
  ) {
    super(file);
  }

  static async open(file: ChunkedFile, format: PcapFormat): Promise<PcapReader> {
    const headerLength = 24;
    if (!(await file.fillTo(headerLength))) {
      throw file.error(0, `a ${headerLength}-byte pcap file header`, `${file.available} bytes`);
    }
    const major = file.view.getUint16(file.start + 4, format.littleEndian);
    if (major !== 2) throw file.error(4, "pcap major version 2", `${major}`);
    // The upper 16 bits of the LinkType field carry FCS information (draft-ietf-opsawg-pcap section 4).
    const linkType = file.view.getUint32(file.start + 20, format.littleEndian) & 0xffff;
    file.skip(headerLength);
    return new PcapReader(file, format.littleEndian, format.units, linkType);
  }

  /**
   * Nanosecond little-endian pcap records are already the filter's record format
   * (docs/filter-abi.md): the run of whole buffered records that fits in `room` is copied at once.
   * A record the per-record path must look at (a fraction of 10^9 or more, a length to refuse, one
   * not fully buffered) ends the run.
   */
  private bulkRun(room: number, capacity: number): { bytes: number; records: number } {
    const { view, start } = this.file;
    const end = start + this.file.available;
    let at = start;
    let records = 0;
    while (end - at >= RECORD_HEADER_LENGTH) {
      const size = RECORD_HEADER_LENGTH + view.getUint32(at + 8, true);
      if (size > RECORD_HEADER_LENGTH + MAX_CAPTURED_LENGTH || size > capacity || at - start + size > room || end - at < size) break;
      if (view.getUint32(at + 4, true) >= 1e9) break;
      at += size;
      records++;
    }
    return { bytes: at - start, records };
  }

  private get recordFormat(): boolean {
    return this.littleEndian && this.units === 1e9;
  }

  async fill(dst: Uint8Array): Promise<FillResult | null> {
    const file = this.file;
    const le = this.littleEndian;
    const out = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
    let length = 0;
    let frames = 0;
    while (!this.done) {
      if (this.recordFormat) {
        const run = this.bulkRun(dst.length - length, dst.length);
        if (run.bytes > 0) {
          dst.set(file.buf.subarray(file.start, file.start + run.bytes), length);
          file.start += run.bytes;
          length += run.bytes;
          frames += run.records;
          continue;
        }
      }
      if (file.available < RECORD_HEADER_LENGTH && !(await file.fillTo(RECORD_HEADER_LENGTH))) {
        this.end(file.available > 0);
        break;
      }
      const at = file.start;
      const view = file.view;
      const capturedLength = view.getUint32(at + 8, le);
      const size = RECORD_HEADER_LENGTH + capturedLength;
      checkRecord(file, file.offset, capturedLength, dst.length);
      if (size > dst.length - length) break;
      if (file.available < size && !(await file.fillTo(size))) {
        this.end(true);
        break;
      }
      // fillTo may have moved the buffered bytes.
      const from = file.start;
      let seconds = view.getUint32(from, le);
      let fraction = view.getUint32(from + 4, le);
      // The record format needs tsNanoseconds below 10^9; a longer fraction carries into the seconds.
      if (fraction >= this.units) {
        seconds += Math.floor(fraction / this.units);
        fraction %= this.units;
      }
      out.setUint32(length, seconds, true);
      out.setUint32(length + 4, this.units === 1e9 ? fraction : fraction * 1000, true);
      out.setUint32(length + 8, capturedLength, true);
      out.setUint32(length + 12, view.getUint32(from + 12, le), true);
      dst.set(file.buf.subarray(from + RECORD_HEADER_LENGTH, from + size), length + RECORD_HEADER_LENGTH);
      file.start += size;
      length += size;
      frames++;
    }
    return frames === 0 ? null : { length, frames, linkType: this.linkType };
  }

}

function checkRecord(file: ChunkedFile, offset: number, capturedLength: number, capacity: number): void {
  if (capturedLength > MAX_CAPTURED_LENGTH) {
    throw file.error(offset, `a captured length of at most ${MAX_CAPTURED_LENGTH}`, `${capturedLength}`);
  }
  if (RECORD_HEADER_LENGTH + capturedLength > capacity) {
    throw file.error(
      offset,
      `a record that fits the ${capacity}-byte batch buffer`,
      `a record of ${RECORD_HEADER_LENGTH + capturedLength} bytes`,
    );
  }
}

interface Interface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second (if_tsresol, default 10^6). */
  units: number;
  /** Nanoseconds per unit when that is a whole number (resolutions down to 10^-9), else 0. */
  nsPerUnit: number;
  /** if_tsoffset: seconds added to every timestamp. */
  offsetSeconds: number;
}

class PcapngReader extends FileReader implements CaptureReader {
  readonly format = "pcapng";
  private littleEndian = true;
  private interfaces: Interface[] = [];
  /** Link type of the last record written. */
  private linkType = -1;
  private seconds = 0;
  private nanoseconds = 0;

  static async open(file: ChunkedFile): Promise<PcapngReader> {
    if (!(await file.fillTo(PCAPNG_SHB_MINIMUM))) {
      throw file.error(0, `a ${PCAPNG_SHB_MINIMUM}-byte pcapng Section Header Block`, `${file.available} bytes`);
    }
    const reader = new PcapngReader(file);
    // Reading the first Section Header Block now reports a bad byte-order magic from open.
    await reader.nextBlock(new Uint8Array(0), 0, -1);
    return reader;
  }

  async fill(dst: Uint8Array): Promise<FillResult | null> {
    let length = 0;
    let frames = 0;
    for (;;) {
      const r = await this.nextBlock(dst, length, frames === 0 ? -1 : this.linkType);
      if (r === STOP) break;
      if (r === SKIPPED) continue;
      length += r;
      frames++;
    }
    return frames === 0 ? null : { length, frames, linkType: this.linkType };
  }

  /**
   * Handles the next block. A packet block whose interface has `linkType` (any, when -1) and that fits
   * `dst` from `at` is written there as a record, its length returned and `this.linkType` set; other
   * blocks are consumed and SKIPPED returned; STOP means nothing was consumed: end of file, `dst`
   * full or a link type change.
   */
  private async nextBlock(dst: Uint8Array, at: number, linkType: number): Promise<number> {
    const file = this.file;
    if (this.done) return STOP;
    if (file.available < 12 && !(await file.fillTo(12))) {
      this.end(file.available > 0);
      return STOP;
    }
    const offset = file.offset;
    const view = file.view;
    const type = view.getUint32(file.start, this.littleEndian);
    if (type === PCAPNG_SHB) {
      // The block type reads the same in both byte orders; the byte-order magic decides.
      const bom = view.getUint32(file.start + 8, true);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.littleEndian = true;
      else if (bom === PCAPNG_BYTE_ORDER_MAGIC_SWAPPED) this.littleEndian = false;
      else throw file.error(offset + 8, "pcapng byte-order magic 1a2b3c4d", hex(file.buf.subarray(file.start + 8, file.start + 12)));
    }
    const le = this.littleEndian;
    const blockLength = view.getUint32(file.start + 4, le);
    const minimum = MINIMUM_BLOCK_LENGTH.get(type) ?? 12;
    if (blockLength % 4 !== 0 || blockLength < minimum) {
      throw file.error(offset, `a block length that is a multiple of 4 and at least ${minimum}`, `${blockLength} (block type ${type})`);
    }
    if (!MINIMUM_BLOCK_LENGTH.has(type)) {
      if (!file.skip(blockLength)) this.end(true);
      return SKIPPED;
    }
    if (blockLength > MAX_PARSED_BLOCK) {
      throw file.error(offset, `a block of at most ${MAX_PARSED_BLOCK} bytes`, `${blockLength} (block type ${type})`);
    }
    if (file.available < blockLength && !(await file.fillTo(blockLength))) {
      this.end(true);
      return STOP;
    }
    const b = file.start;
    const trailer = view.getUint32(b + blockLength - 4, le);
    if (trailer !== blockLength) {
      throw file.error(offset + blockLength - 4, `the trailing block length ${blockLength}`, `${trailer}`);
    }
    let result = SKIPPED;
    if (type === PCAPNG_SHB) {
      const major = view.getUint16(b + 12, le);
      if (major !== 1) throw file.error(offset + 12, "pcapng major version 1", `${major}`);
      // Interface IDs are numbered per section (draft-ietf-opsawg-pcapng section 4.2).
      this.interfaces = [];
    } else if (type === PCAPNG_IDB) {
      this.interfaces.push(this.parseInterface(b, blockLength, offset));
    } else {
      let id = 0;
      let capturedLength: number;
      let originalLength: number;
      let data: number;
      if (type === PCAPNG_EPB) {
        id = view.getUint32(b + 8, le);
        capturedLength = view.getUint32(b + 20, le);
        originalLength = view.getUint32(b + 24, le);
        data = b + 28;
      } else {
        // A Simple Packet Block keeps min(original length, interface 0 snaplen) bytes (section 4.4).
        originalLength = view.getUint32(b + 8, le);
        capturedLength = originalLength;
        data = b + 12;
      }
      const iface = this.interfaces[id];
      if (!iface) {
        throw file.error(offset, `an interface ID below ${this.interfaces.length} (Interface Description Blocks in this section)`, `${id}`);
      }
      if (type === PCAPNG_SPB && iface.snaplen > 0) capturedLength = Math.min(capturedLength, iface.snaplen);
      checkRecord(file, offset, capturedLength, dst.length);
      const room = b + blockLength - 4 - data;
      if (pad4(capturedLength) > room) {
        throw file.error(offset, `${capturedLength} captured bytes within the ${blockLength}-byte block`, `room for ${room}`);
      }
      if (linkType !== -1 && iface.linkType !== linkType) return STOP;
      if (RECORD_HEADER_LENGTH + capturedLength > dst.length - at) return STOP;
      if (type === PCAPNG_EPB) {
        this.timestamp(view.getUint32(b + 12, le), view.getUint32(b + 16, le), iface);
      } else {
        // Simple Packet Blocks carry no timestamp; Wireshark shows them at the epoch too.
        this.seconds = this.nanoseconds = 0;
      }
      // tsSeconds is a u32 in the record format: seconds before 1970 or after 2106 wrap around.
      const out = new DataView(dst.buffer, dst.byteOffset + at, RECORD_HEADER_LENGTH);
      out.setUint32(0, this.seconds, true);
      out.setUint32(4, this.nanoseconds, true);
      out.setUint32(8, capturedLength, true);
      out.setUint32(12, originalLength, true);
      dst.set(file.buf.subarray(data, data + capturedLength), at + RECORD_HEADER_LENGTH);
      this.linkType = iface.linkType;
      result = RECORD_HEADER_LENGTH + capturedLength;
    }
    file.start += blockLength;
    return result;
  }

  private parseInterface(b: number, blockLength: number, offset: number): Interface {
    const view = this.file.view;
    const le = this.littleEndian;
    const iface: Interface = {
      linkType: view.getUint16(b + 8, le),
      snaplen: view.getUint32(b + 12, le),
      units: 1e6,
      nsPerUnit: 1000,
      offsetSeconds: 0,
    };
    const end = b + blockLength - 4;
    for (let p = b + 16; p + 4 <= end; ) {
      const code = view.getUint16(p, le);
      const length = view.getUint16(p + 2, le);
      if (code === 0) break;
      if (p + 4 + length > end) {
        throw this.file.error(offset + (p - b), `option ${code} of ${length} bytes within the Interface Description Block`, `${end - p - 4} bytes left`);
      }
      if (code === 9 && length === 1) {
        // if_tsresol: most significant bit clear = negative power of 10, set = negative power of 2.
        const v = view.getUint8(p + 4);
        iface.units = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
        iface.nsPerUnit = !(v & 0x80) && v <= 9 ? 10 ** (9 - v) : 0;
        if (iface.units > Number.MAX_SAFE_INTEGER) {
          throw this.file.error(offset + (p - b), "an if_tsresol below 2^-53 or 10^-15", `0x${v.toString(16)}`);
        }
      } else if (code === 14 && length === 8) {
        iface.offsetSeconds = Number(view.getBigInt64(p + 4, le));
      }
      p += 4 + pad4(length);
    }
    return iface;
  }

  /**
   * Splits a 64-bit count of 1/units seconds into whole seconds and truncated nanoseconds, as
   * Wireshark does. Long division in 16-bit digits keeps every intermediate exact in a double.
   */
  private timestamp(high: number, low: number, iface: Interface): void {
    const units = iface.units;
    let quotient: number;
    let remainder: number;
    if (units <= 2 ** 36) {
      quotient = 0;
      remainder = 0;
      for (let shift = 48; shift >= 0; shift -= 16) {
        const digit = shift >= 32 ? (high >>> (shift - 32)) & 0xffff : (low >>> shift) & 0xffff;
        const current = remainder * 65536 + digit;
        let q = Math.floor(current / units);
        remainder = current - q * units;
        if (remainder < 0) {
          q--;
          remainder += units;
        }
        quotient = quotient * 65536 + q;
      }
    } else {
      const big = (BigInt(high) << 32n) | BigInt(low);
      quotient = Number(big / BigInt(units));
      remainder = Number(big % BigInt(units));
    }
    this.seconds = quotient + iface.offsetSeconds;
    this.nanoseconds = iface.nsPerUnit ? remainder * iface.nsPerUnit : Number((BigInt(remainder) * 1_000_000_000n) / BigInt(units));
  }

}

const STOP = -1;
const SKIPPED = -2;

/** Minimum lengths of the block types the reader parses; every other type is skipped by its length. */
const MINIMUM_BLOCK_LENGTH = new Map<number, number>([
  [PCAPNG_SHB, PCAPNG_SHB_MINIMUM],
  [PCAPNG_IDB, 20],
  [PCAPNG_SPB, 16],
  [PCAPNG_EPB, 32],
]);

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface PcapWriterOptions {
  /** Longest captured length written; longer packets are cut as a capture would. Default 262144. */
  snaplen?: number;
}

const WRITE_BUFFER_SIZE = 4 << 20;

/**
 * Writes a nanosecond little-endian classic pcap file (magic a1b23c4d): the data plane's record
 * format with a 24-byte file header in front, readable by tcpdump and Wireshark.
 *
 * ```ts
 * const writer = await PcapWriter.create("out.pcap", 1);
 * writer.write(1700000000, 123456789, frame);
 * await writer.close();
 * ```
 */
export class PcapWriter {
  /** Records written so far. */
  records = 0;
  private readonly buf = new Uint8Array(WRITE_BUFFER_SIZE);
  private readonly view = new DataView(this.buf.buffer);
  private used = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly snaplen: number,
  ) {}

  static async create(path: string, linkType: number, options: PcapWriterOptions = {}): Promise<PcapWriter> {
    const snaplen = options.snaplen ?? MAX_CAPTURED_LENGTH;
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
      throw new RangeError(`linkType: expected an integer 0..65535, found ${linkType}`);
    }
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_CAPTURED_LENGTH) {
      throw new RangeError(`snaplen: expected an integer 1..${MAX_CAPTURED_LENGTH}, found ${snaplen}`);
    }
    const writer = new PcapWriter(await open(path, "w"), snaplen);
    const v = writer.view;
    v.setUint32(0, 0xa1b23c4d, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setUint32(16, snaplen, true);
    v.setUint32(20, linkType, true);
    writer.used = 24;
    return writer;
  }

  /**
   * Appends one record; `bytes` beyond the snaplen are dropped (`originalLength` keeps the full
   * length). Writes synchronously whenever the 4 MiB buffer fills.
   */
  write(tsSeconds: number, tsNanoseconds: number, bytes: Uint8Array, originalLength: number = bytes.length): void {
    const capturedLength = Math.min(bytes.length, this.snaplen);
    if (this.used + RECORD_HEADER_LENGTH + capturedLength > this.buf.length) this.flush();
    const v = this.view;
    const at = this.used;
    v.setUint32(at, tsSeconds, true);
    v.setUint32(at + 4, tsNanoseconds, true);
    v.setUint32(at + 8, capturedLength, true);
    v.setUint32(at + 12, originalLength, true);
    this.buf.set(capturedLength === bytes.length ? bytes : bytes.subarray(0, capturedLength), at + RECORD_HEADER_LENGTH);
    this.used = at + RECORD_HEADER_LENGTH + capturedLength;
    this.records++;
  }

  /** Writes what is buffered and closes the file. */
  async close(): Promise<void> {
    this.flush();
    await this.handle.close();
  }

  private flush(): void {
    for (let done = 0; done < this.used; ) done += writeSync(this.handle.fd, this.buf, done, this.used - done);
    this.used = 0;
  }
}
