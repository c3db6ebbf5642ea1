/**
 * `iapd run` without --config (what `npm start` runs): the built-in configuration needs no root and
 * no file, listens on loopback only, and carries the demo intercepts and the documented demo client.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseConfig } from "../../runtime/config/load.ts";
import { builtInConfig, DEMO_RADIUS_SECRET } from "../../runtime/daemon/daemon.ts";
import { ROOT } from "./daemon.ts";

test("built-in configuration: loopback, unprivileged ports, the demo intercepts and client", () => {
  const config = builtInConfig();
  const listeners = [config.radius.accounting.listen, config.radius.dynamicAuthorization.listen, config.api.listen];
  for (const l of listeners) {
    assert.is(l.address, "127.0.0.1");
    assert.ok(l.port >= 1024, `port ${l.port} would need root`);
  }
  assert.equal(config.radius.clients.map((c) => [c.address.family, c.secret, c.requireMessageAuthenticator]), [[4, DEMO_RADIUS_SECRET, true]]);
  assert.equal(config.api.tokens, [], "a first-run token is generated");
  assert.is(config.capture, undefined, "the demo data plane replays the bundled capture");
  const demo = parseConfig(readFileSync(join(ROOT, "fixtures/configs/demo.yaml"), "utf8"), "demo.yaml");
  assert.equal(config.intercepts, demo.intercepts);
  assert.equal(config.node, demo.node);
});

test("docs/deployment.md documents the demo secret and npm start", () => {
  const doc = readFileSync(join(ROOT, "docs/deployment.md"), "utf8");
  assert.ok(doc.includes(DEMO_RADIUS_SECRET));
  assert.ok(readFileSync(join(ROOT, "README.md"), "utf8").includes("npm install && npm start"));
  assert.match(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start, /bin\/iapd\.js run$/);
});

test.run();
