/**
 * Whole RADIUS packets as iapd handles them: decoding verifies the authenticator and the
 * Message-Authenticator and decrypts hidden values; encoding encrypts, signs the
 * Message-Authenticator (as the first attribute) and then sets the authenticator.
 *
 * @example
 * const coa = decodePacket(datagram, secret);               // throws RadiusDecodeError
 * if (coa.is(Code.CoaRequest)) {
 *   const action = coa.first("ERX-LI-Action");                // decrypted, typed number
 *   const { bytes } = encodePacket({ code: Code.CoaAck, attributes: [] }, secret,
 *     { request: coa, messageAuthenticator: true });
 * }
 */
import { ATTRIBUTES, MESSAGE_AUTHENTICATOR, type AttributeDefinition } from "./dictionary.ts";
import {
  Code,
  codeName,
  isNonceRequestCode,
  isPacketCode,
  isResponseCode,
  answers,
  answeredNames,
  type PacketCode,
  type RequestCode,
  type RequestFor,
  type ResponseCode,
} from "./codes.ts";
import {
  authenticatorBasisFor,
  authenticatorInto,
  checkAuthenticators,
  computeMessageAuthenticator,
  decryptUserPassword,
  encryptUserPassword,
  newSalt,
  randomAuthenticator,
  saltDecrypt,
  saltEncrypt,
  type Secret,
} from "./crypto.ts";
import { RadiusDecodeError, RadiusEncodeError } from "./errors.ts";
import {
  all,
  first,
  isNamed,
  type Attribute,
  type AttributeValue,
  type NamedAttribute,
  type SettableName,
} from "./attributes.ts";
import {
  AUTHENTICATOR_LENGTH,
  AUTHENTICATOR_OFFSET,
  ATTRIBUTE,
  scanWire,
  VENDOR,
  encodeWire,
  HEADER_LENGTH,
  type WireAttribute,
} from "./packet.ts";
import { guard, INSPECT, printable } from "./redact.ts";
import { decodeValue, decodeValueAt, encodeValue } from "./values.ts";

/** What a response is checked against or built from: the request it answers. */
export interface RequestContext<C extends RequestCode = RequestCode> {
  readonly code: C;
  readonly identifier: number;
  readonly authenticator: Uint8Array;
}

/** A decoded (verified, decrypted) or freshly encoded packet. Printing it never shows lawful-intercept values. */
export class RadiusPacket<C extends PacketCode = PacketCode> {
  constructor(
    readonly code: C,
    readonly identifier: number,
    readonly authenticator: Uint8Array,
    /** In packet order, without the Message-Authenticator; hidden values in plain form. */
    readonly attributes: readonly Attribute[],
    /** Whether the packet carries a Message-Authenticator (verified, when decoded). */
    readonly messageAuthenticator: boolean,
  ) {
    Object.freeze(attributes);
    Object.freeze(this);
  }

  /** Narrows the packet's type by its code, e.g. to pass it as the `request` of a response. */
  is<K extends PacketCode>(code: K): this is RadiusPacket<K> {
    return (this.code as PacketCode) === code;
  }

  first<N extends SettableName>(name: N): AttributeValue<N> | undefined {
    return first(this.attributes, name);
  }

  all<N extends SettableName>(name: N): AttributeValue<N>[] {
    return all(this.attributes, name);
  }

  toJSON(): Record<string, unknown> {
    return {
      code: codeName(this.code),
      identifier: this.identifier,
      messageAuthenticator: this.messageAuthenticator,
      attributes: this.attributes.map(printable),
    };
  }

  toString(): string {
    return JSON.stringify(this);
  }

  [INSPECT](): Record<string, unknown> {
    return this.toJSON();
  }
}

export interface DecodeOptions {
  /** The request this datagram answers: required to decode a response, refused otherwise. */
  readonly request?: RequestContext;
  /**
   * Discard the packet without a Message-Authenticator. Defaults to true for Access-Request,
   * Status-Server and Access-Accept/Reject/Challenge (BlastRADIUS, CVE-2024-3596; RFC 5997 §3),
   * false for the others.
   */
  readonly requireMessageAuthenticator?: boolean;
}

