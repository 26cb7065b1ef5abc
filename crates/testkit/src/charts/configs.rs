//! Several event configs in one request.

use super::*;

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
