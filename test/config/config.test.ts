import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync } from "node:fs";
import { loadConfig, parseConfig } from "../../runtime/config/load.ts";
import { problems } from "../helpers/config.ts";
import { targetsFromConfig } from "../../runtime/config/targets.ts";
import { DSCP_INHERIT } from "../../runtime/filter/types.ts";

test("defaults: an empty file is a valid configuration", () => {
  const c = parseConfig("", "t.yaml");
  assert.equal(c.node, { sourceAddress: "192.0.2.1", mtu: 1500, dscp: "inherit" });
  assert.equal(c.intercepts, []);
});

test("every example under fixtures/configs validates", () => {
  const files = readdirSync("fixtures/configs").filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length > 0);
  for (const f of files) loadConfig(`fixtures/configs/${f}`);
});

test("errors name the file, line, key and problem", () => {
  const p = problems("node:\n  mtu: 20\n  sourceAdress: 192.0.2.1\nintercepts:\n  - interceptId: 1073741824\n    sessionId: 1\n    targets: [10.0.0.0/8, \"2001:db8::1/64\"]\n    mediation: {address: 198.51.100.1, port: 0}\n");
  assert.ok(p.includes("t.yaml:2:8 node.mtu: expected an MTU (an integer 68..65535), found 20"), p.join("\n"));
  assert.ok(p.some((l) => /^t\.yaml:3:\d+ node\.sourceAdress: unknown key \(allowed: sourceAddress, mtu, dscp\)$/.test(l)), p.join("\n"));
  assert.ok(p.some((l) => l.startsWith("t.yaml:5:18 intercepts[0].interceptId: expected an intercept ID (an integer 0..1073741823)")), p.join("\n"));
  assert.ok(p.some((l) => l.includes("intercepts[0].targets[0]: IPv4 targets are single addresses (/32), found a /8")), p.join("\n"));
  assert.ok(p.some((l) => l.includes("intercepts[0].targets[1]: \"2001:db8::1/64\" has bits set beyond /64 (did you mean 2001:db8::/64?)")), p.join("\n"));
  assert.ok(p.some((l) => l.includes("intercepts[0].mediation.port: expected a UDP port (an integer 1..65535), found 0")), p.join("\n"));
});

test("YAML syntax errors and duplicate keys are reported with a position", () => {
  assert.match(problems("node: [1, 2\n")[0], /^t\.yaml:\d+:\d+ /);
  assert.match(problems("node:\n  mtu: 1500\n  mtu: 1400\n")[0], /^t\.yaml:3:3 .*[Uu]nique/);
});

test("wrong shapes", () => {
  assert.match(problems("intercepts: {}\n")[0], /intercepts: expected a list of intercepts/);
  assert.match(problems("node: {dscp: 64}\n")[0], /node\.dscp: expected a DSCP value 0..63 or "inherit", found 64/);
  assert.match(problems("intercepts: [{interceptId: 1, sessionId: 1, targets: [], mediation: {address: 198.51.100.1, port: 1}}]\n")[0], /targets: expected at least one target/);
});

test("targets: one slot per intercept x prefix, in file order", () => {
  const c = parseConfig(
    "intercepts:\n  - {interceptId: 7, sessionId: 9, targets: [100.64.0.1, \"2001:db8:1::/56\"], mediation: {address: 198.51.100.1, port: 30030}, dscp: 46}\n  - {interceptId: 8, sessionId: 1, targets: [100.64.0.1], mediation: {address: 198.51.100.2, port: 4000}}\n",
    "t.yaml",
  );
  const t = targetsFromConfig(c);
  assert.equal(t.map((x) => [x.slot, x.intercept, x.family, x.prefixLength, x.interceptId, x.dscp]), [
    [0, 0, 4, 32, 7, 46],
    [1, 0, 6, 56, 7, 46],
    [2, 1, 4, 32, 8, DSCP_INHERIT],
  ]);
  assert.is(t[0].mediationAddress, 0xc6336401);
  assert.is(t[2].mediationPort, 4000);
});

test.run();
