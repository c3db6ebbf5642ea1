/**
 * Capture-file reader and writer, checked against tshark as the independent decoder: every fixture
 * must give the frames, timestamps and bytes tshark reports, and what PcapWriter writes must read
 * back in tshark.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CaptureFileError, openCaptureFile, PcapWriter, type CaptureReader } from "../../runtime/capture/pcap-file.ts";

const run = promisify(execFile);
const FIXTURES = resolve(import.meta.dirname, "../../fixtures/captures");
const tmp = mkdtempSync(join(tmpdir(), "iapd-pcap-test-"));

interface Frame {
  seconds: number;
  nanoseconds: number;
  capturedLength: number;
  originalLength: number;
  linkType: number;
  hex: string;
}

/** Every record of a capture, with the batch sizes `fill` produced. */
async function readAll(path: string, batchSize = 65536, chunkSize?: number): Promise<{ frames: Frame[]; batches: number[]; reader: CaptureReader }> {
  const reader = await openCaptureFile(path, chunkSize ? { chunkSize } : {});
  const dst = new Uint8Array(batchSize);
  const frames: Frame[] = [];
  const batches: number[] = [];
  try {
    for (let b = await reader.fill(dst); b; b = await reader.fill(dst)) {
      batches.push(b.frames);
      const v = new DataView(dst.buffer, 0, b.length);
      let p = 0;
      for (let i = 0; i < b.frames; i++) {
        const capturedLength = v.getUint32(p + 8, true);
        frames.push({
          seconds: v.getUint32(p, true),
          nanoseconds: v.getUint32(p + 4, true),
          capturedLength,
          originalLength: v.getUint32(p + 12, true),
          linkType: b.linkType,
          hex: Buffer.from(dst.subarray(p + 16, p + 16 + capturedLength)).toString("hex"),
        });
        p += 16 + capturedLength;
      }
      assert.is(p, b.length, "batch length is the sum of its records");
    }
  } finally {
    await reader.close();
  }
  return { frames, batches, reader };
}

/** What tshark reports per frame; a frame without a timestamp (Simple Packet Block) reads as 0. */
async function tshark(path: string): Promise<Omit<Frame, "linkType">[]> {
  const { stdout } = await run("tshark", ["-r", path, "-n", "-T", "json", "-x", "-j", "frame"], { maxBuffer: 64 << 20 });
  type Layers = { frame_raw: [string]; frame: Record<string, string> };
  return (JSON.parse(stdout) as { _source: { layers: Layers } }[]).map(({ _source: { layers } }) => {
    const [s, ns = "0"] = (layers.frame["frame.time_epoch"] ?? "0").split(".");
    return {
      seconds: Number(s),
      nanoseconds: Number(ns.padEnd(9, "0")),
      capturedLength: Number(layers.frame["frame.cap_len"]),
      originalLength: Number(layers.frame["frame.len"]),
      hex: layers.frame_raw[0],
    };
  });
}

/** Link types by fixture, from fixtures/captures/README.md. */
const LINK_TYPES: Record<string, number[]> = {
  "raw.pcap": [101],
  "rawip4.pcap": [228],
  "rawip6.pcap": [229],
  "sll.pcap": [113],
  "sll2.pcap": [276],
  "mixed-linktypes.pcapng": [1, 276],
};

const fixtures = readdirSync(FIXTURES).filter((f) => /\.pcap(ng)?$/.test(f));

test("every fixture reads as tshark reads it", async () => {
  assert.ok(fixtures.length >= 20, `expected the fixture set, found ${fixtures.length} files`);
  const results = await Promise.all(fixtures.map(async (f) => [f, await readAll(join(FIXTURES, f)), await tshark(join(FIXTURES, f))] as const));
  for (const [f, { frames, reader }, expected] of results) {
    assert.is(frames.length, expected.length, `${f}: frame count`);
    frames.forEach(({ linkType, ...frame }, i) => assert.equal(frame, expected[i], `${f}: frame ${i + 1}`));
    assert.equal([...new Set(frames.map((x) => x.linkType))].sort(), LINK_TYPES[f] ?? [1], `${f}: link types`);
    assert.is(reader.format, f.endsWith(".pcapng") ? "pcapng" : "pcap", `${f}: format`);
    assert.is(reader.truncatedRecords, 0, `${f}: truncated records`);
    assert.is(reader.bytesRead, reader.totalBytes, `${f}: bytes read`);
  }
});

test("microsecond, nanosecond, big-endian and pcapng forms of one capture agree", async () => {
  const forms = ["eth-ipv4.pcap", "eth-ipv4-ns.pcap", "eth-ipv4-be.pcap", "eth-ipv4.pcapng", "eth-ipv4-ns.pcapng"];
  const [first, ...rest] = await Promise.all(forms.map((f) => readAll(join(FIXTURES, f))));
  assert.is(first.frames.length, 20);
  rest.forEach((r, i) => assert.equal(r.frames, first.frames, forms[i + 1]));
});

