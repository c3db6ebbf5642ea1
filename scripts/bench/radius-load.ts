/**
 * The RADIUS benchmark's load generator, run as its own process (pinned to its own CPU by
 * scripts/bench-radius.ts): pre-builds every request of every phase with iapd's encoder
 * (Message-Authenticator included), then sends each phase to a loopback port over one UDP socket
 * with a fixed window of outstanding requests, and prints one JSON line of results.
 *
 *   node --import tsx scripts/bench/radius-load.ts '<LoadPlan as JSON>'
 *
 * Request k of a phase carries Identifier k mod 256 and is sent only once request k-256 is answered
 * or timed out, so a window of at most 256 never has two requests with the same Identifier in
 * flight. Every phase is bounded: a fixed number of requests, a per-request timeout, and a time
 * limit after which what is left counts as not sent.
 *
 * `io: "mmsg"` in the plan: the answers are read with recvmmsg and the requests they free sent
 * together with one sendmmsg (runtime/radius/batch-io.ts, as iapd's server does), so that a burst of
 * answers turns into new requests within microseconds instead of one node:dgram event and send
 * each; "dgram" (the default): node:dgram alone.
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import { BatchIo } from "../../runtime/radius/batch-io.ts";
import { Code } from "../../runtime/radius/codes.ts";
import { attribute } from "../../runtime/radius/attributes.ts";
import { decodePacket, encodePacket, type RequestContext } from "../../runtime/radius/message.ts";
import { accountingAttributes, subscriber, type AccountingStatus } from "./subscribers.ts";

export type PhaseKind = "start" | "interim" | "stop" | "coa-start" | "coa-stop";

export interface LoadPhase {
  /** For the report: "accounting start", "CoA sequential", ... */
  readonly name: string;
  readonly kind: PhaseKind;
  readonly port: number;
  /** Subscribers [from, to) (scripts/bench/subscribers.ts), one request each, in order. */
  readonly from: number;
  readonly to: number;
  /** Outstanding requests, 1..256; 1 measures round-trip latency one request at a time. */
  readonly window: number;
  /** CoA phases: the intercept ID in the 8-byte Med-Dev-Handle; a stop must repeat its start's. */
  readonly interceptId?: number;
}

export interface LoadPlan {
  readonly secret: string;
  readonly phases: readonly LoadPhase[];
  /** An unanswered request counts as a timeout after this long; its window slot is then reused. */
  readonly timeoutMs: number;
  /** Each phase stops after this long, whatever is left unsent. */
  readonly phaseSeconds: number;
  /** The generator's socket I/O: node:dgram alone, or batched with recvmmsg/sendmmsg. */
  readonly io?: "dgram" | "mmsg";
}

export interface PhaseResult {
  readonly name: string;
  readonly kind: PhaseKind;
  readonly window: number;
  readonly requests: number;
  readonly answered: number;
  /** Answers by code name: Accounting-Response, CoA-ACK, CoA-NAK. */
  readonly codes: Record<string, number>;
  readonly timeouts: number;
  /** Left unsent when the phase hit its time limit. */
  readonly unsent: number;
  /** Answers whose Identifier had no request outstanding (late answers to timed-out requests). */
  readonly stray: number;
  /** Answers checked in full with iapd's decoder (Response Authenticator): the first 256, and how many failed. */
  readonly verified: number;
  readonly verifyFailures: number;
  readonly seconds: number;
  /** Answered requests per second. */
  readonly rate: number;
  /** Round-trip times of answered requests, milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The generator's own CPU time per answered request, microseconds: near 1e6 / rate, it is the bottleneck. */
  readonly generatorCpuMicros: number;
}

const MED = { address: "198.51.100.1", port: 30030 };
const VERIFY = 256;
const CODE_NAMES: Record<number, string> = { [Code.AccountingResponse]: "Accounting-Response", [Code.CoaAck]: "CoA-ACK", [Code.CoaNak]: "CoA-NAK" };

interface Built {
  readonly bytes: Uint8Array[];
  /** The first VERIFY requests, to check their answers. */
  readonly packets: RequestContext[];
}

