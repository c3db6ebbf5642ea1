/**
 * The live data plane's counters as the operator sees them (/metrics, /v1/stats), against real
 * traffic in network namespaces the test creates and deletes:
 *
 *   iapddp-msub (100.64.0.9) --veth--> iapddp-miapd: capture on iapddp-mcap (2 workers, fanout);
 *                                       RADIUS on 127.0.0.1; tunnel md (198.51.100.1)
 *                                       --veth-- iapddp-mmd (198.51.100.2: tcpdump -w)
 *
 * IPv6 is off on the capture link and the subscriber's neighbour entry is static, so the frames on
 * it are exactly the test's: SENT UDP datagrams from the intercepted subscriber, one truncated IPv4
 * frame and one LLDP frame (python AF_PACKET). The counters must equal that: frames received and
 * consumed, parsed, malformed by reason, matched, and mirrored packets and bytes equal to what the
 * mediation host captured. Viewers get no mirroring series; no series or label names the intercept,
 * the mirror session, the subscriber or the mediation device.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Lab } from "../../scripts/netns/netns.ts";
import { hostRequest, radclientIn, readPcap, waitForOutput } from "./lab.ts";
import { builtinTrappingOnCall } from "../filter/lifecycle-modules.ts";
import { RUNTIME, evalArgs, tsArgs } from "../helpers/runtime.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SECRET = "iapd-h5b-secret";
const SUB = "100.64.0.9";
const PEER = "100.64.0.1";
const MD = "198.51.100.2";
const SOURCE = "198.51.100.1";
const PORT = 30030;
const INTERCEPT = 31415926;
const SESSION = 27182818;
const SENT = 400;
/** Datagrams sent once a filter that hangs is active. */
const AFTER_HANG = 200;
const CAP = "iapddp-mcap";

