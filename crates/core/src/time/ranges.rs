//! Named ranges as windows (§6.1) and the previous window of a window (§6.4).

use chrono_tz::Tz;

use super::calendar::{civil_from_days, days_from_civil, days_in_month, month_number};
use super::zones::{day_of, local, start_of_day, start_of_month_number};
use super::{HOUR_MS, MINUTE_MS, Ms, PreviousRule, RangeName, Window};

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::time::format_millis;
    use crate::time::test_support::{STO, utc};
    use chrono_tz::{Asia, UTC};

    fn w(start: Ms, end: Ms, previous_rule: PreviousRule) -> Window {
        Window {
            start,
            end,
            previous_rule,
        }
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
}
