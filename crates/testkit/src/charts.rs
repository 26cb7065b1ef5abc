//! `GET /export/charts` semantics (contract §4.3, §4.4, §6) on every backend.
//!
//! Every expected value below is worked out by hand from the contract and written as a
//! literal; nothing is computed with the code under test. Each test's comment shows the
//! hand computation.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::*;
use chrono_tz::Europe::Stockholm;
use chrono_tz::Tz;
use chrono_tz::UTC;
use quarry_core::event::NewEvent;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Local helpers (data building and JSON picking only; no expectations are computed).

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// An event with a process-unique id.
fn e(name: &str, at: &str) -> NewEvent {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    ev(&format!("{name}-{n}"), name, at)
}

/// Events named `name` at each instant.
fn many(name: &str, times: &[&str]) -> Vec<NewEvent> {
    times.iter().map(|t| e(name, t)).collect()
}

/// `n` events named `name` at one instant, with a country.
fn in_country(name: &str, country: &str, at: &str, n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|_| NewEvent {
            country: country.into(),
            ..e(name, at)
        })
        .collect()
}

/// An event by a profile in a session.
fn by(name: &str, at: &str, profile: &str, session: &str) -> NewEvent {
    NewEvent {
        profile_id: profile.into(),
        session_id: session.into(),
        ..e(name, at)
    }
}

async fn db(b: &dyn Backend, events: Vec<NewEvent>) -> Box<dyn Db> {
    let store = b.fresh().await;
    if !events.is_empty() {
        store.insert_events(&events).await.unwrap();
    }
    store
}

/// The `count`s of series `i`.
fn counts(v: &Value, i: usize) -> Value {
    Value::Array(
        v["series"][i]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["count"].clone())
            .collect(),
    )
}

/// The `date`s of series `i`.
fn dates(v: &Value, i: usize) -> Value {
    Value::Array(
        v["series"][i]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["date"].clone())
            .collect(),
    )
}

/// The `names` of every series, in response order.
fn all_names(v: &Value) -> Value {
    Value::Array(
        v["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["names"].clone())
            .collect(),
    )
}

/// The `id` of every series, in response order.
fn all_ids(v: &Value) -> Value {
    Value::Array(
        v["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect(),
    )
}

async fn run(store: &dyn Db, qs: &str, tz: Tz, now: &str) -> Value {
    chart(store, qs, tz, now).await
}

const NOW: &str = "2024-05-15T10:00:00.000Z";

// ---------------------------------------------------------------------------------------
// §4.3 daylight saving

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

// ---------------------------------------------------------------------------------------
// §6 intervals

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

// ---------------------------------------------------------------------------------------
// §6.1 ranges

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
    const NOW_PLUS: &str = "2024-05-15T10:00:00.001Z";
    let cases = [
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
    let mut events = Vec::new();
    for (i, c) in cases.iter().enumerate() {
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

    for (i, c) in cases.iter().enumerate() {
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

// ---------------------------------------------------------------------------------------
// §6.3 buckets, series, labels

/// No data at all: one all-zero series per config (no breakdowns), every bucket present.
/// With a breakdown and no data there is no series, totalSeries 0 and top metrics all 0.
pub async fn no_data_yields_one_all_zero_series(b: &dyn Backend) {
    let store = db(b, Vec::new()).await;
    let v = run(
        &store,
        r#"events=[{"name":"nothing"}]&startDate=2024-04-01&endDate=2024-04-03"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v,
        json!({
            "series": [{
                "id": "nothing",
                "names": ["nothing"],
                "event": {"name": "nothing", "displayName": "nothing"},
                "breakdowns": {},
                "metrics": {"sum": 0, "average": 0, "min": 0, "max": 0},
                "data": [
                    {"date": "2024-04-01T00:00:00Z", "count": 0},
                    {"date": "2024-04-02T00:00:00Z", "count": 0},
                    {"date": "2024-04-03T00:00:00Z", "count": 0}
                ]
            }],
            "metrics": {"sum": 0, "average": 0, "min": 0, "max": 0},
            "meta": {
                "startDate": "2024-04-01T00:00:00.000Z",
                "endDate": "2024-04-03T23:59:59.999Z",
                "interval": "day",
                "timezone": "UTC",
                "totalSeries": 1
            }
        })
    );

    let b = run(
        &store,
        r#"events=[{"name":"nothing"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-03"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(b["series"], json!([]));
    assert_eq!(
        b["metrics"],
        json!({"sum": 0, "average": 0, "min": 0, "max": 0})
    );
    assert_eq!(b["meta"]["totalSeries"], json!(0));
}

/// Gap filling: 5 daily buckets 04-01 … 04-05 with events only on 04-02 (3) and 04-04 (1):
/// counts [0,3,0,1,0]; sum 4, average of non-zero (3+1)/2 = 2, min 0, max 3.
pub async fn empty_buckets_are_filled_with_zero(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "g",
            &[
                "2024-04-02T01:00:00.000Z",
                "2024-04-02T02:00:00.000Z",
                "2024-04-02T23:59:59.999Z",
                "2024-04-04T12:00:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"g"}]&startDate=2024-04-01&endDate=2024-04-05"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-04-01T00:00:00Z", "count": 0},
            {"date": "2024-04-02T00:00:00Z", "count": 3},
            {"date": "2024-04-03T00:00:00Z", "count": 0},
            {"date": "2024-04-04T00:00:00Z", "count": 1},
            {"date": "2024-04-05T00:00:00Z", "count": 0}
        ])
    );
    assert_eq!(
        v["series"][0]["metrics"],
        json!({"sum": 4, "average": 2, "min": 0, "max": 3})
    );
}

/// `(not set)` for an empty string column and for empty or missing properties, in `names`
/// and `breakdowns`. One day (UTC), event "view":
///   country: SE ×2, "" ×2 → tie at 2; names ["view","(not set)"] < ["view","SE"] because
///   '(' (U+0028) < 'S' → order (not set), SE; ids view-not-set, view-se.
///   properties.plan: "pro" ×1, "" ×1, missing ×2 → (not set) 3, pro 1.
pub async fn not_set_labels_for_empty_and_missing_values(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let events = vec![
        NewEvent {
            country: "SE".into(),
            properties: props(&[("plan", "pro")]),
            ..e("view", at)
        },
        NewEvent {
            country: "SE".into(),
            properties: props(&[("plan", "")]),
            ..e("view", at)
        },
        NewEvent {
            properties: props(&[("other", "x")]),
            ..e("view", at)
        },
        e("view", at),
        NewEvent {
            properties: props(&[("__query.utm_source", "news")]),
            ..e("utm", at)
        },
        NewEvent {
            properties: props(&[("utm_source", "not-the-shorthand")]),
            ..e("utm", at)
        },
    ];
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v,
        json!({
            "series": [
                {
                    "id": "view-not-set",
                    "names": ["view", "(not set)"],
                    "event": {"name": "view", "displayName": "view"},
                    "breakdowns": {"country": "(not set)"},
                    "metrics": {"sum": 2, "average": 2, "min": 2, "max": 2},
                    "data": [{"date": "2024-04-01T00:00:00Z", "count": 2}]
                },
                {
                    "id": "view-se",
                    "names": ["view", "SE"],
                    "event": {"name": "view", "displayName": "view"},
                    "breakdowns": {"country": "SE"},
                    "metrics": {"sum": 2, "average": 2, "min": 2, "max": 2},
                    "data": [{"date": "2024-04-01T00:00:00Z", "count": 2}]
                }
            ],
            "metrics": {"sum": 4, "average": 2, "min": 2, "max": 2},
            "meta": {
                "startDate": "2024-04-01T00:00:00.000Z",
                "endDate": "2024-04-01T23:59:59.999Z",
                "interval": "day",
                "timezone": "UTC",
                "totalSeries": 2
            }
        })
    );

    let p = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"properties.plan"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&p),
        json!([["view", "(not set)"], ["view", "pro"]])
    );
    assert_eq!(
        p["series"][0]["breakdowns"],
        json!({"properties.plan": "(not set)"})
    );
    assert_eq!(
        p["series"][1]["breakdowns"],
        json!({"properties.plan": "pro"})
    );
    assert_eq!(counts(&p, 0), json!([3]));
    assert_eq!(counts(&p, 1), json!([1]));
    assert_eq!(all_ids(&p), json!(["view-not-set", "view-pro"]));

    // `utm_source` is shorthand for properties.__query.utm_source, keyed as written.
    let u = run(
        &store,
        r#"events=[{"name":"utm"}]&breakdowns=[{"name":"utm_source"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&u),
        json!([["utm", "(not set)"], ["utm", "news"]])
    );
    assert_eq!(u["series"][1]["breakdowns"], json!({"utm_source": "news"}));
}

/// Numeric breakdowns print the shortest decimal form.
///   duration: 1500 ×2, 0 ×1, 250 ×1 → "1500" (2) first, then the tie "0" < "250".
///     (0 is a value, not "empty": it prints "0".)
///   longitude: 18.07, 18.0, -0.5, null → "18.07", "18", "-0.5", "(not set)"; all count 1,
///     so order by names: "(not set)" (U+0028) < "-0.5" (U+002D) < "18" < "18.07".
pub async fn numeric_breakdowns_print_shortest_decimals(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let events = vec![
        NewEvent {
            duration: 1500,
            longitude: Some(18.07),
            ..e("view", at)
        },
        NewEvent {
            duration: 1500,
            longitude: Some(18.0),
            ..e("view", at)
        },
        NewEvent {
            duration: 0,
            longitude: Some(-0.5),
            ..e("view", at)
        },
        NewEvent {
            duration: 250,
            longitude: None,
            ..e("view", at)
        },
    ];
    let store = db(b, events).await;
    let d = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"duration"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&d),
        json!([["view", "1500"], ["view", "0"], ["view", "250"]])
    );
    assert_eq!(d["series"][0]["breakdowns"], json!({"duration": "1500"}));
    assert_eq!(counts(&d, 0), json!([2]));

    let l = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"longitude"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&l),
        json!([
            ["view", "(not set)"],
            ["view", "-0.5"],
            ["view", "18"],
            ["view", "18.07"]
        ])
    );
    assert_eq!(
        all_ids(&l),
        json!(["view-not-set", "view-0-5", "view-18", "view-18-07"])
    );
    assert_eq!(l["series"][1]["breakdowns"], json!({"longitude": "-0.5"}));
}

