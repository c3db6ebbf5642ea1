/**
 * The one privilege the data plane needs: CAP_NET_RAW, for AF_PACKET capture sockets and raw IPv4
 * egress. Checked up front so the operator reads which capability is missing instead of an EPERM.
 */
import { readFileSync } from "node:fs";
import { CAP_NET_RAW } from "../ffi/linux.ts";

export class CapabilityError extends Error {
  override name = "CapabilityError";
}

/** The effective capability set of this process, from /proc/self/status. */
export function effectiveCapabilities(): bigint {
  const status = readFileSync("/proc/self/status", "utf8");
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

/** Throws CapabilityError naming CAP_NET_RAW when this process does not have it. */
export function requireNetRaw(what: string): void {
  if ((effectiveCapabilities() >> BigInt(CAP_NET_RAW)) & 1n) return;
  throw new CapabilityError(
    `${what} needs CAP_NET_RAW, which this process does not have: run iapd as root, or grant the capability ` +
      "(systemd AmbientCapabilities=CAP_NET_RAW, or setcap cap_net_raw+ep on the binary); " +
      'egress "udp" and "pcap" work without it, capture does not',
  );
}
