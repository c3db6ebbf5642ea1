/**
 * Aggregate counters (every role). Counts that move when someone is intercepted (mirror sessions,
 * triggers, refused mirrors) are li-admin only: an operator who sees sessions log in could match a
 * mirror count that rises at the same moment to the subscriber. For the same reason the data
 * plane's `mirroring` counters (matched frames, copies, mirrored packets) are li-admin only; its
 * capture and parsing counters (every frame on the capture interfaces, intercepted or not) are not.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { allow } from "../auth/middleware.ts";
import { roleAtLeast } from "../auth/tokens.ts";
import { router, type ApiDeps } from "../env.ts";
import { problems, security } from "./problems.ts";
import { MALFORMED_REASONS } from "../../runtime/filter/types.ts";
import { MIRROR_DROP_REASONS } from "../../runtime/dataplane/messages.ts";

const count = z.number().int().nonnegative();
const byReason = (reasons: readonly string[]) => z.object(Object.fromEntries(reasons.map((r) => [r, count])));

const dataPlaneSchema = z
  .object({
    source: z.enum(["live", "demo"]).meta({ description: "live: capture workers; demo: the bundled capture replayed into a pcap file" }),
    interfaces: z
      .array(z.object({ interface: z.string(), workers: count, received: count, kernelDrops: count, freezes: count }))
      .meta({ description: "per capture interface: frames that reached its capture sockets (kernel drops included), dropped by the kernel (ring full), ring freezes (PACKET_STATISTICS)" }),
    frames: count.meta({ description: "frames the filter consumed: each is parsed or malformed with one reason" }),
    parsed: count,
    malformed: byReason(Object.keys(MALFORMED_REASONS)),
    lostFrames: count.meta({ description: "frames lost with a filter call that never returned" }),
    workerRestarts: count,
    filter: z.object({ name: z.string(), version: z.string(), abiVersion: count, sha256: z.string() }).optional(),
    mirroring: z
      .object({ matched: count, copies: count, packets: count, bytes: count, drops: byReason(MIRROR_DROP_REASONS) })
      .optional()
      .meta({ description: "li-admin only: matched frames, copies made, outer packets and bytes sent to mediation devices, copies dropped by reason" }),
  })
  .meta({ description: "The data plane's counters since it started, from the cache its workers refresh every 250 ms; absent before it runs" });

const statsSchema = z.object({
  subscriberSessions: z.int(),
  tunnels: z.int(),
  ready: z.boolean(),
  mirrorSessions: z.int().optional().meta({ description: "li-admin only" }),
  triggers: z.int().optional().meta({ description: "li-admin only" }),
  mirrorsRefused: z.int().optional().meta({ description: "li-admin only: refused at the mirror session limit" }),
  dataPlane: dataPlaneSchema.optional(),
});

export function statsRoutes(deps: ApiDeps) {
  const app = router();
  app.openapi(
    createRoute({
      method: "get",
      path: "/stats",
      summary: "Aggregate counters",
      security,
      middleware: [allow("viewer")] as const,
      responses: { 200: { description: "aggregates", content: { "application/json": { schema: statsSchema } } }, ...problems([401]) },
    }),
    (c) => {
      const { store } = deps;
      const stats: z.output<typeof statsSchema> = { subscriberSessions: store.sessionCount, tunnels: deps.tunnels.size, ready: deps.ready?.() ?? true };
      const liAdmin = roleAtLeast(c.get("principal").role, "li-admin");
      const plane = deps.dataPlane?.();
      if (plane) {
        const { mirroring, filter, ...rest } = plane;
        stats.dataPlane = { ...rest, ...(filter ? { filter } : {}), ...(liAdmin ? { mirroring } : {}) };
      }
      if (liAdmin) {
        stats.mirrorSessions = store.mirrorCount;
        stats.triggers = [...store.allTriggers()].length;
        stats.mirrorsRefused = store.refused;
      }
      return c.json(stats, 200);
    },
  );
  return app;
}
