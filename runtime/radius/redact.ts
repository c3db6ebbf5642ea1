/**
 * Printable views of attributes that hide secret values. Lawful-intercept data must not show in logs
 * or debug output (li-protocols.md §4.1); every attribute the wire hides (the ERX LI VSAs 58..61,
 * User-Password, Tunnel-Password) is hidden here too, in decrypted and in wire form.
 */
import { ATTRIBUTES, type AttributeDefinition } from "./dictionary.ts";
import { isNamed, nameOf, type Attribute } from "./attributes.ts";

export const REDACTED = "[redacted]";
/** Node's util.inspect hook; Deno's console honours the same symbol. */
export const INSPECT = Symbol.for("nodejs.util.inspect.custom");

export function isSecret(a: Attribute): boolean {
  const name = nameOf(a);
  return name !== undefined && (ATTRIBUTES[name] as AttributeDefinition).encrypt !== undefined;
}

/** A JSON-safe view of one attribute: octets as 0x-hex, bigints as decimal strings, secret values redacted. */
export function printable(a: Attribute): Record<string, unknown> {
  const secret = isSecret(a);
  const show = (v: unknown) => (secret ? REDACTED : render(v));
  if (isNamed(a))
    return a.tag === undefined
      ? { name: a.name, value: show(a.value) }
      : { name: a.name, tag: a.tag, value: show(a.value) };
  switch (a.kind) {
    case "attribute":
      return { type: a.type, value: show(a.value) };
    case "vendor":
      return { vendorId: a.vendorId, vendorType: a.vendorType, value: show(a.value) };
    case "vendor-opaque":
      return { vendorId: a.vendorId, data: show(a.data) };
  }
}

function render(v: unknown): unknown {
  if (v instanceof Uint8Array) return `0x${Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (typeof v === "bigint") return v.toString();
  return v;
}

/**
 * Gives a secret attribute object its own redacting inspect and toJSON (non-enumerable),
 * so that printing an attribute list on its own does not leak it either.
 */
export function guard<A extends Attribute>(a: A): A {
  if (!isSecret(a)) return a;
  const view = () => printable(a);
  Object.defineProperty(a, INSPECT, { value: view });
  Object.defineProperty(a, "toJSON", { value: view });
  return Object.freeze(a);
}
