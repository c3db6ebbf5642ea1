/**
 * In-process micro-benchmark of one list-sessions page (no HTTP): the cost of building the JSON of
 * 100 sessions, old way (view objects + JSON.stringify) against the direct serializer, side by side.
 *
 *   node --import tsx scripts/bench/api-page.ts [--sessions 200000] [--pages 20000]
 */
import { parseArgs } from "node:util";
import { SessionStore, type SubscriberSession } from "../../runtime/sessions/store.ts";
import { JsonBytes } from "../../api/json.ts";
import { iso, sessionApiId, sessionView, writeSession } from "../../api/views.ts";

const scratch = new JsonBytes();

const { values } = parseArgs({ options: { sessions: { type: "string", default: "200000" }, pages: { type: "string", default: "20000" } } });
const count = Number(values.sessions);
const store = new SessionStore();
for (let i = 0; i < count; i++) {
  store.upsertSession(
    {
      nas: `192.0.2.${1 + (i % 3)}`,
      acctSessionId: `s${i}`,
      userName: `user${i}`,
      framedIpAddress: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
      callingStationId: `02:00:${((i >>> 16) & 255).toString(16).padStart(2, "0")}:${((i >>> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}:00`,
      nasPortId: `eth0.${i % 4000}`,
    },
    1_763_780_000_000 + i,
  );
}

let iterator = store.allSessions();
function page(): SubscriberSession[] {
  const out: SubscriberSession[] = [];
  while (out.length < 100) {
    const r = iterator.next();
    if (r.done) iterator = store.allSessions();
    else out.push(r.value);
  }
  return out;
}

const ways: Record<string, (items: SubscriberSession[]) => string | Buffer> = {
  "views + JSON.stringify": (items) => JSON.stringify({ items: items.map((s) => sessionView(s, undefined)), next: "AAAAAAAAAAAAAAAAAAAAAA" }),
  "JsonBytes (writeSession)": (items) => {
    const w = scratch.reset();
    w.raw('{"items":[');
    for (let i = 0; i < items.length; i++) {
      if (i > 0) w.byte(44);
      writeSession(w, items[i], undefined);
    }
    w.raw('],"next":"AAAAAAAAAAAAAAAAAAAAAA"}');
    return w.finish();
  },
  "walk only": (items) => String(items.length),
  "sessionApiId (Buffer) only": (items) => {
    let n = 0;
    for (let i = 0; i < items.length; i++) n += Buffer.from(items[i].key, "utf8").toString("base64url").length;
    return String(n);
  },
  "sessionApiId only": (items) => {
    let n = 0;
    for (let i = 0; i < items.length; i++) n += sessionApiId(items[i].key).length;
    return String(n);
  },
  "iso x2 only": (items) => {
    let n = 0;
    for (let i = 0; i < items.length; i++) n += iso(items[i].startTime).length + iso(items[i].lastUpdate).length;
    return String(n);
  },
};
// Same output first.
const sample = page();
const outputs = Object.values(ways).slice(0, 2).map((f) => String(f(sample)));
if (new Set(outputs).size !== 1) throw new Error("the ways disagree");
const pages = Number(values.pages);
for (let round = 0; round < 3; round++) {
  const line: string[] = [];
  for (const [name, f] of Object.entries(ways)) {
    let bytes = 0;
    const t0 = process.cpuUsage();
    // Buffer.byteLength + the socket's UTF-8 copy: what the server does with the text (flattens it).
    for (let i = 0; i < pages; i++) {
      const out = f(page());
      bytes += typeof out === "string" ? Buffer.from(out, "utf8").length : out.length;
    }
    const t = process.cpuUsage(t0);
    line.push(`${name}: ${(((t.user + t.system) / pages) | 0)} us/page (${(bytes / pages) | 0} B)`);
  }
  console.log(line.join("\n"));
}
