//! Timezone offsets: the offset of a zone at an instant, local days and months as
//! instants, and the instants at which a zone's offset changes.

use chrono::{DateTime, MappedLocalTime, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{GapInfo, Tz};

use super::calendar::first_day_of_month_number;
use super::{DAY_MS, HOUR_MS, Ms};

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
pub(super) fn off(tz: Tz, t: Ms) -> i64 {
    let offset = tz.offset_from_utc_datetime(&naive_clamped(t));
    i64::from(offset.fix().local_minus_utc()) * 1000
}

/// `off(t) rem_euclid 1 h`: the part of the offset that shifts hour marks.
pub(super) fn hmod(tz: Tz, t: Ms) -> i64 {
    off(tz, t).rem_euclid(HOUR_MS)
}

/// Local ms: the naive local date-time at `t` read as if it were UTC.
pub(super) fn local(tz: Tz, t: Ms) -> i64 {
    t.saturating_add(off(tz, t))
}

/// The instant of a local date-time (given as local ms). In a DST gap: the first instant
/// after the gap; when ambiguous: the earlier instant.
pub(super) fn local_to_instant(local_ms: i64, tz: Tz) -> Ms {
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
pub(super) fn start_of_day(days: i64, tz: Tz) -> Ms {
    local_to_instant(days.saturating_mul(DAY_MS), tz)
}

/// Local day count of an instant.
pub(super) fn day_of(t: Ms, tz: Tz) -> i64 {
    local(tz, t).div_euclid(DAY_MS)
}

/// First instant of a local month given by its month number.
pub(super) fn start_of_month_number(mn: i64, tz: Tz) -> Ms {
    start_of_day(first_day_of_month_number(mn), tz)
}

/// The instants in (from, to] at which the offset of `tz` changes, with the new offset.
///
/// The offset is sampled once a day and every change is located to the millisecond by
/// bisection; DST periods last far longer than a day.
pub(super) fn transitions(tz: Tz, from: Ms, to: Ms) -> Vec<(Ms, i64)> {
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
