import { test } from "uvu";
import * as assert from "uvu/assert";
import { crc32 } from "node:zlib";
import { encodeFrame, HEADER_BYTES, jsonFrameCrc, readFrames } from "../../runtime/state/frame.ts";
import { Journal } from "../../runtime/state/journal.ts";
import { tempDir } from "./world.ts";
import { join } from "node:path";
import { readFileSync } from "node:fs";

const three = () => Buffer.concat([encodeFrame({ n: 1 }), encodeFrame({ n: 2, s: "é" }), encodeFrame({ n: 3 })]);

test("frames: length, CRC and payload round-trip", () => {
  const bytes = three();
  const { records, damage, intactEnd } = readFrames(bytes);
  assert.equal(records.map((r) => r.value), [{ n: 1 }, { n: 2, s: "é" }, { n: 3 }]);
  assert.is(damage, undefined);
  assert.is(intactEnd, bytes.length);
  assert.is(records[1].offset, encodeFrame({ n: 1 }).length);
  assert.equal(readFrames(Buffer.alloc(0)), { records: [], intactEnd: 0 });
});

test("frames: the journal's CRC from the JSON text is zlib's CRC of the length field and the payload octets", async () => {
  for (const text of ['[1,2,"U","192.0.2.7","a"]', JSON.stringify(["é ü 😀 \u0000 \"", "\ud800 lone surrogate"])]) {
    const payload = Buffer.from(text, "utf8");
    const field = Buffer.alloc(4);
    field.writeUInt32LE(payload.length);
    assert.is(jsonFrameCrc(text, payload.length), crc32(payload, crc32(field)), text);
  }
  // And as the journal writes them: read back intact, non-ASCII and escapes included.
  const path = join(tempDir("frame-crc"), "journal");
  const journal = Journal.create(path, { kind: "journal" });
  const values = [{ s: "é ü 😀" }, ["\u0000", "\ud800", "a\"b"], { n: 1 }];
  for (const v of values) journal.append(v);
  await journal.close();
  const { records, damage } = readFrames(readFileSync(path));
  assert.is(damage, undefined);
  assert.equal(records.slice(1).map((r) => r.value), values);
});

test("frames: a cut anywhere in the last record is a torn tail; the records before it stay", () => {
  const bytes = three();
  const lastStart = readFrames(bytes).records[2].offset;
  for (let cut = lastStart + 1; cut < bytes.length; cut++) {
    const { records, damage, intactEnd } = readFrames(bytes.subarray(0, cut));
    assert.is(records.length, 2);
    assert.is(damage?.kind, "torn");
    assert.is(intactEnd, lastStart);
  }
});

test("frames: a flipped byte in a middle record is corrupt and names its offset and the next intact record", () => {
  const bytes = three();
  const [, second, third] = readFrames(bytes).records;
  for (let at = second.offset; at < third.offset; at++) {
    const damaged = Buffer.from(bytes);
    damaged[at] ^= 0x40;
    const { records, damage } = readFrames(damaged);
    assert.is(records.length, 1, `flip at ${at}`);
    assert.is(damage?.kind, "corrupt");
    assert.is(damage?.offset, second.offset);
    assert.is(damage?.nextIntact, third.offset);
  }
});

test("frames: a flipped length is caught by the CRC, not trusted", () => {
  const bytes = encodeFrame({ n: 1 });
  bytes.writeUInt32LE(bytes.readUInt32LE(4) - 1, 4);
  const { damage } = readFrames(Buffer.concat([bytes, Buffer.alloc(1)]));
  assert.match(damage!.problem, /checksum/);
  assert.ok(HEADER_BYTES === 12);
});

test.run();
