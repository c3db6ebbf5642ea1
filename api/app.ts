/**
 * The iapd HTTP API as one Hono app, served unchanged on Node (api/adapter/node) and Deno
 * (api/adapter/deno). Routes live in api/routes, one file per concept; see docs/api.md.
 *
 * ```ts
 * const app = createApp({ store, tunnels, config: config.api, audit, clock: Date.now, filters, counters: zeroCounters });
 * const server = await serve(app, { address: "127.0.0.1", port: 8080 });
 * ```
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import { authenticate } from "./auth/middleware.ts";
import { TokenVerifier } from "./auth/tokens.ts";
import type { ApiDeps, ApiEnv } from "./env.ts";
import { Cursors } from "./pagination/cursors.ts";
import { notFound, ProblemError, problemResponse } from "./problem.ts";
import { filterRoutes } from "./routes/filters.ts";
import { healthRoutes } from "./routes/health.ts";
import { metricsRoutes, RequestCounts } from "./routes/metrics.ts";
import { mirrorRoutes } from "./routes/mirrors.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { statsRoutes } from "./routes/stats.ts";
import { triggerRoutes } from "./routes/triggers.ts";
import { tunnelRoutes } from "./routes/tunnels.ts";

export type { ApiDeps } from "./env.ts";

/** Request bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

export function createApp(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>();
  const cursors = new Cursors(deps.clock);
  const requests = new RequestCounts();

  app.use("*", async (c, next) => {
    await next();
    const route = c.req.routePath;
    requests.add(c.req.method, route.endsWith("*") ? "unmatched" : route, c.res.status);
  });

  app.route("/", healthRoutes(deps));
  // Registered before authentication so that clients can read it without a token; built on
  // request from the same zod schemas that validate requests.
  app.doc31("/v1/openapi.json", {
    openapi: "3.1.0",
    info: { title: "iapd API", version: "1", description: "Sessions, mirror sessions, triggers, tunnels and filters of an iapd intercept access point. See docs/api.md." },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

  const auth = authenticate(new TokenVerifier(deps.config.tokens));
  app.use("/v1/*", auth);
  app.use("/metrics", auth);
  const jsonLimit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => problemResponse("body-too-large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`) });
  // A filter upload is a .wasm module with its own limit (api/routes/filters.ts). GET and HEAD have
  // no body: skipping the check for them also spares the Node adapter building a full Request
  // (bodyLimit reads c.req.raw.body), a good part of the cost of a small GET.
  app.use("/v1/*", (c, next) => {
    const method = c.req.method;
    return method === "GET" || method === "HEAD" || (method === "POST" && c.req.path === "/v1/filters") ? next() : jsonLimit(c, next);
  });
  // A change is answered only once it is durable: a 2xx to POST or DELETE survives a crash.
  app.use("/v1/*", async (c, next) => {
    await next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD") await deps.commit?.();
  });

  app.route("/", metricsRoutes(deps, requests));
  app.route("/v1", sessionRoutes(deps, cursors));
  app.route("/v1", mirrorRoutes(deps, cursors));
  app.route("/v1", triggerRoutes(deps, cursors));
  app.route("/v1", tunnelRoutes(deps));
  app.route("/v1", filterRoutes(deps));
  app.route("/v1", statsRoutes(deps));

  app.notFound(() => notFound());
  app.onError((err) => {
    if (err instanceof ProblemError) return err.response();
    if (err instanceof HTTPException) {
      if (err.status === 400) return problemResponse("invalid-request", "the request has 1 problem", [{ field: "body", problem: `malformed JSON (${err.message})` }]);
      if (err.status === 415) return problemResponse("unsupported-media-type", "send the body as application/json");
      if (err.status === 413) return problemResponse("body-too-large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
    }
    // The message may quote request data, never tokens (they stop at authentication).
    console.error(`iapd api: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return problemResponse("internal", "internal error; see the daemon's log");
  });
  return app;
}
