/**
 * importState leaves the secondary indexes to later slices (SessionStore.indexSome) or the first
 * lookup: mutations in between, on sessions indexed or not yet, must leave exactly the lookups of a
 * store that indexed everything at once.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { TunnelRegistry } from "../../runtime/sessions/tunnels.ts";
import { dump, prng, randomOperation, STORE_OPTIONS, tryApply } from "./world.ts";

const LOOKUPS = ["endNasSessions", "addTrigger"];

/** Every lookup findSessions can make on the values the random world uses. */
function lookups(store: SessionStore): string {
  const out: string[] = [];
  const values = {
    acctSessionId: Array.from({ length: 60 }, (_, i) => String(i)),
    userName: Array.from({ length: 15 }, (_, i) => `user${i}`),
    framedIpAddress: Array.from({ length: 60 }, (_, i) => `100.64.${i % 2}.${i >> 1}`),
    callingStationId: Array.from({ length: 10 }, (_, i) => `cs-${i}`),
  };
  for (const [field, list] of Object.entries(values)) for (const v of list) out.push(`${field}=${v}: ${store.findSessions({ [field]: v }).map((s) => s.key).join(",")}`);
  return out.join("\n");
}

test("indexes built in slices after importState, with mutations in between, answer as indexes built at once", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = prng(seed);
    const a = new SessionStore(STORE_OPTIONS);
    const ta = new TunnelRegistry();
    let now = 1_000;
    for (let i = 0; i < 300; i++) tryApply(a, ta, randomOperation(a, ta, random, (now += 100)));
    const b = new SessionStore(STORE_OPTIONS);
    b.importState(structuredClone(a.exportState()));
    assert.is(b.indexing, a.sessionCount > 0, `seed ${seed}`);
    // Mutations (no lookups) applied to both while b indexes a few sessions at a time.
    const tb = new TunnelRegistry();
    for (const t of ta.list()) tb.add({ name: t.name, sourceAddress: t.sourceAddress, ...(t.dscp !== undefined ? { dscp: t.dscp } : {}) }, t.createdAt);
    for (let i = 0; i < 200; i++) {
      const op = randomOperation(a, ta, random, (now += 100));
      if (LOOKUPS.includes(op.op)) continue;
      assert.is(tryApply(b, tb, op), tryApply(a, ta, op), `seed ${seed} op ${i} ${op.op}`);
      if (random() < 0.3) b.indexSome(1 + Math.floor(random() * 5));
    }
    // Half the seeds finish in slices, half at the first lookup.
    if (seed % 2 === 0) while (b.indexSome(7));
    assert.is(lookups(b), lookups(a), `seed ${seed}`);
    assert.is(b.indexing, false);
    assert.is(dump(b, tb), dump(a, ta), `seed ${seed}`);
  }
});

test.run();
