/**
 * The crash test (issue 8): `iapd run` under a continuous stream of accounting, CoA and API
 * changes is killed with SIGKILL at random moments, 50 times. After each kill the state directory
 * is recovered on its own and checked against what the clients saw acknowledged: every
 * acknowledged change is there; a change in flight at the kill is either wholly there or wholly
 * absent; every active mirror session has its targets in the recovered target table. After each
 * restart the daemon itself reports the same counts, and mirroring is checked on its output: the
 * daemon runs in a network namespace (test/state/lab.ts) with its live data plane capturing on a
 * veth end; the moment it logs "ready", one probe datagram goes to every subscriber address the
 * test ever created, and the mirrored packets its UDP egress sends to the mediation socket must be
 * exactly one copy per probe per active mirror session of that address (intercept and session ID
 * in the mirror header), none for subscribers without one (ended sessions, ended mirrors).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { attribute, type Attribute } from "../../runtime/radius/attributes.ts";
import { Code } from "../../runtime/radius/codes.ts";
import { ACCT_STATUS_TYPE } from "../../runtime/radius/dictionary.ts";
import { formatPrefix } from "../../runtime/net/address.ts";
import { sessionIdFromAcctSessionId } from "../../runtime/sessions/handle.ts";
import { readFrames } from "../../runtime/state/frame.ts";
import { journalName, recover } from "../../runtime/state/recovery.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { iapdBundle, RadiusClient, startDaemon, writeConfig, type Running } from "./daemon.ts";
import { Lab, MEDIATION_PORT } from "./lab.ts";
import { prng, tempDir } from "./world.ts";

const KILLS = Number(process.env.CRASH_KILLS ?? 50);
const WORKERS = 4;
const NAS = "127.0.0.1";
const MEDIATION = { address: "127.0.0.1", port: MEDIATION_PORT };
const PROBE_PORT = 9;

interface Fact<T> {
  /** As last acknowledged (or found after a kill). */
  value: T;
  /** What an unacknowledged change would have made it. */
  inFlight?: T;
}
interface SessionState {
  exists: boolean;
  mirrors: number[];
}
interface Model {
  sessions: Map<string, Fact<SessionState> & { ip: string }>;
  tunnels: Map<string, Fact<boolean>>;
  /** By value (unique); the id once known. */
  triggers: Map<string, Fact<boolean> & { id?: string }>;
}

const apiId = (acct: string) => Buffer.from(`${NAS}|${acct}`, "utf8").toString("base64url");
const sessionIdOf = (interceptId: number) => 1000 + interceptId;
const handle = (interceptId: number) => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, interceptId);
  new DataView(bytes.buffer).setUint32(4, sessionIdOf(interceptId));
  return bytes;
};
const coa = (acct: string, action: 0 | 1, interceptId: number): Attribute[] => [
  attribute("Acct-Session-Id", acct),
  attribute("ERX-LI-Action", action),
  attribute("ERX-Med-Dev-Handle", handle(interceptId)),
  attribute("ERX-Med-Ip-Address", MEDIATION.address),
  attribute("ERX-Med-Port-Number", MEDIATION.port),
];

