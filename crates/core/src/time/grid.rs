//! The bucket grid of a chart (§6.3) and the plan the SQL evaluates to place rows in it.

use chrono_tz::Tz;

use super::calendar::month_number;
use super::zones::{day_of, hmod, local, off, start_of_day, start_of_month_number, transitions};
use super::{DAY_MS, HOUR_MS, Interval, MINUTE_MS, Ms};

/// Most buckets one series may have (§4.2).
pub const MAX_BUCKETS: usize = 10_000;

/// Buckets of an interval covering a window, in a timezone (§6.3). Bucket 0 is the bucket
/// containing `start`; the last contains `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketGrid {
    pub interval: Interval,
    pub tz: Tz,
    start: Ms,
    end: Ms,
    /// See [`BucketPlan::origin`].
    origin: i64,
    len: usize,
}

/// The SQL-side description of a [`BucketGrid`]: the constants its integer bucket
/// arithmetic needs.
///
/// - Minute: `index = (t − origin) div 60_000`.
/// - Hour: `index = (t + offset(t) − origin) div 3_600_000`, where `offset` is the hour
///   remainder of the UTC offset (`offsets` holds those remainders).
/// - Day: `index = (t + offset(t) − origin) div 86_400_000`.
/// - Week: `index = ((t + offset(t) − origin) div 86_400_000) div 7`.
/// - Month: `index = month_number(t + offset(t)) − origin`, where
///   `month_number(local) = year * 12 + (month − 1)` of the naive UTC date of `local`.
///
/// Divisions are on values ≥ 0 for rows inside the window (truncation = floor there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPlan {
    pub interval: Interval,
    /// Offsets in effect over the window: `(from_instant, offset_ms)` sorted by
    /// `from_instant`; the first entry's `from_instant` is the window start, so
    /// `offset(t)` = offset of the last entry with `from_instant <= t`. For Hour these are
    /// the hour remainders (`offset rem_euclid 3_600_000`), for Minute a single
    /// `(start, 0)` entry. Consecutive equal values are collapsed.
    pub offsets: Vec<(Ms, Ms)>,
    /// Local ms of the first bucket's midnight for Day/Week, instant + hour remainder for
    /// Hour, instant for Minute, month number for Month.
    pub origin: i64,
}

