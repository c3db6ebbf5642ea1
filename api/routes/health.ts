/**
 * `/healthz` (the process answers) and `/readyz` (state restored, mirroring resumed), without
 * authentication so that supervisors and load balancers can probe them; they reveal nothing else.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { router, type ApiDeps } from "../env.ts";
import { ProblemError } from "../problem.ts";
import { problems } from "./problems.ts";

export function healthRoutes(deps: ApiDeps) {
  const app = router();
  app.openapi(
    createRoute({
      method: "get",
      path: "/healthz",
      summary: "Liveness (no token)",
      responses: { 200: { description: "the process answers", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } },
    }),
    (c) => c.json({ status: "ok" as const }, 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/readyz",
      summary: "Readiness (no token)",
      responses: {
        200: { description: "state restored, mirroring resumed", content: { "application/json": { schema: z.object({ status: z.literal("ready") }) } } },
        ...problems([503]),
      },
    }),
    (c) => {
      if (!(deps.ready?.() ?? true)) throw new ProblemError("not-ready", "state is being restored");
      return c.json({ status: "ready" as const }, 200);
    },
  );
  return app;
}
