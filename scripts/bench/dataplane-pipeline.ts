/**
 * The capture worker's per-block pipeline without the network's receive side, side by side
 * (docs/benchmarks.md "Live data plane"): one TPACKET_V3 block of 60-byte frames (7,281 in 1 MiB) from 40,960
 * subscriber addresses, 2,048 targets (every 20th address: 5 % mirrored), the built-in filter in a
 * FilterSwitch as the worker runs it, and a raw IPv4 egress whose copies leave through a dummy
 * interface (dropped by its driver) in a namespace this script creates (iapddp-pipe-PID). Variants,
 * interleaved round by round so that the machine's load hits them alike; CPU time of this process
 * (user + system) per frame:
 *
 *   copy         the block copied into the filter's input region (input.set)
 *   walk         copy + the filter's walk (iapd_process_tpacket3), nothing sent
 *   packets      copy + walk + one MirroredPacket per outer packet + SocketEgress.send
 *   descriptors  copy + walk + SocketEgress.sendOutput straight from the output descriptors
 *   af_packet    the same with the AF_PACKET egress (egress.mode packet) to the same next hop
 *   stored       descriptors + the worker's store of its aggregate counters in shared memory after
 *                every filter call (runtime/dataplane/counters.ts SharedAggregates: what the data plane
 *                reads of a worker it replaced)
 *   swapped      descriptors, on a FilterSwitch that hot-swapped to the built-in filter (so it keeps
 *                the counters before each batch, for a rollback after a trap)
 *   swapped_65536  the same with one more target in slot 65,535 (a table of 65,536 slots in use:
 *                before the change a swapped switch copied all of their counters, 2 MiB, per block)
 *
 *   node --import tsx scripts/bench/dataplane-pipeline.ts [--rounds 15] [--blocks 40] [--block-kib 1024]   # root: creates namespaces
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { Lab } from "../netns/netns.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    blocks: { type: "string", default: "40" },
    /** Block size in KiB (frames per block follow: 144 bytes of ring per 60-byte frame). */
    "block-kib": { type: "string", default: "1024" },
    /** Target slots of the filters (the daemon's default is 262,144; the hash tables are sized by it). */
    "max-targets": { type: "string", default: "4096" },
    child: { type: "boolean", default: false },
  },
});

const HOSTS = 40960;
const TARGET_EVERY = 20;
const BLOCK_SIZE = Number(values["block-kib"]) * 1024;
const FRAMES = Math.floor((BLOCK_SIZE - 48) / 144);
const VARIANTS = ["copy", "walk", "packets", "descriptors", "stored", "af_packet", "swapped", "swapped_65536"] as const;

