//! §4.3 daylight saving: daily and hourly buckets across Stockholm's clock changes.

use super::*;

/// Daily buckets over the 23-hour day 2024-03-31 in Europe/Stockholm (clocks jump from
/// 02:00+01:00 to 03:00+02:00). Window 2024-03-30T00:00+01:00 (= 03-29T23:00Z) through
/// 2024-04-01T23:59:59.999+02:00 (= 04-01T21:59:59.999Z). Local midnights in UTC:
/// 03-30 → 03-29T23:00Z, 03-31 → 03-30T23:00Z, 04-01 → 03-31T22:00Z (offset now +2).
///   03-29T22:59:59.999Z  out (03-29 23:59:59.999 local)
///   03-29T23:00Z, 03-30T22:59:59.999Z → 03-30            = 2
///   03-30T23:00Z, 03-31T21:59:59.999Z → 03-31            = 2
///   03-31T22:00Z (a +01:00 mistake would say 03-31 23:00), 22:30Z, 04-01T21:59:59.999Z
///                                      → 04-01           = 3
///   04-01T22:00Z         out (04-02 00:00 local)
/// metrics: sum 7, average 7/3 = 2.33, min 2, max 3.
pub async fn dst_spring_forward_daily_buckets_stockholm(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "screen_view",
            &[
                "2024-03-29T22:59:59.999Z",
                "2024-03-29T23:00:00.000Z",
                "2024-03-30T22:59:59.999Z",
                "2024-03-30T23:00:00.000Z",
                "2024-03-31T21:59:59.999Z",
                "2024-03-31T22:00:00.000Z",
                "2024-03-31T22:30:00.000Z",
                "2024-04-01T21:59:59.999Z",
                "2024-04-01T22:00:00.000Z",
            ],
        ),
    )
    .await;
    let qs =
        r#"events=[{"name":"screen_view"}]&interval=day&startDate=2024-03-30&endDate=2024-04-01"#;
    let v = run(&store, qs, Stockholm, "2024-04-10T00:00:00Z").await;
    let expected = json!({
        "series": [{
            "id": "screen-view",
            "names": ["screen_view"],
            "event": {"name": "screen_view", "displayName": "screen_view"},
            "breakdowns": {},
            "metrics": {"sum": 7, "average": 2.33, "min": 2, "max": 3},
            "data": [
                {"date": "2024-03-30T00:00:00+01:00", "count": 2},
                {"date": "2024-03-31T00:00:00+01:00", "count": 2},
                {"date": "2024-04-01T00:00:00+02:00", "count": 3}
            ]
        }],
        "metrics": {"sum": 7, "average": 2.33, "min": 2, "max": 3},
        "meta": {
            "startDate": "2024-03-30T00:00:00.000+01:00",
            "endDate": "2024-04-01T23:59:59.999+02:00",
            "interval": "day",
            "timezone": "Europe/Stockholm",
            "totalSeries": 1
        }
    });
    assert_eq!(v, expected);

    // The `timezone` parameter overrides a UTC project timezone with the same result.
    let v2 = run(
        &store,
        &format!("{qs}&timezone=Europe/Stockholm"),
        UTC,
        "2024-04-10T00:00:00Z",
    )
    .await;
    assert_eq!(v2, expected);
}

/// Hourly buckets on 2024-10-27 in Europe/Stockholm, a 25-hour day (03:00+02:00 becomes
/// 02:00+01:00). Bucket i starts at 10-26T22:00Z + i hours; local labels 00:00+02, 01:00+02,
/// 02:00+02, 02:00+01, 03:00+01 … 23:00+01 (25 of them).
///   10-26T21:59:59.999Z out; 10-26T22:00Z → #0; 10-27T00:30Z (02:30+02) → #2;
///   10-27T01:00Z and 01:59:59.999Z (02:xx+01) → #3 (2); 10-27T22:59:59.999Z → #24;
///   10-27T23:00Z out.
/// metrics: sum 5, non-zero counts 1,1,2,1 → average 1.25, min 0, max 2.
/// Also the 23-hour spring day: 2024-03-31 has 23 hourly buckets, the third at 03:00+02:00.
pub async fn dst_fall_back_hourly_buckets_stockholm(b: &dyn Backend) {
    let mut events = many(
        "view",
        &[
            "2024-10-26T21:59:59.999Z",
            "2024-10-26T22:00:00.000Z",
            "2024-10-27T00:30:00.000Z",
            "2024-10-27T01:00:00.000Z",
            "2024-10-27T01:59:59.999Z",
            "2024-10-27T22:59:59.999Z",
            "2024-10-27T23:00:00.000Z",
        ],
    );
    // 2024-03-31T01:00Z is 03:00+02:00, the first hour after the gap.
    events.extend(many("spring", &["2024-03-31T01:00:00.000Z"]));
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"view"}]&interval=hour&startDate=2024-10-27&endDate=2024-10-27&timezone=Europe/Stockholm"#,
        UTC,
        "2024-11-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        dates(&v, 0),
        json!([
            "2024-10-27T00:00:00+02:00",
            "2024-10-27T01:00:00+02:00",
            "2024-10-27T02:00:00+02:00",
            "2024-10-27T02:00:00+01:00",
            "2024-10-27T03:00:00+01:00",
            "2024-10-27T04:00:00+01:00",
            "2024-10-27T05:00:00+01:00",
            "2024-10-27T06:00:00+01:00",
            "2024-10-27T07:00:00+01:00",
            "2024-10-27T08:00:00+01:00",
            "2024-10-27T09:00:00+01:00",
            "2024-10-27T10:00:00+01:00",
            "2024-10-27T11:00:00+01:00",
            "2024-10-27T12:00:00+01:00",
            "2024-10-27T13:00:00+01:00",
            "2024-10-27T14:00:00+01:00",
            "2024-10-27T15:00:00+01:00",
            "2024-10-27T16:00:00+01:00",
            "2024-10-27T17:00:00+01:00",
            "2024-10-27T18:00:00+01:00",
            "2024-10-27T19:00:00+01:00",
            "2024-10-27T20:00:00+01:00",
            "2024-10-27T21:00:00+01:00",
            "2024-10-27T22:00:00+01:00",
            "2024-10-27T23:00:00+01:00"
        ])
    );
    assert_eq!(
        counts(&v, 0),
        json!([
            1, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
        ])
    );
    assert_eq!(
        v["series"][0]["metrics"],
        json!({"sum": 5, "average": 1.25, "min": 0, "max": 2})
    );
    assert_eq!(
        v["meta"],
        json!({
            "startDate": "2024-10-27T00:00:00.000+02:00",
            "endDate": "2024-10-27T23:59:59.999+01:00",
            "interval": "hour",
            "timezone": "Europe/Stockholm",
            "totalSeries": 1
        })
    );

    let s = run(
        &store,
        r#"events=[{"name":"spring"}]&interval=hour&startDate=2024-03-31&endDate=2024-03-31"#,
        Stockholm,
        "2024-11-01T00:00:00Z",
    )
    .await;
    let data = s["series"][0]["data"].as_array().unwrap();
    assert_eq!(data.len(), 23);
    assert_eq!(
        data[1],
        json!({"date": "2024-03-31T01:00:00+01:00", "count": 0})
    );
    assert_eq!(
        data[2],
        json!({"date": "2024-03-31T03:00:00+02:00", "count": 1})
    );
    assert_eq!(
        data[22],
        json!({"date": "2024-03-31T23:00:00+02:00", "count": 0})
    );
}
