/**
 * The crash test's hands inside its network namespace (test/state/lab.ts starts it with
 * `ip netns exec`): the test process stays in the host's namespace, where it cannot reach a daemon
 * listening on the namespace's loopback, so this process carries its RADIUS datagrams and API
 * requests there, sends the probe datagrams that the daemon's capture interface sees, and is the
 * mediation device the daemon's UDP egress sends mirrored packets to.
 *
 * One JSON object a line on stdin and stdout. In:
 *   { op: "open", client }                          a RADIUS client socket on 127.0.0.1
 *   { op: "send", client, port, data }             a datagram (base64) to 127.0.0.1:port
 *   { op: "http", id, method, url, headers, body } a request; answered { id, status, body } (status null: no answer in 5 s)
 *   { op: "probe", id, addresses, port, tag }      one UDP datagram to each address:port, payload tag; answered { id }
 *   { op: "mirrored", id }                         answered { id, packets: [[interceptId, sessionId, innerDst, tag], ...] }
 *                                                  with what arrived since the last time
 * Out, unasked: { op: "recv", client, data } (an answer to a RADIUS client), { op: "ready" } once listening.
 * Plain JavaScript so that Node and Deno run it as it is.
 */
import { createSocket } from "node:dgram";
import { createInterface } from "node:readline";

const [probeSource, mediationPort] = [process.argv[2], Number(process.argv[3])];
const out = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const clients = new Map();
let mirrored = [];

// A receive buffer well above the default (~256 small datagrams on loopback): a burst of copies
// must wait in the socket, not be dropped, while this process is busy sending probes.
const mediation = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
mediation.on("message", (m) => {
  // Mirror header (intercept ID, session ID), then the mirrored IPv4 packet carrying a probe.
  if (m.length < 8 + 28 || m[8] >> 4 !== 4) return;
  const inner = m.subarray(8);
  const headerLength = (inner[0] & 0x0f) * 4;
  const dst = [...inner.subarray(16, 20)].join(".");
  const tag = inner[9] === 17 ? inner.subarray(headerLength + 8).toString("utf8") : "";
  mirrored.push([m.readUInt32BE(0) & 0x7fffffff, m.readUInt32BE(4), dst, tag]);
});
const prober = createSocket("udp4");
await Promise.all([
  new Promise((done) => mediation.bind(mediationPort, "127.0.0.1", done)),
  new Promise((done) => prober.bind(0, probeSource, done)),
]);

/** Probe datagrams the kernel refused (the reason of the first), reported with the probe's answer. */
let probeErrors = 0;
let probeError = "";
const send = (socket, data, port, address) =>
  new Promise((done) =>
    socket.send(data, port, address, (error) => {
      if (error) {
        probeErrors++;
        probeError ||= error.message;
      }
      done();
    }),
  );

async function handle(message) {
  if (message.op === "open") {
    const socket = createSocket("udp4");
    socket.on("message", (m) => out({ op: "recv", client: message.client, data: m.subarray(0, 2).toString("base64") }));
    await new Promise((done) => socket.bind(0, "127.0.0.1", done));
    clients.set(message.client, socket);
    out({ op: "opened", client: message.client });
  } else if (message.op === "send") {
    clients.get(message.client)?.send(Buffer.from(message.data, "base64"), message.port, "127.0.0.1");
  } else if (message.op === "http") {
    try {
      const res = await fetch(message.url, { method: message.method, headers: message.headers, body: message.body, signal: AbortSignal.timeout(5000) });
      out({ op: "http", id: message.id, status: res.status, body: await res.text() });
    } catch {
      out({ op: "http", id: message.id, status: null });
    }
  } else if (message.op === "probe") {
    const payload = Buffer.from(message.tag, "utf8");
    // In runs of 64, each awaited: a burst longer than the receiving veth's backlog would be dropped before capture.
    // A 2 ms pause after each run lets this event loop read the copies that came back meanwhile.
    for (let i = 0; i < message.addresses.length; i += 64) {
      await Promise.all(message.addresses.slice(i, i + 64).map((a) => send(prober, payload, message.port, a)));
      await new Promise((done) => setTimeout(done, 2));
    }
    out({ op: "probe", id: message.id, errors: probeErrors, error: probeError });
    probeErrors = 0;
    probeError = "";
  } else if (message.op === "mirrored") {
    out({ op: "mirrored", id: message.id, packets: mirrored });
    mirrored = [];
  }
}

createInterface({ input: process.stdin }).on("line", (line) => void handle(JSON.parse(line)));
process.stdin.on("end", () => process.exit(0));
out({ op: "ready" });
