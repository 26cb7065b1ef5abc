//! The checks behind the fuzz targets in `fuzz_targets/`, shared with the seed generator
//! (`examples/seeds.rs`), which runs every seed through them without instrumentation.
//!
//! Each `check_*` function takes the raw fuzz input and panics on a finding (a panic in
//! quarry-core surfaces the same way). docs/fuzzing.md explains the targets.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use chrono_tz::Tz;
use quarry_core::compile::{Context, compile_chart, compile_events, compile_funnel};
use quarry_core::decode::{Limits, decode_chart, decode_events, decode_funnel};
use quarry_core::event::NewEvent;
use quarry_core::{Dialect, Param, Query};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// qs

/// `qs::parse_lenient` never panics, and:
///
/// - every top-level key of the result, and the key of every error, is the root name of a
///   key of the form-decoded input (the text before its first bracket segment, or the
///   whole key): the decoder invents no parameters;
/// - nesting is bounded: at most [`MAX_QS_DEPTH`] levels whatever the input (20 bracket
///   segments plus one literal rest, then serde_json's 128-level limit for JSON values);
/// - `qs::parse` agrees with it: `Ok(map)` exactly when there is no error.
pub fn check_qs(data: &[u8]) {
    let query = String::from_utf8_lossy(data);
    let (map, errors) = quarry_core::qs::parse_lenient(&query);
    let keys: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect();
    let known = |name: &str| {
        !name.is_empty()
            && keys.iter().any(|k| {
                k == name
                    || k.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with('['))
            })
    };
    for key in map.keys() {
        assert!(known(key), "top-level key {key:?} is not in the input");
    }
    for e in &errors {
        assert!(
            known(e.param()),
            "error names {:?}, not in the input",
            e.param()
        );
    }
    let depth = depth(&Value::Object(map.clone()));
    assert!(depth <= MAX_QS_DEPTH, "nesting depth {depth}");
    match quarry_core::qs::parse(&query) {
        Ok(strict) => {
            assert!(
                errors.is_empty(),
                "parse is Ok but parse_lenient has errors"
            );
            assert_eq!(strict, map, "parse and parse_lenient disagree");
        }
        Err(e) => assert_eq!(Some(&e), errors.first(), "parse's error is not the first"),
    }
}

/// The deepest a decoded query string can nest: the root object, 21 bracket levels (20
/// segments and the literal rest), a leaf array of repeated values, then a JSON value of at
/// most 128 levels (serde_json's recursion limit).
pub const MAX_QS_DEPTH: usize = 1 + 21 + 1 + 128;

/// Containers nested in `v` (a scalar is 0).
pub fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------
// request

/// Timezones a fuzz input chooses from: UTC, DST in both hemispheres, offsets of 30 and
/// 45 minutes, a 30-minute DST shift, and a day without a local midnight (Santiago).
pub const TIMEZONES: [Tz; 8] = [
    Tz::UTC,
    Tz::Europe__Stockholm,
    Tz::America__Santiago,
    Tz::Asia__Kathmandu,
    Tz::Asia__Kolkata,
    Tz::America__New_York,
    Tz::Australia__Lord_Howe,
    Tz::Pacific__Chatham,
];

/// Clocks a fuzz input chooses from (ms): the fixtures' default, a January one (previous
/// periods across new year), a month's 31st (month arithmetic clamps), and 30 minutes after
/// Stockholm's spring-forward change.
pub const NOWS: [i64; 4] = [
    1_713_184_496_789, // 2024-04-15T12:34:56.789Z
    1_704_870_000_000, // 2024-01-10T07:00:00Z
    1_725_098_400_000, // 2024-08-31T10:00:00Z
    1_711_848_600_000, // 2024-03-31T01:30:00Z
];

/// The project's first event when the input asks for one (2023-11-02T08:15:00.123Z).
pub const FIRST_EVENT: i64 = 1_698_912_900_123;

/// The project every statement must be scoped to.
pub const PROJECT: &str = "fuzz-project";

