/**
 * The `iapd` command line. Subcommands: run, replay, check-config, version.
 *   iapd replay --config iapd.yaml --in capture.pcap --out mirrored.pcap
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { auditCommand } from "../audit/cli.ts";
import { filterCommand } from "./filter.ts";
import { stateCommand } from "../state/cli.ts";
import { StateError } from "../state/recovery.ts";
import { ConfigError, loadConfig } from "../config/load.ts";
import { runDaemon } from "../daemon/daemon.ts";
import { targetsFromConfig } from "../config/targets.ts";
import { checkFilter, FilterRejected, FilterSwitch } from "../filter/lifecycle.ts";
import { BUILTIN_FILTERS } from "../filter/registry.ts";
import { formatSummary, replay, ReplayError } from "../replay/replay.ts";
import { progressBar } from "./progress.ts";
import { versionInfo } from "./version.ts";
import { assetBytes, assetPath } from "../assets/assets.ts";

const USAGE = `usage: iapd <command> [options]

commands:
  replay [--config FILE] [--in CAPTURE] [--out FILE] [--filter FILE.wasm] [--json]
      Mirror a capture (pcap or pcapng) offline with the intercepts of the configuration and write
      every packet iapd would send to a mediation device to a pcap file, through the configuration's
      filter (filter.module) or --filter. With no options, replays the bundled demo capture with the
      demo configuration into var/demo-mirrored.pcap.
  check-config --config FILE
      Validate a configuration file and print what it configures.
  run [--config FILE]
      The daemon: RADIUS listeners, the HTTP API and the data plane, until SIGINT or SIGTERM;
      SIGHUP reloads the configuration file. Without --config, a built-in demo on loopback.
  audit verify FILE
      Check an audit log's hash chain; names the first edited, removed or reordered record.
  filter new NAME | filter test FILE.wasm | filter inspect FILE.wasm
      The filter kit (docs/filters.md): a new AssemblyScript filter project; the self-test and a
      differential check against the built-in filter on the fixture captures; what a module is.
  state check|repair [--state DIR | --config FILE] [--json]
      check: what the state directory would restore, and any damage that stops start-up (exit 1).
      repair: keep every intact record, move damaged parts aside (never delete). See docs/state.md.
  version
      Version, git commit, filter ABI and the built-in filter's hash.
`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "replay":
      return replayCommand(rest);
    case "check-config":
      return checkConfigCommand(rest);
    case "run":
      return runCommand(rest);
    case "audit":
      return auditCommand(rest, console.log, console.error);
    case "filter":
      return filterCommand(rest, console.log, console.error);
    case "state":
      return stateCommand(rest, console.log, console.error);
    case "version":
    case "--version":
      console.log(await versionInfo());
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function options<T extends Record<string, { type: "string" | "boolean" }>>(args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function replayCommand(args: string[]): Promise<number> {
  const o = options(args, {
    config: { type: "string" },
    in: { type: "string" },
    out: { type: "string" },
    filter: { type: "string" },
    json: { type: "boolean" },
  });
  const demo = o.config === undefined && o.in === undefined;
  if (!demo && (o.config === undefined || o.in === undefined || o.out === undefined)) {
    throw new UsageError("replay needs --config, --in and --out (or none of them for the bundled demo)");
  }
  const configPath = o.config ?? assetPath("fixtures/configs/demo.yaml");
  const input = o.in ?? assetPath("fixtures/captures/demo.pcap");
  const output = o.out ?? "var/demo-mirrored.pcap";
  const config = loadConfig(configPath);
  mkdirSync(dirname(output), { recursive: true });
  // The configuration's filter (filter.module), or a module file, checked as an upload would be.
  const module = o.filter === undefined ? assetBytes(BUILTIN_FILTERS[config.filter.module]) : new Uint8Array(readFileSync(o.filter));
  const filter = await FilterSwitch.create(await checkFilter(module));
  const bar = progressBar(process.stdout, "replay");
  const summary = await replay({
    config,
    input,
    output,
    filter,
    onProgress: (p) => bar.update(p.bytesRead, p.totalBytes, `${p.frames.toLocaleString("en-US")} frames`),
  });
  bar.finish();
  if (o.json) {
    console.log(JSON.stringify(summary, null, 2));
  } else {
    if (demo) console.log(`demo: replaying ${input} with ${configPath}`);
    console.log(formatSummary(summary));
    if (demo) console.log(`\nDecode it: tshark -r ${output} -d udp.port==30030,jmirror`);
  }
  return 0;
}

async function runCommand(args: string[]): Promise<number> {
  const o = options(args, { config: { type: "string" } });
  return runDaemon({ configPath: o.config });
}

function checkConfigCommand(args: string[]): number {
  const o = options(args, { config: { type: "string" } });
  if (!o.config) throw new UsageError("check-config needs --config FILE");
  const config = loadConfig(o.config);
  const targets = targetsFromConfig(config);
  console.log(
    `${o.config}: ok: ${config.intercepts.length} intercept(s), ${targets.length} target(s); source ${config.node.sourceAddress}, MTU ${config.node.mtu}, DSCP ${config.node.dscp}`,
  );
  return 0;
}

// No top-level await: the single binary's entry point must be a CommonJS script (Node 20 SEA).
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, fail);

function fail(e: unknown): void {
  if (e instanceof ConfigError) {
    console.error(`iapd: invalid configuration:\n${e.message}`);
    process.exitCode = 1;
  } else if (e instanceof UsageError) {
    console.error(`iapd: ${e.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (e instanceof FilterRejected) {
    console.error(`iapd: the filter module was rejected (${e.reason}): ${e.message}`);
    process.exitCode = 1;
  } else if (e instanceof ReplayError || e instanceof StateError || (e instanceof Error && "code" in e && typeof e.code === "string")) {
    console.error(`iapd: ${e.message}`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