async function child(): Promise<void> {
  const { assetBytes } = await import("../../runtime/assets/assets.ts");
  const { checkFilter, FilterSwitch } = await import("../../runtime/filter/lifecycle.ts");
  const { rawIpv4Egress } = await import("../../runtime/egress/raw-ipv4.ts");
  const { packetEgress } = await import("../../runtime/egress/packet.ts");
  const { tpacket3Block } = await import("../../test/dataplane/blocks.ts");
  const { SharedAggregates } = await import("../../runtime/dataplane/counters.ts");
  const { AGG_FILTER } = await import("../../runtime/dataplane/messages.ts");
  const shared = new SharedAggregates();
  const ringStatistics = { packets: 0, drops: 0, freezes: 0 };
  const { frame, ipv4Packet } = await import("../../test/helpers/frames.ts");
  const host = (h: number) => Uint8Array.of(100, 64 + (h >> 16), (h >> 8) & 255, h & 255);
  const checked = await checkFilter(assetBytes("build/filters/jmirror.wasm"), { timeoutMs: 0 });
  const filter = await FilterSwitch.create(checked, { maxTargets: Number(values["max-targets"]), inCapacity: BLOCK_SIZE, outCapacity: 4 << 20 });
  filter.configure({ linkType: 1, sourceAddress: 0xc6336401, mtu: 1500, dscp: 255 });
  for (let slot = 0; slot < HOSTS / TARGET_EVERY; slot++) {
    filter.addTarget({ slot, family: 4, address: host(slot * TARGET_EVERY), prefixLength: 32, interceptId: slot + 1, sessionId: slot, mediationAddress: 0xc6336402, mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: 255 });
  }
  // The same table on a switch that started on jmirror-l2 and swapped to the built-in filter.
  const swapped = await FilterSwitch.create(await checkFilter(assetBytes("build/filters/jmirror-l2.wasm"), { timeoutMs: 0 }), { maxTargets: 4096, inCapacity: BLOCK_SIZE, outCapacity: 4 << 20 });
  swapped.configure({ linkType: 1, sourceAddress: 0xc6336401, mtu: 1500, dscp: 255 });
  for (let slot = 0; slot < HOSTS / TARGET_EVERY; slot++) {
    swapped.addTarget({ slot, family: 4, address: host(slot * TARGET_EVERY), prefixLength: 32, interceptId: slot + 1, sessionId: slot, mediationAddress: 0xc6336402, mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: 255 });
  }
  await swapped.activate(checked);
  const big = await FilterSwitch.create(await checkFilter(assetBytes("build/filters/jmirror-l2.wasm"), { timeoutMs: 0 }), { maxTargets: 65536, inCapacity: BLOCK_SIZE, outCapacity: 4 << 20 });
  big.configure({ linkType: 1, sourceAddress: 0xc6336401, mtu: 1500, dscp: 255 });
  for (let slot = 0; slot < HOSTS / TARGET_EVERY; slot++) {
    big.addTarget({ slot, family: 4, address: host(slot * TARGET_EVERY), prefixLength: 32, interceptId: slot + 1, sessionId: slot, mediationAddress: 0xc6336402, mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: 255 });
  }
  big.addTarget({ slot: 65535, family: 4, address: Uint8Array.of(192, 0, 2, 99), prefixLength: 32, interceptId: 99999, sessionId: 1, mediationAddress: 0xc6336402, mediationPort: 30030, sourceAddress: 0, tunnel: 0, dscp: 255 });
  await big.activate(checked);
  // The generator's frames: 60 bytes (UDP, 18 bytes of payload), source address cycling over the hosts.
  const frames = Array.from({ length: FRAMES }, (_, i) => frame(1, ipv4Packet({ source: host(i % HOSTS), destination: Uint8Array.of(203, 0, 113, 1), protocol: 17, payload: new Uint8Array(26) })));
  const block = tpacket3Block(frames.map((f) => ({ bytes: f.bytes.subarray(0, 60) })), BLOCK_SIZE);
  const used = new DataView(block.buffer).getUint32(20, true);
  const egress = rawIpv4Egress();
  const packet = packetEgress("iapddp-d0", "02:00:5e:00:53:99");
  const blocks = Number(values.blocks);
  const rounds = Number(values.rounds);

  const once: Record<(typeof VARIANTS)[number], () => void> = {
    copy() {
      filter.inputBuffer().set(block.subarray(0, used));
    },
    walk() {
      const input = filter.inputBuffer();
      input.set(block.subarray(0, used));
      let from = 0;
      do from = filter.processTpacket3Output(input.subarray(0, used), from).next;
      while (from !== 0);
    },
    packets() {
      const input = filter.inputBuffer();
      input.set(block.subarray(0, used));
      let from = 0;
      do {
        const result = filter.processTpacket3(input.subarray(0, used), from);
        egress.send(result.packets);
        from = result.next;
      } while (from !== 0);
    },
    descriptors() {
      const input = filter.inputBuffer();
      input.set(block.subarray(0, used));
      let from = 0;
      do {
        const result = filter.processTpacket3Output(input.subarray(0, used), from);
        if ("output" in result) egress.sendOutput!(result.output);
        else egress.send(result.packets);
        from = result.next;
      } while (from !== 0);
    },
    stored() {
      const input = filter.inputBuffer();
      input.set(block.subarray(0, used));
      let from = 0;
      do {
        const result = filter.processTpacket3Output(input.subarray(0, used), from);
        if ("output" in result) egress.sendOutput!(result.output);
        else egress.send(result.packets);
        from = result.next;
        shared.store(ringStatistics, filter.counterRegions().global, egress.counters);
      } while (from !== 0);
    },
    swapped() {
      const input = swapped.inputBuffer();
      input.set(block.subarray(0, used));
      let from = 0;
      do {
        const result = swapped.processTpacket3Output(input.subarray(0, used), from);
        if ("output" in result) egress.sendOutput!(result.output);
        else egress.send(result.packets);
        from = result.next;
      } while (from !== 0);
    },
    swapped_65536() {
      const input = big.inputBuffer();
      input.set(block.subarray(0, used));
      let from = 0;
      do {
        const result = big.processTpacket3Output(input.subarray(0, used), from);
        if ("output" in result) egress.sendOutput!(result.output);
        else egress.send(result.packets);
        from = result.next;
      } while (from !== 0);
    },
    af_packet() {
      const input = filter.inputBuffer();
      input.set(block.subarray(0, used));
      let from = 0;
      do {
        const result = filter.processTpacket3Output(input.subarray(0, used), from);
        if ("output" in result) packet.sendOutput!(result.output);
        else packet.send(result.packets);
        from = result.next;
      } while (from !== 0);
    },
  };
  // Warm-up: every variant compiled by V8's optimising tier before anything is measured.
  for (let i = 0; i < 3; i++) for (const v of VARIANTS) for (let b = 0; b < blocks; b++) once[v]();
  const perFrame: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  for (let r = 0; r < rounds; r++) {
    for (const v of VARIANTS) {
      const before = process.cpuUsage();
      for (let b = 0; b < blocks; b++) once[v]();
      const cpu = process.cpuUsage(before);
      perFrame[v].push(((cpu.user + cpu.system) * 1000) / (blocks * FRAMES));
    }
  }
  // The shared store holds the filter's counters as they stand after its last call.
  once.stored();
  if (shared.read()?.[AGG_FILTER] !== Number(filter.counters()[0])) throw new Error("the shared store does not hold the filter's frame count");
  const counters = filter.counters();
  const mirrored = Number(counters[3]);
  const framesCounted = Number(counters[0]);
  await egress.close();
  await packet.close();
  console.log(JSON.stringify({ perFrame, mirroredShare: mirrored / framesCounted, sent: egress.counters.sent + packet.counters.sent, dropped: [egress.counters.dropped, packet.counters.dropped] }));
}

