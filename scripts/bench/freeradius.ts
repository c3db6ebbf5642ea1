/**
 * FreeRADIUS as the accounting server the RADIUS benchmark compares iapd with: a generated minimal
 * configuration (one client, one accounting listener on loopback, no authentication), started in the
 * foreground without debug output, optionally pinned to a CPU, and stopped by its PID.
 *
 * Three `accounting` sections, from least to most work per request:
 * - `ok`: verify the request, answer. No state at all.
 * - `cache`: keep the session table in memory like iapd does: an rlm_cache (rbtree) entry per
 *   client address + Acct-Session-Id holding the same attributes iapd's session store keeps;
 *   Start and Interim-Update replace the entry, Stop removes it.
 * - `detail`: append every request to a detail file (FreeRADIUS's default accounting), then answer.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type FreeRadiusAccounting = "ok" | "cache" | "detail";

export interface RunningFreeRadius {
  readonly pid: number;
  readonly acctPort: number;
  stop(): Promise<void>;
}

/** Attributes iapd's session store keeps (runtime/sessions/store.ts `SessionAttributes`). */
const SESSION_ATTRIBUTES = [
  "User-Name",
  "Framed-IP-Address",
  "Framed-IPv6-Prefix",
  "Delegated-IPv6-Prefix",
  "Framed-IPv6-Address",
  "Calling-Station-Id",
  "NAS-Port-Id",
  "NAS-IP-Address",
  "NAS-Identifier",
];

function accountingSection(kind: FreeRadiusAccounting): string {
  switch (kind) {
    case "ok":
      return "ok";
    case "cache":
      // Cache-TTL < 0: drop the old entry and store a fresh one; 0: drop it (mods-available/cache).
      return `
    if (&Acct-Status-Type == Stop) {
      update control {
        &Cache-TTL := 0
      }
    }
    else {
      update control {
        &Cache-TTL := -86400
      }
    }
    sessions
    ok`;
    case "detail":
      return "detail\n    ok";
  }
}

function serverConfig(dir: string, secret: string, port: number, kind: FreeRadiusAccounting): string {
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
max_request_time = 30
# Requests are kept this long after the reply to answer retransmissions (iapd: duplicateCacheSeconds, 30).
cleanup_delay = 5
max_requests = 4194304
hostname_lookups = no
log {
  destination = files
  file = ${dir}/radius.log
  colourise = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = yes
}
thread pool {
  start_servers = 5
  max_servers = 32
  min_spare_servers = 3
  max_spare_servers = 10
  max_queue_size = 65536
}
client bench {
  ipaddr = 127.0.0.1
  secret = "${secret}"
  require_message_authenticator = yes
}
modules {
  always ok {
    rcode = ok
  }
  detail {
    filename = ${dir}/detail
    permissions = 0600
    header = "%t"
  }
  cache sessions {
    driver = "rlm_cache_rbtree"
    key = "%{Packet-Src-IP-Address}|%{Acct-Session-Id}"
    ttl = 86400
    max_entries = 0
    update {
${SESSION_ATTRIBUTES.map((a) => `      &control:${a} := &request:${a}`).join("\n")}
    }
  }
}
server default {
  listen {
    type = acct
    ipaddr = 127.0.0.1
    port = ${port}
  }
  preacct {
  }
  accounting {
    ${accountingSection(kind)}
  }
}
`;
}

/**
 * Starts `freeradius -f` (foreground, no debug) with `cpu` pinning when given; resolves once the
 * accounting port answers a Status-Server (probed by `ready`).
 */
export async function startFreeRadius(options: {
  secret: string;
  port: number;
  accounting: FreeRadiusAccounting;
  taskset?: string[];
  ready: () => Promise<boolean>;
}): Promise<RunningFreeRadius> {
  const dir = mkdtempSync(join(tmpdir(), "iapd-bench-freeradius-"));
  writeFileSync(join(dir, "radiusd.conf"), serverConfig(dir, options.secret, options.port, options.accounting));
  const [command, ...args] = [...(options.taskset ?? []), "freeradius", "-f", "-d", dir];
  const child: ChildProcess = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((done) => child.on("close", () => done()));
  const log = () => {
    try {
      return readFileSync(join(dir, "radius.log"), "utf8");
    } catch {
      return "";
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, "SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await options.ready())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = `freeradius (${options.accounting}) did not start:\n${output}${log()}`;
      await stop();
      throw new Error(why);
    }
  }
  return { pid: child.pid!, acctPort: options.port, stop };
}
