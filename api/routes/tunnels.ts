/**
 * Tunnels: list and get (operator and li-admin), add and remove (li-admin). Only the registry and
 * its validation for now; spreading mirror sessions over the pool comes with the live data plane.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { parseIPv4 } from "../../runtime/net/address.ts";
import { INTERFACE_NAME, TUNNEL_NAME, TunnelError } from "../../runtime/sessions/tunnels.ts";
import { allow } from "../auth/middleware.ts";
import { router, type ApiDeps } from "../env.ts";
import { ProblemError } from "../problem.ts";
import { dscpValue, text } from "../validation.ts";
import { tunnelSchema, tunnelView } from "../views.ts";
import { problems, security } from "./problems.ts";

export const tunnelBody = z.strictObject({
  name: text(TUNNEL_NAME, "a tunnel name (1-32 letters, digits, '.', '_' or '-')"),
  sourceAddress: z
    .string({ error: "expected an IPv4 address such as 192.0.2.1" })
    .refine((s) => parseIPv4(s) !== null, { error: (issue) => `expected an IPv4 address such as 192.0.2.1, found ${JSON.stringify(issue.input)}` }),
  interface: text(INTERFACE_NAME, "a Linux interface name (1-15 characters, no '/', ':' or spaces)").optional(),
  dscp: dscpValue.optional(),
});

const nameParam = z.object({ name: z.string().meta({ param: { name: "name", in: "path" }, description: "tunnel name" }) });

export function tunnelRoutes(deps: ApiDeps) {
  const { tunnels } = deps;
  const app = router();

  app.openapi(
    createRoute({
      method: "get",
      path: "/tunnels",
      summary: "List tunnels",
      security,
      middleware: [allow("operator")] as const,
      responses: { 200: { description: "every tunnel", content: { "application/json": { schema: z.object({ items: z.array(tunnelSchema) }) } } }, ...problems([401, 403]) },
    }),
    (c) => c.json({ items: tunnels.list().map(tunnelView) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tunnels/{name}",
      summary: "Get a tunnel",
      security,
      middleware: [allow("operator")] as const,
      request: { params: nameParam },
      responses: { 200: { description: "the tunnel", content: { "application/json": { schema: tunnelSchema } } }, ...problems([401, 403, 404]) },
    }),
    (c) => {
      const t = tunnels.get(c.req.valid("param").name);
      if (!t) throw new ProblemError("not-found", "no such resource");
      return c.json(tunnelView(t), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tunnels",
      summary: "Add a tunnel",
      security,
      middleware: [allow("li-admin")] as const,
      request: { body: { required: true, content: { "application/json": { schema: tunnelBody } } } },
      responses: { 201: { description: "the new tunnel", content: { "application/json": { schema: tunnelSchema } } }, ...problems([400, 401, 403, 409, 413, 415]) },
    }),
    (c) => {
      const spec = c.req.valid("json");
      const actor = `api:${c.get("principal").name}`;
      let tunnel;
      try {
        tunnel = tunnels.add(spec, deps.clock());
      } catch (e) {
        if (!(e instanceof TunnelError)) throw e;
        if (e.code === "exists") throw new ProblemError("conflict", e.message);
        throw new ProblemError("invalid-request", "the request has 1 problem", [{ field: `body.${e.field ?? ""}`, problem: e.message }]);
      }
      deps.audit.record({ actor, action: "tunnel.add", object: `tunnel:${tunnel.name}`, outcome: "ok", detail: { sourceAddress: tunnel.sourceAddress } });
      c.header("location", `/v1/tunnels/${tunnel.name}`);
      return c.json(tunnelView(tunnel), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/tunnels/{name}",
      summary: "Remove a tunnel",
      security,
      middleware: [allow("li-admin")] as const,
      request: { params: nameParam },
      responses: { 200: { description: "the removed tunnel", content: { "application/json": { schema: tunnelSchema } } }, ...problems([401, 403, 404]) },
    }),
    (c) => {
      const name = c.req.valid("param").name;
      const actor = `api:${c.get("principal").name}`;
      if (!tunnels.get(name)) {
        deps.audit.record({ actor, action: "tunnel.remove", object: `tunnel:${name.slice(0, 64)}`, outcome: "not-found" });
        throw new ProblemError("not-found", "no such resource");
      }
      const tunnel = tunnels.remove(name);
      deps.audit.record({ actor, action: "tunnel.remove", object: `tunnel:${name}`, outcome: "ok" });
      return c.json(tunnelView(tunnel), 200);
    },
  );

  return app;
}
