/**
 * The configuration file's schema (YAML, see docs/configuration.md). One zod schema both validates
 * and types the file; unknown keys are rejected so a typo never silently falls back to a default.
 */
import { z } from "zod";
import { integer, ipv4Address, parsed } from "./fields.ts";
import { parsePrefix, type Prefix } from "../net/address.ts";
import { apiSchema } from "./api.ts";
import { filterSchema } from "./filter.ts";
import { radiusSchema } from "./radius.ts";
import { stateSchema } from "./state.ts";
import { dataPlaneSections } from "./dataplane.ts";


/** DSCP 0..63, or "inherit" to copy the mirrored packet's DSCP bits. */
const dscpError = (issue: { input?: unknown }) => `expected a DSCP value 0..63 or "inherit", found ${JSON.stringify(issue.input)}`;
const dscp = z.union([z.literal("inherit"), z.int({ error: dscpError }).min(0, { error: dscpError }).max(63, { error: dscpError })], {
  error: dscpError,
});

const prefix = z
  .string({ error: "expected an address or prefix such as 100.64.0.1 or 2001:db8:100::/56" })
  .transform(parsed((s): Prefix => parsePrefix(s)))
  .refine((p) => p.family === 6 || p.length === 32, { error: (issue) => `IPv4 targets are single addresses (/32), found a /${(issue.input as Prefix).length}` });

export const mediationSchema = z.strictObject({
  /** Mediation device address (JMirror is carried over IPv4, spec/li-protocols.md §2.1). */
  address: ipv4Address,
  port: integer(1, 65535, "a UDP port"),
});

export const interceptSchema = z.strictObject({
  /** 30-bit intercept identifier carried in the mirror header (spec/li-protocols.md §2.2). */
  interceptId: integer(0, 0x3fffffff, "an intercept ID"),
  /** 32-bit session identifier carried in the mirror header. */
  sessionId: integer(0, 0xffffffff, "a session ID"),
  targets: z.array(prefix, { error: "expected a list of addresses or prefixes" }).min(1, { error: "expected at least one target" }),
  mediation: mediationSchema,
  dscp: dscp.optional(),
});

export const nodeSchema = z.strictObject({
  /** Source address of the outer IPv4 header (Junos radius-flow-tap source-ipv4-address). */
  sourceAddress: ipv4Address.default("192.0.2.1"),
  mtu: integer(68, 65535, "an MTU").default(1500),
  dscp: dscp.default("inherit"),
});

export const configSchema = z.strictObject({
  node: nodeSchema.default({ sourceAddress: "192.0.2.1", mtu: 1500, dscp: "inherit" }),
  intercepts: z.array(interceptSchema, { error: "expected a list of intercepts" }).default([]),
  radius: radiusSchema.prefault({}),
  api: apiSchema.prefault({}),
  state: stateSchema.prefault({}),
  filter: filterSchema.prefault({}),
  ...dataPlaneSections,
});

export type Config = z.output<typeof configSchema>;
export type InterceptConfig = z.output<typeof interceptSchema>;
export type Dscp = z.output<typeof dscp>;
