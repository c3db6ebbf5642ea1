/**
 * Mirror sessions (li-admin only; other roles get 404 everywhere here): list, get with counters,
 * and DELETE = terminate, the seed product's "terminate an active mirroring session at any time".
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { MirrorSession } from "../../runtime/sessions/store.ts";
import { allow } from "../auth/middleware.ts";
import { router, type ApiDeps } from "../env.ts";
import type { Cursors } from "../pagination/cursors.ts";
import { listing, pageParams } from "../pagination/listing.ts";
import { ProblemError } from "../problem.ts";
import { mirrorSchema, mirrorView, pageSchema, sessionKeyOf } from "../views.ts";
import { definedOnly, problems, security } from "./problems.ts";

const interceptError = (issue: { input?: unknown }) => `expected an intercept ID (an integer 0..1073741823), found ${JSON.stringify(issue.input)}`;

const listQuery = z.strictObject({
  interceptId: z
    .string({ error: interceptError })
    .regex(/^[0-9]{1,10}$/, { error: interceptError, abort: true })
    .refine((s) => Number(s) <= 0x3fffffff, { error: interceptError })
    .optional(),
  session: z.string({ error: "expected a session id" }).optional().meta({ description: "a subscriber session id" }),
  ...pageParams,
});

const idParam = z.object({ id: z.string().meta({ param: { name: "id", in: "path" }, description: "mirror session id" }) });

export function mirrorRoutes(deps: ApiDeps, cursors: Cursors) {
  const { store } = deps;
  const app = router();
  const liOnly = allow("li-admin", { hidden: true, audit: deps.audit });
  const view = (m: MirrorSession) => mirrorView(m, deps.counters(m.id));

  app.openapi(
    createRoute({
      method: "get",
      path: "/mirrors",
      summary: "List mirror sessions",
      security,
      middleware: [liOnly] as const,
      request: { query: listQuery },
      responses: { 200: { description: "a page of mirror sessions", content: { "application/json": { schema: pageSchema(mirrorSchema) } } }, ...problems([400, 401, 404, 410]) },
    }),
    (c) => {
      const q = c.req.valid("query");
      const interceptId = q.interceptId === undefined ? undefined : Number(q.interceptId);
      const subscriber = q.session === undefined ? undefined : (sessionKeyOf(q.session) ?? "");
      const page = listing({
        cursors,
        principal: c.get("principal"),
        name: "mirrors",
        filters: { interceptId: q.interceptId, session: q.session },
        limit: q.limit,
        cursor: q.cursor,
        open: () => (subscriber === undefined ? store.allMirrors() : store.mirrorsOf(subscriber)[Symbol.iterator]()),
        keep: (m) => store.getMirror(m.id) === m && (interceptId === undefined || m.interceptId === interceptId),
        view,
      });
      deps.audit.record({ actor: `api:${c.get("principal").name}`, action: "mirror.list", object: "mirrors", outcome: "ok", detail: { ...definedOnly({ interceptId: q.interceptId, session: q.session }), returned: page.items.length } });
      return c.json(page, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mirrors/{id}",
      summary: "Get a mirror session with its counters",
      security,
      middleware: [liOnly] as const,
      request: { params: idParam },
      responses: { 200: { description: "the mirror session", content: { "application/json": { schema: mirrorSchema } } }, ...problems([401, 404]) },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const m = store.getMirror(id);
      deps.audit.record({ actor: `api:${c.get("principal").name}`, action: "mirror.get", object: `mirror:${id.slice(0, 64)}`, outcome: m ? "ok" : "not-found" });
      if (!m) throw new ProblemError("not-found", "no such resource");
      return c.json(view(m), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/mirrors/{id}",
      summary: "Terminate a mirror session",
      security,
      middleware: [liOnly] as const,
      request: { params: idParam },
      responses: { 200: { description: "the terminated mirror session, with its final counters", content: { "application/json": { schema: mirrorSchema } } }, ...problems([401, 404]) },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const actor = `api:${c.get("principal").name}`;
      const m = store.getMirror(id);
      if (!m) {
        deps.audit.record({ actor, action: "mirror.terminate", object: `mirror:${id.slice(0, 64)}`, outcome: "not-found" });
        throw new ProblemError("not-found", "no such resource");
      }
      const final = view(m);
      store.endMirror(id, "terminated", deps.clock());
      deps.audit.record({ actor, action: "mirror.terminate", object: `mirror:${id}`, outcome: "ok", detail: { interceptId: m.interceptId, session: m.subscriber } });
      return c.json(final, 200);
    },
  );

  return app;
}
