/** Configuration test helpers shared by test/config/*.test.ts. */
import * as assert from "uvu/assert";
import { ConfigError, parseConfig } from "../../runtime/config/load.ts";

/** The problems `parseConfig` reports for `text` (as file t.yaml); fails the test if it is accepted. */
export function problems(text: string): string[] {
  try {
    parseConfig(text, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.unreachable("config was accepted");
  return [];
}
