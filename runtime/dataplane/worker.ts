/**
 * A capture worker: one TPACKET_V3 ring, one filter instance, one egress. Its loop copies each
 * retired block into the filter's input region (the one copy), lets the filter walk it, sends the
 * outer packets from the filter's memory and gives the block back. Table changes arrive as messages
 * and are applied between two blocks, when the loop yields to the event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { CaptureRing } from "../capture/ring.ts";
import { libc } from "../ffi/libc.ts";
import { FilterSwitch } from "../filter/lifecycle.ts";
import { COUNTER_COUNT } from "../filter/types.ts";
import { openEgress } from "../egress/open.ts";
import type { Egress } from "../egress/types.ts";
import { SLOT_TABLE_FIELDS } from "../egress/types.ts";
import { DROP_REASONS } from "../filter/types.ts";
import { EGRESS_DROPS } from "../egress/types.ts";
import { AGG_EGRESS_DROPS, AGG_FILTER, AGG_FREEZES, AGG_KERNEL_DROPS, AGG_RECEIVED, AGG_SENT, AGG_SENT_BYTES, AGGREGATE_FIELDS, SLOT_BYTES, SLOT_DROPS, SLOT_FIELDS, SLOT_PACKETS, type Change, type CountersUpdate, type FromWorker, type ToWorker, type WorkerSetup, type WorkerStats } from "./messages.ts";
import { WorkerWatch } from "./watchdog.ts";
import { SharedAggregates } from "./counters.ts";

/** Blocks handled per turn of the event loop before messages get their turn. */
const BLOCKS_PER_TURN = 8;
/**
 * Longest wait in poll(2) while idle. The data plane writes to the worker's eventfd after each
 * message, which ends the wait at once; this only bounds the cost of a lost wake-up.
 */
const IDLE_WAIT_MS = 100;
/** How often the per-slot counters are published to the data plane's cache (what the API reads). */
const COUNTERS_EVERY_MS = 250;
/** Positions of the filter's drop reasons in MIRROR_DROP_REASONS (the egress's follow). */
const OUTPUT_FULL = 0;
const OVERSIZE = 1;
const TOO_MANY_COPIES = 2;
const FILTER_REASONS = Object.keys(DROP_REASONS).length;
/** Bytes per slot in the filter's per-target counter region. */
const TARGET_COUNTERS_SIZE = 32;

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

let ring: CaptureRing;
/** The swap point: the active filter changes between two blocks (runtime/filter/lifecycle.ts). */
let filter: FilterSwitch;
let egress: Egress;
let running = true;
let blocks = 0;
const slots = new Set<number>();
/**
 * Counts of slots moved to another tunnel: a move is a remove and an add of the same slot in one
 * message, and adding a target zeroes its filter and egress counters, so what it had counted is
 * carried here (SLOT_FIELDS numbers).
 */
const carried = new Map<number, Float64Array>();
/** What was last published per slot (the sum of its fields), and slots removed since. */
const published = new Map<number, number>();
let removedSince: number[] = [];
let publishedAt = 0;

/** A slot's counters: egress packets and bytes sent, drops by MIRROR_DROP_REASONS, carried ones added. */
function slotCounts(slot: number, into = new Float64Array(SLOT_FIELDS), targets = targetCounterView()): Float64Array {
  const t = slot * TARGET_COUNTERS_SIZE;
  const dropped = targets.getUint32(t + 16, true) + targets.getUint32(t + 20, true) * 2 ** 32;
  const oversize = targets.getUint32(t + 24, true);
  const tooMany = targets.getUint32(t + 28, true);
  into[SLOT_DROPS + OUTPUT_FULL] = dropped - oversize - tooMany;
  into[SLOT_DROPS + OVERSIZE] = oversize;
  into[SLOT_DROPS + TOO_MANY_COPIES] = tooMany;
  const table = egress.slotCounters;
  const e = slot * SLOT_TABLE_FIELDS;
  const inTable = e < table.data.length;
  for (let i = 0; i < SLOT_TABLE_FIELDS; i++) into[i < 2 ? i : SLOT_DROPS + FILTER_REASONS + i - 2] = inTable ? table.data[e + i] : 0;
  const before = carried.get(slot);
  if (before) for (let i = 0; i < SLOT_FIELDS; i++) into[i] += before[i];
  return into;
}

