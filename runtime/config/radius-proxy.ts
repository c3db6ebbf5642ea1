/**
 * The `radius.authentication:` section: iapd's RADIUS authentication proxy, the NAS-facing listener
 * and the upstream RADIUS servers it relays to, in failover order (see docs/configuration.md).
 *
 * ```yaml
 * radius:
 *   authentication:
 *     listen: "127.0.0.1:1812"
 *     upstreams:
 *       - { name: aaa-1, address: 192.0.2.10, secret: s3cret }
 *       - { name: aaa-2, address: "2001:db8::10", port: 11812, secret: s3cret }
 * ```
 */
import { z } from "zod";
import { found, hostPort, integer, ipAddress } from "./fields.ts";

export const upstreamSchema = z.strictObject({
  address: ipAddress,
  port: integer(1, 65535, "a UDP port").default(1812),
  secret: z
    .string({ error: (issue) => `expected the shared secret as a string, found ${found(issue.input)}` })
    .min(1, { error: "expected a non-empty shared secret, found an empty string" }),
  /**
   * Discard the upstream's Access-Accept/Reject/Challenge without a Message-Authenticator
   * (BlastRADIUS, CVE-2024-3596). FreeRADIUS before 3.2.5 (Debian 12 ships 3.2.1) never sends one:
   * set false for it, and only for it.
   */
  requireMessageAuthenticator: z
    .boolean({ error: (issue) => `expected true or false, found ${found(issue.input)}` })
    .default(true),
  /** For logs and counters instead of address:port. */
  name: z
    .string({ error: (issue) => `expected a name as a string, found ${found(issue.input)}` })
    .min(1, { error: "expected a non-empty name, found an empty string" })
    .optional(),
});

export const authenticationSchema = z.strictObject({
  /** Where NASes send their Access-Requests. */
  listen: hostPort.prefault("127.0.0.1:1812"),
  /** Tried in this order; the next one after `retries` retransmissions without an answer. */
  upstreams: z
    .array(upstreamSchema, { error: (issue) => `expected a list of upstream RADIUS servers, found ${found(issue.input)}` })
    .min(1, { error: "expected at least one upstream RADIUS server, found none" }),
  /** Wait for an upstream's answer before retransmitting (RFC 5080 §2.2.1). */
  timeoutMs: integer(100, 60_000, "a timeout in milliseconds").default(3000),
  /** Retransmissions to one upstream before failing over to the next. */
  retries: integer(0, 10, "a number of retransmissions").default(2),
  /**
   * How long an intercept armed by an Access-Accept waits for its subscriber session to show up in
   * accounting when the Accept alone cannot start it (no address or no Acct-Session-Id).
   */
  armTimeoutSeconds: integer(1, 86_400, "a number of seconds").default(120),
});

export type AuthenticationConfig = z.output<typeof authenticationSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
