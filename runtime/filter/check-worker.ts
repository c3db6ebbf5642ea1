/**
 * A short-lived worker thread that runs the upload checks of one candidate module (`checkFilter`
 * in runtime/filter/lifecycle.ts starts it): a module whose self-test never returns then hangs this
 * thread only, and the caller terminates it when its time limit is up.
 */
import { parentPort, workerData } from "node:worker_threads";
import { checkFilterHere, FilterRejected } from "./lifecycle.ts";

/** What the worker answers: the module's info, or why it was refused, or an unexpected error. */
export type CheckAnswer =
  | { type: "checked"; info: import("./lifecycle.ts").FilterModuleInfo }
  | { type: "rejected"; reason: import("./lifecycle.ts").RejectReason; message: string }
  | { type: "error"; message: string };

const port = parentPort!;
const post = (answer: CheckAnswer) => port.postMessage(answer);

checkFilterHere((workerData as { bytes: Uint8Array }).bytes).then(
  ({ info }) => post({ type: "checked", info }),
  (e: unknown) => post(e instanceof FilterRejected ? { type: "rejected", reason: e.reason, message: e.message } : { type: "error", message: e instanceof Error ? e.message : String(e) }),
);
