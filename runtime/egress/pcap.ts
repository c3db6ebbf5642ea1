/**
 * The dry-run egress: outer packets written to a pcap file (LINKTYPE_IPV4) instead of sent, with
 * the capture timestamps of the frames they mirror.
 */
import { PcapWriter } from "../capture/pcap-file.ts";
import type { MirroredPacket } from "../filter/types.ts";
import { emptyCounters, SlotTable, type Egress } from "./types.ts";

const LINKTYPE_IPV4 = 228;

export async function pcapEgress(path: string): Promise<Egress> {
  const writer = await PcapWriter.create(path, LINKTYPE_IPV4);
  const counters = emptyCounters();
  const slotCounters = new SlotTable();
  return {
    kind: "pcap",
    counters,
    slotCounters,
    resetSlot(slot) {
      slotCounters.clear(slot);
    },
    setTunnel() {},
    removeTunnel() {},
    send(packets: readonly MirroredPacket[]) {
      for (const p of packets) {
        writer.write(p.tsSeconds, p.tsNanoseconds, p.bytes);
        counters.sent++;
        counters.sentBytes += p.bytes.length;
        slotCounters.sent(p.slot, p.bytes.length);
      }
    },
    close: () => writer.close(),
  };
}
