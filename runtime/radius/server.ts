/**
 * The UDP side every iapd RADIUS service shares (accounting, dynamic authorization): client lookup,
 * authentication, duplicate detection, Event-Timestamp window, signing the reply. A service only
 * supplies a handler from a verified request to a reply.
 *
 * Nothing here logs or counts an attribute value: counters are plain numbers keyed by fixed reason
 * strings, safe for metrics labels.
 *
 * @example
 * const server = await RadiusServer.listen({
 *   service: "dynamic-authorization",
 *   listen: { address: "127.0.0.1", family: 4, port: 3799 },
 *   clients: [{ prefix: parsePrefix("192.0.2.0/24"), secret: "s3cret", requireMessageAuthenticator: true }],
 *   accepts: [Code.CoaRequest],
 *   handler: (request) => ({ code: Code.CoaAck, attributes: [] }),
 * });
 * await server.close();
 */
import { createSocket, type RemoteInfo, type Socket, type SocketOptions } from "node:dgram";
import { lookup as dnsLookup } from "node:dns";
import { isIP } from "node:net";
import { formatAddress, parseAddress, type Prefix } from "../net/address.ts";
import type { ListenAddress } from "../config/radius.ts";
import { attribute, type Attribute } from "./attributes.ts";
import { BatchIo, type BatchCounters } from "./batch-io.ts";
import { Code, codeName, type RequestCode, type ResponseCode } from "./codes.ts";
import { RadiusDecodeError, type DecodeErrorReason } from "./errors.ts";
import { ERROR_CAUSE } from "./dictionary.ts";
import { DuplicateCache, PENDING, UNANSWERED, type Entry } from "./duplicates.ts";
import { decodePacket, encodeResponse, type RadiusPacket, type RequestContext, type ResponseEncodeOptions } from "./message.ts";

export interface RadiusClient {
  /** Source address or network of the client's packets; the longest matching prefix wins. */
  readonly prefix: Prefix;
  readonly secret: string;
  /** BlastRADIUS: discard this client's packets without Message-Authenticator. */
  readonly requireMessageAuthenticator: boolean;
  readonly name?: string;
}

/** A verified request, as a service handler sees it. */
export interface RadiusRequest {
  readonly packet: RadiusPacket<RequestCode>;
  readonly client: RadiusClient;
  /** The client's source address, canonical text (IPv4-mapped IPv6 sources as IPv4): the NAS identity. */
  readonly source: string;
  /** Milliseconds since the epoch, from the server's clock. */
  readonly receivedAt: number;
}

/** What to answer; Proxy-State is copied from the request and Message-Authenticator added by the server. */
export interface RadiusReply {
  readonly code: ResponseCode;
  readonly attributes?: readonly Attribute[];
  /**
   * Send the reply only once this resolves (rejected: the request is not answered, counted as
   * "handler-error"). For durability: `state.commit()`, whose promise one group commit shares,
   * so the replies waiting for it are sent together, without a promise per request.
   */
  readonly after?: Promise<void>;
}

/** Returns the reply, or undefined to send none (the request is then neither answered nor retried). */
export type RadiusHandler = (request: RadiusRequest) => RadiusReply | undefined | Promise<RadiusReply | undefined>;

export interface RadiusServerOptions {
  /** For logs: "accounting", "dynamic-authorization". */
  readonly service: string;
  readonly listen: ListenAddress;
  readonly clients: readonly RadiusClient[];
  /** Request codes this service handles; others are dropped and counted. */
  readonly accepts: readonly RequestCode[];
  readonly handler: RadiusHandler;
  /**
   * Put a Message-Authenticator (first) in every reply; default true. The accounting service turns
   * it off: RFC 2866 does not define one for Accounting-Response, and FreeRADIUS 3.2 (radclient,
   * proxies) checks it over a zeroed authenticator field instead of the request's (RFC 3579 §3.2),
   * so a correct one would be refused; the Response Authenticator already covers the reply.
   */
  readonly messageAuthenticatorInReplies?: boolean;
  /** RFC 5080 §2.2.2 duplicate cache lifetime; default 30. */
  readonly duplicateCacheSeconds?: number;
  /** Discard requests whose Event-Timestamp is further from now; 0 or absent disables. */
  readonly eventTimestampWindowSeconds?: number;
  readonly now?: () => number;
  /** One line per event worth an operator's attention; never carries attribute values. */
  readonly log?: (line: string) => void;
  /**
   * Drain the socket with recvmmsg and send the replies of a group commit with sendmmsg
   * (batch-io.ts; Node, IPv4 sockets); default true, falling back to node:dgram where unavailable.
   */
  readonly batchIo?: boolean;
}

