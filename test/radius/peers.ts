/**
 * Real RADIUS peers for the tests: FreeRADIUS's radclient against a node:dgram socket, and a
 * FreeRADIUS server with a generated configuration. Every process is started here and killed by
 * its PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket, type RemoteInfo } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RunResult {
  readonly exitCode: number | null;
  readonly output: string;
}

/** Runs `radclient -x` with `input` on stdin; one try, `timeoutSeconds` for the reply. */
export function radclient(
  port: number,
  command: "auth" | "acct" | "coa" | "disconnect" | "status",
  secret: string,
  input: string,
  timeoutSeconds = 1,
): Promise<RunResult> {
  const child = spawn(
    "radclient",
    ["-x", "-r", "1", "-t", String(timeoutSeconds), `127.0.0.1:${port}`, command, secret],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  child.stdin.end(`${input}\n`);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (exitCode) => resolve({ exitCode, output }));
  });
}

export interface UdpPeer {
  readonly port: number;
  close(): Promise<void>;
}

/** A UDP socket on 127.0.0.1 (ephemeral port) answering each datagram with `reply`'s result, if any. */
export function udpResponder(reply: (datagram: Buffer, from: RemoteInfo) => Uint8Array | undefined): Promise<UdpPeer> {
  const socket = createSocket("udp4");
  socket.on("message", (datagram, from) => {
    const answer = reply(datagram, from);
    if (answer) socket.send(answer, from.port, from.address);
  });
  return new Promise((resolve) => {
    socket.bind(0, "127.0.0.1", () =>
      resolve({ port: socket.address().port, close: () => new Promise((done) => socket.close(() => done())) }),
    );
  });
}

/** Sends one datagram from an ephemeral port and waits for one answer. */
export function exchange(port: number, datagram: Uint8Array, timeoutMs = 2000): Promise<Buffer> {
  const socket = createSocket("udp4");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer from 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("message", (answer) => {
      clearTimeout(timer);
      socket.close();
      resolve(answer);
    });
    socket.send(datagram, port, "127.0.0.1");
  });
}

/** A UDP port on 127.0.0.1 that was free a moment ago (bound, read, released). */
export function freePort(): Promise<number> {
  const socket = createSocket("udp4");
  return new Promise((resolve) =>
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    }),
  );
}

export interface FreeRadius {
  readonly authPort: number;
  readonly acctPort: number;
  /** Everything `freeradius -X` printed so far. */
  log(): string;
  /**
   * The output once `pattern` appears in it (or after `ms`). A reply can arrive before the lines
   * the server printed ahead of sending it: they come through another channel, the pipe, and
   * under Deno the two are not read in the order they were written.
   */
  logged(pattern: RegExp, ms?: number): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts `freeradius -X` on loopback with a client 127.0.0.1/`secret` and `users` as its users file;
 * resolves once it prints "Ready to process requests".
 */
export async function startFreeRadius(secret: string, users: string): Promise<FreeRadius> {
  const dir = mkdtempSync(join(tmpdir(), "iapd-freeradius-"));
  const authPort = await freePort();
  const acctPort = await freePort();
  writeFileSync(join(dir, "users"), users);
  writeFileSync(join(dir, "radiusd.conf"), serverConfig(dir, secret, authPort, acctPort));
  const child: ChildProcess = spawn("freeradius", ["-X", "-d", dir], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((done) => child.on("close", () => done()));
  const killOnExit = () => child.pid && !child.killed && process.kill(child.pid);
  process.once("exit", killOnExit);
  const stop = async () => {
    process.off("exit", killOnExit);
    if (child.exitCode === null && child.pid) process.kill(child.pid);
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`freeradius not ready after 10 s:\n${output}`)), 10_000);
      child.on("close", (code) => fail(new Error(`freeradius exited with ${code}:\n${output}`)));
      child.stdout!.on("data", () => {
        if (output.includes("Ready to process requests")) {
          clearTimeout(timer);
          ready();
        }
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const logged = async (pattern: RegExp, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    return output;
  };
  return { authPort, acctPort, log: () => output, logged, stop };
}

function serverConfig(dir: string, secret: string, authPort: number, acctPort: number): string {
  return `
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = ${dir}
confdir = ${dir}
logdir = ${dir}
run_dir = ${dir}
libdir = /usr/lib/freeradius
pidfile = ${dir}/radiusd.pid
name = freeradius
max_request_time = 5
cleanup_delay = 1
max_requests = 64
hostname_lookups = no
log {
  destination = stdout
  colourise = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = yes
}
client local {
  ipaddr = 127.0.0.1
  secret = "${secret}"
}
modules {
  files {
    filename = ${dir}/users
  }
  pap {
  }
  chap {
  }
  always ok {
    rcode = ok
  }
}
server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = ${authPort}
  }
  listen {
    type = acct
    ipaddr = 127.0.0.1
    port = ${acctPort}
  }
  authorize {
    files
    chap
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
    Auth-Type CHAP {
      chap
    }
  }
  preacct {
  }
  accounting {
    ok
  }
  post-auth {
  }
}
`;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
}