function requiresMessageAuthenticatorByDefault(code: PacketCode): boolean {
  return (
    isNonceRequestCode(code) ||
    code === Code.AccessAccept ||
    code === Code.AccessReject ||
    code === Code.AccessChallenge
  );
}

/**
 * Parses and authenticates one datagram. Throws RadiusDecodeError; `reason` names the check that
 * failed. Presence of a required Message-Authenticator is checked before any authenticator, as the
 * BlastRADIUS guidance asks.
 */
export function decodePacket(datagram: Uint8Array, secret: Secret, options: DecodeOptions = {}): RadiusPacket {
  // Positions only, over a view of the datagram: every value the packet keeps is converted or copied below.
  const scan = scanWire(datagram, false);
  const { code, identifier, bytes, messageAuthenticatorOffsets } = scan;
  const ownAuthenticator = bytes.slice(AUTHENTICATOR_OFFSET, HEADER_LENGTH);
  const request = answeredRequest(code, identifier, options.request);
  if (messageAuthenticatorOffsets.length > 1) {
    throw new RadiusDecodeError(
      "message-authenticator-duplicate",
      `${codeName(code)}: expected at most one Message-Authenticator, found ${messageAuthenticatorOffsets.length}`,
    );
  }
  const maOffset = messageAuthenticatorOffsets[0];
  if (maOffset !== undefined && bytes[maOffset - 1] !== 2 + AUTHENTICATOR_LENGTH) {
    throw new RadiusDecodeError(
      "message-authenticator-length",
      `${codeName(code)}: expected Message-Authenticator Length 18, found ${bytes[maOffset - 1]}`,
    );
  }
  if (maOffset === undefined && (options.requireMessageAuthenticator ?? requiresMessageAuthenticatorByDefault(code))) {
    throw new RadiusDecodeError(
      "message-authenticator-missing",
      `${codeName(code)}: expected a Message-Authenticator, found none`,
    );
  }
  const basis = authenticatorBasisFor(code, request ? request.authenticator : ownAuthenticator);
  const mismatch = checkAuthenticators(bytes, basis, secret, !isNonceRequestCode(code), maOffset);
  if (mismatch === "authenticator-mismatch") {
    throw new RadiusDecodeError(
      "authenticator-mismatch",
      `${codeName(code)}: ${request ? "Response" : "Request"} Authenticator does not match ` +
        "(wrong shared secret, or altered packet)",
    );
  }
  if (mismatch === "message-authenticator-invalid") {
    throw new RadiusDecodeError(
      "message-authenticator-invalid",
      `${codeName(code)}: Message-Authenticator does not match (wrong shared secret, or altered packet)`,
    );
  }
  const context: CipherContext = { code, secret, key: basis };
  const attributes: Attribute[] = [];
  try {
    decodeAttributes(scan, bytes, context, attributes);
  } catch (e) {
    // Authenticated, so answerable: the error says which request it was.
    if (e instanceof RadiusDecodeError && !request) e.authenticated = { code, identifier, authenticator: ownAuthenticator };
    throw e;
  }
  return new RadiusPacket(code, identifier, ownAuthenticator, attributes, maOffset !== undefined);
}

/** The attribute values of an authenticated packet, converted (and decrypted) from its octets. */
function decodeAttributes(scan: ReturnType<typeof scanWire>, bytes: Uint8Array, context: CipherContext, attributes: Attribute[]): void {
  for (let i = 0; i < scan.count; i++) {
    const kind = scan.kind[i];
    const type = scan.type[i];
    if (kind === ATTRIBUTE && type === MESSAGE_AUTHENTICATOR) continue;
    const start = scan.start[i];
    const end = scan.end[i];
    const known = kind === ATTRIBUTE ? STANDARD_KNOWN[type] : kind === VENDOR ? VENDOR_KNOWN.get(scan.vendorId[i])?.[type] : undefined;
    if (known !== undefined && known.d.tagged === undefined && known.d.encrypt === undefined) {
      // The common case, straight from the packet's octets: no view or wire attribute object.
      attributes.push({ name: known.name, value: decodeValueAt(known.d.dataType, bytes, start, end, known.name) } as NamedAttribute);
      continue;
    }
    // Copies: the packet keeps these octets (raw) or they are decrypted in place of a view.
    const value = bytes.slice(start, end);
    const wire: WireAttribute =
      kind === ATTRIBUTE
        ? { kind: "attribute", type, value }
        : kind === VENDOR
          ? { kind: "vendor", vendorId: scan.vendorId[i], vendorType: type, value }
          : { kind: "vendor-opaque", vendorId: scan.vendorId[i], data: value };
    attributes.push(plain(wire, known, context));
  }
}