/** One client's stream of changes, each on entities only it touches, one at a time. */
async function worker(w: number, daemon: Running, radius: RadiusClient, model: Model, random: () => number, running: () => boolean, counter: { n: number; acked: number }, problems: string[]) {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const mine = (prefix: string) => (k: string) => k.startsWith(prefix);
  const api = (method: string, path: string, body?: unknown) => daemon.http(method, path, body);
  /**
   * Runs a change: its fact is in flight until answered. Without an answer (killed, or too slow on
   * a loaded machine) the daemon may still apply it, so this client stops until the next restart.
   */
  let unanswered = false;
  async function change<T>(fact: Fact<T>, after: T, send: () => Promise<boolean | undefined>) {
    fact.inFlight = after;
    const ok = await send();
    if (ok === undefined) {
      unanswered = true;
      return;
    }
    if (!ok) {
      problems.push(`worker ${w}: a change was refused`);
      return;
    }
    fact.value = after;
    fact.inFlight = undefined;
    counter.acked++;
  }
  while (running() && !unanswered) {
    const sessions = [...model.sessions.entries()].filter(([k, s]) => mine(`w${w}-`)(k) && s.value.exists);
    const r = random();
    const n = counter.n++;
    if (r < 0.25 || sessions.length < 3) {
      const acct = `w${w}-${n}`;
      const fact = { value: { exists: false, mirrors: [] }, ip: `100.64.${n >> 8}.${n & 0xff}` };
      model.sessions.set(acct, fact);
      const attrs = [attribute("Acct-Status-Type", ACCT_STATUS_TYPE.Start), attribute("Acct-Session-Id", acct), attribute("Framed-IP-Address", fact.ip), attribute("User-Name", `user-${acct}`)];
      await change(fact, { exists: true, mirrors: [] }, async () => ((await radius.request(daemon.accountingPort, Code.AccountingRequest, attrs)) ?? -1) === -1 ? undefined : true);
      continue;
    }
    const [acct, session] = pick(sessions);
    const answered = (expected: number) => async (attrs: Attribute[], port: number, code: typeof Code.AccountingRequest | typeof Code.CoaRequest) => {
      const got = await radius.request(port, code, attrs);
      return got === undefined ? undefined : got === expected;
    };
    if (r < 0.5) {
      const interceptId = 1 + Math.floor(random() * 4);
      if (session.value.mirrors.includes(interceptId)) continue;
      await change(session, { exists: true, mirrors: [...session.value.mirrors, interceptId].sort() }, () => answered(Code.CoaAck)(coa(acct, 1, interceptId), daemon.dasPort, Code.CoaRequest));
    } else if (r < 0.6) {
      if (session.value.mirrors.length === 0) continue;
      const interceptId = pick(session.value.mirrors);
      await change(session, { exists: true, mirrors: session.value.mirrors.filter((i) => i !== interceptId) }, () => answered(Code.CoaAck)(coa(acct, 0, interceptId), daemon.dasPort, Code.CoaRequest));
    } else if (r < 0.68) {
      const attrs = [attribute("Acct-Status-Type", ACCT_STATUS_TYPE.Stop), attribute("Acct-Session-Id", acct)];
      await change(session, { exists: false, mirrors: [] }, () => answered(Code.AccountingResponse)(attrs, daemon.accountingPort, Code.AccountingRequest));
    } else if (r < 0.75) {
      await change(session, { exists: true, mirrors: [] }, async () => (await api("DELETE", `/v1/sessions/${apiId(acct)}`)).status === 200 || undefined);
    } else if (r < 0.87) {
      const existing = [...model.tunnels.entries()].filter(([k, t]) => mine(`w${w}t`)(k) && t.value);
      if (existing.length > 0 && random() < 0.5) {
        const [name, tunnel] = pick(existing);
        await change(tunnel, false, async () => (await api("DELETE", `/v1/tunnels/${name}`)).status === 200 || undefined);
      } else {
        const name = `w${w}t${n}`;
        const tunnel: Fact<boolean> = { value: false };
        model.tunnels.set(name, tunnel);
        await change(tunnel, true, async () => (await api("POST", "/v1/tunnels", { name, sourceAddress: "192.0.2.9" })).status === 201 || undefined);
      }
    } else {
      const existing = [...model.triggers.entries()].filter(([k, t]) => mine(`w${w}c`)(k) && t.value && t.id);
      if (existing.length > 0 && random() < 0.5) {
        const [, trigger] = pick(existing);
        await change(trigger, false, async () => (await api("DELETE", `/v1/triggers/${trigger.id}`)).status === 200 || undefined);
      } else {
        const value = `w${w}c${n}`;
        const trigger: Fact<boolean> & { id?: string } = { value: false };
        model.triggers.set(value, trigger);
        await change(trigger, true, async () => {
          const res = await api("POST", "/v1/triggers", { kind: "calling-station-id", value, interceptId: 77, mediation: MEDIATION });
          if (res.status !== 201) return undefined;
          trigger.id = (JSON.parse(res.body) as { trigger: { id: string } }).trigger.id;
          return true;
        });
      }
    }
  }
}

