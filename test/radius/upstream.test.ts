/**
 * The upstream RADIUS client against scripted UDP servers: identifiers per socket, retransmission
 * of the same octets, failover and its memory, and what it refuses.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { attribute, Code, decodePacket, encodePacket, type RadiusPacket } from "../../runtime/radius/mod.ts";
import { MAX_SOCKETS_PER_UPSTREAM, UpstreamClient, type UpstreamServer } from "../../runtime/radius/upstream.ts";
import { freePort } from "./peers.ts";

const SECRET = "upstream-secret";

interface Scripted {
  readonly port: number;
  readonly socket: Socket;
  readonly received: { bytes: Buffer; from: RemoteInfo }[];
  close(): Promise<void>;
}

/** A UDP server on 127.0.0.1 that records every datagram and lets the test decide what to answer. */
async function scripted(onRequest: (request: RadiusPacket<1>, bytes: Buffer, from: RemoteInfo, server: Scripted) => void): Promise<Scripted> {
  // A burst of 2048 requests must fit: the default 208 KiB buffer holds about 270 small datagrams.
  // Not under Deno: its node:dgram never applies recvBufferSize to the socket (no SO_RCVBUF) but
  // allocates a read buffer of that size for every datagram, 8 MiB each, so that reading falls
  // behind and the kernel drops; without it, Deno reads the burst as it comes.
  const socket = createSocket({ type: "udp4", ...("Deno" in globalThis ? {} : { recvBufferSize: 4 << 20 }) });
  const received: Scripted["received"] = [];
  await new Promise<void>((bound) => socket.bind(0, "127.0.0.1", () => bound()));
  const server: Scripted = {
    port: socket.address().port,
    socket,
    received,
    close: () => new Promise((closed) => socket.close(() => closed())),
  };
  socket.on("message", (bytes, from) => {
    received.push({ bytes, from });
    const request = decodePacket(bytes, SECRET);
    if (request.is(Code.AccessRequest)) onRequest(request, bytes, from, server);
  });
  return server;
}

/** An Access-Accept echoing the User-Name as Reply-Message, so each answer can be matched to its request. */
function accept(request: RadiusPacket<1>, options: { secret?: string; messageAuthenticator?: boolean } = {}): Uint8Array {
  return encodePacket(
    { code: Code.AccessAccept, attributes: [attribute("Reply-Message", request.first("User-Name") ?? "")] },
    options.secret ?? SECRET,
    { request, messageAuthenticator: options.messageAuthenticator ?? true },
  ).bytes;
}

const server = (port: number, over: Partial<UpstreamServer> = {}): UpstreamServer => ({
  address: "127.0.0.1",
  port,
  secret: SECRET,
  requireMessageAuthenticator: true,
  ...over,
});

const user = (name: string) => [attribute("User-Name", name), attribute("User-Password", "pw")];

test("300 requests in flight: two sockets, 256 identifiers each, every answer matched to its request", async () => {
  const held: { request: RadiusPacket<1>; from: RemoteInfo }[] = [];
  const up = await scripted((request, _bytes, from, s) => {
    held.push({ request, from });
    // Answer only once all are in flight, so that identifiers cannot be reused in between; in
    // small batches, so that loopback socket buffers do not overflow.
    if (held.length === 300) {
      const next = () => {
        for (const h of held.splice(0, 25)) s.socket.send(accept(h.request), h.from.port, h.from.address);
        if (held.length > 0) setTimeout(next, 2);
      };
      next();
    }
  });
  const client = new UpstreamClient({ upstreams: [server(up.port)], timeoutMs: 5000, retries: 1 });
  try {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => client.send(user(`u${i}`))));
    results.forEach((r, i) => {
      assert.is(r.kind, "response");
      if (r.kind === "response") assert.is(r.response.first("Reply-Message"), `u${i}`);
    });
    const ports = new Map<number, Set<number>>();
    for (const { bytes, from } of up.received) {
      if (!ports.has(from.port)) ports.set(from.port, new Set());
      ports.get(from.port)!.add(bytes[1]);
    }
    assert.is(ports.size, 2);
    assert.equal([...ports.values()].map((ids) => ids.size).sort((a, b) => a - b), [44, 256]);
    const c = client.counters()["127.0.0.1:" + up.port];
    assert.is(c.requests, 300);
    assert.is(c.responses, 300);
    assert.is(c.retransmissions, 0);
  } finally {
    await client.close();
    await up.close();
  }
});

test("beyond 8 sockets x 256 identifiers, requests queue until an identifier is free", async () => {
  const total = MAX_SOCKETS_PER_UPSTREAM * 256 + 50;
  const held: { request: RadiusPacket<1>; from: RemoteInfo }[] = [];
  let releasing = false;
  let inFlightAtRelease = 0;
  const up = await scripted((request, _bytes, from, s) => {
    if (releasing) {
      s.socket.send(accept(request), from.port, from.address);
      return;
    }
    held.push({ request, from });
    if (held.length < MAX_SOCKETS_PER_UPSTREAM * 256) return;
    // Every identifier of every socket is taken: give the queue time to (not) send, then answer.
    setTimeout(() => {
      releasing = true;
      inFlightAtRelease = s.received.length;
      const next = () => {
        for (const h of held.splice(0, 25)) s.socket.send(accept(h.request), h.from.port, h.from.address);
        if (held.length > 0) setTimeout(next, 1);
      };
      next();
    }, 50);
  });
  const client = new UpstreamClient({ upstreams: [server(up.port, { name: "aaa" })], timeoutMs: 5000, retries: 0 });
  try {
    const results = await Promise.all(Array.from({ length: total }, (_, i) => client.send(user(`q${i}`))));
    assert.ok(results.every((r, i) => r.kind === "response" && r.response.first("Reply-Message") === `q${i}`));
    assert.is(inFlightAtRelease, MAX_SOCKETS_PER_UPSTREAM * 256);
    assert.is(new Set(up.received.map((r) => r.from.port)).size, MAX_SOCKETS_PER_UPSTREAM);
    assert.equal([client.counters().aaa.requests, client.counters().aaa.responses], [total, total]);
  } finally {
    await client.close();
    await up.close();
  }
});

