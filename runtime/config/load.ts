/**
 * Reads and validates a configuration file. Every problem is reported with the file, line, column,
 * the key path and what was expected:
 *
 * ```
 * iapd.yaml:7:13 intercepts[0].mediation.port: expected a UDP port (an integer 1..65535), found "x"
 * ```
 */
import { readFileSync } from "node:fs";
import { isNode, LineCounter, parseDocument } from "yaml";
import { configSchema, type Config } from "./schema.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

function keyPath(path: PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p)}`;
  return out || "(top level)";
}

/** Parses YAML text; `source` names the file in messages. Throws ConfigError listing every problem. */
export function parseConfig(text: string, source: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return source;
    const { line, col } = lines.linePos(offset);
    return `${source}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${at(e.pos[0])} ${e.message.split("\n")[0]}`));
  }
  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = [...issue.path];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => {
        const node = doc.getIn([...path, k] as unknown[], true);
        return `${at(isNode(node) ? node.range?.[0] : undefined)} ${keyPath([...path, k])}: unknown key (allowed: ${allowedKeys(path)})`;
      }).join("\n");
    }
    const node = doc.getIn(path as unknown[], true);
    return `${at(isNode(node) ? node.range?.[0] : undefined)} ${keyPath(path)}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** The keys the schema allows at a path, for "unknown key" messages. */
function allowedKeys(path: PropertyKey[]): string {
  let schema: unknown = configSchema;
  for (const p of path) {
    schema = unwrap(schema);
    if (typeof p === "number") schema = (schema as { element?: unknown }).element;
    else schema = (schema as { shape?: Record<string, unknown> }).shape?.[String(p)];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape).join(", ") : "none";
}

function unwrap(schema: unknown): unknown {
  let s = schema as { unwrap?: () => unknown; def?: { innerType?: unknown } } | undefined;
  while (s && (s.def?.innerType || (s.unwrap && !(s as { shape?: unknown }).shape && !(s as { element?: unknown }).element))) {
    s = (s.def?.innerType ?? s.unwrap?.()) as typeof s;
  }
  return s;
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([`${path}: cannot read the configuration file (${(e as NodeJS.ErrnoException).code ?? String(e)})`]);
  }
  return parseConfig(text, path);
}
