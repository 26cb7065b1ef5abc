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
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys kept before expired windows are swept.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    /// A limiter with this budget.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Count one request for `key` at `now`.
    pub fn check(&self, key: &str, now: Instant) -> Quota {
        let window = self.limit.window;
        let mut map = match self.windows.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        let allowed = entry.1 < self.limit.requests;
        if allowed {
            entry.1 += 1;
        }
        let left = window.saturating_sub(now.duration_since(entry.0));
        Quota {
            limit: self.limit.requests,
            remaining: self.limit.requests - entry.1,
            reset_secs: ceil_secs(left).max(1),
            allowed,
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
}
