/**
 * End to end: the `iapd replay` command on real captures, its output decoded by tshark's Juniper
 * Packet Mirror dissector (an independent decoder), and its matching checked against tshark's own
 * reading of the input.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../runtime/config/load.ts";
import { WasmFilter } from "../../runtime/filter/wasm.ts";
import { replay } from "../../runtime/replay/replay.ts";

const dir = mkdtempSync(join(tmpdir(), "iapd-replay-"));
const DEMO_IN = "fixtures/captures/demo.pcap";
const DEMO_CONFIG = "fixtures/configs/demo.yaml";

function iapd(...args: string[]) {
  return spawnSync(process.execPath, ["bin/iapd.js", ...args], { encoding: "utf8" });
}

function tshark(file: string, fields: string[], extra: string[] = []): string[][] {
  const out = execFileSync(
    "tshark",
    ["-r", file, "-d", "udp.port==30030,jmirror", "-o", "ip.check_checksum:TRUE", ...extra, "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t", ...fields.flatMap((f) => ["-e", f])],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 },
  );
  return out.split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
}

interface Summary {
  frames: number;
  parsed: number;
  matched: number;
  mirrored: number;
  outPackets: number;
  fragmented: number;
  malformed: Record<string, number>;
  intercepts: { interceptId: number; sessionId: number; packets: number }[];
}

function replayJson(config: string, input: string, output: string): Summary {
  const r = iapd("replay", "--config", config, "--in", input, "--out", output, "--json");
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Summary;
}

/** Inner packets as tshark reads them: "src>dst/length" per IPv4 or IPv6 packet. */
function innerKey(row: string[], at: number): string {
  const [ipSrc, ipDst, ipLen, v6Src, v6Dst, v6Plen] = row.slice(at, at + 6).map((c) => c.split(","));
  // In the output, the first IPv4 header is the outer one; the mirrored packet is the last header.
  if (v6Src[0]) return `${v6Src.at(-1)}>${v6Dst.at(-1)}/${40 + Number(v6Plen.at(-1))}`;
  return `${ipSrc.at(-1)}>${ipDst.at(-1)}/${ipLen.at(-1)}`;
}

const INNER = ["ip.src", "ip.dst", "ip.len", "ipv6.src", "ipv6.dst", "ipv6.plen"];

test("demo replay: tshark decodes every copy as Juniper Packet Mirror with the right IDs and inner packets", () => {
  const out = join(dir, "demo.pcap");
  const s = replayJson(DEMO_CONFIG, DEMO_IN, out);
  assert.is(s.frames, 2000);
  assert.ok(s.mirrored > 50, `only ${s.mirrored} copies`);
  assert.is(s.intercepts.reduce((a, i) => a + i.packets, 0), s.mirrored);

  // Expected, by tshark on the input: which frames each intercept should see, in order.
  const expect = new Map<string, string[]>([
    ["0x000003e9/0x00000001", tshark(DEMO_IN, INNER, ["-Y", "ip.addr==100.64.0.1 or ipv6.addr==2001:db8:1000::/64"]).map((r) => innerKey(r, 0))],
    ["0x000003ea/0x0000002a", tshark(DEMO_IN, INNER, ["-Y", "ip.addr==100.64.0.4"]).map((r) => innerKey(r, 0))],
  ]);
  const got = new Map<string, string[]>();
  // tshark reassembles fragmented copies and decodes the mirror header once per copy.
  const rows = tshark(out, ["jmirror.mid", "jmirror.sid", ...INNER, "ip.ttl", "ip.proto", "ip.checksum.status", "udp.srcport", "udp.dstport", "udp.checksum"], ["-Y", "jmirror"]);
  assert.is(rows.length, s.mirrored);
  for (const row of rows) {
    const key = `${row[0]}/${row[1]}`;
    got.set(key, [...(got.get(key) ?? []), innerKey(row, 2)]);
    const [ttl, proto, csum, sport, dport, ucsum] = row.slice(8);
    assert.is(ttl.split(",")[0], "255");
    assert.is(proto.split(",")[0], "17");
    // Wireshark's checksum status: 1 = good (0 = bad, 2 = unverified).
    assert.ok(csum.split(",").every((c) => c === "1"), `IPv4 header checksum status ${csum}`);
    assert.is(sport.split(",")[0], "30030");
    assert.is(dport.split(",")[0], "30030");
    assert.is(ucsum.split(",")[0], "0x0000");
  }
  assert.equal([...got.keys()].sort(), [...expect.keys()].sort());
  for (const [k, v] of expect) assert.equal(got.get(k), v, `intercept ${k}`);
});

