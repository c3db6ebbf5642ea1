/**
 * RADIUS packet codes and the rules that follow from a packet's code: which authenticator it carries
 * and which request a response answers.
 *
 * Codes: RFC 2865 §3 / §4, RFC 2866 §4, RFC 5997 §3 (Status-Server), RFC 5176 §3 (dynamic
 * authorization).
 */

export const Code = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
  DisconnectRequest: 40,
  DisconnectAck: 41,
  DisconnectNak: 42,
  CoaRequest: 43,
  CoaAck: 44,
  CoaNak: 45,
} as const;

export type PacketCode = (typeof Code)[keyof typeof Code];

/**
 * Which requests each response answers. RFC 5997 §3: a server answers Status-Server with
 * Access-Accept on an authentication port and with Accounting-Response on an accounting port.
 */
const RESPONDS_TO = {
  [Code.AccessAccept]: [Code.AccessRequest, Code.StatusServer],
  [Code.AccessReject]: [Code.AccessRequest],
  [Code.AccessChallenge]: [Code.AccessRequest],
  [Code.AccountingResponse]: [Code.AccountingRequest, Code.StatusServer],
  [Code.DisconnectAck]: [Code.DisconnectRequest],
  [Code.DisconnectNak]: [Code.DisconnectRequest],
  [Code.CoaAck]: [Code.CoaRequest],
  [Code.CoaNak]: [Code.CoaRequest],
} as const;

export type ResponseCode = keyof typeof RESPONDS_TO;
export type RequestCode = Exclude<PacketCode, ResponseCode>;
/** The request codes a response code answers, e.g. `RequestFor<44>` is `43`. */
export type RequestFor<C extends ResponseCode> = (typeof RESPONDS_TO)[C][number];

/**
 * Requests whose authenticator is a random nonce (RFC 2865 §3 "Request Authenticator"; RFC 5997 §3).
 * They can only be authenticated by a Message-Authenticator.
 */
export type NonceRequestCode = typeof Code.AccessRequest | typeof Code.StatusServer;

const NAMES: Record<PacketCode, string> = {
  1: "Access-Request",
  2: "Access-Accept",
  3: "Access-Reject",
  4: "Accounting-Request",
  5: "Accounting-Response",
  11: "Access-Challenge",
  12: "Status-Server",
  40: "Disconnect-Request",
  41: "Disconnect-ACK",
  42: "Disconnect-NAK",
  43: "CoA-Request",
  44: "CoA-ACK",
  45: "CoA-NAK",
};

export function isPacketCode(code: number): code is PacketCode {
  return Object.hasOwn(NAMES, code);
}

export function isResponseCode(code: PacketCode): code is ResponseCode {
  return Object.hasOwn(RESPONDS_TO, code);
}

export function isNonceRequestCode(code: PacketCode): code is NonceRequestCode {
  return code === Code.AccessRequest || code === Code.StatusServer;
}

export function answers(response: ResponseCode, request: PacketCode): boolean {
  return (RESPONDS_TO[response] as readonly PacketCode[]).includes(request);
}

/** "Access-Request or Status-Server": what a response answers, for messages. */
export function answeredNames(response: ResponseCode): string {
  return RESPONDS_TO[response].map(codeName).join(" or ");
}

/** The name RFCs and FreeRADIUS use, e.g. "CoA-Request". */
export function codeName(code: number): string {
  return isPacketCode(code) ? NAMES[code] : `code ${code}`;
}
