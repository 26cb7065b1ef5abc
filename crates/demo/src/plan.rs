//! The session plan: when sessions start, who they belong to, how many events they have;
//! and how busy each hour of the window is.

use crate::rng::{GOLDEN, Rng, fnv1a, mix, unit_of};
use crate::{DAY_MS, HOUR_MS, MAX_DAYS, MINUTE_MS, SeedOptions};

/// Share of sessions that belong to an identified user.
const IDENTIFIED_SHARE: f64 = 0.4;
/// Share of identified sessions that are a new user's first (with a `sign_up`).
const NEW_USER_SHARE: f64 = 0.22;
/// Roughly the mean number of events per session, to size the pre-existing user base.
const MEAN_SESSION_EVENTS: f64 = 5.0;
/// Seeds each day's traffic noise.
const DAY_TAG: u64 = 0x4441_5953_0000_0004;

/// Relative traffic per UTC hour: quiet nights, a plateau while Europe and the Americas
/// overlap.
const HOURLY: [f64; 24] = [
    0.35, 0.28, 0.24, 0.22, 0.24, 0.30, 0.42, 0.58, 0.75, 0.88, 0.95, 1.0, 1.0, 1.02, 1.05, 1.08,
    1.05, 0.98, 0.90, 0.82, 0.74, 0.64, 0.54, 0.44,
];
/// Relative traffic per weekday, Monday first.
const WEEKLY: [f64; 7] = [1.0, 1.05, 1.04, 1.0, 0.92, 0.62, 0.58];

/// The relative traffic of hour `b` of `n` in a window starting at `from`.
fn hour_weight(base: u64, from: i64, b: u64, n: u64) -> f64 {
    let mid = from + b as i64 * HOUR_MS + HOUR_MS / 2;
    let day = mid.div_euclid(DAY_MS);
    let hour = (mid.rem_euclid(DAY_MS) / HOUR_MS) as usize;
    let weekday = (day + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let h = mix(base ^ mix(day as u64 ^ DAY_TAG));
    let mut noise = 0.85 + 0.3 * unit_of(h);
    if h % 29 == 0 {
        noise *= 2.2; // a launch, a newsletter, a post that did well
    }
    let growth = 1.0 + 0.35 * (b as f64 + 0.5) / n as f64;
    HOURLY[hour % 24] * WEEKLY[weekday % 7] * noise * growth
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionPlan {
    pub(crate) start: i64,
    /// Events to emit (the planned ones, cut short only for the very last session).
    pub(crate) events: u32,
    pub(crate) profile: Option<u32>,
    pub(crate) new_user: bool,
    pub(crate) views: u32,
    pub(crate) purchase: bool,
    pub(crate) end: bool,
    pub(crate) detail_seed: u64,
}

/// Hands out session plans in start order. Each hour of the window gets a share of the
/// events proportional to its weight (cumulative targets, so rounding never drifts), and
/// sessions are spread over the hour by the events already placed in it.
#[derive(Debug, Clone)]
pub(crate) struct Planner {
    rng: Rng,
    pub(crate) base: u64,
    pub(crate) now_ms: i64,
    pub(crate) from_ms: i64,
    buckets: u64,
    total_weight: f64,
    total: u64,
    generated: u64,
    bucket: u64,
    cum_weight: f64,
    target: u64,
    bucket_first: u64,
    last_start: i64,
    users: u32,
    pub(crate) pre_users: u32,
}

impl Planner {
    pub(crate) fn new(opts: &SeedOptions) -> Planner {
        let base = mix(opts.seed ^ mix(fnv1a(&opts.project_id)));
        let days = opts.days.clamp(1, MAX_DAYS);
        let now_ms = opts.now_ms;
        let from_ms = now_ms.saturating_sub(i64::from(days) * DAY_MS);
        let buckets = u64::from(days) * 24;
        let total_weight: f64 = (0..buckets)
            .map(|b| hour_weight(base, from_ms, b, buckets))
            .sum();
        let total = opts.events as u64;
        let identified = total as f64 / MEAN_SESSION_EVENTS * IDENTIFIED_SHARE;
        let pre_users = ((identified * 0.06) as u32).max(1);
        let mut planner = Planner {
            rng: Rng::new(mix(base ^ GOLDEN)),
            base,
            now_ms,
            from_ms,
            buckets,
            total_weight,
            total,
            generated: 0,
            bucket: 0,
            cum_weight: 0.0,
            target: 0,
            bucket_first: 0,
            last_start: from_ms,
            users: pre_users,
            pre_users,
        };
        planner.enter_bucket(0);
        planner
    }

    fn enter_bucket(&mut self, b: u64) {
        self.bucket = b;
        self.cum_weight += hour_weight(self.base, self.from_ms, b, self.buckets);
        self.target = if b + 1 >= self.buckets || self.total_weight <= 0.0 {
            self.total
        } else {
            let share = self.total as f64 * self.cum_weight / self.total_weight;
            (share.round() as u64).min(self.total)
        };
        self.bucket_first = self.generated;
    }

    /// A user for an identified session: a new one (who signs up) or a returning one,
    /// either a loyal early user or someone seen recently.
    fn pick_user(&mut self) -> (u32, bool) {
        if self.users == 0 || self.rng.chance(NEW_USER_SHARE) {
            let id = self.users;
            self.users = self.users.saturating_add(1);
            return (id, true);
        }
        let users = self.users;
        if self.rng.chance(0.5) {
            let u = self.rng.unit();
            (((f64::from(users) * u * u) as u32).min(users - 1), false)
        } else {
            let recent = u64::from(users.min(60));
            (users - 1 - self.rng.below(recent) as u32, false)
        }
    }

    pub(crate) fn next_plan(&mut self) -> Option<SessionPlan> {
        if self.generated >= self.total {
            return None;
        }
        while self.generated >= self.target && self.bucket + 1 < self.buckets {
            self.enter_bucket(self.bucket + 1);
        }
        let rng = &mut self.rng;
        let identified = rng.chance(IDENTIFIED_SHARE);
        let (profile, new_user) = if identified {
            let (p, new) = self.pick_user();
            (Some(p), new)
        } else {
            (None, false)
        };
        let rng = &mut self.rng;
        let purchase = identified && rng.chance(if new_user { 0.06 } else { 0.1 });
        let bounce = !new_user && !purchase && rng.chance(0.32);
        let mut views = 1;
        if !bounce {
            views = 2;
            while views < 16 && !rng.chance(0.33) {
                views += 1;
            }
        }
        if new_user && purchase {
            views = views.max(3);
        }
        let mut end = rng.chance(0.78);
        let detail_seed = rng.next_u64();
        let u = rng.unit();

        let planned =
            |end: bool| 1 + views + u32::from(new_user) + u32::from(purchase) + u32::from(end);
        let in_bucket = (self.target.saturating_sub(self.bucket_first)).max(1) as f64;
        let placed = (self.generated - self.bucket_first) as f64;
        let frac = ((placed + u * f64::from(planned(end))) / in_bucket).min(1.0);
        let bucket_start = self.from_ms + self.bucket as i64 * HOUR_MS;
        let offset = ((HOUR_MS - 1) as f64 * frac) as i64;
        let start = (bucket_start + offset)
            .max(self.last_start)
            .min(self.now_ms);
        self.last_start = start;
        if start > self.now_ms - 30 * MINUTE_MS {
            end = false; // still browsing
        }
        let events = u64::from(planned(end)).min(self.total - self.generated);
        self.generated += events;
        Some(SessionPlan {
            start,
            events: events as u32,
            profile,
            new_user,
            views,
            purchase,
            end,
            detail_seed,
        })
    }
}
