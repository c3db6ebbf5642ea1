/**
 * The live data plane on Deno: the same workers, ring and egress through runtime/ffi/deno (Deno.dlopen),
 * capturing a ping on loopback in a namespace of its own and writing the copies to a pcap file that
 * tshark's jmirror dissector reads.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Lab } from "../../scripts/netns/netns.ts";

const DENO = fileURLToPath(new URL("../../node_modules/deno/deno", import.meta.url));
const ENTRY = fileURLToPath(new URL("./deno-entry.ts", import.meta.url));

test("on Deno: a ping on loopback is captured, matched and written as JMirror packets", () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), "iapd-dp-deno-"));
  try {
    const ns = lab.namespace("iapddp-deno");
    const pcap = join(dir, "out.pcap");
    const total = JSON.parse(execFileSync("ip", ["netns", "exec", ns, DENO, "run", "-A", ENTRY, pcap], { encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } }).trim().split("\n").at(-1)!);
    // Loopback shows each packet twice (sent and received): 3 requests and 3 replies.
    assert.is(total.frames, 12);
    assert.is(total.mirrored, 12);
    assert.is(total.sent, 12);
    assert.is(total.kernelDrops, 0);
    const ids = execFileSync("tshark", ["-r", pcap, "-d", "udp.port==30030,jmirror", "-Y", "jmirror", "-T", "fields", "-e", "jmirror.mid"], { encoding: "utf8" }).trim().split("\n");
    assert.equal(ids.map(Number), new Array(12).fill(7));
  } finally {
    lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
