/**
 * What the API is built from, and the per-request variables its middleware sets. Every route file
 * receives the same `ApiDeps`; the session store is the only source of truth for sessions, mirror
 * sessions and triggers.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { ApiConfig } from "../runtime/config/api.ts";
import type { AuditSink } from "../runtime/audit/log.ts";
import type { DataPlaneCounters } from "../runtime/dataplane/counters.ts";
import type { SessionStore } from "../runtime/sessions/store.ts";
import type { TunnelRegistry } from "../runtime/sessions/tunnels.ts";
import type { Principal } from "./auth/tokens.ts";
import { invalid, zodProblems } from "./problem.ts";
import type { FiltersProvider, MirrorCountersProvider } from "./providers.ts";

export interface ApiDeps {
  store: SessionStore;
  tunnels: TunnelRegistry;
  /** Only `tokens` is read here; `listen` and `tls` belong to the server adapters. */
  config: Pick<ApiConfig, "tokens">;
  audit: AuditSink;
  /** Milliseconds since the epoch; the store's `now`. */
  clock: () => number;
  filters: FiltersProvider;
  counters: MirrorCountersProvider;
  /** The data plane's aggregate counters (synchronous cache); absent or undefined: no data plane (yet). */
  dataPlane?: () => DataPlaneCounters | undefined;
  /** Ready once state is restored and mirroring resumed; absent = always. */
  ready?: () => boolean;
  /** Resolves once the store's changes are durable (runtime/state); absent = nothing to wait for. */
  commit?: () => Promise<void>;
}

export interface ApiEnv {
  Variables: { principal: Principal };
}

/** A router whose request validation failures answer with problem+json naming each field. */
export function router(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) return invalid(zodProblems(result.error, result.target === "json" ? "body" : result.target === "param" ? "path" : result.target));
    },
  });
}
