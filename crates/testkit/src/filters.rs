//! Filters (§4.4, §4.5) executed on every backend: every operator, every kind of field, the text
//! conversion of values, literal wildcards, number recognition, and hostile text in every
//! position reaching SQL only as bound parameters. Expected values are computed by hand.
use crate::*;
use quarry_core::{Dialect, Param, Query};
use serde_json::{Value, json};

const NOW: &str = "2024-05-01T00:00:00Z";
const AT: &str = "2024-04-15T12:00:00.000Z";

/// Sorted ids of the events matching a JSON array of filters.
async fn matching(store: &dyn Db, filters: Value) -> Vec<String> {
    let qs = format!("limit=1000&filters={}", url_enc(&filters.to_string()));
    let mut ids = data_ids(&events(store, &qs, chrono_tz::UTC, NOW).await);
    ids.sort();
    ids
}

/// Sorted ids of the events matching one filter.
async fn one(store: &dyn Db, name: &str, operator: &str, value: Value) -> Vec<String> {
    matching(
        store,
        json!([{"name": name, "operator": operator, "value": value}]),
    )
    .await
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Events that differ only in one text column or in their properties.
async fn store_with(b: &dyn Backend, rows: Vec<quarry_core::event::NewEvent>) -> Box<dyn Db> {
    let store = b.fresh().await;
    store.insert_events(&rows).await.unwrap();
    store
}

fn with_country(id: &str, country: &str) -> quarry_core::event::NewEvent {
    let mut e = ev(id, "screen_view", AT);
    e.country = country.into();
    e
}

pub async fn string_column_operators(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            with_country("c1", "SE"),
            with_country("c2", "se"),
            with_country("c3", "DE"),
            with_country("c4", ""),
            with_country("c5", "Sweden"),
            with_country("c6", "USA"),
        ],
    )
    .await;
    // is: exact and case-sensitive, "se" ≠ "SE".
    assert_eq!(
        one(&store, "country", "is", json!(["SE"])).await,
        ids(&["c1"])
    );
    // is with two values ORs them: SE or DE.
    assert_eq!(
        one(&store, "country", "is", json!(["SE", "DE"])).await,
        ids(&["c1", "c3"])
    );
    // isNot ANDs them: neither SE nor DE (the empty country included).
    assert_eq!(
        one(&store, "country", "isNot", json!(["SE", "DE"])).await,
        ids(&["c2", "c4", "c5", "c6"])
    );
    // contains "e" (lowercase): "se", "Sweden"; not "SE"/"DE".
    assert_eq!(
        one(&store, "country", "contains", json!(["e"])).await,
        ids(&["c2", "c5"])
    );
    // contains "S" (uppercase): SE, Sweden, USA; not "se".
    assert_eq!(
        one(&store, "country", "contains", json!(["S"])).await,
        ids(&["c1", "c5", "c6"])
    );
    // doesNotContain S and D: only "se" and "" contain neither.
    assert_eq!(
        one(&store, "country", "doesNotContain", json!(["S", "D"])).await,
        ids(&["c2", "c4"])
    );
    // startsWith S or U: SE, Sweden, USA.
    assert_eq!(
        one(&store, "country", "startsWith", json!(["S", "U"])).await,
        ids(&["c1", "c5", "c6"])
    );
    // startsWith lowercase s: only "se".
    assert_eq!(
        one(&store, "country", "startsWith", json!(["s"])).await,
        ids(&["c2"])
    );
    // endsWith "en" or "A": Sweden, USA.
    assert_eq!(
        one(&store, "country", "endsWith", json!(["en", "A"])).await,
        ids(&["c5", "c6"])
    );
    // endsWith "E": SE, DE (not "se").
    assert_eq!(
        one(&store, "country", "endsWith", json!(["E"])).await,
        ids(&["c1", "c3"])
    );
    // isNull: only the empty country.
    assert_eq!(
        one(&store, "country", "isNull", json!([])).await,
        ids(&["c4"])
    );
    // isNotNull: the five non-empty countries (no value list at all is accepted too).
    assert_eq!(
        matching(
            &store,
            json!([{"name": "country", "operator": "isNotNull"}])
        )
        .await,
        ids(&["c1", "c2", "c3", "c5", "c6"])
    );
}

