/**
 * iapd as a RADIUS client of the upstream RADIUS servers (the operator's AAA): sends an
 * Access-Request, retransmits it unchanged, fails over to the next server, and returns the first
 * response that verifies.
 *
 * - Identifiers are allocated per socket (RFC 2865 §3: the identifier is unique per source
 *   address and port); a socket has at most 256 requests in flight, a server gets up to
 *   `MAX_SOCKETS_PER_UPSTREAM` sockets and further requests queue for a free identifier.
 * - Every Access-Request is new: fresh Request Authenticator, User-Password hidden with the
 *   upstream's secret, Message-Authenticator first (BlastRADIUS, CVE-2024-3596).
 * - A retransmission repeats the same octets, identifier and authenticator (RFC 5080 §2.2.1); a
 *   failover to the next server is a new request.
 * - A response is accepted only from the server's address and port, for an identifier in flight,
 *   when it verifies against that request and the server's secret (Message-Authenticator required
 *   unless the server's configuration says otherwise). Anything else is counted and dropped.
 *
 * @example
 * const client = new UpstreamClient({ upstreams, timeoutMs: 3000, retries: 2 });
 * const result = await client.send(attributes);
 * if (result.kind === "response") relay(result.response);
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { Attribute } from "./attributes.ts";
import { Code } from "./codes.ts";
import { RadiusDecodeError, type DecodeErrorReason } from "./errors.ts";
import { decodePacket, encodePacket, type RadiusPacket } from "./message.ts";
import { HEADER_LENGTH } from "./packet.ts";
import { formatAddress, parseAddress } from "../net/address.ts";

/** One upstream RADIUS server, as configured (`radius.authentication.upstreams`). */
export interface UpstreamServer {
  readonly address: string;
  readonly port: number;
  readonly secret: string;
  readonly requireMessageAuthenticator: boolean;
  readonly name?: string;
}

export interface UpstreamClientOptions {
  /** In failover order. */
  readonly upstreams: readonly UpstreamServer[];
  /** Wait before each retransmission and after the last one. */
  readonly timeoutMs: number;
  /** Retransmissions to one server before the next one is tried. */
  readonly retries: number;
  /** A line when a server stops or resumes answering; never attribute values. */
  readonly log?: (line: string) => void;
}

export type UpstreamResult =
  | { readonly kind: "response"; readonly response: RadiusPacket; readonly upstream: UpstreamServer }
  /** No server answered within its timeout and retries. */
  | { readonly kind: "timeout" };

/** Counters of one upstream server. */
export interface UpstreamCounters {
  /** Access-Requests sent (first transmissions). */
  requests: number;
  retransmissions: number;
  /** Responses that verified and were returned. */
  responses: number;
  /** Requests given up on after the last retransmission. */
  timeouts: number;
  /** Responses for an identifier with nothing in flight: late (after a timeout or failover) or unknown. */
  late: number;
  /** Datagrams on one of this server's sockets from another address or port. */
  unknownSource: number;
  /** Responses that failed to decode or verify, by reason. */
  invalid: Partial<Record<DecodeErrorReason, number>>;
}

/** 256 identifiers per socket (RFC 2865 §3). */
const IDENTIFIERS = 256;
/** 8 x 256 requests in flight per server before queueing. */
export const MAX_SOCKETS_PER_UPSTREAM = 8;
/**
 * A server that let a request time out is tried after the others for this long, so that every
 * request does not first wait out its timeouts; then it gets its configured place back.
 * (FreeRADIUS marks such a home server "zombie" and "dead" for comparable periods.)
 */
export const DEAD_PERIOD_MS = 30_000;

interface InFlight {
  readonly request: RadiusPacket<typeof Code.AccessRequest>;
  readonly done: (response: RadiusPacket) => void;
}

/** An identifier handed out and not yet sent on: taken, but no response can match it. */
const RESERVED = "reserved";

class UpstreamSocket {
  readonly inFlight: (InFlight | typeof RESERVED | undefined)[] = new Array(IDENTIFIERS);
  count = 0;
  /** Identifiers are handed out round-robin so that a late answer rarely meets a new request. */
  private next = Math.floor(Math.random() * IDENTIFIERS);

  constructor(readonly socket: Socket) {}

  allocate(): number | undefined {
    if (this.count === IDENTIFIERS) return undefined;
    while (this.inFlight[this.next] !== undefined) this.next = (this.next + 1) % IDENTIFIERS;
    const id = this.next;
    this.next = (this.next + 1) % IDENTIFIERS;
    this.inFlight[id] = RESERVED;
    this.count++;
    return id;
  }
}

class Upstream {
  readonly counters: UpstreamCounters = {
    requests: 0,
    retransmissions: 0,
    responses: 0,
    timeouts: 0,
    late: 0,
    unknownSource: 0,
    invalid: {},
  };
  readonly sockets: UpstreamSocket[] = [];
  /** Requests waiting for an identifier, oldest first. */
  readonly queue: (() => void)[] = [];
  deadUntil = 0;
  closed = false;
  private readonly canonical: string;
  private readonly family: 4 | 6;

  constructor(readonly server: UpstreamServer) {
    const { family, bytes } = parseAddress(server.address);
    this.family = family;
    this.canonical = formatAddress(bytes);
  }

  get label(): string {
    return this.server.name ?? `${this.server.address}:${this.server.port}`;
  }

