/**
 * Filters: the known filters and which one is active (operator and li-admin); upload, activate and
 * rollback (li-admin), each audited (docs/filters.md "Deploying"). Hot swap itself is
 * runtime/filter/lifecycle.ts; the provider is runtime/filter/registry.ts.
 */
import { createRoute } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { FilterRegistryError } from "../../runtime/filter/registry.ts";
import { allow } from "../auth/middleware.ts";
import { router, type ApiDeps } from "../env.ts";
import { ProblemError, problemResponse } from "../problem.ts";
import type { FiltersProvider } from "../providers.ts";
import { problems, security } from "./problems.ts";

/** Largest module accepted by POST /v1/filters; the built-in filters are about 7 KiB. */
export const MAX_FILTER_BYTES = 1 << 20;

const filterSchema = z.object({
  id: z.string().optional(),
  name: z.string(),
  version: z.string(),
  abiVersion: z.int(),
  sha256: z.string(),
  active: z.boolean(),
  previous: z.boolean().optional(),
  origin: z.string().optional(),
  loadedAt: z.string(),
});

const idParam = z.object({ id: z.string().meta({ param: { name: "id", in: "path" }, description: "filter ID (16 hex digits of its SHA-256)" }) });

type HotSwap = Required<FiltersProvider>;

function hotSwap(deps: ApiDeps): HotSwap {
  const f = deps.filters;
  if (!f.upload || !f.activate || !f.rollback) throw new ProblemError("conflict", "this daemon cannot change filters (no hot swap)");
  return f as HotSwap;
}

/** Runs a registry call, turning its errors into problem responses. */
async function registry<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (!(e instanceof FilterRegistryError)) throw e;
    if (e.kind === "rejected") {
      throw new ProblemError("invalid-request", `the filter module was rejected (${e.reason})`, [{ field: "body", problem: e.message }]);
    }
    throw new ProblemError(e.kind, e.message);
  }
}

export function filterRoutes(deps: ApiDeps) {
  const app = router();
  const actor = (c: { get(key: "principal"): { name: string } }) => `api:${c.get("principal").name}`;

  app.openapi(
    createRoute({
      method: "get",
      path: "/filters",
      summary: "List known filters",
      security,
      middleware: [allow("operator")] as const,
      responses: {
        200: { description: "the known filters and the active one", content: { "application/json": { schema: z.object({ active: z.string().nullable(), items: z.array(filterSchema) }) } } },
        ...problems([401, 403]),
      },
    }),
    (c) => {
      const items = deps.filters.list();
      return c.json({ active: items.find((f) => f.active)?.name ?? null, items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/filters",
      summary: "Upload a filter module (checked, not yet active)",
      security,
      middleware: [
        allow("li-admin"),
        bodyLimit({ maxSize: MAX_FILTER_BYTES, onError: () => problemResponse("body-too-large", `filter modules are limited to ${MAX_FILTER_BYTES} bytes`) }),
      ] as const,
      request: { body: { required: true, content: { "application/wasm": { schema: z.string().meta({ format: "binary" }) } } } },
      responses: {
        201: { description: "the new filter", content: { "application/json": { schema: filterSchema } } },
        200: { description: "the module was already known", content: { "application/json": { schema: filterSchema } } },
        ...problems([400, 401, 403, 409, 413, 415]),
      },
    }),
    async (c) => {
      const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/wasm" && type !== "application/octet-stream") {
        throw new ProblemError("unsupported-media-type", "send the module as application/wasm");
      }
      const swap = hotSwap(deps);
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      const { filter, created } = await registry(() => swap.upload(bytes, actor(c)));
      c.header("location", `/v1/filters/${filter.id}`);
      return c.json(filter, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/filters/{id}/activate",
      summary: "Make a filter the active one (hot swap between two batches)",
      security,
      middleware: [allow("li-admin")] as const,
      request: { params: idParam },
      responses: { 200: { description: "the active filter", content: { "application/json": { schema: filterSchema } } }, ...problems([401, 403, 404, 409]) },
    }),
    async (c) => {
      const swap = hotSwap(deps);
      const id = c.req.valid("param").id;
      return c.json(await registry(() => swap.activate(id, actor(c))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/filters/rollback",
      summary: "Return to the previous filter",
      security,
      middleware: [allow("li-admin")] as const,
      responses: { 200: { description: "the active filter", content: { "application/json": { schema: filterSchema } } }, ...problems([401, 403, 409]) },
    }),
    async (c) => {
      const swap = hotSwap(deps);
      return c.json(await registry(() => swap.rollback(actor(c))), 200);
    },
  );

  return app;
}
