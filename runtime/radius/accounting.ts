/**
 * RFC 2866 accounting: Accounting-Request Start / Interim-Update / Stop maintain the subscriber
 * sessions of the session store; Accounting-On / Accounting-Off (the NAS rebooted) end every session
 * of that NAS. The NAS identity is the RADIUS client's source address.
 *
 * RFC 2866 §2: the Accounting-Response is sent only once the request has been recorded, so it is
 * built after the store applied the change; a request that cannot be recorded is not answered and
 * the NAS retries it.
 *
 * @example
 * const server = await RadiusServer.listen({ ...common, accepts: [Code.AccountingRequest], handler: accountingHandler(store).handle });
 */
import { ACCT_STATUS_TYPE } from "./dictionary.ts";
import { Code } from "./codes.ts";
import type { RadiusHandler, RadiusReply, RadiusRequest } from "./server.ts";
import { AddressError } from "../net/address.ts";
import { SessionStore, StoreError, type SessionAttributes, type UpsertOptions } from "../sessions/store.ts";

export interface AccountingCounters {
  starts: number;
  interimUpdates: number;
  stops: number;
  /** Stops for sessions iapd did not know (e.g. started before iapd ran): answered, nothing to end. */
  stopsUnknown: number;
  /** Accounting-On and Accounting-Off. */
  nasReboots: number;
  /** Other Acct-Status-Type values (tunnel accounting, Failed...): answered, not recorded. */
  ignored: number;
  /** Dropped unanswered, by reason. */
  dropped: {
    "missing-acct-status-type": number;
    "missing-acct-session-id": number;
    /** The store refused the values (e.g. an IPv4 address in an IPv6 attribute). */
    "invalid-session": number;
  };
}

export interface AccountingService {
  readonly counters: AccountingCounters;
  readonly handle: RadiusHandler;
}

export interface ServiceOptions {
  /**
   * Resolves once the store's changes so far are durable (runtime/state); the reply waits for it,
   * so nothing is acknowledged that a crash could lose. Default: nothing to wait for.
   */
  readonly commit?: () => Promise<void>;
}

const DECODED: UpsertOptions = { addressesDecoded: true };

export function accountingService(store: SessionStore, options: ServiceOptions = {}): AccountingService {
  const counters: AccountingCounters = {
    starts: 0,
    interimUpdates: 0,
    stops: 0,
    stopsUnknown: 0,
    nasReboots: 0,
    ignored: 0,
    dropped: { "missing-acct-status-type": 0, "missing-acct-session-id": 0, "invalid-session": 0 },
  };
  const ok = { code: Code.AccountingResponse, attributes: [] } as const;

  const apply = ({ packet, source, receivedAt }: RadiusRequest) => {
    const status = packet.first("Acct-Status-Type");
    if (status === undefined) {
      counters.dropped["missing-acct-status-type"]++;
      return undefined;
    }
    if (status === ACCT_STATUS_TYPE["Accounting-On"] || status === ACCT_STATUS_TYPE["Accounting-Off"]) {
      // RFC 2866 §5.1: the NAS (re)started or is going down; none of its sessions survive.
      counters.nasReboots++;
      store.endNasSessions(source, receivedAt);
      return ok;
    }
    const isStart = status === ACCT_STATUS_TYPE.Start;
    const isInterim = status === ACCT_STATUS_TYPE["Interim-Update"];
    const isStop = status === ACCT_STATUS_TYPE.Stop;
    if (!isStart && !isInterim && !isStop) {
      counters.ignored++;
      return ok;
    }
    const acctSessionId = packet.first("Acct-Session-Id");
    if (acctSessionId === undefined) {
      counters.dropped["missing-acct-session-id"]++;
      return undefined;
    }
    if (isStop) {
      const key = SessionStore.keyOf(source, acctSessionId);
      if (store.getSession(key)) {
        store.endSession(key, "logout", receivedAt);
        counters.stops++;
      } else {
        counters.stopsUnknown++;
      }
      return ok;
    }
    const attrs: SessionAttributes = {
      nas: source,
      acctSessionId,
      userName: packet.first("User-Name"),
      framedIpAddress: packet.first("Framed-IP-Address"),
      framedIpv6Prefix: packet.first("Framed-IPv6-Prefix"),
      delegatedIpv6Prefix: packet.first("Delegated-IPv6-Prefix"),
      framedIpv6Address: packet.first("Framed-IPv6-Address"),
      callingStationId: packet.first("Calling-Station-Id"),
      nasPortId: packet.first("NAS-Port-Id"),
      nasIpAddress: packet.first("NAS-IP-Address"),
      nasIdentifier: packet.first("NAS-Identifier"),
    };
    try {
      // The addresses are decoder output for their dictionary types (runtime/radius/values.ts).
      store.upsertSession(attrs, receivedAt, DECODED);
    } catch (e) {
      if (!(e instanceof StoreError || e instanceof AddressError)) throw e;
      counters.dropped["invalid-session"]++;
      return undefined;
    }
    if (isStart) counters.starts++;
    else counters.interimUpdates++;
    return ok;
  };
  // Synchronous: the reply carries the commit's promise, shared by the requests of one group
  // commit, and the server sends it once that resolves (RadiusReply.after).
  let lastAfter: Promise<void> | undefined;
  let lastReply: RadiusReply | undefined;
  const handle = (request: RadiusRequest): RadiusReply | undefined => {
    const reply = apply(request);
    if (!reply || !options.commit) return reply;
    const after = options.commit();
    if (after !== lastAfter) {
      lastAfter = after;
      lastReply = { ...reply, after };
    }
    return lastReply;
  };
  return { counters, handle };
}
