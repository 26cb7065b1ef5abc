//! quarry-demo: deterministic, realistic demo data for `quarry seed` and `quarry demo`
//! (contract §9). It generates rows and nothing else: no storage, no I/O, no clock (the
//! caller passes `now_ms`); the server writes what [`profiles`] and [`events`] return.
//!
//! [`events`] streams the traffic of a small SaaS web site (`https://demo.quarry.dev`):
//! visitor sessions made of a `session_start`, a few `screen_view` page views over about
//! thirty paths with a Zipf-like popularity (`/`, `/pricing`, `/docs/…`, `/blog/…`), and
//! usually a `session_end`; a `sign_up` when a new user registers; and `purchase` events
//! carrying a numeric `total` (`"49.99"`) and a `currency` (`USD`/`EUR`). Sessions have a
//! referrer (`Google`/`search`, `Twitter`/`social`, direct `""`, …) and, for about a fifth,
//! `__query.utm_source`/`utm_medium`/`utm_campaign` properties. Country, city, region and
//! coordinates belong together, and so do device (desktop/mobile/tablet), OS, browser, brand
//! and model. About 60% of sessions are anonymous (empty `profile_id`); the others belong to
//! identified users, returned by [`profiles`], who come back over several days on one or two
//! devices. Traffic follows a daily and weekly rhythm (UTC daytime, weekdays), grows mildly
//! and varies from day to day over the last `days` days before `now_ms`, never after it.
//! A few values carry quotes and non-ASCII text (`summer "sale" ✓`, `München`, `O'Brien`),
//! and some events share a timestamp, as real data does.
//!
//! Everything is drawn from [`rng::Rng`] (SplitMix64) seeded by the options, never from
//! the OS or the clock: the same project, count, window, seed and `now_ms` always give the
//! same events, ids included, so demos, documentation and benchmarks are reproducible and a
//! data set can be re-created anywhere instead of being shipped. Events are produced
//! session by session and merged through a small heap, so memory stays proportional to the
//! sessions in flight, not to the number of events.
//!
//! The pipeline: `plan` hands out session plans hour by hour; `sessions` turns
//! each into a visit, its steps and its events; `profiles` derives the identified users;
//! `tables` holds the site, the world and the devices they are drawn from. [`rng`] is
//! public: it is the workspace's one generator, and quarry-testkit re-exports it.

mod plan;
mod profiles;
pub mod rng;
mod sessions;
mod tables;

pub use profiles::profiles;
pub use sessions::{SeedEvents, events};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The widest window generated (about a century); a larger `days` is clamped to it.
pub const MAX_DAYS: u32 = 36_500;
/// The origin of every generated event.
pub const ORIGIN: &str = "https://demo.quarry.dev";

/// What to generate. `events` is exact; the window is `[now_ms − days, now_ms]`.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// The project of every event and profile.
    pub project_id: String,
    /// How many events to produce, exactly.
    pub events: usize,
    /// Window length in days before `now_ms` (0 reads as 1; at most [`MAX_DAYS`]).
    pub days: u32,
    /// Seed of the generator: another seed gives another (equally realistic) data set.
    pub seed: u64,
    /// The end of the window, ms since the epoch; no event is later.
    pub now_ms: i64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
