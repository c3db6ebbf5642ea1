// The second iapd filter: filter ABI version 1 (docs/filter-abi.md) with JMirror encapsulation
// whose payload is the whole captured frame up to the end of the IP packet: the Ethernet header,
// its VLAN tags and PPPoE header, then the L3 packet. Juniper calls this mirroring "Layer 2 and
// Layer 3 datagrams"; docs/filters.md "jmirror-l2" gives the payload format.
//
// Everything but its name and where a copy starts is the built-in filter's (assembly/filter.ts).
// Only Ethernet captures have an Ethernet header to keep, so iapd_configure refuses every other
// link type (code 9).
import { COPY_FRAME, copyFrom, filterInfo } from "./filter";

export {
  iapd_abi_version,
  iapd_init,
  iapd_configure,
  iapd_in_ptr,
  iapd_out_ptr,
  iapd_desc_ptr,
  iapd_scratch_ptr,
  iapd_counters_ptr,
  iapd_target_counters_ptr,
  iapd_result_ptr,
  iapd_target_add,
  iapd_target_remove,
  iapd_target_clear,
  iapd_process,
} from "./filter";

const INFO = '{"name":"jmirror-l2","version":"0.1.0"}';

copyFrom(COPY_FRAME);

export function iapd_filter_info(): usize {
  return filterInfo(INFO);
}
