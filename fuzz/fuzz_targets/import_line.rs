//! One NDJSON import line: `serde_json` then `NewEvent::from_json` with and without a
//! default project; never panics, and no accepted event holds a NUL
//! (`quarry_fuzz::check_import_line`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    quarry_fuzz::check_import_line(data);
});
