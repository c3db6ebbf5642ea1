/**
 * The control plane of `iapd run`: one session store fed by the RADIUS services the configuration
 * names (accounting, dynamic authorization), each on its own UDP listener.
 *
 * @example
 * const plane = await ControlPlane.start(loadConfig("iapd.yaml").radius, { log: console.error });
 * plane.store.targetTable();
 * await plane.stop();
 */
import type { RadiusConfig } from "../config/radius.ts";
import { accountingService, type AccountingService } from "../radius/accounting.ts";
import { Code } from "../radius/codes.ts";
import { dasService, type DasService } from "../radius/das.ts";
import { startAuthenticationProxy, type RunningAuthenticationProxy } from "../radius/proxy.ts";
import { RadiusServer, type RadiusClient } from "../radius/server.ts";
import { SessionStore } from "../sessions/store.ts";
import { sessionIdFromAcctSessionId } from "../sessions/handle.ts";

export interface ControlPlaneOptions {
  readonly now?: () => number;
  /** Operational lines (listeners up, socket errors); never LI data. */
  readonly log?: (line: string) => void;
  /** The session store to feed (the daemon's, restored from state, kept across reloads); default: a new one. */
  readonly store?: SessionStore;
  /** Resolves once the store's changes are durable (runtime/state); every reply waits for it. */
  readonly commit?: () => Promise<void>;
}

export class ControlPlane {
  private constructor(
    readonly store: SessionStore,
    readonly accounting: { readonly server: RadiusServer; readonly service: AccountingService },
    readonly dynamicAuthorization: { readonly server: RadiusServer; readonly service: DasService },
    /** The Access-Request proxy, when `radius.authentication` is configured. */
    readonly authentication: RunningAuthenticationProxy | undefined,
  ) {}

  static async start(config: RadiusConfig, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const store = options.store ?? new SessionStore({ maxMirrors: config.limits.maxMirrors, sessionIdFor: sessionIdFromAcctSessionId });
    const clients: RadiusClient[] = config.clients.map((c) => ({
      prefix: c.address,
      secret: c.secret,
      requireMessageAuthenticator: c.requireMessageAuthenticator,
      name: c.name,
    }));
    const common = {
      clients,
      duplicateCacheSeconds: config.duplicateCacheSeconds,
      eventTimestampWindowSeconds: config.eventTimestampWindowSeconds,
      now: options.now,
      log: options.log,
    };
    const accounting = accountingService(store, { commit: options.commit });
    const das = dasService(store, { commit: options.commit });
    const accountingServer = await RadiusServer.listen({
      ...common,
      service: "accounting",
      listen: config.accounting.listen,
      accepts: [Code.AccountingRequest],
      handler: accounting.handle,
      messageAuthenticatorInReplies: false,
    });
    let dasServer: RadiusServer;
    try {
      dasServer = await RadiusServer.listen({
        ...common,
        service: "dynamic-authorization",
        listen: config.dynamicAuthorization.listen,
        accepts: [Code.CoaRequest, Code.DisconnectRequest],
        handler: das.handle,
      });
    } catch (e) {
      await accountingServer.close();
      throw e;
    }
    let authentication: RunningAuthenticationProxy | undefined;
    try {
      if (config.authentication) authentication = await startAuthenticationProxy({ ...common, config: config.authentication, store, commit: options.commit });
    } catch (e) {
      await Promise.all([accountingServer.close(), dasServer.close()]);
      throw e;
    }
    const plane = new ControlPlane(store, { server: accountingServer, service: accounting }, { server: dasServer, service: das }, authentication);
    const servers = [["accounting", accountingServer], ["dynamic authorization", dasServer]] as [string, RadiusServer][];
    if (authentication) servers.push(["authentication proxy", authentication.server]);
    for (const [name, server] of servers) {
      const { address, port } = server.address();
      options.log?.(`radius ${name} listening on ${address.includes(":") ? `[${address}]` : address}:${port} (udp)`);
    }
    if (clients.length === 0) options.log?.("radius: no clients configured: every request will be dropped");
    return plane;
  }

  /** Closes the listeners once the requests in progress are answered. */
  async stop(): Promise<void> {
    await Promise.all([this.accounting.server.close(), this.dynamicAuthorization.server.close(), this.authentication?.close()]);
  }
}
