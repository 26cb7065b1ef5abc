//! §6.2 segments: event, user, session, average and property segments.

use super::*;

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
