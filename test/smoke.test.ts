import { test } from "uvu";
import * as assert from "uvu/assert";
import { ABI_VERSION } from "../runtime/filter/types.ts";
test("abi version", () => { assert.is(ABI_VERSION, 1); });
test.run();
