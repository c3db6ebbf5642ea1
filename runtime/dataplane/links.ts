/**
 * Tunnel failure by link state: a tunnel whose interface is down or gone fails over (its mirror
 * sessions move to the other tunnels) and takes sessions again once the link is back. Tunnels without
 * an interface follow the routing table and are not watched.
 *
 * ```ts
 * const links = watchTunnelLinks(tunnels, pool, { log });
 * links.stop();
 * ```
 */
import { readFileSync } from "node:fs";
import type { TunnelRegistry } from "../sessions/tunnels.ts";
import type { TunnelPool } from "./pool.ts";

export interface LinkWatchOptions {
  intervalMs?: number;
  log?: (line: string) => void;
  /** The interface's operational state (default: /sys/class/net/NAME/operstate, "absent" if none). */
  operstate?: (name: string) => string;
}

export interface LinkWatch {
  /** Looks at every watched link now (the timer does this every `intervalMs`). */
  check(): void;
  stop(): void;
}

function sysOperstate(name: string): string {
  try {
    return readFileSync(`/sys/class/net/${name}/operstate`, "utf8").trim();
  } catch {
    return "absent";
  }
}

/** "unknown" is what virtual links without carrier detection (tun, dummy) report while working. */
const DOWN = new Set(["down", "lowerlayerdown", "notpresent", "absent"]);

export function watchTunnelLinks(tunnels: TunnelRegistry, pool: TunnelPool, options: LinkWatchOptions = {}): LinkWatch {
  const operstate = options.operstate ?? sysOperstate;
  const failed = new Set<string>();
  const check = () => {
    const present = new Set<string>();
    for (const t of tunnels.list()) {
      if (t.interface === undefined) continue;
      present.add(t.name);
      const state = operstate(t.interface);
      if (DOWN.has(state) && !failed.has(t.name)) {
        failed.add(t.name);
        pool.fail(t.name);
        options.log?.(`tunnel ${t.name}: interface ${t.interface} is ${state}: its mirror sessions move to the other tunnels`);
      } else if (!DOWN.has(state) && failed.has(t.name)) {
        failed.delete(t.name);
        pool.recover(t.name);
        options.log?.(`tunnel ${t.name}: interface ${t.interface} is ${state} again: it takes mirror sessions`);
      }
    }
    for (const name of failed) if (!present.has(name)) failed.delete(name);
  };
  check();
  const timer = setInterval(check, options.intervalMs ?? 1000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
