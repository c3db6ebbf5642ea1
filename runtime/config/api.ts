/**
 * The `api:` section of the configuration file: where the HTTP API listens, the bearer tokens it
 * accepts (only their SHA-256 hashes) and optional TLS.
 *
 * ```yaml
 * api:
 *   listen: 127.0.0.1:8080
 *   tokens:
 *     - { name: alice, role: li-admin, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }
 *   tls: { cert: /etc/iapd/api.crt, key: /etc/iapd/api.key }
 * ```
 */
import { z } from "zod";
import { AddressError, parseHostPort, type HostPort } from "../net/address.ts";

/** Roles in increasing order of what they may see; each role includes the ones before it. */
export const ROLES = ["viewer", "operator", "li-admin"] as const;
export type Role = (typeof ROLES)[number];

/** "127.0.0.1:8080" or "[::1]:8080"; port 0 asks the kernel for a free port (tests). */
export const listenSchema = z.string({ error: 'expected "address:port" such as "127.0.0.1:8080" or "[::1]:8080"' }).transform((s, ctx): HostPort => {
  try {
    return parseHostPort(s);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: e instanceof AddressError ? e.message : String(e) });
    return z.NEVER;
  }
});

const tokenError = (what: string) => (issue: { input?: unknown }) => `expected ${what}, found ${JSON.stringify(issue.input)}`;

export const apiTokenSchema = z.strictObject({
  /** Who holds the token: the actor in the audit log. */
  name: z.string({ error: tokenError("a token name") }).regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, {
    error: tokenError("a token name (letters, digits, . _ @ -, at most 64)"),
  }),
  role: z.enum(ROLES, { error: tokenError(`a role (${ROLES.join(", ")})`) }),
  /** SHA-256 of the token, 64 hex digits: `printf %s "$TOKEN" | sha256sum`. */
  sha256: z.string({ error: tokenError("a SHA-256 hash (64 hex digits)") }).regex(/^[0-9a-fA-F]{64}$/, {
    error: tokenError("a SHA-256 hash (64 hex digits)"),
  }).transform((s) => s.toLowerCase()),
});

export const apiSchema = z.strictObject({
  listen: listenSchema.prefault("127.0.0.1:8080"),
  /** Empty: a first-run token is generated, its hash kept in the state directory, the token printed once. */
  tokens: z.array(apiTokenSchema, { error: "expected a list of tokens" }).default([]),
  /** PEM files; without them the API speaks plain HTTP (keep it on loopback then). */
  tls: z.strictObject({
    cert: z.string({ error: tokenError("a certificate file path") }).min(1),
    key: z.string({ error: tokenError("a private key file path") }).min(1),
  }).optional(),
});

export type ApiConfig = z.output<typeof apiSchema>;
export type ApiToken = z.output<typeof apiTokenSchema>;
