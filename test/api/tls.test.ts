import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "../../api/adapter/node/server.ts";
import { serveOptions } from "../../api/adapter/options.ts";
import { parseConfig } from "../../runtime/config/load.ts";
import { buildWorld, TOKENS } from "./world.ts";

test("TLS from the configuration: the API answers over HTTPS with the configured certificate", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iapd-tls-"));
  const cert = join(dir, "api.crt");
  const key = join(dir, "api.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  const config = parseConfig(`api:\n  listen: 127.0.0.1:0\n  tls: {cert: ${cert}, key: ${key}}\n`, "t.yaml");
  const world = buildWorld();
  await world.control.reset();
  const server = await serve(world.app, serveOptions(config.api));
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: server.port, path: "/v1/stats", ca: readFileSync(cert), headers: { authorization: `Bearer ${TOKENS.viewer}` } },
        (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve(`${res.statusCode} ${text}`));
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.is(body, '200 {"subscriberSessions":3,"tunnels":1,"ready":true}');
  } finally {
    await server.close();
  }
});

test.run();
