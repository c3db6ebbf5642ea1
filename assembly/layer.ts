// What every layer decoder returns, packed into one u64 so decoding a frame allocates nothing:
// bits 0-31 a value (the offset of the next header, or for IP the bytes to mirror), bits 32-47 the
// EtherType of the next header, bits 48-55 the malformed-reason counter index (0 = decoded).

export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_IPV6: u32 = 0x86dd;

@inline export function step(value: u32, next: u32): u64 {
  return (<u64>next << 32) | <u64>value;
}

@inline export function fail(reason: u32): u64 {
  return <u64>reason << 48;
}

@inline export function reasonOf(result: u64): u32 {
  return <u32>(result >> 48);
}

@inline export function valueOf(result: u64): u32 {
  return <u32>result;
}

@inline export function nextOf(result: u64): u32 {
  return <u32>(result >> 32) & 0xffff;
}

@inline export function load16be(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}

@inline export function load32be(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}
