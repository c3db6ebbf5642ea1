/**
 * The dry-run egress: outer packets written to a pcap file (LINKTYPE_IPV4) instead of sent, with
 * the capture timestamps of the frames they mirror.
 */
import { PcapWriter } from "../capture/pcap-file.ts";
import type { MirroredPacket } from "../filter/types.ts";
import { emptyCounters, emptySlotCounters, type Egress, type SlotEgressCounters } from "./types.ts";

const LINKTYPE_IPV4 = 228;

export async function pcapEgress(path: string): Promise<Egress> {
  const writer = await PcapWriter.create(path, LINKTYPE_IPV4);
  const counters = emptyCounters();
  const slotCounters = new Map<number, SlotEgressCounters>();
  return {
    kind: "pcap",
    counters,
    slotCounters,
    resetSlot(slot) {
      slotCounters.delete(slot);
    },
    setTunnel() {},
    removeTunnel() {},
    send(packets: readonly MirroredPacket[]) {
      for (const p of packets) {
        writer.write(p.tsSeconds, p.tsNanoseconds, p.bytes);
        counters.sent++;
        counters.sentBytes += p.bytes.length;
        let slot = slotCounters.get(p.slot);
        if (!slot) slotCounters.set(p.slot, (slot = emptySlotCounters()));
        slot.packets++;
        slot.bytes += p.bytes.length;
      }
    },
    close: () => writer.close(),
  };
}
