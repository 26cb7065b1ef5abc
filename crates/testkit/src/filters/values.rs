//! How values compare (as text, wildcards literal) and how filters combine with each
//! other and with the other parameters.

use super::*;

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
    // (A single value not wrapped in a list is a 400, decided before any backend runs:
    // crates/core/tests/budgets.rs, `shapes_are_strict`.)
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
