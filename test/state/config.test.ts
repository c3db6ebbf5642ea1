import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, parseConfig } from "../../runtime/config/load.ts";

test("config: state section defaults and problems", () => {
  assert.equal(parseConfig("", "t").state, { snapshotEveryRecords: 100000, idleTimeoutSeconds: 0 });
  assert.equal(parseConfig("state: { directory: /var/lib/iapd, idleTimeoutSeconds: 1800 }", "t").state, { directory: "/var/lib/iapd", snapshotEveryRecords: 100000, idleTimeoutSeconds: 1800 });
  try {
    parseConfig("state: { directory: 3, snapshotEveryRecords: 5, typo: 1 }", "t");
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ConfigError);
    const message = (e as Error).message;
    assert.match(message, "state.directory: expected a directory path, found 3");
    assert.match(message, "state.snapshotEveryRecords: expected a number of journal records (an integer 100..100000000), found 5");
    assert.match(message, /typo/);
  }
});

test.run();
