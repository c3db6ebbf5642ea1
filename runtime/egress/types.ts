/**
 * Egress: sends the filter's outer packets to mediation devices, straight from the filter's memory.
 * One `Egress` per data plane worker; `tunnel` in each packet's descriptor picks the path.
 */
import type { MirroredPacket } from "../filter/types.ts";

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
  setTunnel(tunnel: EgressTunnel): void;
  removeTunnel(index: number): void;
  readonly counters: EgressCounters;
  /**
   * Per target slot: outer packets sent and their bytes, and those not sent by reason (cleared when
   * a slot is reused: see `resetSlot`). Only slots that sent or dropped something have an entry.
   */
  readonly slotCounters: Map<number, SlotEgressCounters>;
  resetSlot(slot: number): void;
  close(): Promise<void>;
}

/** One target slot's share of the egress counters; `bytes` are whole outer IPv4 packets. */
export interface SlotEgressCounters {
  packets: number;
  bytes: number;
  dropped: Record<EgressDrop, number>;
}

export function emptySlotCounters(): SlotEgressCounters {
  return { packets: 0, bytes: 0, dropped: { socket_full: 0, unreachable: 0, too_big: 0, other: 0 } };
}

export function emptyCounters(): EgressCounters {
  return { sent: 0, sentBytes: 0, dropped: { socket_full: 0, unreachable: 0, too_big: 0, other: 0 } };
}
