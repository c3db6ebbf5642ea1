/** Shared by the route files: OpenAPI problem responses, the bearer requirement, audit details. */
import { problemSchema } from "../problem.ts";

export const security = [{ bearer: [] }];

export function problems(codes: number[]) {
  return Object.fromEntries(codes.map((code) => [code, { description: "problem details", content: { "application/problem+json": { schema: problemSchema } } }]));
}

/** The given query parameters only, as audit detail (absent ones left out). */
export function definedOnly(query: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
}
