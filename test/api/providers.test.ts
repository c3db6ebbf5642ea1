import { test } from "uvu";
import * as assert from "uvu/assert";
import { zeroCounters } from "../../api/providers.ts";

test("zeroCounters: every drop reason of the filter ABI and the egress, all zero", () => {
  assert.equal(zeroCounters("m1"), { packets: 0, bytes: 0, drops: { output_full: 0, oversize: 0, too_many_copies: 0, socket_full: 0, unreachable: 0, too_big: 0, other: 0 } });
});

test.run();
