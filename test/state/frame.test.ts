import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeFrame, HEADER_BYTES, readFrames } from "../../runtime/state/frame.ts";

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
