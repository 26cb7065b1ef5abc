//! §6 intervals: minute, hour, week, month buckets, and zones with odd offsets.

use super::*;

/// minute: window 10:00:00.000Z … 10:04:30.000Z (endDate as a date-time is an exact,
/// inclusive instant) → 5 buckets 10:00 … 10:04.
///   10:00:00, 10:00:59.999 → #0 (2); 10:03:10 → #3; 10:04:30.000 → #4 (at the end);
///   09:59:59.999 and 10:04:30.001 out.  counts [2,0,0,1,1].
pub async fn minute_interval(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "tick",
            &[
                "2024-04-01T09:59:59.999Z",
                "2024-04-01T10:00:00.000Z",
                "2024-04-01T10:00:59.999Z",
                "2024-04-01T10:03:10.000Z",
                "2024-04-01T10:04:30.000Z",
                "2024-04-01T10:04:30.001Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"tick"}]&interval=minute&startDate=2024-04-01T10:00:00Z&endDate=2024-04-01T10:04:30Z"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-04-01T10:00:00Z", "count": 2},
            {"date": "2024-04-01T10:01:00Z", "count": 0},
            {"date": "2024-04-01T10:02:00Z", "count": 0},
            {"date": "2024-04-01T10:03:00Z", "count": 1},
            {"date": "2024-04-01T10:04:00Z", "count": 1}
        ])
    );
    assert_eq!(v["meta"]["startDate"], json!("2024-04-01T10:00:00.000Z"));
    assert_eq!(v["meta"]["endDate"], json!("2024-04-01T10:04:30.000Z"));
    assert_eq!(v["meta"]["interval"], json!("minute"));
    // Non-zero counts 2,1,1 → average 4/3 = 1.33.
    assert_eq!(
        v["series"][0]["metrics"],
        json!({"sum": 4, "average": 1.33, "min": 0, "max": 2})
    );
}

/// hour (UTC): 2024-04-01 has 24 hourly buckets; events at 00:00, 05:59:59.999, 06:00 and
/// 23:59:59.999 → #0 1, #5 1, #6 1, #23 1.
pub async fn hour_interval_utc(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "h",
            &[
                "2024-04-01T00:00:00.000Z",
                "2024-04-01T05:59:59.999Z",
                "2024-04-01T06:00:00.000Z",
                "2024-04-01T23:59:59.999Z",
                "2024-04-02T00:00:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"h"}]&interval=hour&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        counts(&v, 0),
        json!([
            1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
        ])
    );
    assert_eq!(
        v["series"][0]["data"][6]["date"],
        json!("2024-04-01T06:00:00Z")
    );
    assert_eq!(v["meta"]["endDate"], json!("2024-04-01T23:59:59.999Z"));
}

/// week (Monday start). UTC window Wed 2024-04-03 … Tue 2024-04-16 → buckets Mon 04-01,
/// Mon 04-08, Mon 04-15 (the first bucket starts before the window; meta keeps the window).
///   04-02 (Tue, before the window) out; 04-03 10:00, Sun 04-07 23:59:59.999 → wk 04-01 (2);
///   Mon 04-08 00:00 → wk 04-08 (1); 04-16 12:00 → wk 04-15 (1); 04-17 out.
/// Stockholm across DST: window Mon 2024-03-25 … Sun 2024-04-07; weeks 03-25 (+01:00) and
/// 04-01 (+02:00). 03-31T21:59:59.999Z = Sun 23:59:59.999+02 → wk 03-25; 03-31T22:00Z =
/// Mon 00:00+02 → wk 04-01 (a +01:00 mistake would put it in the first week).
pub async fn week_interval_starts_monday(b: &dyn Backend) {
    let mut events = many(
        "w",
        &[
            "2024-04-02T12:00:00.000Z",
            "2024-04-03T10:00:00.000Z",
            "2024-04-07T23:59:59.999Z",
            "2024-04-08T00:00:00.000Z",
            "2024-04-16T12:00:00.000Z",
            "2024-04-17T00:00:00.000Z",
        ],
    );
    events.extend(many(
        "ws",
        &["2024-03-31T21:59:59.999Z", "2024-03-31T22:00:00.000Z"],
    ));
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"w"}]&interval=week&startDate=2024-04-03&endDate=2024-04-16"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-04-01T00:00:00Z", "count": 2},
            {"date": "2024-04-08T00:00:00Z", "count": 1},
            {"date": "2024-04-15T00:00:00Z", "count": 1}
        ])
    );
    assert_eq!(
        v["meta"],
        json!({
            "startDate": "2024-04-03T00:00:00.000Z",
            "endDate": "2024-04-16T23:59:59.999Z",
            "interval": "week",
            "timezone": "UTC",
            "totalSeries": 1
        })
    );

    let s = run(
        &store,
        r#"events=[{"name":"ws"}]&interval=week&startDate=2024-03-25&endDate=2024-04-07"#,
        Stockholm,
        NOW,
    )
    .await;
    assert_eq!(
        s["series"][0]["data"],
        json!([
            {"date": "2024-03-25T00:00:00+01:00", "count": 1},
            {"date": "2024-04-01T00:00:00+02:00", "count": 1}
        ])
    );
}