pub async fn regex_operator(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            with_country("c1", "SE"),
            with_country("c2", "se"),
            with_country("c3", "DE"),
            with_country("c4", ""),
            with_country("c5", "Sweden"),
            with_country("c6", "USA"),
            with_country("c7", "a/b"),
        ],
    )
    .await;
    // ^S.$: two characters starting with S: only "SE".
    assert_eq!(
        one(&store, "country", "regex", json!(["^S.$"])).await,
        ids(&["c1"])
    );
    // The /…/ form drops the slashes: same as ^S.$.
    assert_eq!(
        one(&store, "country", "regex", json!(["/^S.$/"])).await,
        ids(&["c1"])
    );
    // Unanchored: "wed" anywhere → Sweden.
    assert_eq!(
        one(&store, "country", "regex", json!(["wed"])).await,
        ids(&["c5"])
    );
    // Case-sensitive: ^[a-z]+$ only "se" (not "" since + needs one char).
    assert_eq!(
        one(&store, "country", "regex", json!(["/^[a-z]+$/"])).await,
        ids(&["c2"])
    );
    // RE2 inline flag (?i) makes it insensitive: "SE" and "se".
    assert_eq!(
        one(&store, "country", "regex", json!(["(?i)^se$"])).await,
        ids(&["c1", "c2"])
    );
    // Several patterns are ORed: ^D → DE, A$ → USA.
    assert_eq!(
        one(&store, "country", "regex", json!(["^D", "A$"])).await,
        ids(&["c3", "c6"])
    );
    // Only the outer slashes are removed: "/a/b/" is the pattern a/b → "a/b".
    assert_eq!(
        one(&store, "country", "regex", json!(["/a/b/"])).await,
        ids(&["c7"])
    );
}

pub async fn regex_perl_classes_follow_re2(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            with_country("u1", "123"),
            with_country("u2", "\u{663}\u{664}"),
            with_country("u3", "abc"),
            with_country("u4", "café"),
            with_country("u5", "a b"),
            with_country("u6", "a\u{a0}b"),
        ],
    )
    .await;
    // RE2: \d ≡ [0-9] → "123" only, not the Arabic-Indic digits "٣٤".
    assert_eq!(
        one(&store, "country", "regex", json!([r"^\d+$"])).await,
        ids(&["u1"])
    );
    // RE2: \w ≡ [0-9A-Za-z_] → "123", "abc"; "café" has é.
    assert_eq!(
        one(&store, "country", "regex", json!([r"^\w+$"])).await,
        ids(&["u1", "u3"])
    );
    // RE2: \s ≡ [\t\n\f\r ] → the ASCII space, not U+00A0.
    assert_eq!(
        one(&store, "country", "regex", json!([r"a\sb"])).await,
        ids(&["u5"])
    );
}

pub async fn case_sensitivity_on_every_text_operator(b: &dyn Backend) {
    let mut b1 = ev("b1", "screen_view", AT);
    b1.browser = "Safari".into();
    let mut b2 = ev("b2", "screen_view", AT);
    b2.browser = "SAFARI".into();
    let store = store_with(
        b,
        vec![with_country("c1", "SE"), with_country("c2", "se"), b1, b2],
    )
    .await;
    // is "se" matches "se" only, never "SE".
    assert_eq!(
        one(&store, "country", "is", json!(["se"])).await,
        ids(&["c2"])
    );
    // contains "A": "SAFARI" has A; "Safari" only has lowercase a.
    assert_eq!(
        one(&store, "browser", "contains", json!(["A"])).await,
        ids(&["b2"])
    );
    // contains "a": only "Safari".
    assert_eq!(
        one(&store, "browser", "contains", json!(["a"])).await,
        ids(&["b1"])
    );
    // endsWith "ari": only "Safari".
    assert_eq!(
        one(&store, "browser", "endsWith", json!(["ari"])).await,
        ids(&["b1"])
    );
    // isNot "safari": both differ from the lowercase word; c1/c2 have browser "" ≠ "safari".
    assert_eq!(
        one(&store, "browser", "isNot", json!(["safari"])).await,
        ids(&["b1", "b2", "c1", "c2"])
    );
}

