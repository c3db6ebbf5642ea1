/**
 * A trap on live traffic, in network namespaces the test creates and deletes: a sender in
 * iapddp-ltg (100.64.0.1, intercepted) sends numbered UDP datagrams to iapddp-ltr, where the live
 * data plane (two capture workers) runs a filter that traps on its third batch. The worker that
 * traps goes back to the built-in filter and processes the block again, the other worker follows,
 * and every datagram reaches the mirrored output exactly once.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Lab } from "../../scripts/netns/netns.ts";
import { hostRequest, readPcap, waitForOutput } from "../dataplane/lab.ts";
import { builtinTrappingOnCall } from "./lifecycle-modules.ts";
import { RUNTIME, evalArgs, tsArgs } from "../helpers/runtime.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const NS = { sender: "iapddp-ltg", iapd: "iapddp-ltr" };
const DATAGRAMS = 400;
const SENDER = `
const d = require("dgram").createSocket("udp4"); const n = +process.argv[1]; let seq = +(process.argv[2] || 0); const end = seq + n;
d.bind(40000, "100.64.0.1", () => { console.log("sending");
  const t = setInterval(() => { if (seq >= end) { clearInterval(t); d.close(); return; }
    const b = Buffer.alloc(32); b.writeUInt32BE(seq++, 0); d.send(b, 9, "100.64.0.2"); }, 1); });`;

/** A command to lifecycle-live-host.ts (the IPC protocol of test/dataplane/host.ts) and its answer, within 20 s. */
const request = (host: ChildProcess, message: Record<string, unknown>) => hostRequest(host, message, 20_000);

/** The two namespaces (the lab adds this run's suffix to their names), a veth between them, and the
 * iapd side (lifecycle-live-host.ts) started and ready. */