/// Which endpoint(s) a `request` input decodes its query string for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Charts,
    Funnel,
    Events,
    /// The same query string for all three.
    All,
}

/// The first byte of a `request` input: bits 0–1 the endpoint, 2–4 the timezone, 5 whether
/// the project has a first event, 6–7 the clock. The rest is the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selector {
    pub endpoint: Endpoint,
    pub tz: usize,
    pub first_event: bool,
    pub now: usize,
}

impl Selector {
    pub fn from_byte(b: u8) -> Selector {
        Selector {
            endpoint: match b & 3 {
                0 => Endpoint::Charts,
                1 => Endpoint::Funnel,
                2 => Endpoint::Events,
                _ => Endpoint::All,
            },
            tz: usize::from((b >> 2) & 7),
            first_event: b & 0x20 != 0,
            now: usize::from(b >> 6),
        }
    }

    pub fn to_byte(self) -> u8 {
        let e = match self.endpoint {
            Endpoint::Charts => 0,
            Endpoint::Funnel => 1,
            Endpoint::Events => 2,
            Endpoint::All => 3,
        };
        e | (self.tz as u8) << 2 | u8::from(self.first_event) << 5 | (self.now as u8) << 6
    }

    /// The context the server would build: the request's `timezone` wins over the
    /// project's.
    pub fn context(self, request_tz: Option<Tz>) -> Context {
        Context {
            project_id: PROJECT.to_string(),
            tz: request_tz.unwrap_or(TIMEZONES[self.tz]),
            now: NOWS[self.now],
            first_event: self.first_event.then_some(FIRST_EVENT),
        }
    }
}

/// How a `request` input went, for the seed generator's report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Requests decoded (one per endpoint tried).
    pub decoded: usize,
    /// Statements compiled and parsed back.
    pub statements: usize,
}

/// Decode the query string for the selected endpoint(s); whatever decodes is compiled for
/// every dialect, and every statement is checked by [`check_query`]. Rejections
/// (`RequestError`) are fine; panics and failed checks are findings.
pub fn check_request(data: &[u8]) -> Outcome {
    let Some((&first, rest)) = data.split_first() else {
        return Outcome::default();
    };
    let sel = Selector::from_byte(first);
    let query = String::from_utf8_lossy(rest);
    let mut out = Outcome::default();
    let endpoints: &[Endpoint] = match sel.endpoint {
        Endpoint::All => &[Endpoint::Charts, Endpoint::Funnel, Endpoint::Events],
        ref one => std::slice::from_ref(one),
    };
    for endpoint in endpoints {
        match endpoint {
            Endpoint::Charts => {
                let Ok(req) = decode_chart(&query) else {
                    continue;
                };
                out.decoded += 1;
                let ctx = sel.context(req.timezone);
                for dialect in Dialect::ALL {
                    if let Ok(plan) = compile_chart(&req, &ctx, dialect) {
                        check_query(&plan.query, dialect);
                        out.statements += 1;
                    }
                }
            }
            Endpoint::Funnel => {
                let Ok(req) = decode_funnel(&query) else {
                    continue;
                };
                out.decoded += 1;
                let ctx = sel.context(req.timezone);
                for dialect in Dialect::ALL {
                    if let Ok(plan) = compile_funnel(&req, &ctx, dialect) {
                        check_query(&plan.query, dialect);
                        out.statements += 1;
                    }
                }
            }
            Endpoint::Events => {
                let Ok(req) = decode_events(&query, Limits::default()) else {
                    continue;
                };
                out.decoded += 1;
                let ctx = sel.context(req.timezone);
                for dialect in Dialect::ALL {
                    if let Ok(plan) = compile_events(&req, &ctx, dialect) {
                        check_query(&plan.page, dialect);
                        check_query(&plan.count, dialect);
                        out.statements += 2;
                    }
                }
            }
            Endpoint::All => unreachable!("expanded above"),
        }
    }
    out
}

