/**
 * What the callers of one group commit share (group-commit.ts, for the journal and the audit log): one
 * promise, settled once by the flush that makes their records durable.
 */
export interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

export function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((done, fail) => ((resolve = done), (reject = fail)));
  // A group nobody awaits any more (its callers went away) must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