fn with_props(id: &str, pairs: &[(&str, &str)]) -> quarry_core::event::NewEvent {
    let mut e = ev(id, "screen_view", AT);
    e.properties = props(pairs);
    e
}

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

pub async fn values_are_compared_as_text(b: &dyn Backend) {
    let vals = [
        ("v1", Some("1")),
        ("v2", Some("1.0")),
        ("v3", Some("19.99")),
        ("v4", Some("true")),
        ("v5", Some("")),
        ("v6", None),
        ("v7", Some("True")),
        ("v8", Some("false")),
        ("v9", Some("100")),
    ];
    let rows = vals
        .iter()
        .map(|(id, v)| match v {
            Some(v) => with_props(id, &[("x", v)]),
            None => with_props(id, &[]),
        })
        .collect();
    let store = store_with(b, rows).await;
    // 1.0 as a JSON number is the text "1": v1, not "1.0".
    assert_eq!(
        one(&store, "properties.x", "is", json!([1.0])).await,
        ids(&["v1"])
    );
    // 1 (integer) is "1".
    assert_eq!(
        one(&store, "properties.x", "is", json!([1])).await,
        ids(&["v1"])
    );
    // 19.99 is "19.99".
    assert_eq!(
        one(&store, "properties.x", "is", json!([19.99])).await,
        ids(&["v3"])
    );
    // 1e2 (a float) is its shortest decimal "100".
    assert_eq!(
        one(&store, "properties.x", "is", json!([1e2])).await,
        ids(&["v9"])
    );
    // true is "true" (not "True"); false is "false".
    assert_eq!(
        one(&store, "properties.x", "is", json!([true])).await,
        ids(&["v4"])
    );
    assert_eq!(
        one(&store, "properties.x", "is", json!([false])).await,
        ids(&["v8"])
    );
    // null is "": the empty value and the missing key.
    assert_eq!(
        one(&store, "properties.x", "is", json!([null])).await,
        ids(&["v5", "v6"])
    );
    // isNot null: every non-empty value.
    assert_eq!(
        one(&store, "properties.x", "isNot", json!([null])).await,
        ids(&["v1", "v2", "v3", "v4", "v7", "v8", "v9"])
    );
    // Mixed types ORed: "1" or "true".
    assert_eq!(
        one(&store, "properties.x", "is", json!([1, true])).await,
        ids(&["v1", "v4"])
    );
    // contains 9 → "19.99"; startsWith 1 → "1", "1.0", "19.99", "100".
    assert_eq!(
        one(&store, "properties.x", "contains", json!([9])).await,
        ids(&["v3"])
    );
    assert_eq!(
        one(&store, "properties.x", "startsWith", json!([1])).await,
        ids(&["v1", "v2", "v3", "v9"])
    );
    // A single value not wrapped in a list works the same: "true".
    assert_eq!(
        matching(
            &store,
            json!([{"name": "properties.x", "operator": "is", "value": true}])
        )
        .await,
        ids(&["v4"])
    );
}

