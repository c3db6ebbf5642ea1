/**
 * The `state:` section: where durable state lives and how it is kept (docs/state.md).
 *
 * ```yaml
 * state:
 *   directory: /var/lib/iapd
 *   snapshotEveryRecords: 100000
 *   idleTimeoutSeconds: 1800   # 3 x the NAS's Acct-Interim-Interval
 * ```
 */
import { z } from "zod";
import { found, integer } from "./fields.ts";

export const stateSchema = z.strictObject({
  /** Journal, snapshots, audit log, first-run API token. Absent: $STATE_DIRECTORY (systemd), else ./var. */
  directory: z.string({ error: (issue) => `expected a directory path, found ${found(issue.input)}` }).min(1, { error: "expected a directory path, found \"\"" }).optional(),
  /** A snapshot and a new journal generation once the journal holds this many records. */
  snapshotEveryRecords: integer(100, 100_000_000, "a number of journal records").default(100_000),
  /**
   * Subscriber sessions (and their mirror sessions) not refreshed by accounting for this long end
   * ("idle-timeout"): this is how an Accounting-Stop lost while iapd was down is reconciled. Set it
   * above the NAS's Acct-Interim-Interval (3x is usual); 0 = never (a NAS that sends no
   * Interim-Update would otherwise see every session end).
   */
  idleTimeoutSeconds: integer(0, 30 * 86400, "a number of seconds").default(0),
});

export type StateConfig = z.output<typeof stateSchema>;