/// A numeric breakdown value near zero must print in plain decimal notation, never with an
/// exponent (§6.3 "numeric columns appear in their shortest decimal form"; Greenwich
/// longitudes are realistic): longitude -0.00005 → "-0.00005", 0.0000001 → "0.0000001".
/// Both count 1; names order "-0.00005" ('-' U+002D) < "0.0000001".
pub async fn numeric_breakdown_never_uses_exponent_notation(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let events = vec![
        NewEvent {
            longitude: Some(-0.000_05),
            ..e("view", at)
        },
        NewEvent {
            longitude: Some(0.000_000_1),
            ..e("view", at)
        },
    ];
    let store = db(b, events).await;
    let l = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"longitude"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&l),
        json!([["view", "-0.00005"], ["view", "0.0000001"]])
    );
}

/// A numeric value whose shortest round-trip decimal needs 17 significant digits keeps
/// them: 0.1 + 0.2 = 0.30000000000000004 is a different value from 0.3, so the two are
/// two series, labelled "0.3" and "0.30000000000000004" (both count 1, in that order).
pub async fn numeric_breakdown_keeps_all_significant_digits(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let events = vec![
        NewEvent {
            longitude: Some(0.1 + 0.2),
            ..e("view", at)
        },
        NewEvent {
            longitude: Some(0.3),
            ..e("view", at)
        },
    ];
    let store = db(b, events).await;
    let l = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"longitude"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&l),
        json!([["view", "0.3"], ["view", "0.30000000000000004"]])
    );
    assert_eq!(counts(&l, 0), json!([1]));
    assert_eq!(counts(&l, 1), json!([1]));
}

// ---------------------------------------------------------------------------------------
// §6.2 segments

/// The "view" data set for the segment tests (UTC, 04-01 and 04-02):
///   04-01: u1/s1, u1/s1, u2/s2, u3/s3, ""/s3, ""/""
///   04-02: u1/s4, u3/"", u3/s5, u1/s4, u4/s4
///   plus out-of-window u2 on 04-03 and a non-matching "other" by u2 on 04-02.
fn segment_events() -> Vec<NewEvent> {
    vec![
        by("view", "2024-04-01T08:00:00.000Z", "u1", "s1"),
        by("view", "2024-04-01T09:00:00.000Z", "u1", "s1"),
        by("view", "2024-04-01T10:00:00.000Z", "u2", "s2"),
        by("view", "2024-04-01T11:00:00.000Z", "u3", "s3"),
        by("view", "2024-04-01T12:00:00.000Z", "", "s3"),
        by("view", "2024-04-01T13:00:00.000Z", "", ""),
        by("view", "2024-04-02T08:00:00.000Z", "u1", "s4"),
        by("view", "2024-04-02T09:00:00.000Z", "u3", ""),
        by("view", "2024-04-02T10:00:00.000Z", "u3", "s5"),
        by("view", "2024-04-02T11:00:00.000Z", "u1", "s4"),
        by("view", "2024-04-02T12:00:00.000Z", "u4", "s4"),
        by("view", "2024-04-03T09:00:00.000Z", "u2", "s9"),
        by("other", "2024-04-02T13:00:00.000Z", "u2", "s2"),
    ]
}

/// Each segment over `segment_events`, window 04-01 … 04-02:
///   event:   [6, 5]; sum 11, average 5.5, min 5, max 6
///   user:    04-01 {u1,u2,u3} = 3; 04-02 {u1,u3,u4} = 3 → [3, 3]
///   session: 04-01 {s1,s2,s3} = 3; 04-02 {s4,s5} = 2 → [3, 2]; average 2.5
///   user_average: 04-01 4 events with a profile / 3 users = 1.33;
///                 04-02 5 / 3 = 1.67 → sum 3, average 1.5, min 1.33, max 1.67
///   one_event_per_user: latest matching event in the window per user: u1 04-02 11:00,
///     u2 04-01 10:00 (its 04-03 event is outside, its "other" does not match),
///     u3 04-02 10:00, u4 04-02 12:00 → [1, 3]; sum 4, average 2
pub async fn count_segments(b: &dyn Backend) {
    let store = db(b, segment_events()).await;
    let cases = [
        (
            "event",
            json!([6, 5]),
            json!({"sum": 11, "average": 5.5, "min": 5, "max": 6}),
        ),
        (
            "user",
            json!([3, 3]),
            json!({"sum": 6, "average": 3, "min": 3, "max": 3}),
        ),
        (
            "session",
            json!([3, 2]),
            json!({"sum": 5, "average": 2.5, "min": 2, "max": 3}),
        ),
        (
            "user_average",
            json!([1.33, 1.67]),
            json!({"sum": 3, "average": 1.5, "min": 1.33, "max": 1.67}),
        ),
        (
            "one_event_per_user",
            json!([1, 3]),
            json!({"sum": 4, "average": 2, "min": 1, "max": 3}),
        ),
    ];
    for (segment, data, metrics) in cases {
        let v = run(
            &store,
            &format!(
                r#"events=[{{"name":"view","segment":"{segment}"}}]&startDate=2024-04-01&endDate=2024-04-02"#
            ),
            UTC,
            NOW,
        )
        .await;
        assert_eq!(counts(&v, 0), data, "segment {segment}");
        assert_eq!(v["series"][0]["metrics"], metrics, "segment {segment}");
        assert_eq!(v["metrics"], metrics, "segment {segment}");
    }
}

/// user_average is 0 in a bucket whose events have no profile (no division by zero):
/// 04-01 two anonymous events → 0; 04-02 u1 ×2, u2 ×1 → 3/2 = 1.5.
pub async fn user_average_without_profiles_is_zero(b: &dyn Backend) {
    let store = db(
        b,
        vec![
            by("view", "2024-04-01T08:00:00.000Z", "", "s1"),
            by("view", "2024-04-01T09:00:00.000Z", "", "s1"),
            by("view", "2024-04-02T08:00:00.000Z", "u1", ""),
            by("view", "2024-04-02T09:00:00.000Z", "u1", ""),
            by("view", "2024-04-02T10:00:00.000Z", "u2", ""),
        ],
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"view","segment":"user_average"}]&startDate=2024-04-01&endDate=2024-04-02"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(counts(&v, 0), json!([0, 1.5]));
}

/// one_event_per_user with a country breakdown: each user lands in the bucket AND the
/// breakdown value of their latest matching event in the window.
///   u1: 04-01 SE, 04-02 09:00 DE (latest)          → DE, 04-02
///   u2: 04-01 11:00 SE (latest in window); 04-03 DE is outside → SE, 04-01
///   u3: 04-01 DE, 04-02 10:00 SE (latest)          → SE, 04-02
///   anonymous: 04-01 NO — not counted, but the combination NO has a matching event in the
///   window, so its series exists with zeros.
/// Series: SE [1,1] sum 2; DE [0,1] sum 1; NO [0,0] sum 0; totalSeries 3.
pub async fn one_event_per_user_uses_latest_event_bucket_and_breakdown(b: &dyn Backend) {
    let c = |country: &str, ev: NewEvent| NewEvent {
        country: country.into(),
        ..ev
    };
    let store = db(
        b,
        vec![
            c("SE", by("view", "2024-04-01T10:00:00.000Z", "u1", "")),
            c("DE", by("view", "2024-04-02T09:00:00.000Z", "u1", "")),
            c("SE", by("view", "2024-04-01T11:00:00.000Z", "u2", "")),
            c("DE", by("view", "2024-04-03T09:00:00.000Z", "u2", "")),
            c("DE", by("view", "2024-04-01T09:00:00.000Z", "u3", "")),
            c("SE", by("view", "2024-04-02T10:00:00.000Z", "u3", "")),
            c("NO", by("view", "2024-04-01T12:00:00.000Z", "", "")),
        ],
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"view","segment":"one_event_per_user"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-02"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&v),
        json!([["view", "SE"], ["view", "DE"], ["view", "NO"]])
    );
    assert_eq!(counts(&v, 0), json!([1, 1]));
    assert_eq!(counts(&v, 1), json!([0, 1]));
    assert_eq!(counts(&v, 2), json!([0, 0]));
    assert_eq!(v["meta"]["totalSeries"], json!(3));
    // Top: sum 3; non-zero averages SE 1, DE 1 → 1; min 0; max 1.
    assert_eq!(
        v["metrics"],
        json!({"sum": 3, "average": 1, "min": 0, "max": 1})
    );
}

