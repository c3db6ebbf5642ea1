/**
 * `iapd run`: the daemon, composed in the order the architecture fixes (state -> RADIUS control
 * plane -> HTTP API -> data plane), so that nothing answers before the state it answers from is
 * in place, and "ready" (log line and /readyz) comes only once everything is up.
 *
 * - SIGTERM / SIGINT: the API stops accepting requests, the RADIUS listeners close once the requests
 *   in progress are answered, the data plane stops, the audit log is closed (every record an
 *   answer waited for was already fdatasync'd; close writes and fsyncs any other), exit 0.
 * - SIGHUP: the configuration file is read again (JunosE "reloading a packet-mirroring
 *   configuration"). Mirror sessions keep running: they live in the session store, which a reload
 *   never replaces. A file that does not validate is refused with its problems logged and the running
 *   configuration kept; RADIUS and API listeners are restarted only when their section changed.
 *
 * Without `--config`, the built-in configuration needs no root and no file: loopback RADIUS
 * listeners with one demo client, the API on loopback with a first-run token, and the bundled demo
 * capture replayed with the demo intercepts (fixtures/configs/demo.yaml) into the state directory.
 *
 * ```ts
 * process.exitCode = await runDaemon({ configPath: "/etc/iapd/iapd.yaml" });
 * ```
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ApiConfig } from "../config/api.ts";
import { createApp } from "../../api/app.ts";
import { resolveTokens } from "../../api/auth/tokens.ts";
import { serveOptions, type FetchApp, type RunningServer } from "../../api/adapter/options.ts";
import { zeroCounters, type MirrorCounters } from "../../api/providers.ts";
import { FilterRegistry } from "../filter/registry.ts";
import { ActiveFilterStore } from "../filter/persist.ts";
import { watchFilterDirectory, type FilterDirectoryWatcher } from "../filter/watch.ts";
import { assetText } from "../assets/assets.ts";
import { AuditLog } from "../audit/log.ts";
import { auditStoreEvents } from "../audit/store-events.ts";
import { ConfigError, loadConfig, parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { sessionIdFromAcctSessionId } from "../sessions/handle.ts";
import type { SessionStore } from "../sessions/store.ts";
import type { TunnelRegistry } from "../sessions/tunnels.ts";
import { startIdleSweep } from "../state/idle.ts";
import { DurableState } from "../state/state.ts";
import { ControlPlane } from "./control-plane.ts";
import { DemoDataPlane } from "./demo-data-plane.ts";
import { startDataPlane } from "../dataplane/start.ts";
import type { DataPlaneCounters } from "../dataplane/counters.ts";

/** What moves packets for `iapd run`; the live data plane (capture -> filter -> egress) implements it too. */
export interface DataPlane {
  /** One line for the log: what it captures and where the mirrored packets go (no LI data). */
  readonly description: string;
  /** The configuration changed (SIGHUP, already validated). */
  reload(config: Config): Promise<void>;
  stop(): Promise<void>;
  /** A mirror session's counters, synchronously (a cache the data plane refreshes); undefined: not counted. */
  counters?(mirrorId: string): MirrorCounters | undefined;
  /** The aggregate counters (by capture interface and reason, nothing per intercept), synchronously. */
  aggregates?(): DataPlaneCounters;
}

export interface DaemonOptions {
  /** The YAML configuration; absent: the built-in demo configuration. */
  configPath?: string;
  /** Default: $STATE_DIRECTORY (systemd's StateDirectory=), else ./var. */
  stateDir?: string;
  /** Operational log lines (stderr); never tokens or LI data. */
  log?: (line: string) => void;
  /** What the person who started iapd must see once: the first-run API token, the demo's directions (stdout). */
  announce?: (text: string) => void;
}

/** The shared secret of the built-in configuration's RADIUS client 127.0.0.1 (docs/deployment.md). */
export const DEMO_RADIUS_SECRET = "iapd-demo-secret";

/** The configuration `iapd run` uses without --config. */
export function builtInConfig(): Config {
  // demo.yaml has no radius section; the demo client is appended as one.
  const text = `${assetText("fixtures/configs/demo.yaml")}\nradius:\n  clients:\n    - { address: 127.0.0.1, secret: ${DEMO_RADIUS_SECRET}, name: demo }\n`;
  return parseConfig(text, "built-in configuration (fixtures/configs/demo.yaml with a demo RADIUS client)");
}

