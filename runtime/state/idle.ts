/**
 * Idle timeout: subscriber sessions that no accounting packet refreshed for `idleTimeoutSeconds`
 * end ("idle-timeout"), with their mirror sessions. This reconciles an Accounting-Stop that never
 * arrived, e.g. because iapd was down when the NAS sent it (RFC 2866 gives the NAS up to its retry
 * budget, then the Stop is gone).
 *
 * Time iapd was down does not count: sweeping starts once iapd has itself been up for one idle
 * timeout, so a session whose Interim-Updates resume after a restart is never ended for the gap.
 *
 * ```ts
 * const sweep = startIdleSweep({ store, idleTimeoutSeconds: 1800, commit: () => state.commit() });
 * sweep.stop();
 * ```
 */
import type { SessionStore } from "../sessions/store.ts";

export interface IdleSweepOptions {
  store: SessionStore;
  /** 0: never. */
  idleTimeoutSeconds: number;
  commit: () => Promise<void>;
  clock?: () => number;
  log?: (line: string) => void;
}

export function startIdleSweep(options: IdleSweepOptions): { stop(): void } {
  const { store, idleTimeoutSeconds, commit } = options;
  if (idleTimeoutSeconds === 0) return { stop() {} };
  const clock = options.clock ?? Date.now;
  const idleMs = idleTimeoutSeconds * 1000;
  const startedAt = clock();
  const sweep = () => {
    const now = clock();
    if (now - startedAt < idleMs) return;
    const ended = store.expireIdle(idleMs, now);
    if (ended === 0) return;
    options.log?.(`idle timeout: ended ${ended} subscriber session(s) not refreshed for ${idleTimeoutSeconds} s`);
    commit().catch((e: Error) => options.log?.(`idle timeout: ${e.message}`));
  };
  const timer = setInterval(sweep, Math.min(Math.max(idleMs / 4, 1000), 60_000));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
