/**
 * The filters a daemon knows (the built-in ones, uploads, files from the watched directory) and
 * which one its data plane runs. Every change is written to the audit log; the API's filter routes
 * and the watched directory both go through here.
 *
 * ```ts
 * const filters = await FilterRegistry.open({ audit, clock: Date.now, initial: "jmirror" });
 * filters.attach(dataPlaneFilters);                   // a FilterSwitch, or the live data plane's workers
 * const { filter } = await filters.upload(bytes, "api:alice");   // checked and staged
 * await filters.activate(filter.id, "api:alice");                 // the switch
 * await filters.rollback("api:alice");
 * ```
 */
import type { AuditSink } from "../audit/log.ts";
import { assetBytes } from "../assets/assets.ts";
import { checkFilter, FilterRejected, SwapError, type CheckedFilter, type FilterEvent, type FilterModuleInfo } from "./lifecycle.ts";
import type { ActiveFilterStore, FilterRef } from "./persist.ts";

/** Built-in filters by name, shipped in build/filters/ (and embedded in the single binary). */
export const BUILTIN_FILTERS = {
  jmirror: "build/filters/jmirror.wasm",
  "jmirror-l2": "build/filters/jmirror-l2.wasm",
} as const;
export type BuiltinFilterName = keyof typeof BUILTIN_FILTERS;

/** Where a data plane's filters change: a FilterSwitch, or every capture worker's. */
export interface FilterHost {
  /** Loads and feeds a filter ahead of its activation (FilterSwitch.prepare). */
  prepare(filter: CheckedFilter): Promise<void>;
  activate(filter: CheckedFilter): Promise<void>;
  rollback(): void | Promise<void>;
}

export type FilterOrigin = "built-in" | "upload" | "directory";

/** One known filter, as the API lists it: what the checks found, and where it stands here. */
export interface FilterInfo extends FilterModuleInfo {
  origin: FilterOrigin;
  /** ISO 8601: when this daemon first checked it. */
  loadedAt: string;
  /** Serving traffic. */
  active: boolean;
  /** What a rollback returns to. */
  previous: boolean;
}

