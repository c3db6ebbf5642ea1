/**
 * The tunnel pool between the session store and the data plane: even spread, moves off a removed or
 * failed tunnel as remove+add pairs (applied together by the data plane), parking on the default path
 * when no tunnel is left, per-tunnel source address and DSCP.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EgressTunnel } from "../../runtime/egress/types.ts";
import { DSCP_INHERIT, type Target } from "../../runtime/filter/types.ts";
import { TunnelPool, type PoolSink } from "../../runtime/dataplane/pool.ts";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";
import { watchTunnelLinks } from "../../runtime/dataplane/links.ts";

class Recorder implements PoolSink {
  log: string[] = [];
  table = new Map<number, Target>();
  tunnels = new Map<number, EgressTunnel>();
  add(t: Target) {
    assert.not.ok(this.table.has(t.slot), `slot ${t.slot} added twice`);
    this.table.set(t.slot, t);
    this.log.push(`add ${t.slot} t${t.tunnel}`);
  }
  remove(slot: number) {
    this.table.delete(slot);
    this.log.push(`remove ${slot}`);
  }
  setTunnel(t: EgressTunnel) {
    this.tunnels.set(t.index, t);
    this.log.push(`tunnel ${t.index} ${t.name}`);
  }
  removeTunnel(index: number) {
    this.tunnels.delete(index);
    this.log.push(`untunnel ${index}`);
  }
}

const now = 1_700_000_000_000;

function world(mirrors: number) {
  const sink = new Recorder();
  const pool = new TunnelPool(sink);
  const store = new SessionStore({ sink: pool });
  const start = (i: number) => {
    store.upsertSession({ nas: "192.0.2.7", acctSessionId: `s${i}`, framedIpAddress: `100.64.0.${i + 1}`, delegatedIpv6Prefix: `2001:db8:${i}::/56` }, now);
    return store.startMirror(`192.0.2.7|s${i}`, { interceptId: i + 1, sessionId: i, mediation: { address: "198.51.100.2", port: 30030 } }, { kind: "coa" }, now);
  };
  return { sink, pool, store, start, mirrors: Array.from({ length: mirrors }, (_, i) => i) };
}

test("without tunnels, targets take the default path (tunnel 0, node source)", () => {
  const { sink, start } = world(0);
  start(0);
  assert.equal([...sink.table.values()].map((t) => [t.tunnel, t.sourceAddress]), [[0, 0], [0, 0]]);
});

test("new mirror sessions spread evenly; all targets of one session share its tunnel, source and DSCP", () => {
  const { sink, pool, store, start } = world(0);
  pool.addTunnel({ name: "a", sourceAddress: "192.0.2.1" });
  pool.addTunnel({ name: "b", sourceAddress: "192.0.2.2", dscp: 46 });
  pool.addTunnel({ name: "c", sourceAddress: "192.0.2.3", interface: "eth3" });
  for (let i = 0; i < 9; i++) start(i);
  assert.equal(Object.fromEntries(pool.load()), { a: 3, b: 3, c: 3 });
  for (const m of store.allMirrors()) {
    const targets = store.targetTable().filter((t) => t.interceptId === m.interceptId).map((t) => sink.table.get(t.slot)!);
    assert.is(targets.length, 2);
    assert.is(new Set(targets.map((t) => t.tunnel)).size, 1);
    const t = targets[0];
    assert.is(t.sourceAddress, 0xc0000200 + t.tunnel);
    assert.is(t.dscp, t.tunnel === 2 ? 46 : DSCP_INHERIT);
  }
  assert.equal(sink.tunnels.get(3), { index: 3, name: "c", sourceAddress: 0xc0000203, interface: "eth3" });
});

test("removing a tunnel moves its sessions to the others as remove+add pairs, before the tunnel goes", () => {
  const { sink, pool, start } = world(0);
  pool.addTunnel({ name: "a", sourceAddress: "192.0.2.1" });
  pool.addTunnel({ name: "b", sourceAddress: "192.0.2.2" });
  pool.addTunnel({ name: "c", sourceAddress: "192.0.2.3" });
  for (let i = 0; i < 6; i++) start(i);
  sink.log = [];
  pool.removeTunnel("a");
  assert.equal(Object.fromEntries(pool.load()), { b: 3, c: 3 });
  // Two sessions of two targets each: remove/add per target, then the tunnel.
  assert.is(sink.log.length, 9);
  for (let i = 0; i < 8; i += 2) assert.is(sink.log[i].split(" ")[1], sink.log[i + 1].split(" ")[1]);
  assert.is(sink.log[8], "untunnel 1");
  assert.ok([...sink.table.values()].every((t) => t.tunnel === 2 || t.tunnel === 3));
});

test("a new tunnel takes new sessions; one moved off a failed tunnel with nowhere to go waits on the default path for it", () => {
  const { sink, pool, store, start } = world(0);
  pool.addTunnel({ name: "a", sourceAddress: "192.0.2.1" });
  start(0);
  start(1);
  pool.fail("a");
  assert.ok([...sink.table.values()].every((t) => t.tunnel === 0 && t.sourceAddress === 0), "parked on the default path");
  pool.addTunnel({ name: "b", sourceAddress: "192.0.2.2" });
  assert.equal(Object.fromEntries(pool.load()), { a: 0, b: 2 });
  start(2);
  assert.equal(Object.fromEntries(pool.load()), { a: 0, b: 3 });
  pool.recover("a");
  start(3);
  start(4);
  assert.equal(Object.fromEntries(pool.load()), { a: 2, b: 3 });
  // Ending sessions frees their place in the balance.
  for (const m of [...store.allMirrors()].slice(0, 3)) store.endMirror(m.id, "terminated", now);
  assert.equal(Object.fromEntries(pool.load()), { a: 2, b: 0 });
  assert.is(sink.table.size, 4);
});

test("a tunnel whose interface goes down fails over, and takes sessions again once it is up", () => {
  const { pool, start } = world(0);
  const tunnels = new TunnelRegistry();
  tunnels.subscribe((c) => (c.type === "added" ? pool.addTunnel(c.tunnel) : pool.removeTunnel(c.tunnel.name)));
  tunnels.add({ name: "a", sourceAddress: "192.0.2.1", interface: "eth1" }, now);
  tunnels.add({ name: "b", sourceAddress: "192.0.2.2", interface: "eth2" }, now);
  const state: Record<string, string> = { eth1: "up", eth2: "unknown" };
  const lines: string[] = [];
  const links = watchTunnelLinks(tunnels, pool, { operstate: (name) => state[name] ?? "absent", log: (l) => lines.push(l) });
  try {
    for (let i = 0; i < 4; i++) start(i);
    assert.equal(Object.fromEntries(pool.load()), { a: 2, b: 2 });
    state.eth1 = "down";
    links.check();
    assert.equal(Object.fromEntries(pool.load()), { a: 0, b: 4 });
    start(4);
    assert.equal(Object.fromEntries(pool.load()), { a: 0, b: 5 });
    state.eth1 = "up";
    links.check();
    start(5);
    assert.equal(Object.fromEntries(pool.load()), { a: 1, b: 5 });
    delete state.eth2;
    links.check();
    assert.equal(Object.fromEntries(pool.load()), { a: 6, b: 0 });
    assert.equal(lines, [
      "tunnel a: interface eth1 is down: its mirror sessions move to the other tunnels",
      "tunnel a: interface eth1 is up again: it takes mirror sessions",
      "tunnel b: interface eth2 is absent: its mirror sessions move to the other tunnels",
    ]);
  } finally {
    links.stop();
  }
});

test.run();
