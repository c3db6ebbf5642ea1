/**
 * Helpers of the data plane's namespace tests: a radclient run inside a namespace, a request to the
 * data plane host (test/dataplane/host.ts) over its IPC channel, and a reader for the classic pcap
 * files tcpdump writes.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Lab } from "../../scripts/netns/netns.ts";

export interface PcapRecord {
  /** Seconds, with the file's resolution. */
  time: number;
  bytes: Uint8Array;
}

/** Records of a classic pcap file (either byte order, microsecond or nanosecond timestamps). */
export function readPcap(path: string): PcapRecord[] {
  const file = new Uint8Array(readFileSync(path));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && view.getUint32(0, false) !== 0xa1b2c3d4 && view.getUint32(0, false) !== 0xa1b23c4d) throw new Error(`${path}: not a pcap file`);
  const nano = (little ? magic : view.getUint32(0, false)) === 0xa1b23c4d;
  const records: PcapRecord[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const length = view.getUint32(at + 8, little);
    if (at + 16 + length > file.length) break;
    records.push({ time: view.getUint32(at, little) + view.getUint32(at + 4, little) / (nano ? 1e9 : 1e6), bytes: file.subarray(at + 16, at + 16 + length) });
    at += 16 + length;
  }
  return records;
}

/** `radclient -x` inside a namespace; resolves with its exit code and output. */
export function radclientIn(lab: Lab, ns: string, port: number, command: "acct" | "coa", secret: string, input: string): Promise<{ code: number | null; output: string }> {
  const child = lab.spawn(ns, "radclient", ["-x", "-r", "1", "-t", "2", `127.0.0.1:${port}`, command, secret], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  child.stdin!.end(`${input}\n`);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

/** Resolves once `text` appears on the child's stdout or stderr, rejects after `timeoutMs`. */
export function waitForOutput(child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }, text: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms; output: ${seen.slice(-500)}`)), timeoutMs);
    const look = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", look);
    child.stderr?.on("data", look);
  });
}

/** The Internet checksum of `bytes` is 0 when the header's checksum field is right. */
export function checksumOk(bytes: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length % 2) sum += bytes[bytes.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

/** A command to the data plane host (test/dataplane/host.ts) and its answer ("ready": waits for the host to say it is). */
export function hostRequest(host: ChildProcess, message: Record<string, unknown>, timeoutMs = 10_000): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`iapd host: no answer to ${JSON.stringify(message)}`)), timeoutMs);
    const on = (reply: Record<string, any>) => {
      if (reply.cmd !== message.cmd) return;
      host.off("message", on);
      clearTimeout(timer);
      reply.error ? reject(new Error(reply.error)) : resolve(reply);
    };
    host.on("message", on);
    if (message.cmd !== "ready") host.send(message);
  });
}
