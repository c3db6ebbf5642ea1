// Error codes of iapd_init, iapd_configure and iapd_target_add (docs/filter-abi.md "Exports").
export const OK: u32 = 0;
export const BAD_ARGUMENT: u32 = 1;
export const SLOT_IN_USE: u32 = 2;
export const BAD_FAMILY: u32 = 3;
export const BAD_PREFIX_LENGTH: u32 = 4;
export const BAD_INTERCEPT_ID: u32 = 5;
export const BAD_PORT: u32 = 6;
export const BAD_DSCP: u32 = 7;
export const HOST_BITS_SET: u32 = 8;
export const UNSUPPORTED_LINK_TYPE: u32 = 9;
export const BAD_MTU: u32 = 10;
export const NOT_INITIALISED: u32 = 11;
