//! §6.3 buckets, series, labels: empty data, zero filling, (not set), numeric labels.

use super::*;

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