test("pcapng: sections, interfaces, if_tsresol 2^-20, if_tsoffset, Simple Packet Block snaplen", async () => {
  const { frames } = await readAll(join(FIXTURES, "crafted-be.pcapng"));
  const source = (await readAll(join(FIXTURES, "eth-ipv4.pcap"))).frames;
  assert.is(frames.length, source.length + 1);
  // The Simple Packet Block after the third packet: cut to interface 0's snaplen, no timestamp.
  const spb = frames[3];
  assert.equal([spb.seconds, spb.nanoseconds, spb.capturedLength, spb.originalLength], [0, 0, 64, source[2].originalLength]);
  assert.is(spb.hex, source[2].hex.slice(0, 128));
  const packets = frames.filter((_, i) => i !== 3);
  packets.forEach((p, i) => {
    assert.is(p.hex, source[i].hex);
    // 2^-20 s units in section 1 lose under a microsecond; section 2 (ns + 100 s offset) is exact.
    const error = (p.seconds - source[i].seconds) * 1e9 + p.nanoseconds - source[i].nanoseconds;
    assert.ok(error <= 0 && error > -1000, `packet ${i}: ${error} ns off`);
    if (i >= source.length / 2) assert.is(error, 0);
  });
});

test("a batch never mixes link types", async () => {
  const { frames, batches } = await readAll(join(FIXTURES, "mixed-linktypes.pcapng"));
  let i = 0;
  let changes = 0;
  for (const n of batches) {
    const types = new Set(frames.slice(i, i + n).map((f) => f.linkType));
    assert.is(types.size, 1);
    if (i > 0 && frames[i - 1].linkType !== frames[i].linkType) changes++;
    i += n;
  }
  assert.ok(changes >= 2, `expected interleaved link types, found ${changes} changes`);
  assert.is(batches.length, changes + 1);
});

test("fill stops before a record that does not fit and resumes with it", async () => {
  const whole = await readAll(join(FIXTURES, "demo.pcap"));
  const small = await readAll(join(FIXTURES, "demo.pcap"), 1530, 4096);
  assert.equal(small.frames, whole.frames);
  assert.ok(small.batches.length > whole.batches.length * 20);
  // 64-byte reads split every pcapng block, including the skipped ones, across reads.
  for (const f of ["crafted-be.pcapng", "two-sections.pcapng"]) {
    const [a, b] = await Promise.all([readAll(join(FIXTURES, f)), readAll(join(FIXTURES, f), 1600, 64)]);
    assert.equal(b.frames, a.frames, f);
  }
});

test("writer output reads back in tshark", async () => {
  const path = join(tmp, "small.pcap");
  const writer = await PcapWriter.create(path, 1);
  const source = (await readAll(join(FIXTURES, "eth-ipv4.pcap"))).frames;
  for (const f of source) writer.write(f.seconds, f.nanoseconds + 789, Buffer.from(f.hex, "hex"), f.originalLength);
  await writer.close();
  assert.is(writer.records, source.length);
  const [{ frames }, fromTshark] = await Promise.all([readAll(path), tshark(path)]);
  frames.forEach(({ linkType, ...f }, i) => assert.equal(f, fromTshark[i]));
  assert.equal(
    frames.map((f) => f.nanoseconds),
    source.map((f) => f.nanoseconds + 789),
  );
  const { stdout } = await run("capinfos", ["-t", "-E", path]);
  assert.match(stdout, "Wireshark/tcpdump/... - nanosecond pcap");
  assert.match(stdout, "Ethernet");
});

test("a file larger than the 4 MiB read chunk streams through", async () => {
  const path = join(tmp, "big.pcap");
  const writer = await PcapWriter.create(path, 1);
  const frame = new Uint8Array(1514);
  const count = 7000;
  const length = (i: number) => 60 + ((i * 37) % 1454);
  for (let i = 0; i < count; i++) {
    frame.fill(i & 0xff, 0, length(i));
    writer.write(1_800_000_000 + (i >> 10), (i * 976_563) % 1e9, frame.subarray(0, length(i)), length(i) + (i % 3));
  }
  await writer.close();
  const size = statSync(path).size;
  assert.ok(size > 5 << 20, `expected a file above the 4 MiB chunk, found ${size} bytes`);
  const [{ frames, batches, reader }, { stdout }] = await Promise.all([
    readAll(path, 1 << 20),
    run("tshark", ["-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.len"], { maxBuffer: 16 << 20 }),
  ]);
  assert.is(frames.length, count);
  assert.ok(batches.length > 5);
  assert.is(reader.bytesRead, size);
  const lines = stdout.trim().split("\n");
  frames.forEach((f, i) => {
    assert.is(`${f.seconds}.${String(f.nanoseconds).padStart(9, "0")}\t${f.capturedLength}\t${f.originalLength}`, lines[i]);
    assert.is(f.hex, (i & 0xff).toString(16).padStart(2, "0").repeat(length(i)));
  });
});

