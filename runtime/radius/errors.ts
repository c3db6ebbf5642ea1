/**
 * Errors of the RADIUS codec. A decode error's `reason` is a short stable string meant for counters
 * and metrics labels; its message says what was expected and what was found, for an operator.
 * Neither ever contains an attribute value: some values are lawful-intercept data.
 */

export type DecodeErrorReason =
  /** The datagram is shorter than the 20-octet header (RFC 2865 §3). */
  | "packet-too-short"
  /** The Length field is outside 20..4096 (RFC 2865 §3). */
  | "length-out-of-range"
  /** The datagram is shorter than its Length field: RFC 2865 §3 says such a packet MUST be discarded. */
  | "packet-truncated"
  | "unknown-code"
  /** An attribute's Length octet is below 2 (RFC 2865 §5). */
  | "attribute-too-short"
  /** An attribute runs past the end of the packet. */
  | "attribute-overflow"
  /** A Vendor-Specific attribute is shorter than 7 octets or its vendor sub-attributes do not fit (RFC 2865 §5.26). */
  | "vendor-specific-malformed"
  /** A value does not fit its dictionary type (e.g. an integer that is not 4 octets). */
  | "attribute-value"
  /** The Request or Response Authenticator does not verify (RFC 2865 §3, RFC 2866 §3, RFC 5176 §3.5). */
  | "authenticator-mismatch"
  /** Message-Authenticator is required here but absent (RFC 3579 §3.2, BlastRADIUS). */
  | "message-authenticator-missing"
  /** Message-Authenticator is present but its HMAC does not verify. */
  | "message-authenticator-invalid"
  /** More than one Message-Authenticator (RFC 3579 §3.2 allows at most one). */
  | "message-authenticator-duplicate"
  /** Message-Authenticator whose length is not 18 (RFC 3579 §3.2). */
  | "message-authenticator-length"
  /** User-Password ciphertext not a multiple of 16 octets or longer than 128 (RFC 2865 §5.2). */
  | "password-length"
  /** Salt-encrypted data is empty or not a multiple of 16 octets after the salt (RFC 2868 §3.5). */
  | "salt-length"
  /** The salt's most significant bit is clear (RFC 2868 §3.5 says it MUST be set). */
  | "salt-msb"
  /** The decrypted length octet is longer than the decrypted data (RFC 2868 §3.5). */
  | "salt-inner-length"
  /** A response was received but no request was given to check it against. */
  | "unexpected-response"
  /** The response's code or identifier does not answer the given request. */
  | "response-mismatch";

export class RadiusDecodeError extends Error {
  override readonly name = "RadiusDecodeError";
  /**
   * Set when the request authenticated (authenticators checked) and only an attribute value could
   * not be decoded: the request as far as an answer needs it (a DAS NAKs it, RFC 5176 §3.6's 407).
   */
  authenticated?: { readonly code: number; readonly identifier: number; readonly authenticator: Uint8Array };
  constructor(
    readonly reason: DecodeErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown when a packet cannot be built as asked: a caller error, never caused by received data. */
export class RadiusEncodeError extends Error {
  override readonly name = "RadiusEncodeError";
}