/// property_* over `properties.total`. Only texts matching ^-?[0-9]+(\.[0-9]+)?$ count.
///   04-01 values: "10", "2.5", "-1" (numbers); "abc", "", missing, "1e3", " 5", "5 ",
///         "+5", ".5", "5.", "NaN" (skipped)
///     sum 10 + 2.5 − 1 = 11.5; average 11.5 / 3 = 3.8333 → 3.83; min −1; max 10
///   04-02 values: "4", "abc" → sum 4, average 4, min 4, max 4
///   04-03 values: "abc" only → 0 for every property segment
/// Series metrics over the three buckets:
///   sum  [11.5, 4, 0] → sum 15.5, average (11.5+4)/2 = 7.75, min 0, max 11.5
///   avg  [3.83, 4, 0] → sum 7.83, average 7.83/2 = 3.915 → 3.92, min 0, max 4
///   min  [-1, 4, 0]   → sum 3, average (−1+4)/2 = 1.5, min −1, max 4
///   max  [10, 4, 0]   → sum 14, average 7, min 0, max 10
pub async fn property_segments_skip_non_numbers(b: &dyn Backend) {
    let p = |at: &str, v: Option<&str>| NewEvent {
        properties: match v {
            Some(v) => props(&[("total", v)]),
            None => props(&[("other", "1")]),
        },
        ..e("purchase", at)
    };
    let d1 = "2024-04-01T12:00:00.000Z";
    let d2 = "2024-04-02T12:00:00.000Z";
    let d3 = "2024-04-03T12:00:00.000Z";
    let mut events: Vec<NewEvent> = [
        Some("10"),
        Some("2.5"),
        Some("-1"),
        Some("abc"),
        Some(""),
        None,
        Some("1e3"),
        Some(" 5"),
        Some("5 "),
        Some("+5"),
        Some(".5"),
        Some("5."),
        Some("NaN"),
    ]
    .into_iter()
    .map(|v| p(d1, v))
    .collect();
    events.push(p(d2, Some("4")));
    events.push(p(d2, Some("abc")));
    events.push(p(d3, Some("abc")));
    let store = db(b, events).await;
    let cases = [
        (
            "property_sum",
            json!([11.5, 4, 0]),
            json!({"sum": 15.5, "average": 7.75, "min": 0, "max": 11.5}),
        ),
        (
            "property_average",
            json!([3.83, 4, 0]),
            json!({"sum": 7.83, "average": 3.92, "min": 0, "max": 4}),
        ),
        (
            "property_min",
            json!([-1, 4, 0]),
            json!({"sum": 3, "average": 1.5, "min": -1, "max": 4}),
        ),
        (
            "property_max",
            json!([10, 4, 0]),
            json!({"sum": 14, "average": 7, "min": 0, "max": 10}),
        ),
    ];
    for (segment, data, metrics) in cases {
        let v = run(
            &store,
            &format!(
                r#"events=[{{"name":"purchase","segment":"{segment}","property":"properties.total"}}]&startDate=2024-04-01&endDate=2024-04-03"#
            ),
            UTC,
            NOW,
        )
        .await;
        assert_eq!(counts(&v, 0), data, "segment {segment}");
        assert_eq!(v["series"][0]["metrics"], metrics, "segment {segment}");
    }
}

/// The data of the series named `names` (found by name: configs sort among each other).
fn data_of(v: &Value, names: Value) -> Value {
    let series = v["series"].as_array().unwrap();
    let found = series.iter().position(|s| s["names"] == names);
    let i = found.unwrap_or_else(|| panic!("no series {names} in {}", v["series"]));
    counts(v, i)
}

/// `segment_events` with countries, and purchases with a `total`:
///   view  04-01: u1/s1 SE, u1/s1 DE, u2/s2 SE, u3/s3 SE, ""/s3 SE, ""/"" DE
///   view  04-02: u1/s4 SE, u3/"" DE, u3/s5 SE, u1/s4 SE, u4/s4 DE
///   purchase 04-01: u1 "10", u2 "abc"; 04-02: u1 "4", "" "2.5"
fn mixed_segment_events() -> Vec<NewEvent> {
    let countries = [
        "SE", "DE", "SE", "SE", "SE", "DE", "SE", "DE", "SE", "SE", "DE",
    ];
    let mut events: Vec<NewEvent> = segment_events()
        .into_iter()
        .enumerate()
        .map(|(i, ev)| NewEvent {
            country: countries.get(i).copied().unwrap_or("SE").into(),
            ..ev
        })
        .collect();
    for (at, profile, total) in [
        ("2024-04-01T14:00:00.000Z", "u1", "10"),
        ("2024-04-01T15:00:00.000Z", "u2", "abc"),
        ("2024-04-02T14:00:00.000Z", "u1", "4"),
        ("2024-04-02T15:00:00.000Z", "", "2.5"),
    ] {
        events.push(NewEvent {
            properties: props(&[("total", total)]),
            ..by("purchase", at, profile, "")
        });
    }
    events
}

/// Every segment in one request, each config counting its own ids (the distinct counts
/// of one config must not see another's rows or ids), over `mixed_segment_events`,
/// 04-01 … 04-02. View configs as in `count_segments`; purchases:
///   p_sum [10, 6.5]; p_avg [10, 3.25]; p_min [10, 2.5]; p_max [10, 4];
///   p_user 04-01 {u1,u2} = 2, 04-02 {u1} = 1 → [2, 1]
pub async fn every_segment_in_one_request(b: &dyn Backend) {
    let store = db(b, mixed_segment_events()).await;
    let qs = r#"events=[{"name":"view","displayName":"event"},{"name":"view","segment":"user","displayName":"user"},{"name":"view","segment":"session","displayName":"session"},{"name":"view","segment":"user_average","displayName":"user_average"},{"name":"view","segment":"one_event_per_user","displayName":"oepu"},{"name":"purchase","segment":"property_sum","property":"properties.total","displayName":"p_sum"},{"name":"purchase","segment":"property_average","property":"properties.total","displayName":"p_avg"},{"name":"purchase","segment":"property_min","property":"properties.total","displayName":"p_min"},{"name":"purchase","segment":"property_max","property":"properties.total","displayName":"p_max"},{"name":"purchase","segment":"user","displayName":"p_user"}]&startDate=2024-04-01&endDate=2024-04-02"#;
    let v = run(&store, qs, UTC, NOW).await;
    for (name, data) in [
        ("event", json!([6, 5])),
        ("user", json!([3, 3])),
        ("session", json!([3, 2])),
        ("user_average", json!([1.33, 1.67])),
        ("oepu", json!([1, 3])),
        ("p_sum", json!([10, 6.5])),
        ("p_avg", json!([10, 3.25])),
        ("p_min", json!([10, 2.5])),
        ("p_max", json!([10, 4])),
        ("p_user", json!([2, 1])),
    ] {
        assert_eq!(data_of(&v, json!([name])), data, "series {name}");
    }
    assert_eq!(v["meta"]["totalSeries"], json!(10));
}

/// The same with a country breakdown, per config and country (04-01, 04-02):
///   event:        SE [4, 3]          DE [2, 2]
///   user:         SE {u1,u2,u3} {u1,u3} = [3, 2]      DE {u1} {u3,u4} = [1, 2]
///   session:      SE {s1,s2,s3} {s4,s5} = [3, 2]      DE {s1} {s4} = [1, 1]
///   user_average: SE 3/3, 3/2 = [1, 1.5]              DE 1/1, 2/2 = [1, 1]
///   oepu: latest per user: u1 04-02 SE, u2 04-01 SE, u3 04-02 SE, u4 04-02 DE
///                 SE [1, 2]          DE [0, 1]
///   p_sum (purchases have no country): (not set) [10, 6.5]
pub async fn every_segment_in_one_request_with_breakdown(b: &dyn Backend) {
    let store = db(b, mixed_segment_events()).await;
    let qs = r#"events=[{"name":"view","displayName":"event"},{"name":"view","segment":"user","displayName":"user"},{"name":"view","segment":"session","displayName":"session"},{"name":"view","segment":"user_average","displayName":"user_average"},{"name":"view","segment":"one_event_per_user","displayName":"oepu"},{"name":"purchase","segment":"property_sum","property":"properties.total","displayName":"p_sum"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-02"#;
    let v = run(&store, qs, UTC, NOW).await;
    for (name, country, data) in [
        ("event", "SE", json!([4, 3])),
        ("event", "DE", json!([2, 2])),
        ("user", "SE", json!([3, 2])),
        ("user", "DE", json!([1, 2])),
        ("session", "SE", json!([3, 2])),
        ("session", "DE", json!([1, 1])),
        ("user_average", "SE", json!([1, 1.5])),
        ("user_average", "DE", json!([1, 1])),
        ("oepu", "SE", json!([1, 2])),
        ("oepu", "DE", json!([0, 1])),
        ("p_sum", "(not set)", json!([10, 6.5])),
    ] {
        assert_eq!(
            data_of(&v, json!([name, country])),
            data,
            "series {name}/{country}"
        );
    }
    assert_eq!(v["meta"]["totalSeries"], json!(11));
}

