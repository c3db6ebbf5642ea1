/**
 * Errors as RFC 9457 problem details (`application/problem+json`). Validation problems list each
 * field and what is wrong with it:
 *
 * ```json
 * { "type": "urn:iapd:problem:invalid-request", "title": "Invalid request", "status": 400,
 *   "detail": "the request body has 1 problem", "errors": [{ "field": "body.mediation.port", "problem": "expected a UDP port (an integer 1..65535), found 0" }] }
 * ```
 */
import { z } from "zod";

export interface FieldProblem {
  /** Where: `body.<path>`, `query.<name>` or `path.<name>`. */
  field: string;
  problem: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldProblem[];
}

export const PROBLEM_TYPE = "application/problem+json";

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  errors: z.array(z.object({ field: z.string(), problem: z.string() })).optional(),
});

const TITLES: Record<string, [number, string]> = {
  "invalid-request": [400, "Invalid request"],
  unauthorized: [401, "Unauthorized"],
  forbidden: [403, "Forbidden"],
  "not-found": [404, "Not found"],
  conflict: [409, "Conflict"],
  "cursor-expired": [410, "Cursor expired"],
  "body-too-large": [413, "Request body too large"],
  "unsupported-media-type": [415, "Unsupported media type"],
  internal: [500, "Internal error"],
  "not-ready": [503, "Not ready"],
};
export type ProblemKind = keyof typeof TITLES;

export function problemOf(kind: ProblemKind, detail: string, errors?: FieldProblem[]): Problem {
  const [status, title] = TITLES[kind];
  return { type: `urn:iapd:problem:${kind}`, title, status, detail, ...(errors ? { errors } : {}) };
}

export function problemResponse(kind: ProblemKind, detail: string, errors?: FieldProblem[], headers: Record<string, string> = {}): Response {
  const p = problemOf(kind, detail, errors);
  return new Response(JSON.stringify(p), { status: p.status, headers: { "content-type": PROBLEM_TYPE, ...headers } });
}

/** The one answer for "no such thing" and for LI objects a role may not know about: they must look alike. */
export function notFound(): Response {
  return problemResponse("not-found", "no such resource");
}

/** One problem per zod issue; `unrecognized_keys` becomes one "unknown field" problem per key. */
export function zodProblems(error: z.ZodError, where: string): FieldProblem[] {
  const field = (path: PropertyKey[]) => [where, ...path.map(String)].join(".");
  return error.issues.flatMap((issue): FieldProblem[] => {
    if (issue.code === "unrecognized_keys") return issue.keys.map((k) => ({ field: field([...issue.path, k]), problem: "unknown field" }));
    return [{ field: field(issue.path), problem: issue.message }];
  });
}

export function invalid(errors: FieldProblem[]): Response {
  return problemResponse("invalid-request", `the request has ${errors.length} problem${errors.length === 1 ? "" : "s"}`, errors);
}

/** Thrown by handlers; the app's error handler answers with the problem. */
export class ProblemError extends Error {
  override name = "ProblemError";
  constructor(
    readonly kind: ProblemKind,
    detail: string,
    readonly errors?: FieldProblem[],
  ) {
    super(detail);
  }

  response(): Response {
    return this.kind === "not-found" ? notFound() : problemResponse(this.kind, this.message, this.errors);
  }
}
