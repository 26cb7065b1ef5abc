//! quarry-sqlite-regexp: the `regexp(pattern, text)` SQL function behind SQLite's
//! `text REGEXP pattern`, for Quarry's SQLite storage.
//!
//! Why a crate of its own: registering an SQL function takes FFI
//! (`sqlite3_create_function_v2` on the raw connection handle), and the rest of the
//! workspace forbids unsafe code. That code lives here, in one module (`ffi`), behind a
//! safe [`register`] that takes sqlx's locked connection handle (and
//! [`register_rusqlite`], for the storage's stream connections). It is not a general SQLite
//! extension crate and holds nothing but this function and its cache.
//!
//! Why not sqlx's `with_regexp()`: it compiles `Regex::new(pattern)` once per call site,
//! per statement execution, per connection, under the `regex` crate's default 10 MiB size
//! limit. A request with 400 filters of `(a{1,255}){1,255}` compiled 400 programs of about
//! 16 MB each and the process ran out of memory. Here each distinct pattern is compiled once
//! per process, with 1 MiB limits on the compiled program and on the lazy DFA
//! ([`SIZE_LIMIT`]), into one cache of at most [`CAPACITY`] patterns (the least recently
//! used is evicted) that every connection and thread shares.
//!
//! Semantics: `regexp(pattern, text)` is 1 when the pattern matches anywhere in the text
//! (the `regex` crate's `is_match`), else 0. A NULL pattern or a NULL text is 0; numbers are
//! matched as their text. A pattern that does not compile (bad syntax, or larger than the
//! limits) fails the statement with a message starting with [`REJECTED`], so the storage can
//! tell the user's pattern from a fault.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use regex::{Regex, RegexBuilder};
use sqlx::sqlite::LockedSqliteHandle;

mod ffi;

/// The most compiled patterns the process keeps.
pub const CAPACITY: usize = 64;

/// The limit, in bytes, on a pattern's compiled program and on its lazy DFA's cache.
pub const SIZE_LIMIT: usize = 1 << 20;

/// How the error message of a statement starts when its pattern does not compile.
pub const REJECTED: &str = "regexp: the pattern does not compile: ";

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::new(CAPACITY));

/// Register `regexp(pattern, text)` on one connection (sqlx's `after_connect` is the place).
pub fn register(handle: &mut LockedSqliteHandle<'_>) -> Result<(), RegisterError> {
    ffi::register(handle)
}

/// Register `regexp(pattern, text)` on a connection opened with rusqlite (the storage's
/// stream readers), the same function as [`register`]'s.
pub fn register_rusqlite(conn: &rusqlite::Connection) -> Result<(), RegisterError> {
    ffi::register_rusqlite(conn)
}

/// SQLite refused to register the function (its result code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterError(pub i32);

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot register the regexp function (SQLite result code {})",
            self.0
        )
    }
}

impl std::error::Error for RegisterError {}

/// Whether `pattern` matches `text`, through the process-wide cache: exactly what the SQL
/// function computes for non-NULL arguments. The error is the message the statement fails
/// with.
pub fn is_match(pattern: &str, text: &str) -> Result<bool, String> {
    CACHE
        .get(pattern)
        .map(|re| re.is_match(text))
        .map_err(|e| format!("{REJECTED}{e}"))
}

/// How many patterns the process-wide cache has compiled so far, and how many it holds.
pub fn stats() -> Stats {
    Stats {
        compiled: CACHE.compiled(),
        cached: CACHE.len(),
    }
}

/// A snapshot of the process-wide cache (see [`stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Compilations since the process started (failed ones are not counted).
    pub compiled: u64,
    /// Patterns held now (at most [`CAPACITY`]).
    pub cached: usize,
}

/// Compiled patterns by their text, at most `capacity` of them, least recently used evicted.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    entries: Mutex<Entries>,
    compiled: AtomicU64,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Box<str>, Entry>,
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    regex: Arc<Regex>,
    used: u64,
}

