/**
 * RADIUS for iapd: wire codec, dictionary, cryptography and the packet API the listeners use.
 * Start with `decodePacket` / `encodePacket` (message.ts).
 */
export * from "./attributes.ts";
export * from "./codes.ts";
export * from "./crypto.ts";
export * from "./dictionary.ts";
export * from "./errors.ts";
export * from "./message.ts";
export * from "./packet.ts";
export { REDACTED } from "./redact.ts";
export type { DataType, ValueTypes } from "./values.ts";
