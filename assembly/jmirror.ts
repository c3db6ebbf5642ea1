// The built-in iapd filter: filter ABI version 1 (docs/filter-abi.md) with JMirror encapsulation;
// a copy's payload is the L3 packet. Everything but its name is assembly/filter.ts.
import { filterInfo } from "./filter";

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
  iapd_process_tpacket3,
} from "./filter";

const INFO = '{"name":"jmirror","version":"0.1.0"}';

export function iapd_filter_info(): usize {
  return filterInfo(INFO);
}
