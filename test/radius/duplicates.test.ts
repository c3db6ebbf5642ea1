/**
 * The duplicate cache (runtime/radius/duplicates.ts) against a plain Map model: random requests,
 * retransmissions, answers and expiry, through ring growth and index deletions. The server's
 * behaviour with retransmissions is tested end to end with radclient (accounting, DAS tests).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ANSWERED, DuplicateCache, PENDING, UNANSWERED } from "../../runtime/radius/duplicates.ts";

function rng(seed: number): (n: number) => number {
  return (n) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
}

interface ModelEntry {
  state: number;
  reply: Uint8Array | undefined;
  expires: number;
}

test("random requests agree with a Map model through growth and expiry", () => {
  const random = rng(12345);
  const lifetime = 50;
  const cache = new DuplicateCache(lifetime, 16);
  const model = new Map<string, ModelEntry>();
  const handles = new Map<string, number>();
  const addresses = [Uint8Array.of(192, 0, 2, 1), Uint8Array.of(192, 0, 2, 2), Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i))];
  // A small key space, so that retransmissions (same key) are frequent.
  const request = () => {
    const datagram = new Uint8Array(20);
    datagram[0] = 4;
    datagram[1] = random(4);
    for (let i = 4; i < 20; i++) datagram[i] = i === 4 ? random(64) : 7;
    return { address: addresses[random(addresses.length)], port: 1812 + random(2), datagram };
  };
  const keyOf = (r: ReturnType<typeof request>) => `${r.address.join(".")}|${r.port}|${r.datagram[1]}|${r.datagram[4]}`;
  let now = 1000;
  let grew = false;
  let answeredHits = 0;
  for (let step = 0; step < 20000; step++) {
    if (random(10) === 0) now += random(20);
    cache.expire(now);
    for (const [key, e] of model) if (e.state !== PENDING && e.expires <= now) model.delete(key);
    const r = request();
    const key = keyOf(r);
    const expected = model.get(key);
    const found = cache.find(r.address, r.port, r.datagram, now);
    if (!expected) {
      assert.is(found, -1, `step ${step}: ${key} is not known`);
      const entry = cache.add(r.address, r.port, r.datagram);
      model.set(key, { state: PENDING, reply: undefined, expires: Infinity });
      handles.set(key, entry);
    } else {
      assert.is.not(found, -1, `step ${step}: ${key} is known`);
      assert.is(found, handles.get(key), `step ${step}: the same entry`);
      assert.is(cache.state(found), expected.state, `step ${step}: state`);
      if (expected.state === ANSWERED) {
        assert.equal(cache.reply(found), expected.reply);
        answeredHits++;
      }
    }
    // Answer some pending ones, some with no reply.
    if (random(3) === 0) {
      for (const [k, e] of model) {
        if (e.state !== PENDING) continue;
        // Header-only replies (20 octets, kept inline by the cache) and others (kept as objects).
        const reply = random(5) === 0 ? undefined : random(2) === 0 ? Uint8Array.from({ length: 20 }, () => random(256)) : Uint8Array.of(5, random(256));
        cache.finish(handles.get(k)!, reply, now);
        Object.assign(e, { state: reply ? ANSWERED : UNANSWERED, reply, expires: now + lifetime });
        break;
      }
    }
    if (cache.size > 16) grew = true;
  }
  assert.ok(grew, "the ring grew past its first size");
  assert.ok(answeredHits > 1000, `retransmissions answered from the cache (${answeredHits})`);
});

test("a pending entry is never expired; entries behind it wait", () => {
  const cache = new DuplicateCache(10, 16);
  const a = Uint8Array.of(198, 51, 100, 1);
  const d = (id: number) => Uint8Array.from({ length: 20 }, (_, i) => (i === 1 ? id : i));
  const slow = cache.add(a, 1, d(1));
  const fast = cache.add(a, 1, d(2));
  cache.finish(fast, Uint8Array.of(5), 0);
  cache.expire(100);
  assert.is(cache.find(a, 1, d(1), 100), slow, "pending, still found");
  assert.is(cache.find(a, 1, d(2), 100), -1, "expired, not found even though not yet removed");
  assert.is(cache.size, 2);
  cache.finish(slow, undefined, 100);
  cache.expire(200);
  assert.is(cache.size, 0);
  assert.is(cache.find(a, 1, d(1), 200), -1);
});

test("the same request again after its entry expired is a new request", () => {
  const cache = new DuplicateCache(10, 16);
  const a = Uint8Array.of(203, 0, 113, 9);
  const datagram = Uint8Array.from({ length: 20 }, (_, i) => i * 3);
  const first = cache.add(a, 1813, datagram);
  cache.finish(first, Uint8Array.of(5, 1), 0);
  assert.is(cache.find(a, 1813, datagram, 9), first);
  assert.is(cache.find(a, 1814, datagram, 9), -1, "another port is another request");
  assert.is(cache.find(Uint8Array.of(203, 0, 113, 8), 1813, datagram, 9), -1, "another address too");
  assert.is(cache.find(a, 1813, datagram, 10), -1, "expired at its lifetime");
  const second = cache.add(a, 1813, datagram);
  assert.is.not(second, first);
  assert.is(cache.find(a, 1813, datagram, 11), second);
});

test.run();
