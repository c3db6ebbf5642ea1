/** The egress a configuration names (docs/dataplane.md "Egress"). */
import type { EgressConfig } from "../config/dataplane.ts";
import { packetEgress } from "./packet.ts";
import { pcapEgress } from "./pcap.ts";
import { rawIpv4Egress } from "./raw-ipv4.ts";
import type { Egress } from "./types.ts";
import { udpEgress } from "./udp.ts";

/** `suffix` tells workers' pcap files apart: "out.pcap" becomes "out-eth1-0.pcap". */
export async function openEgress(config: EgressConfig, suffix = ""): Promise<Egress> {
  switch (config.mode) {
    case "raw":
      return rawIpv4Egress();
    case "packet":
      return packetEgress(config.interface, config.nextHop);
    case "udp":
      return udpEgress();
    case "pcap":
      return pcapEgress(suffix === "" ? config.path : config.path.replace(/(\.pcap)?$/, `${suffix}$1`));
  }
}
