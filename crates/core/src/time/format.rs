//! Formatting instants as RFC 3339 text, in a timezone or in UTC.

use chrono_tz::Tz;

use super::calendar::civil_from_days;
use super::zones::off;
use super::{DAY_MS, HOUR_MS, MINUTE_MS, Ms};

fn write_local(out: &mut String, local_ms: i64, millis: bool) {
    use std::fmt::Write as _;
    let (y, m, d) = civil_from_days(local_ms.div_euclid(DAY_MS));
    let in_day = local_ms.rem_euclid(DAY_MS);
    let (h, mi) = (in_day / HOUR_MS, in_day % HOUR_MS / MINUTE_MS);
    let (s, ms) = (in_day % MINUTE_MS / 1000, in_day % 1000);
    // Digit by digit rather than through `fmt`: every event's `createdAt` of a streamed
    // export is written here.
    if (0..=9999).contains(&y) {
        push_digits(out, y, 4);
    } else {
        let _ = write!(out, "{y:+05}");
    }
    for (sep, v) in [('-', m), ('-', d), ('T', h), (':', mi), (':', s)] {
        out.push(sep);
        push_digits(out, v, 2);
    }
    if millis {
        out.push('.');
        push_digits(out, ms, 3);
    }
}

/// `v` (0 ≤ v < 10^width) in `width` decimal digits, zero-padded.
fn push_digits(out: &mut String, v: i64, width: u32) {
    for i in (0..width).rev() {
        let digit = (v / 10_i64.pow(i)).rem_euclid(10) as u8;
        out.push(char::from(b'0' + digit));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::time::test_support::{STO, utc};
    use crate::time::{parse_instant, parse_rfc3339};
    use chrono_tz::{America, Asia, UTC};

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
        // Four-digit years are zero-padded; others are signed.
        assert_eq!(
            format_utc_millis(-62_135_596_800_000 + 3_723_004),
            "0001-01-01T01:02:03.004Z"
        );
        assert_eq!(
            format_utc_millis(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            format_utc_millis(253_402_300_800_000),
            "+10000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            format_utc_millis(-62_135_596_800_001),
            "0000-12-31T23:59:59.999Z"
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
}
