import { test } from "uvu";
import * as assert from "uvu/assert";
import { SessionStore } from "../../runtime/sessions/store.ts";
import { startIdleSweep } from "../../runtime/state/idle.ts";

const tick = () => new Promise((r) => setTimeout(r, 1100));

test("idle timeout: sessions not refreshed end with their mirrors, committed; time before iapd started does not count", async () => {
  const store = new SessionStore();
  let now = 1_000_000;
  store.upsertSession({ nas: "192.0.2.1", acctSessionId: "stopped-while-down", framedIpAddress: "100.64.0.1" }, 0);
  store.startMirror("192.0.2.1|stopped-while-down", { interceptId: 1, sessionId: 1, mediation: { address: "198.51.100.1", port: 30030 } }, { kind: "coa" }, 0);
  store.upsertSession({ nas: "192.0.2.1", acctSessionId: "alive" }, now);
  let commits = 0;
  const lines: string[] = [];
  const sweep = startIdleSweep({ store, idleTimeoutSeconds: 1, clock: () => now, commit: async () => void commits++, log: (l) => lines.push(l) });
  try {
    now += 500;
    await tick();
    assert.is(store.sessionCount, 2, "nothing ends before iapd has been up for one timeout");
    now += 1000;
    store.upsertSession({ nas: "192.0.2.1", acctSessionId: "alive" }, now - 200); // an Interim-Update
    await tick();
    assert.ok(store.getSession("192.0.2.1|alive"));
    assert.not.ok(store.getSession("192.0.2.1|stopped-while-down"));
    assert.is(store.mirrorCount, 0);
    assert.is(commits, 1);
    assert.equal(lines, ["idle timeout: ended 1 subscriber session(s) not refreshed for 1 s"]);
  } finally {
    sweep.stop();
  }
});

test.run();
