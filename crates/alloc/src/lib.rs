//! quarry-alloc: the `quarry` binary's allocator, and how soon it hands freed memory back.
//!
//! The binary allocates with mimalloc ([`MiMalloc`]): a streamed export decodes rows on
//! one thread and frees them on another, which glibc's allocator serialises on its arena
//! locks (docs/performance.md).
//!
//! mimalloc 3 keeps freed memory committed for a second before it returns it to the OS
//! (its `purge_delay`), so that a thread that frees and allocates again finds it. A
//! Parquet stream frees its open row group's column buffers at every group (tens of times
//! a second) and allocates the next group's elsewhere in the meantime, and a server's
//! resident memory during such streams peaked at 70–74 MiB, where the command line's
//! export of the same kind has a live heap of at most 11 MiB. [`configure`] sets the delay to [`PURGE_DELAY_MS`], mimalloc 2's default: peaks
//! of 48–57 MiB for the same streams, within the 64 MiB a stream may use, for 1.06–1.2×
//! their time (NDJSON streams: 0.98–1.02×; docs/performance.md). A
//! `MIMALLOC_PURGE_DELAY` in the environment still wins.
//!
//! A crate of its own because setting the option is a C call, and the rest of the
//! workspace forbids unsafe code.

use std::ffi::c_long;

pub use mimalloc::MiMalloc;

/// Milliseconds freed memory stays committed before mimalloc returns it to the OS.
pub const PURGE_DELAY_MS: c_long = 10;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (include/mimalloc.h); the Rust
/// bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Set Quarry's allocator options where the environment does not (mimalloc's
/// `MIMALLOC_PURGE_DELAY`, read as mimalloc reads it). Call it first thing in `main`,
/// before any other thread exists.
pub fn configure() {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set_default` writes mimalloc's option table (the index is
    // range-checked there) unless the environment set the option. The table is not
    // synchronised, so no other thread may be reading it: the caller runs this before
    // starting any thread.
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge delay mimalloc uses now, in milliseconds.
    fn purge_delay_ms() -> c_long {
        #[allow(unsafe_code)]
        // SAFETY: reads mimalloc's option table; this test is the only one of its binary.
        let ms = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        ms
    }

    #[test]
    fn configure_sets_the_purge_delay_unless_the_environment_does() {
        let set_outside =
            std::env::vars().any(|(k, _)| k.eq_ignore_ascii_case("MIMALLOC_PURGE_DELAY"));
        let before = purge_delay_ms();
        configure();
        if set_outside {
            assert_eq!(purge_delay_ms(), before);
        } else {
            // mimalloc 3's own default first: the option number names the purge delay.
            assert_eq!(before, 1000);
            assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
        }
    }
}
