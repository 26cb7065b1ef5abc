//! §8: the same request gets the same bytes from every backend. Three real applications —
//! SQLite, PostgreSQL, and ClickHouse with a PostgreSQL catalog — hold the same seeded
//! catalog and the same deterministic generated events: a daylight-saving change in the
//! Stockholm project, empty profile and session ids, many equal timestamps, property values
//! with quotes, `%`, `_`, backslashes and unicode, numbers and non-numbers. Every request
//! fixture of the compiler's snapshot suite (`crates/core/tests/fixtures`) is sent to all
//! three, for a UTC and a Stockholm project, and the status and body must be identical.
//!
//! Needs `DATABASE_URL` and `CLICKHOUSE_URL` (scripts/test.sh starts both).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use quarry_core::event::NewEvent;
use quarry_testkit::{Rng, request_fixtures};
use serde_json::Value;
use support::*;

/// A random item.
fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

const NAMES: [&str; 6] = [
    "screen_view",
    "screen_view",
    "session_start",
    "sign_up",
    "purchase",
    "button_click",
];

/// Texts that break naive quoting, LIKE patterns, JSON escaping or number parsing.
const VALUES: [&str; 21] = [
    "10",
    "2.5",
    "-1",
    "007",
    "1e3",
    "abc",
    "",
    "it's",
    "say \"hi\"",
    "50%",
    "a_b",
    "back\\slash",
    "naïve ünïcödé 🎉",
    "Åland",
    "0.1",
    "99.995",
    ".5",
    "1.",
    "+5",
    "-0",
    "1.2.3",
];

/// `n` events in project `project` between 2024-03-24 and the tests' clock, a third of
/// them on 2024-03-30/31 around Stockholm's change to summer time (2024-03-31 01:00 UTC).
fn generated(project: &str, first_id: u32, n: u32, rng: &mut Rng) -> Vec<NewEvent> {
    let start = ms("2024-03-24T00:00:00.000Z");
    let end = ms(NOW);
    let dst = ms("2024-03-30T12:00:00.000Z");
    let mut at = start;
    (0..n)
        .map(|i| {
            // One in five repeats the previous timestamp exactly.
            if i == 0 || rng.below(5) != 0 {
                at = if rng.below(3) == 0 {
                    dst + rng.below(24 * 3_600_000) as i64
                } else {
                    start + rng.below((end - start) as u64) as i64
                };
            }
            let mut properties = BTreeMap::new();
            for key in ["price", "plan", "coupon", "quantity", "__query.utm_source"] {
                if rng.below(3) != 0 {
                    properties.insert(key.to_string(), pick(rng, &VALUES).to_string());
                }
            }
            let id_or_empty = |rng: &mut Rng, prefix: &str, k: u64| {
                if rng.below(4) == 0 {
                    String::new()
                } else {
                    format!("{prefix}{}", rng.below(k))
                }
            };
            let profile_id = id_or_empty(rng, "u", 40);
            let session_id = id_or_empty(rng, "s", 150);
            NewEvent {
                id: format!("10000000-0000-4000-8000-{:012}", first_id + i),
                name: pick(rng, &NAMES).into(),
                project_id: project.into(),
                profile_id,
                session_id,
                device_id: format!("d{}", rng.below(60)),
                properties,
                country: pick(rng, &["SE", "DE", "", "Åland", "it's"]).into(),
                city: pick(rng, &["Stockholm", "", "50%", "a_b"]).into(),
                region: pick(rng, &["", "back\\slash", "Norr"]).into(),
                path: pick(rng, &["/", "/pricing", "/a_b", "/50%", "/\"q\""]).into(),
                browser: pick(rng, &["Safari", "Chrome", ""]).into(),
                os_version: pick(rng, &["17.4", "", "14"]).into(),
                referrer: pick(rng, &["", "https://example.com/?q=a%20b"]).into(),
                duration: rng.below(5) as i64 * 1500,
                latitude: [None, Some(59.3293), Some(0.1), Some(-33.45)][rng.below(4) as usize],
                longitude: [None, Some(18.0686), Some(1e-7)][rng.below(3) as usize],
                created_at: at,
                ..ev("", "", NOW)
            }
        })
        .collect()
}

