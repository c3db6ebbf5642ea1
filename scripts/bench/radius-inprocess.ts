/**
 * The accounting path in one process, without the load generator or the receive syscall
 * (docs/benchmarks.md, RADIUS control plane): pre-built Accounting-Requests are fed to the accounting
 * RadiusServer's receive path in batches of 128 per event-loop turn, the handler is the one
 * `iapd run` uses, and the replies go out through the server's socket to a port that discards
 * them. Durable state (journal with group commit) as in `iapd run`, or `--memory` for the store
 * alone. Prints process CPU (all threads) per request for each phase.
 *
 *   node --import tsx scripts/bench/radius-inprocess.ts [--requests 20000] [--memory] [--profile Interim-Update] [--allocations Start]
 *
 * `--batch N`: datagrams per event-loop turn (default 128).
 * `--warmup N`: other subscribers' Start, Interim-Update and Stop before the measured phases
 * (default 20000, as bench-radius.ts), so that Start is not measured while V8 still compiles.
 * `--profile PHASE` writes a V8 CPU profile of that phase alone to radius-PHASE.cpuprofile.
 * `--allocations PHASE` writes a sampling heap profile of everything that phase allocates, garbage
 * included, to radius-PHASE.heapprofile (what a request leaves to the young-generation GC).
 */
import { createSocket } from "node:dgram";
import { Session } from "node:inspector/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parsePrefix } from "../../runtime/net/address.ts";
import { accountingService } from "../../runtime/radius/accounting.ts";
import { Code } from "../../runtime/radius/codes.ts";
import { encodePacket } from "../../runtime/radius/message.ts";
import { RadiusServer } from "../../runtime/radius/server.ts";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { accountingAttributes, type AccountingStatus } from "./subscribers.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "20000" },
    memory: { type: "boolean", default: false },
    profile: { type: "string" },
    allocations: { type: "string" },
    batch: { type: "string", default: "128" },
    warmup: { type: "string", default: "20000" },
  },
});
const N = Number(values.requests);
/** Other subscribers' Start, Interim-Update and Stop first, unmeasured, as bench-radius.ts does: the phases then measure compiled code. */
const WARMUP = Number(values.warmup);
const SECRET = "bench-radius-secret";
/** Datagrams handed to the server per event-loop turn (--batch; `iapd run` sees fewer per turn under a closed-loop load). */
const WINDOW = Number(values.batch);
const dir = mkdtempSync(join(tmpdir(), "iapd-radius-inprocess-"));
const state = values.memory ? undefined : await DurableState.open({ directory: dir, snapshotEveryRecords: 100_000, store: { maxMirrors: 65536 } });
const store = state?.store ?? new SessionStore();
const service = accountingService(store, { commit: state ? () => state.commit() : undefined });
const server = await RadiusServer.listen({
  service: "accounting",
  listen: { address: "127.0.0.1", family: 4, port: 0 },
  clients: [{ prefix: parsePrefix("127.0.0.1/32"), secret: SECRET, requireMessageAuthenticator: true }],
  accepts: [Code.AccountingRequest],
  handler: service.handle,
  messageAuthenticatorInReplies: false,
});
const sink = createSocket("udp4");
await new Promise<void>((ready) => sink.bind(0, "127.0.0.1", () => ready()));
sink.on("message", () => {});
const from = { address: "127.0.0.1", family: "IPv4", port: sink.address().port, size: 0 };
// The private receive path: what the socket's "message" event calls.
const receive = (server as unknown as { receive(d: Buffer, f: typeof from): void }).receive.bind(server);
const inFlight = () => (server as unknown as { inFlight: number }).inFlight;
const inspector = new Session();
inspector.connect();

const datagramsOf = (status: AccountingStatus, first: number, count: number) =>
  Array.from({ length: count }, (_, i) =>
    Buffer.from(encodePacket({ code: Code.AccountingRequest, identifier: i & 255, attributes: accountingAttributes(first + i, status) }, SECRET, { messageAuthenticator: true }).bytes),
  );
/** Hands `datagrams` to the server, WINDOW per event-loop turn, and waits until all are answered. */
async function feed(datagrams: Buffer[]): Promise<void> {
  for (let i = 0; i < datagrams.length; i += WINDOW) {
    for (let j = i; j < Math.min(i + WINDOW, datagrams.length); j++) receive(datagrams[j], from);
    await new Promise((turn) => setImmediate(turn));
  }
  while (inFlight() > 0) await new Promise((turn) => setImmediate(turn));
}

if (WARMUP > 0) for (const status of ["Start", "Interim-Update", "Stop"] as AccountingStatus[]) await feed(datagramsOf(status, N, WARMUP));

for (const status of ["Start", "Interim-Update", "Stop"] as AccountingStatus[]) {
  const datagrams = datagramsOf(status, 0, N);
  if (values.profile === status) {
    await inspector.post("Profiler.enable");
    await inspector.post("Profiler.start");
  }
  if (values.allocations === status) {
    await inspector.post("HeapProfiler.enable");
    await inspector.post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  const wall = performance.now();
  const cpu = process.cpuUsage();
  await feed(datagrams);
  const used = process.cpuUsage(cpu);
  const elapsed = performance.now() - wall;
  if (values.profile === status) {
    const { profile } = await inspector.post("Profiler.stop");
    writeFileSync(`radius-${status}.cpuprofile`, JSON.stringify(profile));
  }
  if (values.allocations === status) {
    const { profile } = await inspector.post("HeapProfiler.stopSampling");
    writeFileSync(`radius-${status}.heapprofile`, JSON.stringify(profile));
  }
  console.log(`${status.padEnd(15)} ${((used.user + used.system) / N).toFixed(1)} µs CPU/request (process), ${((elapsed * 1000) / N).toFixed(1)} µs wall/request`);
}
const c = server.counters;
console.log(`handled ${c.handled} (warm-up included), replies ${JSON.stringify(c.replies)}, dropped ${JSON.stringify(c.dropped)}, ${state ? "durable state" : "memory only"}`);
await server.close();
sink.close();
await state?.close();
rmSync(dir, { recursive: true, force: true });