  /** A socket and an identifier on it, waiting in the queue if every socket is full; none once closed. */
  async acquire(): Promise<{ socket: UpstreamSocket; identifier: number } | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      for (const s of this.sockets) {
        const identifier = s.allocate();
        if (identifier !== undefined) return { socket: s, identifier };
      }
      if (this.sockets.length < MAX_SOCKETS_PER_UPSTREAM) {
        const s = new UpstreamSocket(createSocket(this.family === 4 ? "udp4" : "udp6"));
        s.socket.on("message", (datagram, from) => this.receive(s, datagram, from));
        // Send errors reach the send callback; nothing else is expected, but an unhandled "error" would end the process.
        s.socket.on("error", () => undefined);
        this.sockets.push(s);
        continue;
      }
      await new Promise<void>((resume) => this.queue.push(resume));
    }
  }

  release(socket: UpstreamSocket, identifier: number): void {
    if (socket.inFlight[identifier] === undefined) return;
    socket.inFlight[identifier] = undefined;
    socket.count--;
    this.queue.shift()?.();
  }

  private receive(socket: UpstreamSocket, datagram: Buffer, from: RemoteInfo): void {
    if (from.port !== this.server.port || !this.sameAddress(from.address)) {
      this.counters.unknownSource++;
      return;
    }
    const entry = datagram.length >= HEADER_LENGTH ? socket.inFlight[datagram[1]] : undefined;
    const pending = entry === RESERVED ? undefined : entry;
    if (!pending) {
      if (datagram.length >= HEADER_LENGTH) this.counters.late++;
      else this.count("packet-too-short");
      return;
    }
    let response: RadiusPacket;
    try {
      response = decodePacket(datagram, this.server.secret, {
        request: pending.request,
        requireMessageAuthenticator: this.server.requireMessageAuthenticator,
      });
    } catch (e) {
      if (!(e instanceof RadiusDecodeError)) throw e;
      // Keep waiting: the real answer may still come (RFC 5080 §2.2.2: invalid packets are silently discarded).
      this.count(e.reason);
      return;
    }
    this.counters.responses++;
    pending.done(response);
  }

  private count(reason: DecodeErrorReason): void {
    this.counters.invalid[reason] = (this.counters.invalid[reason] ?? 0) + 1;
  }

  private sameAddress(text: string): boolean {
    try {
      return formatAddress(parseAddress(text).bytes) === this.canonical;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    for (const resume of this.queue.splice(0)) resume();
    return Promise.all(
      this.sockets.map((s) => new Promise<void>((closed) => s.socket.close(() => closed()))),
    ).then(() => undefined);
  }
}

export class UpstreamClient {
  private readonly upstreams: Upstream[];

  constructor(private readonly options: UpstreamClientOptions) {
    if (options.upstreams.length === 0) throw new Error("expected at least one upstream RADIUS server, found none");
    this.upstreams = options.upstreams.map((u) => new Upstream(u));
  }

  /** Counters per server, by name (or address:port). */
  counters(): Record<string, UpstreamCounters> {
    return Object.fromEntries(this.upstreams.map((u) => [u.label, u.counters]));
  }

  /**
   * Sends an Access-Request with these attributes (in this order; hidden values in plain form) to
   * the servers in failover order. Never rejects for network reasons; throws RadiusEncodeError if
   * the attributes cannot be encoded.
   */
  async send(attributes: readonly Attribute[]): Promise<UpstreamResult> {
    const now = Date.now();
    // Responsive servers in configured order, then those that recently timed out.
    const order = [
      ...this.upstreams.filter((u) => u.deadUntil <= now),
      ...this.upstreams.filter((u) => u.deadUntil > now),
    ];
    for (const upstream of order) {
      const response = await this.exchange(upstream, attributes);
      if (response) {
        if (upstream.deadUntil !== 0) this.options.log?.(`radius upstream ${upstream.label} answers again`);
        upstream.deadUntil = 0;
        return { kind: "response", response, upstream: upstream.server };
      }
      if (upstream.deadUntil === 0) {
        this.options.log?.(`radius upstream ${upstream.label} did not answer: tried after the others for ${DEAD_PERIOD_MS / 1000} s`);
      }
      upstream.deadUntil = Date.now() + DEAD_PERIOD_MS;
    }
    return { kind: "timeout" };
  }

  private async exchange(upstream: Upstream, attributes: readonly Attribute[]): Promise<RadiusPacket | undefined> {
    const slot = await upstream.acquire();
    if (!slot) return undefined;
    const { socket, identifier } = slot;
    let encoded;
    try {
      encoded = encodePacket({ code: Code.AccessRequest, identifier, attributes }, upstream.server.secret, {
        messageAuthenticator: true,
      });
    } catch (e) {
      upstream.release(socket, identifier);
      throw e;
    }
    const { bytes, packet } = encoded;
    const { port, address } = upstream.server;
    return new Promise((resolve) => {
      let transmissions = 0;
      let timer: NodeJS.Timeout;
      const finish = (response: RadiusPacket | undefined) => {
        clearTimeout(timer);
        upstream.release(socket, identifier);
        resolve(response);
      };
      const transmit = () => {
        if (upstream.closed) {
          finish(undefined);
          return;
        }
        if (transmissions > this.options.retries) {
          upstream.counters.timeouts++;
          finish(undefined);
          return;
        }
        if (transmissions === 0) upstream.counters.requests++;
        else upstream.counters.retransmissions++;
        transmissions++;
        // A send error (e.g. ICMP unreachable reported on a later send) is a lost packet: the timer retries.
        socket.socket.send(bytes, port, address, () => undefined);
        timer = setTimeout(transmit, this.options.timeoutMs);
      };
      socket.inFlight[identifier] = { request: packet, done: finish };
      transmit();
    });
  }

  close(): Promise<void> {
    return Promise.all(this.upstreams.map((u) => u.close())).then(() => undefined);
  }
}
