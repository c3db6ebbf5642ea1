/**
 * Network namespaces and veth pairs for the data plane's end-to-end test and benchmark. Every name
 * starts with "iapddp" and every address is from the documentation and shared ranges, so nothing
 * leaves the namespaces. Namespace names get a suffix of this process's own, so two runs on one
 * machine (two test suites at once) never touch each other's; interface names need none, each lives
 * in its namespace. `Lab.close()` deletes what the lab created (namespaces take their veths with
 * them), also after a failure.
 *
 * ```ts
 * const lab = new Lab();
 * try {
 *   const sub = lab.namespace("iapddp-sub"); // "iapddp-sub-<pid>"
 *   const peer = lab.namespace("iapddp-peer");
 *   lab.veth([sub, "iapddp-s0", "100.64.0.9/24"], [peer, "iapddp-p0", "100.64.0.1/24"]);
 *   lab.run(sub, "ping", "-c1", "100.64.0.1");
 * } finally {
 *   lab.close();
 * }
 * ```
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

export const PREFIX = "iapddp";
/** This run's namespace suffix. */
export const RUN = process.pid.toString(36);


export class Lab {
  readonly namespaces: string[] = [];
  readonly children: ChildProcess[] = [];

  /** A fresh namespace named `name` plus this run's suffix; returns the full name. */
  namespace(base: string): string {
    if (!base.startsWith(PREFIX)) throw new Error(`namespace ${base}: lab names start with ${PREFIX}`);
    const name = `${base}-${RUN}`;
    try {
      execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
    } catch {
      // there was none
    }
    return this.#create(name);
  }

  #create(name: string): string {
    execFileSync("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    this.run(name, "ip", "link", "set", "lo", "up");
    return name;
  }

  /**
   * A veth pair between two namespaces, each end up, with an optional address ("100.64.0.9/24").
   * `ipv6: false` turns IPv6 off on both ends first: no neighbour discovery or MLD frames, for a
   * test that counts every frame on the link.
   */
  veth(a: [ns: string, dev: string, address?: string], b: [ns: string, dev: string, address?: string], options: { ipv6?: boolean } = {}): void {
    for (const dev of [a[1], b[1]]) if (!dev.startsWith(PREFIX)) throw new Error(`interface ${dev}: lab names start with ${PREFIX}`);
    execFileSync("ip", ["link", "add", a[1], "netns", a[0], "type", "veth", "peer", "name", b[1], "netns", b[0]]);
    for (const [ns, dev, address] of [a, b]) {
      if (options.ipv6 === false) this.run(ns, "sysctl", "-qw", `net.ipv6.conf.${dev}.disable_ipv6=1`);
      if (address) this.run(ns, "ip", "addr", "add", address, "dev", dev);
      this.run(ns, "ip", "link", "set", dev, "up");
    }
  }

  /** Runs a command in a namespace and returns its stdout. */
  run(ns: string, command: string, ...args: string[]): string {
    return execFileSync("ip", ["netns", "exec", ns, command, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /** Starts a process in a namespace; `close` kills it by PID if it is still running. */
  spawn(ns: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["ignore", "pipe", "pipe"], ...options });
    this.children.push(child);
    return child;
  }

  close(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  }
}
