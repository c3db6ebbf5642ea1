/**
 * The `radius:` section: which RADIUS clients (NASes, RADIUS servers sending CoA) iapd talks to, and
 * where its accounting and dynamic-authorization listeners bind (see docs/configuration.md).
 *
 * ```yaml
 * radius:
 *   clients:
 *     - { address: 192.0.2.0/24, secret: s3cret, name: bng-1 }
 *   dynamicAuthorization: { listen: "[::1]:3799" }
 * ```
 */
import { z } from "zod";
import { parsePrefix, type HostPort, type Prefix } from "../net/address.ts";
import { hostPort, integer, parsed } from "./fields.ts";
import { authenticationSchema } from "./radius-proxy.ts";

/** A client's source address or network: "192.0.2.7", "192.0.2.0/24", "2001:db8::/64". */
const clientAddress = z
  .string({ error: "expected an IP address or CIDR prefix such as 192.0.2.7 or 192.0.2.0/24" })
  .transform(parsed((s): Prefix => parsePrefix(s)));

/** Where a listener binds. */
export type ListenAddress = HostPort;


export const radiusClientSchema = z.strictObject({
  /** Source address or network of the client's packets; the longest matching entry wins. */
  address: clientAddress,
  secret: z.string({ error: "expected the shared secret as a string" }).min(1, { error: "expected a non-empty shared secret" }),
  /** BlastRADIUS (CVE-2024-3596): drop packets without Message-Authenticator. Only for legacy clients set false. */
  requireMessageAuthenticator: z.boolean({ error: "expected true or false" }).default(true),
  /** For logs and counters instead of the address. */
  name: z.string({ error: "expected a name as a string" }).optional(),
});

const listener = (defaultListen: string) => z.strictObject({ listen: hostPort.prefault(defaultListen) }).prefault({});

export const radiusSchema = z.strictObject({
  clients: z.array(radiusClientSchema, { error: "expected a list of RADIUS clients" }).default([]),
  /** RFC 2866 accounting: subscriber sessions. */
  accounting: listener("127.0.0.1:1813"),
  /** RFC 5176 dynamic authorization server: CoA-Request and Disconnect-Request. */
  dynamicAuthorization: listener("127.0.0.1:3799"),
  /** Authentication proxy to the upstream RADIUS servers (radius-proxy.ts); absent: none runs. */
  authentication: authenticationSchema.optional(),
  /** How long a request's response is kept to answer its retransmissions (RFC 5080 §2.2.2). */
  duplicateCacheSeconds: integer(0, 3600, "a number of seconds").default(30),
  /** Requests whose Event-Timestamp is further than this from now are discarded (RFC 5176 §3.4); 0 disables. */
  eventTimestampWindowSeconds: integer(0, 86400, "a number of seconds").default(300),
  limits: z
    .strictObject({
      /** Concurrent mirror sessions; beyond it new ones are refused with CoA-NAK 506. */
      maxMirrors: integer(1, 100_000_000, "a mirror session limit").default(65536),
    })
    .prefault({}),
});

export type RadiusConfig = z.output<typeof radiusSchema>;
export type RadiusClientConfig = z.output<typeof radiusClientSchema>;
