/**
 * Mirror sessions started, ended or refused by the session store, as audit records: this is how
 * LI actions from RADIUS (Access-Accept arming, CoA, Disconnect, logout), triggers and timeouts reach
 * the audit log. The API records its own requests with the token's name; the store's record of the
 * same change adds what the store did.
 *
 * ```ts
 * store.onEvent = auditStoreEvents(audit);
 * ```
 *
 * The records are appended (`AuditSink.append`, when the sink has it): the request that caused
 * the change answers after its commit, which makes them durable with the journal's records.
 */
import type { EndReason, MirrorOrigin, StoreEvent } from "../sessions/store.ts";
import type { AuditSink } from "./log.ts";

function startedBy(origin: MirrorOrigin): string {
  switch (origin.kind) {
    case "access-accept":
      return "radius:access-accept";
    case "coa":
      return "radius:coa";
    case "trigger":
      return `trigger:${origin.triggerId}`;
    case "api":
      return "api";
  }
}

const ENDED_BY: Record<EndReason, string> = {
  "coa-stop": "radius:coa",
  disconnect: "radius:disconnect",
  logout: "radius:accounting",
  "nas-reboot": "radius:accounting",
  "idle-timeout": "iapd:idle-timeout",
  "trigger-removed": "trigger",
  terminated: "iapd",
};

export function auditStoreEvents(audit: AuditSink): (event: StoreEvent) => void {
  const add = audit.append ? audit.append.bind(audit) : audit.record.bind(audit);
  return (event) => {
    if (event.type === "mirror-refused") {
      add({
        actor: "iapd",
        action: "mirror.start",
        object: `session:${event.subscriber}`,
        outcome: event.reason,
        detail: { interceptId: event.spec.interceptId },
      });
      return;
    }
    const m = event.mirror;
    const detail = { interceptId: m.interceptId, sessionId: m.sessionId, mediation: `${m.mediation.address}:${m.mediation.port}`, subscriber: m.subscriber };
    if (event.type === "mirror-started") {
      add({ actor: startedBy(m.origin), action: "mirror.start", object: `mirror:${m.id}`, outcome: "ok", detail });
    } else {
      add({ actor: ENDED_BY[event.reason], action: "mirror.end", object: `mirror:${m.id}`, outcome: "ok", detail: { ...detail, reason: event.reason } });
    }
  };
}
