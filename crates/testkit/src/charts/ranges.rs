//! §6.1 ranges: every range name and alias, month clamping, all_time.

use super::*;

/// One named range: the alias list, interval, the two instants just inside the window
/// (its start and its end), the two just outside (start − 1 ms, end + 1 ms), the expected
/// meta dates, the number of buckets and the first bucket's date.
struct RangeCase {
    names: &'static [&'static str],
    interval: &'static str,
    inside: [&'static str; 2],
    outside: [&'static str; 2],
    start: &'static str,
    end: &'static str,
    buckets: usize,
    first_bucket: &'static str,
}

/// One millisecond after [`NOW`].
const NOW_PLUS: &str = "2024-05-15T10:00:00.001Z";

/// The cases of [`every_range_name_and_alias`]; the event of case `i` is named `r{i}`.
const RANGE_CASES: [RangeCase; 12] = [
    RangeCase {
        names: &["30min"],
        interval: "minute",
        inside: ["2024-05-15T09:30:00.000Z", NOW],
        outside: ["2024-05-15T09:29:59.999Z", NOW_PLUS],
        start: "2024-05-15T11:30:00.000+02:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 31,
        first_bucket: "2024-05-15T11:30:00+02:00",
    },
    RangeCase {
        names: &["lastHour"],
        interval: "minute",
        inside: ["2024-05-15T09:00:00.000Z", NOW],
        outside: ["2024-05-15T08:59:59.999Z", NOW_PLUS],
        start: "2024-05-15T11:00:00.000+02:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 61,
        first_bucket: "2024-05-15T11:00:00+02:00",
    },
    RangeCase {
        names: &["today"],
        interval: "hour",
        inside: ["2024-05-14T22:00:00.000Z", NOW],
        outside: ["2024-05-14T21:59:59.999Z", NOW_PLUS],
        start: "2024-05-15T00:00:00.000+02:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 13,
        first_bucket: "2024-05-15T00:00:00+02:00",
    },
    RangeCase {
        names: &["yesterday"],
        interval: "hour",
        inside: ["2024-05-13T22:00:00.000Z", "2024-05-14T21:59:59.999Z"],
        outside: ["2024-05-13T21:59:59.999Z", "2024-05-14T22:00:00.000Z"],
        start: "2024-05-14T00:00:00.000+02:00",
        end: "2024-05-14T23:59:59.999+02:00",
        buckets: 24,
        first_bucket: "2024-05-14T00:00:00+02:00",
    },
    RangeCase {
        names: &["7d", "last_7_days"],
        interval: "day",
        inside: ["2024-05-07T22:00:00.000Z", NOW],
        outside: ["2024-05-07T21:59:59.999Z", NOW_PLUS],
        start: "2024-05-08T00:00:00.000+02:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 8,
        first_bucket: "2024-05-08T00:00:00+02:00",
    },
    RangeCase {
        names: &["30d", "last_30_days"],
        interval: "day",
        inside: ["2024-04-14T22:00:00.000Z", NOW],
        outside: ["2024-04-14T21:59:59.999Z", NOW_PLUS],
        start: "2024-04-15T00:00:00.000+02:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 31,
        first_bucket: "2024-04-15T00:00:00+02:00",
    },
    RangeCase {
        names: &["6m"],
        interval: "month",
        inside: ["2023-11-14T23:00:00.000Z", NOW],
        outside: ["2023-11-14T22:59:59.999Z", NOW_PLUS],
        start: "2023-11-15T00:00:00.000+01:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 7,
        first_bucket: "2023-11-01T00:00:00+01:00",
    },
    RangeCase {
        names: &["12m"],
        interval: "month",
        inside: ["2023-05-14T22:00:00.000Z", NOW],
        outside: ["2023-05-14T21:59:59.999Z", NOW_PLUS],
        start: "2023-05-15T00:00:00.000+02:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 13,
        first_bucket: "2023-05-01T00:00:00+02:00",
    },
    RangeCase {
        names: &["monthToDate", "this_month"],
        interval: "day",
        inside: ["2024-04-30T22:00:00.000Z", NOW],
        outside: ["2024-04-30T21:59:59.999Z", NOW_PLUS],
        start: "2024-05-01T00:00:00.000+02:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 15,
        first_bucket: "2024-05-01T00:00:00+02:00",
    },
    RangeCase {
        names: &["lastMonth", "last_month"],
        interval: "day",
        inside: ["2024-03-31T22:00:00.000Z", "2024-04-30T21:59:59.999Z"],
        outside: ["2024-03-31T21:59:59.999Z", "2024-04-30T22:00:00.000Z"],
        start: "2024-04-01T00:00:00.000+02:00",
        end: "2024-04-30T23:59:59.999+02:00",
        buckets: 30,
        first_bucket: "2024-04-01T00:00:00+02:00",
    },
    RangeCase {
        names: &["yearToDate", "this_year"],
        interval: "month",
        inside: ["2023-12-31T23:00:00.000Z", NOW],
        outside: ["2023-12-31T22:59:59.999Z", NOW_PLUS],
        start: "2024-01-01T00:00:00.000+01:00",
        end: "2024-05-15T12:00:00.000+02:00",
        buckets: 5,
        first_bucket: "2024-01-01T00:00:00+01:00",
    },
    RangeCase {
        names: &["lastYear", "last_year"],
        interval: "month",
        inside: ["2022-12-31T23:00:00.000Z", "2023-12-31T22:59:59.999Z"],
        outside: ["2022-12-31T22:59:59.999Z", "2023-12-31T23:00:00.000Z"],
        start: "2023-01-01T00:00:00.000+01:00",
        end: "2023-12-31T23:59:59.999+01:00",
        buckets: 12,
        first_bucket: "2023-01-01T00:00:00+01:00",
    },
];

/// Every range name and alias in Europe/Stockholm with now = 2024-05-15T10:00:00.000Z
/// (12:00+02:00, a Wednesday). Each case uses its own event name with four events: its
/// window's start and end (counted) and 1 ms outside either side (not counted) → sum 2.
/// Hand-derived windows (local → UTC):
///   30min      11:30+02 (09:30Z) … now;           lastHour  11:00+02 (09:00Z) … now
///   today      05-15 00:00+02 (05-14T22:00Z) … now
///   yesterday  05-14 00:00+02 (05-13T22:00Z) … 05-14 23:59:59.999+02 (05-14T21:59:59.999Z)
///   7d         05-08 00:00+02 (05-07T22:00Z);  30d  04-15 00:00+02 (04-14T22:00Z)
///   6m         2023-11-15 00:00+01 (11-14T23:00Z); 12m 2023-05-15 00:00+02 (05-14T22:00Z)
///   monthToDate 05-01 00:00+02 (04-30T22:00Z)
///   lastMonth  04-01 00:00+02 (03-31T22:00Z) … 04-30 23:59:59.999+02 (04-30T21:59:59.999Z)
///   yearToDate 2024-01-01 00:00+01 (2023-12-31T23:00Z)
///   lastYear   2023-01-01 00:00+01 (2022-12-31T23:00Z) … 2023-12-31 23:59:59.999+01
///   custom     startDate=2024-05-10 → 05-10 00:00+02 (05-09T22:00Z) … now
pub async fn every_range_name_and_alias(b: &dyn Backend) {
    let mut events = Vec::new();
    for (i, c) in RANGE_CASES.iter().enumerate() {
        let name = format!("r{i}");
        events.extend(many(&name, &c.inside));
        events.extend(many(&name, &c.outside));
    }
    // custom + startDate (and startDate alone): 05-10 00:00+02 … now.
    events.extend(many(
        "custom",
        &[
            "2024-05-09T22:00:00.000Z",
            NOW,
            "2024-05-09T21:59:59.999Z",
            NOW_PLUS,
        ],
    ));
    let store = db(b, events).await;

    for (i, c) in RANGE_CASES.iter().enumerate() {
        for range in c.names {
            let qs = format!(
                r#"events=[{{"name":"r{i}"}}]&range={range}&interval={}"#,
                c.interval
            );
            let v = run(&store, &qs, Stockholm, NOW).await;
            assert_eq!(v["meta"]["startDate"], json!(c.start), "range {range}");
            assert_eq!(v["meta"]["endDate"], json!(c.end), "range {range}");
            assert_eq!(v["meta"]["interval"], json!(c.interval), "range {range}");
            assert_eq!(v["metrics"]["sum"], json!(2), "range {range}");
            let data = v["series"][0]["data"].as_array().unwrap();
            assert_eq!(data.len(), c.buckets, "range {range}");
            assert_eq!(data[0]["date"], json!(c.first_bucket), "range {range}");
        }
    }

    for qs in [
        r#"events=[{"name":"custom"}]&range=custom&startDate=2024-05-10"#,
        r#"events=[{"name":"custom"}]&startDate=2024-05-10"#,
        // startDate overrides any range
        r#"events=[{"name":"custom"}]&range=lastYear&startDate=2024-05-10"#,
    ] {
        let v = run(&store, qs, Stockholm, NOW).await;
        assert_eq!(
            v["meta"],
            json!({
                "startDate": "2024-05-10T00:00:00.000+02:00",
                "endDate": "2024-05-15T12:00:00.000+02:00",
                "interval": "day",
                "timezone": "Europe/Stockholm",
                "totalSeries": 1
            }),
            "{qs}"
        );
        // 05-10 … 05-15 = 6 day buckets; the start event on 05-10, `now` on 05-15.
        assert_eq!(counts(&v, 0), json!([1, 0, 0, 0, 0, 1]), "{qs}");
    }

    // Default range is 30d.
    let v = run(&store, r#"events=[{"name":"r5"}]"#, Stockholm, NOW).await;
    assert_eq!(
        v["meta"]["startDate"],
        json!("2024-04-15T00:00:00.000+02:00")
    );
    assert_eq!(v["metrics"]["sum"], json!(2));
}

/// 6m / 12m clamp the day to the target month's length (UTC):
///   now 2024-08-31 → 6m: Feb 31 → 2024-02-29 (leap); 12m: 2023-08-31.
///   now 2024-02-29 → 12m: 2023-02-29 → 2023-02-28; 6m: 2023-08-29.
///   now 2024-05-31 → 6m: Nov 31 → 2023-11-30.
pub async fn month_ranges_clamp_the_day(b: &dyn Backend) {
    let store = db(b, Vec::new()).await;
    for (now, range, start) in [
        ("2024-08-31T12:00:00.000Z", "6m", "2024-02-29T00:00:00.000Z"),
        (
            "2024-08-31T12:00:00.000Z",
            "12m",
            "2023-08-31T00:00:00.000Z",
        ),
        (
            "2024-02-29T12:00:00.000Z",
            "12m",
            "2023-02-28T00:00:00.000Z",
        ),
        ("2024-02-29T12:00:00.000Z", "6m", "2023-08-29T00:00:00.000Z"),
        ("2024-05-31T12:00:00.000Z", "6m", "2023-11-30T00:00:00.000Z"),
    ] {
        let v = run(
            &store,
            &format!(r#"events=[{{"name":"x"}}]&range={range}&interval=month"#),
            UTC,
            now,
        )
        .await;
        assert_eq!(v["meta"]["startDate"], json!(start), "{range} at {now}");
        assert_eq!(v["meta"]["endDate"], json!(now), "{range} at {now}");
    }
}

/// all_time runs from the project's first event (any name, this project only) to now.
/// Stockholm, now 2024-05-15T10:00Z. The project's first event is "other" at
/// 2024-02-10T08:15:30.250Z (= 09:15:30.250+01:00); an earlier event in another project
/// (2023-01-01) must not move it. Counting "a" with monthly buckets Feb … May:
///   a at the first instant (window start, inclusive) → Feb; a 2024-03-05 → Mar;
///   a at now → May; a at now + 1 ms out → [1, 1, 0, 1].
pub async fn all_time_starts_at_the_projects_first_event(b: &dyn Backend) {
    let mut events = vec![
        e("other", "2024-02-10T08:15:30.250Z"),
        NewEvent {
            project_id: "elsewhere".into(),
            ..e("a", "2023-01-01T00:00:00.000Z")
        },
    ];
    events.extend(many(
        "a",
        &[
            "2024-02-10T08:15:30.250Z",
            "2024-03-05T12:00:00.000Z",
            NOW,
            "2024-05-15T10:00:00.001Z",
        ],
    ));
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"a"}]&range=all_time&interval=month"#,
        Stockholm,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-02-01T00:00:00+01:00", "count": 1},
            {"date": "2024-03-01T00:00:00+01:00", "count": 1},
            {"date": "2024-04-01T00:00:00+02:00", "count": 0},
            {"date": "2024-05-01T00:00:00+02:00", "count": 1}
        ])
    );
    assert_eq!(
        v["meta"],
        json!({
            "startDate": "2024-02-10T09:15:30.250+01:00",
            "endDate": "2024-05-15T12:00:00.000+02:00",
            "interval": "month",
            "timezone": "Europe/Stockholm",
            "totalSeries": 1
        })
    );
}