/// Non-integer bucket values are rounded to 2 decimals, halves away from zero, on the
/// decimal value (so 2.675 → 2.68 and 1.005 → 1.01 even though the nearest binary doubles
/// lie just below). One value per day, property_sum over `properties.total`:
///   "2.675" → 2.68; "1.005" → 1.01; "-0.125" → -0.13; "0.005" → 0.01; "007" → 7.
pub async fn property_values_round_half_away_from_zero(b: &dyn Backend) {
    let mk = |at: &str, v: &str| NewEvent {
        properties: props(&[("total", v)]),
        ..e("r", at)
    };
    let store = db(
        b,
        vec![
            mk("2024-04-01T12:00:00.000Z", "2.675"),
            mk("2024-04-02T12:00:00.000Z", "1.005"),
            mk("2024-04-03T12:00:00.000Z", "-0.125"),
            mk("2024-04-04T12:00:00.000Z", "0.005"),
            mk("2024-04-05T12:00:00.000Z", "007"),
        ],
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"r","segment":"property_sum","property":"properties.total"}]&startDate=2024-04-01&endDate=2024-04-05"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(counts(&v, 0), json!([2.68, 1.01, -0.13, 0.01, 7]));
}

// ---------------------------------------------------------------------------------------
// §6.3 breakdowns, top-N, sorting

/// One day (UTC), country totals: SE 5, DE 3, US 3, "" 2 → (not set), FR 1.
/// Sorted by sum, ties by names: SE, DE, US ("DE" < "US"), (not set), FR; totalSeries 5.
///   limit=2            → SE, DE; top metrics sum 8, average (5+3)/2 = 4, min 3, max 5
///   limit=2&offset=1   → DE, US
///   limit=1&offset=1   → DE (SQL keeps the top 2 = SE, DE — the DE/US tie broken by name)
///   offset=3           → (not set), FR
///   default            → all 5
pub async fn breakdown_top_n_limit_offset_and_total_series(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let mut events = in_country("view", "SE", at, 5);
    events.extend(in_country("view", "US", at, 3));
    events.extend(in_country("view", "DE", at, 3));
    events.extend(in_country("view", "", at, 2));
    events.extend(in_country("view", "FR", at, 1));
    let store = db(b, events).await;
    let base = r#"events=[{"name":"view"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-01"#;
    let get = |extra: &'static str| {
        let store: &dyn Db = &*store;
        async move { run(store, &format!("{base}{extra}"), UTC, NOW).await }
    };

    let v = get("&limit=2").await;
    assert_eq!(
        v,
        json!({
            "series": [
                {
                    "id": "view-se",
                    "names": ["view", "SE"],
                    "event": {"name": "view", "displayName": "view"},
                    "breakdowns": {"country": "SE"},
                    "metrics": {"sum": 5, "average": 5, "min": 5, "max": 5},
                    "data": [{"date": "2024-04-01T00:00:00Z", "count": 5}]
                },
                {
                    "id": "view-de",
                    "names": ["view", "DE"],
                    "event": {"name": "view", "displayName": "view"},
                    "breakdowns": {"country": "DE"},
                    "metrics": {"sum": 3, "average": 3, "min": 3, "max": 3},
                    "data": [{"date": "2024-04-01T00:00:00Z", "count": 3}]
                }
            ],
            "metrics": {"sum": 8, "average": 4, "min": 3, "max": 5},
            "meta": {
                "startDate": "2024-04-01T00:00:00.000Z",
                "endDate": "2024-04-01T23:59:59.999Z",
                "interval": "day",
                "timezone": "UTC",
                "totalSeries": 5
            }
        })
    );

    let v = get("&limit=2&offset=1").await;
    assert_eq!(all_names(&v), json!([["view", "DE"], ["view", "US"]]));
    assert_eq!(v["meta"]["totalSeries"], json!(5));

    let v = get("&limit=1&offset=1").await;
    assert_eq!(all_names(&v), json!([["view", "DE"]]));

    let v = get("&offset=3").await;
    assert_eq!(
        all_names(&v),
        json!([["view", "(not set)"], ["view", "FR"]])
    );
    assert_eq!(v["meta"]["totalSeries"], json!(5));
    // (not set) 2 + FR 1 = 3; averages 2 and 1 → 1.5; min 1; max 2.
    assert_eq!(
        v["metrics"],
        json!({"sum": 3, "average": 1.5, "min": 1, "max": 2})
    );

    let v = get("").await;
    assert_eq!(
        all_names(&v),
        json!([
            ["view", "SE"],
            ["view", "DE"],
            ["view", "US"],
            ["view", "(not set)"],
            ["view", "FR"]
        ])
    );

    // offset past the end: no series, totals still counted, metrics all 0.
    let v = get("&offset=10").await;
    assert_eq!(v["series"], json!([]));
    assert_eq!(v["meta"]["totalSeries"], json!(5));
    assert_eq!(
        v["metrics"],
        json!({"sum": 0, "average": 0, "min": 0, "max": 0})
    );
}

/// Ties are broken by code point, not by locale, both in SQL's top-N choice and in the
/// final order. Cities, 2 events each: "Oslo" (O U+004F) < "Zürich" (Z U+005A) <
/// "berlin" (b U+0062) < "Åre" (Å U+00C5). limit=2 → Oslo, Zürich. Ids transliterate:
/// Zürich → zurich, Åre → are.
pub async fn ties_are_broken_by_code_point(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let mut events = Vec::new();
    for city in ["berlin", "Åre", "Zürich", "Oslo"] {
        for _ in 0..2 {
            events.push(NewEvent {
                city: city.into(),
                ..e("view", at)
            });
        }
    }
    let store = db(b, events).await;
    let base = r#"events=[{"name":"view"}]&breakdowns=[{"name":"city"}]&startDate=2024-04-01&endDate=2024-04-01"#;
    let v = run(&store, base, UTC, NOW).await;
    assert_eq!(
        all_names(&v),
        json!([
            ["view", "Oslo"],
            ["view", "Zürich"],
            ["view", "berlin"],
            ["view", "Åre"]
        ])
    );
    assert_eq!(
        all_ids(&v),
        json!(["view-oslo", "view-zurich", "view-berlin", "view-are"])
    );
    let v = run(&store, &format!("{base}&limit=2"), UTC, NOW).await;
    assert_eq!(all_names(&v), json!([["view", "Oslo"], ["view", "Zürich"]]));
    assert_eq!(v["meta"]["totalSeries"], json!(4));
}

/// Two breakdowns (country, os) keyed as written; a camelCase field keeps its spelling.
///   (SE, iOS) ×3, (DE, Android) ×2, (DE, iOS) ×2, (SE, "") ×1
///   → SE/iOS 3; tie DE/Android vs DE/iOS: "Android" < "iOS" ('A' < 'i'); SE/(not set) 1.
/// referrerName breakdown: "Google" ×2, "" ×1 → keyed "referrerName".
pub async fn two_breakdowns_and_camel_case_keys(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let mk = |country: &str, os: &str, n: usize| -> Vec<NewEvent> {
        (0..n)
            .map(|_| NewEvent {
                country: country.into(),
                os: os.into(),
                ..e("view", at)
            })
            .collect()
    };
    let mut events = mk("SE", "iOS", 3);
    events.extend(mk("DE", "Android", 2));
    events.extend(mk("DE", "iOS", 2));
    events.extend(mk("SE", "", 1));
    events.push(NewEvent {
        referrer_name: "Google".into(),
        ..e("ref", at)
    });
    events.push(NewEvent {
        referrer_name: "Google".into(),
        ..e("ref", at)
    });
    events.push(e("ref", at));
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"country"},{"name":"os"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&v),
        json!([
            ["view", "SE", "iOS"],
            ["view", "DE", "Android"],
            ["view", "DE", "iOS"],
            ["view", "SE", "(not set)"]
        ])
    );
    assert_eq!(
        all_ids(&v),
        json!([
            "view-se-ios",
            "view-de-android",
            "view-de-ios",
            "view-se-not-set"
        ])
    );
    assert_eq!(
        v["series"][1]["breakdowns"],
        json!({"country": "DE", "os": "Android"})
    );
    assert_eq!(
        v["series"][3]["breakdowns"],
        json!({"country": "SE", "os": "(not set)"})
    );
    assert_eq!(v["meta"]["totalSeries"], json!(4));
    // limit=2&offset=1: DE/Android, DE/iOS.
    let v2 = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"country"},{"name":"os"}]&startDate=2024-04-01&endDate=2024-04-01&limit=2&offset=1"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_names(&v2),
        json!([["view", "DE", "Android"], ["view", "DE", "iOS"]])
    );

    let r = run(
        &store,
        r#"events=[{"name":"ref"}]&breakdowns=[{"name":"referrerName"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        r["series"][0]["breakdowns"],
        json!({"referrerName": "Google"})
    );
    assert_eq!(
        r["series"][1]["breakdowns"],
        json!({"referrerName": "(not set)"})
    );
}

