/**
 * The libc binding of the runtime this process runs on: Deno.dlopen on Deno, koffi on Node. Opened
 * on first use, so importing this costs nothing where the data plane is not started.
 *
 * ```ts
 * import { libc } from "../ffi/libc.ts";
 * const fd = libc().socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
 * ```
 */
import { openLibc as openDeno } from "./deno/libc.ts";
import { openLibc as openNode } from "./node/libc.ts";
import type { Libc } from "./types.ts";

export { ERRNO, errnoName, LibcError, type Libc } from "./types.ts";

let opened: Libc | undefined;

export function libc(): Libc {
  opened ??= "Deno" in globalThis ? openDeno() : openNode();
  return opened;
}