async function startLab(lab: Lab, dir: string): Promise<{ ns: { sender: string; iapd: string }; host: ChildProcess }> {
  const ns = { sender: lab.namespace(NS.sender), iapd: lab.namespace(NS.iapd) };
  lab.veth([ns.sender, "iapddp-ltg0", "100.64.0.1/24"], [ns.iapd, "iapddp-ltr0", "100.64.0.2/24"]);
  lab.run(ns.sender, "ping", "-c1", "-W1", "100.64.0.2");
  const host = lab.spawn(ns.iapd, RUNTIME, tsArgs(join(ROOT, "test/filter/lifecycle-live-host.ts"), "iapddp-ltr0", join(dir, "mirrored.pcap")), {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await request(host, { cmd: "ready" });
  return { ns, host };
}

test("a filter that traps on live traffic: rolled back on every worker, the block processed again, nothing lost or duplicated", async () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), "iapd-live-"));
  let host: ChildProcess | undefined;
  try {
    const { ns, host: started } = await startLab(lab, dir);
    host = started;
    // Without iapd_process_tpacket3 the switch hands it records; its third iapd_process call traps.
    const trapper = builtinTrappingOnCall(3, "trapper", { tpacket3: false });
    const activated = await request(host, { cmd: "activate", module: Buffer.from(trapper).toString("base64") });
    assert.is(activated.active, "trapper");

    const sender = lab.spawn(ns.sender, RUNTIME, evalArgs(SENDER, String(DATAGRAMS)));
    await waitForOutput(sender, "sending");
    await new Promise((r) => sender.on("close", r));
    await new Promise((r) => setTimeout(r, 300));
    const settled = await request(host, { cmd: "settle" });
    assert.is(settled.active, "jmirror", "the registry shows the built-in filter active again");
    const rolled = settled.events.filter((e: { type: string }) => e.type === "rolled-back");
    assert.ok(rolled.length >= 1, JSON.stringify(settled.events));
    assert.is(rolled[0].cause, "trap");
    assert.is(rolled[0].from.name, "trapper");
    assert.ok(rolled[0].reprocessedFrames > 0, "the failed block was processed again");
    assert.equal(settled.events.filter((e: { type: string }) => e.type === "batch-lost"), []);
    const stopped = await request(host, { cmd: "stop" });
    assert.is(stopped.total.kernelDrops, 0);

    // Every datagram once: the mirrored UDP payload starts with the sequence number.
    const seen = mirroredSequence(dir);
    assert.is(seen.size, DATAGRAMS, `${seen.size} of ${DATAGRAMS} datagrams mirrored`);
    assert.equal([...seen.values()].filter((n) => n !== 1), [], "a datagram mirrored more than once");
  } finally {
    if (host?.connected) host.disconnect();
    lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Sequence numbers in the mirrored output (the mirrored UDP payload starts with one), and how often each. */
function mirroredSequence(dir: string): Map<number, number> {
  const seen = new Map<number, number>();
  for (const file of readdirSync(dir).filter((f) => f.startsWith("mirrored") && f.endsWith(".pcap"))) {
    // A terminated worker's pcap file stays empty: its writer's buffer went with it.
    if (statSync(join(dir, file)).size === 0) continue;
    for (const { bytes } of readPcap(join(dir, file))) {
      // outer IPv4 (20) + UDP (8) + mirror header (8) + inner IPv4 (20) + inner UDP (8)
      if (bytes.length < 68 || bytes[36 + 9] !== 17) continue;
      const seq = new DataView(bytes.buffer, bytes.byteOffset).getUint32(64);
      seen.set(seq, (seen.get(seq) ?? 0) + 1);
    }
  }
  return seen;
}

test("a filter call that never returns on live traffic: the watchdog replaces the worker on the same ring with the previous filter", async () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), "iapd-live-"));
  let host: ChildProcess | undefined;
  try {
    const { ns, host: started } = await startLab(lab, dir);
    host = started;
    // Its third iapd_process call (in the worker that gets the one flow) loops forever.
    const looper = builtinTrappingOnCall(3, "looper!", { tpacket3: false, hang: true });
    assert.is((await request(host, { cmd: "activate", module: Buffer.from(looper).toString("base64") })).active, "looper!");

    const send = async (count: number, first: number) => {
      const sender = lab.spawn(ns.sender, RUNTIME, evalArgs(SENDER, String(count), String(first)));
      await waitForOutput(sender, "sending");
      await new Promise((r) => sender.on("close", r));
    };
    await send(DATAGRAMS / 2, 0);
    // The watchdog (250 ms) and the replacement (at most a second after the worker started).
    await new Promise((r) => setTimeout(r, 1500));
    const hung = await request(host, { cmd: "settle" });
    assert.is(hung.hangs, 1, JSON.stringify(hung.events));
    assert.is(hung.restarts, 1);
    assert.is(hung.active, "jmirror", "the registry shows the built-in filter active again");
    // The other worker's rollback, asked for by the data plane, reports cause "request".
    const rolled = hung.events.filter((e: { type: string; cause?: string }) => e.type === "rolled-back" && e.cause !== "request");
    assert.is(rolled.length, 1, JSON.stringify(hung.events));
    assert.is(rolled[0].cause, "hang");
    assert.is(rolled[0].from.name, "looper!");
    const lost = hung.events.filter((e: { type: string }) => e.type === "batch-lost");
    assert.is(lost.length, 1);
    assert.ok(lost[0].frames > 0 && lost[0].frames === hung.lostFrames, JSON.stringify(lost));

    // After the restart: every datagram mirrored once, by the worker that took the ring over.
    await send(DATAGRAMS / 2, 100_000);
    await new Promise((r) => setTimeout(r, 300));
    await request(host, { cmd: "settle" });
    const stopped = await request(host, { cmd: "stop" });
    assert.match(stopped.audit, /"actor":"data-plane".*"action":"filter\.rollback"|filter\.rollback.*data-plane/);
    assert.match(stopped.audit, /"cause":"hang"/);
    const seen = mirroredSequence(dir);
    const after = [...seen.keys()].filter((seq) => seq >= 100_000);
    assert.is(after.length, DATAGRAMS / 2, `${after.length} of ${DATAGRAMS / 2} datagrams sent after the restart mirrored`);
    assert.equal([...seen.values()].filter((n) => n !== 1), [], "a datagram mirrored more than once");
  } finally {
    if (host?.connected) host.disconnect();
    lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
