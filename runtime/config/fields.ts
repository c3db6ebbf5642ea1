/**
 * Field schemas shared by the configuration sections, so every section reports problems the same
 * way: "expected X, found Y", with a missing key found as "nothing".
 *
 * ```ts
 * z.strictObject({ port: integer(1, 65535, "a UDP port"), listen: hostPort })
 * ```
 */
import { z } from "zod";
import { AddressError, parseAddress, parseHostPort, parseIPv4, type HostPort } from "../net/address.ts";

/** What the file had, for "expected X, found Y": a missing key is "nothing". */
export const found = (input: unknown): string => (input === undefined ? "nothing" : JSON.stringify(input));

export const integer = (min: number, max: number, what: string) => {
  const error = (issue: { input?: unknown }) => `expected ${what} (an integer ${min}..${max}), found ${found(issue.input)}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
};

/** Runs a parser that throws AddressError inside a zod transform, turning its message into the issue. */
export function parsed<T>(parse: (s: string) => T) {
  return (s: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(s);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: e instanceof AddressError ? e.message : String(e) });
      return z.NEVER;
    }
  };
}

/** "127.0.0.1:1813" or "[::1]:3799"; port 0 asks the kernel for a free port (tests). */
export const hostPort = z
  .string({ error: (issue) => `expected "address:port" such as "127.0.0.1:1813" or "[::1]:3799", found ${found(issue.input)}` })
  .transform(parsed((s): HostPort => parseHostPort(s)));

export const ipv4Address = z
  .string({ error: (issue) => `expected an IPv4 address such as 192.0.2.1, found ${found(issue.input)}` })
  .refine((s) => parseIPv4(s) !== null, { error: (issue) => `expected an IPv4 address such as 192.0.2.1, found ${found(issue.input)}` });

export const ipAddress = z
  .string({ error: (issue) => `expected an IP address such as 192.0.2.10, found ${found(issue.input)}` })
  .refine(
    (s) => {
      try {
        parseAddress(s);
        return true;
      } catch {
        return false;
      }
    },
    { error: (issue) => `expected an IPv4 or IPv6 address such as 192.0.2.10, found ${found(issue.input)}` },
  );
