/**
 * Memory per subscriber session, run as its own process with --expose-gc by
 * scripts/bench-radius.ts: loads `count` sessions into a SessionStore with the attribute mix
 * accounting stores (scripts/bench/subscribers.ts), forces garbage collection before and after, and
 * prints one JSON line.
 *
 *   node --expose-gc --import tsx scripts/bench/radius-memory.ts 1000000
 *
 * Accounting decodes every value (and the NAS's source address) afresh from each datagram, so each
 * session holds its own flat strings; the template strings built here are copied the same way, or
 * V8's concatenation nodes would be counted and shared values counted once.
 */
import { SessionStore } from "../../runtime/sessions/store.ts";
import { sessionAttributes } from "./subscribers.ts";

export interface MemoryResult {
  readonly sessions: number;
  readonly loadSeconds: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly heapUsedBefore: number;
  readonly heapUsedAfter: number;
  /** (rssAfter - rssBefore) / sessions */
  readonly rssPerSession: number;
  readonly heapPerSession: number;
}

const count = Number(process.argv[2] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("run with node --expose-gc");
  process.exit(2);
}

gc();
const before = process.memoryUsage();
const store = new SessionStore();
const started = performance.now();
for (let i = 0; i < count; i++) {
  store.upsertSession(sessionAttributes(i), Date.now());
}
const loadSeconds = (performance.now() - started) / 1000;
gc();
gc();
const after = process.memoryUsage();
if (store.sessionCount !== count) throw new Error(`expected ${count} sessions, the store has ${store.sessionCount}`);
const result: MemoryResult = {
  sessions: count,
  loadSeconds,
  rssBefore: before.rss,
  rssAfter: after.rss,
  heapUsedBefore: before.heapUsed,
  heapUsedAfter: after.heapUsed,
  rssPerSession: (after.rss - before.rss) / count,
  heapPerSession: (after.heapUsed - before.heapUsed) / count,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
