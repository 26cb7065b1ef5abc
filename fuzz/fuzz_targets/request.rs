//! A selector byte (endpoint, timezone, first event, clock) and a query string: decode,
//! compile for every dialect, and parse every statement back with sqlparser
//! (`quarry_fuzz::check_request`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    quarry_fuzz::check_request(data);
});
