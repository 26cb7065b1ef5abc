//! The budgets of `decode::Limits` (docs/limits.md), the strict shapes of §4.1/§4.5/§6,
//! NUL characters, and SQL that every engine accepts for the largest budget: each a 400
//! naming the parameter, decided before anything expensive runs.
#![allow(clippy::unwrap_used)]

use quarry_core::compile::{Context, compile_chart, compile_events, compile_funnel};
use quarry_core::decode::{
    Limits, MAX_DETAILS, decode_chart, decode_chart_with, decode_events, decode_funnel,
};
use quarry_core::error::{ParamErrorKind, RequestError};
use quarry_core::request::FilterValues;
use quarry_core::sql::{Dialect, Param};

/// Percent-encode a query-string value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn ctx() -> Context {
    Context {
        project_id: "p".into(),
        tz: chrono_tz::UTC,
        // 2024-04-15T12:34:56.789Z
        now: 1_713_184_496_789,
        first_event: None,
    }
}

/// A chart of one event config whose filters are `filters` (JSON).
fn chart_with_filters(filters: &str) -> String {
    format!(
        "events={}",
        enc(&format!(
            r#"[{{"name":"screen_view","filters":{filters}}}]"#
        ))
    )
}

/// One filter on `path` with `n` values made by `value(i)`.
fn filter_of(operator: &str, n: usize, value: impl Fn(usize) -> String) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("{:?}", value(i))).collect();
    format!(
        r#"{{"name":"path","operator":"{operator}","value":[{}]}}"#,
        values.join(",")
    )
}

#[track_caller]
fn only(err: &RequestError) -> (&str, &str) {
    assert_eq!(err.details.len(), 1, "{err:?}");
    (&err.details[0].param, &err.details[0].message)
}

#[test]
fn filter_values_are_budgeted_across_filters_and_configs() {
    let limits = Limits::default();
    // 1 000 values in one filter: the budget itself is accepted.
    let at = chart_with_filters(&format!(
        "[{}]",
        filter_of("contains", limits.max_values, |i| format!("v{i}"))
    ));
    decode_chart(&at).unwrap();
    // One more, spread over two configs' filters, is named where it went over.
    let half = limits.max_values / 2 + 1;
    let events = format!(
        r#"[{{"name":"a","filters":[{f}]}},{{"name":"b","filters":[{f}]}}]"#,
        f = filter_of("is", half, |i| format!("v{i}"))
    );
    let err = decode_chart(&format!("events={}", enc(&events))).unwrap_err();
    let (param, message) = only(&err);
    assert_eq!(param, format!("events[1].filters[0].value[{}]", half - 2));
    assert!(message.contains("at most 1000 filter values"), "{message}");
    // The events endpoint counts its `event` names too.
    let names: Vec<String> = (0..=limits.max_values).map(|i| format!("e{i}")).collect();
    let query = format!("event={}", enc(&serde_json::to_string(&names).unwrap()));
    let err = decode_events(&query, limits).unwrap_err();
    assert_eq!(only(&err).0, "event[1000]");
}