async fn app(shape: Shape, events: &[NewEvent]) -> TestApp {
    let db = fresh_db_in(shape).await;
    seed(&db).await;
    db.insert_events(events).await.unwrap();
    // As `quarry import` does: statistics now, so that PostgreSQL's autovacuum cannot
    // re-plan a query halfway through the test (another plan sums the same floats in
    // another order, and a sum on a rounding boundary then differs in its last digit).
    db.analyze().await.unwrap();
    let backends = db.backends(clock());
    spawn_backends(settings(), backends, db)
}

/// Whether a response carries any non-zero count (so that the comparison is not only of
/// empty answers).
fn has_data(v: &Value) -> bool {
    let counts = |items: &Value, key: &str| {
        items
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x[key].as_f64().is_some_and(|c| c != 0.0))
    };
    let series = v["series"].as_array().into_iter().flatten();
    counts(&v["steps"], "count")
        || v["data"].as_array().is_some_and(|d| !d.is_empty())
        || series.into_iter().any(|s| counts(&s["data"], "count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_gets_identical_bytes_from_every_backend() {
    let mut rng = Rng::xorshift(0x2545_f491_4f6c_dd1d);
    let mut events = generated("abc", 0, 1500, &mut rng);
    events.extend(generated("abc123", 100_000, 1500, &mut rng));
    let apps = [
        ("sqlite", app(Shape::Sqlite, &events).await),
        ("postgres", app(Shape::Postgres, &events).await),
        ("clickhouse", app(Shape::ClickHouse, &events).await),
    ];
    let fixtures = request_fixtures();
    let (mut compared, mut with_data, mut streamed) = (0, 0, 0);
    for project in ["abc", "abc123"] {
        for fx in &fixtures {
            let (name, endpoint, query) = (&fx.name, &fx.endpoint, &fx.query);
            let path = format!("/export/{endpoint}?{query}&projectId={project}");
            let mut answers = Vec::new();
            for (backend, app) in &apps {
                answers.push((backend, app.get(&path, ROOT).await));
            }
            let (_, first) = &answers[0];
            for (backend, resp) in &answers[1..] {
                assert!(
                    resp.status == first.status && resp.body == first.body,
                    "{name} ({project}): {backend} differs from sqlite\n  sqlite: {} {}\n  {backend}: {} {}",
                    first.status,
                    first.body,
                    resp.status,
                    resp.body
                );
            }
            assert_eq!(first.status, 200, "{name} ({project}): {}", first.body);
            compared += 1;
            if query.contains("format=") {
                // A streamed fixture: its bodies were compared above.
                streamed += 1;
                continue;
            }
            if has_data(&first.json()) {
                with_data += 1;
            }
            // The same events streamed: NDJSON and CSV bodies are byte-identical too.
            if endpoint == "events" && !query.contains("cursor") {
                for format in ["ndjson", "csv"] {
                    let path = format!("{path}&format={format}");
                    let mut bodies = Vec::new();
                    for (backend, app) in &apps {
                        let r = app.get(&path, ROOT).await;
                        assert_eq!(r.status, 200, "{name} {format} ({project}) on {backend}");
                        bodies.push((backend, r.body));
                    }
                    for (backend, body) in &bodies[1..] {
                        assert!(
                            *body == bodies[0].1,
                            "{name} {format} ({project}): {backend} differs from sqlite"
                        );
                    }
                    streamed += 1;
                }
            }
        }
    }
    assert!(streamed >= 40, "{streamed} streams compared");
    assert_eq!(compared, 2 * fixtures.len());
    // Most fixtures' windows cover the generated weeks; a few ask for other dates.
    assert!(
        with_data * 10 >= compared * 7,
        "only {with_data} of {compared} answers carry data"
    );
}
