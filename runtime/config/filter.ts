/**
 * The `filter:` section of the configuration file: which built-in filter the data plane starts with,
 * and a directory whose .wasm files are deployed as they appear (docs/filters.md "Deploying").
 *
 * ```yaml
 * filter:
 *   module: jmirror-l2          # jmirror (default): L3 packets; jmirror-l2: with their Ethernet header
 *   directory: /etc/iapd/filters
 * ```
 */
import { z } from "zod";
import { BUILTIN_FILTERS, type BuiltinFilterName } from "../filter/registry.ts";

const names = Object.keys(BUILTIN_FILTERS) as [BuiltinFilterName, ...BuiltinFilterName[]];

export const filterSchema = z.strictObject({
  module: z.enum(names, { error: (issue) => `expected a built-in filter (${names.join(", ")}), found ${JSON.stringify(issue.input)}` }).default("jmirror"),
  directory: z.string({ error: "expected a directory path" }).min(1, { error: "expected a directory path" }).optional(),
});

export type FilterConfig = z.output<typeof filterSchema>;
