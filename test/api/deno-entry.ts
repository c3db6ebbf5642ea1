/**
 * Runs the test world's API under Deno (`deno run -A test/api/deno-entry.ts`) with the Deno
 * adapter, plus the loopback control server, and prints {"api": port, "control": port} on stdout.
 */
import { serve } from "../../api/adapter/deno/server.ts";
import { buildWorld, controlApp } from "./world.ts";

const world = buildWorld();
const api = await serve(world.app, { address: "127.0.0.1", port: 0 });
const control = await serve(controlApp(world.control), { address: "127.0.0.1", port: 0 });
console.log(JSON.stringify({ api: api.port, control: control.port }));