/** Checks the recovered state against the model; adopts what an in-flight change left. Returns the counts. */
function verify(stateDir: string, model: Model, cycle: number) {
  const { store, tunnels, report } = recover(stateDir, "check", { maxMirrors: 65536, sessionIdFor: sessionIdFromAcctSessionId });
  assert.is(report.damage, undefined, `kill ${cycle}: ${JSON.stringify(report.damage)}`);
  assert.equal(report.skipped, [], `kill ${cycle}: records that did not replay`);
  const targets = new Set(store.targetTable().map((t) => `${formatPrefix({ family: t.family, bytes: t.address, length: t.prefixLength })}>${t.interceptId}`));
  let sessions = 0;
  let mirrors = 0;
  for (const [acct, fact] of model.sessions) {
    const key = `${NAS}|${acct}`;
    const actual: SessionState = { exists: store.getSession(key) !== undefined, mirrors: store.mirrorsOf(key).map((m) => m.interceptId).sort() };
    const same = (s: SessionState) => s.exists === actual.exists && s.mirrors.join() === actual.mirrors.join();
    assert.ok(same(fact.value) || (fact.inFlight !== undefined && same(fact.inFlight)), `kill ${cycle}: session ${acct}: acknowledged ${JSON.stringify(fact.value)}, in flight ${JSON.stringify(fact.inFlight)}, recovered ${JSON.stringify(actual)}`);
    fact.value = actual;
    fact.inFlight = undefined;
    if (actual.exists) sessions++;
    mirrors += actual.mirrors.length;
    for (const m of store.mirrorsOf(key)) {
      assert.is(m.sessionId, sessionIdOf(m.interceptId));
      assert.ok(targets.has(`${fact.ip}>${m.interceptId}`), `kill ${cycle}: mirror ${m.id} of ${acct} has no target in the recovered table`);
    }
  }
  assert.is(store.sessionCount, sessions, `kill ${cycle}: sessions nobody created`);
  assert.is(store.mirrorCount, mirrors, `kill ${cycle}: mirror sessions nobody started`);
  let tunnelCount = 0;
  for (const [name, fact] of model.tunnels) {
    const actual = tunnels.get(name) !== undefined;
    assert.ok(actual === fact.value || actual === fact.inFlight, `kill ${cycle}: tunnel ${name}: acknowledged ${fact.value}, recovered ${actual}`);
    fact.value = actual;
    fact.inFlight = undefined;
    if (actual) tunnelCount++;
  }
  assert.is(tunnels.size, tunnelCount);
  const byValue = new Map([...store.allTriggers()].map((t) => [t.value, t.id]));
  for (const [value, fact] of model.triggers) {
    const actual = byValue.has(value);
    assert.ok(actual === fact.value || actual === fact.inFlight, `kill ${cycle}: trigger ${value}: acknowledged ${fact.value}, recovered ${actual}`);
    fact.value = actual;
    fact.inFlight = undefined;
    fact.id = byValue.get(value);
  }
  assert.is(byValue.size, [...model.triggers.values()].filter((t) => t.value).length);
  return { subscriberSessions: sessions, mirrorSessions: mirrors, tunnels: tunnelCount, triggers: byValue.size, torn: report.tornTail !== undefined, snapshot: report.snapshot !== undefined };
}

/**
 * Mirroring on the restarted daemon's output, from the moment it said "ready": sends one probe to
 * every subscriber address of the model (those without a mirror session first) and waits for the
 * copies the model's mirror sessions call for; they must be exactly those. Once the last expected
 * copy is in, every earlier probe has been through the one capture worker, so a copy for an
 * address without a mirror session would have arrived before it.
 */
