/**
 * What a snapshot costs the main thread, per session (docs/benchmarks.md, RADIUS control plane,
 * fifth session): `--sessions` subscriber sessions with the accounting benchmark's attributes in
 * a SessionStore, then `--rounds` times captureSnapshot (the copy taken in one tick) and the
 * encoding of every session record (runtime/state/snapshot.ts; written to no file), in CPU time.
 *
 *   node --import tsx scripts/bench/snapshot-write.ts [--sessions 100000] [--rounds 5]
 *
 * Before/after on this noisy machine: scripts/bench/side-by-side.ts runs it from two checkouts at once.
 */
import { parseArgs } from "node:util";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";
import { captureSnapshot, encodeSessions } from "../../runtime/state/snapshot.ts";
import { sessionAttributes } from "./subscribers.ts";

const { values } = parseArgs({ options: { sessions: { type: "string", default: "100000" }, rounds: { type: "string", default: "5" } } });
const N = Number(values.sessions);
const ROUNDS = Number(values.rounds);
/** Sessions per binary record, as snapshot.ts writes them. */
const CHUNK = 16_384;

const store = new SessionStore();
for (let i = 0; i < N; i++) store.upsertSession(sessionAttributes(i), 1_763_804_400_000 + i, { addressesDecoded: true });
/** CPU time of the process (all threads: the collector's helpers included), in µs: not wall time, which a shared core inflates. */
const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
const captures: number[] = [];
const encodings: number[] = [];
let bytes = 0;
for (let round = 0; round < ROUNDS; round++) {
  let started = cpuMicros();
  const content = captureSnapshot(store, new TunnelRegistry(), { generation: 2, lastSeq: 1 });
  captures.push((cpuMicros() - started) / N);
  started = cpuMicros();
  bytes = 0;
  for (let i = 0; i < N; i += CHUNK) bytes += encodeSessions(content.state.sessions.slice(i, i + CHUNK)).length;
  encodings.push((cpuMicros() - started) / N);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log(`${N} sessions, ${(bytes / 2 ** 20).toFixed(1)} MiB of session records, median of ${ROUNDS}:`);
console.log(`capture ${median(captures).toFixed(2)} µs/session`);
console.log(`encode ${median(encodings).toFixed(2)} µs/session`);
