/**
 * `/metrics` in the Prometheus text exposition format (viewer and up). No label and no series
 * tells anything about intercepts: API requests are counted by route template, never by path, and
 * mirror session or trigger counts are not exported (see routes/stats.ts for why). The data plane's
 * counters are labelled by capture interface and by reason only; those that move when someone is
 * intercepted (matched frames, copies, mirrored packets and bytes, mirror drops) are in the answer
 * only for an li-admin token (docs/api.md "Metrics").
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { allow } from "../auth/middleware.ts";
import { roleAtLeast } from "../auth/tokens.ts";
import type { DataPlaneCounters } from "../../runtime/dataplane/counters.ts";
import { router, type ApiDeps } from "../env.ts";
import { problems, security } from "./problems.ts";

export class RequestCounts {
  private counts = new Map<string, number>();

  /** The label set of each (method, route, status) seen, so that a request builds no string. */
  private keys = new Map<string, Map<string, Map<number, string>>>();

  add(method: string, route: string, status: number): void {
    let byRoute = this.keys.get(method);
    if (!byRoute) this.keys.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let key = byStatus.get(status);
    if (key === undefined) byStatus.set(status, (key = `method="${method}",route="${route.replace(/["\\\n]/g, "_")}",code="${status}"`));
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  lines(): string[] {
    return [...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([labels, n]) => `iapd_api_requests_total{${labels}} ${n}`);
  }
}

/** A label value in the exposition format: backslash, double quote and newline escaped. */
const label = (v: string) => v.replace(/[\\"\n]/g, (ch) => (ch === "\n" ? "\\n" : `\\${ch}`));

function family(lines: string[], name: string, type: "counter" | "gauge", help: string, samples: [labels: string, value: number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) lines.push(`${name}${labels ? `{${labels}}` : ""} ${value}`);
}

/**
 * The data plane's series (none before it runs). Labels: capture interface, reason, the filter's
 * identity; never an intercept, mirror session, target or address. `mirroring`: the series that
 * move with interception (li-admin only).
 */
export function dataPlaneLines(c: DataPlaneCounters | undefined, mirroring: boolean): string[] {
  if (!c) return [];
  const lines: string[] = [];
  family(lines, "iapd_dataplane_info", "gauge", "The data plane running: live (capture workers) or demo (the bundled capture replayed).", [[`source="${c.source}"`, 1]]);
  if (c.filter) {
    const f = c.filter;
    family(lines, "iapd_filter_info", "gauge", "The filter the data plane runs: name, version, ABI version and SHA-256 of its module.", [
      [`name="${label(f.name)}",version="${label(f.version)}",abi="${f.abiVersion}",sha256="${label(f.sha256)}"`, 1],
    ]);
  }
  const byInterface = (pick: (i: DataPlaneCounters["interfaces"][number]) => number) => c.interfaces.map((i): [string, number] => [`interface="${label(i.interface)}"`, pick(i)]);
  family(lines, "iapd_capture_workers", "gauge", "Capture workers (rings) per capture interface.", byInterface((i) => i.workers));
  family(lines, "iapd_capture_received_total", "counter", "Frames that reached the capture sockets, kernel drops included (PACKET_STATISTICS tp_packets).", byInterface((i) => i.received));
  family(lines, "iapd_capture_kernel_drops_total", "counter", "Frames the kernel dropped because a capture ring was full (PACKET_STATISTICS tp_drops).", byInterface((i) => i.kernelDrops));
  family(lines, "iapd_capture_ring_freezes_total", "counter", "Times a capture ring was frozen full (PACKET_STATISTICS tp_freeze_q_cnt).", byInterface((i) => i.freezes));
  family(lines, "iapd_frames_total", "counter", "Frames the filter consumed: each is parsed or malformed with one reason.", [["", c.frames]]);
  family(lines, "iapd_frames_parsed_total", "counter", "Frames whose L3 header was readable and consistent.", [["", c.parsed]]);
  family(lines, "iapd_frames_malformed_total", "counter", "Frames not parsed, by reason (docs/filter-abi.md Counters).", Object.entries(c.malformed).map(([r, n]): [string, number] => [`reason="${r}"`, n]));
  family(lines, "iapd_frames_lost_total", "counter", "Frames lost with a filter call that never returned (its worker was replaced).", [["", c.lostFrames]]);
  family(lines, "iapd_worker_restarts_total", "counter", "Capture workers restarted (failed or stuck).", [["", c.workerRestarts]]);
  if (mirroring) {
    const m = c.mirroring;
    family(lines, "iapd_frames_matched_total", "counter", "Parsed frames that matched at least one target (li-admin only).", [["", m.matched]]);
    family(lines, "iapd_mirror_copies_total", "counter", "Copies the filter made, one per intercept per frame (li-admin only).", [["", m.copies]]);
    family(lines, "iapd_mirrored_packets_total", "counter", "Outer packets sent to mediation devices, fragments one each (li-admin only).", [["", m.packets]]);
    family(lines, "iapd_mirrored_bytes_total", "counter", "Bytes of those outer IPv4 packets (li-admin only).", [["", m.bytes]]);
    family(lines, "iapd_mirror_drops_total", "counter", "Copies that did not reach the wire, by reason: the filter's, then the egress's (li-admin only).", Object.entries(m.drops).map(([r, n]): [string, number] => [`reason="${r}"`, n]));
  }
  return lines;
}

export function metricsRoutes(deps: ApiDeps, requests: RequestCounts) {
  const app = router();
  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      summary: "Prometheus metrics",
      security,
      middleware: [allow("viewer")] as const,
      responses: { 200: { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } }, ...problems([401]) },
    }),
    (c) => {
    const body = [
      "# HELP iapd_subscriber_sessions Subscriber sessions known from RADIUS accounting.",
      "# TYPE iapd_subscriber_sessions gauge",
      `iapd_subscriber_sessions ${deps.store.sessionCount}`,
      "# HELP iapd_tunnels Tunnels in the registry.",
      "# TYPE iapd_tunnels gauge",
      `iapd_tunnels ${deps.tunnels.size}`,
      "# HELP iapd_ready 1 once state is restored and mirroring resumed.",
      "# TYPE iapd_ready gauge",
      `iapd_ready ${(deps.ready?.() ?? true) ? 1 : 0}`,
      "# HELP iapd_api_requests_total API requests by method, route template and status code.",
      "# TYPE iapd_api_requests_total counter",
      ...requests.lines(),
      ...dataPlaneLines(deps.dataPlane?.(), roleAtLeast(c.get("principal").role, "li-admin")),
      "",
    ].join("\n");
    return c.text(body, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    },
  );
  return app;
}
