/**
 * The API request suite, over real HTTP against a server on a loopback port. `api.test.ts` runs it
 * against the Node adapter in-process, `deno.test.ts` against the Deno adapter in a `deno run`
 * process; the requests and expectations are the same.
 */
import * as fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { triggerBody } from "../../api/routes/triggers.ts";
import { tunnelBody } from "../../api/routes/tunnels.ts";
import { verifyAuditLog, type AuditRecord } from "../../runtime/audit/log.ts";
import type { Role } from "../../runtime/config/api.ts";
import type { SessionAttributes } from "../../runtime/sessions/store.ts";
import { TOKENS, type Control, type Seeded } from "./world.ts";

export interface Target {
  /** http://127.0.0.1:PORT */
  base: string;
  control: Control;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  type: string;
  text: string;
  body: any;
}

const ROLES: Role[] = ["viewer", "operator", "li-admin"];

export function apiSuite(name: string, start: () => Promise<Target>) {
  const test = suite<{ t: Target }>(name);
  let t: Target;

  async function req(method: string, path: string, role: Role | null, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const h: Record<string, string> = { ...headers };
    if (role) h.authorization = `Bearer ${TOKENS[role]}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === "string" ? body : JSON.stringify(body);
      h["content-type"] ??= "application/json";
    }
    const res = await fetch(`${t.base}${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, type: res.headers.get("content-type") ?? "", text, body: parsed };
  }
  const get = (path: string, role: Role | null = "li-admin") => req("GET", path, role);

  /** Asserts a problem+json answer naming `field` (when given). */
  function isProblem(r: Reply, status: number, field?: string) {
    assert.is(r.status, status, r.text);
    assert.is(r.type, "application/problem+json", r.text);
    assert.is(r.body.status, status);
    assert.type(r.body.title, "string");
    assert.type(r.body.detail, "string");
    if (field !== undefined) assert.ok(r.body.errors?.some((e: { field: string }) => e.field === field), `${field} not named in ${r.text}`);
  }

  async function audit(): Promise<AuditRecord[]> {
    return readFileSync(await t.control.auditPath(), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
  }

  test.before(async () => {
    t = await start();
  });
  test.after(async () => {
    await t.close();
  });

  test("health, readiness and the OpenAPI document need no token; everything else does", async () => {
    assert.equal((await get("/healthz", null)).body, { status: "ok" });
    assert.equal((await get("/readyz", null)).body, { status: "ready" });
    const doc = await get("/v1/openapi.json", null);
    assert.is(doc.status, 200);
    assert.is(doc.body.openapi, "3.1.0");
    for (const p of ["/v1/sessions", "/v1/sessions/{id}", "/v1/mirrors", "/v1/mirrors/{id}", "/v1/triggers", "/v1/triggers/{id}", "/v1/tunnels", "/v1/tunnels/{name}", "/v1/filters", "/v1/stats", "/metrics", "/healthz", "/readyz"]) {
      assert.ok(doc.body.paths[p], `${p} missing from the OpenAPI document`);
    }
    // Generated from the schemas that validate: strict bodies, the limits, the enum of kinds.
    const trig = doc.body.paths["/v1/triggers"].post.requestBody.content["application/json"].schema;
    assert.is(trig.additionalProperties, false);
    assert.equal(trig.properties.kind.enum, ["acct-session-id", "calling-station-id", "ip-address", "username", "nas-port-id"]);
    assert.is(trig.properties.interceptId.maximum, 0x3fffffff);
    for (const path of ["/v1/sessions", "/v1/stats", "/metrics", "/v1/mirrors"]) {
      isProblem(await get(path, null), 401);
      isProblem(await req("GET", path, null, undefined, { authorization: "Bearer not-a-token" }), 401);
      isProblem(await req("GET", path, null, undefined, { authorization: `Basic ${TOKENS["li-admin"]}` }), 401);
    }
  });

  test("every route x every role", async () => {
    type Row = [method: string, path: (s: Seeded) => string, body: unknown, expect: Record<Role, number>];
    const LI = { viewer: 404, operator: 404, "li-admin": 200 };
    const rows: Row[] = [
      ["GET", () => "/healthz", undefined, { viewer: 200, operator: 200, "li-admin": 200 }],
      ["GET", () => "/readyz", undefined, { viewer: 200, operator: 200, "li-admin": 200 }],
      ["GET", () => "/v1/openapi.json", undefined, { viewer: 200, operator: 200, "li-admin": 200 }],
      ["GET", () => "/metrics", undefined, { viewer: 200, operator: 200, "li-admin": 200 }],
      ["GET", () => "/v1/stats", undefined, { viewer: 200, operator: 200, "li-admin": 200 }],
      ["GET", () => "/v1/filters", undefined, { viewer: 403, operator: 200, "li-admin": 200 }],
      ["GET", () => "/v1/sessions", undefined, { viewer: 403, operator: 200, "li-admin": 200 }],
      ["GET", (s) => `/v1/sessions/${s.sessions.bob}`, undefined, { viewer: 403, operator: 200, "li-admin": 200 }],
      ["DELETE", (s) => `/v1/sessions/${s.sessions.alice}`, undefined, LI],
      ["GET", () => "/v1/mirrors", undefined, LI],
      ["GET", (s) => `/v1/mirrors/${s.mirror}`, undefined, LI],
      ["DELETE", (s) => `/v1/mirrors/${s.mirror}`, undefined, LI],
      ["GET", () => "/v1/triggers", undefined, LI],
      ["POST", () => "/v1/triggers", { kind: "username", value: "bob", interceptId: 11, mediation: { address: "198.51.100.2", port: 4000 } }, { ...LI, "li-admin": 201 }],
      ["GET", (s) => `/v1/triggers/${s.trigger}`, undefined, LI],
      ["DELETE", (s) => `/v1/triggers/${s.trigger}`, undefined, LI],
      ["GET", () => "/v1/tunnels", undefined, { viewer: 403, operator: 200, "li-admin": 200 }],
      ["GET", (s) => `/v1/tunnels/${s.tunnel}`, undefined, { viewer: 403, operator: 200, "li-admin": 200 }],
      ["POST", () => "/v1/tunnels", { name: "md2", sourceAddress: "192.0.2.2", dscp: 46 }, { viewer: 403, operator: 403, "li-admin": 201 }],
      ["DELETE", (s) => `/v1/tunnels/${s.tunnel}`, undefined, { viewer: 403, operator: 403, "li-admin": 200 }],
    ];
    const unknownPath = await get("/v1/no-such-thing", "operator");
    const open = new Set(["/healthz", "/readyz", "/v1/openapi.json"]);
    for (const [method, path, body] of rows) {
      const seeded = await t.control.reset();
      const r = await req(method, path(seeded), null, body);
      assert.is(r.status, open.has(path(seeded)) ? 200 : 401, `${method} ${path(seeded)} without a token: ${r.text}`);
    }
    for (const [method, path, body, expect] of rows) {
      for (const role of ROLES) {
        const seeded = await t.control.reset();
        const before = await t.control.snapshot();
        const r = await req(method, path(seeded), role, body);
        assert.is(r.status, expect[role], `${method} ${path(seeded)} as ${role}: ${r.text}`);
        if (r.status >= 400) {
          assert.is(r.type, "application/problem+json");
          // Refused requests change nothing but the audit count (denied LI attempts are recorded).
          const after = JSON.parse(await t.control.snapshot());
          assert.equal({ ...after, audit: 0 }, { ...JSON.parse(before), audit: 0 }, `${method} ${path(seeded)} as ${role} changed state`);
        }
        // LI objects hidden from a role look exactly like a path that does not exist.
        if (r.status === 404) assert.is(r.text, unknownPath.text);
      }
    }
  });

  test("operators see sessions without LI fields; li-admin sees whether each is mirrored", async () => {
    const s = await t.control.reset();
    const audited = (await audit()).length;
    const op = await get("/v1/sessions", "operator");
    assert.is(op.body.items.length, 3);
    assert.is((await audit()).length, audited, "an operator's read is not an LI action");
    for (const item of op.body.items) {
      assert.not.ok("mirrored" in item, op.text);
      assert.not.ok("mirrors" in item, op.text);
    }
    assert.not.ok((await get(`/v1/sessions/${s.sessions.alice}`, "operator")).text.includes("mirror"));
    const li = await get(`/v1/sessions/${s.sessions.alice}`, "li-admin");
    assert.is(li.body.mirrored, true);
    assert.equal(li.body.mirrors, [s.mirror]);
    assert.is(li.body.acctSessionId, "a-1");
    const bob = await get(`/v1/sessions/${s.sessions.bob}`, "li-admin");
    assert.is(bob.body.acctSessionId, "b/2 x");
    assert.is(bob.body.mirrored, false);
    // The mirrored filter is not there for operators: the same answer as any unknown parameter.
    isProblem(await get("/v1/sessions?mirrored=true", "operator"), 400, "query.mirrored");
    isProblem(await get("/v1/sessions?bogus=1", "operator"), 400, "query.bogus");
    // Aggregates: LI counts for li-admin only, nowhere in /metrics.
    const opStats = (await get("/v1/stats", "viewer")).body;
    assert.equal(opStats, { subscriberSessions: 3, tunnels: 1, ready: true });
    const liStats = (await get("/v1/stats", "li-admin")).body;
    assert.is(liStats.mirrorSessions, 2);
    assert.is(liStats.triggers, 1);
    const metrics = await get("/metrics", "viewer");
    assert.match(metrics.type, /^text\/plain/);
    assert.match(metrics.text, /^iapd_subscriber_sessions 3$/m);
    assert.match(metrics.text, /^iapd_api_requests_total\{method="GET",route="\/v1\/sessions\/:id",code="200"\} \d+$/m);
    for (const secret of ["alice", "carol", "intercept", "mirror_sessions", "a-1", s.sessions.alice]) assert.not.ok(metrics.text.includes(secret), `/metrics mentions ${secret}`);
  });

  test("session list filters", async () => {
    const s = await t.control.reset();
    const ids = async (q: string, role: Role = "li-admin") => {
      const r = await get(`/v1/sessions${q}`, role);
      assert.is(r.status, 200, r.text);
      return (r.body.items as { id: string }[]).map((x) => x.id).sort();
    };
    assert.equal(await ids("?user=alice"), [s.sessions.alice]);
    assert.equal(await ids("?address=100.64.0.2", "operator"), [s.sessions.bob]);
    assert.equal(await ids("?address=2001:db8:100:ff::1"), [s.sessions.alice]);
    assert.equal(await ids("?address=2001:db8:101::1"), []);
    assert.equal(await ids("?nas=192.0.2.7"), [s.sessions.alice, s.sessions.bob].sort());
    assert.equal(await ids("?nas=bng1"), [s.sessions.alice]);
    assert.equal(await ids("?mirrored=true"), [s.sessions.alice, s.sessions.carol].sort());
    assert.equal(await ids("?mirrored=false"), [s.sessions.bob]);
    assert.equal(await ids("?mirrored=true&nas=192.0.2.8"), [s.sessions.carol]);
    assert.equal(await ids("?user=alice&nas=192.0.2.8"), []);
    isProblem(await get("/v1/sessions?address=100.64.0.256"), 400, "query.address");
    isProblem(await get("/v1/sessions?limit=1001"), 400, "query.limit");
    isProblem(await get("/v1/sessions?limit=0"), 400, "query.limit");
    isProblem(await get("/v1/sessions?limit=abc"), 400, "query.limit");
    isProblem(await get("/v1/sessions?user=a&user=b"), 400, "query.user");
    isProblem(await get("/v1/sessions/not-an-id"), 404);
  });

  test("pagination under concurrent churn: every session present throughout is seen exactly once", async () => {
    await t.control.reset();
    let serial = 0;
    const mk = (): SessionAttributes => {
      const i = serial++;
      return { nas: `192.0.2.${1 + (i % 3)}`, acctSessionId: `churn-${i}`, userName: `u${i % 7}`, framedIpAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` };
    };
    await t.control.addSessions(Array.from({ length: 1200 }, mk));
    const walk = async (query: string, between: () => Promise<void>) => {
      const seen: string[] = [];
      let next: string | null = null;
      let pages = 0;
      do {
        const r = await get(`/v1/sessions?limit=37${query}${next ? `&cursor=${next}` : ""}`, "operator");
        assert.is(r.status, 200, r.text);
        seen.push(...r.body.items.map((x: { id: string }) => x.id));
        next = r.body.next;
        pages++;
        await between();
      } while (next !== null);
      return { seen, pages };
    };
    for (const query of ["", "&nas=192.0.2.2", "&user=u3", "&address=10.0.2.17"]) {
      const { seen: initial } = await walk(query, async () => {});
      const ended = new Set<string>();
      let round = 0;
      const { seen, pages } = await walk(query, async () => {
        // Between pages: end some sessions of the listing (seen or not yet), start new ones.
        const victims = initial.filter((id, i) => !ended.has(id) && (i * 7 + round++) % 53 === 0).slice(0, 5);
        await t.control.endSessions(victims);
        for (const v of victims) ended.add(v);
        await t.control.addSessions(Array.from({ length: 5 }, mk));
        // Interim-Updates of sessions in the listing: an update must not move a session.
        const updated = initial.filter((id, i) => !ended.has(id) && (i + round) % 97 === 0).slice(0, 3);
        await t.control.addSessions(updated.map((id) => {
          const [nas, acctSessionId] = Buffer.from(id, "base64url").toString().split("|");
          return { nas, acctSessionId, nasPortId: `port-${round}` };
        }));
      });
      assert.is(new Set(seen).size, seen.length, `a session was returned twice (${query})`);
      const seenSet = new Set(seen);
      const throughout = initial.filter((id) => !ended.has(id));
      for (const id of throughout) assert.ok(seenSet.has(id), `a session present throughout was not listed (${query})`);
      assert.ok(initial.length === 1 || ended.size > 0, query);
      if (query === "") assert.ok(pages > 30 && throughout.length > 1000, `${pages} pages, ${throughout.length}`);
    }
  });

  test("user-filtered pages under churn (index snapshot) and cursor rules", async () => {
    await t.control.reset();
    await t.control.addSessions(Array.from({ length: 300 }, (_, i) => ({ nas: "192.0.2.9", acctSessionId: `x${i}`, userName: "shared" })));
    const all = Array.from({ length: 300 }, (_, i) => Buffer.from(`192.0.2.9|x${i}`).toString("base64url"));
    const gone = all.filter((_, i) => i % 5 === 0);
    const seen: string[] = [];
    let r = await get("/v1/sessions?user=shared&limit=50", "operator");
    seen.push(...r.body.items.map((x: { id: string }) => x.id));
    await t.control.endSessions(gone.filter((id) => !seen.includes(id)));
    await t.control.addSessions([{ nas: "192.0.2.9", acctSessionId: "late", userName: "shared" }]);
    while (r.body.next) {
      r = await get(`/v1/sessions?user=shared&limit=50&cursor=${r.body.next}`, "operator");
      assert.is(r.status, 200, r.text);
      seen.push(...r.body.items.map((x: { id: string }) => x.id));
    }
    assert.is(new Set(seen).size, seen.length);
    for (const id of all) if (!gone.includes(id) || seen.includes(id)) assert.ok(seen.includes(id));
    for (const id of seen) assert.ok(all.includes(id) || id === Buffer.from("192.0.2.9|late").toString("base64url"));

    const first = await get("/v1/sessions?limit=2", "operator");
    const cursor = first.body.next as string;
    isProblem(await get(`/v1/sessions?limit=2&cursor=${cursor}&user=shared`, "operator"), 400, "query.cursor");
    isProblem(await get(`/v1/sessions?limit=2&cursor=${cursor}`, "li-admin"), 410); // another token's cursor
    assert.is((await get(`/v1/sessions?limit=2&cursor=${cursor}`, "operator")).status, 200);
    isProblem(await get(`/v1/sessions?limit=2&cursor=${cursor}`, "operator"), 410); // used
    isProblem(await get(`/v1/sessions?cursor=${"A".repeat(22)}`, "operator"), 410);
    isProblem(await get("/v1/sessions?cursor=short", "operator"), 400, "query.cursor");
  });

  test("mirror sessions: list with counters, get, terminate (audited)", async () => {
    const s = await t.control.reset();
    const list = await get("/v1/mirrors");
    assert.is(list.body.items.length, 2);
    const m = list.body.items.find((x: { id: string }) => x.id === s.mirror);
    assert.equal(m.counters, { packets: 0, bytes: 0, drops: { output_full: 0, oversize: 0, too_many_copies: 0, socket_full: 0, unreachable: 0, too_big: 0, other: 0 } });
    assert.is(m.session, s.sessions.alice);
    assert.equal(m.origin, { kind: "coa" });
    assert.equal((await get("/v1/mirrors?interceptId=9")).body.items.map((x: { interceptId: number }) => x.interceptId), [9]);
    assert.equal((await get(`/v1/mirrors?session=${s.sessions.alice}`)).body.items.map((x: { id: string }) => x.id), [s.mirror]);
    isProblem(await get("/v1/mirrors?interceptId=1073741824"), 400, "query.interceptId");
    assert.is((await get(`/v1/mirrors/${s.mirror}`)).body.interceptId, 7);
    const del = await req("DELETE", `/v1/mirrors/${s.mirror}`, "li-admin");
    assert.is(del.status, 200);
    assert.is(del.body.id, s.mirror);
    isProblem(await get(`/v1/mirrors/${s.mirror}`), 404);
    isProblem(await req("DELETE", `/v1/mirrors/${s.mirror}`, "li-admin"), 404);
    assert.is((await get(`/v1/sessions/${s.sessions.alice}`)).body.mirrored, false);
    const records = (await audit()).filter((r) => r.action === "mirror.terminate");
    const [ok, missing] = records.slice(-2);
    assert.equal([ok.actor, ok.action, ok.object, ok.outcome], ["api:li-admin-user", "mirror.terminate", `mirror:${s.mirror}`, "ok"]);
    assert.equal([missing.action, missing.outcome], ["mirror.terminate", "not-found"]);
  });

  test("DELETE a session terminates its mirrors and keeps the session", async () => {
    const s = await t.control.reset();
    const r = await req("DELETE", `/v1/sessions/${s.sessions.alice}`, "li-admin");
    assert.equal(r.body, { session: s.sessions.alice, terminated: [s.mirror] });
    assert.equal((await get(`/v1/sessions/${s.sessions.alice}`)).body.mirrors, []);
    const last = (await audit()).filter((r) => r.action === "session.terminate-mirrors").at(-1)!;
    assert.equal([last.actor, last.object, last.outcome], ["api:li-admin-user", "session:192.0.2.7|a-1", "ok"]);
  });

  test("triggers: create applies at once, list, get, delete ends its mirrors", async () => {
    const s = await t.control.reset();
    const created = await req("POST", "/v1/triggers", "li-admin", { kind: "ip-address", value: "100.64.0.2", interceptId: 12, sessionId: 5, mediation: { address: "198.51.100.9", port: 30030 }, dscp: 46 });
    assert.is(created.status, 201, created.text);
    const id = created.body.trigger.id;
    assert.is(created.body.applied.length, 1);
    const bob = await get(`/v1/sessions/${s.sessions.bob}`);
    assert.equal(bob.body.mirrors, created.body.applied);
    assert.equal((await get(`/v1/mirrors/${created.body.applied[0]}`)).body.origin, { kind: "trigger", triggerId: id });
    assert.is((await get("/v1/triggers")).body.items.length, 2);
    // A cursor continues only the listing that opened it, even with the same (no) filters.
    const triggerCursor = (await get("/v1/triggers?limit=1")).body.next as string;
    assert.type(triggerCursor, "string");
    isProblem(await get(`/v1/sessions?cursor=${triggerCursor}`), 400, "query.cursor");
    isProblem(await get(`/v1/mirrors?cursor=${triggerCursor}`), 400, "query.cursor");
    assert.is((await get(`/v1/triggers?limit=1&cursor=${triggerCursor}`)).body.items.length, 1);
    assert.is((await get(`/v1/triggers/${id}`)).body.dscp, 46);
    const del = await req("DELETE", `/v1/triggers/${id}`, "li-admin");
    assert.equal(del.body.ended, created.body.applied);
    assert.equal((await get(`/v1/sessions/${s.sessions.bob}`)).body.mirrors, []);
    isProblem(await get(`/v1/triggers/${id}`), 404);
    const actions = (await audit()).filter((r) => /^(trigger\.(create|delete)|mirror\.start)$/.test(r.action)).slice(-3).map((r) => `${r.actor} ${r.action} ${r.outcome}`);
    assert.equal(actions, [`api:li-admin-user trigger.create ok`, `trigger:${id} mirror.start ok`, `api:li-admin-user trigger.delete ok`]);
    // Reads of LI objects by li-admin leave a trace too; operators' session reads do not.
    const reads = (await audit()).filter((r) => r.action === "trigger.get").slice(-2).map((r) => `${r.object} ${r.outcome}`);
    assert.equal(reads, [`trigger:${id} ok`, `trigger:${id} not-found`]);
  });

  test("tunnels: validation names the field, conflicts, removal", async () => {
    await t.control.reset();
    isProblem(await req("POST", "/v1/tunnels", "li-admin", { name: "bad name", sourceAddress: "192.0.2.1" }), 400, "body.name");
    isProblem(await req("POST", "/v1/tunnels", "li-admin", { name: "t2", sourceAddress: "2001:db8::1" }), 400, "body.sourceAddress");
    isProblem(await req("POST", "/v1/tunnels", "li-admin", { name: "t2", sourceAddress: "192.0.2.1", interface: "eth/0" }), 400, "body.interface");
    isProblem(await req("POST", "/v1/tunnels", "li-admin", { name: "t2", sourceAddress: "192.0.2.1", dscp: 64 }), 400, "body.dscp");
    isProblem(await req("POST", "/v1/tunnels", "li-admin", { name: "md1", sourceAddress: "192.0.2.1" }), 409);
    const ok = await req("POST", "/v1/tunnels", "li-admin", { name: "t2", sourceAddress: "192.0.2.3", interface: "eth1", dscp: 10 });
    assert.is(ok.status, 201);
    assert.equal((await get("/v1/tunnels", "operator")).body.items.map((x: { name: string }) => x.name), ["md1", "t2"]);
    assert.is((await req("DELETE", "/v1/tunnels/t2", "li-admin")).status, 200);
    isProblem(await req("DELETE", "/v1/tunnels/t2", "li-admin"), 404);
    assert.equal((await get("/v1/filters", "operator")).body.active, "jmirror");
  });

  test("problem+json for malformed JSON, wrong types, unknown fields, wrong media type, huge bodies; none changes state", async () => {
    await t.control.reset();
    const before = await t.control.snapshot();
    const valid = { kind: "username", value: "zed", interceptId: 1, mediation: { address: "198.51.100.1", port: 1 } };
    isProblem(await req("POST", "/v1/triggers", "li-admin", "{\"kind\": \"username\","), 400, "body");
    isProblem(await req("POST", "/v1/triggers", "li-admin", { ...valid, interceptId: "1" }), 400, "body.interceptId");
    isProblem(await req("POST", "/v1/triggers", "li-admin", { ...valid, mediation: { address: "198.51.100.1", port: 0 } }), 400, "body.mediation.port");
    isProblem(await req("POST", "/v1/triggers", "li-admin", { ...valid, extra: true }), 400, "body.extra");
    isProblem(await req("POST", "/v1/triggers", "li-admin", { ...valid, mediation: { address: "198.51.100.1", port: 1, x: 1 } }), 400, "body.mediation.x");
    isProblem(await req("POST", "/v1/triggers", "li-admin", { ...valid, kind: "ip-address", value: "bob" }), 400, "body.value");
    isProblem(await req("POST", "/v1/triggers", "li-admin", [valid]), 400);
    isProblem(await req("POST", "/v1/triggers", "li-admin", "null"), 400);
    isProblem(await req("POST", "/v1/triggers", "li-admin", JSON.stringify(valid), { "content-type": "text/plain" }), 415);
    const wrong = await req("POST", "/v1/triggers", "li-admin", { ...valid, interceptId: "1" });
    assert.match(wrong.body.errors[0].problem, /expected an intercept ID \(an integer 0..1073741823\), found "1"/);
    const huge = { ...valid, value: "x".repeat(70 * 1024) };
    isProblem(await req("POST", "/v1/triggers", "li-admin", huge), 413);
    // Without Content-Length (chunked), the limit still holds.
    const chunks = new ReadableStream({
      start(ctl) {
        for (let i = 0; i < 80; i++) ctl.enqueue(new TextEncoder().encode("x".repeat(1024)));
        ctl.close();
      },
    });
    const res = await fetch(`${t.base}/v1/tunnels`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKENS["li-admin"]}`, "content-type": "application/json" },
      body: chunks,
      duplex: "half",
    } as RequestInit);
    assert.is(res.status, 413);
    await res.text();
    assert.is(await t.control.snapshot(), before);
  });

  test("property: random request bodies never give a 5xx, and a refused one never changes state", async () => {
    await t.control.reset();
    const mediation = fc.record({ address: fc.oneof(fc.ipV4(), fc.string(), fc.integer()), port: fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.string()) }, { requiredKeys: [] });
    const nearTrigger = fc.record(
      {
        kind: fc.oneof(fc.constantFrom("acct-session-id", "calling-station-id", "ip-address", "username", "nas-port-id"), fc.string()),
        value: fc.oneof(fc.string(), fc.ipV4(), fc.integer()),
        interceptId: fc.oneof(fc.integer({ min: -2, max: 2 ** 31 }), fc.double(), fc.string()),
        sessionId: fc.oneof(fc.integer({ min: -2, max: 2 ** 33 }), fc.constant(null)),
        mediation: fc.oneof(mediation, fc.anything()),
        dscp: fc.oneof(fc.integer({ min: -1, max: 64 }), fc.string()),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    );
    const nearTunnel = fc.record(
      { name: fc.string({ maxLength: 40 }), sourceAddress: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), interface: fc.string({ maxLength: 20 }), dscp: fc.integer({ min: -1, max: 64 }), x: fc.anything() },
      { requiredKeys: [] },
    );
    const body = (near: fc.Arbitrary<unknown>) =>
      fc.oneof(near.map((v) => JSON.stringify(v)), fc.jsonValue().map((v) => JSON.stringify(v)), fc.string(), fc.string().map((s) => `{"kind":${s}`));
    const check = async (path: string, schema: { safeParse(v: unknown): { success: boolean } }, raw: string) => {
      const before = await t.control.snapshot();
      const r = await req("POST", path, "li-admin", raw);
      assert.ok(r.status < 500, `${path} ${raw} -> ${r.status} ${r.text}`);
      let parsed: unknown;
      let isJson = true;
      try {
        parsed = JSON.parse(raw);
      } catch {
        isJson = false;
      }
      const acceptable = isJson && schema.safeParse(parsed).success;
      if (r.status >= 400) {
        assert.is(r.type, "application/problem+json");
        assert.is(await t.control.snapshot(), before, `${path} ${raw} -> ${r.status} changed state`);
      } else {
        assert.ok(acceptable, `${path} accepted a body its schema refuses: ${raw}`);
        await t.control.reset();
      }
    };
    await fc.assert(fc.asyncProperty(body(nearTrigger), (raw) => check("/v1/triggers", triggerBody, raw)), { numRuns: 200 });
    await fc.assert(fc.asyncProperty(body(nearTunnel), (raw) => check("/v1/tunnels", tunnelBody, raw)), { numRuns: 200 });
  });

  test("the audit log written through the API verifies", async () => {
    const path = await t.control.auditPath();
    const v = verifyAuditLog(path);
    assert.ok(v.ok, JSON.stringify(v));
    assert.ok(v.records > 10);
    // Denied LI attempts are recorded with the role's token name, never the token.
    const text = readFileSync(path, "utf8");
    assert.ok(text.includes('"actor":"api:operator-user","action":"li.access"'));
    for (const token of Object.values(TOKENS)) assert.not.ok(text.includes(token));
  });

  return test;
}