test("retransmission repeats the same octets; the late duplicate answer is counted and dropped", async () => {
  const up = await scripted((request, _bytes, from, s) => {
    // Ignore the first transmission, answer the second one twice.
    if (s.received.length < 2) return;
    const answer = accept(request);
    s.socket.send(answer, from.port, from.address);
    setTimeout(() => s.socket.send(answer, from.port, from.address), 20);
  });
  const client = new UpstreamClient({ upstreams: [server(up.port, { name: "aaa" })], timeoutMs: 100, retries: 2 });
  try {
    const r = await client.send(user("alice"));
    assert.is(r.kind, "response");
    assert.is(up.received.length, 2);
    assert.equal(up.received[1].bytes, up.received[0].bytes);
    // User-Password was re-hidden for this server's secret and the new authenticator.
    assert.is(decodePacket(up.received[0].bytes, SECRET).first("User-Password"), "pw");
    assert.ok(decodePacket(up.received[0].bytes, SECRET).messageAuthenticator);
    await new Promise((done) => setTimeout(done, 60));
    const c = client.counters().aaa;
    assert.equal([c.requests, c.retransmissions, c.responses, c.late, c.timeouts], [1, 1, 1, 1, 0]);
  } finally {
    await client.close();
    await up.close();
  }
});

test("answers that do not verify, lack a required Message-Authenticator or come from elsewhere are dropped", async () => {
  const stranger = createSocket("udp4");
  const up = await scripted((request, _bytes, from, s) => {
    s.socket.send(accept(request, { secret: "wrong" }), from.port, from.address);
    s.socket.send(accept(request, { messageAuthenticator: false }), from.port, from.address);
    stranger.send(accept(request), from.port, from.address);
  });
  const client = new UpstreamClient({ upstreams: [server(up.port, { name: "aaa" })], timeoutMs: 150, retries: 0 });
  try {
    assert.equal(await client.send(user("bob")), { kind: "timeout" });
    const c = client.counters().aaa;
    assert.is(c.invalid["authenticator-mismatch"], 1);
    assert.is(c.invalid["message-authenticator-missing"], 1);
    assert.is(c.unknownSource, 1);
    assert.is(c.timeouts, 1);
    assert.is(c.responses, 0);
  } finally {
    stranger.close();
    await client.close();
    await up.close();
  }
});

test("requireMessageAuthenticator false accepts an answer without one (FreeRADIUS 3.2.1)", async () => {
  const up = await scripted((request, _bytes, from, s) => s.socket.send(accept(request, { messageAuthenticator: false }), from.port, from.address));
  const client = new UpstreamClient({ upstreams: [server(up.port, { requireMessageAuthenticator: false })], timeoutMs: 500, retries: 0 });
  try {
    const r = await client.send(user("carol"));
    assert.is(r.kind, "response");
  } finally {
    await client.close();
    await up.close();
  }
});

test("failover after the retries; the silent server is tried last afterwards", async () => {
  const dead = await freePort();
  const up = await scripted((request, _bytes, from, s) => s.socket.send(accept(request), from.port, from.address));
  const log: string[] = [];
  const client = new UpstreamClient({
    upstreams: [server(dead, { name: "first" }), server(up.port, { name: "second" })],
    timeoutMs: 100,
    retries: 1,
    log: (line) => log.push(line),
  });
  try {
    const r = await client.send(user("dave"));
    assert.is(r.kind === "response" && r.upstream.name, "second");
    // A failover is a new request to the next server: one transmission there.
    assert.is(up.received.length, 1);
    const started = Date.now();
    assert.is((await client.send(user("erin"))).kind, "response");
    assert.ok(Date.now() - started < 100, "the silent server was not waited for again");
    const c = client.counters();
    assert.equal([c.first.requests, c.first.retransmissions, c.first.timeouts], [1, 1, 1]);
    assert.is(c.second.responses, 2);
    assert.equal(log, ["radius upstream first did not answer: tried after the others for 30 s"]);
  } finally {
    await client.close();
    await up.close();
  }
});

test("close with a request in flight: it ends as a timeout, nothing is sent on a closed socket", async () => {
  const up = await scripted(() => undefined);
  const client = new UpstreamClient({ upstreams: [server(up.port)], timeoutMs: 50, retries: 3 });
  try {
    const pending = client.send(user("frank"));
    await new Promise((r) => setTimeout(r, 10));
    await client.close();
    assert.equal(await pending, { kind: "timeout" });
  } finally {
    await up.close();
  }
});

test.run();
