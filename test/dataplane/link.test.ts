/**
 * The capture interface going down and up under a running data plane: no busy loop while it is
 * down (the socket's pending ENETDOWN is read, not polled on forever), capture resumes once it is up.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Lab } from "../../scripts/netns/netns.ts";
import { RUNTIME, tsArgs } from "../helpers/runtime.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const ticks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("capture interface down: the worker sleeps; up again: capture resumes", async () => {
  const lab = new Lab();
  try {
    const peer = lab.namespace("iapddp-lpeer");
    const iapd = lab.namespace("iapddp-liapd");
    lab.veth([peer, "iapddp-l0", "192.0.2.1/24"], [iapd, "iapddp-cap", "192.0.2.2/24"]);
    const config = {
      radius: { accounting: { listen: "127.0.0.1:0" }, dynamicAuthorization: { listen: "127.0.0.1:0" } },
      capture: { interfaces: [{ name: "iapddp-cap" }], blockSize: 1 << 16, blockCount: 8, retireTimeoutMs: 2 },
      egress: { mode: "pcap", path: "/dev/null" },
    };
    const host = lab.spawn(iapd, RUNTIME, tsArgs(join(ROOT, "test/dataplane/host.ts"), JSON.stringify(config)), { cwd: ROOT, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const request = (cmd: string) =>
      new Promise<Record<string, any>>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no answer to ${cmd}`)), 20_000);
        const on = (m: Record<string, any>) => {
          if (m.cmd !== cmd) return;
          host.off("message", on);
          clearTimeout(timer);
          m.error ? fail(new Error(m.error)) : done(m);
        };
        host.on("message", on);
        if (cmd !== "ready") host.send({ cmd });
      });
    await request("ready");
    lab.run(peer, "ping", "-c", "5", "-i", "0.01", "192.0.2.2");
    await sleep(50);
    const before = (await request("stats")).total.frames;
    assert.ok(before >= 5, `${before} frames before`);

    lab.run(iapd, "ip", "link", "set", "iapddp-cap", "down");
    await sleep(200);
    const cpu = ticks(host.pid!);
    await sleep(1000);
    const used = (ticks(host.pid!) - cpu) / 100;
    assert.ok(used < 0.3, `${used} s of CPU in 1 s while the capture interface was down`);

    lab.run(iapd, "ip", "link", "set", "iapddp-cap", "up");
    await sleep(300);
    lab.run(peer, "ping", "-c", "5", "-i", "0.01", "-W", "1", "192.0.2.2");
    await sleep(50);
    const after = (await request("stats")).total.frames;
    assert.ok(after >= before + 5, `${after - before} frames after the link came back`);
    await request("stop");
  } finally {
    lab.close();
  }
});

test.run();
