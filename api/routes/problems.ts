/** OpenAPI declarations shared by the route files: problem responses and the bearer requirement. */
import { problemSchema } from "../problem.ts";

export const security = [{ bearer: [] }];

export function problems(codes: number[]) {
  return Object.fromEntries(codes.map((code) => [code, { description: "problem details", content: { "application/problem+json": { schema: problemSchema } } }]));
}