test("fragmentation: with MTU 576 every copy is fragmented, and tshark reassembles each into the same mirror", () => {
  const config = join(dir, "mtu576.yaml");
  writeFileSync(config, "node: {mtu: 576}\nintercepts:\n  - {interceptId: 7, sessionId: 3, targets: [100.64.0.1, \"2001:db8:1000::/64\"], mediation: {address: 198.51.100.200, port: 30030}}\n");
  const out = join(dir, "mtu576.pcap");
  const s = replayJson(config, DEMO_IN, out);
  assert.ok(s.fragmented > 10, `${s.fragmented} fragmented`);
  const frames = tshark(out, ["frame.len", "ip.flags.mf", "ip.frag_offset"]);
  assert.is(frames.length, s.outPackets);
  for (const [len] of frames) assert.ok(Number(len) <= 576, `outer packet of ${len} bytes`);
  const mirrors = tshark(out, ["jmirror.mid", "jmirror.sid"], ["-Y", "jmirror"]);
  assert.is(mirrors.length, s.mirrored);
  assert.ok(mirrors.every(([m, sid]) => m === "0x00000007" && sid === "0x00000003"));
});

test("per layer: on every real fixture capture, parsed frames are exactly tshark's IP frames", async () => {
  const fixtures = readdirSync("fixtures/captures").filter((f) => /\.pcap(ng)?$/.test(f) && f !== "demo.pcap");
  assert.ok(fixtures.length >= 10, fixtures.join(" "));
  const filter = await WasmFilter.load();
  const config = parseConfig("intercepts: []\n", "empty.yaml");
  for (const f of fixtures) {
    const input = `fixtures/captures/${f}`;
    const s = await replay({ config, input, output: join(dir, `${f}.out`), filter });
    // tshark's protocol stack per frame; a frame is IP when its link layer leads to ip or ipv6.
    const stacks = tshark(input, ["frame.protocols"]).map(([p]) => p.split(":"));
    assert.is(s.frames, stacks.length, `${f}: frames`);
    const ip = stacks.filter((p) => p.includes("ip") || p.includes("ipv6")).length;
    assert.is(s.parsed, ip, `${f}: parsed vs tshark's IP frames; malformed ${JSON.stringify(s.malformed)}`);
  }
});

test("bad input: clear errors, no crash", () => {
  const notPcap = join(dir, "not.pcap");
  writeFileSync(notPcap, "this is not a capture file at all");
  let r = iapd("replay", "--config", DEMO_CONFIG, "--in", notPcap, "--out", join(dir, "x.pcap"));
  assert.is(r.status, 1);
  assert.match(r.stderr, /not\.pcap/);
  r = iapd("replay", "--config", DEMO_CONFIG, "--in", join(dir, "missing.pcap"), "--out", join(dir, "x.pcap"));
  assert.is(r.status, 1);
  assert.match(r.stderr, /missing\.pcap/);
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "node: {mtu: 20}\n");
  r = iapd("replay", "--config", bad, "--in", DEMO_IN, "--out", join(dir, "x.pcap"));
  assert.is(r.status, 1);
  assert.match(r.stderr, /bad\.yaml:1:\d+ node\.mtu: expected an MTU/);
  r = iapd("replay", "--in", DEMO_IN);
  assert.is(r.status, 2);
  assert.match(r.stderr, /replay needs --config, --in and --out/);
  r = iapd("check-config", "--config", "fixtures/configs/example.yaml");
  assert.is(r.status, 0);
  assert.match(r.stdout, /ok: 2 intercept\(s\), 3 target\(s\)/);
  r = iapd("bogus");
  assert.is(r.status, 2);
});

test("progress bar on a terminal (a pty from util-linux script), none when stdout is a pipe", () => {
  const out = join(dir, "tty.pcap");
  // Under Deno, node:child_process turns a spawn of process.execPath with node's arguments into
  // `deno run -A ...`, but a shell command line is left as is, and `deno bin/iapd.js` is Deno's
  // shorthand for `deno run` without permissions: it prompts on the pty and waits. Say `run -A`.
  const runtime = "Deno" in globalThis ? `${process.execPath} run -A` : process.execPath;
  const cmd = `${runtime} bin/iapd.js replay --config ${DEMO_CONFIG} --in ${DEMO_IN} --out ${out}`;
  const tty = execFileSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8" });
  assert.match(tty, /\rreplay \[#+\] 100% 2,000 frames/);
  const piped = iapd("replay", "--config", DEMO_CONFIG, "--in", DEMO_IN, "--out", out);
  assert.is(piped.status, 0);
  assert.not.match(piped.stdout, /\[#/);
  assert.match(piped.stdout, /frames  2,000/);
});

test("version names the commit, the ABI and the filter's hash", () => {
  const r = iapd("version");
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^iapd \d+\.\d+\.\d+ \(commit [0-9a-f]{12}\)\nfilter ABI 1\nbuilt-in filter jmirror \S+ sha256:[0-9a-f]{64}\n(built-in filter \S+ \S+ sha256:[0-9a-f]{64}\n)*$/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
