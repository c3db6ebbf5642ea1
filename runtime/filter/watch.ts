/**
 * File-based filter deployment (config `filter.directory`): a `.wasm` file that appears or changes
 * in the directory is checked like an upload and activated; a rejected one is logged with its
 * reason and left where it is (and not tried again until it changes). Files are taken in
 * modification-time order, so the newest valid module ends up active.
 *
 * Write the file under another name and rename it into place (`cp f.wasm dir/.f.tmp && mv
 * dir/.f.tmp dir/f.wasm`): only names ending in `.wasm` and not starting with `.` are read, after
 * `settleMs` without events.
 *
 * ```ts
 * const watcher = await watchFilterDirectory("/etc/iapd/filters", registry, { log: console.error });
 * watcher.close();
 * ```
 */
import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { FilterRegistryError, type FilterRegistry } from "./registry.ts";

export interface FilterDirectoryOptions {
  log: (line: string) => void;
  /** Quiet time after the last change before the directory is read (default 500 ms). */
  settleMs?: number;
}

export interface FilterDirectoryWatcher {
  close(): void;
  /** Resolves once changes seen so far are handled (for tests and orderly shutdown). */
  settled(): Promise<void>;
}

export async function watchFilterDirectory(dir: string, registry: FilterRegistry, options: FilterDirectoryOptions): Promise<FilterDirectoryWatcher> {
  const settleMs = options.settleMs ?? 500;
  const log = (line: string) => options.log(`filter directory ${dir}: ${line}`);
  /** "size:mtime" of each file as last handled: a file is handled again only when it changes. */
  const seen = new Map<string, string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let work: Promise<void> = Promise.resolve();

  async function handle(name: string): Promise<void> {
    const actor = `directory:${name}`;
    const bytes = new Uint8Array(await readFile(join(dir, name)));
    try {
      const { filter } = await registry.upload(bytes, actor, "directory");
      if (filter.active) return;
      const active = await registry.activate(filter.id!, actor);
      log(`${name}: ${active.name} ${active.version} (${active.id}) active`);
    } catch (e) {
      if (!(e instanceof FilterRegistryError)) throw e;
      log(`${name}: ${e.kind === "rejected" ? `rejected (${e.reason})` : "not activated"}: ${e.message}`);
    }
  }

  async function scan(): Promise<void> {
    const names = (await readdir(dir)).filter((n) => n.endsWith(".wasm") && !n.startsWith("."));
    const files = await Promise.all(names.map(async (name) => ({ name, st: await stat(join(dir, name)).catch(() => undefined) })));
    const changed = files
      .filter((f) => f.st?.isFile() && seen.get(f.name) !== `${f.st.size}:${f.st.mtimeMs}`)
      .sort((a, b) => a.st!.mtimeMs - b.st!.mtimeMs);
    for (const { name, st } of changed) {
      seen.set(name, `${st!.size}:${st!.mtimeMs}`);
      try {
        await handle(name);
      } catch (e) {
        log(`${name}: ${(e as Error).message}`);
      }
    }
  }

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      work = work.then(scan, scan);
    }, settleMs);
  };

  const watcher: FSWatcher = watch(dir, schedule);
  watcher.on("error", (e) => log(`watching stopped: ${e.message}`));
  work = scan();
  await work;
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
    async settled() {
      do {
        await new Promise((resolve) => setTimeout(resolve, settleMs * 2));
        await work;
      } while (timer !== undefined);
    },
  };
}
