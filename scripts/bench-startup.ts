/**
 * Start-up time to "ready" and binary size, side by side for every way to run `iapd run`: the single
 * binary, `node bin/iapd.js` (tsx), the bundle on node, and Deno on the sources and on the bundle.
 * Each start uses a fresh state directory (first-run token included), a configuration with the demo
 * intercepts and every listener on an ephemeral loopback port, and ends with SIGTERM.
 *
 *   npm run build:binary && node --import tsx scripts/bench-startup.ts [runs=15]
 *
 * "wall" is from spawn to the ready line on stderr; "self" is the daemon's own figure on that line
 * (performance.now(), from process start). The last row is node printing that line at once: the
 * floor of any Node start on this machine at this moment.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const runs = Number(process.argv[2] ?? 15);
const deno = join(root, "node_modules/deno/deno");
const denoFlags = ["--allow-net=127.0.0.1", "--allow-read", "--allow-write=var", "--allow-env=STATE_DIRECTORY,LOG_TOKENS,LOG_STREAM"];
const config =
  readFileSync(join(root, "fixtures/configs/demo.yaml"), "utf8") +
  '\nradius:\n  clients:\n    - { address: 127.0.0.1, secret: bench }\n  accounting: { listen: "127.0.0.1:0" }\n  dynamicAuthorization: { listen: "127.0.0.1:0" }\napi:\n  listen: "127.0.0.1:0"\n';

/** The floor: node itself printing a ready line at once (the run arguments are ignored), to read
 * the other rows against on a machine whose load varies. */
const floor = 'process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000); console.error(`iapd: ready in ${Math.round(performance.now())} ms`);';

const forms: [string, string, string[]][] = [
  ["dist/iapd (single binary)", join(root, "dist/iapd"), []],
  ["node bin/iapd.js (tsx, sources)", process.execPath, [join(root, "bin/iapd.js")]],
  ["node dist/iapd.cjs (bundle)", process.execPath, [join(root, "dist/iapd.cjs")]],
  ["deno run runtime/cli/main.ts", deno, ["run", ...denoFlags, join(root, "runtime/cli/main.ts")]],
  ["deno run dist/iapd.cjs", deno, ["run", ...denoFlags, join(root, "dist/iapd.cjs")]],
  ["floor: node -e (prints the ready line at once)", process.execPath, ["-e", floor]],
];

/** One start: milliseconds from spawn to the ready line, and the daemon's own figure. */
function start(command: string, args: string[]): Promise<{ wall: number; self: number }> {
  const dir = mkdtempSync(join(tmpdir(), "iapd-bench-start-"));
  writeFileSync(join(dir, "iapd.yaml"), config);
  const t0 = performance.now();
  const child = spawn(command, [...args, "run", "--config", "iapd.yaml"], { cwd: dir, env: { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  return new Promise((done, fail) => {
    child.stderr.on("data", (d) => {
      err += d;
      const ready = /ready in (\d+) ms/.exec(err);
      if (ready) {
        const wall = performance.now() - t0;
        child.stderr.removeAllListeners("data");
        child.once("close", (code) => {
          rmSync(dir, { recursive: true, force: true });
          if (code === 0) done({ wall, self: Number(ready[1]) });
          else fail(new Error(`${command} exited with ${code}:\n${err}`));
        });
        child.kill("SIGTERM");
      }
    });
    child.once("close", (code) => {
      if (!/ready in/.test(err)) fail(new Error(`${command} exited with ${code} before ready:\n${err}`));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`;

const mb = (path: string) => statSync(path).size / 1e6;
const node = mb(process.execPath);
const binary = mb(join(root, "dist/iapd"));
console.log(`size: node ${process.version} ${process.execPath} ${node.toFixed(1)} MB; dist/iapd ${binary.toFixed(1)} MB (${((binary / node - 1) * 100).toFixed(1)}% more); dist/iapd.cjs ${mb(join(root, "dist/iapd.cjs")).toFixed(2)} MB`);

const results: { name: string; wall: number[]; self: number[] }[] = forms.map(([name]) => ({ name, wall: [], self: [] }));
await start(forms[0][1], forms[0][2]); // warm the page cache once
// Interleaved, so that load from elsewhere on the machine falls on every form alike.
for (let i = 0; i < runs; i++) {
  for (const [k, [, command, args]] of forms.entries()) {
    const r = await start(command, args);
    results[k].wall.push(r.wall);
    results[k].self.push(r.self);
  }
}
const base = median(results[0].wall);
console.log(`\n${runs} starts each, median (min-max) to the ready line:\n`);
console.log("| how | wall, spawn to ready | self-reported | vs the binary |");
console.log("|---|---|---|---|");
for (const r of results) {
  const wall = median(r.wall);
  console.log(
    `| ${r.name} | ${ms(wall)} (${ms(Math.min(...r.wall))}-${ms(Math.max(...r.wall))}) | ${ms(median(r.self))} | ${(wall / base).toFixed(2)}x |`,
  );
}