pub async fn percent_underscore_backslash_are_literal(b: &dyn Backend) {
    let paths = [
        ("l1", "/50%"),
        ("l2", "/500"),
        ("l3", "a_c"),
        ("l4", "abc"),
        ("l5", r"a\b"),
        ("l6", "ab"),
        ("l7", r"a\\b"),
    ];
    let rows = paths
        .iter()
        .map(|(id, p)| {
            let mut e = ev(id, "screen_view", AT);
            e.path = p.to_string();
            e
        })
        .collect();
    let store = store_with(b, rows).await;
    // contains "50%": only "/50%", never "/500".
    assert_eq!(
        one(&store, "path", "contains", json!(["50%"])).await,
        ids(&["l1"])
    );
    // contains "%": only "/50%".
    assert_eq!(
        one(&store, "path", "contains", json!(["%"])).await,
        ids(&["l1"])
    );
    // startsWith "a_c": only "a_c", never "abc".
    assert_eq!(
        one(&store, "path", "startsWith", json!(["a_c"])).await,
        ids(&["l3"])
    );
    // contains "_": only "a_c".
    assert_eq!(
        one(&store, "path", "contains", json!(["_"])).await,
        ids(&["l3"])
    );
    // endsWith "%": "/50%" only; endsWith "_c": "a_c" only.
    assert_eq!(
        one(&store, "path", "endsWith", json!(["%"])).await,
        ids(&["l1"])
    );
    assert_eq!(
        one(&store, "path", "endsWith", json!(["_c"])).await,
        ids(&["l3"])
    );
    // is "a\b" (one backslash): l5 only, not "ab" nor "a\\b".
    assert_eq!(
        one(&store, "path", "is", json!([r"a\b"])).await,
        ids(&["l5"])
    );
    // contains "\": the two paths with backslashes.
    assert_eq!(
        one(&store, "path", "contains", json!([r"\"])).await,
        ids(&["l5", "l7"])
    );
    // contains "\\" (two backslashes): l7 only.
    assert_eq!(
        one(&store, "path", "contains", json!([r"\\"])).await,
        ids(&["l7"])
    );
    // startsWith "a\": l5, l7; endsWith "\b": l5, l7.
    assert_eq!(
        one(&store, "path", "startsWith", json!([r"a\"])).await,
        ids(&["l5", "l7"])
    );
    assert_eq!(
        one(&store, "path", "endsWith", json!([r"\b"])).await,
        ids(&["l5", "l7"])
    );
    // startsWith "a%" matches nothing (no path starts with a literal "a%").
    assert_eq!(
        one(&store, "path", "startsWith", json!(["a%"])).await,
        Vec::<String>::new()
    );
    // doesNotContain "%" and "_" and "\": /500, abc, ab.
    assert_eq!(
        one(&store, "path", "doesNotContain", json!(["%", "_", r"\"])).await,
        ids(&["l2", "l4", "l6"])
    );
}

pub async fn filters_are_anded_and_combine_with_other_params(b: &dyn Backend) {
    let mk = |id: &str, name: &str, country: &str, browser: &str| {
        let mut e = ev(id, name, AT);
        e.country = country.into();
        e.browser = browser.into();
        e
    };
    let store = store_with(
        b,
        vec![
            mk("f1", "screen_view", "SE", "Chrome"),
            mk("f2", "screen_view", "SE", "Firefox"),
            mk("f3", "screen_view", "DE", "Chrome"),
            mk("f4", "sign_up", "SE", "Chrome"),
        ],
    )
    .await;
    // country SE AND browser Chrome: f1, f4.
    assert_eq!(
        matching(
            &store,
            json!([
                {"name": "country", "operator": "is", "value": ["SE"]},
                {"name": "browser", "operator": "is", "value": ["Chrome"]}
            ])
        )
        .await,
        ids(&["f1", "f4"])
    );
    // Two negative filters ANDed: not SE and not Firefox → f3.
    assert_eq!(
        matching(
            &store,
            json!([
                {"name": "country", "operator": "isNot", "value": ["SE"]},
                {"name": "browser", "operator": "doesNotContain", "value": ["Fire"]}
            ])
        )
        .await,
        ids(&["f3"])
    );
    // With event=screen_view as well: f1 only.
    let filters = json!([
        {"name": "country", "operator": "is", "value": ["SE"]},
        {"name": "browser", "operator": "is", "value": ["Chrome"]}
    ]);
    let qs = format!(
        "event=screen_view&filters={}",
        url_enc(&filters.to_string())
    );
    let out = events(&store, &qs, chrono_tz::UTC, NOW).await;
    assert_eq!(data_ids(&out), vec!["f1".to_string()]);
    assert_eq!(out["meta"]["totalCount"], json!(1));
}

// ---------------------------------------------------------------------------------------
// Hostile text: one test per position (event names, filter values, property keys,
// breakdown property keys, regex patterns).

const HOSTILE: [&str; 5] = [
    r#"O'Brien said "hi" `x`"#,
    r"100%_off\path",
    "'; DROP TABLE events; --",
    "x'] OR 1=1 --",
    "Ünïcødé ✓",
];

/// The text is not in the SQL and is one of the bound parameters.
fn assert_bound(q: &Query, text: &str) {
    assert!(
        !q.sql.contains(text),
        "{text:?} appears in the SQL:\n{}",
        q.sql
    );
    assert!(
        q.params.contains(&Param::Text(text.to_string())),
        "{text:?} is not a parameter: {:?}",
        q.params
    );
    assert!(!q.sql.contains("DROP"), "DROP in SQL:\n{}", q.sql);
}

async fn assert_events_table_intact(store: &dyn Db, rows: i64) {
    // Plain SQL still reads the table with all its rows.
    assert_eq!(store.raw_event_count().await, rows);
    let all = events(store, "limit=1", chrono_tz::UTC, NOW).await;
    assert_eq!(all["meta"]["totalCount"], json!(rows));
}

pub async fn hostile_event_names(b: &dyn Backend) {
    let store = b.fresh().await;
    let mut rows = vec![ev("plain", "screen_view", AT)];
    for (i, h) in HOSTILE.iter().enumerate() {
        let mut e = ev(&format!("h{i}"), h, AT);
        e.session_id = format!("s{i}");
        rows.push(e);
    }
    // Decoys a wildcard or case-folding reading would match.
    rows.push(ev("decoy1", r"100abc_off\path", AT));
    rows.push(ev("decoy2", r"100%Xoff\path", AT));
    rows.push(ev("decoy3", "ünïcødé ✓", AT));
    store.insert_events(&rows).await.unwrap();
    let total = rows.len() as i64;

    for (i, h) in HOSTILE.iter().enumerate() {
        let id = format!("h{i}");
        for qs in [
            format!("event={}", url_enc(h)),
            format!("event={}", url_enc(&json!([h]).to_string())),
        ] {
            for d in Dialect::ALL {
                let plan = compile_events_qs(&qs, d, NOW);
                assert_bound(&plan.page, h);
                assert_bound(&plan.count, h);
            }
            // Exactly the event named h, and a count of 1.
            let out = events(&store, &qs, chrono_tz::UTC, NOW).await;
            assert_eq!(data_ids(&out), vec![id.clone()], "event={h:?}");
            assert_eq!(out["data"][0]["name"], json!(h));
            assert_eq!(out["meta"]["totalCount"], json!(1));
        }

        // Chart: one event named h in the day → sum 1, the name echoed in the series.
        let cq = format!(
            "events={}&startDate=2024-04-15&endDate=2024-04-15",
            url_enc(&json!([{"name": h}]).to_string())
        );
        for d in Dialect::ALL {
            assert_bound(&compile_chart_qs(&cq, d, NOW), h);
        }
        let c = chart(&store, &cq, chrono_tz::UTC, NOW).await;
        assert_eq!(c["series"][0]["event"]["name"], json!(h));
        assert_eq!(c["series"][0]["metrics"]["sum"], json!(1));

        // Funnel h → screen_view: session s{i} enters (one h event) and goes no further.
        let fq = format!(
            "events={}&startDate=2024-04-15&endDate=2024-04-15",
            url_enc(&json!([{"name": h}, {"name": "screen_view"}]).to_string())
        );
        for d in Dialect::ALL {
            assert_bound(&compile_funnel_qs(&fq, d, NOW), h);
        }
        let f = funnel(&store, &fq, chrono_tz::UTC, NOW).await;
        assert_eq!(f["totalSessions"], json!(1));
        assert_eq!(f["steps"][0]["event"]["name"], json!(h));
        assert_eq!(f["steps"][1]["count"], json!(0));
    }
    assert_events_table_intact(&store, total).await;
}

pub async fn hostile_filter_values(b: &dyn Backend) {
    let store = b.fresh().await;
    let mut rows = Vec::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let mut e = ev(&format!("v{i}"), "screen_view", AT);
        e.path = h.to_string();
        e.profile_id = h.to_string();
        e.properties = props(&[("note", h)]);
        rows.push(e);
    }
    for (id, p) in [
        ("decoy1", r"100abc_off\path"),
        ("decoy2", r"100%Xoff\path"),
        ("decoy3", r#"o'brien said "hi" `x`"#),
        ("decoy4", "ünïcødé ✓"),
        ("decoy5", ""),
    ] {
        let mut e = ev(id, "screen_view", AT);
        e.path = p.into();
        rows.push(e);
    }
    store.insert_events(&rows).await.unwrap();
    let total = rows.len() as i64;
    let mut everyone: Vec<String> = rows.iter().map(|e| e.id.clone()).collect();
    everyone.sort();

    for (i, h) in HOSTILE.iter().enumerate() {
        let id = format!("v{i}");
        let others: Vec<String> = everyone.iter().filter(|x| **x != id).cloned().collect();
        // Positive operators on the column and on the property: exactly the event whose
        // text is h (no hostile text contains another, decoys differ in case or wildcards).
        for (field, op) in [
            ("path", "is"),
            ("path", "contains"),
            ("path", "startsWith"),
            ("path", "endsWith"),
            ("properties.note", "is"),
            ("properties.note", "contains"),
        ] {
            let filters = json!([{"name": field, "operator": op, "value": [h]}]);
            let qs = format!("filters={}", url_enc(&filters.to_string()));
            for d in Dialect::ALL {
                let plan = compile_events_qs(&qs, d, NOW);
                assert_bound(&plan.page, h);
                assert_bound(&plan.count, h);
            }
            assert_eq!(
                matching(&store, filters).await,
                vec![id.clone()],
                "{field} {op} {h:?}"
            );
        }
        // profileId=h: the same event.
        let qs = format!("profileId={}", url_enc(h));
        for d in Dialect::ALL {
            let plan = compile_events_qs(&qs, d, NOW);
            assert_bound(&plan.page, h);
            assert_bound(&plan.count, h);
        }
        let out = events(&store, &qs, chrono_tz::UTC, NOW).await;
        assert_eq!(data_ids(&out), vec![id.clone()], "profileId {h:?}");
        // Negative operators: everyone but that event.
        for op in ["isNot", "doesNotContain"] {
            let filters = json!([{"name": "path", "operator": op, "value": [h]}]);
            assert_eq!(matching(&store, filters).await, others, "path {op} {h:?}");
        }
    }
    assert_events_table_intact(&store, total).await;
}

pub async fn hostile_property_keys(b: &dyn Backend) {
    let store = b.fresh().await;
    let mut rows = vec![
        with_props("decoy1", &[("other", "yes")]),
        with_props("decoy2", &[("x", "yes"), ("1", "yes")]),
    ];
    for (i, h) in HOSTILE.iter().enumerate() {
        rows.push(with_props(&format!("k{i}"), &[(h, "yes")]));
    }
    store.insert_events(&rows).await.unwrap();
    let total = rows.len() as i64;

    for (i, h) in HOSTILE.iter().enumerate() {
        let id = format!("k{i}");
        let name = format!("properties.{h}");
        for (op, value) in [("is", json!(["yes"])), ("isNotNull", json!([]))] {
            let filters = json!([{"name": name, "operator": op, "value": value}]);
            let qs = format!("filters={}", url_enc(&filters.to_string()));
            for d in Dialect::ALL {
                let plan = compile_events_qs(&qs, d, NOW);
                assert_bound(&plan.page, h);
                assert_bound(&plan.count, h);
            }
            // Only the event holding the key h.
            assert_eq!(
                matching(&store, filters).await,
                vec![id.clone()],
                "{name} {op}"
            );
        }
        // With includes=properties the key comes back verbatim.
        let filters = json!([{"name": name, "operator": "is", "value": ["yes"]}]);
        let qs = format!(
            "includes=properties&filters={}",
            url_enc(&filters.to_string())
        );
        let out = events(&store, &qs, chrono_tz::UTC, NOW).await;
        assert_eq!(out["data"][0]["properties"], json!({ *h: "yes" }));
    }
    assert_events_table_intact(&store, total).await;
}

pub async fn hostile_breakdown_property_keys(b: &dyn Backend) {
    let store = b.fresh().await;
    // Per key h: two events with value h itself, one with "v2"; plus one event without.
    let mut rows = vec![with_props("none", &[])];
    for (i, h) in HOSTILE.iter().enumerate() {
        rows.push(with_props(&format!("b{i}a"), &[(h, h)]));
        rows.push(with_props(&format!("b{i}b"), &[(h, h)]));
        rows.push(with_props(&format!("b{i}c"), &[(h, "v2")]));
    }
    store.insert_events(&rows).await.unwrap();
    let total = rows.len() as i64;

    for h in HOSTILE {
        let label = format!("properties.{h}");
        let qs = format!(
            "events={}&breakdowns={}&startDate=2024-04-15&endDate=2024-04-15",
            url_enc(r#"[{"name":"screen_view"}]"#),
            url_enc(&json!([{ "name": label }]).to_string())
        );
        for d in Dialect::ALL {
            assert_bound(&compile_chart_qs(&qs, d, NOW), h);
        }
        let c = chart(&store, &qs, chrono_tz::UTC, NOW).await;
        let mut got: Vec<(Value, Value, Value)> = c["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["breakdowns"].clone(),
                    s["names"].clone(),
                    s["metrics"]["sum"].clone(),
                )
            })
            .collect();
        got.sort_by_key(|g| g.2.as_i64());
        // 16 events: 2 carry value h, 1 carries "v2", the other 13 lack the key.
        let expected = vec![
            (
                json!({ &label: "v2" }),
                json!(["screen_view", "v2"]),
                json!(1),
            ),
            (json!({ &label: h }), json!(["screen_view", h]), json!(2)),
            (
                json!({ &label: "(not set)" }),
                json!(["screen_view", "(not set)"]),
                json!(13),
            ),
        ];
        assert_eq!(got, expected, "breakdown {label:?}");
    }
    assert_events_table_intact(&store, total).await;
}

pub async fn hostile_regex_patterns(b: &dyn Backend) {
    let store = b.fresh().await;
    let mut rows = Vec::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let mut e = ev(&format!("r{i}"), "screen_view", AT);
        e.path = h.to_string();
        rows.push(e);
    }
    for (id, p) in [
        ("decoy1", r"100abc_off\path"),
        ("decoy2", r"100%Xoff\path"),
        ("decoy3", r#"o'brien said "hi" `x`"#),
        ("decoy4", "ünïcødé ✓"),
        ("decoy5", "x' OR 1=1 --"),
    ] {
        let mut e = ev(id, "screen_view", AT);
        e.path = p.into();
        rows.push(e);
    }
    store.insert_events(&rows).await.unwrap();
    let total = rows.len() as i64;

    // (pattern as sent, pattern as bound, id it matches): literal patterns only need the
    // backslash escaped to match the hostile text itself.
    let cases = [
        (
            r#"^O'Brien said "hi" `x`$"#.to_string(),
            r#"^O'Brien said "hi" `x`$"#.to_string(),
            "r0",
        ),
        (
            r"^100%_off\\path$".to_string(),
            r"^100%_off\\path$".to_string(),
            "r1",
        ),
        (
            "'; DROP TABLE events; --".to_string(),
            "'; DROP TABLE events; --".to_string(),
            "r2",
        ),
        (
            "/'; DROP TABLE events; --/".to_string(),
            "'; DROP TABLE events; --".to_string(),
            "r2",
        ),
        (
            r"x'\] OR 1=1 --".to_string(),
            r"x'\] OR 1=1 --".to_string(),
            "r3",
        ),
        ("Ünïcødé ✓$".to_string(), "Ünïcødé ✓$".to_string(), "r4"),
    ];
    for (sent, bound, id) in cases {
        let filters = json!([{"name": "path", "operator": "regex", "value": [sent]}]);
        let qs = format!("filters={}", url_enc(&filters.to_string()));
        for d in Dialect::ALL {
            let plan = compile_events_qs(&qs, d, NOW);
            assert_bound(&plan.page, &bound);
            assert_bound(&plan.count, &bound);
        }
        assert_eq!(
            matching(&store, filters).await,
            vec![id.to_string()],
            "regex {sent:?}"
        );
    }
    assert_events_table_intact(&store, total).await;
}
