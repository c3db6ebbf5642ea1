/**
 * The egresses on real sockets, in a namespace with only loopback up (egress-child.ts): send errors
 * are counted per reason and per target slot and never thrown; the UDP egress sends the mirror header
 * and the mirrored packet as the datagram's payload; a full socket buffer never blocks the sender.
 */
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Lab } from "../../scripts/netns/netns.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

test("raw: an unreachable mediation device is counted per slot; udp: payload = mirror header + packet, also sent from the descriptors; a full buffer never blocks; packet: frames to the next hop", () => {
  const lab = new Lab();
  try {
    const ns = lab.namespace("iapddp-egress");
    const out = execFileSync("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", join(ROOT, "test/dataplane/egress-child.ts")], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    const r = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(r.raw.counters, { sent: 0, sentBytes: 0, dropped: { socket_full: 0, unreachable: 5, too_big: 0, other: 0 } });
    assert.equal(r.raw.slots, { 3: { packets: 0, bytes: 0, dropped: { socket_full: 0, unreachable: 5, too_big: 0, other: 0 } } });
    assert.is(r.udp.counters.sent, 3);
    // Per slot, whole outer packets: the 28 bytes of IPv4 and UDP header the kernel builds included.
    assert.equal(r.udp.slots, { 3: { packets: 3, bytes: r.udp.received.reduce((n: number, hex: string) => n + hex.length / 2 + 28, 0), dropped: { socket_full: 0, unreachable: 0, too_big: 0, other: 0 } } });
    assert.equal(r.udp.received, [r.udp.expected, r.udp.expected, r.udp.expected]);
    // sendOutput: 7 frames x 2 targets, tunnels interleaved, sent as the descriptors say, per slot.
    assert.is(r.output.count, 14);
    assert.equal(r.output.tunnels, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    assert.equal(r.output.received, r.output.expected);
    const bytes = (slot: number) => r.output.expected.filter((hex: string) => hex.startsWith((10 + slot).toString(16).padStart(8, "0"))).reduce((n: number, hex: string) => n + hex.length / 2 + 28, 0);
    const none = { socket_full: 0, unreachable: 0, too_big: 0, other: 0 };
    assert.equal(r.output.slots, { 5: { packets: 7, bytes: bytes(5), dropped: none }, 6: { packets: 7, bytes: bytes(6), dropped: none } });
    const flood = r.flood.counters;
    assert.is(flood.sent + flood.dropped.socket_full, 3 + 14 + 100_000);
    assert.ok(r.flood.ms < 20_000);
    assert.is(r.packet.counters.sent, 4);
    assert.equal(r.packet.frames, r.packet.expected);
  } finally {
    lab.close();
  }
});

test.run();
