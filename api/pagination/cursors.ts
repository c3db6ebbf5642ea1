/**
 * Cursor pagination that stays correct while sessions come and go.
 *
 * A listing walks a *live* iterator over the store's insertion-ordered maps (a JavaScript `Map`
 * iterator skips entries deleted before it reaches them and visits entries added after it started).
 * This relies on the session store setting an entry only when the object is created and deleting
 * it only when it ends: an update (Interim-Update, re-target) changes the object in place and never
 * moves it (test/api/suite.ts checks this under churn). The iterator is parked between pages under a random,
 * single-use cursor token. So across the pages of one listing:
 * - every item present from the first page to the last is returned exactly once;
 * - an item removed before the walk reaches it is not returned; one added meanwhile is returned
 *   at most once (if it is still there when the walk reaches the end);
 * - a page costs O(page size), whatever the number of sessions; no sort, no offset scan.
 * Filtered listings that can use an index (user name, IPv4 address, mirrored) walk a snapshot of
 * the matching keys instead and re-check each item when they reach it, which gives the same
 * guarantees for items present throughout.
 *
 * Cursors are held in memory: each is bound to the token name that opened it and to the listing's
 * filters, expires after `ttlMs` without use, is consumed by use (the answer carries the next one),
 * and the oldest is dropped beyond `max`. An expired, used, foreign or unknown cursor gets 410: start
 * the listing again. A restart of iapd ends every listing.
 */
import { randomFillSync } from "node:crypto";

/** Random bytes for cursor tokens, 16 per token, refilled from the CSPRNG 256 tokens at a time. */
const pool = Buffer.alloc(16 * 256);
let used = pool.length;

function token(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += 16;
  return pool.toString("base64url", used - 16, used);
}

interface Parked {
  owner: string;
  filters: string;
  iterator: Iterator<unknown>;
  expiresAt: number;
}

export interface CursorOptions {
  ttlMs?: number;
  max?: number;
}

export class Cursors {
  private parked = new Map<string, Parked>();
  private ttlMs: number;
  private max: number;

  constructor(
    private clock: () => number,
    options: CursorOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.max = options.max ?? 10_000;
  }

  /** Parks an iterator and returns the token that resumes it. */
  park(owner: string, filters: string, iterator: Iterator<unknown>): string {
    const now = this.clock();
    // Map order is park order, so the oldest (and first to expire) are at the front.
    for (const [token, p] of this.parked) {
      if (p.expiresAt > now && this.parked.size < this.max) break;
      this.parked.delete(token);
    }
    const t = token();
    this.parked.set(t, { owner, filters, iterator, expiresAt: now + this.ttlMs });
    return t;
  }

  /**
   * Takes a parked iterator back: "gone" if unknown, expired, used or opened by someone else;
   * "mismatch" if the listing's filters differ from those it was opened with.
   */
  take<T>(token: string, owner: string, filters: string): Iterator<T> | "gone" | "mismatch" {
    const p = this.parked.get(token);
    if (!p || p.owner !== owner || p.expiresAt <= this.clock()) return "gone";
    if (p.filters !== filters) return "mismatch";
    this.parked.delete(token);
    return p.iterator as Iterator<T>;
  }

  get size(): number {
    return this.parked.size;
  }
}

export interface Page<T> {
  items: T[];
  /** False when the iterator may have more. */
  done: boolean;
}

/**
 * Takes up to `limit` items that `keep` accepts, examining at most `scanBudget` items so that a
 * selective filter over a million sessions cannot hold the event loop: a page may then be short
 * (even empty) and still have a next cursor.
 */
export function fill<T>(iterator: Iterator<T>, limit: number, keep: (item: T) => boolean, scanBudget = 100_000): Page<T> {
  const items: T[] = [];
  for (let scanned = 0; items.length < limit && scanned < scanBudget; scanned++) {
    const r = iterator.next();
    if (r.done) return { items, done: true };
    if (keep(r.value)) items.push(r.value);
  }
  return { items, done: false };
}