export function defaultStateDir(): string {
  // systemd passes StateDirectory= as an absolute path (colon-separated when several are set).
  return process.env.STATE_DIRECTORY?.split(":")[0] || "var";
}

const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
/** "Node v20.20.2" or "Deno 2.9.6", for the ready line. */
const runtimeName = deno ? `Deno ${deno.version.deno}` : `Node ${process.version}`;

/** The HTTP server of the runtime we are on: Deno.serve on Deno, @hono/node-server on Node. */
async function serveApi(app: FetchApp, config: ApiConfig): Promise<RunningServer> {
  const adapter = deno ? await import("../../api/adapter/deno/server.ts") : await import("../../api/adapter/node/server.ts");
  return adapter.serve(app, serveOptions(config));
}

const hostPort = (address: string, port: number) => `${address.includes(":") ? `[${address}]` : address}:${port}`;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The API's listener and the app behind it; a reload that only changes tokens swaps the app in place. */
interface Api {
  server: RunningServer;
  app: FetchApp;
}

export class Daemon {
  private ready = false;
  private idleSweep: { stop(): void } | undefined;
  private filterDirectory: FilterDirectoryWatcher | undefined;
  /**
   * Resolves once every change so far is durable, journal and audit log (the store's audit records
   * are appended, group-committed): RADIUS replies and API answers wait for it.
   */
  private readonly commit = () => this.audit.commitWith(this.state.commit());

  private constructor(
    private config: Config,
    private readonly options: DaemonOptions & { stateDir: string; log: (line: string) => void; announce: (text: string) => void },
    private readonly state: DurableState,
    readonly store: SessionStore,
    private readonly audit: AuditLog,
    private readonly tunnels: TunnelRegistry,
    private readonly filters: FilterRegistry,
    private radius: ControlPlane | undefined,
    private api: Api | undefined,
    private dataPlane: DataPlane | undefined,
  ) {}

