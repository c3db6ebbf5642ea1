import { test } from "uvu";
import * as assert from "uvu/assert";
import { serve } from "../../api/adapter/node/server.ts";
import { serveOptions } from "../../api/adapter/options.ts";
import { parseConfig } from "../../runtime/config/load.ts";
import { httpsGet, selfSignedCert } from "./https.ts";
import { buildWorld, TOKENS } from "./world.ts";

test("TLS from the configuration: the API answers over HTTPS with the configured certificate", async () => {
  const { cert, key } = selfSignedCert();
  const config = parseConfig(`api:\n  listen: 127.0.0.1:0\n  tls: {cert: ${cert}, key: ${key}}\n`, "t.yaml");
  const world = buildWorld();
  await world.control.reset();
  const server = await serve(world.app, serveOptions(config.api));
  try {
    assert.is(await httpsGet(server.port, "/v1/stats", cert, { authorization: `Bearer ${TOKENS.viewer}` }), '200 {"subscriberSessions":3,"tunnels":1,"ready":true}');
  } finally {
    await server.close();
  }
});

test.run();