/// One rendered statement:
///
/// - it parses back with sqlparser for its dialect as exactly one statement
///   (`quarry_testkit::oracle`, the snapshot test's oracle);
/// - its placeholders and its parameters agree: every placeholder names a parameter
///   (1..=n), every parameter is used, and where the placeholder carries a type (ClickHouse,
///   PostgreSQL) it is the parameter's type — a driver binds by position and type;
/// - it is scoped to the project: the project id is a bound parameter and `project_id`
///   appears in the SQL (SECURITY.md, guarantee 1).
pub fn check_query(q: &Query, dialect: Dialect) {
    if first_time(&q.sql, dialect)
        && let Err(e) = quarry_testkit::oracle::parses_back(&q.sql, dialect)
    {
        panic!("{} statement does not parse back: {e}", dialect.name());
    }
    let used = placeholders(&q.sql, dialect);
    let mut seen = BTreeSet::new();
    for (n, ty) in &used {
        let Some(p) = n.checked_sub(1).and_then(|i| q.params.get(i)) else {
            panic!(
                "{}: placeholder {n} but {} parameters\n{}",
                dialect.name(),
                q.params.len(),
                q.sql
            );
        };
        if let Some(ty) = ty {
            let expected = placeholder_type(dialect, p);
            assert_eq!(
                ty,
                expected,
                "{}: placeholder {n} typed {ty} for {p:?}",
                dialect.name()
            );
        }
        seen.insert(*n);
    }
    let unused: Vec<usize> = (1..=q.params.len()).filter(|n| !seen.contains(n)).collect();
    assert!(
        unused.is_empty(),
        "{}: parameters {unused:?} are never used\n{}",
        dialect.name(),
        q.sql
    );
    assert!(
        q.params
            .iter()
            .any(|p| matches!(p, Param::Text(t) if t == PROJECT)),
        "{}: the project id is not a parameter",
        dialect.name()
    );
    assert!(
        q.sql.contains("project_id"),
        "{}: no project_id",
        dialect.name()
    );
    // PostgreSQL refuses text holding NUL (a 500 if one got there): no value may carry one,
    // whatever escape produced it (a regex's `\x00` did, finding 3).
    if let Some(p) = q
        .params
        .iter()
        .find(|p| matches!(p, Param::Text(t) if t.contains('\0')))
    {
        panic!("{}: a parameter holds NUL: {p:?}", dialect.name());
    }
    assert!(!q.sql.contains('\0'), "{}: the SQL holds NUL", dialect.name());
}

/// Whether this process has not yet parsed back this exact statement for this dialect.
///
/// Values are parameters, so most mutations of a request (a different value, a different
/// name) render SQL that was already checked; parsing back is deterministic and costs about
/// 80% of an execution, so each distinct statement is parsed once per process. The set of
/// 64-bit hashes is bounded (cleared at [`SEEN_CAP`] entries). A reproducer run alone
/// starts with an empty set, so every finding reproduces.
fn first_time(sql: &str, dialect: Dialect) -> bool {
    use std::hash::{BuildHasher, Hasher};
    static SEEN: Mutex<Option<HashSet<u64>>> = Mutex::new(None);
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write(dialect.name().as_bytes());
    h.write(sql.as_bytes());
    let key = h.finish();
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.len() >= SEEN_CAP {
        seen.clear();
    }
    seen.insert(key)
}

/// Most statement hashes remembered by [`first_time`] (8 MiB or so).
pub const SEEN_CAP: usize = 500_000;