  static async start(options: DaemonOptions = {}): Promise<Daemon> {
    const config = options.configPath === undefined ? builtInConfig() : loadConfig(options.configPath);
    const o = {
      ...options,
      stateDir: resolve(options.stateDir ?? config.state.directory ?? defaultStateDir()),
      log: options.log ?? ((line: string) => console.error(`iapd: ${line}`)),
      announce: options.announce ?? ((text: string) => console.log(text)),
    };
    mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });

    // 1. State: the store and tunnels restored (runtime/state) before anything listens, so that
    //    mirroring resumes before "ready"; a damaged state directory stops start-up here.
    const state = await DurableState.open({
      directory: o.stateDir,
      snapshotEveryRecords: config.state.snapshotEveryRecords,
      store: { maxMirrors: config.radius.limits.maxMirrors, sessionIdFor: sessionIdFromAcctSessionId },
      log: o.log,
    });
    const { store } = state;
    const audit = AuditLog.open(join(o.stateDir, "audit.log"), Date.now, o.log);
    // From here on, every mirror session the store starts or ends (RADIUS, triggers, timeouts) is audited.
    store.onEvent = auditStoreEvents(audit);
    // The filter the data plane starts with (config filter.module); hot swaps go through it.
    // The recorded activation (state directory) is restored here, before the data plane starts with it.
    const filters = await FilterRegistry.open({ audit, initial: config.filter.module, persist: new ActiveFilterStore(o.stateDir), log: o.log });
    const daemon = new Daemon(config, o, state, store, audit, state.tunnels, filters, undefined, undefined, undefined);
    try {
      // 2. RADIUS control plane, 3. API, 4. data plane.
      daemon.radius = await ControlPlane.start(config.radius, { log: o.log, store, commit: daemon.commit });
      daemon.api = await daemon.startApi(config.api);
      daemon.dataPlane = config.capture ? await startDataPlane(config, store, state.tunnels, { log: o.log, filters }) : await DemoDataPlane.start(config, o.stateDir, filters);
      o.log(`data plane: ${daemon.dataPlane.description}`);
      if (config.filter.directory) daemon.filterDirectory = await watchFilterDirectory(config.filter.directory, filters, { log: o.log });
    } catch (e) {
      await daemon.stop();
      throw e;
    }
    daemon.idleSweep = startIdleSweep({ store, idleTimeoutSeconds: config.state.idleTimeoutSeconds, commit: daemon.commit, log: o.log });
    daemon.ready = true;
    o.log(`ready in ${Math.round(performance.now())} ms (${runtimeName}): api ${daemon.apiUrl}; radius accounting ${daemon.radiusAddress("accounting")}, dynamic authorization ${daemon.radiusAddress("dynamicAuthorization")}`);
    if (o.configPath === undefined) daemon.announceDemo();
    return daemon;
  }

  get apiUrl(): string {
    const { address, port } = this.api!.server;
    return `${this.config.api.tls ? "https" : "http"}://${hostPort(address, port)}`;
  }

  private radiusAddress(service: "accounting" | "dynamicAuthorization"): string {
    const { address, port } = this.radius![service].server.address();
    return hostPort(address, port);
  }

  /** The API app for `config`'s tokens (generating the first-run token if there are none). */
  private appFor(config: ApiConfig): FetchApp {
    const tokens = resolveTokens(config.tokens, this.options.stateDir, (token) =>
      this.options.announce(`API token (role li-admin, shown this once; its hash is kept in ${join(this.options.stateDir, "api-token.json")}):\n  ${token}`),
    );
    return createApp({
      store: this.store,
      tunnels: this.tunnels,
      config: { tokens },
      audit: this.audit,
      clock: Date.now,
      filters: this.filters,
      // The data plane starts after the API: until then, and for what it does not count, zeros.
      counters: (mirrorId) => this.dataPlane?.counters?.(mirrorId) ?? zeroCounters(mirrorId),
      dataPlane: () => this.dataPlane?.aggregates?.(),
      ready: () => this.ready,
      commit: this.commit,
    });
  }

  private async startApi(config: ApiConfig): Promise<Api> {
    const api = { app: this.appFor(config) } as Api;
    // The listener calls through `api.app`, so that a reload can replace the app under it.
    api.server = await serveApi({ fetch: (request) => api.app.fetch(request) }, config);
    return api;
  }

  private announceDemo(): void {
    const acct = this.radiusAddress("accounting");
    const das = this.radiusAddress("dynamicAuthorization");
    const pcap = (this.dataPlane as DemoDataPlane).output;
    this.options.announce(
      [
        "",
        `Demo: the demo intercepts' mirrored packets are in ${pcap}`,
        `  tshark -r ${pcap} -d udp.port==30030,jmirror`,
        `RADIUS client 127.0.0.1, shared secret "${DEMO_RADIUS_SECRET}". Log a subscriber in, then arm a mirror by CoA:`,
        `  echo 'Acct-Status-Type = Start, Acct-Session-Id = "demo-1", Framed-IP-Address = 100.64.0.9, Message-Authenticator = 0x00' | radclient ${acct} acct ${DEMO_RADIUS_SECRET}`,
        `  echo 'Acct-Session-Id = "demo-1", ERX-LI-Action = on, ERX-Med-Dev-Handle = 0x0000000100000002, ERX-Med-Ip-Address = 127.0.0.1, ERX-Med-Port-Number = 30030, Message-Authenticator = 0x00' | radclient ${das} coa ${DEMO_RADIUS_SECRET}`,
        `  curl -H "Authorization: Bearer $TOKEN" ${this.apiUrl}/v1/mirrors`,
        "Stop with Ctrl-C. Configure a real deployment: docs/deployment.md",
      ].join("\n"),
    );
  }

  /**
   * Reads the configuration file again and applies what changed. Returns false (and keeps running
   * as before) when the file is invalid or a changed listener cannot start.
   */
  async reload(): Promise<boolean> {
    const { configPath, log } = this.options;
    if (configPath === undefined) {
      log("reload: running the built-in configuration, there is no file to reload");
      return false;
    }
    let next: Config;
    try {
      next = loadConfig(configPath);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      log(`reload refused, the running configuration is kept: ${configPath} is invalid:\n${e.message}`);
      return false;
    }
    const old = this.config;
    const changed: string[] = [];
    try {
      if (!same(next.radius, old.radius)) {
        await this.swapRadius(next);
        changed.push("radius");
      }
      if (!same(next.api, old.api)) {
        await this.swapApi(next.api, old.api);
        changed.push("api");
      }
    } catch (e) {
      if (changed.includes("radius")) await this.swapRadius(old);
      log(`reload refused, the running configuration is kept: ${(e as Error).message}`);
      return false;
    }
    if ((["node", "intercepts", "tunnels"] as const).some((key) => !same(next[key], old[key]))) {
      await this.dataPlane!.reload(next);
      changed.push("data plane");
      log(`data plane: ${this.dataPlane!.description}`);
    }
    if (next.radius.limits.maxMirrors !== old.radius.limits.maxMirrors) {
      log("reload: radius.limits.maxMirrors takes effect at the next start");
    }
    if (!same(next.capture, old.capture) || !same(next.egress, old.egress) || !same(next.state, old.state)) {
      log("reload: capture, egress and state changes take effect at the next start");
    }
    this.config = next;
    log(`reloaded ${configPath}: ${changed.length > 0 ? `restarted ${changed.join(", ")}` : "nothing changed"}; ${this.store.mirrorCount} mirror session(s) kept running`);
    return true;
  }

  /** Stops the RADIUS listeners and starts them with `config`'s; on failure the old ones come back. */
  private async swapRadius(config: Config): Promise<void> {
    await this.radius!.stop();
    try {
      this.radius = await ControlPlane.start(config.radius, { log: this.options.log, store: this.store, commit: this.commit });
    } catch (e) {
      this.radius = await ControlPlane.start(this.config.radius, { log: this.options.log, store: this.store, commit: this.commit });
      throw new Error(`the new RADIUS listeners cannot start (${(e as Error).message})`);
    }
  }

  private async swapApi(next: ApiConfig, old: ApiConfig): Promise<void> {
    const api = this.api!;
    if (same(next.listen, old.listen) && same(next.tls, old.tls)) {
      api.app = this.appFor(next);
      return;
    }
    await api.server.close();
    try {
      this.api = await this.startApi(next);
    } catch (e) {
      this.api = await this.startApi(old);
      throw new Error(`the API cannot listen on ${hostPort(next.listen.address, next.listen.port)} (${(e as Error).message})`);
    }
    this.options.log(`api listening on ${this.apiUrl}`);
  }

  /** Stops accepting work first (API, RADIUS), then the data plane, then closes the state. */
  async stop(): Promise<void> {
    this.ready = false;
    this.filterDirectory?.close();
    await this.api?.server.close();
    await this.radius?.stop();
    await this.dataPlane?.stop();
    this.idleSweep?.stop();
    await this.state.close();
    this.audit.close();
  }
}

