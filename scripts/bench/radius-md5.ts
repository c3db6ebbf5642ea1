/**
 * The MD5 work of one Accounting-Request (docs/benchmarks.md, RADIUS control plane, sixth session):
 * check its Request Authenticator and Message-Authenticator, then sign an empty
 * Accounting-Response. Alternatives, in alternating rounds of one process, CPU ns per request:
 *
 * - `md5.ts`: this checkout's runtime/radius/crypto.ts (MD5 in WebAssembly, md5.ts);
 * - `node:crypto`: createHash / createHmac per digest, as the `radius` package and most Node code do;
 * - `--compare DIR`: another checkout's crypto.ts, same functions (e.g. a worktree of a commit
 *   with the JavaScript MD5, `git worktree add /tmp/before c475d1d`, build/ and node_modules linked).
 *
 *   node --import tsx scripts/bench/radius-md5.ts [--rounds 15] [--compare DIR]
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Code } from "../../runtime/radius/codes.ts";
import * as mine from "../../runtime/radius/crypto.ts";
import { encodePacket } from "../../runtime/radius/message.ts";
import { scanWire } from "../../runtime/radius/packet.ts";
import { accountingAttributes } from "./subscribers.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "15" }, compare: { type: "string" } } });
const ROUNDS = Number(values.rounds);
const SECRET = "bench-radius-secret";
const PACKETS = 1000;
const REPEAT = 50;

type Crypto = Pick<typeof mine, "authenticatorBasisFor" | "verifyAuthenticator" | "verifyMessageAuthenticator" | "computeAuthenticator"> &
  Partial<Pick<typeof mine, "checkAuthenticators">>;

const packets = Array.from({ length: PACKETS }, (_, i) =>
  Buffer.from(encodePacket({ code: Code.AccountingRequest, identifier: i & 255, attributes: accountingAttributes(i, "Start") }, SECRET, { messageAuthenticator: true }).bytes),
);
const offsets = packets.map((p) => scanWire(p, false).messageAuthenticatorOffsets[0]);
/** An empty Accounting-Response to each, its authenticator field to be filled. */
const reply = Buffer.from([Code.AccountingResponse, 0, 0, 20, ...new Array(16).fill(0)]);

/** What accounting does per request with `c`: two checks (as decodePacket makes them) and a signed reply. */
function withCrypto(c: Crypto): (i: number) => boolean {
  const check = c.checkAuthenticators;
  return (i) => {
    const bytes = packets[i];
    const basis = c.authenticatorBasisFor(Code.AccountingRequest, bytes.subarray(4, 20));
    const ok = check
      ? check(bytes, basis, SECRET, true, offsets[i]) === undefined
      : c.verifyAuthenticator(bytes, basis, SECRET) && c.verifyMessageAuthenticator(bytes, offsets[i], basis, SECRET);
    reply[1] = bytes[1];
    c.computeAuthenticator(reply, bytes.subarray(4, 20), SECRET);
    return ok;
  };
}

const secret = Buffer.from(SECRET);
const zeros = new Uint8Array(16);
function withNodeCrypto(i: number): boolean {
  const bytes = packets[i];
  const m = offsets[i];
  const auth = createHash("md5").update(bytes.subarray(0, 4)).update(zeros).update(bytes.subarray(20)).update(secret).digest();
  const hmac = createHmac("md5", secret).update(bytes.subarray(0, 4)).update(zeros).update(bytes.subarray(20, m)).update(zeros).update(bytes.subarray(m + 16)).digest();
  const ok = timingSafeEqual(auth, bytes.subarray(4, 20)) && timingSafeEqual(hmac, bytes.subarray(m, m + 16));
  reply[1] = bytes[1];
  createHash("md5").update(reply.subarray(0, 4)).update(bytes.subarray(4, 20)).update(secret).digest();
  return ok;
}

const alternatives: [string, (i: number) => boolean][] = [
  ["md5.ts", withCrypto(mine)],
  ["node:crypto", withNodeCrypto],
];
if (values.compare) {
  const other = (await import(pathToFileURL(resolve(values.compare, "runtime/radius/crypto.ts")).href)) as Crypto;
  alternatives.push([values.compare, withCrypto(other)]);
}
// Every alternative must accept every packet and refuse an altered one, or its figure means nothing.
for (const [name, run] of alternatives) {
  for (let i = 0; i < PACKETS; i++) if (!run(i)) throw new Error(`${name}: packet ${i} refused`);
  packets[0][30] ^= 1;
  const accepted = run(0);
  packets[0][30] ^= 1;
  if (accepted) throw new Error(`${name}: an altered packet accepted`);
}

const results = new Map<string, number[]>(alternatives.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of round % 2 ? [...alternatives].reverse() : alternatives) {
    const cpu = process.cpuUsage();
    for (let r = 0; r < REPEAT; r++) for (let i = 0; i < PACKETS; i++) run(i);
    const used = process.cpuUsage(cpu);
    results.get(name)!.push(((used.user + used.system) * 1000) / (REPEAT * PACKETS));
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const base = median(results.get("md5.ts")!);
console.log(`${packets[0].length}-octet Accounting-Request (Start), ${ROUNDS} rounds of ${REPEAT * PACKETS}: CPU ns per request (checks + signed reply), medians`);
console.log("| alternative | ns/request | ÷ md5.ts |\n|---|---:|---:|");
for (const [name, v] of results) console.log(`| ${name} | ${Math.round(median(v))} | ${(median(v) / base).toFixed(2)} |`);
