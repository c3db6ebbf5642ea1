// Internet checksum (RFC 1071). The ones' complement sum does not depend on byte order
// (RFC 1071 section 2(B)), so summing little-endian loads and storing the result little-endian
// yields the checksum in network order without swapping.

export function internetChecksum(p: usize, length: u32): u16 {
  let sum: u32 = 0;
  for (let i: u32 = 0; i < length; i += 2) sum += <u32>load<u16>(p + i);
  sum = (sum & 0xffff) + (sum >> 16);
  sum += sum >> 16;
  return <u16>~sum;
}
