/**
 * `iapd audit verify FILE`: checks an audit log's hash chain. Exit 0 and the record count and head
 * hash when intact (keep the head elsewhere: a later verify that finds an earlier head means the
 * end was cut off); exit 1 naming the first bad line otherwise.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { tornTailOffset, verifyAuditLog, verifyAuditText } from "./log.ts";

export function auditCommand(args: string[], out: (line: string) => void, err: (line: string) => void): number {
  const [sub, file, ...rest] = args;
  if (sub !== "verify" || file === undefined || rest.length > 0) {
    err("usage: iapd audit verify FILE");
    return 2;
  }
  let result;
  try {
    result = verifyAuditLog(file);
  } catch (e) {
    err(`${file}: cannot read the audit log (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    return 1;
  }
  if (result.ok) {
    out(`${file}: ok: ${result.records} record(s), head ${result.head}`);
    for (const side of tornSideFiles(file)) out(`${file}: a torn last line was set aside at start-up in ${side.name} (${side.size} byte(s)): a write cut short by a crash, never acknowledged`);
    return 0;
  }
  const bytes = readFileSync(file);
  const offset = tornTailOffset(bytes);
  const torn = offset !== undefined && verifyAuditText(bytes.subarray(0, offset).toString("utf8")).ok;
  err(`${file}:${result.line}: ${result.problem} (${result.records} record(s) before it verify)${torn ? "; it is the last line, torn: iapd sets it aside at its next start (docs/state.md)" : ""}`);
  return 1;
}

/** `FILE.torn-at-OFFSET[.N]` next to the log: torn last lines AuditLog.open set aside. */
function tornSideFiles(file: string): { name: string; size: number }[] {
  const prefix = `${basename(file)}.torn-at-`;
  try {
    return readdirSync(dirname(file))
      .filter((n) => n.startsWith(prefix))
      .sort()
      .map((name) => ({ name, size: statSync(join(dirname(file), name)).size }));
  } catch {
    return [];
  }
}
