//! Snapshots are the spec of the compiler.
//!
//! Every request fixture in `tests/fixtures/*.txt` is compiled for every dialect and
//! snapshotted as pretty SQL followed by its parameters, in
//! `tests/snapshots/<fixture>@<dialect>.snap`. Each statement is also parsed back with
//! `sqlparser` for its dialect and must be exactly one statement (`quarry_testkit::oracle`,
//! which the `request` fuzz target in `fuzz/` uses too), and no text parameter may appear
//! in it as a literal.
//!
//! Fixture format: header lines `key: value` (and `#` comments) up to the first blank
//! line, then the raw query string, one parameter per line (joined with `&`; lines
//! starting with `#` are comments; none at all is the empty query string). Values are
//! form-encoded: write `+` as `%2B`, `%` as `%25` and `&` as `%26`. Header keys:
//!
//! - `endpoint`: `charts`, `funnel` or `events` (required);
//! - `now`: the clock, RFC 3339 (default `2024-04-15T12:34:56.789Z`);
//! - `timezone`: the project's timezone (default `UTC`); a `timezone` parameter in the
//!   query string overrides it, as on the server;
//! - `first_event`: the project's first event, RFC 3339 (for `range=all_time`);
//! - `project`: the resolved project id (default `fixture-project`).
//!
//! Adding a fixture adds three snapshots; `scripts/check-snapshots.sh` rejects pending and
//! unreferenced snapshot files.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use quarry_core::compile::{
    Context, Paging, compile_chart, compile_events, compile_events_page, compile_funnel,
    sort_day_spans,
};
use quarry_core::decode::{Limits, decode_chart, decode_events, decode_funnel};
use quarry_core::request::Format;
use quarry_core::time::parse_rfc3339;
use quarry_core::{Dialect, Param, Query};
use quarry_testkit::oracle::parses_back;

const DEFAULT_NOW: &str = "2024-04-15T12:34:56.789Z";
const DEFAULT_PROJECT: &str = "fixture-project";

/// One request fixture, parsed.
#[derive(Debug)]
struct Fixture {
    name: String,
    endpoint: String,
    now: String,
    timezone: Tz,
    first_event: Option<String>,
    project: String,
    query: String,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every `*.txt` file of the fixtures folder, sorted by name.
fn fixture_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths
}

fn parse_fixture(path: &Path) -> Fixture {
    let name = path.file_stem().unwrap().to_str().unwrap().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let mut fx = Fixture {
        name,
        endpoint: String::new(),
        now: DEFAULT_NOW.to_string(),
        timezone: Tz::UTC,
        first_event: None,
        project: DEFAULT_PROJECT.to_string(),
        query: String::new(),
    };
    for line in lines.by_ref() {
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{}: header line without ':': {line}", fx.name));
        let value = value.trim().to_string();
        match key.trim() {
            "endpoint" => fx.endpoint = value,
            "now" => fx.now = value,
            "timezone" => {
                fx.timezone = value
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: unknown timezone {value}", fx.name));
            }
            "first_event" => fx.first_event = Some(value),
            "project" => fx.project = value,
            other => panic!("{}: unknown header {other:?}", fx.name),
        }
    }
    let params: Vec<&str> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    fx.query = params.join("&");
    assert!(
        matches!(fx.endpoint.as_str(), "charts" | "funnel" | "events"),
        "{}: endpoint must be charts, funnel or events, got {:?}",
        fx.name,
        fx.endpoint
    );
    fx
}

fn instant(fixture: &str, s: &str) -> i64 {
    parse_rfc3339(s).unwrap_or_else(|| panic!("{fixture}: not an RFC 3339 instant: {s}"))
}

fn context(fx: &Fixture, tz: Option<Tz>) -> Context {
    Context {
        project_id: fx.project.clone(),
        tz: tz.unwrap_or(fx.timezone),
        now: instant(&fx.name, &fx.now),
        first_event: fx.first_event.as_deref().map(|s| instant(&fx.name, s)),
    }
}