impl BucketGrid {
    /// The grid covering `[start, end]`; `Err(count)` when more than [`MAX_BUCKETS`]
    /// buckets would be needed. An inverted window (`end < start`) has no buckets.
    pub fn new(interval: Interval, tz: Tz, start: Ms, end: Ms) -> Result<BucketGrid, usize> {
        let origin = match interval {
            Interval::Minute => start.div_euclid(MINUTE_MS).saturating_mul(MINUTE_MS),
            Interval::Hour => start
                .saturating_add(hmod(tz, start))
                .div_euclid(HOUR_MS)
                .saturating_mul(HOUR_MS),
            Interval::Day => day_of(start, tz).saturating_mul(DAY_MS),
            Interval::Week => {
                let day = day_of(start, tz);
                // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
                let monday = day - (day + 3).rem_euclid(7);
                monday.saturating_mul(DAY_MS)
            }
            Interval::Month => month_number(local(tz, start)),
        };
        let mut grid = BucketGrid {
            interval,
            tz,
            start,
            end,
            origin,
            len: 0,
        };
        if end < start {
            return Ok(grid);
        }
        let count = grid.index_of(end).saturating_add(1).max(1);
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count > MAX_BUCKETS {
            return Err(count);
        }
        grid.len = count;
        Ok(grid)
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the grid has no buckets (only for an inverted window).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Window start the grid was built for.
    pub fn window_start(&self) -> Ms {
        self.start
    }

    /// Window end the grid was built for.
    pub fn window_end(&self) -> Ms {
        self.end
    }

    /// Instant at which bucket `i` starts (for `i` in `0..len`): the real first instant of
    /// the local bucket (the first instant after a DST gap when local midnight does not
    /// exist).
    pub fn start_of(&self, i: usize) -> Ms {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        let tz = self.tz;
        match self.interval {
            Interval::Minute => self.origin.saturating_add(i.saturating_mul(MINUTE_MS)),
            Interval::Hour => {
                // The instant t with t + hmod(t) == mark.
                let mark = self.origin.saturating_add(i.saturating_mul(HOUR_MS));
                let guess = mark.saturating_sub(hmod(tz, self.start));
                let h = hmod(tz, guess);
                let other = mark.saturating_sub(h);
                if other != guess && hmod(tz, other) == h {
                    other
                } else {
                    guess
                }
            }
            Interval::Day => start_of_day((self.origin / DAY_MS).saturating_add(i), tz),
            Interval::Week => start_of_day(
                (self.origin / DAY_MS).saturating_add(i.saturating_mul(7)),
                tz,
            ),
            Interval::Month => start_of_month_number(self.origin.saturating_add(i), tz),
        }
    }

    /// Bucket index of an instant (may be outside `0..len`), with the same integer
    /// arithmetic as the SQL (see [`BucketPlan`]). Inside the window the offset used is the
    /// plan's; outside it is the timezone's real offset at `t`, and divisions floor.
    pub fn index_of(&self, t: Ms) -> i64 {
        let tz = self.tz;
        match self.interval {
            Interval::Minute => t.saturating_sub(self.origin).div_euclid(MINUTE_MS),
            Interval::Hour => t
                .saturating_add(hmod(tz, t))
                .saturating_sub(self.origin)
                .div_euclid(HOUR_MS),
            Interval::Day => local(tz, t).saturating_sub(self.origin).div_euclid(DAY_MS),
            Interval::Week => local(tz, t)
                .saturating_sub(self.origin)
                .div_euclid(DAY_MS)
                .div_euclid(7),
            Interval::Month => month_number(local(tz, t)).saturating_sub(self.origin),
        }
    }

    /// The SQL-side description: offsets over `[start, end]` and the origin.
    pub fn plan(&self) -> BucketPlan {
        let tz = self.tz;
        let offsets = match self.interval {
            Interval::Minute => vec![(self.start, 0)],
            Interval::Hour | Interval::Day | Interval::Week | Interval::Month => {
                let value = |o: i64| {
                    if self.interval == Interval::Hour {
                        o.rem_euclid(HOUR_MS)
                    } else {
                        o
                    }
                };
                let mut offsets = vec![(self.start, value(off(tz, self.start)))];
                for (at, o) in transitions(tz, self.start, self.end) {
                    let v = value(o);
                    if offsets.last().map(|&(_, last)| last) != Some(v) {
                        offsets.push((at, v));
                    }
                }
                offsets
            }
        };
        BucketPlan {
            interval: self.interval,
            offsets,
            origin: self.origin,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::time::test_support::{STO, utc};
    use crate::time::{format_seconds, parse_instant};
    use chrono::DateTime;
    use chrono_tz::{America, Asia, UTC};

    fn labels(g: &BucketGrid) -> Vec<String> {
        (0..g.len())
            .map(|i| format_seconds(g.start_of(i), g.tz))
            .collect()
    }

    /// Evaluates the plan the way the SQL does: a CASE over the offset segments and
    /// truncating integer division.
    fn sql_index(p: &BucketPlan, t: Ms) -> i64 {
        let o = p
            .offsets
            .iter()
            .rev()
            .find(|(from, _)| *from <= t)
            .map(|&(_, o)| o)
            .unwrap();
        match p.interval {
            Interval::Minute => (t - p.origin) / 60_000,
            Interval::Hour => (t + o - p.origin) / 3_600_000,
            Interval::Day => (t + o - p.origin) / 86_400_000,
            Interval::Week => (t + o - p.origin) / 86_400_000 / 7,
            Interval::Month => {
                let dt = DateTime::from_timestamp_millis(t + o).unwrap();
                use chrono::Datelike;
                i64::from(dt.year()) * 12 + i64::from(dt.month0()) - p.origin
            }
        }
    }

    /// Every bucket start maps to its own index, the ms before it to the previous one, and
    /// the SQL evaluation of the plan agrees with `index_of` on a sweep of the window.
    fn check_consistent(g: &BucketGrid, start: Ms, end: Ms) {
        let p = g.plan();
        assert!(p.offsets[0].0 <= start);
        for i in 0..g.len() {
            let s = g.start_of(i);
            if i > 0 {
                assert_eq!(g.index_of(s), i as i64, "start_of({i})");
                assert_eq!(g.index_of(s - 1), i as i64 - 1, "start_of({i}) - 1");
                assert_eq!(sql_index(&p, s), i as i64);
                assert_eq!(sql_index(&p, s - 1), i as i64 - 1);
            }
        }
        let step = ((end - start) / 5000).max(1);
        let mut t = start;
        while t <= end {
            assert_eq!(sql_index(&p, t), g.index_of(t), "t = {t}");
            t += step;
        }
        assert_eq!(sql_index(&p, end), g.index_of(end));
        assert_eq!(g.index_of(start), 0);
        assert_eq!(g.index_of(end), g.len() as i64 - 1);
    }

    // ---- day buckets -------------------------------------------------------------------

    #[test]
    fn stockholm_daily_buckets_over_spring_forward() {
        // 2024-03-30 00:00+01 .. 2024-04-01 23:59:59.999+02; 2024-03-31 has 23 hours.
        let start = utc(2024, 3, 29, 23, 0, 0);
        let end = utc(2024, 4, 1, 22, 0, 0) - 1;
        let g = BucketGrid::new(Interval::Day, STO, start, end).unwrap();
        assert_eq!(g.len(), 3);
        assert!(!g.is_empty());
        assert_eq!(g.start_of(0), utc(2024, 3, 29, 23, 0, 0));
        assert_eq!(g.start_of(1), utc(2024, 3, 30, 23, 0, 0));
        assert_eq!(g.start_of(2), utc(2024, 3, 31, 22, 0, 0));
        assert_eq!(
            labels(&g),
            [
                "2024-03-30T00:00:00+01:00",
                "2024-03-31T00:00:00+01:00",
                "2024-04-01T00:00:00+02:00"
            ]
        );
        // Edges of the 23-hour day.
        assert_eq!(g.index_of(utc(2024, 3, 30, 23, 0, 0) - 1), 0);
        assert_eq!(g.index_of(utc(2024, 3, 30, 23, 0, 0)), 1);
        assert_eq!(g.index_of(utc(2024, 3, 31, 1, 0, 0) - 1), 1); // 01:59:59.999+01
        assert_eq!(g.index_of(utc(2024, 3, 31, 1, 0, 0)), 1); // 03:00+02
        assert_eq!(g.index_of(utc(2024, 3, 31, 22, 0, 0) - 1), 1); // 23:59:59.999+02
        assert_eq!(g.index_of(utc(2024, 3, 31, 22, 0, 0)), 2);
        assert_eq!(g.index_of(end), 2);
        assert_eq!(g.index_of(end + 1), 3);
        assert_eq!(g.index_of(start - 1), -1);

        let p = g.plan();
        assert_eq!(p.interval, Interval::Day);
        assert_eq!(p.origin, utc(2024, 3, 30, 0, 0, 0));
        assert_eq!(
            p.offsets,
            vec![(start, 3_600_000), (utc(2024, 3, 31, 1, 0, 0), 7_200_000)]
        );
        check_consistent(&g, start, end);
    }

    #[test]
    fn stockholm_daily_buckets_over_fall_back() {
        // 2024-10-26 00:00+02 .. 2024-10-28 23:59:59.999+01; 2024-10-27 has 25 hours.
        let start = utc(2024, 10, 25, 22, 0, 0);
        let end = utc(2024, 10, 28, 23, 0, 0) - 1;
        let g = BucketGrid::new(Interval::Day, STO, start, end).unwrap();
        assert_eq!(
            labels(&g),
            [
                "2024-10-26T00:00:00+02:00",
                "2024-10-27T00:00:00+02:00",
                "2024-10-28T00:00:00+01:00"
            ]
        );
        assert_eq!(g.start_of(2), utc(2024, 10, 27, 23, 0, 0));
        assert_eq!(g.index_of(utc(2024, 10, 27, 23, 0, 0) - 1), 1);
        assert_eq!(g.index_of(utc(2024, 10, 27, 23, 0, 0)), 2);
        assert_eq!(
            g.plan().offsets,
            vec![(start, 7_200_000), (utc(2024, 10, 27, 1, 0, 0), 3_600_000)]
        );
        check_consistent(&g, start, end);
    }

    #[test]
    fn start_inside_a_day_still_starts_the_bucket_at_midnight() {
        let start = utc(2024, 4, 15, 10, 20, 30); // 12:20:30+02
        let end = utc(2024, 4, 16, 1, 0, 0); // 03:00+02 next day
        let g = BucketGrid::new(Interval::Day, STO, start, end).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g.start_of(0), utc(2024, 4, 14, 22, 0, 0));
        assert_eq!(g.plan().origin, utc(2024, 4, 15, 0, 0, 0));
        assert_eq!(g.plan().offsets, vec![(start, 7_200_000)]);
    }

    #[test]
    fn utc_days_and_single_instant_window() {
        let t = utc(2024, 4, 15, 12, 0, 0);
        let g = BucketGrid::new(Interval::Day, UTC, t, t).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(labels(&g), ["2024-04-15T00:00:00Z"]);
        let g = BucketGrid::new(Interval::Day, UTC, t, t - 1).unwrap();
        assert!(g.is_empty());
        assert_eq!(g.len(), 0);
    }

    // ---- hour buckets ------------------------------------------------------------------

    #[test]
    fn stockholm_25_hourly_buckets_on_fall_back_day() {
        let start = utc(2024, 10, 26, 22, 0, 0); // 2024-10-27 00:00+02
        let end = utc(2024, 10, 27, 23, 0, 0) - 1; // 23:59:59.999+01
        let g = BucketGrid::new(Interval::Hour, STO, start, end).unwrap();
        assert_eq!(g.len(), 25);
        let l = labels(&g);
        assert_eq!(l[0], "2024-10-27T00:00:00+02:00");
        assert_eq!(l[1], "2024-10-27T01:00:00+02:00");
        assert_eq!(l[2], "2024-10-27T02:00:00+02:00");
        assert_eq!(l[3], "2024-10-27T02:00:00+01:00");
        assert_eq!(l[4], "2024-10-27T03:00:00+01:00");
        assert_eq!(l[24], "2024-10-27T23:00:00+01:00");
        assert_eq!(l.iter().filter(|s| s.contains("T02:00:00")).count(), 2);
        assert_eq!(g.start_of(2), utc(2024, 10, 27, 0, 0, 0));
        assert_eq!(g.start_of(3), utc(2024, 10, 27, 1, 0, 0));
        assert_eq!(g.index_of(utc(2024, 10, 27, 1, 0, 0) - 1), 2);
        assert_eq!(g.index_of(utc(2024, 10, 27, 1, 0, 0)), 3);
        let p = g.plan();
        assert_eq!(p.origin, start);
        assert_eq!(p.offsets, vec![(start, 0)]);
        check_consistent(&g, start, end);
    }

    #[test]
    fn stockholm_23_hourly_buckets_on_spring_forward_day() {
        let start = utc(2024, 3, 30, 23, 0, 0); // 2024-03-31 00:00+01
        let end = utc(2024, 3, 31, 22, 0, 0) - 1; // 23:59:59.999+02
        let g = BucketGrid::new(Interval::Hour, STO, start, end).unwrap();
        assert_eq!(g.len(), 23);
        let l = labels(&g);
        assert_eq!(l[0], "2024-03-31T00:00:00+01:00");
        assert_eq!(l[1], "2024-03-31T01:00:00+01:00");
        assert_eq!(l[2], "2024-03-31T03:00:00+02:00");
        assert_eq!(l[22], "2024-03-31T23:00:00+02:00");
        check_consistent(&g, start, end);
    }

    #[test]
    fn kolkata_hour_buckets_are_on_local_hour_marks() {
        // +05:30: 2024-04-15 00:15 .. 02:59:59.999 local.
        let start = utc(2024, 4, 14, 18, 45, 0);
        let end = utc(2024, 4, 14, 21, 30, 0) - 1;
        let g = BucketGrid::new(Interval::Hour, Asia::Kolkata, start, end).unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!(g.start_of(0), utc(2024, 4, 14, 18, 30, 0));
        assert_eq!(g.start_of(1), utc(2024, 4, 14, 19, 30, 0));
        assert_eq!(g.start_of(2), utc(2024, 4, 14, 20, 30, 0));
        assert_eq!(
            labels(&g),
            [
                "2024-04-15T00:00:00+05:30",
                "2024-04-15T01:00:00+05:30",
                "2024-04-15T02:00:00+05:30"
            ]
        );
        assert_eq!(g.index_of(utc(2024, 4, 14, 19, 30, 0) - 1), 0);
        assert_eq!(g.index_of(utc(2024, 4, 14, 19, 30, 0)), 1);
        let p = g.plan();
        assert_eq!(p.origin, utc(2024, 4, 14, 19, 0, 0));
        assert_eq!(p.offsets, vec![(start, 1_800_000)]);
        check_consistent(&g, start, end);
    }

    #[test]
    fn kolkata_daily_buckets() {
        let start = utc(2024, 4, 14, 18, 30, 0); // 2024-04-15 00:00+05:30
        let end = utc(2024, 4, 15, 18, 30, 0); // 2024-04-16 00:00+05:30
        let g = BucketGrid::new(Interval::Day, Asia::Kolkata, start, end).unwrap();
        assert_eq!(
            labels(&g),
            ["2024-04-15T00:00:00+05:30", "2024-04-16T00:00:00+05:30"]
        );
        assert_eq!(g.plan().offsets, vec![(start, 19_800_000)]);
    }

    // ---- minute buckets ----------------------------------------------------------------

    #[test]
    fn minute_buckets() {
        let start = utc(2024, 4, 15, 10, 0, 30);
        let end = utc(2024, 4, 15, 10, 2, 0);
        let g = BucketGrid::new(Interval::Minute, STO, start, end).unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!(g.start_of(0), utc(2024, 4, 15, 10, 0, 0));
        assert_eq!(g.start_of(2), utc(2024, 4, 15, 10, 2, 0));
        assert_eq!(
            format_seconds(g.start_of(1), STO),
            "2024-04-15T12:01:00+02:00"
        );
        let p = g.plan();
        assert_eq!(p.origin, utc(2024, 4, 15, 10, 0, 0));
        assert_eq!(p.offsets, vec![(start, 0)]);
        check_consistent(&g, start, end);
    }

    #[test]
    fn bucket_limit_guard() {
        let start = utc(2024, 1, 1, 0, 0, 0);
        let day = 86_400_000;
        assert_eq!(
            BucketGrid::new(Interval::Minute, UTC, start, start + 7 * day - 1),
            Err(10_080)
        );
        assert_eq!(
            BucketGrid::new(Interval::Minute, UTC, start, start + 7 * day),
            Err(10_081)
        );
        let g = BucketGrid::new(Interval::Minute, UTC, start, start + 6 * day - 1).unwrap();
        assert_eq!(g.len(), 8_640);
        let g = BucketGrid::new(Interval::Minute, UTC, start, start + 10_000 * 60_000 - 1);
        assert_eq!(g.unwrap().len(), 10_000);
        assert_eq!(
            BucketGrid::new(Interval::Minute, UTC, start, start + 10_000 * 60_000),
            Err(10_001)
        );
        // 10 000 days from 2000-01-01 end on 2027-05-19.
        let s = utc(2000, 1, 1, 0, 0, 0);
        assert_eq!(
            BucketGrid::new(Interval::Day, UTC, s, utc(2027, 5, 19, 0, 0, 0) - 1)
                .unwrap()
                .len(),
            10_000
        );
        assert_eq!(
            BucketGrid::new(Interval::Day, UTC, s, utc(2027, 5, 19, 0, 0, 0)),
            Err(10_001)
        );
        assert!(BucketGrid::new(Interval::Hour, UTC, i64::MIN / 2, i64::MAX / 2).is_err());
        assert!(BucketGrid::new(Interval::Month, STO, i64::MIN, i64::MAX).is_err());
    }

    // ---- week buckets ------------------------------------------------------------------

    #[test]
    fn weeks_start_on_monday() {
        // Wednesday 2024-03-27 12:00+01 .. Tuesday 2024-04-09 12:00+02.
        let start = utc(2024, 3, 27, 11, 0, 0);
        let end = utc(2024, 4, 9, 10, 0, 0);
        let g = BucketGrid::new(Interval::Week, STO, start, end).unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!(
            labels(&g),
            [
                "2024-03-25T00:00:00+01:00",
                "2024-04-01T00:00:00+02:00",
                "2024-04-08T00:00:00+02:00"
            ]
        );
        assert_eq!(g.start_of(0), utc(2024, 3, 24, 23, 0, 0));
        assert_eq!(g.start_of(1), utc(2024, 3, 31, 22, 0, 0));
        // Last ms of Sunday 2024-03-31 and first ms of Monday 2024-04-01.
        assert_eq!(g.index_of(utc(2024, 3, 31, 22, 0, 0) - 1), 0);
        assert_eq!(g.index_of(utc(2024, 3, 31, 22, 0, 0)), 1);
        let p = g.plan();
        assert_eq!(p.origin, utc(2024, 3, 25, 0, 0, 0));
        check_consistent(&g, start, end);

        // A window starting on a Monday and one on a Sunday.
        let monday = BucketGrid::new(Interval::Week, UTC, utc(2024, 4, 1, 0, 0, 0), end).unwrap();
        assert_eq!(monday.plan().origin, utc(2024, 4, 1, 0, 0, 0));
        assert_eq!(monday.len(), 2);
        let sunday = BucketGrid::new(Interval::Week, UTC, utc(2024, 4, 7, 23, 59, 59), end);
        assert_eq!(sunday.unwrap().plan().origin, utc(2024, 4, 1, 0, 0, 0));
        // Weeks before the epoch: Monday 1969-12-29.
        let g = BucketGrid::new(Interval::Week, UTC, utc(1970, 1, 1, 0, 0, 0), 0).unwrap();
        assert_eq!(g.start_of(0), utc(1969, 12, 29, 0, 0, 0));
    }

    // ---- month buckets -----------------------------------------------------------------

    #[test]
    fn stockholm_month_buckets() {
        let start = utc(2024, 1, 15, 12, 0, 0);
        let end = utc(2024, 11, 2, 12, 0, 0);
        let g = BucketGrid::new(Interval::Month, STO, start, end).unwrap();
        assert_eq!(g.len(), 11);
        assert_eq!(g.start_of(0), utc(2023, 12, 31, 23, 0, 0));
        assert_eq!(g.start_of(2), utc(2024, 2, 29, 23, 0, 0));
        assert_eq!(g.start_of(3), utc(2024, 3, 31, 22, 0, 0));
        assert_eq!(g.start_of(10), utc(2024, 10, 31, 23, 0, 0));
        assert_eq!(
            format_seconds(g.start_of(0), STO),
            "2024-01-01T00:00:00+01:00"
        );
        assert_eq!(
            format_seconds(g.start_of(3), STO),
            "2024-04-01T00:00:00+02:00"
        );
        assert_eq!(
            format_seconds(g.start_of(10), STO),
            "2024-11-01T00:00:00+01:00"
        );
        assert_eq!(g.index_of(utc(2024, 3, 31, 22, 0, 0) - 1), 2);
        assert_eq!(g.index_of(utc(2024, 3, 31, 22, 0, 0)), 3);
        let p = g.plan();
        assert_eq!(p.origin, 2024 * 12);
        assert_eq!(
            p.offsets,
            vec![
                (start, 3_600_000),
                (utc(2024, 3, 31, 1, 0, 0), 7_200_000),
                (utc(2024, 10, 27, 1, 0, 0), 3_600_000)
            ]
        );
        check_consistent(&g, start, end);
    }

    #[test]
    fn month_buckets_across_a_year() {
        let start = utc(2023, 12, 31, 23, 0, 0); // 2024-01-01 00:00+01 in Stockholm
        let g = BucketGrid::new(Interval::Month, UTC, start, utc(2024, 1, 1, 0, 0, 0)).unwrap();
        assert_eq!(labels(&g), ["2023-12-01T00:00:00Z", "2024-01-01T00:00:00Z"]);
        assert_eq!(g.plan().origin, 2023 * 12 + 11);
        let g = BucketGrid::new(Interval::Month, STO, start, utc(2024, 1, 1, 0, 0, 0)).unwrap();
        assert_eq!(labels(&g), ["2024-01-01T00:00:00+01:00"]);
    }

    #[test]
    fn multi_year_hour_plan_collapses_whole_hour_changes() {
        let start = utc(2023, 1, 1, 0, 0, 0);
        let end = utc(2023, 12, 31, 0, 0, 0);
        assert_eq!(
            BucketGrid::new(Interval::Hour, STO, start, end)
                .unwrap()
                .plan()
                .offsets,
            vec![(start, 0)]
        );
        let g = BucketGrid::new(Interval::Week, STO, start, end).unwrap();
        assert_eq!(g.plan().offsets.len(), 3);
        check_consistent(&g, start, end);
    }

    // ---- midnight DST gaps ------------------------------------------------------------

    #[test]
    fn santiago_midnight_gap() {
        // 2024-09-08 00:00-04 does not exist: clocks jump to 01:00-03 at 04:00Z.
        let santiago = America::Santiago;
        let start = utc(2024, 9, 7, 4, 0, 0);
        let end = utc(2024, 9, 10, 3, 0, 0) - 1;
        let g = BucketGrid::new(Interval::Day, santiago, start, end).unwrap();
        assert_eq!(
            labels(&g),
            [
                "2024-09-07T00:00:00-04:00",
                "2024-09-08T01:00:00-03:00",
                "2024-09-09T00:00:00-03:00"
            ]
        );
        assert_eq!(g.start_of(1), utc(2024, 9, 8, 4, 0, 0));
        assert_eq!(g.start_of(2), utc(2024, 9, 9, 3, 0, 0));
        assert_eq!(g.index_of(utc(2024, 9, 8, 4, 0, 0) - 1), 0);
        assert_eq!(g.index_of(utc(2024, 9, 8, 4, 0, 0)), 1);
        check_consistent(&g, start, end);

        assert_eq!(
            parse_instant("2024-09-08", santiago, false),
            Ok(utc(2024, 9, 8, 4, 0, 0))
        );
        assert_eq!(
            parse_instant("2024-09-07", santiago, true),
            Ok(utc(2024, 9, 8, 4, 0, 0) - 1)
        );
        assert_eq!(
            parse_instant("2024-09-08T00:30", santiago, false),
            Ok(utc(2024, 9, 8, 4, 0, 0))
        );
        // Month starting on the gap day is unaffected; a week starting Monday 2024-09-02.
        let g = BucketGrid::new(Interval::Week, santiago, start, end).unwrap();
        assert_eq!(
            labels(&g),
            ["2024-09-02T00:00:00-04:00", "2024-09-09T00:00:00-03:00"]
        );

        // Fall back: 2024-04-07 00:00-03 becomes 2024-04-06 23:00-04 (at 03:00Z).
        assert_eq!(
            parse_instant("2024-04-06T23:30", santiago, false),
            Ok(utc(2024, 4, 7, 2, 30, 0))
        );
        assert_eq!(
            parse_instant("2024-04-06", santiago, true),
            Ok(utc(2024, 4, 7, 4, 0, 0) - 1)
        );
        let s = utc(2024, 4, 6, 3, 0, 0);
        let g = BucketGrid::new(Interval::Day, santiago, s, utc(2024, 4, 7, 5, 0, 0)).unwrap();
        assert_eq!(
            labels(&g),
            ["2024-04-06T00:00:00-03:00", "2024-04-07T00:00:00-04:00"]
        );
        assert_eq!(g.index_of(utc(2024, 4, 7, 3, 30, 0)), 0); // 23:30-04, second pass
        check_consistent(&g, s, utc(2024, 4, 7, 5, 0, 0));
    }

    #[test]
    fn beirut_midnight_gap() {
        // 2024-03-31 00:00+02 jumps to 01:00+03 (at 2024-03-30 22:00Z).
        let beirut = Asia::Beirut;
        let start = utc(2024, 3, 29, 22, 0, 0);
        let end = utc(2024, 4, 1, 21, 0, 0) - 1; // 2024-04-01 23:59:59.999+03
        let g = BucketGrid::new(Interval::Day, beirut, start, end).unwrap();
        assert_eq!(
            labels(&g),
            [
                "2024-03-30T00:00:00+02:00",
                "2024-03-31T01:00:00+03:00",
                "2024-04-01T00:00:00+03:00"
            ]
        );
        assert_eq!(g.start_of(1), utc(2024, 3, 30, 22, 0, 0));
        let m = BucketGrid::new(Interval::Month, beirut, start, end).unwrap();
        assert_eq!(
            labels(&m),
            ["2024-03-01T00:00:00+02:00", "2024-04-01T00:00:00+03:00"]
        );
        check_consistent(&g, start, end);
        check_consistent(&m, start, end);
    }
}
