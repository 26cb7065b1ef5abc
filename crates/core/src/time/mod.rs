//! Instants, ranges, previous periods and chart buckets (contract §4.3, §6.1, §6.3, §6.4).
//!
//! Every instant is an `i64` count of milliseconds since the Unix epoch (UTC); "now" is
//! always an input, so the same request and the same clock give the same windows.
//!
//! Bucket indexes are plain integer arithmetic over *offset segments*: a [`BucketGrid`]
//! describes, through its [`BucketPlan`], the timezone offsets in effect over the window
//! (a short list of `(from_instant, offset_ms)` pairs) and an origin, and a row's bucket is
//! `(t + offset(t) − origin) div width` (or a month number difference). The SQL written for
//! SQLite, PostgreSQL and ClickHouse evaluates exactly that expression with a `CASE` over
//! the segments, so all three backends put every row in the same bucket: SQLite has no
//! timezone functions at all, and the timezone functions of the other two disagree on
//! edge cases (DST gaps, ambiguous hours, week starts). [`BucketGrid::index_of`] is the
//! same arithmetic on the Rust side, and [`BucketGrid::start_of`] gives the real first
//! instant of each local bucket (after a DST gap when local midnight does not exist).
//!
//! One file per concern: `calendar` (integer date maths), `zones` (offsets and local days),
//! `ranges` (named ranges and previous windows), `parse`, `format` and `grid` (buckets).
//! Everything public is re-exported here, so callers only ever name `time::X`.

mod calendar;
mod format;
mod grid;
mod parse;
mod ranges;
mod zones;

pub use format::{format_millis, format_seconds, format_utc_millis};
pub use grid::{BucketGrid, BucketPlan, MAX_BUCKETS};
pub use parse::{TimeError, parse_instant, parse_rfc3339};
pub use ranges::{previous_window, range_window};

/// Milliseconds since the Unix epoch (UTC).
pub type Ms = i64;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Chart bucket width (`interval` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl Interval {
    /// Parses `minute`, `hour`, `day`, `week` or `month` (exact, case-sensitive).
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "minute" => Some(Interval::Minute),
            "hour" => Some(Interval::Hour),
            "day" => Some(Interval::Day),
            "week" => Some(Interval::Week),
            "month" => Some(Interval::Month),
            _ => None,
        }
    }

    /// The parameter spelling of the interval.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Minute => "minute",
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// A named range of §6.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeName {
    Min30,
    LastHour,
    Today,
    Yesterday,
    Days7,
    Days30,
    Months6,
    Months12,
    MonthToDate,
    LastMonth,
    YearToDate,
    LastYear,
    AllTime,
    Custom,
}

impl RangeName {
    /// Every accepted name and alias, for error messages.
    pub const VALID: &'static [&'static str] = &[
        "30min",
        "lastHour",
        "today",
        "yesterday",
        "7d",
        "last_7_days",
        "30d",
        "last_30_days",
        "6m",
        "12m",
        "monthToDate",
        "this_month",
        "lastMonth",
        "last_month",
        "yearToDate",
        "this_year",
        "lastYear",
        "last_year",
        "all_time",
        "custom",
    ];

    /// Accepts every name and alias of §6.1 (see [`RangeName::VALID`]). Case-sensitive exact
    /// match.
    pub fn parse(s: &str) -> Option<RangeName> {
        match s {
            "30min" => Some(RangeName::Min30),
            "lastHour" => Some(RangeName::LastHour),
            "today" => Some(RangeName::Today),
            "yesterday" => Some(RangeName::Yesterday),
            "7d" | "last_7_days" => Some(RangeName::Days7),
            "30d" | "last_30_days" => Some(RangeName::Days30),
            "6m" => Some(RangeName::Months6),
            "12m" => Some(RangeName::Months12),
            "monthToDate" | "this_month" => Some(RangeName::MonthToDate),
            "lastMonth" | "last_month" => Some(RangeName::LastMonth),
            "yearToDate" | "this_year" => Some(RangeName::YearToDate),
            "lastYear" | "last_year" => Some(RangeName::LastYear),
            "all_time" => Some(RangeName::AllTime),
            "custom" => Some(RangeName::Custom),
            _ => None,
        }
    }
}

/// How the previous period of §6.4 is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousRule {
    CompleteDay,
    CompleteMonth,
    CompleteYear,
    DayToDate,
    MonthToDate,
    YearToDate,
    Rolling,
}

/// A closed window [start, end] at ms precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Ms,
    pub end: Ms,
    pub previous_rule: PreviousRule,
}

/// What the unit tests of every part share.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test_support {
    use super::Ms;
    use chrono::{TimeZone, Utc};
    use chrono_tz::{Europe, Tz};

    pub(super) const STO: Tz = Europe::Stockholm;

    /// A UTC instant written by hand.
    pub(super) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Ms {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp_millis()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::test_support::STO;
    use super::*;

    #[test]
    fn interval_parse_and_as_str() {
        for (s, i) in [
            ("minute", Interval::Minute),
            ("hour", Interval::Hour),
            ("day", Interval::Day),
            ("week", Interval::Week),
            ("month", Interval::Month),
        ] {
            assert_eq!(Interval::parse(s), Some(i));
            assert_eq!(i.as_str(), s);
        }
        for bad in ["", "Day", "days", "year", " day", "quarter"] {
            assert_eq!(Interval::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn range_names_and_aliases() {
        use RangeName::*;
        let expected = [
            ("30min", Min30),
            ("lastHour", LastHour),
            ("today", Today),
            ("yesterday", Yesterday),
            ("7d", Days7),
            ("last_7_days", Days7),
            ("30d", Days30),
            ("last_30_days", Days30),
            ("6m", Months6),
            ("12m", Months12),
            ("monthToDate", MonthToDate),
            ("this_month", MonthToDate),
            ("lastMonth", LastMonth),
            ("last_month", LastMonth),
            ("yearToDate", YearToDate),
            ("this_year", YearToDate),
            ("lastYear", LastYear),
            ("last_year", LastYear),
            ("all_time", AllTime),
            ("custom", Custom),
        ];
        assert_eq!(RangeName::VALID.len(), expected.len());
        for ((s, r), valid) in expected.iter().zip(RangeName::VALID) {
            assert_eq!(s, valid);
            assert_eq!(RangeName::parse(s), Some(*r), "{s}");
        }
        for bad in [
            "",
            "Today",
            "lasthour",
            "7D",
            "last_7_day",
            "1y",
            "all-time",
            " today",
        ] {
            assert_eq!(RangeName::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            for r in RangeName::VALID {
                if let Some(win) = range_window(RangeName::parse(r).unwrap(), t, STO, Some(t)) {
                    let _ = previous_window(&win, STO);
                }
            }
            for i in [
                Interval::Minute,
                Interval::Hour,
                Interval::Day,
                Interval::Week,
                Interval::Month,
            ] {
                if let Ok(g) = BucketGrid::new(i, STO, t, t) {
                    let _ = g.index_of(t);
                    let _ = g.start_of(0);
                    let _ = g.plan();
                }
            }
        }
    }
}
