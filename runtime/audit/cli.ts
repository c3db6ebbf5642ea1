/**
 * `iapd audit verify FILE`: checks an audit log's hash chain. Exit 0 and the record count and head
 * hash when intact (keep the head elsewhere: a later verify that finds an earlier head means the
 * end was cut off); exit 1 naming the first bad line otherwise.
 */
import { verifyAuditLog } from "./log.ts";

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
    return 0;
  }
  err(`${file}:${result.line}: ${result.problem} (${result.records} record(s) before it verify)`);
  return 1;
}
