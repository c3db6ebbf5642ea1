/** Serves the API on Deno with Deno.serve; plain HTTP, or HTTPS when `tls` is given. */
import type { FetchApp, RunningServer, ServeOptions } from "../options.ts";

export type { FetchApp, RunningServer, ServeOptions } from "../options.ts";

// The project type-checks against Node's types; this is the part of Deno's API used here.
interface DenoHttpServer {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}
declare const Deno: {
  serve(
    options: { hostname: string; port: number; cert?: string; key?: string; onListen?: (addr: { hostname: string; port: number }) => void; onError?: (e: unknown) => Response },
    handler: (request: Request) => Response | Promise<Response>,
  ): DenoHttpServer;
};

export function serve(app: FetchApp, options: ServeOptions): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve(
        {
          hostname: options.address,
          port: options.port,
          ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
          onListen: (addr) => resolve({ address: addr.hostname, port: addr.port, close: () => server.shutdown() }),
        },
        (request) => app.fetch(request),
      );
    } catch (e) {
      reject(e);
    }
  });
}