test("writer cuts packets at the snaplen and keeps the original length", async () => {
  const path = join(tmp, "snap.pcap");
  const writer = await PcapWriter.create(path, 101, { snaplen: 96 });
  writer.write(1, 2, new Uint8Array(1500).fill(0x45));
  await writer.close();
  const { frames } = await readAll(path);
  assert.equal([frames[0].capturedLength, frames[0].originalLength, frames[0].linkType], [96, 1500, 101]);
  await PcapWriter.create(path, 1, { snaplen: 300000 }).then(
    () => assert.unreachable("snaplen 300000 accepted"),
    (e: Error) => assert.match(e.message, "snaplen: expected an integer 1..262144, found 300000"),
  );
});

/** Writes `bytes` to a temp file and returns its path. */
function file(name: string, bytes: Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

test("a file cut mid-record ends the stream and counts one truncated record", async () => {
  const pcap = readFileSync(join(FIXTURES, "eth-ipv4.pcap"));
  const pcapng = readFileSync(join(FIXTURES, "eth-ipv4.pcapng"));
  const view = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const second = 24 + 16 + view.getUint32(24 + 8, true);
  const third = second + 16 + view.getUint32(second + 8, true);
  const cases: [string, Uint8Array, number, number][] = [
    ["cut-data.pcap", pcap.subarray(0, pcap.length - 10), 19, 1],
    ["cut-header.pcap", pcap.subarray(0, third + 7), 2, 1],
    ["cut-at-boundary.pcap", pcap.subarray(0, second), 1, 0],
    ["cut.pcapng", pcapng.subarray(0, pcapng.length - 40), 19, 1],
  ];
  for (const [name, bytes, frames, truncated] of cases) {
    const r = await readAll(file(name, bytes));
    assert.is(r.frames.length, frames, name);
    assert.is(r.reader.truncatedRecords, truncated, name);
    assert.is(r.reader.bytesRead, bytes.length, name);
  }
});

/** The message `fn` rejects with, which must be a CaptureFileError. */
async function failure(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    assert.instance(e, CaptureFileError);
    return (e as Error).message;
  }
  throw new assert.Assertion({ message: "expected a CaptureFileError", generated: false, operator: "throws", expects: "", actual: "" });
}

test("corrupt files fail with the file, the offset, what was expected and what was found", async () => {
  const pcap = new Uint8Array(readFileSync(join(FIXTURES, "eth-ipv4.pcap")));
  const pcapng = new Uint8Array(readFileSync(join(FIXTURES, "eth-ipv4.pcapng")));
  const le = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const magic = file("magic.pcap", new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...pcap.subarray(4)]));
  assert.match(await failure(() => openCaptureFile(magic)), `${magic}: at byte 0: expected magic a1b2c3d4 or a1b23c4d (pcap, either byte order) or 0a0d0d0a (pcapng), found 504b0304`);

  const empty = file("empty.pcap", new Uint8Array(0));
  assert.match(await failure(() => openCaptureFile(empty)), "found a 0-byte file");

  const huge = pcap.slice();
  le(huge).setUint32(24 + 8, 300000, true);
  assert.match(await failure(() => readAll(file("huge.pcap", huge))), "at byte 24: expected a captured length of at most 262144, found 300000");

  assert.match(
    await failure(() => readAll(join(FIXTURES, "ipv4-fragments.pcap"), 1024)),
    "at byte 24: expected a record that fits the 1024-byte batch buffer, found a record of 1530 bytes",
  );

  // eth-ipv4.pcapng: Section Header Block, Interface Description Block, then Enhanced Packet Blocks.
  const shbLength = le(pcapng).getUint32(4, true);
  const idbLength = le(pcapng).getUint32(shbLength + 4, true);
  const epb = shbLength + idbLength;

  const odd = pcapng.slice();
  le(odd).setUint32(epb + 4, 98, true);
  assert.match(await failure(() => readAll(file("odd.pcapng", odd))), `at byte ${epb}: expected a block length that is a multiple of 4 and at least 32, found 98 (block type 6)`);

  const short = pcapng.slice();
  le(short).setUint32(epb + 4, 16, true);
  assert.match(await failure(() => readAll(file("short.pcapng", short))), "at least 32, found 16");

  const iface = pcapng.slice();
  le(iface).setUint32(epb + 8, 3, true);
  assert.match(await failure(() => readAll(file("iface.pcapng", iface))), `at byte ${epb}: expected an interface ID below 1 (Interface Description Blocks in this section), found 3`);

  const trailer = pcapng.slice();
  const epbLength = le(pcapng).getUint32(epb + 4, true);
  le(trailer).setUint32(epb + epbLength - 4, 4, true);
  assert.match(await failure(() => readAll(file("trailer.pcapng", trailer))), `expected the trailing block length ${epbLength}, found 4`);

  const bom = pcapng.slice();
  bom.set([1, 2, 3, 4], 8);
  assert.match(await failure(() => openCaptureFile(file("bom.pcapng", bom))), "at byte 8: expected pcapng byte-order magic 1a2b3c4d, found 01020304");
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
