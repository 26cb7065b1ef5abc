//! §6.4 previous period: rolling, explicit, to-date and complete periods.

use super::*;

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
