import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createApp } from "../../api/app.ts";
import { hashToken } from "../../api/auth/tokens.ts";
import { zeroCounters } from "../../api/providers.ts";
import { AuditLog } from "../../runtime/audit/log.ts";
import { recover } from "../../runtime/state/recovery.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { STORE_OPTIONS, tempDir } from "./world.ts";

const TOKEN = "state-test-li-admin-token-0123456789";

async function world(commit?: () => Promise<void>) {
  const directory = tempDir("api");
  const state = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  const app = createApp({
    store: state.store,
    tunnels: state.tunnels,
    config: { tokens: [{ name: "li", role: "li-admin", sha256: hashToken(TOKEN) }] },
    audit: AuditLog.open(join(directory, "audit.log")),
    clock: Date.now,
    filters: { list: () => [] },
    counters: zeroCounters,
    commit: commit ?? (() => state.commit()),
  });
  const request = (method: string, path: string, body?: unknown) =>
    app.request(path, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { directory, state, request };
}

test("api: a 2xx to a change comes after the change is durable; a failed commit is a 500, not a 2xx", async () => {
  const { directory, state, request } = await world();
  state.store.upsertSession({ nas: "192.0.2.1", acctSessionId: "1", userName: "alice", framedIpAddress: "100.64.0.1" }, Date.now());
  const created = await request("POST", "/v1/triggers", { kind: "username", value: "alice", interceptId: 9, mediation: { address: "198.51.100.1", port: 30030 } });
  assert.is(created.status, 201);
  assert.is((await request("POST", "/v1/tunnels", { name: "md1", sourceAddress: "192.0.2.9" })).status, 201);
  // Read back from the files alone, as after kill -9 right after the answers.
  const { store, tunnels } = recover(directory, "check", STORE_OPTIONS);
  assert.is([...store.allTriggers()].length, 1);
  assert.is(store.mirrorCount, 1);
  assert.is(tunnels.size, 1);

  let release = () => {};
  const slow = await world(() => new Promise<void>((done) => (release = done)));
  slow.state.tunnels.add({ name: "md2", sourceAddress: "192.0.2.9" }, 1);
  let answered = false;
  const pending = Promise.resolve(slow.request("DELETE", "/v1/tunnels/md2")).then((r) => ((answered = true), r));
  await new Promise((r) => setTimeout(r, 50));
  assert.not.ok(answered, "no answer before the commit");
  release();
  assert.is((await pending).status, 200);

  const failing = await world(() => Promise.reject(new Error("disk gone")));
  const error = console.error;
  console.error = () => {};
  try {
    assert.is((await failing.request("POST", "/v1/tunnels", { name: "md3", sourceAddress: "192.0.2.9" })).status, 500);
  } finally {
    console.error = error;
  }
  await Promise.all([state.close(), slow.state.close()]);
});

test.run();
