//! Every request fixture of the compiler's snapshot suite (`crates/core/tests/fixtures`),
//! compiled for ClickHouse and run on the server: on the tables `migrate` creates, and on
//! OpenPanel's own tables (narrower types, an extra column), both holding a few events.
//! ClickHouse checks types when it plans a query, so a statement the engine rejects fails
//! here whatever the data.
#![allow(clippy::unwrap_used)]
mod common;
use chrono_tz::Tz;
use common::*;
use quarry_core::compile::{Context, compile_chart, compile_events, compile_funnel};
use quarry_core::decode::{Limits, decode_chart, decode_events, decode_funnel};
use quarry_core::storage::Storage;
use quarry_core::write::EventWriter as _;
use quarry_core::{Dialect, Query};
use quarry_testkit::RequestFixture;

const PROJECT: &str = "fixture-project";

/// (name, queries) of every fixture, in the snapshot suite's format (see
/// `crates/core/tests/snapshots.rs`).
fn compiled() -> Vec<(String, Vec<Query>)> {
    quarry_testkit::request_fixtures()
        .iter()
        .map(compile)
        .collect()
}

fn compile(fx: &RequestFixture) -> (String, Vec<Query>) {
    let query = &fx.query;
    let now = fx.now.as_deref().unwrap_or("2024-04-15T12:34:56.789Z");
    let tz = fx.timezone.unwrap_or(Tz::UTC);
    let project = fx.project.as_deref().unwrap_or(PROJECT);
    let ctx = |req_tz: Option<Tz>| Context {
        project_id: project.to_string(),
        tz: req_tz.unwrap_or(tz),
        now: ms(now),
        first_event: fx.first_event,
    };
    let d = Dialect::ClickHouse;
    let queries = match fx.endpoint.as_str() {
        "charts" => {
            let req = decode_chart(query).unwrap();
            vec![compile_chart(&req, &ctx(req.timezone), d).unwrap().query]
        }
        "funnel" => {
            let req = decode_funnel(query).unwrap();
            vec![compile_funnel(&req, &ctx(req.timezone), d).unwrap().query]
        }
        _ => {
            let req = decode_events(query, Limits::default()).unwrap();
            let plan = compile_events(&req, &ctx(req.timezone), d).unwrap();
            let exact = plan.key_order.map(|k| k.exact);
            std::iter::once(plan.page)
                .chain(exact)
                .chain([plan.count])
                .collect()
        }
    };
    (fx.name.clone(), queries)
}

async fn run_all(store: &dyn Storage) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, queries) in compiled() {
        for q in queries {
            if let Err(e) = store.fetch(&q).await {
                failures.push(format!("{name}: {e}\n{}", q.sql));
            }
        }
    }
    failures
}

/// Events around the fixtures' clock (2024-04-15), so every query has rows to work on.
fn sample() -> Vec<quarry_core::event::NewEvent> {
    let names = [
        "screen_view",
        "session_start",
        "sign_up",
        "purchase",
        "add_to_cart",
    ];
    (0..40)
        .map(|i| {
            let name = names[i % names.len()];
            let mut e = ev(
                &format!("e{i}"),
                name,
                &format!("2024-04-{:02}T{:02}:15:00.000Z", 1 + i % 15, i % 24),
            );
            e.project_id = PROJECT.into();
            e.profile_id = format!("u{}", i % 4);
            e.session_id = format!("s{}", i % 6);
            e.country = ["SE", "US", ""][i % 3].into();
            e.duration = (i as i64) * 1000;
            e.path = format!("/p{}", i % 3);
            e.properties = props(&[("price", &format!("{}.5", i)), ("button", "cta-1")]);
            e
        })
        .collect()
}

#[tokio::test]
async fn every_fixture_runs_on_the_migrated_schema() {
    let db = fresh().await;
    db.insert_events(&sample()).await.unwrap();
    let failures = run_all(&db.store).await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn every_fixture_runs_on_openpanels_own_tables() {
    let db = openpanel_db(PROJECT).await;
    let failures = run_all(&db.store).await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
