/**
 * The API suite against the same app served by Deno (`deno run -A`, the npm package `deno`) through
 * api/adapter/deno, and HTTPS through the same adapter. The test process talks to it over loopback.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { httpsGet, selfSignedCert } from "./https.ts";
import { apiSuite } from "./suite.ts";
import { remoteControl, TOKENS } from "./world.ts";

const DENO = fileURLToPath(new URL("../../node_modules/deno/deno", import.meta.url));
const ENTRY = fileURLToPath(new URL("./deno-entry.ts", import.meta.url));

async function startDeno(args: string[] = []) {
  const child = spawn(DENO, ["run", "-A", ENTRY, ...args], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NO_COLOR: "1" } });
  const ports = await new Promise<{ api: number; control: number }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => resolve(JSON.parse(line)));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`deno exited with ${code} before listening`)));
  });
  const stop = () =>
    new Promise<void>((done) => {
      child.once("exit", () => done());
      child.kill("SIGTERM");
    });
  return { ports, stop };
}

apiSuite("api (deno)", async () => {
  const { ports, stop } = await startDeno();
  return { base: `http://127.0.0.1:${ports.api}`, control: remoteControl(`http://127.0.0.1:${ports.control}`), close: stop };
}).run();

const tls = suite("api (deno) TLS");
tls("the Deno adapter serves HTTPS with the given certificate", async () => {
  const { cert, key } = selfSignedCert();
  const { ports, stop } = await startDeno([cert, key]);
  try {
    assert.is(await httpsGet(ports.api, "/v1/stats", cert, { authorization: `Bearer ${TOKENS.viewer}` }), '200 {"subscriberSessions":0,"tunnels":0,"ready":true}');
  } finally {
    await stop();
  }
});
tls.run();
