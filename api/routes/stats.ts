/**
 * Aggregate counters (every role). Counts that move when someone is intercepted (mirror sessions,
 * triggers, refused mirrors) are li-admin only: an operator who sees sessions log in could match a
 * mirror count that rises at the same moment to the subscriber.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { allow } from "../auth/middleware.ts";
import { roleAtLeast } from "../auth/tokens.ts";
import { router, type ApiDeps } from "../env.ts";
import { problems, security } from "./problems.ts";

const statsSchema = z.object({
  subscriberSessions: z.int(),
  tunnels: z.int(),
  ready: z.boolean(),
  mirrorSessions: z.int().optional().meta({ description: "li-admin only" }),
  triggers: z.int().optional().meta({ description: "li-admin only" }),
  mirrorsRefused: z.int().optional().meta({ description: "li-admin only: refused at the mirror session limit" }),
});

export function statsRoutes(deps: ApiDeps) {
  const app = router();
  app.openapi(
    createRoute({
      method: "get",
      path: "/stats",
      summary: "Aggregate counters",
      security,
      middleware: [allow("viewer")] as const,
      responses: { 200: { description: "aggregates", content: { "application/json": { schema: statsSchema } } }, ...problems([401]) },
    }),
    (c) => {
      const { store } = deps;
      const stats: z.output<typeof statsSchema> = { subscriberSessions: store.sessionCount, tunnels: deps.tunnels.size, ready: deps.ready?.() ?? true };
      if (roleAtLeast(c.get("principal").role, "li-admin")) {
        stats.mirrorSessions = store.mirrorCount;
        stats.triggers = [...store.allTriggers()].length;
        stats.mirrorsRefused = store.refused;
      }
      return c.json(stats, 200);
    },
  );
  return app;
}