/** `iapd run`: starts the daemon and serves until SIGTERM or SIGINT; SIGHUP reloads. Resolves with the exit code. */
export async function runDaemon(options: DaemonOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => console.error(`iapd: ${line}`));
  // Handlers go in before start so that a signal during start-up waits for it instead of killing
  // the process half-started; signals are handled one at a time.
  const starting = Daemon.start({ ...options, log });
  let queue: Promise<unknown> = starting;
  const exit = new Promise<number>((done, fail) => {
    const hangUp = () => {
      queue = queue
        .then(() => starting)
        .then((daemon) => daemon.reload())
        .catch((e) => log(`reload failed: ${(e as Error).message}`));
    };
    const terminate = (signal: NodeJS.Signals) => {
      process.off("SIGHUP", hangUp);
      process.off("SIGINT", terminate);
      process.off("SIGTERM", terminate);
      queue = queue
        .then(async () => {
          const daemon = await starting;
          log(`${signal}: stopping`);
          await daemon.stop();
          log("stopped");
          done(0);
        })
        .catch(fail);
    };
    process.on("SIGHUP", hangUp);
    process.on("SIGINT", terminate);
    process.on("SIGTERM", terminate);
    starting.catch((e) => {
      process.off("SIGHUP", hangUp);
      process.off("SIGINT", terminate);
      process.off("SIGTERM", terminate);
      fail(e);
    });
  });
  return exit;
}
