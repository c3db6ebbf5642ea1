import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { stateCommand } from "../../runtime/state/cli.ts";
import { readFrames } from "../../runtime/state/frame.ts";
import { journalName } from "../../runtime/state/recovery.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { STORE_OPTIONS, tempDir } from "./world.ts";

async function cli(...args: string[]) {
  const out: string[] = [];
  const code = await stateCommand(args, (l) => out.push(l), (l) => out.push(l));
  return { code, text: out.join("\n") };
}

test("iapd state check / repair: damage named with file and offset, repair keeps the prefix, moves the rest aside, and start-up works again", async () => {
  const directory = tempDir("cli");
  const state = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  for (let i = 0; i < 6; i++) {
    state.store.upsertSession({ nas: "192.0.2.1", acctSessionId: String(i), framedIpAddress: `100.64.0.${i}` }, i);
    await state.commit();
  }
  state.store.startMirror("192.0.2.1|1", { interceptId: 5, sessionId: 1, mediation: { address: "198.51.100.1", port: 30030 } }, { kind: "coa" }, 10);
  await state.commit();
  const ok = await cli("check", "--state", directory);
  assert.is(ok.code, 0, ok.text);
  assert.match(ok.text, "6 session(s), 1 mirror session(s), 1 target(s)");

  const path = join(directory, journalName(1));
  const bytes = readFileSync(path);
  const fourth = readFrames(bytes).records[4].offset;
  bytes[fourth + 30] ^= 0xff;
  writeFileSync(path, bytes);
  const damaged = await cli("check", "--state", directory, "--json");
  assert.is(damaged.code, 1);
  const report = JSON.parse(damaged.text);
  assert.equal(report.damage.file, journalName(1));
  assert.is(report.damage.offset, fourth);
  assert.is(report.counts.sessions, 3);

  const repair = await cli("repair", "--state", directory);
  assert.is(repair.code, 0, repair.text);
  assert.match(repair.text, `moved aside: ${journalName(1)} bytes ${fourth}..${bytes.length}`);
  assert.ok(readdirSync(directory).includes(`${journalName(1)}.damaged-at-${fourth}`));
  const after = await cli("check", "--state", directory);
  assert.is(after.code, 0, after.text);
  const reopened = await DurableState.open({ directory, snapshotEveryRecords: 1000, store: STORE_OPTIONS });
  assert.is(reopened.store.sessionCount, 3);
  await reopened.close();
  assert.is((await cli("frobnicate")).code, 2);
});

test.run();