/// Sorting by metric. Two days, country A: [10, 0] (sum 10, average 10, min 0, max 10);
/// country B: [6, 6] (sum 12, average 6, min 6, max 6).
///   linear (any metric)   → by sum: B, A
///   bar & metric=max      → A (10), B (6)
///   bar & metric=min      → B (6), A (0)
///   bar & metric=average  → A (10), B (6)
///   pie & metric=max      → A, B (pie sorts by metric too)
///   bar & metric=max & limit=1 → SQL keeps the top 1 by sum (B), so B.
pub async fn series_sorting_by_metric_and_chart_type(b: &dyn Backend) {
    let d1 = "2024-04-01T12:00:00.000Z";
    let d2 = "2024-04-02T12:00:00.000Z";
    let mut events = in_country("view", "A", d1, 10);
    events.extend(in_country("view", "B", d1, 6));
    events.extend(in_country("view", "B", d2, 6));
    let store = db(b, events).await;
    let base = r#"events=[{"name":"view"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-02"#;
    let order = |extra: &'static str| {
        let store: &dyn Db = &*store;
        async move {
            let v = run(store, &format!("{base}{extra}"), UTC, NOW).await;
            all_names(&v)
        }
    };
    let ba = json!([["view", "B"], ["view", "A"]]);
    let ab = json!([["view", "A"], ["view", "B"]]);
    assert_eq!(order("").await, ba.clone());
    assert_eq!(order("&chartType=linear&metric=max").await, ba.clone());
    assert_eq!(order("&chartType=area&metric=max").await, ba.clone());
    assert_eq!(order("&chartType=histogram&metric=max").await, ba.clone());
    assert_eq!(order("&chartType=bar&metric=max").await, ab.clone());
    assert_eq!(order("&chartType=bar&metric=min").await, ba.clone());
    assert_eq!(order("&chartType=bar&metric=average").await, ab.clone());
    assert_eq!(order("&chartType=bar&metric=sum").await, ba.clone());
    assert_eq!(order("&chartType=pie&metric=max").await, ab.clone());
    assert_eq!(
        order("&chartType=bar&metric=max&limit=1").await,
        json!([["view", "B"]])
    );

    let v = run(
        &store,
        &format!("{base}&chartType=bar&metric=max"),
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["metrics"],
        json!({"sum": 10, "average": 10, "min": 0, "max": 10})
    );
    assert_eq!(
        v["series"][1]["metrics"],
        json!({"sum": 12, "average": 6, "min": 6, "max": 6})
    );
    // Top: sum 22; averages 10 and 6 → 8; min 0; max 10.
    assert_eq!(
        v["metrics"],
        json!({"sum": 22, "average": 8, "min": 0, "max": 10})
    );
}

/// Series ids (§6.3). Configs, with their counts (one day) fixing the response order:
///   "München" 4 → munchen; "Page View!" 3 → page-view; "page_view" 2 → page-view-2
///   (a later collision); "!!!" 1 → empty after cleaning → series; "  --Ü-- " 0 → u.
pub async fn series_ids_transliterate_and_deduplicate(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let mut events = many("e1", &[at, at, at, at]);
    events.extend(many("e2", &[at, at, at]));
    events.extend(many("e3", &[at, at]));
    events.extend(many("e4", &[at]));
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"e3","displayName":"page_view"},{"name":"e1","displayName":"München"},{"name":"e5","displayName":"  --Ü-- "},{"name":"e2","displayName":"Page View!"},{"name":"e4","displayName":"!!!"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        all_ids(&v),
        json!(["munchen", "page-view", "page-view-2", "series", "u"])
    );
    assert_eq!(
        all_names(&v),
        json!([
            ["München"],
            ["Page View!"],
            ["page_view"],
            ["!!!"],
            ["  --Ü-- "]
        ])
    );
    assert_eq!(
        v["series"][0]["event"],
        json!({"name": "e1", "displayName": "München"})
    );
    assert_eq!(v["meta"]["totalSeries"], json!(5));

    // Breakdown values that differ only in case collide after lowercasing: "SE" < "se"
    // (tie at 1, by code point) → c-se, then c-se-2.
    let mut more = in_country("c", "SE", at, 1);
    more.extend(in_country("c", "se", at, 1));
    store.insert_events(&more).await.unwrap();
    let b = run(
        &store,
        r#"events=[{"name":"c"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(all_names(&b), json!([["c", "SE"], ["c", "se"]]));
    assert_eq!(all_ids(&b), json!(["c-se", "c-se-2"]));
}

/// Series and top-level metrics. Four days 04-01 … 04-04 (UTC):
///   A: [0, 3, 0, 1] → sum 4, average of non-zero (3+1)/2 = 2, min 0, max 3
///   B: [3, 3, 3, 3] → sum 12, average 3, min 3, max 3
///   C: no data      → [0,0,0,0], all 0
/// Order by sum: B, A, C. Top: sum 16; mean of non-zero averages (3+2)/2 = 2.5 (C's 0 is
/// left out); min of mins 0; max of maxes 3.
pub async fn metrics_and_top_level_aggregation(b: &dyn Backend) {
    let mut events = many(
        "a",
        &[
            "2024-04-02T01:00:00.000Z",
            "2024-04-02T02:00:00.000Z",
            "2024-04-02T03:00:00.000Z",
            "2024-04-04T01:00:00.000Z",
        ],
    );
    for day in ["01", "02", "03", "04"] {
        let at = format!("2024-04-{day}T12:00:00.000Z");
        events.extend(many("b", &[at.as_str(), at.as_str(), at.as_str()]));
    }
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"a"},{"name":"b"},{"name":"c"}]&startDate=2024-04-01&endDate=2024-04-04"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(all_names(&v), json!([["b"], ["a"], ["c"]]));
    assert_eq!(counts(&v, 1), json!([0, 3, 0, 1]));
    assert_eq!(
        v["series"][0]["metrics"],
        json!({"sum": 12, "average": 3, "min": 3, "max": 3})
    );
    assert_eq!(
        v["series"][1]["metrics"],
        json!({"sum": 4, "average": 2, "min": 0, "max": 3})
    );
    assert_eq!(
        v["series"][2]["metrics"],
        json!({"sum": 0, "average": 0, "min": 0, "max": 0})
    );
    assert_eq!(
        v["metrics"],
        json!({"sum": 16, "average": 2.5, "min": 0, "max": 3})
    );
    assert_eq!(v["meta"]["totalSeries"], json!(3));
}

// ---------------------------------------------------------------------------------------
// §6.4 previous period

/// Rolling window (7d, UTC, now 2024-05-15T12:00:00.000Z):
///   current  [05-08T00:00:00.000Z, 05-15T12:00:00.000Z], span 7d12h, 8 daily buckets
///   previous [05-08 − 7d12h − 1 ms, 05-08 − 1 ms] = [04-30T11:59:59.999Z,
///            05-07T23:59:59.999Z], 8 daily buckets 04-30 … 05-07, matched by index.
/// Events (country SE unless noted):
///   previous: 04-30T11:59:59.998Z (out), 04-30T11:59:59.999Z → #0; 05-03 ×2 → #3;
///             05-07T23:59:59.999Z ×3 → #7; one NO event 05-05 (a combination only in the
///             previous window: no series).
///   current:  05-08T00:00Z ×2 → #0; 05-15T12:00:00.000Z → #7; 12:00:00.001Z out.
///   current [2,0,0,0,0,0,0,1]: sum 3, average 1.5, min 0, max 2
///   previous[1,0,0,2,0,0,0,3]: sum 6, average 2, min 0, max 3
/// Points: #0 {1, (2−1)/1 = 100, positive}; #3 {2, −100, negative};
///   #7 {3, (1−3)/3 = −66.67 → −66.7, negative}; others {0, null, neutral}.
/// metrics.previous: sum {6, −50, negative}; average {2, −25, negative};
///   min {0, null, neutral}; max {3, −33.3, negative}. Top-level: the same (one series).
pub async fn previous_rolling_window(b: &dyn Backend) {
    let se = |at: &str| NewEvent {
        country: "SE".into(),
        ..e("view", at)
    };
    let mut events: Vec<NewEvent> = [
        "2024-04-30T11:59:59.998Z",
        "2024-04-30T11:59:59.999Z",
        "2024-05-03T05:00:00.000Z",
        "2024-05-03T06:00:00.000Z",
        "2024-05-07T23:59:59.999Z",
        "2024-05-07T23:59:59.999Z",
        "2024-05-07T23:59:59.999Z",
        "2024-05-08T00:00:00.000Z",
        "2024-05-08T00:00:00.000Z",
        "2024-05-15T12:00:00.000Z",
        "2024-05-15T12:00:00.001Z",
    ]
    .into_iter()
    .map(se)
    .collect();
    events.extend(in_country("view", "NO", "2024-05-05T12:00:00.000Z", 1));
    let store = db(b, events).await;
    let now = "2024-05-15T12:00:00.000Z";
    let zero = json!({"value": 0, "diff": null, "state": "neutral"});
    let previous_metrics = json!({
        "sum": {"value": 6, "diff": -50, "state": "negative"},
        "average": {"value": 2, "diff": -25, "state": "negative"},
        "min": {"value": 0, "diff": null, "state": "neutral"},
        "max": {"value": 3, "diff": -33.3, "state": "negative"}
    });
    let data = json!([
        {"date": "2024-05-08T00:00:00Z", "count": 2,
         "previous": {"value": 1, "diff": 100, "state": "positive"}},
        {"date": "2024-05-09T00:00:00Z", "count": 0, "previous": zero.clone()},
        {"date": "2024-05-10T00:00:00Z", "count": 0, "previous": zero.clone()},
        {"date": "2024-05-11T00:00:00Z", "count": 0,
         "previous": {"value": 2, "diff": -100, "state": "negative"}},
        {"date": "2024-05-12T00:00:00Z", "count": 0, "previous": zero.clone()},
        {"date": "2024-05-13T00:00:00Z", "count": 0, "previous": zero.clone()},
        {"date": "2024-05-14T00:00:00Z", "count": 0, "previous": zero.clone()},
        {"date": "2024-05-15T00:00:00Z", "count": 1,
         "previous": {"value": 3, "diff": -66.7, "state": "negative"}}
    ]);
    // The NO event is kept out of the unbroken-down series by a filter.
    let v = run(
        &store,
        r#"events=[{"name":"view","filters":[{"name":"country","operator":"is","value":["SE"]}]}]&range=7d&previous=true"#,
        UTC,
        now,
    )
    .await;
    assert_eq!(
        v,
        json!({
            "series": [{
                "id": "view",
                "names": ["view"],
                "event": {"name": "view", "displayName": "view"},
                "breakdowns": {},
                "metrics": {"sum": 3, "average": 1.5, "min": 0, "max": 2,
                            "previous": previous_metrics.clone()},
                "data": data.clone()
            }],
            "metrics": {"sum": 3, "average": 1.5, "min": 0, "max": 2,
                        "previous": previous_metrics.clone()},
            "meta": {
                "startDate": "2024-05-08T00:00:00.000Z",
                "endDate": "2024-05-15T12:00:00.000Z",
                "interval": "day",
                "timezone": "UTC",
                "totalSeries": 1
            }
        })
    );

    // With a country breakdown: only SE exists in the current window; NO (previous only)
    // is not a series. SE carries exactly the numbers above.
    let b = run(
        &store,
        r#"events=[{"name":"view"}]&breakdowns=[{"name":"country"}]&range=last_7_days&previous=true"#,
        UTC,
        now,
    )
    .await;
    assert_eq!(all_names(&b), json!([["view", "SE"]]));
    assert_eq!(b["meta"]["totalSeries"], json!(1));
    assert_eq!(b["series"][0]["data"], data);
    assert_eq!(b["series"][0]["metrics"]["previous"], previous_metrics);

    // startDate/endDate are rolling too: [04-01, 04-02T23:59:59.999] (2 days − 1 ms) →
    // previous [03-30T00:00:00.000Z, 03-31T23:59:59.999Z]; no data → {0, null, neutral}.
    let d = run(
        &store,
        r#"events=[{"name":"view"}]&startDate=2024-04-01&endDate=2024-04-02&previous=true"#,
        UTC,
        now,
    )
    .await;
    assert_eq!(
        d["series"][0]["data"],
        json!([
            {"date": "2024-04-01T00:00:00Z", "count": 0, "previous": zero.clone()},
            {"date": "2024-04-02T00:00:00Z", "count": 0, "previous": zero.clone()}
        ])
    );
}