#[test]
fn value_bytes_and_filter_counts_are_budgeted() {
    let limits = Limits {
        max_value_bytes: 100,
        max_filters: 3,
        ..Limits::default()
    };
    let long = chart_with_filters(&format!("[{}]", filter_of("is", 3, |_| "x".repeat(40))));
    let err = decode_chart_with(&long, limits).unwrap_err();
    let (param, message) = only(&err);
    assert_eq!(param, "events[0].filters[0].value[2]");
    assert!(message.contains("100 bytes"), "{message}");
    // isNull filters take no values but still count as filters.
    let nulls = [r#"{"name":"path","operator":"isNull"}"#; 4].join(",");
    let err = decode_chart_with(&chart_with_filters(&format!("[{nulls}]")), limits).unwrap_err();
    let (param, message) = only(&err);
    assert_eq!(param, "events[0].filters[3]");
    assert!(message.contains("at most 3 filters"), "{message}");
}

#[test]
fn regular_expressions_are_budgeted_before_they_compile() {
    let limits = Limits::default();
    // The pattern of the security review: 65 025 copies of its atom once expanded.
    let hostile = chart_with_filters(&format!(
        "[{}]",
        filter_of("regex", 1, |_| "(a{1,255}){1,255}".into())
    ));
    let err = decode_chart(&hostile).unwrap_err();
    let (param, message) = only(&err);
    assert_eq!(param, "events[0].filters[0].value[0]");
    assert!(message.contains("compiles to more than"), "{message}");
    // Too many patterns: named once, where the count went over.
    let many = chart_with_filters(&format!(
        "[{}]",
        filter_of("regex", limits.max_patterns + 5, |i| format!("^/p{i}"))
    ));
    let err = decode_chart(&many).unwrap_err();
    let (param, message) = only(&err);
    assert_eq!(param, "events[0].filters[0].value[16]");
    assert!(
        message.contains("at most 16 regular expressions"),
        "{message}"
    );
    // A pattern longer than its budget, checked before it is parsed.
    let long = chart_with_filters(&format!(
        "[{}]",
        filter_of("regex", 1, |_| "a".repeat(limits.max_pattern_bytes + 1))
    ));
    let err = decode_chart(&long).unwrap_err();
    assert!(only(&err).1.contains("at most 1024 bytes"), "{err:?}");
    // Honest patterns, repeated, stay well inside every budget; `.{0,255}` included.
    let dots = chart_with_filters(&format!(
        "[{}]",
        filter_of("regex", 1, |_| "^.{0,255}$".into())
    ));
    decode_chart(&dots).unwrap();
    let honest = chart_with_filters(&format!(
        "[{}]",
        filter_of("regex", 16, |i| format!(
            r"^/docs/[a-z0-9-]{{1,64}}/v\d+(\.\d+)?$|^/p{}",
            i % 4
        ))
    ));
    decode_chart(&honest).unwrap();
}

#[test]
fn chart_series_and_points_are_budgeted() {
    let one = enc(r#"[{"name":"screen_view"}]"#);
    let breakdown = enc(r#"[{"name":"session_id"}]"#);
    let err = decode_chart(&format!("events={one}&limit=1&offset=100000")).unwrap_err();
    let (param, message) = only(&err);
    assert_eq!(param, "offset");
    assert!(
        message.contains("limit + offset may be at most 10000"),
        "{message}"
    );
    decode_chart(&format!("events={one}&limit=1000&offset=9000")).unwrap();

    // The security review's chart: 20 all-event configs, a session breakdown, minute
    // buckets over ~9 990 minutes and the previous period.
    let twenty = enc(&format!("[{}]", [r#"{"name":"*"}"#; 20].join(",")));
    let query = format!(
        "events={twenty}&breakdowns={breakdown}&interval=minute&startDate=2024-04-08T14:05:00Z\
         &endDate=2024-04-15T12:34:00Z&previous=true&limit=1&offset=9000"
    );
    let req = decode_chart(&query).unwrap();
    let err = compile_chart(&req, &ctx(), Dialect::Sqlite).unwrap_err();
    let (param, message) = only(&err);
    assert_eq!(param, "interval");
    assert!(
        message.contains("20 event configs × 9001 series each (limit + offset) × 19980 buckets"),
        "{message}"
    );
    // Without breakdowns the same window is 20 series: within budget.
    let query = format!(
        "events={twenty}&interval=minute&startDate=2024-04-08T14:05:00Z\
         &endDate=2024-04-15T12:34:00Z&previous=true"
    );
    compile_chart(&decode_chart(&query).unwrap(), &ctx(), Dialect::Sqlite).unwrap();
    // An ordinary breakdown chart: 30 days, default limit, previous period.
    let query = format!("events={twenty}&breakdowns={breakdown}&range=30d&previous=true");
    compile_chart(&decode_chart(&query).unwrap(), &ctx(), Dialect::Sqlite).unwrap();
}

#[test]
fn nul_characters_are_refused_where_they_are() {
    let cases: [(&str, String, &str); 6] = [
        (
            "charts",
            chart_with_filters(r#"[{"name":"path","operator":"is","value":["a\u0000b"]}]"#),
            "events[0].filters[0].value[0]",
        ),
        (
            "charts",
            format!("events={}", enc(r#"[{"name":"sc\u0000reen"}]"#)),
            "events[0].name",
        ),
        (
            "charts",
            chart_with_filters(r#"[{"name":"properties.a\u0000","operator":"is","value":["x"]}]"#),
            "events[0].filters[0].name",
        ),
        ("events", "event=a%00b".into(), "event"),
        ("events", "profileId=u%00".into(), "profileId"),
        ("funnel", "projectId=p%00&events=[]".into(), "projectId"),
    ];
    for (endpoint, query, param) in cases {
        let err = match endpoint {
            "charts" => decode_chart(&query).map(drop),
            "funnel" => decode_funnel(&query).map(drop),
            _ => decode_events(&query, Limits::default()).map(drop),
        }
        .unwrap_err();
        let d = err.details.iter().find(|d| d.param == param);
        let d = d.unwrap_or_else(|| panic!("{query}: {param} not named in {err:?}"));
        assert_eq!(d.kind, ParamErrorKind::Invalid);
        assert!(d.message.contains("NUL"), "{d:?}");
    }
}

#[test]
fn numeric_comparisons_of_properties_skip_values_that_are_not_numbers() {
    let filter = |values: &str, field: &str| {
        let query = chart_with_filters(&format!(
            r#"[{{"name":"{field}","operator":"gt","value":{values}}}]"#
        ));
        decode_chart(&query).map(|r| r.events[0].filters[0].values.clone())
    };
    // §4.5: only `^-?[0-9]+(\.[0-9]+)?$` text is a number; the rest never matches.
    assert_eq!(
        filter(
            r#"["1e3","+5"," 5","NaN","7","-2.5",3,true,null]"#,
            "properties.n"
        )
        .unwrap(),
        FilterValues::Numbers(vec![7.0, -2.5, 3.0])
    );
    assert_eq!(
        filter(r#"["abc"]"#, "properties.n").unwrap(),
        FilterValues::Numbers(Vec::new())
    );
    // A filter with no comparable value matches nothing, on every dialect, and binds no
    // parameter its SQL does not use (the property key; found by fuzz/request).
    let query = chart_with_filters(r#"[{"name":"properties.n","operator":"lt","value":["x"]}]"#);
    let req = decode_chart(&query).unwrap();
    let events = decode_events(
        r#"filters=[{"name":"properties.r","operator":"gt","value":[true]}]"#,
        Limits::default(),
    )
    .unwrap();
    for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::ClickHouse] {
        let chart = compile_chart(&req, &ctx(), dialect).unwrap().query;
        let page = compile_events(&events, &ctx(), dialect).unwrap().page;
        for q in [chart, page] {
            for n in 1..=q.params.len() {
                let placeholder = match dialect {
                    Dialect::Sqlite => format!("?{n}"),
                    Dialect::Postgres => format!("${n}::"),
                    Dialect::ClickHouse => format!("{{p{n}:"),
                };
                assert!(
                    q.sql.contains(&placeholder),
                    "{placeholder} unused:\n{}",
                    q.sql
                );
            }
            assert!(!q.params.iter().any(|p| *p == Param::Text("n".into())));
        }
    }
    // Numeric columns still take only numbers.
    let err = filter(r#"["1e3"]"#, "duration").unwrap_err();
    assert_eq!(only(&err).0, "events[0].filters[0].value[0]");
}

#[test]
fn shapes_are_strict() {
    let cases = [
        (r#"events={"name":"a"}"#.to_string(), "events"),
        ("events=screen_view".to_string(), "events"),
        (r#"events=["screen_view"]"#.to_string(), "events[0]"),
        (
            chart_with_filters(r#"{"name":"path","operator":"is","value":["a"]}"#),
            "events[0].filters",
        ),
        (
            chart_with_filters(r#"[{"name":"path","operator":"is","value":"a"}]"#),
            "events[0].filters[0].value",
        ),
    ];
    for (query, param) in cases {
        let err = decode_chart(&query).unwrap_err();
        assert!(
            err.details.iter().any(|d| d.param == param),
            "{query}: {param} not named in {err:?}"
        );
    }
    let err = decode_events(r#"filters={"name":"path"}"#, Limits::default()).unwrap_err();
    assert_eq!(only(&err).0, "filters");
}

#[test]
fn details_are_bounded() {
    let bad: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"name":"nope{i}","operator":"is","value":["x"]}}"#))
        .collect();
    let err = decode_chart(&chart_with_filters(&format!("[{}]", bad.join(",")))).unwrap_err();
    assert_eq!(err.details.len(), MAX_DETAILS);
    let err =
        decode_events(&format!("projectId={}", "p".repeat(300)), Limits::default()).unwrap_err();
    assert_eq!(only(&err).0, "projectId");
}

/// An upper bound of the expression depth an engine parses from the rendered SQL: each
/// parenthesis opens a level, and each operand of an `AND`/`OR` run adds one (engines
/// parse a run left-deep).
fn expression_depth(sql: &str) -> usize {
    let mut runs: Vec<usize> = vec![0];
    let mut deepest = 0;
    for token in sql.split_whitespace() {
        if token == "OR" || token == "AND" {
            if let Some(run) = runs.last_mut() {
                *run += 1;
            }
        }
        for c in token.chars() {
            match c {
                '(' => runs.push(0),
                ')' => {
                    runs.pop();
                }
                _ => {}
            }
            deepest = deepest.max(runs.iter().map(|r| r + 1).sum::<usize>());
        }
    }
    deepest
}

#[test]
fn the_largest_value_budget_renders_shallow_sql() {
    let limits = Limits::default();
    for op in [
        "contains",
        "doesNotContain",
        "startsWith",
        "endsWith",
        "is",
        "isNot",
    ] {
        let filters = format!(
            "[{}]",
            filter_of(op, limits.max_values, |i| format!("/v{i}"))
        );
        let chart = decode_chart(&chart_with_filters(&filters)).unwrap();
        let funnel = decode_funnel(&format!(
            "events={}",
            enc(&format!(
                r#"[{{"name":"a","filters":{filters}}},{{"name":"b"}}]"#
            ))
        ))
        .unwrap();
        let events = decode_events(&format!("filters={}", enc(&filters)), limits).unwrap();
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::ClickHouse] {
            let sqls = [
                compile_chart(&chart, &ctx(), dialect).unwrap().query.sql,
                compile_funnel(&funnel, &ctx(), dialect).unwrap().query.sql,
                compile_events(&events, &ctx(), dialect).unwrap().page.sql,
            ];
            for sql in sqls {
                let depth = expression_depth(&sql);
                assert!(depth < 100, "{op} on {dialect:?}: depth {depth}");
            }
        }
    }
}