/// Compile a fixture for one dialect: the queries to check, and the snapshot text.
fn compile(fx: &Fixture, dialect: Dialect) -> (Vec<Query>, String) {
    let fail = |e: &dyn std::fmt::Debug| -> ! {
        panic!("{}@{}: request rejected: {e:?}", fx.name, dialect.name())
    };
    match fx.endpoint.as_str() {
        "charts" => {
            let req = decode_chart(&fx.query).unwrap_or_else(|e| fail(&e));
            let plan = compile_chart(&req, &context(fx, req.timezone), dialect)
                .unwrap_or_else(|e| fail(&e));
            let text = plan.query.explain();
            (vec![plan.query], text)
        }
        "funnel" => {
            let req = decode_funnel(&fx.query).unwrap_or_else(|e| fail(&e));
            let plan = compile_funnel(&req, &context(fx, req.timezone), dialect)
                .unwrap_or_else(|e| fail(&e));
            // The previous period's statement is the same over another window; the time
            // to convert and the breakdowns are statements of their own.
            let extra: Vec<(&str, _)> = [
                ("time to convert", plan.time_to_convert),
                ("breakdowns", plan.breakdowns),
            ]
            .into_iter()
            .filter_map(|(what, q)| Some((what, q?)))
            .collect();
            if extra.is_empty() {
                let text = plan.query.explain();
                (vec![plan.query], text)
            } else {
                let mut text = format!("-- funnel\n{}", plan.query.explain());
                let mut queries = vec![plan.query];
                for (what, q) in extra {
                    text.push_str(&format!("\n-- {what}\n{}", q.explain()));
                    queries.push(q);
                }
                (queries, text)
            }
        }
        _ => {
            let req = decode_events(&fx.query, Limits::default()).unwrap_or_else(|e| fail(&e));
            if let Some(Format::Stream(_)) = req.format {
                // A streamed export: one query per span, every row of it.
                let ctx = context(fx, req.timezone);
                let (mut queries, mut text) = (Vec::new(), String::new());
                for span in sort_day_spans(dialect) {
                    let plan = compile_events_page(&req, &ctx, dialect, Paging::All { span })
                        .unwrap_or_else(|e| fail(&e));
                    text.push_str(&format!("-- span {span:?}\n{}\n", plan.page.explain()));
                    queries.push(plan.page);
                }
                return (queries, text);
            }
            let plan = compile_events(&req, &context(fx, req.timezone), dialect)
                .unwrap_or_else(|e| fail(&e));
            let mut text = format!("-- page\n{}\n", plan.page.explain());
            let mut queries = vec![plan.page];
            if let Some(key_order) = plan.key_order {
                text.push_str(&format!("-- page_exact\n{}\n", key_order.exact.explain()));
                queries.push(key_order.exact);
            }
            text.push_str(&format!("-- count\n{}", plan.count.explain()));
            queries.push(plan.count);
            (queries, text)
        }
    }
}

/// Values are never inlined: no text parameter appears in the SQL as a string literal.
fn values_are_bound(q: &Query) -> Result<(), String> {
    for p in &q.params {
        if let Param::Text(v) = p {
            let literal = format!("'{}'", v.replace('\'', "''"));
            if !v.is_empty() && q.sql.contains(&literal) {
                return Err(format!("the value {v:?} is inlined in the SQL"));
            }
        }
    }
    Ok(())
}

fn snapshot(fx: &Fixture, dialect: Dialect, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("{} {}", fx.endpoint, fx.query));
    settings.bind(|| {
        insta::assert_snapshot!(format!("{}@{}", fx.name, dialect.name()), text);
    });
}

#[test]
fn fixtures_compile_to_their_snapshots() {
    let paths = fixture_paths();
    assert!(
        paths.len() >= 40,
        "expected at least 40 fixtures, found {}",
        paths.len()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let fx = parse_fixture(path);
        for dialect in Dialect::ALL {
            let id = format!("{}@{}", fx.name, dialect.name());
            // The snapshot is written even when the oracle rejects the SQL, so a reviewer
            // can read what was rejected; every failure is listed at the end.
            let outcome = std::panic::catch_unwind(|| {
                let (queries, text) = compile(&fx, dialect);
                snapshot(&fx, dialect, &text);
                queries
                    .iter()
                    .flat_map(|q| [parses_back(&q.sql, dialect), values_are_bound(q)])
                    .filter_map(Result::err)
                    .collect::<Vec<_>>()
            });
            match outcome {
                Ok(errors) => failures.extend(errors.into_iter().map(|e| format!("{id}: {e}"))),
                Err(_) => failures.push(format!("{id}: see the panic above")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures over {} snapshots:\n\n{}",
        failures.len(),
        paths.len() * Dialect::ALL.len(),
        failures.join("\n\n")
    );
}
