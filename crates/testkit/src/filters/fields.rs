//! Every kind of field: properties and dotted keys, number recognition, numeric and
//! nullable columns, has_profile.

use super::*;

pub async fn property_fields_and_dotted_keys(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            with_props("p1", &[("plan", "pro"), ("__query.utm_source", "google")]),
            with_props("p2", &[("plan", "free"), ("__query.utm_source", "bing")]),
            with_props("p3", &[("plan", "Pro"), ("__query", "utm_source=google")]),
            with_props("p4", &[("plan", ""), ("utm_source", "google")]),
            with_props("p5", &[]),
            with_props("p6", &[("Plan", "pro")]),
        ],
    )
    .await;
    // properties.plan is pro: p1 only (p3 is "Pro").
    assert_eq!(
        one(&store, "properties.plan", "is", json!(["pro"])).await,
        ids(&["p1"])
    );
    // Keys are case-sensitive too: properties.Plan is pro → p6 only.
    assert_eq!(
        one(&store, "properties.Plan", "is", json!(["pro"])).await,
        ids(&["p6"])
    );
    // isNot pro: everyone else; a missing key reads as "" ≠ "pro".
    assert_eq!(
        one(&store, "properties.plan", "isNot", json!(["pro"])).await,
        ids(&["p2", "p3", "p4", "p5", "p6"])
    );
    // isNull: empty (p4) or missing (p5, p6).
    assert_eq!(
        one(&store, "properties.plan", "isNull", json!([])).await,
        ids(&["p4", "p5", "p6"])
    );
    // isNotNull: present and non-empty: p1, p2, p3.
    assert_eq!(
        one(&store, "properties.plan", "isNotNull", json!([])).await,
        ids(&["p1", "p2", "p3"])
    );
    // The dotted key __query.utm_source is one flat key: google → p1 (not p3's "__query",
    // not p4's bare "utm_source").
    assert_eq!(
        one(
            &store,
            "properties.__query.utm_source",
            "is",
            json!(["google"])
        )
        .await,
        ids(&["p1"])
    );
    // utm_source shorthand = properties.__query.utm_source: google or bing → p1, p2.
    assert_eq!(
        one(&store, "utm_source", "is", json!(["google", "bing"])).await,
        ids(&["p1", "p2"])
    );
    // contains "g" on the shorthand: google, bing both contain g.
    assert_eq!(
        one(&store, "utm_source", "contains", json!(["g"])).await,
        ids(&["p1", "p2"])
    );
    // startsWith "goo": google → p1.
    assert_eq!(
        one(&store, "utm_source", "startsWith", json!(["goo"])).await,
        ids(&["p1"])
    );
    // properties.utm_source is the literal key "utm_source": only p4.
    assert_eq!(
        one(&store, "properties.utm_source", "is", json!(["google"])).await,
        ids(&["p4"])
    );
    // regex on a property: ^[a-z]+$ over plan → "pro", "free" (not "Pro", "", missing).
    assert_eq!(
        one(&store, "properties.plan", "regex", json!(["^[a-z]+$"])).await,
        ids(&["p1", "p2"])
    );
    // endsWith "ee" → "free"; doesNotContain "r" → p4 "" and p5, p6 missing ("" too).
    assert_eq!(
        one(&store, "properties.plan", "endsWith", json!(["ee"])).await,
        ids(&["p2"])
    );
    assert_eq!(
        one(&store, "properties.plan", "doesNotContain", json!(["r"])).await,
        ids(&["p4", "p5", "p6"])
    );
}

