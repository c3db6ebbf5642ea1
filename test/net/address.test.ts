import { test } from "uvu";
import * as assert from "uvu/assert";
import { AddressError, formatAddress, ipv4ToU32, parseHostPort, parseIPv6, parsePrefix, u32ToIPv4 } from "../../runtime/net/address.ts";

const hex = (b: Uint8Array | null) => (b ? Buffer.from(b).toString("hex") : null);

test("IPv6 text forms (RFC 4291 §2.2)", () => {
  assert.is(hex(parseIPv6("::")), "00".repeat(16));
  assert.is(hex(parseIPv6("::1")), "00".repeat(15) + "01");
  assert.is(hex(parseIPv6("2001:db8::")), "20010db8" + "00".repeat(12));
  assert.is(hex(parseIPv6("2001:DB8:0:0:8:800:200C:417A")), "20010db8000000000008080020 0c417a".replace(" ", ""));
  assert.is(hex(parseIPv6("::ffff:192.0.2.1")), "00000000000000000000ffffc0000201");
  for (const bad of [":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::g", "1:2:3:4:5:6:7::8", "::1.2.3.256", ""]) {
    assert.is(parseIPv6(bad), null, bad);
  }
});

test("RFC 5952 formatting round-trips", () => {
  for (const [text, canon] of [
    ["2001:DB8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::", "::"],
    // RFC 5952 §5: IPv4-mapped addresses keep their dotted quad, as inet_ntop prints them.
    ["::FFFF:192.0.2.1", "::ffff:192.0.2.1"],
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
    ["::fffe:c000:201", "::fffe:c000:201"],
  ]) {
    assert.is(formatAddress(parseIPv6(text)!), canon);
  }
});

test("prefixes: host bits and lengths are checked", () => {
  const p = parsePrefix("2001:db8:100::/56");
  assert.is(p.family, 6);
  assert.is(p.length, 56);
  assert.is(parsePrefix("100.64.0.1").length, 32);
  assert.is(parsePrefix("2001:db8::1").length, 128);
  assert.throws(() => parsePrefix("2001:db8:100::1/56"), /did you mean 2001:db8:100::\/56/);
  assert.throws(() => parsePrefix("2001:db8::/129"), /prefix length must be 0..128/);
  assert.throws(() => parsePrefix("192.0.2.1/33"), /0..32/);
  assert.throws(() => parsePrefix("host.example"), /not an IPv4 or IPv6 address/);
});

test("IPv4 <-> u32", () => {
  assert.is(ipv4ToU32("192.0.2.1"), 0xc0000201);
  assert.is(ipv4ToU32("255.255.255.255"), 0xffffffff);
  assert.is(u32ToIPv4(0xc6336401), "198.51.100.1");
  assert.throws(() => ipv4ToU32("1.2.3"), /not an IPv4/);
});


test("host:port, IPv6 in brackets", () => {
  assert.equal(parseHostPort("127.0.0.1:1812"), { address: "127.0.0.1", family: 4, port: 1812 });
  assert.equal(parseHostPort("[::1]:0"), { address: "::1", family: 6, port: 0 });
  for (const bad of ["127.0.0.1", "::1:1812", "[127.0.0.1]:1812", "localhost:1812", "1.2.3.4:65536", "[::1]:", "1.2.3.4:-1"]) {
    assert.throws(() => parseHostPort(bad), (e: Error) => e instanceof AddressError && e.message.includes(JSON.stringify(bad)), bad);
  }
});

test.run();
