/**
 * `/metrics` in the Prometheus text exposition format (viewer and up). No label and no series
 * tells anything about intercepts: API requests are counted by route template, never by path, and
 * mirror session or trigger counts are not exported (see routes/stats.ts for why).
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { allow } from "../auth/middleware.ts";
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
      "",
    ].join("\n");
    return c.text(body, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    },
  );
  return app;
}
