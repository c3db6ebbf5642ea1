/**
 * Subscriber sessions: list (filters, cursor pages), get, and DELETE = terminate every mirror
 * session on it (li-admin). Operators see sessions without any LI field; `mirrored` and `mirrors`
 * and the `mirrored` filter exist for li-admin only.
 */
import { createRoute } from "@hono/zod-openapi";
import type { TypedResponse } from "hono";
import { z } from "zod";
import { parseAddress, parsePrefix, type Prefix } from "../../runtime/net/address.ts";
import type { SubscriberSession } from "../../runtime/sessions/store.ts";
import { allow } from "../auth/middleware.ts";
import { roleAtLeast } from "../auth/tokens.ts";
import { router, type ApiDeps } from "../env.ts";
import type { Cursors } from "../pagination/cursors.ts";
import { JsonBytes } from "../json.ts";
import { pageOf, pageParams } from "../pagination/listing.ts";
import { ProblemError } from "../problem.ts";
import { definedOnly, problems, security } from "./problems.ts";
import { pageSchema, sessionKeyOf, sessionSchema, sessionView, writeSession } from "../views.ts";

const addressError = (issue: { input?: unknown }) => `expected an IPv4 or IPv6 address, found ${JSON.stringify(issue.input)}`;

const listQuery = z.strictObject({
  user: z.string({ error: "expected a User-Name" }).min(1).max(253).optional().meta({ description: "User-Name, exact" }),
  address: z
    .string({ error: addressError })
    .refine((s) => {
      try {
        parseAddress(s);
        return true;
      } catch {
        return false;
      }
    }, { error: addressError })
    .optional()
    .meta({ description: "an IPv4 address (Framed-IP-Address) or an IPv6 address inside the session's IPv6 prefixes or equal to Framed-IPv6-Address" }),
  nas: z.string({ error: "expected a NAS address or NAS-Identifier" }).min(1).max(253).optional().meta({ description: "the NAS: RADIUS client address, NAS-IP-Address or NAS-Identifier" }),
  mirrored: z.enum(["true", "false"], { error: 'expected "true" or "false"' }).optional().meta({ description: "li-admin only" }),
  ...pageParams,
});

/** Pages are written synchronously, one at a time, into this buffer (api/json.ts). */
const scratch = new JsonBytes();

const idParam = z.object({ id: z.string().meta({ param: { name: "id", in: "path" }, description: "session id" }) });