function answeredRequest(
  code: PacketCode,
  identifier: number,
  request: RequestContext | undefined,
): RequestContext | undefined {
  if (!isResponseCode(code)) {
    if (request) {
      throw new RadiusDecodeError(
        "response-mismatch",
        `expected a response to ${codeName(request.code)}, found ${codeName(code)}`,
      );
    }
    return undefined;
  }
  if (!request) {
    throw new RadiusDecodeError(
      "unexpected-response",
      `${codeName(code)} received with no request to match it against`,
    );
  }
  if (!answers(code, request.code) || identifier !== request.identifier) {
    throw new RadiusDecodeError(
      "response-mismatch",
      `expected a response to ${codeName(request.code)} id ${request.identifier}, found ${codeName(code)} id ${identifier}`,
    );
  }
  return request;
}

/**
 * What hiding and unhiding values needs: the packet code, the secret and the authenticator basis
 * (RFC 2865 §5.2's RA, RFC 2868 §3.5's R).
 */
interface CipherContext {
  readonly code: PacketCode;
  readonly secret: Secret;
  readonly key: Uint8Array;
}

/** RFC 2868 §3: tags are 0x01..0x1F, 0 meaning none. */
const MAX_TAG = 0x1f;

/** A dictionary entry as the decoder needs it, found by number without building a string key. */
interface Known {
  readonly name: SettableName;
  readonly d: AttributeDefinition;
  /** Hidden on the wire, so guarded (redact.ts) once decoded. */
  readonly secret: boolean;
}

const STANDARD_KNOWN: (Known | undefined)[] = new Array(256).fill(undefined);
const VENDOR_KNOWN = new Map<number, (Known | undefined)[]>();
for (const [name, d] of Object.entries(ATTRIBUTES) as [SettableName, AttributeDefinition][]) {
  const known: Known = { name, d, secret: d.encrypt !== undefined };
  if (d.vendorId === undefined) STANDARD_KNOWN[d.type] = known;
  else {
    let table = VENDOR_KNOWN.get(d.vendorId);
    if (!table) VENDOR_KNOWN.set(d.vendorId, (table = new Array(256).fill(undefined)));
    table[d.type] = known;
  }
}

/** `a` (octets already the packet's own) with its value in plain form, or as it is when unknown. */
function plain(a: WireAttribute, known: Known | undefined, context: CipherContext): Attribute {
  if (a.kind === "vendor-opaque" || !known) return a;
  const { name, d } = known;
  // RFC 2865 §5.2: User-Password is defined in Access-Request only; elsewhere there is no key for it.
  if (d.encrypt === "user-password" && context.code !== Code.AccessRequest) return guard(a);
  let bytes = a.value;
  let tag: number | undefined;
  if (d.tagged) {
    // RFC 2868 §3.1, §3.5: tags are 0x01..0x1F; "otherwise, the Tag field SHOULD be ignored" (0 = none).
    const octet = bytes[0] ?? 0;
    tag = octet <= MAX_TAG ? octet : 0;
    // RFC 2868 §3.1: a tagged integer is the tag octet and a 3-octet value.
    bytes = d.dataType === "integer" ? Uint8Array.of(0, ...bytes.subarray(1)) : bytes.subarray(1);
  }
  if (d.encrypt === "user-password") bytes = decryptUserPassword(bytes, context.key, context.secret);
  if (d.encrypt === "salt") bytes = saltDecrypt(bytes, context.key, context.secret, name);
  const value = decodeValue(d.dataType, bytes, name);
  const attribute = (tag === undefined ? { name, value } : { name, tag, value }) as NamedAttribute;
  return known.secret ? guard(attribute) : attribute;
}

