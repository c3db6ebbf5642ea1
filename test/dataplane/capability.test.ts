/**
 * Without CAP_NET_RAW, capture and the raw egresses refuse with an error naming the capability; the
 * UDP egress (for unprivileged use) works. The child runs with the capability dropped from its
 * bounding set (capsh), so even root does not have it.
 */
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RUNTIME, tsArgs } from "../helpers/runtime.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

test("without CAP_NET_RAW: capture and raw egress name the missing capability; UDP egress works", () => {
  const script = join(ROOT, "test/dataplane/without-net-raw.ts");
  const output = execFileSync("capsh", ["--drop=cap_net_raw", "--", "-c", `exec "${RUNTIME}" ${tsArgs(script).map((a) => `"${a}"`).join(" ")}`], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  const lines = Object.fromEntries(output.trim().split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]));
  for (const part of ["ring", "raw", "packet", "dataplane"]) {
    assert.match(lines[part], /^CapabilityError: .* needs CAP_NET_RAW/, `${part}: ${lines[part]}`);
  }
  assert.is(lines.udp, "ok");
});

test.run();
