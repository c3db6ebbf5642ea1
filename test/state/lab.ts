/**
 * The crash test's network namespace (name `iapdh8-<pid>`): `iapd run` runs inside it with its
 * live data plane capturing on a veth end (`iapdh8-c`) and its UDP egress sending to a mediation
 * socket on the namespace's loopback. The test process stays outside; test/state/relay.mjs,
 * started inside, carries its RADIUS datagrams and API requests, sends probe datagrams for
 * subscriber addresses out of the other veth end (`iapdh8-g`, 198.51.100.1, route to 100.64.0.0/10
 * via a permanent neighbour that is the capture end's MAC address) and reports the mirrored
 * packets that reach the mediation socket. `close()` kills the relay and deletes the namespace.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { jsArgs, RUNTIME } from "../helpers/runtime.ts";

export const CAPTURE_INTERFACE = "iapdh8-c";
export const MEDIATION_PORT = 30030;
const RELAY = resolve(import.meta.dirname, "relay.mjs");

/** A command line running a JavaScript file on the current runtime, for `ip netns exec` (test/helpers/runtime.ts). */
export function runtimeArgs(script: string, args: string[]): string[] {
  return [RUNTIME, ...jsArgs(script, ...args)];
}

/** A datagram socket as the RADIUS client needs it: send to 127.0.0.1:port, the first bytes of each answer. */
export interface DatagramPort {
  send(bytes: Uint8Array, port: number): void;
  onMessage(listener: (head: Uint8Array) => void): void;
  close(): Promise<void>;
}

/** An API answer: status undefined when none came in 5 s. */
export interface HttpAnswer {
  status: number | undefined;
  body: string;
}

export class Lab {
  readonly namespace = `iapdh8-${process.pid.toString(36)}`;
  private relay!: ChildProcess;
  private nextId = 0;
  private waiting = new Map<number, (message: Record<string, unknown>) => void>();
  private receivers = new Map<number, (head: Uint8Array) => void>();
  private nextClient = 0;

  static async open(): Promise<Lab> {
    const lab = new Lab();
    try {
      await lab.setUp();
      return lab;
    } catch (e) {
      await lab.close();
      throw e;
    }
  }

  private ip(...args: string[]): string {
    return execFileSync("ip", ["netns", "exec", this.namespace, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  private async setUp(): Promise<void> {
    try {
      execFileSync("ip", ["netns", "del", this.namespace], { stdio: "ignore" });
    } catch {
      // there was none
    }
    execFileSync("ip", ["netns", "add", this.namespace]);
    this.ip("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    this.ip("ip", "link", "set", "lo", "up");
    execFileSync("ip", ["link", "add", CAPTURE_INTERFACE, "netns", this.namespace, "type", "veth", "peer", "name", "iapdh8-g", "netns", this.namespace]);
    this.ip("ip", "link", "set", CAPTURE_INTERFACE, "up");
    this.ip("ip", "addr", "add", "198.51.100.1/24", "dev", "iapdh8-g");
    this.ip("ip", "link", "set", "iapdh8-g", "up");
    const mac = this.ip("cat", `/sys/class/net/${CAPTURE_INTERFACE}/address`).trim();
    this.ip("ip", "neigh", "replace", "198.51.100.2", "lladdr", mac, "dev", "iapdh8-g", "nud", "permanent");
    this.ip("ip", "route", "add", "100.64.0.0/10", "via", "198.51.100.2", "dev", "iapdh8-g");
    // The relay is the test's network (subscribers, NAS, API client, mediation device), not iapd: it
    // runs on Node even when the tests run on Deno, where its node:dgram lost probes and copies in
    // bursts (whole runs of probes missing in CI, 2026-11-22); iapd itself runs on the tests' runtime.
    this.relay = this.spawn(["node", RELAY, "198.51.100.1", String(MEDIATION_PORT)], ["pipe", "pipe", "inherit"]);
    const ready = new Promise<void>((done, fail) => {
      this.relay.once("exit", (code) => fail(new Error(`the relay exited (${code})`)));
      this.waiting.set(-1, () => done());
    });
    createInterface({ input: this.relay.stdout! }).on("line", (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      if (message.op === "ready") return this.waiting.get(-1)?.(message);
      if (message.op === "opened") return this.waiting.get(-2 - (message.client as number))?.(message);
      if (message.op === "recv") return this.receivers.get(message.client as number)?.(Buffer.from(message.data as string, "base64"));
      const id = message.id as number;
      const resolveIt = this.waiting.get(id);
      this.waiting.delete(id);
      resolveIt?.(message);
    });
    await ready;
  }

  /** Starts `argv` inside the namespace (exec'd by `ip netns exec`: the child's PID is the command's). */
  spawn(argv: string[], stdio: ("pipe" | "ignore" | "inherit")[]): ChildProcess {
    return spawn("ip", ["netns", "exec", this.namespace, ...argv], { stdio });
  }

  private ask(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((done) => {
      this.waiting.set(id, done);
      this.relay.stdin!.write(`${JSON.stringify({ ...message, id })}\n`);
    });
  }

  private tell(message: Record<string, unknown>): void {
    this.relay.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  /** A request to the daemon's API inside the namespace. */
  async http(method: string, url: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
    const answer = await this.ask({ op: "http", method, url, headers, body });
    return { status: (answer.status as number | null) ?? undefined, body: (answer.body as string | undefined) ?? "" };
  }

  /** A UDP socket on the namespace's loopback for a RADIUS client. */
  async datagramPort(): Promise<DatagramPort> {
    const client = this.nextClient++;
    const opened = new Promise<void>((done) => this.waiting.set(-2 - client, () => done()));
    this.tell({ op: "open", client });
    await opened;
    return {
      send: (bytes, port) => this.tell({ op: "send", client, port, data: Buffer.from(bytes).toString("base64") }),
      onMessage: (listener) => this.receivers.set(client, listener),
      close: async () => {},
    };
  }

  /** One UDP datagram (payload `tag`) to each address, out of the veth end facing the capture interface. */
  async probe(addresses: string[], port: number, tag: string): Promise<{ errors: number; error: string }> {
    const answer = await this.ask({ op: "probe", addresses, port, tag });
    return { errors: Number(answer.errors ?? 0), error: String(answer.error ?? "") };
  }

  /** The mirrored packets that reached the mediation socket since the last call: intercept ID, session ID, inner destination, probe tag. */
  async mirrored(): Promise<[number, number, string, string][]> {
    return (await this.ask({ op: "mirrored" })).packets as [number, number, string, string][];
  }

  async close(): Promise<void> {
    if (this.relay?.pid && this.relay.exitCode === null && this.relay.signalCode === null) {
      const exited = new Promise((done) => this.relay.once("exit", done));
      process.kill(this.relay.pid, "SIGKILL");
      await exited;
    }
    try {
      execFileSync("ip", ["netns", "del", this.namespace], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}
