//! §6.3 breakdowns, top-N, sorting, series ids and top-level metrics.

use super::*;

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