/// The placeholders of rendered SQL, in order: number and, where the dialect writes one,
/// type. The SQL holds no user text (values are parameters), so every match is a
/// placeholder.
pub fn placeholders(sql: &str, dialect: Dialect) -> Vec<(usize, Option<String>)> {
    let b = sql.as_bytes();
    let digits = |from: usize| -> (usize, usize) {
        let end = (from..b.len())
            .find(|&i| !b[i].is_ascii_digit())
            .unwrap_or(b.len());
        (sql[from..end].parse().unwrap_or(0), end)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let next = i + 1;
        let digit_next = b.get(next).is_some_and(u8::is_ascii_digit);
        match (dialect, b[i]) {
            (Dialect::Sqlite, b'?') if digit_next => {
                let (n, end) = digits(next);
                out.push((n, None));
                i = end;
            }
            (Dialect::Postgres, b'$') if digit_next => {
                let (n, end) = digits(next);
                let ty = sql[end..].strip_prefix("::").map(|t| {
                    if t.starts_with("double precision") {
                        "double precision".to_string()
                    } else {
                        t.split(|c: char| !c.is_ascii_alphanumeric())
                            .next()
                            .unwrap_or("")
                            .to_string()
                    }
                });
                out.push((n, ty));
                i = end;
            }
            (Dialect::ClickHouse, b'{') if b.get(next) == Some(&b'p') => {
                let (n, end) = digits(next + 1);
                let close = sql[end..].find('}').map_or(b.len(), |c| end + c);
                let ty = sql.get(end + 1..close).unwrap_or("").to_string();
                out.push((n, Some(ty)));
                i = close;
            }
            _ => i += 1,
        }
    }
    out
}

/// The type a dialect's placeholder names for a parameter.
pub fn placeholder_type(dialect: Dialect, p: &Param) -> &'static str {
    match (dialect, p) {
        (Dialect::ClickHouse, Param::Text(_)) => "String",
        (Dialect::ClickHouse, Param::Int(_) | Param::Timestamp(_)) => "Int64",
        (Dialect::ClickHouse, Param::Float(_)) => "Float64",
        (Dialect::Postgres, Param::Text(_)) => "text",
        (Dialect::Postgres, Param::Int(_) | Param::Timestamp(_)) => "bigint",
        (Dialect::Postgres, Param::Float(_)) => "double precision",
        (Dialect::Sqlite, _) => "",
    }
}

// ---------------------------------------------------------------------------------------
// import_line

/// One import line: `NewEvent::from_json` never panics, with and without a default project;
/// an accepted event holds no NUL in any text field, property key or property value (every
/// backend refuses NUL), has a name, and belongs to the default project when one is given.
/// Returns how many of the two calls accepted the line.
pub fn check_import_line(data: &[u8]) -> usize {
    let Ok(line) = std::str::from_utf8(data) else {
        return 0;
    };
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        return 0;
    };
    let mut accepted = 0;
    for default in [Some("p"), None] {
        let Ok(event) = NewEvent::from_json(&value, default) else {
            continue;
        };
        accepted += 1;
        for (field, text) in text_fields(&event) {
            assert!(!text.contains('\0'), "NUL in {field}: {text:?}");
        }
        for (k, v) in &event.properties {
            assert!(!k.contains('\0'), "NUL in a property key: {k:?}");
            assert!(!v.contains('\0'), "NUL in property {k:?}: {v:?}");
        }
        assert!(!event.name.is_empty(), "accepted without a name");
        if let Some(d) = default {
            assert_eq!(event.project_id, d, "accepted for another project");
        }
        assert!(!event.project_id.is_empty(), "accepted without a project");
        assert!(!event.id.is_empty(), "accepted without an id");
    }
    accepted
}

/// Every text column of an event, by name.
pub fn text_fields(e: &NewEvent) -> Vec<(&'static str, &str)> {
    vec![
        ("id", &e.id),
        ("name", &e.name),
        ("deviceId", &e.device_id),
        ("profileId", &e.profile_id),
        ("projectId", &e.project_id),
        ("sessionId", &e.session_id),
        ("country", &e.country),
        ("city", &e.city),
        ("region", &e.region),
        ("os", &e.os),
        ("osVersion", &e.os_version),
        ("browser", &e.browser),
        ("browserVersion", &e.browser_version),
        ("device", &e.device),
        ("brand", &e.brand),
        ("model", &e.model),
        ("path", &e.path),
        ("origin", &e.origin),
        ("referrer", &e.referrer),
        ("referrerName", &e.referrer_name),
        ("referrerType", &e.referrer_type),
        ("sdkName", &e.sdk_name),
        ("sdkVersion", &e.sdk_version),
    ]
}
