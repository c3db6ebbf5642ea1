/** Request-body building blocks whose messages say what was expected and what was found. */
import { z } from "zod";

const found = (what: string) => (issue: { input?: unknown }) => `expected ${what}, found ${JSON.stringify(issue.input)}`;

export function integer(min: number, max: number, what: string) {
  const error = found(`${what} (an integer ${min}..${max})`);
  return z.int({ error }).min(min, { error }).max(max, { error });
}

export function text(pattern: RegExp, what: string) {
  const error = found(what);
  return z.string({ error }).regex(pattern, { error });
}

export const dscpValue = integer(0, 63, "a DSCP value");