/// startDate/endDate previous window boundaries, exactly: current [04-03, 04-04] (UTC,
/// 2 days − 1 ms) → previous [04-01T00:00:00.000Z, 04-02T23:59:59.999Z].
/// Previous events: 03-31T23:59:59.999Z (out), 04-01T00:00Z → #0, 04-02T23:59:59.999Z → #1.
/// Current: 04-03T00:00Z ×2 → #0 → {1, 100, positive}; #1: 0 vs 1 → {1, −100, negative}.
pub async fn previous_for_explicit_dates(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "view",
            &[
                "2024-03-31T23:59:59.999Z",
                "2024-04-01T00:00:00.000Z",
                "2024-04-02T23:59:59.999Z",
                "2024-04-03T00:00:00.000Z",
                "2024-04-03T00:00:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"view"}]&startDate=2024-04-03&endDate=2024-04-04&previous=true"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([
            {"date": "2024-04-03T00:00:00Z", "count": 2,
             "previous": {"value": 1, "diff": 100, "state": "positive"}},
            {"date": "2024-04-04T00:00:00Z", "count": 0,
             "previous": {"value": 1, "diff": -100, "state": "negative"}}
        ])
    );
    // current [2,0]: sum 2, avg 2, min 0, max 2; previous [1,1]: sum 2, avg 1, min 1, max 1.
    assert_eq!(
        v["series"][0]["metrics"],
        json!({"sum": 2, "average": 2, "min": 0, "max": 2, "previous": {
            "sum": {"value": 2, "diff": 0, "state": "neutral"},
            "average": {"value": 1, "diff": 100, "state": "positive"},
            "min": {"value": 1, "diff": -100, "state": "negative"},
            "max": {"value": 1, "diff": 100, "state": "positive"}
        }})
    );
}

/// Periods to date compare with the same elapsed span from the previous period's start.
/// today (UTC, now 2024-05-15T12:00:00.000Z, hourly): current [05-15T00:00, 12:00:00.000]
///   (13 buckets); previous [05-14T00:00, 05-14T12:00:00.000] (13 buckets).
///   previous: 05-14T00:00Z → #0, 05-14T12:00:00.000Z → #12, 12:00:00.001Z out.
///   current: 05-15T00:30Z → #0, 05-15T12:00Z ×2 → #12.
///   #0 {1, 0, neutral}; #12 {1, 100, positive}; sums 3 vs 2 → {2, 50, positive}.
/// monthToDate, now 2024-05-15T12:00Z: current [05-01, 05-15T12:00], previous
///   [04-01, 04-15T12:00:00.000Z]; 04-15T12:00:00.000Z counts (#14), 12:00:00.001Z not;
///   current 05-15T11:00Z → #14 → {1, 0, neutral}.
/// monthToDate, now 2024-03-31T12:00Z: current [03-01, 03-31T12:00] (31 buckets), previous
///   [02-01, min(02-01 + 30d12h, 03-01 − 1 ms)] = [02-01, 02-29T23:59:59.999Z] (29 buckets).
///   previous: 02-29T23:59:59.999Z → #28, 01-31T23:59:59.999Z out; current: 03-29 → #28,
///   03-31 → #30. #28 {1, 0, neutral}; #29 and #30 have no counterpart: no `previous`.
pub async fn previous_periods_to_date(b: &dyn Backend) {
    let mut events = many(
        "t",
        &[
            "2024-05-14T00:00:00.000Z",
            "2024-05-14T12:00:00.000Z",
            "2024-05-14T12:00:00.001Z",
            "2024-05-15T00:30:00.000Z",
            "2024-05-15T12:00:00.000Z",
            "2024-05-15T12:00:00.000Z",
        ],
    );
    events.extend(many(
        "m",
        &[
            "2024-04-15T12:00:00.000Z",
            "2024-04-15T12:00:00.001Z",
            "2024-05-15T11:00:00.000Z",
        ],
    ));
    events.extend(many(
        "c",
        &[
            "2024-01-31T23:59:59.999Z",
            "2024-02-29T23:59:59.999Z",
            "2024-03-29T10:00:00.000Z",
            "2024-03-31T10:00:00.000Z",
        ],
    ));
    let store = db(b, events).await;
    let now = "2024-05-15T12:00:00.000Z";

    let v = run(
        &store,
        r#"events=[{"name":"t"}]&range=today&interval=hour&previous=true"#,
        UTC,
        now,
    )
    .await;
    let data = v["series"][0]["data"].as_array().unwrap();
    assert_eq!(data.len(), 13);
    assert_eq!(
        data[0],
        json!({"date": "2024-05-15T00:00:00Z", "count": 1,
               "previous": {"value": 1, "diff": 0, "state": "neutral"}})
    );
    assert_eq!(
        data[12],
        json!({"date": "2024-05-15T12:00:00Z", "count": 2,
               "previous": {"value": 1, "diff": 100, "state": "positive"}})
    );
    assert_eq!(
        v["series"][0]["metrics"]["previous"]["sum"],
        json!({"value": 2, "diff": 50, "state": "positive"})
    );
    assert_eq!(
        v["metrics"]["previous"]["sum"],
        json!({"value": 2, "diff": 50, "state": "positive"})
    );

    let v = run(
        &store,
        r#"events=[{"name":"m"}]&range=monthToDate&previous=true"#,
        UTC,
        now,
    )
    .await;
    let data = v["series"][0]["data"].as_array().unwrap();
    assert_eq!(data.len(), 15);
    assert_eq!(
        data[14],
        json!({"date": "2024-05-15T00:00:00Z", "count": 1,
               "previous": {"value": 1, "diff": 0, "state": "neutral"}})
    );
    assert_eq!(
        v["series"][0]["metrics"]["previous"]["sum"],
        json!({"value": 1, "diff": 0, "state": "neutral"})
    );

    let v = run(
        &store,
        r#"events=[{"name":"c"}]&range=this_month&previous=true"#,
        UTC,
        "2024-03-31T12:00:00.000Z",
    )
    .await;
    let data = v["series"][0]["data"].as_array().unwrap();
    assert_eq!(data.len(), 31);
    assert_eq!(
        data[28],
        json!({"date": "2024-03-29T00:00:00Z", "count": 1,
               "previous": {"value": 1, "diff": 0, "state": "neutral"}})
    );
    assert_eq!(
        data[29],
        json!({"date": "2024-03-30T00:00:00Z", "count": 0})
    );
    assert_eq!(
        data[30],
        json!({"date": "2024-03-31T00:00:00Z", "count": 1})
    );
    // current sum 2 vs previous 1 → {1, 100, positive}.
    assert_eq!(
        v["series"][0]["metrics"]["previous"]["sum"],
        json!({"value": 1, "diff": 100, "state": "positive"})
    );
}

