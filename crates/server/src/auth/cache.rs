//! The bounded cache of verifications: keyed fingerprints, never secrets.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::secret::random_bytes;

/// A cache key: SHA-256 over the cache's random key, the client id, the stored hash and the
/// presented secret.
type Fingerprint = [u8; 32];

/// Bounded in-memory cache of successful verifications.
///
/// Entries are keyed by a fingerprint of (client id, stored hash, presented secret) under a
/// random key drawn when the cache is created, so the cache never holds a secret nor anything
/// an attacker could test guesses against offline. Including the stored hash means rotating a
/// client's secret invalidates its entries at once. Entries live for the TTL; when the cache
/// is full, expired entries are dropped and then the oldest one. Cloning shares the cache.
#[derive(Clone)]
pub struct VerifyCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    key: [u8; 32],
    max_entries: usize,
    ttl: Duration,
    /// Fingerprint → when it was verified.
    entries: Mutex<HashMap<Fingerprint, Instant>>,
}

impl fmt::Debug for VerifyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs; the size is what an operator wants to see.
        let len = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("VerifyCache")
            .field("entries", &len)
            .field("max_entries", &self.inner.max_entries)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl VerifyCache {
    /// A cache of at most `max_entries` verifications, each trusted for `ttl`.
    /// `max_entries == 0` or a zero `ttl` disables caching.
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        VerifyCache {
            inner: Arc::new(CacheInner {
                key: random_bytes(),
                max_entries,
                ttl,
                entries: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn fingerprint(&self, client_id: &str, secret: &str, stored: &str) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(self.inner.key);
        // Length prefixes keep the fields from running into each other.
        for field in [client_id, stored] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.update(secret.as_bytes());
        hasher.finalize().into()
    }

    /// Locking never fails for good: the map is valid after any panic, so poisoning is ignored.
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Fingerprint, Instant>> {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `secret` was verified against `stored` for this client within the TTL.
    pub fn contains(&self, client_id: &str, secret: &str, stored: &str) -> bool {
        let fingerprint = self.fingerprint(client_id, secret, stored);
        let now = Instant::now();
        let mut entries = self.entries();
        match entries.get(&fingerprint) {
            Some(at) if now.saturating_duration_since(*at) < self.inner.ttl => true,
            Some(_) => {
                entries.remove(&fingerprint);
                false
            }
            None => false,
        }
    }

    /// Remember that `secret` verified against `stored` for this client.
    pub fn insert(&self, client_id: &str, secret: &str, stored: &str) {
        if self.inner.max_entries == 0 || self.inner.ttl.is_zero() {
            return;
        }
        let fingerprint = self.fingerprint(client_id, secret, stored);
        let now = Instant::now();
        let ttl = self.inner.ttl;
        let mut entries = self.entries();
        if !entries.contains_key(&fingerprint) && entries.len() >= self.inner.max_entries {
            entries.retain(|_, at| now.saturating_duration_since(*at) < ttl);
            // Only successful verifications get here, a few per client per TTL, so a linear
            // scan for the oldest costs nothing next to the scrypt run that preceded it.
            while entries.len() >= self.inner.max_entries {
                let Some(oldest) = entries.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
                else {
                    break;
                };
                entries.remove(&oldest);
            }
        }
        entries.insert(fingerprint, now);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cache_hits_only_the_same_client_secret_and_hash() {
        let cache = VerifyCache::new(16, Duration::from_secs(60));
        assert!(!cache.contains("a", "s", "h"));
        cache.insert("a", "s", "h");
        assert!(cache.contains("a", "s", "h"));
        assert!(!cache.contains("b", "s", "h"));
        assert!(!cache.contains("a", "t", "h"));
        // Rotated secret: the stored hash changed.
        assert!(!cache.contains("a", "s", "h2"));
        // Field boundaries matter: ("ab","s","h") is not ("a","bs","h").
        cache.insert("ab", "c", "h");
        assert!(!cache.contains("a", "bc", "h"));
        // Shared through clones.
        let clone = cache.clone();
        assert!(clone.contains("a", "s", "h"));
    }

    #[test]
    fn cache_entries_expire() {
        let cache = VerifyCache::new(16, Duration::from_millis(20));
        cache.insert("a", "s", "h");
        assert!(cache.contains("a", "s", "h"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!cache.contains("a", "s", "h"));
        assert_eq!(
            cache.entries().len(),
            0,
            "an expired entry is dropped on lookup"
        );
    }

    #[test]
    fn cache_is_bounded_and_evicts_the_oldest() {
        let cache = VerifyCache::new(3, Duration::from_secs(60));
        for id in ["a", "b", "c"] {
            cache.insert(id, "s", "h");
            std::thread::sleep(Duration::from_millis(2));
        }
        cache.insert("d", "s", "h");
        assert_eq!(cache.entries().len(), 3);
        assert!(!cache.contains("a", "s", "h"));
        for id in ["b", "c", "d"] {
            assert!(cache.contains(id, "s", "h"), "{id} evicted");
        }
        // Re-inserting a present entry evicts nothing.
        cache.insert("d", "s", "h");
        assert!(cache.contains("b", "s", "h"));
        for i in 0..100 {
            cache.insert(&i.to_string(), "s", "h");
        }
        assert_eq!(cache.entries().len(), 3);
    }

    #[test]
    fn cache_prefers_dropping_expired_entries() {
        let cache = VerifyCache::new(2, Duration::from_millis(30));
        cache.insert("a", "s", "h");
        std::thread::sleep(Duration::from_millis(40));
        cache.insert("b", "s", "h");
        cache.insert("c", "s", "h");
        assert!(cache.contains("b", "s", "h"));
        assert!(cache.contains("c", "s", "h"));
    }

    #[test]
    fn disabled_cache_never_hits() {
        let none = VerifyCache::new(0, Duration::from_secs(60));
        none.insert("a", "s", "h");
        assert!(!none.contains("a", "s", "h"));
        let instant = VerifyCache::new(8, Duration::ZERO);
        instant.insert("a", "s", "h");
        assert!(!instant.contains("a", "s", "h"));
    }
}
