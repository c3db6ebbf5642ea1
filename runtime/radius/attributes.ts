/**
 * Attributes by dictionary name with typed values, and the lookups iapd uses on attribute lists.
 *
 * @example
 * const attrs = [attribute("Acct-Session-Id", "s1"), attribute("ERX-LI-Action", LI_ACTION.on)];
 * first(attrs, "ERX-LI-Action"); // 1, typed as number | undefined
 */
import { attributeName, ATTRIBUTES, type AttributeName } from "./dictionary.ts";
import type { WireAttribute } from "./packet.ts";
import type { ValueTypes } from "./values.ts";

/** The JavaScript type of a named attribute's value, e.g. `string` for "Framed-IPv6-Prefix". */
export type AttributeValue<N extends AttributeName> = ValueTypes[(typeof ATTRIBUTES)[N]["dataType"]];

/**
 * Names a caller may put in a packet. Message-Authenticator is left out: the encoder adds it when
 * asked (`messageAuthenticator: true`) and the decoder verifies and removes it.
 */
export type SettableName = Exclude<AttributeName, "Message-Authenticator">;

/** A known attribute with its value in plain (decrypted) form. */
export type NamedAttribute = {
  [N in SettableName]: {
    readonly name: N;
    readonly value: AttributeValue<N>;
    /** RFC 2868 §3 tag (0..31) of the tagged tunnel attributes; 0 when absent. */
    readonly tag?: number;
  };
}[SettableName];

/** A named attribute, or one kept in wire form because the dictionary does not know it. */
export type Attribute = NamedAttribute | WireAttribute;

export function isNamed(a: Attribute): a is NamedAttribute {
  return "name" in a;
}

/** The dictionary name of an attribute in either form, if the dictionary knows it. */
export function nameOf(a: Attribute): AttributeName | undefined {
  if (isNamed(a)) return a.name;
  if (a.kind === "attribute") return attributeName(0, a.type);
  if (a.kind === "vendor") return attributeName(a.vendorId, a.vendorType);
  return undefined;
}

/** Builds a named attribute; the value's type follows from the name. */
export function attribute<N extends SettableName>(name: N, value: AttributeValue<N>, tag?: number): NamedAttribute {
  return (tag === undefined ? { name, value } : { name, value, tag }) as NamedAttribute;
}

/** The value of the first attribute called `name`, if any. */
export function first<N extends SettableName>(
  attributes: readonly Attribute[],
  name: N,
): AttributeValue<N> | undefined {
  // A plain loop: this runs a dozen times per accounting request (scripts/bench-radius.ts).
  for (let i = 0; i < attributes.length; i++) {
    const a = attributes[i] as Partial<NamedAttribute>;
    if (a.name === name) return a.value as AttributeValue<N>;
  }
  return undefined;
}

/** The values of every attribute called `name`, in packet order. */
export function all<N extends SettableName>(attributes: readonly Attribute[], name: N): AttributeValue<N>[] {
  const out: AttributeValue<N>[] = [];
  for (let i = 0; i < attributes.length; i++) {
    const a = attributes[i] as Partial<NamedAttribute>;
    if (a.name === name) out.push(a.value as AttributeValue<N>);
  }
  return out;
}
