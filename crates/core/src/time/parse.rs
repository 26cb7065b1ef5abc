//! Parsing user-supplied dates and date-times (§4.3) and imported RFC 3339 instants.

use chrono_tz::Tz;

use super::calendar::{days_from_civil, days_in_month};
use super::zones::local_to_instant;
use super::{DAY_MS, HOUR_MS, MINUTE_MS, Ms};

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::time::format_millis;
    use crate::time::test_support::{STO, utc};
    use chrono_tz::{Asia, UTC};

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
}