function build(phase: LoadPhase, secret: string): Built {
  const bytes: Uint8Array[] = [];
  const packets: RequestContext[] = [];
  for (let i = phase.from, k = 0; i < phase.to; i++, k++) {
    const identifier = k & 255;
    let encoded;
    if (phase.kind === "coa-start" || phase.kind === "coa-stop") {
      const handle = new Uint8Array(8);
      const view = new DataView(handle.buffer);
      view.setUint32(0, phase.interceptId ?? 1);
      view.setUint32(4, i);
      encoded = encodePacket(
        {
          code: Code.CoaRequest,
          identifier,
          attributes: [
            attribute("Acct-Session-Id", subscriber(i).acctSessionId),
            attribute("ERX-LI-Action", phase.kind === "coa-start" ? 1 : 0),
            attribute("ERX-Med-Dev-Handle", handle),
            attribute("ERX-Med-Ip-Address", MED.address),
            attribute("ERX-Med-Port-Number", MED.port),
          ],
        },
        secret,
        { messageAuthenticator: true },
      );
    } else {
      const status: AccountingStatus = phase.kind === "start" ? "Start" : phase.kind === "interim" ? "Interim-Update" : "Stop";
      encoded = encodePacket({ code: Code.AccountingRequest, identifier, attributes: accountingAttributes(i, status) }, secret, {
        messageAuthenticator: true,
      });
    }
    bytes.push(encoded.bytes);
    if (k < VERIFY) packets.push(encoded.packet);
  }
  return { bytes, packets };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function run(phase: LoadPhase, built: Built, plan: LoadPlan): Promise<PhaseResult> {
  const total = built.bytes.length;
  const window = Math.max(1, Math.min(256, phase.window));
  // Answers must never be lost here: the generator's own buffer is as large as the system allows.
  const socket = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
  await new Promise<void>((done) => socket.bind(0, "127.0.0.1", () => done()));
  /** Request index outstanding under each Identifier, or -1. */
  const slot = new Int32Array(256).fill(-1);
  const sentAt = new Float64Array(total);
  const rtt = new Float64Array(total);
  const codes: Record<string, number> = {};
  let next = 0;
  let outstanding = 0;
  let answered = 0;
  let timeouts = 0;
  let stray = 0;
  let verified = 0;
  let verifyFailures = 0;
  let over = false;
  let finish!: () => void;
  const finished = new Promise<void>((done) => (finish = () => ((over = true), done())));
  const started = performance.now();
  const cpuStarted = process.cpuUsage();

  const batch = plan.io === "mmsg" ? BatchIo.open(socket) : undefined;
  if (plan.io === "mmsg" && !batch) throw new Error("radius-load: recvmmsg/sendmmsg I/O is not available here");
  const to: RemoteInfo = { address: "127.0.0.1", family: "IPv4", port: phase.port, size: 0 };
  const queued: { bytes: Uint8Array; from: RemoteInfo }[] = [];
  const pump = () => {
    if (over) return;
    while (outstanding < window && next < total && slot[next & 255] === -1) {
      const k = next++;
      slot[k & 255] = k;
      outstanding++;
      sentAt[k] = performance.now();
      if (batch) queued.push({ bytes: built.bytes[k], from: to });
      else socket.send(built.bytes[k], phase.port, "127.0.0.1");
    }
    if (batch && queued.length > 0) {
      batch.send(queued);
      queued.length = 0;
    }
    if (outstanding === 0 && next >= total) finish();
  };

  const receive = (answer: Buffer) => {
    const now = performance.now();
    const identifier = answer[1];
    const k = slot[identifier];
    if (over || k === -1 || answer.length < 20) {
      stray++;
      return;
    }
    slot[identifier] = -1;
    outstanding--;
    rtt[answered++] = now - sentAt[k];
    const name = CODE_NAMES[answer[0]] ?? `code ${answer[0]}`;
    codes[name] = (codes[name] ?? 0) + 1;
    if (k < VERIFY) {
      verified++;
      try {
        decodePacket(answer, plan.secret, { request: built.packets[k] });
      } catch {
        verifyFailures++;
      }
    }
    if (!batch) pump();
  };
  socket.on("message", (answer) => {
    receive(answer);
    if (batch) {
      // The rest of the burst, then one sendmmsg for every request the answers freed.
      batch.drain((datagram) => receive(datagram));
      pump();
    }
  });

  const sweeper = setInterval(() => {
    const now = performance.now();
    for (let id = 0; id < 256; id++) {
      const k = slot[id];
      if (k !== -1 && now - sentAt[k] > plan.timeoutMs) {
        slot[id] = -1;
        outstanding--;
        timeouts++;
      }
    }
    if ((now - started) / 1000 > plan.phaseSeconds) {
      timeouts += outstanding;
      outstanding = 0;
      slot.fill(-1);
      finish();
    } else {
      pump();
    }
  }, 50);

  pump();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  clearInterval(sweeper);
  batch?.close();
  await new Promise<void>((done) => socket.close(() => done()));
  const sorted = rtt.subarray(0, answered).sort();
  return {
    name: phase.name,
    kind: phase.kind,
    window,
    requests: total,
    answered,
    codes,
    timeouts,
    unsent: total - next,
    stray,
    verified,
    verifyFailures,
    seconds,
    rate: answered / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    generatorCpuMicros: (cpu.user + cpu.system) / answered,
  };
}

const plan = JSON.parse(process.argv[2] ?? "null") as LoadPlan | null;
if (!plan) {
  console.error("usage: radius-load.ts '<LoadPlan as JSON>' (started by scripts/bench-radius.ts)");
  process.exit(2);
}
const built = plan.phases.map((p) => build(p, plan.secret));
const results: PhaseResult[] = [];
for (const [i, phase] of plan.phases.entries()) results.push(await run(phase, built[i], plan));
process.stdout.write(`${JSON.stringify(results)}\n`);
