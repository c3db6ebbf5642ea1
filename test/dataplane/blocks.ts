/**
 * TPACKET_V3 blocks as the kernel lays them out (linux/if_packet.h, net/packet/af_packet.c): a
 * 48-byte `tpacket_block_desc`, then `tpacket3_hdr` records chained by `tp_next_offset`, each frame
 * at `tp_mac` from its header, records 16-byte aligned.
 */
import type { FrameRecord } from "../helpers/frames.ts";

export const BLOCK_HEADER = 48;
/** Where the kernel puts a SOCK_RAW frame: TPACKET_ALIGN(48 + 20) + 16 - 14 (af_packet.c tpacket_rcv). */
export const FRAME_OFFSET = 82;

const align16 = (n: number) => (n + 15) & ~15;

/** One block holding `frames`; `size` pads it to a full block length. */
export function tpacket3Block(frames: readonly FrameRecord[], size?: number): Uint8Array {
  let length = BLOCK_HEADER;
  for (const f of frames) length += align16(FRAME_OFFSET + f.bytes.length);
  const block = new Uint8Array(Math.max(size ?? 0, length));
  const view = new DataView(block.buffer);
  view.setUint32(0, 1, true); // version
  view.setUint32(8, 1, true); // block_status: TP_STATUS_USER
  view.setUint32(12, frames.length, true);
  view.setUint32(16, BLOCK_HEADER, true);
  view.setUint32(20, length, true);
  let at = BLOCK_HEADER;
  frames.forEach((f, i) => {
    const next = align16(FRAME_OFFSET + f.bytes.length);
    view.setUint32(at, i === frames.length - 1 ? 0 : next, true);
    view.setUint32(at + 4, f.tsSec ?? 0, true);
    view.setUint32(at + 8, f.tsNsec ?? 0, true);
    view.setUint32(at + 12, f.bytes.length, true);
    view.setUint32(at + 16, f.origLen ?? f.bytes.length, true);
    view.setUint32(at + 20, 1, true); // tp_status: TP_STATUS_USER
    view.setUint16(at + 24, FRAME_OFFSET, true);
    view.setUint16(at + 26, FRAME_OFFSET + 14, true);
    block.set(f.bytes, at + FRAME_OFFSET);
    at += next;
  });
  return block;
}