export interface RequestMessage<C extends RequestCode> {
  readonly code: C;
  readonly identifier: number;
  readonly attributes: readonly Attribute[];
}

/** A response has no identifier of its own: it is the request's. */
export interface ResponseMessage<C extends ResponseCode> {
  readonly code: C;
  readonly attributes: readonly Attribute[];
}

export interface EncodeOptions {
  /** Add a Message-Authenticator as the first attribute (BlastRADIUS: always, for Access-* packets). */
  readonly messageAuthenticator: boolean;
}

export interface ResponseEncodeOptions<C extends ResponseCode> extends EncodeOptions {
  readonly request: RequestContext<RequestFor<C>>;
}

export interface EncodedPacket<C extends PacketCode> {
  /** The datagram to send. */
  readonly bytes: Uint8Array;
  /** The packet as sent (its final authenticator, plain attributes): the `request` for decoding its response. */
  readonly packet: RadiusPacket<C>;
}

/**
 * Builds a datagram. A response needs the request it answers (its identifier and authenticator);
 * an Access-Request or Status-Server gets a fresh random authenticator. Never modifies its input.
 */
export function encodePacket<C extends RequestCode>(
  message: RequestMessage<C>,
  secret: Secret,
  options: EncodeOptions,
): EncodedPacket<C>;
export function encodePacket<C extends ResponseCode>(
  message: ResponseMessage<C>,
  secret: Secret,
  options: ResponseEncodeOptions<C>,
): EncodedPacket<C>;
export function encodePacket(
  message: { readonly code: PacketCode; readonly identifier?: number; readonly attributes: readonly Attribute[] },
  secret: Secret,
  options: EncodeOptions & { readonly request?: RequestContext },
): EncodedPacket<PacketCode> {
  const { bytes, identifier } = encodeDatagram(message, secret, options);
  return {
    bytes,
    // Copies, so that the secret ones can be guarded without touching the caller's objects.
    packet: new RadiusPacket(
      message.code,
      identifier,
      bytes.slice(AUTHENTICATOR_OFFSET, HEADER_LENGTH),
      message.attributes.map((a) => guard({ ...a })),
      options.messageAuthenticator,
    ),
  };
}

/**
 * `encodePacket` for a response whose packet object nobody reads (a server's reply): the datagram
 * only, built and signed the same way.
 */
export function encodeResponse<C extends ResponseCode>(
  message: ResponseMessage<C>,
  secret: Secret,
  options: ResponseEncodeOptions<C>,
): Uint8Array {
  return encodeDatagram(message, secret, options).bytes;
}

function encodeDatagram(
  message: { readonly code: PacketCode; readonly identifier?: number; readonly attributes: readonly Attribute[] },
  secret: Secret,
  options: EncodeOptions & { readonly request?: RequestContext },
): { bytes: Uint8Array; identifier: number } {
  const { code } = message;
  if (!isPacketCode(code)) throw new RadiusEncodeError(`expected a known RADIUS code, found ${code}`);
  const { request } = options;
  let identifier: number;
  if (isResponseCode(code)) {
    if (!request || !answers(code, request.code)) {
      throw new RadiusEncodeError(
        `${codeName(code)}: expected the ${answeredNames(code)} it answers, found ${request ? codeName(request.code) : "none"}`,
      );
    }
    identifier = request.identifier;
  } else {
    if (request) throw new RadiusEncodeError(`${codeName(code)} is a request: it answers no request`);
    identifier = message.identifier ?? NaN;
  }
  if (request && message.attributes.length === 0 && !options.messageAuthenticator) return { bytes: emptyResponse(code, identifier, request, secret), identifier };
  const own = isNonceRequestCode(code) ? randomAuthenticator() : new Uint8Array(AUTHENTICATOR_LENGTH);
  const basis = authenticatorBasisFor(code, request ? request.authenticator : own);
  const wire: WireAttribute[] = [];
  if (options.messageAuthenticator) {
    wire.push({ kind: "attribute", type: MESSAGE_AUTHENTICATOR, value: new Uint8Array(AUTHENTICATOR_LENGTH) });
  }
  if (message.attributes.length > 0) {
    // Only a packet with attributes can have values to hide (an empty Accounting-Response, the
    // commonest reply, needs neither the context nor the set of salts used).
    const context: CipherContext = { code, secret, key: basis };
    const salts = new Set<number>();
    for (const a of message.attributes) wire.push(hidden(a, context, salts));
  }
  const bytes = encodeWire({ code, identifier, authenticator: own, attributes: wire });
  if (options.messageAuthenticator) {
    const offset = HEADER_LENGTH + 2;
    bytes.set(computeMessageAuthenticator(bytes, offset, basis, secret), offset);
  }
  // Signed in place: the hash reads the whole packet before the digest is written into it.
  if (!isNonceRequestCode(code)) authenticatorInto(bytes, basis, secret, bytes, AUTHENTICATOR_OFFSET);
  return { bytes, identifier };
}

