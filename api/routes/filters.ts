/**
 * Filters: the loaded filters and which one is active (operator and li-admin). Upload, activate
 * and rollback come with filter hot swap.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { allow } from "../auth/middleware.ts";
import { router, type ApiDeps } from "../env.ts";
import { problems, security } from "./problems.ts";

const filterSchema = z.object({
  name: z.string(),
  version: z.string(),
  abiVersion: z.int(),
  sha256: z.string(),
  active: z.boolean(),
  loadedAt: z.string(),
});

export function filterRoutes(deps: ApiDeps) {
  const app = router();
  app.openapi(
    createRoute({
      method: "get",
      path: "/filters",
      summary: "List loaded filters",
      security,
      middleware: [allow("operator")] as const,
      responses: {
        200: { description: "the loaded filters and the active one", content: { "application/json": { schema: z.object({ active: z.string().nullable(), items: z.array(filterSchema) }) } } },
        ...problems([401, 403]),
      },
    }),
    (c) => {
      const items = deps.filters.list();
      return c.json({ active: items.find((f) => f.active)?.name ?? null, items }, 200);
    },
  );
  return app;
}
