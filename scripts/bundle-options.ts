/**
 * The esbuild options iapd's bundles are built with: the single binary's (scripts/build-binary.ts)
 * and the bundles a benchmark or test builds to run iapd as the binary does
 * (scripts/bench-dataplane.ts --bundle, test/state/daemon.ts). One place, so that those run what
 * the binary runs.
 */
import type { BuildInfo } from "../runtime/assets/assets.ts";

export function bundleOptions(info: BuildInfo) {
  return {
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    legalComments: "none",
    logLevel: "warning",
    define: {
      IAPD_BUILD: JSON.stringify(info),
      // A CommonJS bundle has no import.meta; modules that resolve files relative to themselves get
      // the bundle's own location (runtime/assets knows where the repository is from there).
      "import.meta.url": "IAPD_BUNDLE_URL",
      "import.meta.dirname": "__dirname",
      // Only on paths the bundle never takes (loading TypeScript through tsx); fail loudly if it does.
      "import.meta.resolve": "IAPD_NO_RESOLVE",
    },
    banner: {
      // The sources are ES modules, strict mode throughout; the banner must not demote esbuild's directive.
      js: '"use strict";\nvar IAPD_BUNDLE_URL = require("node:url").pathToFileURL(__filename).href;\nfunction IAPD_NO_RESOLVE(s) { throw new Error("import.meta.resolve(" + s + ") in the bundle"); }',
    },
  } as const;
}