/** Why a datagram got no answer, besides the codec's decode reasons. */
export type DropReason =
  | DecodeErrorReason
  /** Source address matches no configured client. */
  | "unknown-client"
  /** A valid packet of a code this service does not handle (e.g. a CoA-Request on the accounting port). */
  | "unsupported-code"
  /** A retransmission of a request still being handled. */
  | "duplicate-in-progress"
  /** Event-Timestamp outside the configured window (RFC 5176 §3.4). */
  | "event-timestamp-window"
  /** The handler chose not to answer. */
  | "not-answered"
  /** The handler threw. */
  | "handler-error"
  /** The codec failed in an unexpected way (a bug, not bad input). */
  | "internal-error";

export interface RadiusServerCounters {
  /** Datagrams received. */
  received: number;
  /** Requests handed to the handler (each at most once, retransmissions included). */
  handled: number;
  /** Retransmissions answered from the duplicate cache. */
  duplicatesAnswered: number;
  /** Status-Server requests answered (RFC 5997). */
  statusServer: number;
  /** Authenticated CoA/Disconnect-Requests with an undecodable attribute value, NAKed with 407. */
  invalidValueNaks: number;
  /** Replies sent, by reply code name ("CoA-NAK"), retransmitted ones included. */
  replies: Record<string, number>;
  /** Datagrams dropped without an answer, by reason. */
  dropped: Partial<Record<DropReason, number>>;
}

/** An encoded reply waiting for its `after`. */
interface Held {
  /** Its duplicate-cache entry. */
  readonly key: Entry;
  readonly bytes: Uint8Array;
  readonly from: RemoteInfo;
  readonly code: RequestCode;
  readonly who: string;
}

/** Replies waiting for the same `after` promise. */
interface Group {
  readonly after: Promise<void>;
  readonly held: Held[];
}

/** A datagram source address as the server sees it: canonical form and client, looked up once. */
interface Source {
  readonly bytes: Uint8Array;
  readonly text: string;
  readonly client: RadiusClient | undefined;
}

/** Sources remembered; beyond this the memo starts over (a flood of spoofed sources only costs lookups). */
const MAX_SOURCES = 4096;

