/**
 * The live data plane's sections of the configuration file: where to capture, how to send, and the
 * tunnel pool (docs/dataplane.md).
 *
 * ```yaml
 * capture:
 *   interfaces:
 *     - { name: eth1, workers: 2 }
 *   retireTimeoutMs: 2
 * egress: { mode: raw }            # raw | packet | udp | pcap
 * tunnels:
 *   - { name: md1, sourceAddress: 192.0.2.1, interface: eth2, dscp: 46 }
 * ```
 */
import { z } from "zod";
import { parseIPv4 } from "../net/address.ts";
import { INTERFACE_NAME, TUNNEL_NAME } from "../sessions/tunnels.ts";

const found = (what: string) => (issue: { input?: unknown }) => `expected ${what}, found ${JSON.stringify(issue.input)}`;
const intIn = (min: number, max: number, what: string) => {
  const error = found(`${what} (an integer ${min}..${max})`);
  return z.int({ error }).min(min, { error }).max(max, { error });
};
const interfaceName = z.string({ error: found("an interface name") }).regex(INTERFACE_NAME, { error: found("a Linux interface name (1-15 characters, no '/', ':' or spaces)") });
const ipv4 = z.string({ error: found("an IPv4 address such as 192.0.2.1") }).refine((s) => parseIPv4(s) !== null, { error: found("an IPv4 address such as 192.0.2.1") });

export const captureInterfaceSchema = z.strictObject({
  name: interfaceName,
  /** Worker threads (one TPACKET_V3 ring each, joined by PACKET_FANOUT when more than one). */
  workers: intIn(1, 64, "a worker count").default(1),
  /** PACKET_MR_PROMISC while capturing: a SPAN or TAP port needs it. */
  promiscuous: z.boolean({ error: found("true or false") }).default(true),
  /**
   * Skip what this host sends on the interface (PACKET_IGNORE_OUTGOING). Set false when iapd runs on
   * the router itself and the subscribers' downstream traffic leaves through this interface.
   */
  ignoreOutgoing: z.boolean({ error: found("true or false") }).default(true),
});

export const captureSchema = z.strictObject({
  interfaces: z.array(captureInterfaceSchema, { error: found("a list of interfaces") }).min(1, { error: "expected at least one capture interface" }),
  /** Bytes per ring block, a multiple of 4096. */
  blockSize: intIn(4096, 1 << 30, "a block size").refine((n) => n % 4096 === 0, { error: found("a multiple of 4096") }).default(1 << 18),
  /**
   * Blocks in the ring. At low rates every block is retired after `retireTimeoutMs` however empty,
   * so blockCount x retireTimeoutMs is how long a stalled worker can fall behind without drops.
   */
  blockCount: intIn(2, 65536, "a block count").default(128),
  /** A partly filled block is handed over after this long: the mirroring latency floor at low rates. */
  retireTimeoutMs: intIn(1, 1000, "a timeout in ms").default(4),
});

export const egressSchema = z.discriminatedUnion(
  "mode",
  [
    z.strictObject({ mode: z.literal("raw") }),
    z.strictObject({
      mode: z.literal("packet"),
      interface: interfaceName,
      /** MAC address of the next hop on that interface. */
      nextHop: z.string({ error: found("a MAC address") }).regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, { error: found("a MAC address such as 02:00:5e:00:53:01") }),
    }),
    z.strictObject({ mode: z.literal("udp") }),
    z.strictObject({ mode: z.literal("pcap"), path: z.string({ error: found("a file path") }).min(1) }),
  ],
  { error: found('an egress mode: "raw", "packet", "udp" or "pcap"') },
);

export const tunnelConfigSchema = z.strictObject({
  name: z.string({ error: found("a tunnel name") }).regex(TUNNEL_NAME, { error: found("a tunnel name (1-32 letters, digits, '.', '_' or '-')") }),
  sourceAddress: ipv4,
  interface: interfaceName.optional(),
  dscp: intIn(0, 63, "a DSCP value").optional(),
});

/** Spread into the top-level schema: `capture` absent means no live data plane. */
export const dataPlaneSections = {
  capture: captureSchema.optional(),
  egress: egressSchema.default({ mode: "raw" }),
  tunnels: z.array(tunnelConfigSchema, { error: found("a list of tunnels") }).default([]),
};

export type CaptureConfig = z.output<typeof captureSchema>;
export type EgressConfig = z.output<typeof egressSchema>;
export type TunnelConfig = z.output<typeof tunnelConfigSchema>;
