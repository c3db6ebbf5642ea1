/**
 * The RADIUS authentication proxy: NAS -> iapd -> upstream RADIUS servers, and the answer back.
 *
 * iapd sits between the BNG and the operator's AAA so that lawful-intercept attributes in an
 * Access-Accept (ERX-LI-Action 1 with Med-Dev-Handle, Med-Ip-Address, Med-Port-Number;
 * spec/li-protocols.md §1) arm mirroring at login, and so that the NAS never sees them:
 * - the request goes upstream as a new Access-Request (upstream.ts): the NAS's attributes in
 *   order, Proxy-State included (RFC 2865 §2.3: forwarded unmodified), User-Password re-hidden;
 * - the answer (Accept, Reject or Challenge) comes back with the four LI attributes removed from
 *   every code (FreeRADIUS 3.2.1 copies reply items into Access-Reject too), the upstream's
 *   Proxy-State echo removed, and the rest in order, hidden values (Tunnel-Password, ...) in plain
 *   form; the listener (server.ts) re-encrypts them for the NAS's request and secret, appends the
 *   NAS's own Proxy-States in order (RFC 2865 §5.33) and signs the reply, Message-Authenticator
 *   first;
 * - no upstream answering means no answer: the NAS retransmits, and the listener's duplicate
 *   cache keeps a retransmission from becoming a second upstream request.
 *
 * Nothing here logs who is intercepted or any LI value; the counters are plain numbers.
 *
 * @example
 * const proxy = await startAuthenticationProxy({ config: radius.authentication, clients, store });
 * await proxy.close();
 */
import type { AuthenticationConfig } from "../config/radius-proxy.ts";
import { HandleError, parseMedDevHandle } from "../sessions/handle.ts";
import { StoreError, type LoginArm, type SessionStore } from "../sessions/store.ts";
import { AddressError } from "../net/address.ts";
import { isNamed, type Attribute } from "./attributes.ts";
import { Code, codeName } from "./codes.ts";
import { LI_ACTION } from "./dictionary.ts";
import { RadiusEncodeError } from "./errors.ts";
import type { RadiusPacket } from "./message.ts";
import { RadiusServer, type RadiusClient, type RadiusReply, type RadiusRequest } from "./server.ts";
import { UpstreamClient, type UpstreamCounters, type UpstreamResult } from "./upstream.ts";

/** The four Juniper ERX lawful-intercept VSAs (vendor 4874, types 58..61). */
const LI_NAMES = ["ERX-LI-Action", "ERX-Med-Dev-Handle", "ERX-Med-Ip-Address", "ERX-Med-Port-Number"] as const;

/** RFC 2865 §5.3, §5.40: CHAP-Password and CHAP-Challenge, kept raw (not in the dictionary). */
const CHAP_PASSWORD = 3;
const CHAP_CHALLENGE = 60;

export interface ProxyCounters {
  /** Access-Requests sent upstream (once each, however often the NAS retransmitted). */
  requests: number;
  /** Responses relayed to the NAS, by code name. */
  relayed: Record<string, number>;
  /** Requests no upstream answered: the NAS got no answer. */
  unanswered: number;
  /**
   * Requests that could not be re-encoded for the upstream (e.g. over 4096 octets): not answered.
   * An answer that cannot be re-encoded for the NAS is the listener's "handler-error".
   */
  unencodable: number;
  /** What the LI attributes of Access-Accepts did. */
  li: {
    /** ERX-LI-Action 1: mirroring started at once (address known from the Accept or accounting). */
    started: number;
    /** ERX-LI-Action 1: armed, waiting for the session's first accounting packet. */
    pending: number;
    /** ERX-LI-Action 1 refused by the mirror session limit. */
    refused: number;
    /** ERX-LI-Action 0 (off) in an Accept: nothing to start. */
    off: number;
    /** ERX-LI-Action 2, the decoy: nothing to do. */
    noop: number;
    /** An Accept with some but not all four LI attributes: an upstream configuration error. */
    partial: number;
    /** A complete set that cannot be used: unknown action, bad Med-Dev-Handle, port or address, no session key. */
    invalid: number;
    /** Access-Reject or Access-Challenge carrying LI attributes (removed; they arm nothing). */
    outsideAccept: number;
  };
}