/** The active filter's per-target counters in place (32 bytes per slot: docs/filter-abi.md "Counters"). */
function targetCounterView(): DataView {
  const t = filter.counterRegions().targets;
  return new DataView(t.buffer, t.byteOffset, t.byteLength);
}

function apply(changes: Change[]): void {
  const removed = new Map<number, Float64Array>();
  for (const change of changes) {
    try {
      applyOne(change, removed);
    } catch (e) {
      // One bad change (a tunnel interface that does not exist) must not stop the capture.
      const tunnel = change.op === "set-tunnel" ? change.tunnel.index : undefined;
      post({ type: "change-failed", message: (e as Error).message, tunnel });
    }
  }
  for (const slot of removed.keys()) {
    carried.delete(slot);
    published.delete(slot);
    removedSince.push(slot);
  }
}

function applyOne(change: Change, removed: Map<number, Float64Array>): void {
  {
    switch (change.op) {
      case "add": {
        const slot = change.target.slot;
        filter.addTarget(change.target);
        slots.add(slot);
        egress.resetSlot(slot);
        const moved = removed.get(slot);
        if (moved) carried.set(slot, moved);
        else {
          // A new target in the slot: its counters start at zero, and are published as such.
          carried.delete(slot);
          published.delete(slot);
        }
        removed.delete(slot);
        break;
      }
      case "remove":
        if (slots.has(change.slot)) removed.set(change.slot, slotCounts(change.slot));
        filter.removeTarget(change.slot);
        slots.delete(change.slot);
        break;
      case "set-tunnel":
        egress.setTunnel(change.tunnel);
        break;
      case "remove-tunnel":
        egress.removeTunnel(change.index);
        break;
    }
  }
}

const scratch = new Float64Array(SLOT_FIELDS);
/** Runs of [slot, ...SLOT_FIELDS] being collected for the next publication (grown as needed). */
let runs = new Float64Array(64 * (SLOT_FIELDS + 1));

/** The aggregates as last published (their sum), so that an idle worker posts nothing. */
let aggregatePublished = -1;

/**
 * The aggregate counters in the data plane's shared memory (counters.ts SharedAggregates): stored
 * after every completed filter call and its send, and after every read of the ring's statistics
 * (PACKET_STATISTICS clears the kernel's counts as it reads them), so that the figures the data
 * plane takes from a worker it had to terminate are exact.
 */
const shared = setup.aggregates ? new SharedAggregates(setup.aggregates) : undefined;
function storeShared(): void {
  shared?.store(ring.statistics, filter.counterRegions().global, egress.counters);
}

/** The worker's aggregate counters now (AGGREGATE_FIELDS numbers: messages.ts). */
function aggregate(): Float64Array {
  const into = new Float64Array(AGGREGATE_FIELDS);
  const r = ring.readStatistics();
  storeShared();
  into[AGG_RECEIVED] = r.packets;
  into[AGG_KERNEL_DROPS] = r.drops;
  into[AGG_FREEZES] = r.freezes;
  const counters = filter.counters();
  if (counters.length === COUNTER_COUNT) for (let i = 0; i < COUNTER_COUNT; i++) into[AGG_FILTER + i] = Number(counters[i]);
  const e = egress.counters;
  into[AGG_SENT] = e.sent;
  into[AGG_SENT_BYTES] = e.sentBytes;
  for (let i = 0; i < EGRESS_DROPS.length; i++) into[AGG_EGRESS_DROPS + i] = e.dropped[EGRESS_DROPS[i]];
  return into;
}

