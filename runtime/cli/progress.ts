/** A one-line progress bar for terminals; a no-op when the stream is not a TTY. */
import type { WriteStream } from "node:tty";

export interface Progress {
  update(done: number, total: number, detail: string): void;
  finish(): void;
}

export function progressBar(stream: NodeJS.WriteStream | WriteStream, label: string): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} };
  let last = 0;
  let shown = false;
  return {
    update(done, total, detail) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - detail.length - 12));
      const ratio = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(ratio * width);
      stream.write(`\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${detail}`);
      shown = true;
    },
    finish() {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}
