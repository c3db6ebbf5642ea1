/**
 * Batched datagram I/O (runtime/radius/batch-io.ts) on a real socket: a burst of Accounting-Requests
 * sent at once queues on the server's socket, recvmmsg reads the queue and sendmmsg sends the replies
 * of each group commit. The answers must be exactly node:dgram's (same bytes, each verified against
 * its request), every one only once its record is in the journal file on disk, and retransmissions
 * must be answered from the duplicate cache.
 */
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parsePrefix } from "../../runtime/net/address.ts";
import { accountingService } from "../../runtime/radius/accounting.ts";
import { Code } from "../../runtime/radius/codes.ts";
import { decodePacket, encodePacket } from "../../runtime/radius/message.ts";
import { RadiusServer } from "../../runtime/radius/server.ts";
import { readFrames } from "../../runtime/state/frame.ts";
import { decodeRecord } from "../../runtime/state/record.ts";
import { DurableState } from "../../runtime/state/state.ts";
import { accountingAttributes } from "../../scripts/bench/subscribers.ts";

const SECRET = "batch-io-secret";
const BURST = 120;

/** Acct-Session-Ids of the upsertSession records in the state directory's journal files, read from disk now. */
function journaledSessions(directory: string): Set<string> {
  const ids = new Set<string>();
  for (const name of readdirSync(directory).filter((n) => n.endsWith(".log"))) {
    for (const { value } of readFrames(readFileSync(join(directory, name))).records) {
      const record = decodeRecord(value);
      if (record?.op === "upsertSession") ids.add((record.args[0] as { acctSessionId: string }).acctSessionId);
    }
  }
  return ids;
}

async function run(batchIo: boolean) {
  const directory = mkdtempSync(join(tmpdir(), "iapd-batch-io-"));
  const state = await DurableState.open({ directory, snapshotEveryRecords: 1_000_000, store: { maxMirrors: 16 } });
  const service = accountingService(state.store, { commit: () => state.commit() });
  const server = await RadiusServer.listen({
    service: "accounting",
    listen: { address: "127.0.0.1", family: 4, port: 0 },
    clients: [{ prefix: parsePrefix("127.0.0.1/32"), secret: SECRET, requireMessageAuthenticator: true }],
    accepts: [Code.AccountingRequest],
    handler: service.handle,
    messageAuthenticatorInReplies: false,
    batchIo,
  });
  const client: Socket = createSocket("udp4");
  await new Promise<void>((ready) => client.bind(0, "127.0.0.1", () => ready()));
  const requests = Array.from({ length: BURST }, (_, i) =>
    encodePacket({ code: Code.AccountingRequest, identifier: i, attributes: accountingAttributes(i, "Start") }, SECRET, { messageAuthenticator: true }),
  );
  const replies = new Map<number, Buffer>();
  const notDurable: number[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${replies.size} of ${BURST} answered`)), 20_000);
    client.on("message", (datagram) => {
      const id = datagram[1];
      if (replies.has(id)) return;
      // The rule: acknowledged only once durable. Its record must already be in the file.
      if (!journaledSessions(directory).has(requests[id].packet.first("Acct-Session-Id")!)) notDurable.push(id);
      replies.set(id, datagram);
      if (replies.size === BURST) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // All sent before the server's event loop turns: they queue on its socket.
  for (const r of requests) client.send(r.bytes, server.address().port, "127.0.0.1");
  await done;
  // Retransmissions of the first ten: answered from the duplicate cache, the same bytes.
  const again = new Map<number, Buffer>();
  const retransmitted = new Promise<void>((resolve) => {
    client.removeAllListeners("message");
    client.on("message", (datagram) => {
      again.set(datagram[1], datagram);
      if (again.size === 10) resolve();
    });
  });
  for (const r of requests.slice(0, 10)) client.send(r.bytes, server.address().port, "127.0.0.1");
  await retransmitted;
  const counters = { ...server.counters, batch: server.batchCounters ? { ...server.batchCounters } : undefined };
  const sessions = state.store.sessionCount;
  client.close();
  await server.close();
  await state.close();
  rmSync(directory, { recursive: true, force: true });
  return { requests, replies, again, notDurable, counters, sessions };
}

test("recvmmsg/sendmmsg answer a queued burst exactly as node:dgram does, each reply after its record is on disk", async () => {
  const batched = await run(true);
  const plain = await run(false);
  for (const r of [batched, plain]) {
    assert.is(r.replies.size, BURST);
    assert.equal(r.notDurable, [], "replies sent before their record was in the journal file");
    assert.is(r.sessions, BURST);
    for (const [id, datagram] of r.replies) {
      const reply = decodePacket(datagram, SECRET, { request: r.requests[id].packet });
      assert.is(reply.code, Code.AccountingResponse);
      assert.is(reply.identifier, id);
    }
    for (const [id, datagram] of r.again) assert.equal(datagram, r.replies.get(id), `retransmission ${id}`);
    assert.is(r.counters.duplicatesAnswered, 10);
    assert.is(r.counters.handled, BURST);
  }
  for (const [id, datagram] of batched.replies) assert.equal(datagram, plain.replies.get(id), `reply ${id}`);
  // Batching did happen: more than one datagram per recvmmsg call on average, and the replies went out by sendmmsg.
  assert.is(plain.counters.batch, undefined);
  // Deno's node:dgram exposes no descriptor: there the server falls back to node:dgram (the same answers, above).
  if ("Deno" in globalThis) return assert.is(batched.counters.batch, undefined);
  const b = batched.counters.batch!;
  assert.ok(b, "batch I/O is available on Node for an IPv4 socket");
  assert.ok(b.receiveCalls > 0 && b.received > b.receiveCalls, JSON.stringify(b));
  assert.ok(b.sent + b.sentByFallback >= BURST && b.sent > b.sendCalls, JSON.stringify(b));
});

test.run();