export class RadiusServer {
  readonly counters: RadiusServerCounters = { received: 0, handled: 0, duplicatesAnswered: 0, statusServer: 0, invalidValueNaks: 0, replies: {}, dropped: {} };
  /** By client address, port, Identifier and Request Authenticator (duplicates.ts). */
  private readonly cache: DuplicateCache;
  private readonly clients: readonly RadiusClient[];
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly windowMs: number;
  /** Requests being handled, and who waits for there to be none (close). */
  private inFlight = 0;
  private drained: (() => void)[] = [];
  /** By the datagram's source address text: the clients never change while the server runs. */
  private sources = new Map<string, Source | null>();
  /** The `now` of the last duplicate-cache expiry. */
  private expiredAt = NaN;
  /** The replies of the latest `after` promise seen (the current group commit). */
  private group: Group | undefined;
  /** recvmmsg/sendmmsg on the socket, where available. */
  private batch: BatchIo | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly options: RadiusServerOptions,
  ) {
    // Longest prefix first, so the first match is the most specific.
    this.clients = [...options.clients].sort((a, b) => b.prefix.length - a.prefix.length);
    this.now = options.now ?? Date.now;
    this.cacheMs = (options.duplicateCacheSeconds ?? 30) * 1000;
    this.cache = new DuplicateCache(this.cacheMs);
    this.windowMs = (options.eventTimestampWindowSeconds ?? 0) * 1000;
  }

  /** Binds the socket; resolves once it listens (port 0: an ephemeral port, see `address()`). */
  static listen(options: RadiusServerOptions): Promise<RadiusServer> {
    const socket = createSocket({ type: options.listen.family === 6 ? "udp6" : "udp4", lookup: literalLookup });
    const server = new RadiusServer(socket, options);
    const receive = (datagram: Buffer, from: RemoteInfo) => server.receive(datagram, from);
    socket.on("message", (datagram, from) => {
      server.receive(datagram, from);
      // More are usually queued behind this one: read them in one call, not one libuv turn each.
      server.batch?.drain(receive);
    });
    return new Promise((resolve, reject) => {
      const failed = (e: Error) => {
        socket.close();
        reject(e);
      };
      socket.once("error", failed);
      socket.bind(options.listen.port, options.listen.address, () => {
        socket.off("error", failed);
        socket.on("error", (e) => options.log?.(`${options.service}: socket error: ${e.message}`));
        if (options.batchIo ?? true) server.batch = BatchIo.open(socket);
        resolve(server);
      });
    });
  }

  /** recvmmsg/sendmmsg counts, or undefined when node:dgram alone does the I/O (batch-io.ts). */
  get batchCounters(): Readonly<BatchCounters> | undefined {
    return this.batch?.counters;
  }

  address(): { address: string; port: number } {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  /** Closes the socket after the requests being handled have been answered. */
  async close(): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((done) => this.drained.push(done));
    this.batch?.close();
    this.batch = undefined;
    await new Promise<void>((done) => this.socket.close(() => done()));
  }

  private readonly settled = (): void => {
    if (--this.inFlight === 0) for (const done of this.drained.splice(0)) done();
  };

  private drop(reason: DropReason): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
  }

  private count(bytes: Uint8Array): void {
    const name = codeName(bytes[0]);
    this.counters.replies[name] = (this.counters.replies[name] ?? 0) + 1;
  }

  private send(bytes: Uint8Array, from: RemoteInfo): void {
    this.count(bytes);
    this.socket.send(bytes, from.port, from.address);
  }

  private receive(datagram: Buffer, from: RemoteInfo): void {
    this.counters.received++;
    const source = this.sourceOf(from.address);
    const client = source?.client;
    if (!client || !source) return this.drop("unknown-client");
    let packet: RadiusPacket;
    try {
      packet = decodePacket(datagram, client.secret, { requireMessageAuthenticator: client.requireMessageAuthenticator });
    } catch (e) {
      if (e instanceof RadiusDecodeError && e.authenticated && this.nakInvalidValue(e.authenticated, client, from)) return;
      // Never let a datagram take the listener down; anything but a decode error is a bug, counted apart.
      return this.drop(e instanceof RadiusDecodeError ? e.reason : "internal-error");
    }
    if (packet.code === Code.StatusServer) return this.statusServer(packet, client, from);
    if (!(this.options.accepts as readonly number[]).includes(packet.code)) return this.drop("unsupported-code");
    const request = packet as RadiusPacket<RequestCode>;
    const now = this.now();
    // Once per clock tick (a millisecond), not per datagram; the lookup below skips what expired since.
    if (now !== this.expiredAt) {
      this.expiredAt = now;
      this.cache.expire(now);
    }
    // RFC 5080 §2.2.2: a duplicate has the same client address and port, Identifier and Request
    // Authenticator. Only authenticated packets reach the cache, so a forged one cannot occupy an entry.
    const cached = this.cache.find(source.bytes, from.port, datagram, now);
    if (cached !== -1) {
      const state = this.cache.state(cached);
      if (state === PENDING) return this.drop("duplicate-in-progress");
      const reply = this.cache.reply(cached);
      if (state === UNANSWERED || !reply) return this.drop("not-answered");
      this.counters.duplicatesAnswered++;
      return this.send(reply, from);
    }
    if (this.outsideWindow(request, now)) return this.drop("event-timestamp-window");
    const key = this.cache.add(source.bytes, from.port, datagram);
    this.inFlight++;
    this.counters.handled++;
    let result: ReturnType<RadiusHandler>;
    try {
      result = this.options.handler({ packet: request, client, source: source.text, receivedAt: now });
    } catch (e) {
      this.failed(request, client, source.text, e);
      this.finish(key, undefined, from);
      return this.settled();
    }
    if (result === undefined || typeof (result as Promise<unknown>).then !== "function") {
      // Answered synchronously: no promise of its own; a reply with `after` joins that promise's group.
      const reply = result as RadiusReply | undefined;
      const bytes = this.encode(reply, request, client, source.text);
      if (bytes && reply!.after) return this.hold(reply!.after, { key, bytes, from, code: request.code, who: client.name ?? source.text });
      this.finish(key, bytes, from);
      return this.settled();
    }
    const work = this.handle(result as Promise<RadiusReply | undefined>, request, client, source.text, from, key);
    // handle() answers every error itself; one from the socket (closed under it) is logged, never unhandled.
    work.then(this.settled, (e: Error) => {
      this.options.log?.(`${this.options.service}: reply failed (${e?.name ?? "error"})`);
      this.settled();
    });
  }

  private async handle(
    result: Promise<RadiusReply | undefined>,
    packet: RadiusPacket<RequestCode>,
    client: RadiusClient,
    source: string,
    from: RemoteInfo,
    key: Entry,
  ): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      const reply = await result;
      if (reply?.after) await reply.after;
      bytes = this.encode(reply, packet, client, source);
    } catch (e) {
      this.failed(packet, client, source, e);
    }
    this.finish(key, bytes, from);
  }

  /** The reply's datagram, or undefined (counted) when there is none. */
  private encode(reply: RadiusReply | undefined, packet: RadiusPacket<RequestCode>, client: RadiusClient, source: string): Uint8Array | undefined {
    if (!reply) {
      this.drop("not-answered");
      return undefined;
    }
    try {
      // RFC 2865 §5.33, RFC 5176 §3: Proxy-State is copied unchanged, in order, into the reply.
      const proxyStates = packet.all("Proxy-State");
      const attributes =
        proxyStates.length === 0 ? (reply.attributes ?? []) : [...(reply.attributes ?? []), ...proxyStates.map((v) => attribute("Proxy-State", v))];
      return encodeResponse(
        { code: reply.code, attributes },
        client.secret,
        { request: packet, messageAuthenticator: this.options.messageAuthenticatorInReplies ?? true } as ResponseEncodeOptions<ResponseCode>,
      );
    } catch (e) {
      this.failed(packet, client, source, e);
      return undefined;
    }
  }

  private failed(packet: RadiusPacket, client: RadiusClient, source: string, e: unknown): void {
    this.drop("handler-error");
    // The error's name only: messages of lower layers may quote addresses or identities.
    this.options.log?.(`${this.options.service}: ${codeName(packet.code)} from ${client.name ?? source} failed (${(e as Error)?.name ?? "error"})`);
  }

  /** Caches the outcome (an answer or none) for retransmissions, then sends the answer. */
  private finish(key: Entry, bytes: Uint8Array | undefined, from: RemoteInfo): void {
    this.remember(key, bytes);
    if (bytes) this.send(bytes, from);
  }

  private remember(key: Entry, bytes: Uint8Array | undefined): void {
    this.cache.finish(key, bytes, this.now());
  }

  /** Keeps a reply until its `after` resolves; replies sharing the promise are released together. */
  private hold(after: Promise<void>, held: Held): void {
    let group = this.group;
    if (group?.after !== after) {
      group = this.group = { after, held: [] };
      const g = group;
      after.then(
        () => this.release(g, undefined),
        (e: unknown) => this.release(g, e ?? new Error("rejected")),
      );
    }
    group.held.push(held);
  }

  private release(group: Group, error: unknown): void {
    if (this.group === group) this.group = undefined;
    const batch = this.batch;
    if (error === undefined && batch) {
      // The whole group in as few sendmmsg calls as it takes.
      for (const h of group.held) {
        this.remember(h.key, h.bytes);
        this.count(h.bytes);
      }
      try {
        batch.send(group.held);
      } catch (e) {
        this.options.log?.(`${this.options.service}: reply failed (${(e as Error)?.name ?? "error"})`);
      }
      for (let i = 0; i < group.held.length; i++) this.settled();
      return;
    }
    for (const h of group.held) {
      try {
        if (error === undefined) this.finish(h.key, h.bytes, h.from);
        else {
          this.drop("handler-error");
          this.options.log?.(`${this.options.service}: ${codeName(h.code)} from ${h.who} failed (${(error as Error)?.name ?? "error"})`);
          this.finish(h.key, undefined, h.from);
        }
      } catch (e) {
        // The socket closed under it: logged, never unhandled.
        this.options.log?.(`${this.options.service}: reply failed (${(e as Error)?.name ?? "error"})`);
      }
      this.settled();
    }
  }

  /**
   * RFC 5997: a known client's Status-Server is answered at once, with Access-Accept on an
   * authentication port and Accounting-Response on an accounting port (nothing else is done and
   * nothing cached: it asks whether the server is alive). It must carry a valid
   * Message-Authenticator whatever the client's setting (§3). The dynamic authorization port leaves it
   * unanswered (RFC 5997 defines no answer there; RFC 5176 servers need not take it), counted as
   * "unsupported-code".
   */
  private statusServer(packet: RadiusPacket, client: RadiusClient, from: RemoteInfo): void {
    const accepts = this.options.accepts as readonly number[];
    const code = accepts.includes(Code.AccessRequest) ? Code.AccessAccept : accepts.includes(Code.AccountingRequest) ? Code.AccountingResponse : undefined;
    if (code === undefined) return this.drop("unsupported-code");
    if (!packet.messageAuthenticator) return this.drop("message-authenticator-missing");
    this.counters.statusServer++;
    const bytes = encodeResponse({ code, attributes: [] }, client.secret, {
      request: packet,
      // Access-Accept always carries one (BlastRADIUS); Accounting-Response as the service's replies do.
      messageAuthenticator: code === Code.AccessAccept || (this.options.messageAuthenticatorInReplies ?? true),
    } as ResponseEncodeOptions<ResponseCode>);
    this.send(bytes, from);
  }

  /**
   * RFC 5176 §3.6: an authenticated CoA- or Disconnect-Request with an attribute value that cannot
   * be decoded (e.g. an ERX LI attribute of the wrong length, or whose salt-encrypted value does not
   * decrypt to a valid one) is answered with a NAK, Error-Cause 407 Invalid-Attribute-Value, instead
   * of being dropped, so the sender learns why. Nothing else is done; the answer is the same for a
   * retransmission, so it is not cached. Other services drop such a request (counted by reason).
   */
  private nakInvalidValue(request: NonNullable<RadiusDecodeError["authenticated"]>, client: RadiusClient, from: RemoteInfo): boolean {
    if (!(this.options.accepts as readonly number[]).includes(request.code)) return false;
    const code = request.code === Code.CoaRequest ? Code.CoaNak : request.code === Code.DisconnectRequest ? Code.DisconnectNak : undefined;
    if (code === undefined) return false;
    this.counters.invalidValueNaks++;
    const bytes = encodeResponse({ code, attributes: [attribute("Error-Cause", ERROR_CAUSE["Invalid-Attribute-Value"])] }, client.secret, {
      request: request as RequestContext,
      messageAuthenticator: this.options.messageAuthenticatorInReplies ?? true,
    } as ResponseEncodeOptions<ResponseCode>);
    this.send(bytes, from);
    return true;
  }

  /**
   * RFC 5176 §3.4: a request whose Event-Timestamp is not current is silently discarded. An
   * Accounting-Request's Event-Timestamp is when the event happened (RFC 2869 §5.3) and a NAS may
   * have held it back for Acct-Delay-Time seconds (RFC 2866 §5.2), so the send time compared is
   * the sum of both.
   */
  private outsideWindow(packet: RadiusPacket, now: number): boolean {
    if (this.windowMs === 0) return false;
    const stamp = packet.first("Event-Timestamp");
    if (!stamp) return false;
    const sent = stamp.getTime() + (packet.first("Acct-Delay-Time") ?? 0) * 1000;
    return Math.abs(now - sent) > this.windowMs;
  }

  /** The canonical source and its client (undefined: no client), or null for an unparsable address. */
  private sourceOf(address: string): Source | null {
    let source = this.sources.get(address);
    if (source === undefined) {
      const canonical = canonicalSource(address);
      source = canonical ? { ...canonical, client: this.clientFor(canonical.bytes) } : null;
      if (this.sources.size >= MAX_SOURCES) this.sources.clear();
      this.sources.set(address, source);
    }
    return source;
  }

  private clientFor(address: Uint8Array): RadiusClient | undefined {
    return this.clients.find((c) => c.prefix.bytes.length === address.length && inPrefix(address, c.prefix));
  }
}

/**
 * node:dgram resolves the address of every send, even an IP literal, through dns.lookup and a
 * nextTick. Replies always go to a datagram's source, a literal: answered at once here (names, if
 * any ever came, still go to dns.lookup).
 */
const literalLookup: SocketOptions["lookup"] = (hostname, options, callback) => {
  const family = isIP(hostname);
  if (family !== 0) return (callback as (e: null, address: string, family: number) => void)(null, hostname, family);
  return dnsLookup(hostname, options, callback);
};

/** The source as the NAS identity: an IPv4-mapped IPv6 source (dual-stack socket) is its IPv4 address. */
function canonicalSource(text: string): { bytes: Uint8Array; text: string } | undefined {
  let bytes: Uint8Array;
  try {
    bytes = parseAddress(text.replace(/%.*$/, "")).bytes;
  } catch {
    return undefined;
  }
  if (bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    bytes = bytes.slice(12);
  }
  return { bytes, text: formatAddress(bytes) };
}

function inPrefix(address: Uint8Array, prefix: Prefix): boolean {
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== prefix.bytes[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (address[full] & mask) === (prefix.bytes[full] & mask);
}
