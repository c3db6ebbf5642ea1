/**
 * The query parameters every listing shares (`limit`, `cursor`) and the one function that turns a
 * source of items into a page with a next cursor.
 */
import { z } from "zod";
import type { Principal } from "../auth/tokens.ts";
import { ProblemError } from "../problem.ts";
import { fill, type Cursors } from "./cursors.ts";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const pageSizeError = (issue: { input?: unknown }) => `expected a page size (an integer 1..${MAX_PAGE_SIZE}), found ${JSON.stringify(issue.input)}`;

export const pageParams = {
  limit: z
    .string({ error: pageSizeError })
    .regex(/^[0-9]{1,9}$/, { error: pageSizeError, abort: true })
    .refine((s) => Number(s) >= 1 && Number(s) <= MAX_PAGE_SIZE, { error: pageSizeError })
    .optional()
    .meta({ description: `page size, 1..${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` }),
  cursor: z
    .string({ error: "expected the `next` value of the previous page" })
    .regex(/^[A-Za-z0-9_-]{22}$/, { error: "expected the `next` value of the previous page" })
    .optional()
    .meta({ description: "the `next` value of the previous page; the other filters must stay the same" }),
};

export interface PageRequest<T> {
  /** Which listing ("sessions", "mirrors"...): a cursor only continues the listing that opened it. */
  name: string;
  cursors: Cursors;
  principal: Principal;
  /** The listing's filters; a cursor only continues a listing with the same ones. */
  filters: Record<string, string | undefined>;
  limit?: string;
  cursor?: string;
  /** Opens the walk: a live iterator over the store, or a snapshot of keys to re-check. */
  open: () => Iterator<T>;
  /** Whether an item belongs in the listing now (still present, still matching). */
  keep: (item: T) => boolean;
}

export interface ListingRequest<T, V> extends PageRequest<T> {
  view: (item: T) => V;
}

/**
 * What a cursor is bound to besides its owner: the listing and its filters (names in the order the
 * route gives them, values JSON-quoted so that no value can pass for another pair).
 */
function filtersKey(name: string, filters: Record<string, string | undefined>): string {
  let key = name;
  for (const f in filters) {
    const v = filters[f];
    if (v !== undefined) key += `;${f}=${JSON.stringify(v)}`;
  }
  return key;
}

export function listing<T, V>(r: ListingRequest<T, V>): { items: V[]; next: string | null } {
  const page = pageOf(r);
  return { items: page.items.map(r.view), next: page.next };
}

/** The items of a page, as the store holds them, and the cursor of the next page (null at the end). */
export function pageOf<T>(r: PageRequest<T>): { items: T[]; next: string | null } {
  const filters = filtersKey(r.name, r.filters);
  let iterator: Iterator<T>;
  if (r.cursor === undefined) iterator = r.open();
  else {
    const taken = r.cursors.take<T>(r.cursor, r.principal.name, filters);
    if (taken === "gone") throw new ProblemError("cursor-expired", "the cursor expired, was already used or is unknown; start the listing again");
    if (taken === "mismatch") throw new ProblemError("invalid-request", "the request has 1 problem", [{ field: "query.cursor", problem: "the cursor belongs to a listing with other filters" }]);
    iterator = taken;
  }
  const page = fill(iterator, r.limit === undefined ? DEFAULT_PAGE_SIZE : Number(r.limit), r.keep);
  return { items: page.items, next: page.done ? null : r.cursors.park(r.principal.name, filters, iterator) };
}