/// Complete periods compare with the whole period before them.
/// yesterday (UTC, now 2024-05-15T12:00Z, hourly): current 05-14 (24 buckets), previous
///   05-13 whole day. previous: 05-12T23:59:59.999Z out, 05-13T00:00Z → #0,
///   05-13T23:59:59.999Z → #23; current 05-14T00:00Z ×3 → #0.
///   #0 {1, 200, positive}; #23 {1, −100, negative}; sum 3 vs 2 → {2, 50, positive}.
/// lastMonth (Stockholm, now 2024-03-15T12:00Z, monthly): current February
///   [2024-02-01T00:00+01:00, 2024-02-29T23:59:59.999+01:00], previous all of January.
///   previous: 2023-12-31T22:59:59.999Z out, 2023-12-31T23:00Z (Jan 1 00:00+01) and
///   2024-01-31T22:59:59.999Z (Jan 31 23:59:59.999+01) → 2;
///   current: 2024-01-31T23:00Z (Feb 1 00:00+01), 02-10, 2024-02-29T22:59:59.999Z → 3;
///   2024-02-29T23:00Z (Mar 1) out. Point {2, 50, positive}.
pub async fn previous_complete_periods(b: &dyn Backend) {
    let mut events = many(
        "y",
        &[
            "2024-05-12T23:59:59.999Z",
            "2024-05-13T00:00:00.000Z",
            "2024-05-13T23:59:59.999Z",
            "2024-05-14T00:00:00.000Z",
            "2024-05-14T00:00:00.000Z",
            "2024-05-14T00:00:00.000Z",
        ],
    );
    events.extend(many(
        "lm",
        &[
            "2023-12-31T22:59:59.999Z",
            "2023-12-31T23:00:00.000Z",
            "2024-01-31T22:59:59.999Z",
            "2024-01-31T23:00:00.000Z",
            "2024-02-10T12:00:00.000Z",
            "2024-02-29T22:59:59.999Z",
            "2024-02-29T23:00:00.000Z",
        ],
    ));
    let store = db(b, events).await;

    let v = run(
        &store,
        r#"events=[{"name":"y"}]&range=yesterday&interval=hour&previous=true"#,
        UTC,
        "2024-05-15T12:00:00.000Z",
    )
    .await;
    let data = v["series"][0]["data"].as_array().unwrap();
    assert_eq!(data.len(), 24);
    assert_eq!(
        data[0],
        json!({"date": "2024-05-14T00:00:00Z", "count": 3,
               "previous": {"value": 1, "diff": 200, "state": "positive"}})
    );
    assert_eq!(
        data[23],
        json!({"date": "2024-05-14T23:00:00Z", "count": 0,
               "previous": {"value": 1, "diff": -100, "state": "negative"}})
    );
    assert_eq!(
        v["metrics"]["previous"]["sum"],
        json!({"value": 2, "diff": 50, "state": "positive"})
    );

    let v = run(
        &store,
        r#"events=[{"name":"lm"}]&range=lastMonth&interval=month&previous=true"#,
        Stockholm,
        "2024-03-15T12:00:00.000Z",
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([{"date": "2024-02-01T00:00:00+01:00", "count": 3,
                "previous": {"value": 2, "diff": 50, "state": "positive"}}])
    );
    assert_eq!(
        v["meta"]["startDate"],
        json!("2024-02-01T00:00:00.000+01:00")
    );
    assert_eq!(v["meta"]["endDate"], json!("2024-02-29T23:59:59.999+01:00"));
    // One bucket each: every metric compares 3 with 2.
    let cmp = json!({"value": 2, "diff": 50, "state": "positive"});
    assert_eq!(
        v["series"][0]["metrics"],
        json!({"sum": 3, "average": 3, "min": 3, "max": 3,
               "previous": {"sum": cmp.clone(), "average": cmp.clone(), "min": cmp.clone(), "max": cmp}})
    );
}

/// Top-level metrics.previous aggregates the previous values of the returned series like
/// the current ones. Rolling window startDate=endDate=2024-04-02 (UTC) → previous is the
/// whole of 04-01. One daily bucket each:
///   a: current 4, previous 2;  b: current 1, previous 4.
///   Order by sum: a, b. Top current: sum 5, average (4+1)/2 = 2.5, min 1, max 4.
///   Top previous: sum 6, average (2+4)/2 = 3, min 2, max 4.
///   → sum {6, (5−6)/6 = −16.67 → −16.7, negative}; average {3, −16.7, negative};
///     min {2, −50, negative}; max {4, 0, neutral}.
pub async fn previous_top_level_metrics(b: &dyn Backend) {
    let d1 = "2024-04-01T12:00:00.000Z";
    let d2 = "2024-04-02T12:00:00.000Z";
    let mut events = many("a", &[d1, d1, d2, d2, d2, d2]);
    events.extend(many("b", &[d1, d1, d1, d1, d2]));
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"a"},{"name":"b"}]&startDate=2024-04-02&endDate=2024-04-02&previous=true"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(all_names(&v), json!([["a"], ["b"]]));
    assert_eq!(
        v["metrics"],
        json!({"sum": 5, "average": 2.5, "min": 1, "max": 4, "previous": {
            "sum": {"value": 6, "diff": -16.7, "state": "negative"},
            "average": {"value": 3, "diff": -16.7, "state": "negative"},
            "min": {"value": 2, "diff": -50, "state": "negative"},
            "max": {"value": 4, "diff": 0, "state": "neutral"}
        }})
    );
    assert_eq!(
        v["series"][1]["data"],
        json!([{"date": "2024-04-02T00:00:00Z", "count": 1,
                "previous": {"value": 4, "diff": -75, "state": "negative"}}])
    );
}

/// `diff` is rounded to 1 decimal, halves away from zero. Rolling window
/// startDate=endDate=2024-04-02 (UTC) → previous is 04-01.
///   a: previous 16, current 17 → (17−16)/16 × 100 = 6.25 → 6.3
///   b: previous 16, current 15 → −6.25 → −6.3
///   c: previous 3, current 4 → 33.333… → 33.3
pub async fn previous_diff_rounds_half_away_from_zero(b: &dyn Backend) {
    let d1 = "2024-04-01T12:00:00.000Z";
    let d2 = "2024-04-02T12:00:00.000Z";
    let mut events = Vec::new();
    for (name, prev, cur) in [("a", 16, 17), ("b", 16, 15), ("c", 3, 4)] {
        for _ in 0..prev {
            events.push(e(name, d1));
        }
        for _ in 0..cur {
            events.push(e(name, d2));
        }
    }
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"a"},{"name":"b"},{"name":"c"}]&startDate=2024-04-02&endDate=2024-04-02&previous=true"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(all_names(&v), json!([["a"], ["b"], ["c"]]));
    assert_eq!(
        v["series"][0]["data"][0]["previous"],
        json!({"value": 16, "diff": 6.3, "state": "positive"})
    );
    assert_eq!(
        v["series"][1]["data"][0]["previous"],
        json!({"value": 16, "diff": -6.3, "state": "negative"})
    );
    assert_eq!(
        v["series"][2]["data"][0]["previous"],
        json!({"value": 3, "diff": 33.3, "state": "positive"})
    );
}

/// one_event_per_user with previous=true: the previous window is its own window, each user
/// counted once there by their latest event in it, in that window's buckets.
/// startDate=endDate=2024-04-02 (UTC) → previous 04-01.
///   u1: 04-01 10:00, 04-02 09:00, 04-02 10:00 → current 1, previous 1
///   u2: 04-01 09:00, 04-01 11:00 → previous 1 (once)
///   current [1], previous [2] → {2, −50, negative}
pub async fn one_event_per_user_with_previous_period(b: &dyn Backend) {
    let store = db(
        b,
        vec![
            by("view", "2024-04-01T10:00:00.000Z", "u1", ""),
            by("view", "2024-04-02T09:00:00.000Z", "u1", ""),
            by("view", "2024-04-02T10:00:00.000Z", "u1", ""),
            by("view", "2024-04-01T09:00:00.000Z", "u2", ""),
            by("view", "2024-04-01T11:00:00.000Z", "u2", ""),
        ],
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"view","segment":"one_event_per_user"}]&startDate=2024-04-02&endDate=2024-04-02&previous=true"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(
        v["series"][0]["data"],
        json!([{"date": "2024-04-02T00:00:00Z", "count": 1,
                "previous": {"value": 2, "diff": -50, "state": "negative"}}])
    );

    // Two days, 04-02 … 04-03; previous 03-31 … 04-01. Current: u1's latest 04-02 10:00
    // → [1, 0]. Previous: u1's latest 04-01 10:00 and u2's 04-01 11:00 both fall on the
    // previous window's second day → [0, 2].
    let v = run(
        &store,
        r#"events=[{"name":"view","segment":"one_event_per_user"}]&startDate=2024-04-02&endDate=2024-04-03&previous=true"#,
        UTC,
        NOW,
    )
    .await;
    assert_eq!(counts(&v, 0), json!([1, 0]));
    let previous: Vec<Value> = v["series"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["previous"]["value"].clone())
        .collect();
    assert_eq!(previous, vec![json!(0), json!(2)]);
}

