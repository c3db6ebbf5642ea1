/**
 * Runs the test world's API under Deno (`deno run -A test/api/deno-entry.ts [CERT KEY]`) with the
 * Deno adapter (HTTPS when given a PEM certificate and key), plus the loopback control server, and
 * prints {"api": port, "control": port} on stdout.
 */
import { readFileSync } from "node:fs";
import { serve } from "../../api/adapter/deno/server.ts";
import { buildWorld, controlApp } from "./world.ts";

const [cert, key] = process.argv.slice(2);
const world = buildWorld();
const tls = cert && key ? { tls: { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") } } : {};
const api = await serve(world.app, { address: "127.0.0.1", port: 0, ...tls });
const control = await serve(controlApp(world.control), { address: "127.0.0.1", port: 0 });
console.log(JSON.stringify({ api: api.port, control: control.port }));