/** Posts the slots whose counters changed since the last time, and the aggregates if they changed (the data plane's synchronous cache). */
function publish(): void {
  publishedAt = performance.now();
  const totals = aggregate();
  let total = 0;
  // next_ip_id (filter counter 8) moves with every copy, which other counters show: left out of the sum.
  for (let i = 0; i < AGGREGATE_FIELDS; i++) if (i !== AGG_FILTER + 8) total += totals[i];
  const aggregateChanged = total !== aggregatePublished;
  aggregatePublished = total;
  const targets = targetCounterView();
  let n = 0;
  for (const slot of slots) {
    const counts = slotCounts(slot, scratch, targets);
    let sum = 0;
    for (let i = 0; i < SLOT_FIELDS; i++) sum += counts[i];
    if (published.get(slot) === sum) continue;
    published.set(slot, sum);
    if (n + SLOT_FIELDS + 1 > runs.length) {
      const grown = new Float64Array(runs.length * 2);
      grown.set(runs);
      runs = grown;
    }
    runs[n] = slot;
    runs.set(counts, n + 1);
    n += SLOT_FIELDS + 1;
  }
  if (n === 0 && removedSince.length === 0 && !aggregateChanged) return;
  const update: CountersUpdate = { changed: runs.slice(0, n), removed: removedSince, aggregate: aggregateChanged ? totals : undefined };
  removedSince = [];
  const transfer = [update.changed.buffer as ArrayBuffer];
  if (update.aggregate) transfer.push(update.aggregate.buffer as ArrayBuffer);
  port.postMessage({ type: "counters", update } satisfies FromWorker, transfer);
}

function stats(): WorkerStats {
  const counters = filter.counters().map(Number);
  const r = ring.readStatistics();
  storeShared();
  return {
    interface: setup.interface,
    worker: setup.id,
    ring: r,
    filter: counters.length === COUNTER_COUNT ? counters : [],
    egress: structuredClone(egress.counters),
    slots: [...slots].map((slot) => {
      const c = slotCounts(slot);
      let dropped = 0;
      for (let i = SLOT_DROPS; i < SLOT_FIELDS; i++) dropped += c[i];
      return { slot, packets: c[SLOT_PACKETS], bytes: c[SLOT_BYTES], dropped };
    }),
    blocks,
  };
}

/** Handles the retired blocks that are ready, at most BLOCKS_PER_TURN; false if none was. */
function drain(): boolean {
  let handled = 0;
  for (; handled < BLOCKS_PER_TURN; handled++) {
    const block = ring.next();
    if (!block) break;
    // Asked for each block: a hot swap gives the filter a new input region.
    const input = filter.inputBuffer();
    input.set(block);
    ring.release();
    // The block is the kernel's again: if a filter call on it never returns, the data plane counts
    // the frames not yet done as lost (watchdog.ts) and a new worker adopts the ring after it.
    watch?.beginBlock(ring.position, block.length >= 16 ? new DataView(block.buffer, block.byteOffset, block.byteLength).getUint32(12, true) : 0);
    const view = input.subarray(0, block.length);
    let from = 0;
    do {
      watch?.enterCall();
      if (egress.sendOutput) {
        // Sent straight from the filter's output descriptors: no object per packet.
        const result = filter.processTpacket3Output(view, from);
        watch?.leaveCall(result.frames);
        if ("output" in result) egress.sendOutput(result.output);
        else egress.send(result.packets);
        from = result.next;
      } else {
        const result = filter.processTpacket3(view, from);
        watch?.leaveCall(result.frames);
        egress.send(result.packets);
        from = result.next;
      }
      // The call's frames are done (watch.leaveCall): the data plane's figures for them.
      storeShared();
    } while (from !== 0);
    blocks++;
  }
  return handled > 0;
}

const watch = setup.heartbeat ? new WorkerWatch(setup.heartbeat) : undefined;

