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
//! resident memory during such streams peaked at 65–77 MiB where the live heap is about
//! 11 MiB. [`configure`] sets the delay to [`PURGE_DELAY_MS`], mimalloc 2's default: peaks
//! of 48–57 MiB for the same streams, within the 64 MiB a stream may use, for 1.06–1.2×
//! their time (NDJSON streams: 0.98–1.02×; docs/performance.md). A
//! `MIMALLOC_PURGE_DELAY` in the environment still wins.
//!
//! A crate of its own because setting the option is a C call, and the rest of the
//! workspace forbids unsafe code.

pub use mimalloc::MiMalloc;

/// Milliseconds freed memory stays committed before mimalloc returns it to the OS.
pub const PURGE_DELAY_MS: i64 = 10;

/// The name of mimalloc's environment variable for the same option.
const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (include/mimalloc.h); the Rust
/// bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Set Quarry's allocator options, unless the environment sets them. Call it first thing
/// in `main`.
pub fn configure() {
    if std::env::var_os(PURGE_DELAY_ENV).is_some() {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table (range-checked
    // there); it may be called from any thread at any time.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

/// The purge delay mimalloc uses now, in milliseconds.
pub fn purge_delay_ms() -> i64 {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_get` reads mimalloc's option table (initialising it from the
    // environment on first use); it may be called from any thread at any time.
    let ms = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configure_sets_the_purge_delay_unless_the_environment_does() {
        if std::env::var_os(PURGE_DELAY_ENV).is_some() {
            let before = purge_delay_ms();
            configure();
            assert_eq!(purge_delay_ms(), before);
        } else {
            // mimalloc 3's own default: the option number names the purge delay.
            assert_eq!(purge_delay_ms(), 1000);
            configure();
            assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
        }
    }
}