pub async fn number_recognition_for_comparisons(b: &dyn Backend) {
    let amounts = [
        ("n01", Some("10")),
        ("n02", Some("-2.5")),
        ("n03", Some("1e3")),
        ("n04", Some(" 5")),
        ("n05", Some("")),
        ("n06", Some("NaN")),
        ("n07", Some("5")),
        ("n08", Some("10.50")),
        ("n09", Some("+5")),
        ("n10", Some(".5")),
        ("n11", Some("5.")),
        ("n12", None),
        ("n13", Some("inf")),
        ("n14", Some("5 ")),
        ("n15", Some("5\n")),
        ("n16", Some("007")),
        ("n17", Some("1.5.2")),
    ];
    let rows = amounts
        .iter()
        .map(|(id, a)| match a {
            Some(a) => with_props(id, &[("amount", a)]),
            None => with_props(id, &[]),
        })
        .collect();
    let store = store_with(b, rows).await;
    // Numbers per ^-?[0-9]+(\.[0-9]+)?$: 10, -2.5, 5, 10.50, 007 only; gt 0 → 10, 5,
    // 10.50, 007.
    assert_eq!(
        one(&store, "properties.amount", "gt", json!([0])).await,
        ids(&["n01", "n07", "n08", "n16"])
    );
    // gt -100: every number and nothing else (1e3, " 5", "", NaN, +5, .5, 5., inf, "5 ",
    // "5\n", 1.5.2 never).
    assert_eq!(
        one(&store, "properties.amount", "gt", json!([-100])).await,
        ids(&["n01", "n02", "n07", "n08", "n16"])
    );
    // 007 is 7: lt 8 ∧ gt 6 → n16 only (filters ANDed).
    assert_eq!(
        matching(
            &store,
            json!([
                {"name": "properties.amount", "operator": "lt", "value": [8]},
                {"name": "properties.amount", "operator": "gt", "value": [6]}
            ])
        )
        .await,
        ids(&["n16"])
    );
    // lt 0: -2.5 only.
    assert_eq!(
        one(&store, "properties.amount", "lt", json!([0])).await,
        ids(&["n02"])
    );
    // gte -2.5: -2.5, 5, 10, 10.5, 7.
    assert_eq!(
        one(&store, "properties.amount", "gte", json!([-2.5])).await,
        ids(&["n01", "n02", "n07", "n08", "n16"])
    );
    // lte 5: -2.5 and 5.
    assert_eq!(
        one(&store, "properties.amount", "lte", json!([5])).await,
        ids(&["n02", "n07"])
    );
    // gte 10.5 compares numerically: "10.50" = 10.5 matches, 10 does not.
    assert_eq!(
        one(&store, "properties.amount", "gte", json!([10.5])).await,
        ids(&["n08"])
    );
    // A numeric text value works like the number: gt "4.99" → 5, 10, 10.50, 7.
    assert_eq!(
        one(&store, "properties.amount", "gt", json!(["4.99"])).await,
        ids(&["n01", "n07", "n08", "n16"])
    );
    // Values are ORed: gt 100 or gt 9 → > 9: 10 and 10.50.
    assert_eq!(
        one(&store, "properties.amount", "gt", json!([100, 9])).await,
        ids(&["n01", "n08"])
    );
    // A huge JSON number 1e9 as the bound: lt 1e9 → all five numbers.
    assert_eq!(
        one(&store, "properties.amount", "lt", json!([1e9])).await,
        ids(&["n01", "n02", "n07", "n08", "n16"])
    );
}

pub async fn comparisons_on_a_string_column(b: &dyn Backend) {
    let versions = [
        ("o1", "11"),
        ("o2", "9.1"),
        ("o3", "10.0.1"),
        ("o4", "10"),
        ("o5", ""),
    ];
    let rows = versions
        .iter()
        .map(|(id, v)| {
            let mut e = ev(id, "screen_view", AT);
            e.os_version = v.to_string();
            e
        })
        .collect();
    let store = store_with(b, rows).await;
    // gt 10 numerically: 11 (9.1 smaller, "10.0.1" not a number, "" not a number).
    assert_eq!(
        one(&store, "os_version", "gt", json!([10])).await,
        ids(&["o1"])
    );
    // gte 9.1: 11, 9.1, 10 (never "10.0.1" — as text it would sort after "10").
    assert_eq!(
        one(&store, "osVersion", "gte", json!([9.1])).await,
        ids(&["o1", "o2", "o4"])
    );
    // lt 10: 9.1 only (numeric, although "10" < "9.1" as text).
    assert_eq!(
        one(&store, "os_version", "lt", json!([10])).await,
        ids(&["o2"])
    );
}