impl Cache {
    /// An empty cache that keeps at most `capacity` patterns.
    pub fn new(capacity: usize) -> Cache {
        Cache {
            capacity,
            entries: Mutex::new(Entries::default()),
            compiled: AtomicU64::new(0),
        }
    }

    /// The compiled pattern, compiling it (within [`SIZE_LIMIT`]) if it is not cached.
    pub fn get(&self, pattern: &str) -> Result<Arc<Regex>, regex::Error> {
        if let Some(regex) = self.lock().touch(pattern) {
            return Ok(regex);
        }
        // Compiled outside the lock, so that a slow compile never stalls the matching of
        // every other connection. Two threads may then compile the same new pattern once
        // each; the first to finish is kept.
        let regex = Arc::new(
            RegexBuilder::new(pattern)
                .size_limit(SIZE_LIMIT)
                .dfa_size_limit(SIZE_LIMIT)
                .build()?,
        );
        self.compiled.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.lock();
        if let Some(existing) = entries.touch(pattern) {
            return Ok(existing);
        }
        if self.capacity == 0 {
            return Ok(regex);
        }
        while entries.map.len() >= self.capacity {
            let Some(oldest) = entries
                .map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            entries.map.remove(&oldest);
        }
        entries.clock += 1;
        let used = entries.clock;
        entries.map.insert(
            pattern.into(),
            Entry {
                regex: Arc::clone(&regex),
                used,
            },
        );
        Ok(regex)
    }

    /// How many patterns are cached.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many compilations succeeded.
    pub fn compiled(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }

    // A panic while the lock was held cannot leave the map inconsistent (every update is
    // one insert or remove), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Entries {
    /// The cached pattern, marked as just used.
    fn touch(&mut self, pattern: &str) -> Option<Arc<Regex>> {
        self.clock += 1;
        let now = self.clock;
        let entry = self.map.get_mut(pattern)?;
        entry.used = now;
        Some(Arc::clone(&entry.regex))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn compiles_each_pattern_once_and_evicts_the_least_recently_used() {
        let cache = Cache::new(2);
        let a = cache.get("a+").unwrap();
        assert!(Arc::ptr_eq(&a, &cache.get("a+").unwrap()));
        assert_eq!(cache.compiled(), 1);
        cache.get("b+").unwrap();
        // "a+" is used again, so "b+" is the one evicted for "c+".
        cache.get("a+").unwrap();
        cache.get("c+").unwrap();
        assert_eq!((cache.len(), cache.compiled()), (2, 3));
        assert!(Arc::ptr_eq(&a, &cache.get("a+").unwrap()));
        assert_eq!(cache.compiled(), 3);
        cache.get("b+").unwrap();
        assert_eq!((cache.len(), cache.compiled()), (2, 4));
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let cache = Cache::new(CAPACITY);
        for i in 0..(3 * CAPACITY) {
            cache.get(&format!("x{i}")).unwrap();
            assert!(cache.len() <= CAPACITY);
        }
        assert_eq!(cache.len(), CAPACITY);
        let none = Cache::new(0);
        assert!(none.get("a").unwrap().is_match("a"));
        assert!(none.is_empty());
    }

    #[test]
    fn patterns_past_the_size_limit_do_not_compile() {
        let cache = Cache::new(4);
        let err = cache.get("(a{1,255}){1,255}").unwrap_err();
        assert!(matches!(err, regex::Error::CompiledTooBig(_)), "{err}");
        assert!(cache.get("(a").is_err());
        assert_eq!((cache.len(), cache.compiled()), (0, 0));
        assert!(is_match("(a", "a").unwrap_err().starts_with(REJECTED));
    }

    #[test]
    fn matches_like_the_regex_crate() {
        for (pattern, text) in [
            ("^[0-9]+$", "123"),
            ("^[0-9]+$", "12a"),
            ("b.d", "abcde"),
            ("(?i)ABC", "xabcx"),
            ("^$", ""),
            ("é+", "café"),
        ] {
            assert_eq!(
                is_match(pattern, text).unwrap(),
                Regex::new(pattern).unwrap().is_match(text),
                "{pattern} on {text}"
            );
        }
    }
}