/** Why an API call on filters failed; the route turns `kind` into a problem response. */
export class FilterRegistryError extends Error {
  override name = "FilterRegistryError";
  constructor(
    readonly kind: "not-found" | "conflict" | "rejected",
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

interface Entry {
  checked: CheckedFilter;
  origin: FilterOrigin;
  loadedAt: number;
}

export interface FilterRegistryOptions {
  audit?: AuditSink;
  clock?: () => number;
  /** The built-in filter the data plane starts with (config `filter.module`); default jmirror. */
  initial?: BuiltinFilterName;
  /** Uploaded modules kept; beyond it the oldest one neither active nor previous is forgotten. */
  maxFilters?: number;
  /** Time limit of an upload's checks, self-test included (default 2000 ms; lifecycle.ts checkFilter). */
  checkTimeoutMs?: number;
  /**
   * Makes the active filter durable (state directory): activations and rollbacks are recorded
   * before they return, and `open` restores the recorded filter (persist.ts).
   */
  persist?: ActiveFilterStore;
  /** Operational lines (restoring the active filter). */
  log?: (line: string) => void;
}

export class FilterRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #audit: AuditSink | undefined;
  readonly #clock: () => number;
  readonly #maxFilters: number;
  readonly #checkTimeoutMs: number | undefined;
  readonly #persist: ActiveFilterStore | undefined;
  /** Built-in filters' names by ID. */
  readonly #builtinNames = new Map<string, string>();
  #configured = "jmirror";
  /** The previous filter was restored from the record: the data plane never ran it, a rollback activates it. */
  #previousRestored = false;
  #host: FilterHost | undefined;
  #active: string;
  #previous: string | undefined;

  private constructor(active: string, options: FilterRegistryOptions) {
    this.#active = active;
    this.#audit = options.audit;
    this.#clock = options.clock ?? Date.now;
    this.#maxFilters = options.maxFilters ?? 32;
    this.#checkTimeoutMs = options.checkTimeoutMs;
    this.#persist = options.persist;
  }

  /** Checks the built-in filters (the self-test runs on each) and starts with `initial` active. */
  static async open(options: FilterRegistryOptions = {}): Promise<FilterRegistry> {
    const loadedAt = (options.clock ?? Date.now)();
    const builtins = await Promise.all(
      // Shipped with iapd: checked on this thread, without the worker and time limit an upload gets.
      Object.entries(BUILTIN_FILTERS).map(async ([name, asset]) => [name, await checkFilter(assetBytes(asset), { timeoutMs: 0 })] as const),
    );
    const initial = builtins.find(([name]) => name === (options.initial ?? "jmirror"))![1];
    const registry = new FilterRegistry(initial.info.id, options);
    registry.#configured = options.initial ?? "jmirror";
    for (const [name, checked] of builtins) {
      registry.#entries.set(checked.info.id, { checked, origin: "built-in", loadedAt });
      registry.#builtinNames.set(checked.info.id, name);
    }
    if (options.persist) await registry.#restore(options.log ?? (() => {}));
    return registry;
  }

  /**
   * The recorded active (and previous) filter, when there is a record for the configured
   * filter.module. A recorded module that is missing, altered or no longer passes the checks is
   * not restored: the configured filter stays active, and the log and the audit log say why.
   */
  async #restore(log: (line: string) => void): Promise<void> {
    const persist = this.#persist!;
    let record;
    try {
      record = persist.load();
    } catch (e) {
      log(`filter: the recorded active filter cannot be read (${(e as Error).message}); running the configured ${this.#configured}`);
      this.#record("state", "filter.restore", "filter:-", "failed", { reason: (e as Error).message });
      return;
    }
    if (!record) return;
    if (record.configured !== this.#configured) {
      log(`filter: filter.module changed from ${record.configured} to ${this.#configured} since the last activation: running ${this.#configured}, the recorded active filter is not restored`);
      return;
    }
    const resolveRef = async (ref: FilterRef): Promise<string> => {
      if ("builtin" in ref) {
        const id = [...this.#builtinNames].find(([, name]) => name === ref.builtin)?.[0];
        if (!id) throw new Error(`there is no built-in filter ${ref.builtin}`);
        return id;
      }
      const checked = await checkFilter(persist.moduleBytes(ref.sha256), { timeoutMs: this.#checkTimeoutMs });
      if (!this.#entries.has(checked.info.id)) this.#entries.set(checked.info.id, { checked, origin: ref.origin === "directory" ? "directory" : "upload", loadedAt: this.#clock() });
      return checked.info.id;
    };
    try {
      const active = await resolveRef(record.active);
      const previous = record.previous ? await resolveRef(record.previous).catch(() => undefined) : undefined;
      this.#active = active;
      this.#previous = previous !== active ? previous : undefined;
      this.#previousRestored = this.#previous !== undefined;
    } catch (e) {
      const message = e instanceof FilterRejected ? `${e.reason}: ${e.message}` : (e as Error).message;
      log(`filter: the recorded active filter cannot be restored (${message}); running the configured ${this.#configured}`);
      this.#record("state", "filter.restore", "filter:-", "failed", { reason: message });
      return;
    }
    const info = this.active.info;
    log(`filter: restored the active filter ${info.name} ${info.version} (${info.sha256.slice(0, 16)})${this.#previous ? `, previous ${this.#entries.get(this.#previous)!.checked.info.name}` : ""}`);
    this.#record("state", "filter.restore", `filter:${info.id}`, "ok", { name: info.name, version: info.version, sha256: info.sha256 });
  }

  #ref(id: string): { ref: FilterRef; checked: CheckedFilter } {
    const entry = this.#entries.get(id)!;
    const builtin = this.#builtinNames.get(id);
    const { info } = entry.checked;
    return { ref: builtin !== undefined ? { builtin } : { sha256: info.sha256, name: info.name, origin: entry.origin }, checked: entry.checked };
  }

  /** Records the active and previous filters, durably (a no-op without `persist`). */
  #save(): void {
    this.#persist?.save(this.#configured, this.#ref(this.#active), this.#previous !== undefined ? this.#ref(this.#previous) : undefined);
  }

  /** The filter the data plane starts with (give it to FilterSwitch.create or the workers). */
  get active(): CheckedFilter {
    return this.#entries.get(this.#active)!.checked;
  }

  /** Connects the data plane; until then activate and rollback answer "conflict". */
  attach(host: FilterHost): void {
    this.#host = host;
  }

  list(): FilterInfo[] {
    return [...this.#entries.values()].map((e) => this.#view(e));
  }

  get(id: string): FilterInfo | undefined {
    const e = this.#entries.get(id);
    return e && this.#view(e);
  }

  #view({ checked: { info }, origin, loadedAt }: Entry): FilterInfo {
    return { ...info, exports: [...info.exports], origin, loadedAt: new Date(loadedAt).toISOString(), active: info.id === this.#active, previous: info.id === this.#previous };
  }

  /**
   * Checks a module and keeps it for activation. An already known module (same SHA-256) is not
   * checked again: `created` is false. Throws FilterRegistryError "rejected" with the check's reason.
   */
  async upload(bytes: Uint8Array, actor: string, origin: FilterOrigin = "upload"): Promise<{ filter: FilterInfo; created: boolean }> {
    let checked: CheckedFilter;
    try {
      checked = await checkFilter(bytes.slice(), { timeoutMs: this.#checkTimeoutMs });
    } catch (e) {
      if (!(e instanceof FilterRejected)) throw e;
      this.#record(actor, "filter.upload", "filter:-", "invalid", { reason: e.reason, size: bytes.length });
      throw new FilterRegistryError("rejected", e.message, e.reason);
    }
    const { info } = checked;
    const known = this.#entries.get(info.id);
    if (!known) {
      this.#entries.set(info.id, { checked, origin, loadedAt: this.#clock() });
      this.#forgetOldest();
    }
    // Staged now, activated later in the time of a switch. A module the running configuration does
    // not suit is not staged; its activation says why.
    await this.#host?.prepare(checked).catch((e: unknown) => {
      if (!(e instanceof SwapError)) throw e;
    });
    this.#record(actor, "filter.upload", `filter:${info.id}`, "ok", { name: info.name, version: info.version, sha256: info.sha256, created: !known });
    return { filter: this.get(info.id)!, created: !known };
  }

  #forgetOldest(): void {
    const uploads = [...this.#entries.values()].filter((e) => e.origin !== "built-in");
    if (uploads.length <= this.#maxFilters) return;
    const idle = uploads.filter((e) => e.checked.info.id !== this.#active && e.checked.info.id !== this.#previous);
    idle.sort((a, b) => a.loadedAt - b.loadedAt);
    for (const e of idle.slice(0, uploads.length - this.#maxFilters)) this.#entries.delete(e.checked.info.id);
  }

  /** Makes a known filter the active one, between two batches of every data plane worker. */
  async activate(id: string, actor: string): Promise<FilterInfo> {
    const entry = this.#entries.get(id);
    const object = `filter:${id.slice(0, 64)}`;
    if (!entry) {
      this.#record(actor, "filter.activate", object, "not-found");
      throw new FilterRegistryError("not-found", "no such filter");
    }
    if (id === this.#active) {
      this.#record(actor, "filter.activate", object, "ok", { unchanged: true });
      return this.get(id)!;
    }
    const host = this.#requireHost(actor, "filter.activate", object);
    try {
      await host.activate(entry.checked);
    } catch (e) {
      if (!(e instanceof SwapError)) throw e;
      this.#record(actor, "filter.activate", object, "conflict", { reason: e.message });
      throw new FilterRegistryError("conflict", e.message);
    }
    this.#previous = this.#active;
    this.#previousRestored = false;
    this.#active = id;
    this.#save();
    this.#record(actor, "filter.activate", object, "ok", { name: entry.checked.info.name, version: entry.checked.info.version, previous: this.#previous });
    return this.get(id)!;
  }

  /** Returns to the previous filter. */
  async rollback(actor: string): Promise<FilterInfo> {
    const object = `filter:${this.#previous ?? "-"}`;
    if (this.#previous === undefined) {
      this.#record(actor, "filter.rollback", object, "conflict");
      throw new FilterRegistryError("conflict", "there is no previous filter to roll back to");
    }
    const host = this.#requireHost(actor, "filter.rollback", object);
    try {
      if (this.#previousRestored) await host.activate(this.#entries.get(this.#previous)!.checked);
      else await host.rollback();
    } catch (e) {
      if (!(e instanceof SwapError)) throw e;
      this.#previous = undefined;
      this.#record(actor, "filter.rollback", object, "conflict", { reason: e.message });
      throw new FilterRegistryError("conflict", e.message);
    }
    const from = this.#active;
    this.#active = this.#previous;
    this.#previous = undefined;
    this.#previousRestored = false;
    this.#save();
    this.#record(actor, "filter.rollback", object, "ok", { from });
    return this.get(this.#active)!;
  }

  #requireHost(actor: string, action: string, object: string): FilterHost {
    if (this.#host) return this.#host;
    this.#record(actor, action, object, "conflict", { reason: "no data plane" });
    throw new FilterRegistryError("conflict", "no data plane runs filters in this daemon yet");
  }

  /**
   * What the data plane did on its own: a trap or a slow batch rolled back to the previous filter,
   * or the previous filter was dropped. Give it the FilterSwitch's (or the workers') events.
   */
  onHostEvent(event: FilterEvent): void {
    if (event.type === "dropped" && event.which === "previous" && event.filter.id === this.#previous) this.#previous = undefined;
    if (event.type !== "rolled-back" || event.cause === "request") return;
    if (event.filter.id === this.#active) return;
    this.#active = event.filter.id;
    this.#previous = undefined;
    try {
      this.#save();
    } catch (e) {
      this.#record("data-plane", "filter.rollback", `filter:${event.filter.id}`, "not-durable", { reason: (e as Error).message });
    }
    this.#record("data-plane", "filter.rollback", `filter:${event.filter.id}`, "ok", { cause: event.cause, from: event.from.id, message: event.message ?? "" });
  }

  #record(actor: string, action: string, object: string, outcome: string, detail?: Record<string, string | number | boolean>): void {
    this.#audit?.record({ actor, action, object, outcome, ...(detail ? { detail } : {}) });
  }
}