/// Rolling previous window across a DST change keeps the exact length in milliseconds.
/// Stockholm, range=7d, now 2024-04-03T10:00:00.000Z (12:00+02:00):
///   current  [03-27 00:00+01:00 = 03-26T23:00Z, now], span 7d11h, buckets 03-27 … 04-03
///   previous [03-26T23:00Z − 7d11h − 1 ms, 03-26T22:59:59.999Z]
///          = [03-19T11:59:59.999Z, 03-26T22:59:59.999Z], buckets 03-19 … 03-26 (8)
///   previous: 03-19T11:59:59.998Z out; 03-19T11:59:59.999Z → #0; 03-26T22:59:59.999Z → #7
///   current: 03-26T23:00Z → #0; 03-31T22:00Z (04-01 00:00+02) → #5
///   #0 {1, 0, neutral}; #5 {0, null, positive} (1 > 0; diff null as previous is 0);
///   #7 count 0 {1, −100, negative};
///   sums 2 vs 2 → {2, 0, neutral}.
pub async fn previous_rolling_window_across_dst(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "view",
            &[
                "2024-03-19T11:59:59.998Z",
                "2024-03-19T11:59:59.999Z",
                "2024-03-26T22:59:59.999Z",
                "2024-03-26T23:00:00.000Z",
                "2024-03-31T22:00:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"view"}]&range=7d&previous=true"#,
        Stockholm,
        "2024-04-03T10:00:00.000Z",
    )
    .await;
    assert_eq!(
        v["meta"]["startDate"],
        json!("2024-03-27T00:00:00.000+01:00")
    );
    assert_eq!(v["meta"]["endDate"], json!("2024-04-03T12:00:00.000+02:00"));
    let data = v["series"][0]["data"].as_array().unwrap();
    assert_eq!(data.len(), 8);
    assert_eq!(
        data[0],
        json!({"date": "2024-03-27T00:00:00+01:00", "count": 1,
               "previous": {"value": 1, "diff": 0, "state": "neutral"}})
    );
    assert_eq!(
        data[5],
        json!({"date": "2024-04-01T00:00:00+02:00", "count": 1,
               "previous": {"value": 0, "diff": null, "state": "positive"}})
    );
    assert_eq!(
        data[7],
        json!({"date": "2024-04-03T00:00:00+02:00", "count": 0,
               "previous": {"value": 1, "diff": -100, "state": "negative"}})
    );
    assert_eq!(
        v["series"][0]["metrics"]["previous"]["sum"],
        json!({"value": 2, "diff": 0, "state": "neutral"})
    );
}

/// today on the 23-hour day 2024-03-31 in Stockholm, now 2024-03-31T20:00:00.000Z
/// (22:00+02:00): current [03-30T23:00Z, 03-31T20:00Z] (span 21 h; hourly buckets 00, 01,
/// 03 … 22 local = 22); previous [03-29T23:00Z, 03-29T23:00Z + 21 h = 03-30T20:00:00.000Z]
/// (03-30 00:00 … 21:00+01:00, 22 buckets).
///   previous: 03-29T22:59:59.999Z out; 03-29T23:00Z → #0; 03-30T20:00:00.000Z → #21;
///             03-30T20:00:00.001Z out.
///   current: 03-31T20:00Z (22:00+02) → #21.
///   #0 count 0 {1, −100, negative}; #21 count 1 {1, 0, neutral}; sum 1 vs 2 → {2, −50}.
pub async fn previous_today_on_a_dst_day(b: &dyn Backend) {
    let store = db(
        b,
        many(
            "view",
            &[
                "2024-03-29T22:59:59.999Z",
                "2024-03-29T23:00:00.000Z",
                "2024-03-30T20:00:00.000Z",
                "2024-03-30T20:00:00.001Z",
                "2024-03-31T20:00:00.000Z",
            ],
        ),
    )
    .await;
    let v = run(
        &store,
        r#"events=[{"name":"view"}]&range=today&interval=hour&previous=true"#,
        Stockholm,
        "2024-03-31T20:00:00.000Z",
    )
    .await;
    let data = v["series"][0]["data"].as_array().unwrap();
    assert_eq!(data.len(), 22);
    assert_eq!(
        data[0],
        json!({"date": "2024-03-31T00:00:00+01:00", "count": 0,
               "previous": {"value": 1, "diff": -100, "state": "negative"}})
    );
    assert_eq!(
        data[21],
        json!({"date": "2024-03-31T22:00:00+02:00", "count": 1,
               "previous": {"value": 1, "diff": 0, "state": "neutral"}})
    );
    assert_eq!(
        v["metrics"]["previous"]["sum"],
        json!({"value": 2, "diff": -50, "state": "negative"})
    );
}

// ---------------------------------------------------------------------------------------
// Several event configs

/// Three configs in one request, one of them "*" (all events), with displayNames.
/// Two days (UTC): 04-01 view ×3, click SE ×1, click DE ×1; 04-02 buy ×1.
///   "All events" (*): [5, 1] sum 6, average 3, min 1, max 5
///   "Views" (view):   [3, 0] sum 3, average 3, min 0, max 3
///   click filtered to country SE: [1, 0] sum 1, average 1, min 0, max 1
/// Order by sum: All events, Views, click. Top: sum 10, average (3+3+1)/3 = 2.33, min 0,
/// max 5.
pub async fn several_configs_with_wildcard_and_display_names(b: &dyn Backend) {
    let d1 = "2024-04-01T12:00:00.000Z";
    let mut events = many("view", &[d1, d1, d1]);
    events.extend(in_country("click", "SE", d1, 1));
    events.extend(in_country("click", "DE", d1, 1));
    events.extend(many("buy", &["2024-04-02T12:00:00.000Z"]));
    let store = db(b, events).await;
    let v = run(
        &store,
        r#"events=[{"name":"view","displayName":"Views"},{"name":"*","displayName":"All events"},{"name":"click","filters":[{"name":"country","operator":"is","value":["SE"]}]}]&startDate=2024-04-01&endDate=2024-04-02"#,
        UTC,
        NOW,
    )
    .await;
    let day = |d: &str, c: u32| json!({"date": d, "count": c});
    assert_eq!(
        v,
        json!({
            "series": [
                {
                    "id": "all-events",
                    "names": ["All events"],
                    "event": {"name": "*", "displayName": "All events"},
                    "breakdowns": {},
                    "metrics": {"sum": 6, "average": 3, "min": 1, "max": 5},
                    "data": [day("2024-04-01T00:00:00Z", 5), day("2024-04-02T00:00:00Z", 1)]
                },
                {
                    "id": "views",
                    "names": ["Views"],
                    "event": {"name": "view", "displayName": "Views"},
                    "breakdowns": {},
                    "metrics": {"sum": 3, "average": 3, "min": 0, "max": 3},
                    "data": [day("2024-04-01T00:00:00Z", 3), day("2024-04-02T00:00:00Z", 0)]
                },
                {
                    "id": "click",
                    "names": ["click"],
                    "event": {"name": "click", "displayName": "click"},
                    "breakdowns": {},
                    "metrics": {"sum": 1, "average": 1, "min": 0, "max": 1},
                    "data": [day("2024-04-01T00:00:00Z", 1), day("2024-04-02T00:00:00Z", 0)]
                }
            ],
            "metrics": {"sum": 10, "average": 2.33, "min": 0, "max": 5},
            "meta": {
                "startDate": "2024-04-01T00:00:00.000Z",
                "endDate": "2024-04-02T23:59:59.999Z",
                "interval": "day",
                "timezone": "UTC",
                "totalSeries": 3
            }
        })
    );
}

/// Several configs with a breakdown: top-N is per config, `totalSeries` counts every
/// series of every config, then one global sort and limit.
///   view: SE 3, DE 1; click: SE 2, (not set) 1 → totalSeries 4.
///   default: view/SE 3, click/SE 2, then the ties at 1 by names:
///            ["click","(not set)"] < ["view","DE"].
///   limit=2: view/SE, click/SE.
/// Also `series` is accepted as an alias of `events`, and segments differ per config
/// (users of click: SE {u1} = 1 → sorted after the count-based series).
pub async fn several_configs_with_breakdowns(b: &dyn Backend) {
    let at = "2024-04-01T12:00:00.000Z";
    let mut events = in_country("view", "SE", at, 3);
    events.extend(in_country("view", "DE", at, 1));
    events.extend(
        in_country("click", "SE", at, 2)
            .into_iter()
            .map(|ev| NewEvent {
                profile_id: "u1".into(),
                ..ev
            }),
    );
    events.extend(in_country("click", "", at, 1));
    let store = db(b, events).await;
    let base = r#"events=[{"name":"view"},{"name":"click"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-01"#;
    let v = run(&store, base, UTC, NOW).await;
    assert_eq!(
        all_names(&v),
        json!([
            ["view", "SE"],
            ["click", "SE"],
            ["click", "(not set)"],
            ["view", "DE"]
        ])
    );
    assert_eq!(v["meta"]["totalSeries"], json!(4));
    let v = run(&store, &format!("{base}&limit=2"), UTC, NOW).await;
    assert_eq!(all_names(&v), json!([["view", "SE"], ["click", "SE"]]));
    assert_eq!(v["meta"]["totalSeries"], json!(4));
    // Top: sum 5, averages 3 and 2 → 2.5, min 2, max 3.
    assert_eq!(
        v["metrics"],
        json!({"sum": 5, "average": 2.5, "min": 2, "max": 3})
    );

    let u = run(
        &store,
        r#"series=[{"name":"view"},{"name":"click","segment":"user","displayName":"clickers"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-01"#,
        UTC,
        NOW,
    )
    .await;
    // view/SE 3, view/DE 1, clickers/SE 1 (u1), clickers/(not set) 0 (anonymous only).
    // Ties at 1: ["clickers","SE"] < ["view","DE"].
    assert_eq!(
        all_names(&u),
        json!([
            ["view", "SE"],
            ["clickers", "SE"],
            ["view", "DE"],
            ["clickers", "(not set)"]
        ])
    );
    assert_eq!(counts(&u, 3), json!([0]));
}
