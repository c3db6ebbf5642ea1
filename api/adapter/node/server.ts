/** Serves the API on Node with @hono/node-server; plain HTTP, or HTTPS when `tls` is given. */
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { serve as nodeServe } from "@hono/node-server";
import type { FetchApp, RunningServer, ServeOptions } from "../options.ts";

export type { FetchApp, RunningServer, ServeOptions } from "../options.ts";

export function serve(app: FetchApp, options: ServeOptions): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = nodeServe(
      {
        fetch: app.fetch,
        hostname: options.address,
        port: options.port,
        ...(options.tls ? { createServer: createHttpsServer, serverOptions: { cert: options.tls.cert, key: options.tls.key } } : {}),
      },
      (info: AddressInfo) => {
        server.off("error", reject);
        resolve({
          address: info.address,
          port: info.port,
          close: () =>
            new Promise<void>((done, fail) => {
              server.close((e) => (e ? fail(e) : done()));
              (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
        });
      },
    );
    server.once("error", reject);
  });
}
