/**
 * Turns the configured intercepts into the data plane's target table: one entry per (intercept,
 * target prefix), slots assigned in file order.
 */
import { DSCP_INHERIT, type FilterConfig, type Target } from "../filter/types.ts";
import { ipv4ToU32 } from "../net/address.ts";
import type { Config, Dscp } from "./schema.ts";

export function dscpCode(d: Dscp | undefined): number {
  return d === undefined || d === "inherit" ? DSCP_INHERIT : d;
}

/** Filter settings for a capture of `linkType` under this configuration's node section. */
export function filterConfig(config: Config, linkType: number): FilterConfig {
  return {
    linkType,
    sourceAddress: ipv4ToU32(config.node.sourceAddress),
    mtu: config.node.mtu,
    dscp: config.node.dscp === "inherit" ? DSCP_INHERIT : config.node.dscp,
  };
}

export interface ConfiguredTarget extends Target {
  /** Index of the intercept in `config.intercepts`. */
  intercept: number;
}

export function targetsFromConfig(config: Config): ConfiguredTarget[] {
  const out: ConfiguredTarget[] = [];
  config.intercepts.forEach((ic, intercept) => {
    for (const prefix of ic.targets) {
      out.push({
        slot: out.length,
        intercept,
        family: prefix.family,
        address: prefix.bytes,
        prefixLength: prefix.length,
        interceptId: ic.interceptId,
        sessionId: ic.sessionId,
        mediationAddress: ipv4ToU32(ic.mediation.address),
        mediationPort: ic.mediation.port,
        sourceAddress: 0,
        tunnel: 0,
        dscp: dscpCode(ic.dscp),
      });
    }
  });
  return out;
}
