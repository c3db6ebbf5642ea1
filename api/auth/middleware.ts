/**
 * Authentication and role checks as Hono middleware.
 *
 * `allow("li-admin", { hidden: true })` guards lawful-intercept objects: a weaker role gets the same
 * 404 as a path that does not exist, so it cannot learn that a mirror session, a trigger or a
 * per-intercept counter exists. Other guarded routes answer 403.
 */
import type { MiddlewareHandler } from "hono";
import type { Role } from "../../runtime/config/api.ts";
import type { AuditSink } from "../../runtime/audit/log.ts";
import type { ApiEnv } from "../env.ts";
import { notFound, problemResponse } from "../problem.ts";
import { roleAtLeast, type TokenVerifier } from "./tokens.ts";

export function authenticate(verifier: TokenVerifier): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
    const principal = m ? verifier.verify(m[1]) : undefined;
    if (!principal) {
      return problemResponse("unauthorized", m ? "the bearer token is not valid" : "send Authorization: Bearer <token>", undefined, {
        "www-authenticate": 'Bearer realm="iapd"',
      });
    }
    c.set("principal", principal);
    await next();
  };
}

/**
 * Lets `role` and stronger roles through. With `hidden`, weaker roles get 404 and the attempt is
 * written to the audit log (someone without LI rights probing LI routes is worth a trace).
 */
export function allow(role: Role, options: { hidden?: boolean; audit?: AuditSink } = {}): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    if (roleAtLeast(principal.role, role)) return next();
    if (!options.hidden) return problemResponse("forbidden", `this needs the ${role} role; the token's role is ${principal.role}`);
    options.audit?.record({ actor: `api:${principal.name}`, action: "li.access", object: `${c.req.method} ${c.req.routePath}`, outcome: "denied" });
    return notFound();
  };
}
