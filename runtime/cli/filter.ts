/**
 * `iapd filter`: the filter kit (docs/filters.md).
 *   iapd filter new NAME            an AssemblyScript project from templates/filter/, with this iapd's ABI helpers
 *   iapd filter test FILE.wasm      the self-test, then a differential check against the built-in filter on the fixture captures
 *   iapd filter inspect FILE.wasm   name, version, ABI version, exports, SHA-256
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { assetBytes, assetPath, assetText, KIT_ASSET, sourceRoot } from "../assets/assets.ts";
import { kitFiles, kitFromJson } from "../filter/kit.ts";
import { differentialCheck, formatComparison } from "../filter/differential.ts";
import { checkFilter, FilterRejected, inspectFilter, type FilterModuleInfo } from "../filter/lifecycle.ts";
import { BUILTIN_FILTERS } from "../filter/registry.ts";

export const FILTER_USAGE = `usage: iapd filter new NAME | test FILE.wasm | inspect FILE.wasm`;

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

export async function filterCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const [sub, arg, ...rest] = args;
  if (arg === undefined || rest.length > 0 || !["new", "test", "inspect"].includes(sub)) {
    err(FILTER_USAGE);
    return 2;
  }
  if (sub === "new") return newProject(arg, out, err);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(arg));
  } catch (e) {
    err(`${arg}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    return 1;
  }
  return sub === "inspect" ? inspect(arg, bytes, out, err) : testFilter(arg, bytes, out, err);
}

function describe(info: FilterModuleInfo): string[] {
  return [
    `name     ${info.name}`,
    `version  ${info.version}`,
    `ABI      ${info.abiVersion}`,
    `size     ${info.size} bytes`,
    `sha256   ${info.sha256}`,
    `id       ${info.id}`,
    `exports  ${info.exports.join(" ")}`,
  ];
}

async function inspect(file: string, bytes: Uint8Array, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  try {
    describe(await inspectFilter(bytes)).forEach((line) => out(line));
    return 0;
  } catch (e) {
    if (!(e instanceof FilterRejected)) throw e;
    err(`${file}: not an iapd filter (${e.reason}): ${e.message}`);
    return 1;
  }
}

/** The captures to compare on: every fixture capture in a checkout, else the bundled demo capture. */
function captures(): string[] {
  if (sourceRoot === undefined) return [assetPath("fixtures/captures/demo.pcap")];
  const dir = join(sourceRoot, "fixtures/captures");
  return readdirSync(dir)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

async function testFilter(file: string, bytes: Uint8Array, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let candidate;
  try {
    candidate = await checkFilter(bytes);
  } catch (e) {
    if (!(e instanceof FilterRejected)) throw e;
    err(`${file}: REJECTED (${e.reason}): ${e.message}`);
    return 1;
  }
  out(`${file}: ${candidate.info.name} ${candidate.info.version}, ABI ${candidate.info.abiVersion}: self-test passed`);
  const builtin = await checkFilter(assetBytes(BUILTIN_FILTERS.jmirror), { timeoutMs: 0 });
  const dir = mkdtempSync(join(tmpdir(), "iapd-filter-test-"));
  try {
    const report = await differentialCheck(candidate, builtin, captures(), dir);
    out(`differential check against the built-in filter (${builtin.info.name} ${builtin.info.version}), same intercepts:`);
    for (const c of report) out(`  ${formatComparison({ ...c, capture: basename(c.capture) }).replaceAll("\n", "\n  ")}`);
    const differing = report.filter((c) => c.notRun || c.counters.length > 0 || c.packets.differing > 0).length;
    out(differing === 0 ? `identical on all ${report.length} captures` : `${differing} of ${report.length} captures differ or did not run (see above)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

function newProject(name: string, out: (line: string) => void, err: (line: string) => void): number {
  if (!NAME.test(name)) {
    err(`filter names are 1-32 lower-case letters, digits and '-', starting with a letter; found ${JSON.stringify(name)}`);
    return 2;
  }
  if (existsSync(name)) {
    err(`${name} already exists`);
    return 1;
  }
  const files = sourceRoot === undefined ? kitFromJson(assetText(KIT_ASSET)) : kitFiles(sourceRoot);
  const renamed = (path: string) => (path === "gitignore" ? ".gitignore" : path);
  for (const [path, bytes] of files) {
    const target = join(name, renamed(path));
    mkdirSync(dirname(target), { recursive: true });
    const named = ["package.json", "asconfig.json", "README.md", "assembly/index.ts"].includes(path);
    writeFileSync(target, named ? new TextDecoder().decode(bytes).replaceAll("__NAME__", name) : bytes);
  }
  out(`${name}/: an iapd filter project (filter ABI version 1)`);
  out(`  cd ${name} && npm install && npm run build     # build/${name}.wasm`);
  out(`  iapd filter test build/${name}.wasm`);
  return 0;
}