export interface AuthenticationProxyOptions {
  readonly upstream: UpstreamClient;
  readonly store: SessionStore;
  /** How long a login arm waits for the session's accounting (`armTimeoutSeconds`). */
  readonly armTimeoutSeconds: number;
  readonly now?: () => number;
  /** Resolves once arming is durable (runtime/state): the Accept waits for it. */
  readonly commit?: () => Promise<void>;
}

/** The proxy's logic as a listener handler; `startAuthenticationProxy` wires it to a socket. */
export class AuthenticationProxy {
  readonly counters: ProxyCounters = {
    requests: 0,
    relayed: {},
    unanswered: 0,
    unencodable: 0,
    li: { started: 0, pending: 0, refused: 0, off: 0, noop: 0, partial: 0, invalid: 0, outsideAccept: 0 },
  };
  private readonly now: () => number;

  constructor(private readonly options: AuthenticationProxyOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Upstream counters by server name. */
  upstreamCounters(): Record<string, UpstreamCounters> {
    return this.options.upstream.counters();
  }

  /** The listener's handler: relays one verified Access-Request; undefined = no answer. */
  readonly handle = async (request: RadiusRequest): Promise<RadiusReply | undefined> => {
    const nasRequest = request.packet;
    if (!nasRequest.is(Code.AccessRequest)) return undefined;
    let result: UpstreamResult;
    try {
      this.counters.requests++;
      result = await this.options.upstream.send(upstreamAttributes(nasRequest));
    } catch (e) {
      if (!(e instanceof RadiusEncodeError)) throw e;
      this.counters.unencodable++;
      return undefined;
    }
    if (result.kind === "timeout") {
      this.counters.unanswered++;
      return undefined;
    }
    const { response } = result;
    const hasLi = response.attributes.some(isLi);
    if (response.is(Code.AccessAccept)) {
      if (hasLi) {
        this.arm(nasRequest, request.source, response);
        await this.options.commit?.();
      }
    } else if (hasLi) {
      this.counters.li.outsideAccept++;
    }
    const name = codeName(response.code);
    this.counters.relayed[name] = (this.counters.relayed[name] ?? 0) + 1;
    return {
      code: response.code as typeof Code.AccessAccept | typeof Code.AccessReject | typeof Code.AccessChallenge,
      attributes: response.attributes.filter((a) => !isLi(a) && !isProxyState(a)),
    };
  };

  /** Drops login arms whose session never showed up; call periodically. */
  expireArms(): number {
    return this.options.store.expireArms(this.now());
  }

  /**
   * An Accept with LI attributes: all four or none (li-protocols.md §1.2); action 1 arms
   * mirroring for this login, 0 and 2 do nothing at login.
   */
  private arm(request: RadiusPacket<typeof Code.AccessRequest>, nas: string, accept: RadiusPacket): void {
    const li = this.counters.li;
    const action = accept.first("ERX-LI-Action");
    const handle = accept.first("ERX-Med-Dev-Handle");
    const address = accept.first("ERX-Med-Ip-Address");
    const port = accept.first("ERX-Med-Port-Number");
    if (action === undefined || handle === undefined || address === undefined || port === undefined) {
      li.partial++;
      return;
    }
    if (action === LI_ACTION.off) {
      li.off++;
      return;
    }
    if (action === LI_ACTION.noop) {
      li.noop++;
      return;
    }
    if (action !== LI_ACTION.on) {
      li.invalid++;
      return;
    }
    try {
      const login: LoginArm = {
        nas,
        acctSessionId: request.first("Acct-Session-Id"),
        userName: request.first("User-Name"),
        framedIpAddress: accept.first("Framed-IP-Address"),
        framedIpv6Prefix: accept.first("Framed-IPv6-Prefix"),
        delegatedIpv6Prefix: accept.first("Delegated-IPv6-Prefix"),
        framedIpv6Address: accept.first("Framed-IPv6-Address"),
        handle: parseMedDevHandle(handle),
        mediation: { address, port },
      };
      const outcome = this.options.store.armAtLogin(login, this.options.armTimeoutSeconds * 1000, this.now());
      li[outcome.state]++;
    } catch (e) {
      if (!(e instanceof HandleError || e instanceof StoreError || e instanceof AddressError)) throw e;
      li.invalid++;
    }
  }
}

function isLi(a: Attribute): boolean {
  return isNamed(a) && (LI_NAMES as readonly string[]).includes(a.name);
}

function isProxyState(a: Attribute): boolean {
  return isNamed(a) && a.name === "Proxy-State";
}

/**
 * The NAS's attributes for the upstream request, in order. The Request Authenticator is new, so a
 * CHAP-Password whose challenge was the NAS's Request Authenticator gets that challenge as an
 * explicit CHAP-Challenge (RFC 2865 §5.3), as RADIUS proxies do.
 */
function upstreamAttributes(request: RadiusPacket<typeof Code.AccessRequest>): Attribute[] {
  const attributes = [...request.attributes];
  const raw = (type: number) => attributes.some((a) => !isNamed(a) && a.kind === "attribute" && a.type === type);
  if (raw(CHAP_PASSWORD) && !raw(CHAP_CHALLENGE)) {
    attributes.push({ kind: "attribute", type: CHAP_CHALLENGE, value: new Uint8Array(request.authenticator) });
  }
  return attributes;
}

export interface StartAuthenticationProxyOptions {
  readonly config: AuthenticationConfig;
  /** The NASes allowed to send Access-Requests (`radius.clients`). */
  readonly clients: readonly RadiusClient[];
  readonly store: SessionStore;
  /** `radius.duplicateCacheSeconds`. */
  readonly duplicateCacheSeconds?: number;
  /** `radius.eventTimestampWindowSeconds`. */
  readonly eventTimestampWindowSeconds?: number;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
  readonly commit?: () => Promise<void>;
}

export interface RunningAuthenticationProxy {
  readonly proxy: AuthenticationProxy;
  readonly server: RadiusServer;
  close(): Promise<void>;
}

/** Binds `config.listen` and relays Access-Requests from `clients` to `config.upstreams`. */
export async function startAuthenticationProxy(options: StartAuthenticationProxyOptions): Promise<RunningAuthenticationProxy> {
  const { config } = options;
  const upstream = new UpstreamClient({
    upstreams: config.upstreams,
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    log: options.log,
  });
  const proxy = new AuthenticationProxy({
    upstream,
    store: options.store,
    armTimeoutSeconds: config.armTimeoutSeconds,
    now: options.now,
    commit: options.commit,
  });
  let server: RadiusServer;
  try {
    server = await RadiusServer.listen({
      service: "authentication",
      listen: config.listen,
      clients: options.clients,
      accepts: [Code.AccessRequest],
      handler: proxy.handle,
      duplicateCacheSeconds: options.duplicateCacheSeconds,
      eventTimestampWindowSeconds: options.eventTimestampWindowSeconds,
      now: options.now,
      log: options.log,
    });
  } catch (e) {
    await upstream.close();
    throw e;
  }
  // Arms are also checked for expiry when consumed; the sweep only frees their memory.
  const sweep = setInterval(() => proxy.expireArms(), Math.min(config.armTimeoutSeconds, 60) * 1000);
  sweep.unref();
  return {
    proxy,
    server,
    async close() {
      clearInterval(sweep);
      await server.close();
      await upstream.close();
    },
  };
}
