//! Every text operator on a string column (is, contains, startsWith, endsWith, regex,
//! null) and their case rules.

use super::*;

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
