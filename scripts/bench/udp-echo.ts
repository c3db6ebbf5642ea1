/**
 * The floor of a Node RADIUS server on this machine (scripts/bench-radius.ts, docs/benchmarks.md):
 * a bare node:dgram server that answers every datagram with a signed, attribute-less
 * Accounting-Response (Response Authenticator = MD5 of the header, the request's authenticator and
 * the secret) and does nothing else: no client lookup, no request authentication, no duplicate
 * cache, no state. One recvmsg and one sendmsg per request through libuv, as `iapd run` does.
 *
 *   taskset -c 1 node --import tsx scripts/bench/udp-echo.ts PORT SECRET
 */
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";

const port = Number(process.argv[2]);
const secret = Buffer.from(process.argv[3] ?? "", "utf8");
const socket = createSocket("udp4");
socket.on("message", (request, from) => {
  if (request.length < 20) return;
  const reply = Buffer.allocUnsafe(20);
  reply[0] = 5; // Accounting-Response
  reply[1] = request[1];
  reply[2] = 0;
  reply[3] = 20;
  createHash("md5").update(reply.subarray(0, 4)).update(request.subarray(4, 20)).update(secret).digest().copy(reply, 4);
  socket.send(reply, from.port, from.address);
});
socket.bind(port, "127.0.0.1", () => console.error(`udp-echo: ready in 0 ms on port ${port}`));
process.on("SIGTERM", () => socket.close());