/** `n` UDP datagrams of 80 bytes from port argv[2] to the peer's discard port, one per millisecond. */
const SENDER = `
const dgram = require("dgram"); const n = +process.argv[1]; const b = Buffer.alloc(80, 5); let i = 0;
const d = dgram.createSocket("udp4");
d.bind(+process.argv[2], "${SUB}", () => { const t = setInterval(() => { if (i++ >= n) { clearInterval(t); d.close(); return; } d.send(b, 9, "${PEER}"); }, 1); });`;
/** Two frames the filter cannot parse: IPv4 cut inside its header (l3_truncated), and LLDP (unsupported_ethertype). */
const MALFORMED = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
dst = bytes.fromhex(sys.argv[2].replace(":", "")); src = bytes.fromhex(sys.argv[3].replace(":", ""))
s.send(dst + src + b"\\x08\\x00" + bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17]))
s.send(bytes.fromhex("0180c200000e") + src + b"\\x88\\xcc" + bytes(46))
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A sample's value: `name{labels} value` (labels exactly as given, or none). */
function sample(body: string, name: string, labels = ""): number | undefined {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = body.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

test("/metrics counts every frame of real traffic: received, parsed, malformed by reason, matched, mirrored as the mediation host saw it; nothing names who is intercepted", async () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), "iapd-metrics-"));
  let host: ChildProcess | undefined;
  try {
    const ns = { sub: lab.namespace("iapddp-msub"), iapd: lab.namespace("iapddp-miapd"), md: lab.namespace("iapddp-mmd") };
    lab.veth([ns.sub, "iapddp-ms0", `${SUB}/24`], [ns.iapd, CAP], { ipv6: false });
    lab.veth([ns.iapd, "iapddp-mm1", `${SOURCE}/24`], [ns.md, "iapddp-mmd0", `${MD}/24`], { ipv6: false });
    const mac = (n: string, dev: string) => lab.run(n, "cat", `/sys/class/net/${dev}/address`).trim();
    const capMac = mac(ns.iapd, CAP);
    const subMac = mac(ns.sub, "iapddp-ms0");
    // No ARP on the capture link: every frame on it is one the test sends.
    lab.run(ns.sub, "ip", "neigh", "replace", PEER, "lladdr", capMac, "dev", "iapddp-ms0", "nud", "permanent");
    lab.run(ns.iapd, "ping", "-c1", "-W2", MD);

    const mdPcap = join(dir, "md.pcap");
    const mdDump = lab.spawn(ns.md, "tcpdump", ["-n", "-U", "-s0", "-i", "iapddp-mmd0", "-w", mdPcap, "udp", "port", String(PORT)]);
    await waitForOutput(mdDump, "listening on");

    const config = {
      radius: { clients: [{ address: "127.0.0.1", secret: SECRET, name: "bng" }], accounting: { listen: "127.0.0.1:0" }, dynamicAuthorization: { listen: "127.0.0.1:0" } },
      capture: { interfaces: [{ name: CAP, workers: 2 }], blockSize: 1 << 16, blockCount: 64, retireTimeoutMs: 2 },
      egress: { mode: "raw" },
      tunnels: [{ name: "md", sourceAddress: SOURCE }],
    };
    host = lab.spawn(ns.iapd, RUNTIME, tsArgs(join(ROOT, "test/dataplane/host.ts"), JSON.stringify(config), "filters"), { cwd: ROOT, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const ready = await hostRequest(host, { cmd: "ready" }, 20_000);
    assert.ok(!ready.error, ready.error);
    const get = async (path: string, role: "viewer" | "li-admin") => {
      const answer = await hostRequest(host!, { cmd: "api-get", path, role });
      assert.is(answer.status, 200, `${path} as ${role}`);
      return answer.body as string;
    };
    // Before any traffic: the series exist, at zero.
    const before = await get("/metrics", "li-admin");
    assert.is(sample(before, "iapd_capture_workers", `interface="${CAP}"`), 2);
    assert.is(sample(before, "iapd_frames_total"), 0, before);

    const { output: acct } = await radclientIn(lab, ns.iapd, ready.accounting, "acct", SECRET, `Acct-Status-Type = Start, Acct-Session-Id = "h5b-1", User-Name = "h5bsub", Framed-IP-Address = ${SUB}, Message-Authenticator = 0x00`);
    assert.match(acct, /Accounting-Response/, acct);
    const handle = `0x${INTERCEPT.toString(16).padStart(8, "0")}${SESSION.toString(16).padStart(8, "0")}`;
    const { output: coa } = await radclientIn(lab, ns.iapd, ready.das, "coa", SECRET, `Acct-Session-Id = "h5b-1", ERX-LI-Action = 1, ERX-Med-Dev-Handle = ${handle}, ERX-Med-Ip-Address = ${MD}, ERX-Med-Port-Number = ${PORT}, Message-Authenticator = 0x00`);
    assert.match(coa, /CoA-ACK/, coa);
    // The CoA-ACK goes out once the store changed; the workers apply the table between two blocks.
    await sleep(300);

    const sender = lab.spawn(ns.sub, RUNTIME, evalArgs(SENDER, String(SENT), "40002"));
    await new Promise((r) => sender.once("close", r));
    lab.run(ns.sub, "python3", "-c", MALFORMED, "iapddp-ms0", capMac, subMac);

    // The workers publish every 250 ms: read until two reads 400 ms apart agree (at most ~6 s).
    let body = "";
    for (let i = 0, last = ""; i < 15; i++) {
      await sleep(400);
      body = await get("/metrics", "li-admin");
      const now = body.split("\n").filter((l) => /^iapd_(capture|frames|mirror)/.test(l)).join("\n");
      if (now === last && sample(body, "iapd_frames_total")! >= SENT + 2) break;
      last = now;
    }
    const viewer = await get("/metrics", "viewer");
    const liStats = JSON.parse(await get("/v1/stats", "li-admin")).dataPlane;
    const viewerStats = JSON.parse(await get("/v1/stats", "viewer")).dataPlane;
    const { body: mirrorsBody } = await hostRequest(host, { cmd: "api-get", path: "/v1/mirrors", role: "li-admin" });
    const mirrorId = JSON.parse(mirrorsBody).items[0].id as string;

    // A filter whose third call never returns: the watchdog replaces the worker that has the flow
    // (it adopts the ring). The counters it had published stay, the restart and the frames lost
    // with the call are counted, and the kernel's count of the adopted ring goes on.
    const looper = builtinTrappingOnCall(3, "looper!", { tpacket3: false, hang: true });
    assert.is((await hostRequest(host, { cmd: "activate", module: Buffer.from(looper).toString("base64") }, 30_000)).active, "looper!");
    const more = lab.spawn(ns.sub, RUNTIME, evalArgs(SENDER, String(AFTER_HANG), "40003"));
    await new Promise((r) => more.once("close", r));
    let afterHang = "";
    for (let i = 0, last = ""; i < 15; i++) {
      await sleep(400);
      afterHang = await get("/metrics", "li-admin");
      const now = afterHang.split("\n").filter((l) => /^iapd_(capture|frames|worker)/.test(l)).join("\n");
      if (now === last && sample(afterHang, "iapd_worker_restarts_total") === 1) break;
      last = now;
    }
    await hostRequest(host, { cmd: "stop" });
    for (let i = 0, last = -1; i < 10; i++) {
      const n = readPcap(mdPcap).length;
      if (n >= SENT + AFTER_HANG || n === last) break;
      last = n;
      await sleep(300);
    }
    process.kill(mdDump.pid!, "SIGINT");
    await new Promise((r) => (mdDump.exitCode !== null ? r(null) : mdDump.once("close", r)));

    // What the mediation host received of the first sender (inner UDP source port 40002, after the
    // outer IPv4 and UDP headers, the mirror header and the inner IPv4 header): outer IPv4 packets, their total lengths.
    const received = readPcap(mdPcap).map((r) => r.bytes.subarray(14)).filter((p) => ((p[56] << 8) | p[57]) === 40002);
    const receivedBytes = received.reduce((n, p) => n + ((p[2] << 8) | p[3]), 0);
    assert.is(received.length, SENT, "every datagram mirrored once");

    const all = SENT + 2;
    assert.is(sample(body, "iapd_dataplane_info", 'source="live"'), 1);
    assert.is(sample(body, "iapd_capture_received_total", `interface="${CAP}"`), all, body);
    assert.is(sample(body, "iapd_capture_kernel_drops_total", `interface="${CAP}"`), 0);
    assert.is(sample(body, "iapd_frames_total"), all);
    assert.is(sample(body, "iapd_frames_parsed_total"), SENT);
    assert.is(sample(body, "iapd_frames_malformed_total", 'reason="l3_truncated"'), 1);
    assert.is(sample(body, "iapd_frames_malformed_total", 'reason="unsupported_ethertype"'), 1);
    assert.is(sample(body, "iapd_frames_malformed_total", 'reason="bad_length"'), 0);
    assert.is(sample(body, "iapd_frames_matched_total"), SENT);
    assert.is(sample(body, "iapd_mirror_copies_total"), SENT);
    assert.is(sample(body, "iapd_mirrored_packets_total"), received.length);
    assert.is(sample(body, "iapd_mirrored_bytes_total"), receivedBytes);
    for (const reason of ["output_full", "oversize", "too_many_copies", "socket_full", "unreachable", "too_big", "other"]) assert.is(sample(body, "iapd_mirror_drops_total", `reason="${reason}"`), 0, reason);
    assert.is(sample(body, "iapd_worker_restarts_total"), 0);
    assert.match(body, /^iapd_filter_info\{name="jmirror",version="[^"]+",abi="1",sha256="[0-9a-f]{64}"\} 1$/m);

    // A viewer: the same capture and parsing counters, no series that moves with interception.
    assert.is(sample(viewer, "iapd_frames_total"), all);
    assert.is(sample(viewer, "iapd_capture_received_total", `interface="${CAP}"`), all);
    for (const series of ["iapd_frames_matched_total", "iapd_mirror_copies_total", "iapd_mirrored_packets_total", "iapd_mirrored_bytes_total", "iapd_mirror_drops_total"]) assert.not.ok(viewer.includes(series), series);

    // /v1/stats: the same figures; `mirroring` for li-admin only.
    assert.equal(liStats.interfaces, [{ interface: CAP, workers: 2, received: all, kernelDrops: 0, freezes: liStats.interfaces[0].freezes }]);
    assert.is(liStats.frames, all);
    assert.is(liStats.malformed.l3_truncated, 1);
    assert.equal([liStats.mirroring.matched, liStats.mirroring.packets, liStats.mirroring.bytes], [SENT, received.length, receivedBytes]);
    assert.is(viewerStats.frames, all);
    assert.is(viewerStats.mirroring, undefined);

    // Nothing names who is intercepted: not in a series name or label, not in /v1/stats' strings.
    const forbidden = [String(INTERCEPT), String(SESSION), handle, mirrorId, SUB, MD, "h5bsub", "h5b-1"];
    for (const line of [...body.split("\n"), ...viewer.split("\n")].filter((l) => l && !l.startsWith("#"))) {
      const series = line.slice(0, line.lastIndexOf(" "));
      for (const x of forbidden) assert.not.ok(series.includes(x), `${line} names ${x}`);
    }
    const strings: string[] = [];
    JSON.stringify(liStats, (key, value) => (strings.push(key), typeof value === "string" && strings.push(value), value));
    for (const x of forbidden) assert.not.ok(strings.some((s) => s.includes(x)), `/v1/stats dataPlane names ${x}`);
    // After the hang: one restart; the replaced worker's counts taken from the shared memory it
    // stored them in after its last completed filter call (runtime/dataplane/counters.ts
    // SharedAggregates; with only what it had posted every 250 ms, a few frames it had counted
    // since would be missing); every frame that reached the ring is counted received (kernel drops
    // included), and each of them exactly once as a frame the filter consumed, a frame lost with
    // the call that never returned, or a kernel drop.
    assert.is(sample(afterHang, "iapd_worker_restarts_total"), 1, afterHang);
    const lost = sample(afterHang, "iapd_frames_lost_total")!;
    assert.ok(lost > 0, "frames lost with the call that never returned");
    assert.is(sample(afterHang, "iapd_capture_received_total", `interface="${CAP}"`), all + AFTER_HANG);
    // While the worker hangs and its replacement starts, its ring (64 blocks of 2 ms) can fill: kernel drops.
    const drops = sample(afterHang, "iapd_capture_kernel_drops_total", `interface="${CAP}"`)!;
    const framesAfter = sample(afterHang, "iapd_frames_total")!;
    assert.is(framesAfter + lost + drops, all + AFTER_HANG, `${framesAfter} frames + ${lost} lost + ${drops} kernel drops of ${all + AFTER_HANG} received`);
    // The other counters agree with the frames: each frame is parsed or malformed for one reason;
    // each datagram after the hang that the filter consumed matched the target and was copied once.
    const parsedAfter = sample(afterHang, "iapd_frames_parsed_total")!;
    const malformedAfter = [...afterHang.matchAll(/^iapd_frames_malformed_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.is(parsedAfter + malformedAfter, framesAfter, `${parsedAfter} parsed + ${malformedAfter} malformed`);
    assert.is(sample(afterHang, "iapd_frames_malformed_total", 'reason="l3_truncated"'), 1);
    assert.is(malformedAfter, 2);
    const matchedAfter = sample(afterHang, "iapd_frames_matched_total")!;
    assert.is(matchedAfter, parsedAfter, "every datagram is the target's");
    assert.is(sample(afterHang, "iapd_mirror_copies_total"), matchedAfter);
    console.log(`  after a hung filter call: ${all + AFTER_HANG} received = ${framesAfter} frames counted + ${lost} lost with the call + ${drops} kernel drops`);
    console.log(`  metrics e2e: ${all} frames counted (${SENT} datagrams, 2 malformed), ${received.length} mirrored packets / ${receivedBytes} bytes at the mediation host`);
  } finally {
    if (host?.connected) host.disconnect();
    lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