/// month in Stockholm: window 2024-01-15 … 2024-04-02 → buckets Jan, Feb, Mar (+01:00) and
/// Apr (+02:00).
///   01-14T22:59:59.999Z out (01-14 23:59 local); 01-14T23:00Z (01-15 00:00) and
///   01-31T22:59:59.999Z → Jan (2); 01-31T23:00Z (Feb 1 00:00) and 02-29 → Feb (2);
///   03-31T21:59:59.999Z (Mar 31 23:59:59.999+02) → Mar (1); 03-31T22:00Z (Apr 1 00:00+02)
///   and 04-02T21:59:59.999Z → Apr (2); 04-02T22:00Z out.
pub async fn month_interval_stockholm(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "m",
            &[
                "2024-01-14T22:59:59.999Z",
                "2024-01-14T23:00:00.000Z",
                "2024-01-31T22:59:59.999Z",
                "2024-01-31T23:00:00.000Z",
                "2024-02-29T12:00:00.000Z",
                "2024-03-31T21:59:59.999Z",
                "2024-03-31T22:00:00.000Z",
                "2024-04-02T21:59:59.999Z",
                "2024-04-02T22:00:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"m"}]&interval=month&startDate=2024-01-15&endDate=2024-04-02"#,
        Stockholm,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-01-01T00:00:00+01:00", "count": 2},
            {"date": "2024-02-01T00:00:00+01:00", "count": 2},
            {"date": "2024-03-01T00:00:00+01:00", "count": 1},
            {"date": "2024-04-01T00:00:00+02:00", "count": 2}
        ])
    );
    assert_eq!(
        v["meta"],
        json!({
            "startDate": "2024-01-15T00:00:00.000+01:00",
            "endDate": "2024-04-02T23:59:59.999+02:00",
            "interval": "month",
            "timezone": "Europe/Stockholm",
            "totalSeries": 1
        })
    );
}

/// A half-hour offset (Asia/Kolkata, +05:30, no DST): hourly buckets start on local hour
/// marks and days at local midnight (18:30Z the day before).
///   hourly, 2024-04-01 10:00 … 11:59:59.999 local = 04:30Z … 06:29:59.999Z:
///     04:29:59.999Z (09:59 local) out; 04:30Z → 10:00 (1); 05:29:59.999Z → 10:00 (2);
///     05:30Z → 11:00 (1).
///   monthly, 2024-03-15 … 2024-04-15: 03-31T18:29:59.999Z (Mar 31 23:59:59.999) → Mar;
///     03-31T18:30Z (Apr 1 00:00) and the four 04-01 events above → Apr (5).
pub async fn half_hour_offset_buckets_kolkata(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "k",
            &[
                "2024-04-01T04:29:59.999Z",
                "2024-04-01T04:30:00.000Z",
                "2024-04-01T05:29:59.999Z",
                "2024-04-01T05:30:00.000Z",
                "2024-03-31T18:29:59.999Z",
                "2024-03-31T18:30:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"k"}]&interval=hour&startDate=2024-04-01T10:00:00&endDate=2024-04-01T11:59:59.999&timezone=Asia/Kolkata"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-04-01T10:00:00+05:30", "count": 2},
            {"date": "2024-04-01T11:00:00+05:30", "count": 1}
        ])
    );
    assert_eq!(
        v["meta"]["startDate"],
        json!("2024-04-01T10:00:00.000+05:30")
    );
    assert_eq!(v["meta"]["endDate"], json!("2024-04-01T11:59:59.999+05:30"));

    let m = run(
        &store,
        r#"events=[{"name":"k"}]&interval=month&startDate=2024-03-15&endDate=2024-04-15&timezone=Asia/Kolkata"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        m["series"][0]["data"],
        json!([
            {"date": "2024-03-01T00:00:00+05:30", "count": 1},
            {"date": "2024-04-01T00:00:00+05:30", "count": 5}
        ])
    );
}

/// A day that has no local midnight (America/Santiago, 2024-09-08: 00:00-04:00 jumps to
/// 01:00-03:00, both 04:00Z). The day's bucket starts at its first instant, 01:00-03:00.
///   09-08T03:59:59.999Z (09-07 23:59:59.999-04:00) → 09-07; 09-08T04:00Z → 09-08;
///   09-09T02:59:59.999Z (09-08 23:59:59.999-03:00) → 09-08; 09-09T03:00Z out.
pub async fn day_without_local_midnight_santiago(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "s",
            &[
                "2024-09-08T03:59:59.999Z",
                "2024-09-08T04:00:00.000Z",
                "2024-09-09T02:59:59.999Z",
                "2024-09-09T03:00:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"s"}]&startDate=2024-09-07&endDate=2024-09-08&timezone=America/Santiago"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-09-07T00:00:00-04:00", "count": 1},
            {"date": "2024-09-08T01:00:00-03:00", "count": 2}
        ])
    );
    assert_eq!(
        v["meta"]["startDate"],
        json!("2024-09-07T00:00:00.000-04:00")
    );
    assert_eq!(v["meta"]["endDate"], json!("2024-09-08T23:59:59.999-03:00"));
}
