//! `quarry_core::qs::parse_lenient` on arbitrary bytes (lossy UTF-8): never panics, invents
//! no parameters, nests boundedly, agrees with `qs::parse` (`quarry_fuzz::check_qs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    quarry_fuzz::check_qs(data);
});
