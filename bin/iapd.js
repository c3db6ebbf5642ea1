#!/usr/bin/env node
// Runs the TypeScript sources directly; the single binary (scripts/build-binary) bundles them instead.
import { register } from "tsx/esm/api";
register();
await import("../runtime/cli/main.ts");
