//! Hostile text: one test per position (event names, filter values, property keys,
//! breakdown property keys, regex patterns), reaching SQL only as bound parameters.

use super::*;

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