async function checkMirroring(lab: Lab, model: Model, cycle: number, probed: Promise<{ errors: number; error: string }>, daemon?: Running): Promise<number> {
  const expected = new Map<string, number[]>();
  for (const fact of model.sessions.values()) expected.set(fact.ip, fact.value.mirrors);
  const want = [...expected.values()].reduce((n, m) => n + m.length, 0);
  const sent = await probed;
  const got: [number, number, string, string][] = [];
  const deadline = Date.now() + 10_000;
  while (got.length < want && Date.now() < deadline) {
    got.push(...(await lab.mirrored()));
    if (got.length < want) await new Promise((r) => setTimeout(r, 10));
  }
  if (want === 0) {
    // Nothing to wait for: give the worker a moment to show a copy it should not make.
    await new Promise((r) => setTimeout(r, 200));
    got.push(...(await lab.mirrored()));
  }
  let evidence = "";
  const copiesOf = () => {
    const seen = new Map<string, number[]>();
    for (const [interceptId, , dst] of got) seen.set(dst, [...(seen.get(dst) ?? []), interceptId].sort());
    return seen;
  };
  const short = () => [...expected].filter(([ip, mirrors]) => JSON.stringify(copiesOf().get(ip) ?? []) !== JSON.stringify(mirrors)).map(([ip]) => ip);
  if (got.length < want && daemon) {
    // Where were they lost? The data plane's counters (refreshed every 250 ms) tell iapd's part:
    // every probe captured but not every mirrored one matched, or a drop counted, is iapd's fault
    // and fails the test. Probes lost before capture (fewer frames captured than probes sent) or
    // copies lost after a drop-free egress (on the loopback to the mediation socket) are the
    // test network's: those probes are sent once more and must then be mirrored exactly.
    await new Promise((r) => setTimeout(r, 400));
    const metric = new Map<string, number>();
    for (const line of (await daemon.http("GET", "/metrics")).body.split("\n")) {
      const m = /^(iapd_[a-z_]+)(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/.exec(line);
      if (m) metric.set(m[1], (metric.get(m[1]) ?? 0) + Number(m[2]));
    }
    const count = (name: string) => metric.get(name) ?? 0;
    const shouldMatch = [...expected.values()].filter((m) => m.length > 0).length;
    evidence =
      `; ${expected.size} probes sent (${sent.errors} refused${sent.error ? `: ${sent.error}` : ""}), ${shouldMatch} to mirrored addresses; iapd since start: ` +
      ["frames", "frames_matched", "mirror_copies", "mirrored_packets", "mirror_drops", "capture_kernel_drops", "worker_restarts"].map((n) => `${n} ${count(`iapd_${n}_total`)}`).join(", ");
    const iapdLostThem =
      count("iapd_mirror_drops_total") > 0 ||
      count("iapd_capture_kernel_drops_total") > 0 ||
      (sent.errors === 0 && count("iapd_frames_total") >= expected.size && count("iapd_frames_matched_total") < shouldMatch);
    if (!iapdLostThem) {
      const again = short();
      console.log(`  crash: restart ${cycle}: ${want - got.length} copies missing, lost outside iapd (${evidence.slice(2)}); ${again.length} probes sent again`);
      const resent = await lab.probe(again, PROBE_PORT, `probe ${cycle}`);
      evidence += `; ${again.length} probes sent again (${resent.errors} refused)`;
      const until = Date.now() + 5_000;
      while (short().length > 0 && Date.now() < until) {
        got.push(...(await lab.mirrored()));
        if (short().length > 0) await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
  const seen = new Map<string, number[]>();
  for (const [interceptId, sessionId, dst, tag] of got) {
    assert.is(tag, `probe ${cycle}`, `restart ${cycle}: a mirrored packet from another cycle`);
    assert.is(sessionId, sessionIdOf(interceptId), `restart ${cycle}: session ID of intercept ${interceptId}`);
    seen.set(dst, [...(seen.get(dst) ?? []), interceptId].sort());
  }
  for (const [ip, mirrors] of expected) {
    assert.equal(seen.get(ip) ?? [], mirrors, `restart ${cycle}: mirrored copies of the probe to ${ip} (intercept IDs), ${got.length} of ${want} copies in all${evidence}`);
  }
  assert.equal([...seen.keys()].filter((ip) => !expected.has(ip)), [], `restart ${cycle}: copies for addresses nobody probed`);
  return want;
}

test(`crash: kill -9 iapd run ${KILLS} times under accounting, CoA and API changes; every acknowledged change survives, none is half-applied, mirroring resumes (on mirrored output) before ready`, async () => {
  const started = Date.now();
  const directory = tempDir("crash");
  const stateDir = join(directory, "state");
  mkdirSync(stateDir);
  const bundle = await iapdBundle();
  const config = writeConfig(directory, stateDir, 150, true);
  const model: Model = { sessions: new Map(), tunnels: new Map(), triggers: new Map() };
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000);
  const random = prng(seed);
  const lab = await Lab.open();
  const counter = { n: 0, acked: 0 };
  const problems: string[] = [];
  let expected: ReturnType<typeof verify> | undefined;
  let torn = 0;
  let copies = 0;
  let daemon: Running | undefined;
  try {
    const clients = await Promise.all(Array.from({ length: WORKERS }, () => RadiusClient.open(lab)));
    for (let cycle = 1; cycle <= KILLS; cycle++) {
      daemon = await startDaemon(bundle, config, lab);
      // Probes leave the moment "ready" is read: mirroring must already be in place.
      const addresses = [...model.sessions.values()].sort((a, b) => a.value.mirrors.length - b.value.mirrors.length).map((s) => s.ip);
      const probed = lab.probe(addresses, PROBE_PORT, `probe ${cycle}`);
      if (expected) {
        const stats = JSON.parse((await daemon.http("GET", "/v1/stats")).body) as Record<string, unknown>;
        assert.equal(
          { subscriberSessions: stats.subscriberSessions, mirrorSessions: stats.mirrorSessions, tunnels: stats.tunnels, triggers: stats.triggers, ready: stats.ready },
          { subscriberSessions: expected.subscriberSessions, mirrorSessions: expected.mirrorSessions, tunnels: expected.tunnels, triggers: expected.triggers, ready: true },
          `restart ${cycle}: the daemon restored what recovery found`,
        );
      }
      copies += await checkMirroring(lab, model, cycle, probed, daemon);
      let running = true;
      const workers = clients.map((radius, w) => worker(w, daemon!, radius, model, random, () => running, counter, problems));
      await new Promise((r) => setTimeout(r, 30 + random() * 220));
      daemon.child.kill("SIGKILL");
      await daemon.exited;
      running = false;
      for (const c of clients) c.abort();
      await Promise.all(workers);
      assert.equal(problems, []);
      try {
        expected = verify(stateDir, model, cycle);
      } catch (e) {
        (e as Error).message += ` (CRASH_SEED=${seed}, state directory ${stateDir})`;
        throw e;
      }
      if (expected.torn) torn++;
    }
    // The last state, as the last kill left it, on a daemon's output too.
    daemon = await startDaemon(bundle, config, lab);
    const addresses = [...model.sessions.values()].sort((a, b) => a.value.mirrors.length - b.value.mirrors.length).map((s) => s.ip);
    copies += await checkMirroring(lab, model, KILLS + 1, lab.probe(addresses, PROBE_PORT, `probe ${KILLS + 1}`), daemon);
    await Promise.all(clients.map((c) => c.close()));
  } catch (e) {
    (e as Error).message += ` (CRASH_SEED=${seed})`;
    if (daemon) (e as Error).message += `\n${daemon.log.join("").split("\n").filter((l) => !l.includes("cannot bind a UDP socket")).join("\n").slice(-3000)}`;
    throw e;
  } finally {
    if (daemon?.child.pid && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      process.kill(daemon.child.pid, "SIGKILL");
      await daemon.exited;
    }
    await lab.close();
  }
  assert.ok(counter.acked > KILLS * 5, `${counter.acked} acknowledged changes`);
  assert.ok(expected!.mirrorSessions > 0, "mirror sessions were active at the end");
  console.log(`  crash: ${KILLS} kills, ${counter.acked} acknowledged changes, ${torn} torn tail(s), ${copies} mirrored copies checked over ${KILLS + 1} starts, final ${JSON.stringify(expected)}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test("a damaged journal stops iapd run with a message naming file and offset; after iapd state repair it starts with the intact records", async () => {
  const directory = tempDir("damaged");
  const stateDir = join(directory, "state");
  const state = await DurableState.open({ directory: stateDir, snapshotEveryRecords: 1000, store: { sessionIdFor: sessionIdFromAcctSessionId } });
  for (let i = 0; i < 4; i++) {
    state.store.upsertSession({ nas: NAS, acctSessionId: `d${i}`, framedIpAddress: `100.64.9.${i}` }, Date.now());
    await state.commit();
  }
  const path = join(stateDir, journalName(1));
  const bytes = readFileSync(path);
  const second = readFrames(bytes).records[2].offset;
  bytes[second + 16] ^= 0x20;
  writeFileSync(path, bytes);
  const bundle = await iapdBundle();
  const config = writeConfig(directory, stateDir, 1000);
  await startDaemon(bundle, config).then(
    () => assert.unreachable("iapd must not start"),
    (e: Error) => {
      assert.match(e.message, `iapd exited (1) before ready`);
      assert.match(e.message, `${journalName(1)} is damaged at byte ${second}`);
      assert.match(e.message, "iapd state repair");
    },
  );
  const repair = spawnSync(process.execPath, [bundle, "state", "repair", "--config", config], { encoding: "utf8" });
  assert.is(repair.status, 0, repair.stderr + repair.stdout);
  const daemon = await startDaemon(bundle, config);
  try {
    const stats = JSON.parse((await daemon.http("GET", "/v1/stats")).body) as { subscriberSessions: number };
    assert.is(stats.subscriberSessions, 1);
  } finally {
    // process.kill rather than child.kill: after child.kill(), Deno's node:child_process reports the
    // child's exit as (null, "SIGTERM") whatever its real status, hiding the exit code under test.
    process.kill(daemon.child.pid!, "SIGTERM");
    assert.is(await daemon.exited, 0);
  }
});

test.run();