/**
 * On Deno, a loop that reschedules itself with setImmediate gets its port messages (target changes)
 * only every 20-40 ms once its turns block in poll(2) (scripts/bench/worker-yield.mjs; Node delivers
 * them at the next turn). There the loop continues through a timer (about 1 ms) after a turn that
 * waited, and after a busy turn only while the data plane's eventfd has said that messages wait.
 */
const ON_DENO = "Deno" in globalThis;
const wakeCount = new Uint8Array(8);
/** The eventfd was written since the last message was handled (Deno only). */
let messagesDue = false;

function loop(): void {
  if (!running) return;
  watch?.beat();
  let waited = false;
  try {
    if (!drain()) waited = (ring.wait(IDLE_WAIT_MS, setup.wakeFd), true);
    if (performance.now() - publishedAt >= COUNTERS_EVERY_MS) publish();
  } catch (e) {
    running = false;
    post({ type: "failed", message: (e as Error).message, name: (e as Error).name });
    return;
  }
  if (ON_DENO && (waited || messagesDue || (messagesDue = libc().read(setup.wakeFd ?? -1, wakeCount) > 0))) {
    setTimeout(loop, 0);
  } else {
    setImmediate(loop);
  }
}

port.on("message", async (message: ToWorker) => {
  messagesDue = false;
  if (message.type === "apply") {
    apply(message.changes);
    post({ type: "applied", id: message.id });
  } else if (message.type === "stats") {
    post({ type: "stats", id: message.id, stats: stats() });
  } else if (message.type === "prepare" || message.type === "activate" || message.type === "rollback") {
    try {
      if (message.type === "prepare") await filter.prepare(message.filter);
      else if (message.type === "activate") await filter.activate(message.filter);
      else filter.rollback();
      post({ type: "filter", id: message.id });
    } catch (e) {
      post({ type: "filter", id: message.id, error: (e as Error).message });
    }
  } else if (message.type === "stop") {
    running = false;
    publish();
    const final = stats();
    ring.close();
    await egress.close();
    // The data plane terminates the worker once it has this answer (Deno's parentPort has no close()).
    post({ type: "stopped", id: message.id, stats: final });
  }
});

async function start(): Promise<void> {
  // A replacement takes over the ring of the worker it replaces: same capture queue and fanout group.
  ring = setup.adopt ? CaptureRing.adopt(setup.adopt) : CaptureRing.open({
    interface: setup.interface,
    blockSize: setup.blockSize,
    blockCount: setup.blockCount,
    retireTimeoutMs: setup.retireTimeoutMs,
    fanoutGroup: setup.fanoutGroup,
    promiscuous: setup.promiscuous,
    ignoreOutgoing: setup.ignoreOutgoing,
  });
  // A block must fit the input region whole; outputs are drained as often as needed.
  filter = await FilterSwitch.create(setup.filter, {
    maxTargets: setup.maxTargets,
    inCapacity: setup.blockSize,
    outCapacity: 4 << 20,
    onEvent: (event) => {
      if (event.type !== "activated") post({ type: "filter-event", event });
    },
  });
  // The UDP egress lets the kernel fragment: the filter must not.
  const mtu = setup.egress.mode === "udp" ? 65535 : setup.node.mtu;
  filter.configure({ linkType: ring.linkType, sourceAddress: setup.node.sourceAddress, mtu, dscp: setup.node.dscp });
  // A replacement writes pcap output to a file of its own (the one it replaces may still be open).
  const restart = setup.generation ? `-r${setup.generation}` : "";
  egress = await openEgress(setup.egress, (setup.workers > 1 ? `-${setup.interface}-${setup.id}` : "") + restart);
  apply(setup.changes);
  post({ type: "ready", linkType: ring.linkType, ring: ring.handle });
  setImmediate(loop);
}

start().catch((e: Error) => {
  ring?.close();
  post({ type: "failed", message: e.message, name: e.name });
});
