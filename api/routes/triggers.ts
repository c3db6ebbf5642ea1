/**
 * Triggers (li-admin only; other roles get 404): create, list, get, delete. Creating one applies
 * it at once to matching subscribers already logged in (JunosE precedence, see the session store);
 * deleting one ends the mirror sessions it started.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { mediationSchema } from "../../runtime/config/schema.ts";
import { parseIPv4 } from "../../runtime/net/address.ts";
import { StoreError, TRIGGER_KINDS } from "../../runtime/sessions/store.ts";
import { allow } from "../auth/middleware.ts";
import { router, type ApiDeps } from "../env.ts";
import type { Cursors } from "../pagination/cursors.ts";
import { listing, pageParams } from "../pagination/listing.ts";
import { ProblemError } from "../problem.ts";
import { dscpValue, integer } from "../validation.ts";
import { pageSchema, triggerSchema, triggerView } from "../views.ts";
import { problems, security } from "./problems.ts";

export const triggerBody = z
  .strictObject({
    kind: z.enum(TRIGGER_KINDS, { error: (issue) => `expected one of ${TRIGGER_KINDS.join(", ")}, found ${JSON.stringify(issue.input)}` }),
    value: z.string({ error: "expected the value to match (a string)" }).min(1, { error: "expected a non-empty value" }).max(253, { error: "expected at most 253 characters (a RADIUS attribute)" }),
    interceptId: integer(0, 0x3fffffff, "an intercept ID"),
    sessionId: integer(0, 0xffffffff, "a session ID").optional().meta({ description: "absent: derived from each matched session's Acct-Session-Id" }),
    mediation: mediationSchema,
    dscp: dscpValue.optional(),
  })
  .superRefine((t, ctx) => {
    if (t.kind === "ip-address" && parseIPv4(t.value) === null) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `ip-address triggers match Framed-IP-Address: expected an IPv4 address, found ${JSON.stringify(t.value)}` });
    }
  });

const idParam = z.object({ id: z.string().meta({ param: { name: "id", in: "path" }, description: "trigger id" }) });

export function triggerRoutes(deps: ApiDeps, cursors: Cursors) {
  const { store } = deps;
  const app = router();
  const liOnly = allow("li-admin", { hidden: true, audit: deps.audit });

  app.openapi(
    createRoute({
      method: "post",
      path: "/triggers",
      summary: "Create a trigger (applies at once)",
      security,
      middleware: [liOnly] as const,
      request: { body: { required: true, content: { "application/json": { schema: triggerBody } } } },
      responses: {
        201: {
          description: "the trigger and the mirror sessions it started",
          content: { "application/json": { schema: z.object({ trigger: triggerSchema, applied: z.array(z.string()) }) } },
        },
        ...problems([400, 401, 404, 413, 415]),
      },
    }),
    (c) => {
      const spec = c.req.valid("json");
      let result;
      try {
        result = store.addTrigger(spec, deps.clock());
      } catch (e) {
        if (e instanceof StoreError && e.code === "invalid") throw new ProblemError("invalid-request", "the request has 1 problem", [{ field: "body", problem: e.message }]);
        throw e;
      }
      const { trigger, applied } = result;
      const actor = `api:${c.get("principal").name}`;
      deps.audit.record({
        actor,
        action: "trigger.create",
        object: `trigger:${trigger.id}`,
        outcome: "ok",
        detail: { kind: trigger.kind, value: trigger.value, interceptId: trigger.interceptId, applied: applied.length },
      });
      for (const m of applied) {
        deps.audit.record({ actor: `trigger:${trigger.id}`, action: "mirror.start", object: `mirror:${m.id}`, outcome: "ok", detail: { interceptId: m.interceptId, session: m.subscriber } });
      }
      c.header("location", `/v1/triggers/${trigger.id}`);
      return c.json({ trigger: triggerView(trigger), applied: applied.map((m) => m.id) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/triggers",
      summary: "List triggers",
      security,
      middleware: [liOnly] as const,
      request: { query: z.strictObject(pageParams) },
      responses: { 200: { description: "a page of triggers", content: { "application/json": { schema: pageSchema(triggerSchema) } } }, ...problems([400, 401, 404, 410]) },
    }),
    (c) => {
      const q = c.req.valid("query");
      const page = listing({
        cursors,
        principal: c.get("principal"),
        name: "triggers",
        filters: {},
        limit: q.limit,
        cursor: q.cursor,
        open: () => store.allTriggers(),
        keep: () => true,
        view: triggerView,
      });
      deps.audit.record({ actor: `api:${c.get("principal").name}`, action: "trigger.list", object: "triggers", outcome: "ok", detail: { returned: page.items.length } });
      return c.json(page, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/triggers/{id}",
      summary: "Get a trigger",
      security,
      middleware: [liOnly] as const,
      request: { params: idParam },
      responses: { 200: { description: "the trigger", content: { "application/json": { schema: triggerSchema } } }, ...problems([401, 404]) },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const t = store.getTrigger(id);
      deps.audit.record({ actor: `api:${c.get("principal").name}`, action: "trigger.get", object: `trigger:${id.slice(0, 64)}`, outcome: t ? "ok" : "not-found" });
      if (!t) throw new ProblemError("not-found", "no such resource");
      return c.json(triggerView(t), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/triggers/{id}",
      summary: "Delete a trigger and end the mirror sessions it started",
      security,
      middleware: [liOnly] as const,
      request: { params: idParam },
      responses: {
        200: { description: "the deleted trigger and the mirror sessions that ended", content: { "application/json": { schema: z.object({ trigger: triggerSchema, ended: z.array(z.string()) }) } } },
        ...problems([401, 404]),
      },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const actor = `api:${c.get("principal").name}`;
      if (!store.getTrigger(id)) {
        deps.audit.record({ actor, action: "trigger.delete", object: `trigger:${id.slice(0, 64)}`, outcome: "not-found" });
        throw new ProblemError("not-found", "no such resource");
      }
      const ended = [...store.allMirrors()].filter((m) => m.origin.kind === "trigger" && m.origin.triggerId === id).map((m) => m.id);
      const trigger = store.removeTrigger(id, deps.clock());
      deps.audit.record({ actor, action: "trigger.delete", object: `trigger:${id}`, outcome: "ok", detail: { mirrorsEnded: ended.length } });
      return c.json({ trigger: triggerView(trigger), ended }, 200);
    },
  );

  return app;
}
