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

use chrono::{DateTime, MappedLocalTime, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{GapInfo, Tz};

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

// ---------------------------------------------------------------------------------------
// Calendar arithmetic on plain integers (proleptic Gregorian, any i64 day count).

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// `year * 12 + (month − 1)` of the naive date of a local-ms value.
fn month_number(local: i64) -> i64 {
    let (y, m, _) = civil_from_days(local.div_euclid(DAY_MS));
    y.saturating_mul(12).saturating_add(m - 1)
}

/// Day count of the first day of a month number.
fn first_day_of_month_number(mn: i64) -> i64 {
    days_from_civil(mn.div_euclid(12), mn.rem_euclid(12) + 1, 1)
}

// ---------------------------------------------------------------------------------------
// Timezone helpers.

fn chrono_min_ms() -> i64 {
    NaiveDateTime::MIN.and_utc().timestamp_millis()
}

fn chrono_max_ms() -> i64 {
    NaiveDateTime::MAX.and_utc().timestamp_millis()
}

/// The naive UTC date-time of an instant (or of a local-ms value), clamped to chrono's range.
fn naive_clamped(ms: i64) -> NaiveDateTime {
    let ms = ms.clamp(chrono_min_ms(), chrono_max_ms());
    match DateTime::from_timestamp_millis(ms) {
        Some(dt) => dt.naive_utc(),
        None => NaiveDateTime::MIN,
    }
}

/// The UTC offset of `tz` at instant `t`, in ms.
fn off(tz: Tz, t: Ms) -> i64 {
    let offset = tz.offset_from_utc_datetime(&naive_clamped(t));
    i64::from(offset.fix().local_minus_utc()) * 1000
}

/// `off(t) rem_euclid 1 h`: the part of the offset that shifts hour marks.
fn hmod(tz: Tz, t: Ms) -> i64 {
    off(tz, t).rem_euclid(HOUR_MS)
}

/// Local ms: the naive local date-time at `t` read as if it were UTC.
fn local(tz: Tz, t: Ms) -> i64 {
    t.saturating_add(off(tz, t))
}

/// The instant of a local date-time (given as local ms). In a DST gap: the first instant
/// after the gap; when ambiguous: the earlier instant.
fn local_to_instant(local_ms: i64, tz: Tz) -> Ms {
    let fallback = || {
        let guess = local_ms.saturating_sub(off(tz, local_ms));
        local_ms.saturating_sub(off(tz, guess))
    };
    if local_ms < chrono_min_ms() || local_ms > chrono_max_ms() {
        return fallback();
    }
    let naive = naive_clamped(local_ms);
    match tz.from_local_datetime(&naive) {
        MappedLocalTime::Single(dt) => dt.timestamp_millis(),
        MappedLocalTime::Ambiguous(a, b) => a.timestamp_millis().min(b.timestamp_millis()),
        MappedLocalTime::None => match GapInfo::new(&naive, &tz).and_then(|gap| gap.end) {
            Some(dt) => dt.timestamp_millis(),
            None => fallback(),
        },
    }
}

/// First instant of a local day (days since 1970-01-01 of the local date).
fn start_of_day(days: i64, tz: Tz) -> Ms {
    local_to_instant(days.saturating_mul(DAY_MS), tz)
}

/// Local day count of an instant.
fn day_of(t: Ms, tz: Tz) -> i64 {
    local(tz, t).div_euclid(DAY_MS)
}

/// First instant of a local month given by its month number.
fn start_of_month_number(mn: i64, tz: Tz) -> Ms {
    start_of_day(first_day_of_month_number(mn), tz)
}

/// The instants in (from, to] at which the offset of `tz` changes, with the new offset.
///
/// The offset is sampled once a day and every change is located to the millisecond by
/// bisection; DST periods last far longer than a day.
fn transitions(tz: Tz, from: Ms, to: Ms) -> Vec<(Ms, i64)> {
    let mut out = Vec::new();
    if to <= from {
        return out;
    }
    let mut a = from;
    let mut off_a = off(tz, a);
    while a < to {
        let b = a.saturating_add(DAY_MS).min(to);
        let off_b = off(tz, b);
        if off_b != off_a {
            // Invariant: off(lo) == off_a, off(hi) != off_a.
            let (mut lo, mut hi) = (a, b);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if off(tz, mid) == off_a {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let new_off = off(tz, hi);
            out.push((hi, new_off));
            a = hi;
            off_a = new_off;
        } else {
            a = b;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Ranges and previous windows.

/// Window of a named range (§6.1). `first_event` is the project's first event instant, used
/// only by AllTime (None => start = now). Custom is not handled here (the caller requires
/// `startDate`): returns None for Custom.
pub fn range_window(range: RangeName, now: Ms, tz: Tz, first_event: Option<Ms>) -> Option<Window> {
    let today = day_of(now, tz);
    let (y, m, d) = civil_from_days(today);
    let this_month = y.saturating_mul(12).saturating_add(m - 1);
    let to_now = |start: Ms, previous_rule: PreviousRule| Window {
        start: start.min(now),
        end: now,
        previous_rule,
    };
    let months_ago = |n: i64| {
        let mn = this_month.saturating_sub(n);
        let (yy, mm) = (mn.div_euclid(12), mn.rem_euclid(12) + 1);
        let dd = d.min(days_in_month(yy, mm));
        start_of_day(days_from_civil(yy, mm, dd), tz)
    };
    let w = match range {
        RangeName::Min30 => to_now(now.saturating_sub(30 * MINUTE_MS), PreviousRule::Rolling),
        RangeName::LastHour => to_now(now.saturating_sub(HOUR_MS), PreviousRule::Rolling),
        RangeName::Today => to_now(start_of_day(today, tz), PreviousRule::DayToDate),
        RangeName::Yesterday => Window {
            start: start_of_day(today - 1, tz),
            end: start_of_day(today, tz).saturating_sub(1),
            previous_rule: PreviousRule::CompleteDay,
        },
        RangeName::Days7 => to_now(start_of_day(today - 7, tz), PreviousRule::Rolling),
        RangeName::Days30 => to_now(start_of_day(today - 30, tz), PreviousRule::Rolling),
        RangeName::Months6 => to_now(months_ago(6), PreviousRule::Rolling),
        RangeName::Months12 => to_now(months_ago(12), PreviousRule::Rolling),
        RangeName::MonthToDate => to_now(
            start_of_month_number(this_month, tz),
            PreviousRule::MonthToDate,
        ),
        RangeName::LastMonth => Window {
            start: start_of_month_number(this_month - 1, tz),
            end: start_of_month_number(this_month, tz).saturating_sub(1),
            previous_rule: PreviousRule::CompleteMonth,
        },
        RangeName::YearToDate => to_now(
            start_of_day(days_from_civil(y, 1, 1), tz),
            PreviousRule::YearToDate,
        ),
        RangeName::LastYear => Window {
            start: start_of_day(days_from_civil(y - 1, 1, 1), tz),
            end: start_of_day(days_from_civil(y, 1, 1), tz).saturating_sub(1),
            previous_rule: PreviousRule::CompleteYear,
        },
        RangeName::AllTime => to_now(first_event.unwrap_or(now), PreviousRule::Rolling),
        RangeName::Custom => return None,
    };
    Some(w)
}

/// The previous window per §6.4. Its `previous_rule` is the same rule as `w`'s.
pub fn previous_window(w: &Window, tz: Tz) -> Window {
    let rule = w.previous_rule;
    let span = w.end.saturating_sub(w.start);
    let cut = w.start.saturating_sub(1);
    let to_date = |prev_start: Ms| Window {
        start: prev_start,
        end: prev_start.saturating_add(span).min(cut),
        previous_rule: rule,
    };
    let day = day_of(w.start, tz);
    let month = month_number(local(tz, w.start));
    let (year, _, _) = civil_from_days(day);
    let year_start = |y: i64| start_of_day(days_from_civil(y, 1, 1), tz);
    match rule {
        PreviousRule::CompleteDay => Window {
            start: start_of_day(day - 1, tz),
            end: start_of_day(day, tz).saturating_sub(1),
            previous_rule: rule,
        },
        PreviousRule::CompleteMonth => Window {
            start: start_of_month_number(month - 1, tz),
            end: start_of_month_number(month, tz).saturating_sub(1),
            previous_rule: rule,
        },
        PreviousRule::CompleteYear => Window {
            start: year_start(year - 1),
            end: year_start(year).saturating_sub(1),
            previous_rule: rule,
        },
        PreviousRule::DayToDate => to_date(start_of_day(day - 1, tz)),
        PreviousRule::MonthToDate => to_date(start_of_month_number(month - 1, tz)),
        PreviousRule::YearToDate => to_date(year_start(year - 1)),
        PreviousRule::Rolling => Window {
            start: w.start.saturating_sub(span).saturating_sub(1),
            end: cut,
            previous_rule: rule,
        },
    }
}

// ---------------------------------------------------------------------------------------
// Parsing.

/// Why a user-supplied date or date-time was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("expected a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM])")]
    Malformed,
    #[error("the date is out of range")]
    OutOfRange,
}

/// The pieces of a date or date-time as written.
struct Parts {
    /// Days since 1970-01-01 of the date.
    days: i64,
    /// Milliseconds into the day, None for a bare date.
    time_ms: Option<i64>,
    /// Explicit UTC offset in ms (`Z` = 0), None when absent.
    offset_ms: Option<i64>,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut v = 0i64;
        for _ in 0..n {
            let c = self.peek()?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
            self.i += 1;
        }
        Some(v)
    }

    /// A run of 1..=9 ASCII digits read as a fraction of a second, truncated to ms.
    fn fraction_ms(&mut self) -> Option<i64> {
        let mut n = 0;
        let mut ms = 0i64;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if n < 3 {
                ms = ms * 10 + i64::from(c - b'0');
            }
            n += 1;
            self.i += 1;
        }
        if n == 0 || n > 9 {
            return None;
        }
        for _ in n..3 {
            ms *= 10;
        }
        Some(ms)
    }
}

/// Parses `YYYY-MM-DD[(T|t| )HH:MM[:SS[.f{1,9}]][Z|z|±HH:MM|±HHMM]]`; with
/// `allow_bare_hours` also `±HH`.
fn parse_parts(s: &str, allow_bare_hours: bool) -> Option<Parts> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if c.at_end() {
        return Some(Parts {
            days,
            time_ms: None,
            offset_ms: None,
        });
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    let mut sec = 0;
    let mut ms = 0;
    if c.eat(b':') {
        sec = c.digits(2)?;
        if c.eat(b'.') {
            ms = c.fraction_ms()?;
        }
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let time_ms = h * HOUR_MS + mi * MINUTE_MS + sec * 1000 + ms;
    let offset_ms = match c.peek() {
        None => None,
        Some(b'Z' | b'z') => {
            c.i += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            let om = if c.at_end() && allow_bare_hours {
                0
            } else {
                c.eat(b':');
                c.digits(2)?
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let v = oh * HOUR_MS + om * MINUTE_MS;
            Some(if sign == b'-' { -v } else { v })
        }
        Some(_) => return None,
    };
    if !c.at_end() {
        return None;
    }
    Some(Parts {
        days,
        time_ms: Some(time_ms),
        offset_ms,
    })
}

/// Parse a user-supplied date or date-time (§4.3).
///
/// A date `YYYY-MM-DD` means the whole day in `tz`: with `end == false` the first instant
/// of that day, with `end == true` the last millisecond of the day (start of the next day
/// − 1 ms, so DST days are right). Date-times: `YYYY-MM-DDTHH:MM[:SS[.fff]]` optionally
/// followed by `Z`/`z` or an offset `±HH:MM` / `±HHMM`; a space may stand for `T`. Without
/// an offset the local time is in `tz` (in a DST gap the instant just after the gap; when
/// ambiguous the earlier instant). Date-times are exact instants whatever `end` is.
/// Anything else (including trailing garbage, month 13, Feb 30) is
/// [`TimeError::Malformed`].
pub fn parse_instant(s: &str, tz: Tz, end: bool) -> Result<Ms, TimeError> {
    let parts = parse_parts(s, false).ok_or(TimeError::Malformed)?;
    let day_local = parts
        .days
        .checked_mul(DAY_MS)
        .ok_or(TimeError::OutOfRange)?;
    match (parts.time_ms, parts.offset_ms) {
        (None, _) if end => {
            let next = day_local.checked_add(DAY_MS).ok_or(TimeError::OutOfRange)?;
            Ok(local_to_instant(next, tz) - 1)
        }
        (None, _) => Ok(local_to_instant(day_local, tz)),
        (Some(time), None) => Ok(local_to_instant(day_local + time, tz)),
        (Some(time), Some(offset)) => Ok(day_local + time - offset),
    }
}

/// Parse `2024-04-15T12:34:56.789Z` style (RFC 3339, any offset, fraction optional, up to
/// 9 digits truncated to ms) into Ms; `YYYY-MM-DD HH:MM:SS[.fff]` without an offset is
/// read as UTC (so is `T` without an offset), and `±HH` is accepted as an offset. A bare
/// date is rejected.
pub fn parse_rfc3339(s: &str) -> Option<Ms> {
    let parts = parse_parts(s, true)?;
    let time = parts.time_ms?;
    let offset = parts.offset_ms.unwrap_or(0);
    parts
        .days
        .checked_mul(DAY_MS)?
        .checked_add(time)?
        .checked_sub(offset)
}

// ---------------------------------------------------------------------------------------
// Formatting.

fn write_local(out: &mut String, local_ms: i64, millis: bool) {
    use std::fmt::Write as _;
    let (y, m, d) = civil_from_days(local_ms.div_euclid(DAY_MS));
    let in_day = local_ms.rem_euclid(DAY_MS);
    let (h, mi) = (in_day / HOUR_MS, in_day % HOUR_MS / MINUTE_MS);
    let (s, ms) = (in_day % MINUTE_MS / 1000, in_day % 1000);
    let _ = if (0..=9999).contains(&y) {
        write!(out, "{y:04}")
    } else {
        write!(out, "{y:+05}")
    };
    let _ = write!(out, "-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if millis {
        let _ = write!(out, ".{ms:03}");
    }
}

fn write_offset(out: &mut String, offset_ms: i64) {
    use std::fmt::Write as _;
    if offset_ms == 0 {
        out.push('Z');
        return;
    }
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let secs = offset_ms.abs() / 1000;
    let _ = write!(out, "{sign}{:02}:{:02}", secs / 3600, secs % 3600 / 60);
    if secs % 60 != 0 {
        let _ = write!(out, ":{:02}", secs % 60);
    }
}

fn format_in(t: Ms, tz: Tz, millis: bool) -> String {
    let offset = off(tz, t);
    let mut out = String::with_capacity(29);
    write_local(&mut out, t.saturating_add(offset), millis);
    write_offset(&mut out, offset);
    out
}

/// RFC 3339 with seconds and the tz offset at that instant, `Z` when the offset is 0:
/// `2024-04-01T00:00:00+02:00`, `2024-04-01T00:00:00Z`.
pub fn format_seconds(t: Ms, tz: Tz) -> String {
    format_in(t, tz, false)
}

/// RFC 3339 with milliseconds and the tz offset at that instant:
/// `2024-04-30T23:59:59.999+02:00`.
pub fn format_millis(t: Ms, tz: Tz) -> String {
    format_in(t, tz, true)
}

/// UTC with milliseconds and `Z`: `2024-04-15T12:34:56.789Z` (event `createdAt`).
pub fn format_utc_millis(t: Ms) -> String {
    let mut out = String::with_capacity(24);
    write_local(&mut out, t, true);
    out.push('Z');
    out
}

// ---------------------------------------------------------------------------------------
// Buckets.

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
    use chrono::Utc;
    use chrono_tz::{America, Asia, Europe, UTC};

    const STO: Tz = Europe::Stockholm;

    /// A UTC instant written by hand.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Ms {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp_millis()
    }

    fn w(start: Ms, end: Ms, previous_rule: PreviousRule) -> Window {
        Window {
            start,
            end,
            previous_rule,
        }
    }

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

    // ---- ranges ------------------------------------------------------------------------

    fn range(name: &str, now: Ms, tz: Tz) -> Window {
        range_window(RangeName::parse(name).unwrap(), now, tz, None).unwrap()
    }

    #[test]
    fn ranges_in_stockholm() {
        use PreviousRule::*;
        // Monday 2024-04-15 12:20:30.400+02.
        let now = utc(2024, 4, 15, 10, 20, 30) + 400;
        let cases: &[(&[&str], Ms, Ms, PreviousRule)] = &[
            (&["30min"], now - 1_800_000, now, Rolling),
            (&["lastHour"], now - 3_600_000, now, Rolling),
            (&["today"], utc(2024, 4, 14, 22, 0, 0), now, DayToDate),
            (
                &["yesterday"],
                utc(2024, 4, 13, 22, 0, 0),
                utc(2024, 4, 14, 22, 0, 0) - 1,
                CompleteDay,
            ),
            (
                &["7d", "last_7_days"],
                utc(2024, 4, 7, 22, 0, 0),
                now,
                Rolling,
            ),
            // 2024-03-16 is before the change: +01.
            (
                &["30d", "last_30_days"],
                utc(2024, 3, 15, 23, 0, 0),
                now,
                Rolling,
            ),
            // 2023-10-15 is still summer time: +02.
            (&["6m"], utc(2023, 10, 14, 22, 0, 0), now, Rolling),
            (&["12m"], utc(2023, 4, 14, 22, 0, 0), now, Rolling),
            (
                &["monthToDate", "this_month"],
                utc(2024, 3, 31, 22, 0, 0),
                now,
                MonthToDate,
            ),
            (
                &["lastMonth", "last_month"],
                utc(2024, 2, 29, 23, 0, 0),
                utc(2024, 3, 31, 22, 0, 0) - 1,
                CompleteMonth,
            ),
            (
                &["yearToDate", "this_year"],
                utc(2023, 12, 31, 23, 0, 0),
                now,
                YearToDate,
            ),
            (
                &["lastYear", "last_year"],
                utc(2022, 12, 31, 23, 0, 0),
                utc(2023, 12, 31, 23, 0, 0) - 1,
                CompleteYear,
            ),
            (&["all_time"], now, now, Rolling),
        ];
        for (names, start, end, rule) in cases {
            for name in *names {
                assert_eq!(range(name, now, STO), w(*start, *end, *rule), "{name}");
            }
        }
        assert_eq!(
            format_millis(range("lastMonth", now, STO).end, STO),
            "2024-03-31T23:59:59.999+02:00"
        );
        assert_eq!(range_window(RangeName::Custom, now, STO, None), None);
    }

    #[test]
    fn ranges_in_utc() {
        use PreviousRule::*;
        let now = utc(2024, 4, 15, 10, 20, 30) + 400;
        let cases: &[(&str, Ms, Ms, PreviousRule)] = &[
            ("30min", utc(2024, 4, 15, 9, 50, 30) + 400, now, Rolling),
            ("lastHour", utc(2024, 4, 15, 9, 20, 30) + 400, now, Rolling),
            ("today", utc(2024, 4, 15, 0, 0, 0), now, DayToDate),
            (
                "yesterday",
                utc(2024, 4, 14, 0, 0, 0),
                utc(2024, 4, 14, 23, 59, 59) + 999,
                CompleteDay,
            ),
            ("7d", utc(2024, 4, 8, 0, 0, 0), now, Rolling),
            ("last_7_days", utc(2024, 4, 8, 0, 0, 0), now, Rolling),
            ("30d", utc(2024, 3, 16, 0, 0, 0), now, Rolling),
            ("last_30_days", utc(2024, 3, 16, 0, 0, 0), now, Rolling),
            ("6m", utc(2023, 10, 15, 0, 0, 0), now, Rolling),
            ("12m", utc(2023, 4, 15, 0, 0, 0), now, Rolling),
            ("monthToDate", utc(2024, 4, 1, 0, 0, 0), now, MonthToDate),
            ("this_month", utc(2024, 4, 1, 0, 0, 0), now, MonthToDate),
            (
                "lastMonth",
                utc(2024, 3, 1, 0, 0, 0),
                utc(2024, 3, 31, 23, 59, 59) + 999,
                CompleteMonth,
            ),
            (
                "last_month",
                utc(2024, 3, 1, 0, 0, 0),
                utc(2024, 3, 31, 23, 59, 59) + 999,
                CompleteMonth,
            ),
            ("yearToDate", utc(2024, 1, 1, 0, 0, 0), now, YearToDate),
            ("this_year", utc(2024, 1, 1, 0, 0, 0), now, YearToDate),
            (
                "lastYear",
                utc(2023, 1, 1, 0, 0, 0),
                utc(2023, 12, 31, 23, 59, 59) + 999,
                CompleteYear,
            ),
            (
                "last_year",
                utc(2023, 1, 1, 0, 0, 0),
                utc(2023, 12, 31, 23, 59, 59) + 999,
                CompleteYear,
            ),
            ("all_time", now, now, Rolling),
        ];
        for (name, start, end, rule) in cases {
            assert_eq!(range(name, now, UTC), w(*start, *end, *rule), "{name}");
        }
    }

    #[test]
    fn today_follows_the_timezone_day() {
        // 00:30+02 on 2024-04-15 in Stockholm is still 2024-04-14 in UTC.
        let now = utc(2024, 4, 14, 22, 30, 0);
        assert_eq!(range("today", now, STO).start, utc(2024, 4, 14, 22, 0, 0));
        assert_eq!(range("today", now, UTC).start, utc(2024, 4, 14, 0, 0, 0));
        assert_eq!(
            range("today", now, Asia::Kolkata).start,
            utc(2024, 4, 14, 18, 30, 0)
        );
    }

    #[test]
    fn all_time_uses_first_event() {
        let now = utc(2024, 4, 15, 10, 0, 0);
        let first = utc(2021, 6, 1, 8, 0, 0);
        assert_eq!(
            range_window(RangeName::AllTime, now, STO, Some(first)),
            Some(w(first, now, PreviousRule::Rolling))
        );
        assert_eq!(
            range_window(RangeName::AllTime, now, STO, Some(now + 5)),
            Some(w(now, now, PreviousRule::Rolling))
        );
    }

    #[test]
    fn months_ago_clamps_the_day() {
        let now = utc(2024, 8, 31, 12, 0, 0);
        assert_eq!(range("6m", now, UTC).start, utc(2024, 2, 29, 0, 0, 0));
        assert_eq!(range("12m", now, UTC).start, utc(2023, 8, 31, 0, 0, 0));
        let now = utc(2023, 8, 31, 12, 0, 0);
        assert_eq!(range("6m", now, UTC).start, utc(2023, 2, 28, 0, 0, 0));
        let now = utc(2024, 2, 29, 12, 0, 0);
        assert_eq!(range("12m", now, UTC).start, utc(2023, 2, 28, 0, 0, 0));
        let now = utc(2024, 3, 31, 12, 0, 0);
        assert_eq!(range("6m", now, UTC).start, utc(2023, 9, 30, 0, 0, 0));
        // In Stockholm: 2024-02-29 00:00+01.
        let now = utc(2024, 8, 31, 12, 0, 0);
        assert_eq!(range("6m", now, STO).start, utc(2024, 2, 28, 23, 0, 0));
    }

    // ---- previous windows --------------------------------------------------------------

    #[test]
    fn previous_complete_periods() {
        use PreviousRule::*;
        // Yesterday = 2024-03-31 (23 h) in Stockholm; previous = 2024-03-30 (24 h).
        let y = range("yesterday", utc(2024, 4, 1, 10, 0, 0), STO);
        assert_eq!(
            y,
            w(
                utc(2024, 3, 30, 23, 0, 0),
                utc(2024, 3, 31, 22, 0, 0) - 1,
                CompleteDay
            )
        );
        assert_eq!(
            previous_window(&y, STO),
            w(
                utc(2024, 3, 29, 23, 0, 0),
                utc(2024, 3, 30, 23, 0, 0) - 1,
                CompleteDay
            )
        );
        // Last month = March 2024; previous = February 2024 (29 days).
        let m = range("lastMonth", utc(2024, 4, 15, 10, 0, 0), STO);
        assert_eq!(
            previous_window(&m, STO),
            w(
                utc(2024, 1, 31, 23, 0, 0),
                utc(2024, 2, 29, 23, 0, 0) - 1,
                CompleteMonth
            )
        );
        let m = range("lastMonth", utc(2024, 1, 15, 10, 0, 0), UTC);
        assert_eq!(
            previous_window(&m, UTC),
            w(
                utc(2023, 11, 1, 0, 0, 0),
                utc(2023, 12, 1, 0, 0, 0) - 1,
                CompleteMonth
            )
        );
        // Last year = 2023; previous = 2022.
        let l = range("lastYear", utc(2024, 4, 15, 10, 0, 0), STO);
        assert_eq!(
            previous_window(&l, STO),
            w(
                utc(2021, 12, 31, 23, 0, 0),
                utc(2022, 12, 31, 23, 0, 0) - 1,
                CompleteYear
            )
        );
    }

    #[test]
    fn previous_to_date_periods() {
        use PreviousRule::*;
        // today: 12 h 20 m 30.4 s elapsed since 2024-04-15 00:00+02.
        let now = utc(2024, 4, 15, 10, 20, 30) + 400;
        let t = range("today", now, STO);
        assert_eq!(
            previous_window(&t, STO),
            w(
                utc(2024, 4, 13, 22, 0, 0),
                utc(2024, 4, 14, 10, 20, 30) + 400,
                DayToDate
            )
        );
        // 23:30+01 on the 25-hour 2024-10-27: 24 h 30 m elapsed, cut at the current start.
        let t = range("today", utc(2024, 10, 27, 22, 30, 0), STO);
        assert_eq!(t.start, utc(2024, 10, 26, 22, 0, 0));
        assert_eq!(
            previous_window(&t, STO),
            w(
                utc(2024, 10, 25, 22, 0, 0),
                utc(2024, 10, 26, 22, 0, 0) - 1,
                DayToDate
            )
        );
        // monthToDate on 2024-03-31 12:00Z: 30 d 12 h elapsed, February has 29 days.
        let m = range("monthToDate", utc(2024, 3, 31, 12, 0, 0), UTC);
        assert_eq!(
            previous_window(&m, UTC),
            w(
                utc(2024, 2, 1, 0, 0, 0),
                utc(2024, 3, 1, 0, 0, 0) - 1,
                MonthToDate
            )
        );
        // monthToDate on 2024-04-15 10:20:30.4Z.
        let m = range("monthToDate", now, UTC);
        assert_eq!(
            previous_window(&m, UTC),
            w(
                utc(2024, 3, 1, 0, 0, 0),
                utc(2024, 3, 15, 10, 20, 30) + 400,
                MonthToDate
            )
        );
        // yearToDate: 105 days (2024 is leap) + 10:20:30.4 since 2024-01-01.
        let y = range("yearToDate", now, UTC);
        assert_eq!(
            previous_window(&y, UTC),
            w(
                utc(2023, 1, 1, 0, 0, 0),
                utc(2023, 4, 16, 10, 20, 30) + 400,
                YearToDate
            )
        );
        // January: previous is December of the previous year.
        let m = range("monthToDate", utc(2024, 1, 10, 0, 0, 0), STO);
        assert_eq!(previous_window(&m, STO).start, utc(2023, 11, 30, 23, 0, 0));
    }

    #[test]
    fn previous_rolling() {
        let r = w(1_000, 2_000, PreviousRule::Rolling);
        assert_eq!(previous_window(&r, STO), w(-1, 999, PreviousRule::Rolling));
        let now = utc(2024, 4, 15, 10, 0, 0);
        let m = range("30min", now, STO);
        assert_eq!(
            previous_window(&m, STO),
            w(now - 3_600_001, now - 1_800_001, PreviousRule::Rolling)
        );
        let d = range("7d", now, UTC); // [2024-04-08 00:00, now]
        assert_eq!(
            previous_window(&d, UTC),
            w(
                utc(2024, 3, 31, 14, 0, 0) - 1,
                utc(2024, 4, 8, 0, 0, 0) - 1,
                PreviousRule::Rolling
            )
        );
    }

    // ---- parsing -----------------------------------------------------------------------

    #[test]
    fn parse_dates_cover_whole_days() {
        assert_eq!(
            parse_instant("2024-04-15", STO, false),
            Ok(utc(2024, 4, 14, 22, 0, 0))
        );
        assert_eq!(
            parse_instant("2024-04-15", STO, true),
            Ok(utc(2024, 4, 15, 22, 0, 0) - 1)
        );
        assert_eq!(
            parse_instant("2024-04-15", UTC, true),
            Ok(utc(2024, 4, 15, 23, 59, 59) + 999)
        );
        assert_eq!(
            parse_instant("2024-02-29", UTC, false),
            Ok(utc(2024, 2, 29, 0, 0, 0))
        );
        assert_eq!(parse_instant("1969-12-31", UTC, true), Ok(-1));
    }

    #[test]
    fn end_of_day_on_dst_days() {
        // 23-hour day: ends 23:59:59.999+02 = 21:59:59.999Z.
        let end = parse_instant("2024-03-31", STO, true).unwrap();
        assert_eq!(end, utc(2024, 3, 31, 22, 0, 0) - 1);
        assert_eq!(format_millis(end, STO), "2024-03-31T23:59:59.999+02:00");
        assert_eq!(
            parse_instant("2024-03-31", STO, false),
            Ok(utc(2024, 3, 30, 23, 0, 0))
        );
        // 25-hour day: 2024-10-26 22:00Z .. 2024-10-27 22:59:59.999Z.
        assert_eq!(
            parse_instant("2024-10-27", STO, false),
            Ok(utc(2024, 10, 26, 22, 0, 0))
        );
        let end = parse_instant("2024-10-27", STO, true).unwrap();
        assert_eq!(end, utc(2024, 10, 27, 23, 0, 0) - 1);
        assert_eq!(format_millis(end, STO), "2024-10-27T23:59:59.999+01:00");
    }

    #[test]
    fn parse_date_times() {
        let ten_z = utc(2024, 4, 15, 10, 0, 0);
        for (s, expected) in [
            ("2024-04-15T10:00:00Z", ten_z),
            ("2024-04-15T10:00:00z", ten_z),
            ("2024-04-15t10:00:00Z", ten_z),
            ("2024-04-15 10:00:00Z", ten_z),
            ("2024-04-15T10:00Z", ten_z),
            ("2024-04-15T12:00:00+02:00", ten_z),
            ("2024-04-15T12:00:00+0200", ten_z),
            ("2024-04-15T04:30:00-05:30", ten_z),
            ("2024-04-15T10:00:00+00:00", ten_z),
            ("2024-04-15T10:00:00-00:00", ten_z),
            // Without an offset: local time in Stockholm (+02).
            ("2024-04-15T12:00:00", ten_z),
            ("2024-04-15T12:00", ten_z),
            ("2024-04-15 12:00", ten_z),
            ("2024-04-15T12:00:00.5", ten_z + 500),
            ("2024-04-15T12:00:00.05", ten_z + 50),
            ("2024-04-15T12:00:00.123456789", ten_z + 123),
            ("2024-04-15T10:00:00.999Z", ten_z + 999),
            (
                "2024-04-15T23:59:59.999+14:00",
                utc(2024, 4, 15, 10, 0, 0) - 1,
            ),
        ] {
            assert_eq!(parse_instant(s, STO, false), Ok(expected), "{s}");
            assert_eq!(parse_instant(s, STO, true), Ok(expected), "{s} as end");
        }
        // Gap: 02:30 does not exist on 2024-03-31 in Stockholm -> 03:00+02.
        assert_eq!(
            parse_instant("2024-03-31T02:30", STO, false),
            Ok(utc(2024, 3, 31, 1, 0, 0))
        );
        // Ambiguous: 02:30 happens twice on 2024-10-27 -> the earlier (+02).
        assert_eq!(
            parse_instant("2024-10-27T02:30:00", STO, false),
            Ok(utc(2024, 10, 27, 0, 30, 0))
        );
        assert_eq!(
            parse_instant("2024-04-15T00:00", Asia::Kolkata, false),
            Ok(utc(2024, 4, 14, 18, 30, 0))
        );
    }

    #[test]
    fn parse_rejects_garbage() {
        for s in [
            "",
            " ",
            "2024",
            "2024-04",
            "2024-4-15",
            "24-04-15",
            "2024/04/15",
            "20240415",
            "2024-13-01",
            "2024-00-10",
            "2024-04-00",
            "2024-04-31",
            "2024-02-30",
            "2023-02-29",
            "2024-04-15T",
            "2024-04-15T10",
            "2024-04-15T1:00",
            "2024-04-15T24:00",
            "2024-04-15T10:60",
            "2024-04-15T10:00:60",
            "2024-04-15T10:00:00.",
            "2024-04-15T10:00:00.1234567890",
            "2024-04-15T10:00.5",
            "2024-04-15T10:00:00Zjunk",
            "2024-04-15T10:00:00ZZ",
            "2024-04-15T10:00:00+02",
            "2024-04-15T10:00:00+2:00",
            "2024-04-15T10:00:00+24:00",
            "2024-04-15T10:00:00+02:60",
            "2024-04-15T10:00:00+02:00:00",
            "2024-04-15T10:00:00 +02:00",
            "2024-04-15x",
            "2024-04-15 ",
            " 2024-04-15",
            "2024-04-15\n",
            "2024-04-15T10:00:00UTC",
            "yesterday",
            "now",
            "1713175200000",
            "２０２４-04-15",
            "+2024-04-15",
            "-2024-04-15",
        ] {
            assert_eq!(
                parse_instant(s, STO, false),
                Err(TimeError::Malformed),
                "{s:?}"
            );
            assert_eq!(
                parse_instant(s, UTC, true),
                Err(TimeError::Malformed),
                "{s:?}"
            );
        }
    }

    #[test]
    fn time_error_messages() {
        assert_eq!(
            TimeError::Malformed.to_string(),
            "expected a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM])"
        );
        assert_eq!(
            TimeError::OutOfRange.to_string(),
            "the date is out of range"
        );
    }

    #[test]
    fn parse_rfc3339_for_import() {
        let t = utc(2024, 4, 15, 12, 34, 56) + 789;
        assert_eq!(parse_rfc3339("2024-04-15T12:34:56.789Z"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15T14:34:56.789+02:00"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15T07:04:56.789-05:30"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15T12:34:56.789123456Z"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15 12:34:56.789"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15T12:34:56.789"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15 12:34:56.789+00"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15 14:34:56.789+02"), Some(t));
        assert_eq!(parse_rfc3339("2024-04-15 12:34:56"), Some(t - 789));
        assert_eq!(parse_rfc3339("2024-04-15T12:34:56Z"), Some(t - 789));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z"), Some(-1));
        for bad in [
            "",
            "2024-04-15",
            "2024-04-15T12:34:56.789Zx",
            "2024-13-15T12:34:56Z",
            "2024-04-15T12:34:56,789Z",
            "garbage",
            "1713184496789",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    // ---- formatting --------------------------------------------------------------------

    #[test]
    fn formatting() {
        let t = utc(2024, 3, 31, 22, 0, 0);
        assert_eq!(format_seconds(t, STO), "2024-04-01T00:00:00+02:00");
        assert_eq!(format_seconds(t, UTC), "2024-03-31T22:00:00Z");
        assert_eq!(format_seconds(t + 999, UTC), "2024-03-31T22:00:00Z");
        assert_eq!(
            format_seconds(t, Asia::Kolkata),
            "2024-04-01T03:30:00+05:30"
        );
        assert_eq!(
            format_seconds(t, America::Santiago),
            "2024-03-31T19:00:00-03:00"
        );
        assert_eq!(format_millis(t - 1, STO), "2024-03-31T23:59:59.999+02:00");
        assert_eq!(format_millis(t, UTC), "2024-03-31T22:00:00.000Z");
        assert_eq!(
            format_utc_millis(utc(2024, 4, 15, 12, 34, 56) + 789),
            "2024-04-15T12:34:56.789Z"
        );
        assert_eq!(format_utc_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_utc_millis(utc(2000, 2, 29, 0, 0, 0) + 7),
            "2000-02-29T00:00:00.007Z"
        );
        // Extreme values never panic.
        let _ = format_utc_millis(i64::MIN);
        let _ = format_utc_millis(i64::MAX);
        let _ = format_millis(i64::MIN, STO);
        let _ = format_millis(i64::MAX, STO);
    }

    #[test]
    fn format_and_parse_round_trip() {
        let t = utc(2024, 10, 27, 1, 30, 0) + 250; // 02:30:00.250+01, second pass
        let s = format_millis(t, STO);
        assert_eq!(s, "2024-10-27T02:30:00.250+01:00");
        assert_eq!(parse_instant(&s, STO, false), Ok(t));
        assert_eq!(parse_rfc3339(&s), Some(t));
    }

    #[test]
    fn civil_conversions() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in [-800_000, -1, 0, 59, 60, 19_783, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
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