async function main(): Promise<void> {
  const lab = new Lab();
  try {
    const ns = lab.namespace("iapddp-pipe");
    const md = lab.namespace("iapddp-pmd");
    lab.veth([ns, "iapddp-d0", "198.51.100.1/24"], [md, "iapddp-d1", "198.51.100.2/24"]);
    // As in bench-dataplane.ts: copies go out to a MAC address nobody has, dropped on arrival.
    lab.run(ns, "ip", "neigh", "replace", "198.51.100.2", "lladdr", "02:00:5e:00:53:99", "dev", "iapddp-d0", "nud", "permanent");
    const out = execFileSync("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", resolve(import.meta.dirname, "dataplane-pipeline.ts"), "--child", "--rounds", String(values.rounds), "--blocks", String(values.blocks), "--block-kib", String(values["block-kib"]), "--max-targets", String(values["max-targets"])], {
      cwd: resolve(import.meta.dirname, "..", ".."),
      encoding: "utf8",
      timeout: 600_000,
    });
    const r = JSON.parse(out.trim().split("\n").at(-1)!) as { perFrame: Record<string, number[]>; mirroredShare: number; sent: number; dropped: Record<string, number>[] };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const m = Object.fromEntries(Object.entries(r.perFrame).map(([k, xs]) => [k, median(xs)]));
    console.log(`pipeline, ${FRAMES} frames per block, ${(100 * r.mirroredShare).toFixed(1)} % mirrored, median of ${values.rounds} rounds of ${values.blocks} blocks (CPU ns per frame):`);
    for (const v of VARIANTS) console.log(`  ${v.padEnd(14)} ${m[v].toFixed(1)} ns  (min ${Math.min(...r.perFrame[v]).toFixed(1)}, max ${Math.max(...r.perFrame[v]).toFixed(1)})`);
    console.log(`  walk - copy: ${(m.walk - m.copy).toFixed(1)} ns; packets - walk: ${(m.packets - m.walk).toFixed(1)} ns; descriptors - walk: ${(m.descriptors - m.walk).toFixed(1)} ns; descriptors / packets: ${(m.descriptors / m.packets).toFixed(2)}x; af_packet - walk: ${(m.af_packet - m.walk).toFixed(1)} ns; swapped / descriptors: ${(m.swapped / m.descriptors).toFixed(2)}x; stored - descriptors: ${(m.stored - m.descriptors).toFixed(2)} ns, stored / descriptors: ${(m.stored / m.descriptors).toFixed(3)}x`);
    console.log(`  egress: ${r.sent} sent, dropped ${JSON.stringify(r.dropped)}`);
  } finally {
    lab.close();
  }
}

if (values.child) await child();
else await main();
