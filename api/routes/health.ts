/**
 * `/healthz` (the process answers) and `/readyz` (state restored, mirroring resumed), without
 * authentication so that supervisors and load balancers can probe them; they reveal nothing else.
 */
import { Hono } from "hono";
import type { ApiDeps, ApiEnv } from "../env.ts";
import { problemResponse } from "../problem.ts";

export function healthRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => ((deps.ready?.() ?? true) ? c.json({ status: "ready" }) : problemResponse("not-ready", "state is being restored")));
  return app;
}
