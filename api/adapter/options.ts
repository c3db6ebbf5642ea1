/** What both server adapters take, and how to get it from the `api:` configuration section. */
import { readFileSync } from "node:fs";
import type { ApiConfig } from "../../runtime/config/api.ts";

export interface ServeOptions {
  address: string;
  /** 0 = any free port; the running server reports the one it got. */
  port: number;
  /** PEM text of the certificate chain and private key. */
  tls?: { cert: string; key: string };
}

export interface RunningServer {
  address: string;
  port: number;
  /** Stops accepting connections and resolves once the listener is closed. */
  close(): Promise<void>;
}

/** Anything with a fetch handler: a Hono app. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

export function serveOptions(config: Pick<ApiConfig, "listen" | "tls">): ServeOptions {
  const tls = config.tls && { cert: readFileSync(config.tls.cert, "utf8"), key: readFileSync(config.tls.key, "utf8") };
  return { address: config.listen.address, port: config.listen.port, ...(tls ? { tls } : {}) };
}