pub async fn numeric_column_duration(b: &dyn Backend) {
    let durations = [("d1", 0), ("d2", 500), ("d3", 1500), ("d4", 499)];
    let rows = durations
        .iter()
        .map(|(id, d)| {
            let mut e = ev(id, "screen_view", AT);
            e.duration = *d;
            e
        })
        .collect();
    let store = store_with(b, rows).await;
    // gt 499: 500, 1500.
    assert_eq!(
        one(&store, "duration", "gt", json!([499])).await,
        ids(&["d2", "d3"])
    );
    // gte 499: 499, 500, 1500.
    assert_eq!(
        one(&store, "duration", "gte", json!([499])).await,
        ids(&["d2", "d3", "d4"])
    );
    // lt 500: 0, 499.
    assert_eq!(
        one(&store, "duration", "lt", json!([500])).await,
        ids(&["d1", "d4"])
    );
    // lte 500: 0, 499, 500.
    assert_eq!(
        one(&store, "duration", "lte", json!([500])).await,
        ids(&["d1", "d2", "d4"])
    );
    // gt 499.5 with a fractional bound: 500, 1500.
    assert_eq!(
        one(&store, "duration", "gt", json!([499.5])).await,
        ids(&["d2", "d3"])
    );
    // is 500: d2; is 500 or 0: d1, d2.
    assert_eq!(
        one(&store, "duration", "is", json!([500])).await,
        ids(&["d2"])
    );
    assert_eq!(
        one(&store, "duration", "is", json!([500, 0])).await,
        ids(&["d1", "d2"])
    );
    // isNot 500 and 0 (ANDed): 1500, 499.
    assert_eq!(
        one(&store, "duration", "isNot", json!([500, 0])).await,
        ids(&["d3", "d4"])
    );
    // duration is always present: isNotNull all four, isNull none.
    assert_eq!(
        one(&store, "duration", "isNotNull", json!([])).await,
        ids(&["d1", "d2", "d3", "d4"])
    );
    assert_eq!(
        one(&store, "duration", "isNull", json!([])).await,
        Vec::<String>::new()
    );
}

pub async fn nullable_numeric_columns(b: &dyn Backend) {
    let coords = [
        ("g1", Some(18.07)),
        ("g2", Some(-0.5)),
        ("g3", None),
        ("g4", Some(0.0)),
    ];
    let rows = coords
        .iter()
        .map(|(id, lon)| {
            let mut e = ev(id, "screen_view", AT);
            e.longitude = *lon;
            e
        })
        .collect();
    let store = store_with(b, rows).await;
    // isNull: the missing coordinate only; isNotNull: the other three (0 is a value).
    assert_eq!(
        one(&store, "longitude", "isNull", json!([])).await,
        ids(&["g3"])
    );
    assert_eq!(
        one(&store, "longitude", "isNotNull", json!([])).await,
        ids(&["g1", "g2", "g4"])
    );
    // is 18.07 exactly; gte 0: 18.07 and 0; lt 0: -0.5 (NULL never compares).
    assert_eq!(
        one(&store, "longitude", "is", json!([18.07])).await,
        ids(&["g1"])
    );
    assert_eq!(
        one(&store, "longitude", "gte", json!([0])).await,
        ids(&["g1", "g4"])
    );
    assert_eq!(
        one(&store, "longitude", "lt", json!([0])).await,
        ids(&["g2"])
    );
    // isNot 18.07: a missing coordinate equals none of the values → g2, g3, g4.
    assert_eq!(
        one(&store, "longitude", "isNot", json!([18.07])).await,
        ids(&["g2", "g3", "g4"])
    );
}

pub async fn has_profile_true_and_false(b: &dyn Backend) {
    let mk = |id: &str, profile: &str, device: &str| {
        let mut e = ev(id, "screen_view", AT);
        e.profile_id = profile.into();
        e.device_id = device.into();
        e
    };
    let store = store_with(
        b,
        vec![
            mk("h1", "", "dev1"),
            mk("h2", "u2", "dev2"),
            mk("h3", "dev3", "dev3"),
            mk("h4", "u4", "dev4"),
        ],
    )
    .await;
    // Identified = non-empty profile_id ≠ device_id: h2, h4.
    assert_eq!(
        one(&store, "has_profile", "is", json!([true])).await,
        ids(&["h2", "h4"])
    );
    // Anonymous: empty profile (h1) or profile = device (h3).
    assert_eq!(
        one(&store, "has_profile", "is", json!([false])).await,
        ids(&["h1", "h3"])
    );
    // "true" as text reads as true.
    assert_eq!(
        one(&store, "has_profile", "is", json!(["true"])).await,
        ids(&["h2", "h4"])
    );
    // true or false: everyone.
    assert_eq!(
        one(&store, "has_profile", "is", json!([true, false])).await,
        ids(&["h1", "h2", "h3", "h4"])
    );
}