export function sessionRoutes(deps: ApiDeps, cursors: Cursors) {
  const { store } = deps;
  const app = router();

  app.openapi(
    createRoute({
      method: "get",
      path: "/sessions",
      summary: "List subscriber sessions",
      description: "operator and li-admin. Cursor pagination; see docs/api.md.",
      security,
      middleware: [allow("operator")] as const,
      request: { query: listQuery },
      responses: { 200: { description: "a page of sessions", content: { "application/json": { schema: pageSchema(sessionSchema) } } }, ...problems([400, 401, 403, 410]) },
    }),
    (c) => {
      const q = c.req.valid("query");
      const principal = c.get("principal");
      const li = roleAtLeast(principal.role, "li-admin");
      if (q.mirrored !== undefined && !li) throw new ProblemError("invalid-request", "the request has 1 problem", [{ field: "query.mirrored", problem: "unknown field" }]);
      const match = matcher(q);
      const mirrored = q.mirrored === undefined ? undefined : q.mirrored === "true";
      const openAll = () => store.allSessions();
      let open: () => Iterator<SubscriberSession> = openAll;
      if (q.mirrored === "true") open = () => [...new Set([...store.allMirrors()].map((m) => m.subscriber))].flatMap((k) => store.getSession(k) ?? [])[Symbol.iterator]();
      else if (q.user !== undefined) open = () => store.findSessions({ userName: q.user })[Symbol.iterator]();
      else if (q.address !== undefined && parseAddress(q.address).family === 4) open = () => store.findSessions({ framedIpAddress: q.address })[Symbol.iterator]();
      // The unfiltered listing walks the store's live map, whose iterator only yields sessions the map
      // holds now; snapshots of keys (an index, the mirrors) may hold sessions that have ended or been
      // replaced since: check those are current.
      const live = open === openAll;
      const page = pageOf({
        cursors,
        principal,
        name: "sessions",
        filters: { user: q.user, address: q.address, nas: q.nas, mirrored: q.mirrored },
        limit: q.limit,
        cursor: q.cursor,
        open,
        keep: (s) => (live || store.getSession(s.key) === s) && match(s) && (mirrored === undefined || store.mirrorsOf(s.key).length > 0 === mirrored),
      });
      // An li-admin's listing shows who is mirrored: that read is an LI action.
      if (li) deps.audit.record({ actor: `api:${principal.name}`, action: "session.list", object: "sessions", outcome: "ok", detail: { ...definedOnly({ user: q.user, address: q.address, nas: q.nas, mirrored: q.mirrored }), returned: page.items.length } });
      // Written straight to bytes, as c.json(page) would write it (docs/api.md#benchmark).
      const w = scratch.reset();
      w.raw('{"items":[');
      for (let i = 0; i < page.items.length; i++) {
        if (i > 0) w.byte(44);
        const s = page.items[i];
        writeSession(w, s, li ? { mirrors: store.mirrorsOf(s.key).map((m) => m.id) } : undefined);
      }
      w.raw('],"next":');
      if (page.next === null) w.raw("null");
      else w.string(page.next);
      w.byte(125);
      return c.body(w.finish(), 200, { "content-type": "application/json" }) as unknown as TypedResponse<z.output<ReturnType<typeof pageSchema<typeof sessionSchema>>>, 200, "json">;
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/sessions/{id}",
      summary: "Get a subscriber session",
      security,
      middleware: [allow("operator")] as const,
      request: { params: idParam },
      responses: { 200: { description: "the session", content: { "application/json": { schema: sessionSchema } } }, ...problems([401, 403, 404]) },
    }),
    (c) => {
      const key = sessionKeyOf(c.req.valid("param").id);
      const s = key === undefined ? undefined : store.getSession(key);
      if (!s) throw new ProblemError("not-found", "no such resource");
      const principal = c.get("principal");
      const li = roleAtLeast(principal.role, "li-admin");
      if (li) deps.audit.record({ actor: `api:${principal.name}`, action: "session.get", object: `session:${s.key}`, outcome: "ok" });
      return c.json(sessionView(s, li ? { mirrors: store.mirrorsOf(s.key).map((m) => m.id) } : undefined), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/sessions/{id}",
      summary: "Terminate every mirror session of a subscriber session",
      description: "li-admin; the subscriber session itself stays (it belongs to the NAS). Other roles get 404.",
      security,
      middleware: [allow("li-admin", { hidden: true, audit: deps.audit })] as const,
      request: { params: idParam },
      responses: {
        200: { description: "the mirror sessions that were terminated", content: { "application/json": { schema: z.object({ session: z.string(), terminated: z.array(z.string()) }) } } },
        ...problems([401, 404]),
      },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const key = sessionKeyOf(id);
      const actor = `api:${c.get("principal").name}`;
      if (key === undefined || !store.getSession(key)) {
        deps.audit.record({ actor, action: "session.terminate-mirrors", object: key === undefined ? `session-id:${id.slice(0, 64)}` : `session:${key}`, outcome: "not-found" });
        throw new ProblemError("not-found", "no such resource");
      }
      const now = deps.clock();
      const terminated = store.mirrorsOf(key).map((m) => store.endMirror(m.id, "terminated", now).id);
      deps.audit.record({ actor, action: "session.terminate-mirrors", object: `session:${key}`, outcome: "ok", detail: { mirrors: terminated.join(",") || "none" } });
      return c.json({ session: id, terminated }, 200);
    },
  );

  return app;
}

type ListQuery = z.output<typeof listQuery>;

/** Every filter of the query as one predicate (the index that opened the walk is re-checked too). */
function matcher(q: ListQuery): (s: SubscriberSession) => boolean {
  const tests: ((s: SubscriberSession) => boolean)[] = [];
  if (q.user !== undefined) tests.push((s) => s.userName === q.user);
  if (q.nas !== undefined) tests.push((s) => s.nas === q.nas || s.nasIpAddress === q.nas || s.nasIdentifier === q.nas);
  if (q.address !== undefined) tests.push(addressTest(q.address));
  // A plain loop: `tests.every((t) => t(s))` made a closure for every session a page examined.
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  return (s) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](s)) return false;
    return true;
  };
}

function addressTest(text: string): (s: SubscriberSession) => boolean {
  const a = parseAddress(text);
  if (a.family === 4) return (s) => s.framedIpAddress === text;
  return (s) => [s.framedIpv6Prefix, s.delegatedIpv6Prefix, s.framedIpv6Address].some((p) => p !== undefined && contains(parsePrefix(p), a.bytes));
}

function contains(p: Prefix, bytes: Uint8Array): boolean {
  if (p.family !== 6) return false;
  const whole = p.length >> 3;
  for (let i = 0; i < whole; i++) if (p.bytes[i] !== bytes[i]) return false;
  const rest = p.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (p.bytes[whole] & mask) === (bytes[whole] & mask);
}
