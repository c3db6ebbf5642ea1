/**
 * Egress: sends the filter's outer packets to mediation devices, straight from the filter's memory.
 * One `Egress` per data plane worker; `tunnel` in each packet's descriptor picks the path.
 */
import type { FilterOutput, MirroredPacket } from "../filter/types.ts";

/** An egress path of the tunnel pool as a worker needs it (index 0 is the node's default path). */
export interface EgressTunnel {
  index: number;
  name: string;
  /** Big-endian u32 outer source address. */
  sourceAddress: number;
  interface?: string;
}

/** Why a copy was not sent. */
export const EGRESS_DROPS = ["socket_full", "unreachable", "too_big", "other"] as const;
export type EgressDrop = (typeof EGRESS_DROPS)[number];

export interface EgressCounters {
  sent: number;
  sentBytes: number;
  dropped: Record<EgressDrop, number>;
}

export interface Egress {
  readonly kind: string;
  /** Sends a batch; never throws for a send error: those are counted per reason and per slot. */
  send(packets: readonly MirroredPacket[]): void;
  /** The same, straight from the filter's output descriptors (no object per packet); optional. */
  sendOutput?(output: FilterOutput): void;
  setTunnel(tunnel: EgressTunnel): void;
  removeTunnel(index: number): void;
  readonly counters: EgressCounters;
  /**
   * Per target slot: outer packets sent and their bytes, and those not sent by reason (cleared when
   * a slot is reused: see `resetSlot`).
   */
  readonly slotCounters: SlotTable;
  resetSlot(slot: number): void;
  close(): Promise<void>;
}

/** One target slot's share of the egress counters; `bytes` are whole outer IPv4 packets. */
export interface SlotEgressCounters {
  packets: number;
  bytes: number;
  dropped: Record<EgressDrop, number>;
}

/** Fields per slot in a SlotTable: packets, bytes, then drops by EGRESS_DROPS. */
export const SLOT_TABLE_FIELDS = 2 + EGRESS_DROPS.length;

/** Per-slot egress counters in one typed array (slot * SLOT_TABLE_FIELDS), growing as slots appear. */
export class SlotTable {
  data = new Float64Array(1024 * SLOT_TABLE_FIELDS);

  /** Where `slot`'s fields start, making room for it. */
  at(slot: number): number {
    const at = slot * SLOT_TABLE_FIELDS;
    if (at >= this.data.length) {
      let length = this.data.length;
      while (length <= at) length *= 2;
      const grown = new Float64Array(length);
      grown.set(this.data);
      this.data = grown;
    }
    return at;
  }

  sent(slot: number, bytes: number): void {
    const at = this.at(slot);
    this.data[at]++;
    this.data[at + 1] += bytes;
  }

  dropped(slot: number, reason: EgressDrop): void {
    this.data[this.at(slot) + 2 + EGRESS_DROPS.indexOf(reason)]++;
  }

  clear(slot: number): void {
    const at = slot * SLOT_TABLE_FIELDS;
    if (at < this.data.length) this.data.fill(0, at, at + SLOT_TABLE_FIELDS);
  }

  get(slot: number): SlotEgressCounters {
    const at = slot * SLOT_TABLE_FIELDS;
    const d = at < this.data.length ? this.data.subarray(at, at + SLOT_TABLE_FIELDS) : new Float64Array(SLOT_TABLE_FIELDS);
    return { packets: d[0], bytes: d[1], dropped: Object.fromEntries(EGRESS_DROPS.map((r, i) => [r, d[2 + i]])) as Record<EgressDrop, number> };
  }

  /** Slots with a non-zero counter, as `get` shows them (tests, diagnostics). */
  entries(): [number, SlotEgressCounters][] {
    const result: [number, SlotEgressCounters][] = [];
    for (let slot = 0; slot * SLOT_TABLE_FIELDS < this.data.length; slot++) {
      const at = slot * SLOT_TABLE_FIELDS;
      if (this.data.subarray(at, at + SLOT_TABLE_FIELDS).some((v) => v !== 0)) result.push([slot, this.get(slot)]);
    }
    return result;
  }
}

export function emptyCounters(): EgressCounters {
  return { sent: 0, sentBytes: 0, dropped: { socket_full: 0, unreachable: 0, too_big: 0, other: 0 } };
}
