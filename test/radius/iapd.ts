/**
 * iapd's own RADIUS listeners for the tests: a control plane on ephemeral loopback ports, and raw
 * UDP exchanges for what radclient cannot send (exact retransmissions, other source addresses,
 * malformed datagrams).
 */
import { createSocket, type Socket } from "node:dgram";
import { radiusSchema } from "../../runtime/config/radius.ts";
import { ControlPlane } from "../../runtime/daemon/control-plane.ts";
import { attribute, Code, encodePacket, type Attribute } from "../../runtime/radius/mod.ts";

export const SECRET = "iapd-test-secret";
/**
 * A legacy network 127.0.0.0/30 with its own secret and no Message-Authenticator required. It also
 * contains 127.0.0.1, whose own, longer entry wins; 127.0.0.4 and up are unknown clients.
 */
export const LEGACY_SECRET = "legacy-secret";

export async function startPlane(radius: Record<string, unknown> = {}): Promise<ControlPlane> {
  return ControlPlane.start(
    radiusSchema.parse({
      clients: [
        { address: "127.0.0.1", secret: SECRET, name: "bng" },
        { address: "127.0.0.0/30", secret: LEGACY_SECRET, requireMessageAuthenticator: false },
      ],
      accounting: { listen: "127.0.0.1:0" },
      dynamicAuthorization: { listen: "127.0.0.1:0" },
      ...radius,
    }),
  );
}

export interface RawPeer {
  /** Sends a datagram to `to`:port; resolves with the answers received within `waitMs`. */
  send(port: number, datagram: Uint8Array, waitMs?: number): Promise<Buffer[]>;
  close(): Promise<void>;
}

/** A UDP socket bound to `address` (any 127/8 address works on loopback, or ::1) and an ephemeral port. */
export function rawPeer(address = "127.0.0.1", to = "127.0.0.1"): Promise<RawPeer> {
  const socket: Socket = createSocket(address.includes(":") ? "udp6" : "udp4");
  let inbox: Buffer[] = [];
  socket.on("message", (m) => inbox.push(m));
  return new Promise((resolve) =>
    socket.bind(0, address, () =>
      resolve({
        async send(port, datagram, waitMs = 300) {
          inbox = [];
          socket.send(datagram, port, to);
          await new Promise((r) => setTimeout(r, waitMs));
          return inbox;
        },
        close: () => new Promise((done) => socket.close(() => done())),
      }),
    ),
  );
}

/**
 * A CoA-Request that starts mirroring for session "s1" (the four ERX LI attributes, mediation
 * device 127.0.0.1:30030), signed with `secret`, with or without a Message-Authenticator: for the
 * raw exchanges radclient cannot make (exact retransmissions, tampered bytes, other sources).
 */
export function coaRequest(identifier: number, secret: string, messageAuthenticator: boolean, extra: Attribute[] = []) {
  return encodePacket(
    {
      code: Code.CoaRequest,
      identifier,
      attributes: [
        attribute("Acct-Session-Id", "s1"),
        attribute("ERX-LI-Action", 1),
        attribute("ERX-Med-Dev-Handle", Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 2)),
        attribute("ERX-Med-Ip-Address", "127.0.0.1"),
        attribute("ERX-Med-Port-Number", 30030),
        ...extra,
      ],
    },
    secret,
    { messageAuthenticator },
  );
}
