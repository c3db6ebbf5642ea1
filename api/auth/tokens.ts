/**
 * Bearer tokens. The configuration holds only SHA-256 hashes; a presented token is hashed and
 * compared with every configured hash in constant time, so neither the match nor its position
 * shows in the response time.
 *
 * ```ts
 * const tokens = resolveTokens(config.api.tokens, "var", (t) => console.log(`API token: ${t}`));
 * const verifier = new TokenVerifier(tokens);
 * verifier.verify("…") // { name: "admin", role: "li-admin" } or undefined
 * ```
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { apiTokenSchema, ROLES, type ApiToken, type Role } from "../../runtime/config/api.ts";

/** Who made a request: the token's name and role. */
export interface Principal {
  name: string;
  role: Role;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** True when `role` includes everything `needed` may do (viewer < operator < li-admin). */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export class TokenVerifier {
  private hashes: { token: ApiToken; digest: Buffer }[];

  constructor(tokens: readonly ApiToken[]) {
    this.hashes = tokens.map((token) => ({ token, digest: Buffer.from(token.sha256, "hex") }));
  }

  verify(presented: string): Principal | undefined {
    const digest = createHash("sha256").update(presented, "utf8").digest();
    let found: ApiToken | undefined;
    for (const h of this.hashes) {
      // No early exit: every hash is compared whatever matched before.
      if (timingSafeEqual(digest, h.digest) && found === undefined) found = h.token;
    }
    return found && { name: found.name, role: found.role };
  }
}

/** Where the first-run token's hash lives inside the state directory. */
export const FIRST_RUN_TOKEN_FILE = "api-token.json";

/**
 * The tokens to accept: the configured ones; with none configured, the first-run token whose hash
 * is kept in `<stateDir>/api-token.json`, generating it (role li-admin, name "admin") and handing
 * the token itself to `announce` exactly once, the only time it exists outside the client.
 */
export function resolveTokens(configured: readonly ApiToken[], stateDir: string, announce: (token: string) => void): ApiToken[] {
  if (configured.length > 0) return [...configured];
  const path = join(stateDir, FIRST_RUN_TOKEN_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (text !== undefined) {
    const parsed = apiTokenSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${path}: not a token record (${parsed.error.issues[0]?.message}); remove it to generate a new token`);
    return [parsed.data];
  }
  const token = randomBytes(32).toString("base64url");
  const record: ApiToken = { name: "admin", role: "li-admin", sha256: hashToken(token) };
  mkdirSync(stateDir, { recursive: true });
  // "wx": two first runs at once cannot both think they created the token.
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(record)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  announce(token);
  return [record];
}
