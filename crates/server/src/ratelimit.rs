//! Fixed-window rate limiting per client (§4.2): every response carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset`; a refused one also `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::settings::RateLimit;

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per window.
    pub limit: u32,
    /// Requests left in this window.
    pub remaining: u32,
    /// Whole seconds until the window resets (at least 1).
    pub reset_secs: u64,
    /// Whether this request is allowed.
    pub allowed: bool,
}

/// Counts requests per key in fixed windows.
///
/// The map is bounded whatever the traffic: keys are short (verified client ids, peer
/// addresses), expired windows are swept when it fills, and if every window is still live
/// the map starts over, which only ever gives quota back.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys kept at most.
pub const MAX_KEYS: usize = 100_000;

impl RateLimiter {
    /// A limiter with this budget.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        // The map is valid after any panic.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn quota(&self, start: Instant, used: u32, allowed: bool, now: Instant) -> Quota {
        let left = self.limit.window.saturating_sub(now.duration_since(start));
        Quota {
            limit: self.limit.requests,
            remaining: self.limit.requests.saturating_sub(used),
            reset_secs: ceil_secs(left).max(1),
            allowed,
        }
    }

    /// Count one request for `key` at `now`.
    pub fn check(&self, key: &str, now: Instant) -> Quota {
        let window = self.limit.window;
        let mut map = self.windows();
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        let allowed = entry.1 < self.limit.requests;
        if allowed {
            entry.1 += 1;
        }
        let (start, used) = *entry;
        drop(map);
        self.quota(start, used, allowed, now)
    }

    /// What [`RateLimiter::check`] would say, without counting: `allowed` is whether
    /// another request fits the window.
    pub fn peek(&self, key: &str, now: Instant) -> Quota {
        let map = self.windows();
        match map.get(key) {
            Some(&(start, used)) if now.duration_since(start) < self.limit.window => {
                drop(map);
                self.quota(start, used, used < self.limit.requests, now)
            }
            _ => {
                drop(map);
                self.quota(now, 0, true, now)
            }
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_then_refuses_then_resets() {
        let rl = RateLimiter::new(RateLimit {
            requests: 2,
            window: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        let a = rl.check("c", t0);
        assert_eq!((a.allowed, a.remaining, a.reset_secs), (true, 1, 10));
        let b = rl.check("c", t0 + Duration::from_millis(2500));
        assert_eq!((b.allowed, b.remaining, b.reset_secs), (true, 0, 8));
        let c = rl.check("c", t0 + Duration::from_secs(3));
        assert_eq!((c.allowed, c.remaining, c.reset_secs), (false, 0, 7));
        // Another client has its own budget.
        assert!(rl.check("d", t0 + Duration::from_secs(3)).allowed);
        let d = rl.check("c", t0 + Duration::from_secs(10));
        assert_eq!((d.allowed, d.remaining, d.reset_secs), (true, 1, 10));
    }

    #[test]
    fn peeking_counts_nothing() {
        let rl = RateLimiter::new(RateLimit {
            requests: 1,
            window: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        assert!(rl.peek("c", t0).allowed);
        assert!(rl.peek("c", t0).allowed);
        assert!(rl.check("c", t0).allowed);
        let p = rl.peek("c", t0 + Duration::from_secs(4));
        assert_eq!((p.allowed, p.remaining, p.reset_secs), (false, 0, 6));
        assert!(rl.peek("c", t0 + Duration::from_secs(10)).allowed);
    }

    #[test]
    fn the_map_is_bounded() {
        let rl = RateLimiter::new(RateLimit {
            requests: 1,
            window: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        for i in 0..MAX_KEYS + 10 {
            rl.check(&i.to_string(), t0);
        }
        assert!(rl.windows().len() <= MAX_KEYS);
    }
}