/**
 * A response without attributes (an Accounting-Response, the commonest reply): the 20-octet header
 * signed in place, what `encodeWire` and the steps above would build, without their arrays.
 */
function emptyResponse(code: PacketCode, identifier: number, request: RequestContext, secret: Secret): Uint8Array {
  // encodeWire's checks, which this path skips.
  if (!Number.isInteger(identifier) || identifier < 0 || identifier > 255) throw new RadiusEncodeError(`expected an identifier 0..255, found ${identifier}`);
  const basis = authenticatorBasisFor(code, request.authenticator);
  const bytes = new Uint8Array(HEADER_LENGTH);
  bytes[0] = code;
  bytes[1] = identifier;
  bytes[3] = HEADER_LENGTH;
  authenticatorInto(bytes, basis, secret, bytes, AUTHENTICATOR_OFFSET);
  return bytes;
}

function hidden(a: Attribute, context: CipherContext, salts: Set<number>): WireAttribute {
  if (!isNamed(a)) {
    if (a.kind === "attribute" && a.type === MESSAGE_AUTHENTICATOR) throw misplacedMessageAuthenticator();
    return a;
  }
  if ((a.name as string) === "Message-Authenticator") throw misplacedMessageAuthenticator();
  if (!Object.hasOwn(ATTRIBUTES, a.name))
    throw new RadiusEncodeError(`expected a dictionary attribute name, found "${a.name}"`);
  const d: AttributeDefinition = ATTRIBUTES[a.name];
  let bytes = encodeValue(d.dataType, a.value as never, a.name);
  let tag: number | undefined;
  if (d.tagged) {
    tag = a.tag ?? 0;
    if (!Number.isInteger(tag) || tag < 0 || tag > MAX_TAG)
      throw new RadiusEncodeError(`${a.name}: expected a tag 0..${MAX_TAG}, found ${tag}`);
    if (d.dataType === "integer") {
      // RFC 2868 §3.1: the tag replaces the top octet of the integer.
      if (bytes[0] !== 0)
        throw new RadiusEncodeError(`${a.name}: expected a tagged integer 0..2^24-1, found a larger one`);
      bytes[0] = tag;
      tag = undefined;
    }
  } else if (a.tag !== undefined) {
    throw new RadiusEncodeError(`${a.name}: expected no tag (not a tunnel attribute), found one`);
  }
  if (d.encrypt === "user-password") {
    if (context.code !== Code.AccessRequest)
      throw new RadiusEncodeError(`User-Password: expected only in Access-Request, found in ${codeName(context.code)}`);
    bytes = encryptUserPassword(bytes, context.key, context.secret);
  }
  if (d.encrypt === "salt") {
    bytes = saltEncrypt(bytes, newSalt(salts), context.key, context.secret, a.name);
  }
  if (tag !== undefined) bytes = Uint8Array.of(tag, ...bytes);
  return d.vendorId === undefined
    ? { kind: "attribute", type: d.type, value: bytes }
    : { kind: "vendor", vendorId: d.vendorId, vendorType: d.type, value: bytes };
}

function misplacedMessageAuthenticator(): RadiusEncodeError {
  return new RadiusEncodeError(
    "Message-Authenticator: expected `messageAuthenticator: true` in the options, found it among the attributes",
  );
}
