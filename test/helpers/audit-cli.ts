import { execFileSync } from "node:child_process";

/** `iapd audit verify PATH` from the checkout (under node): its exit code, and stdout or stderr. */
export function auditVerifyCli(path: string): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync("node", ["bin/iapd.js", "audit", "verify", path], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
  } catch (e) {
    const err = e as { status: number; stderr: string };
    return { code: err.status, out: err.stderr };
  }
}
