import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { builtinFilters, zeroCounters } from "../../api/providers.ts";
import { WasmFilter } from "../../runtime/filter/wasm.ts";

test("builtinFilters lists the built-in filter as active, with its hash", async () => {
  const [f, ...rest] = (await builtinFilters(0)).list();
  assert.is(rest.length, 0);
  const wasm = readFileSync("build/filters/jmirror.wasm");
  const loaded = await WasmFilter.load(new Uint8Array(wasm));
  assert.equal(f, { name: loaded.name, version: loaded.version, abiVersion: 1, sha256: createHash("sha256").update(wasm).digest("hex"), active: true, loadedAt: "1970-01-01T00:00:00.000Z" });
});

test("zeroCounters: every drop reason of the filter ABI, all zero", () => {
  assert.equal(zeroCounters("m1"), { packets: 0, bytes: 0, drops: { output_full: 0, oversize: 0, too_many_copies: 0 } });
});

test.run();
