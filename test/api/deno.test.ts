/**
 * The API suite against the same app served by Deno (`deno run -A`, the npm package `deno`) through
 * api/adapter/deno. The test process talks to it over loopback only.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { apiSuite } from "./suite.ts";
import { remoteControl } from "./world.ts";

const DENO = fileURLToPath(new URL("../../node_modules/deno/deno", import.meta.url));
const ENTRY = fileURLToPath(new URL("./deno-entry.ts", import.meta.url));

apiSuite("api (deno)", async () => {
  const child = spawn(DENO, ["run", "-A", ENTRY], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NO_COLOR: "1" } });
  const ports = await new Promise<{ api: number; control: number }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => resolve(JSON.parse(line)));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`deno exited with ${code} before listening`)));
  });
  return {
    base: `http://127.0.0.1:${ports.api}`,
    control: remoteControl(`http://127.0.0.1:${ports.control}`),
    close: () =>
      new Promise<void>((done) => {
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}).run();
