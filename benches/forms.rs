//! Both SQL forms of the same request, timed in one run on a seeded database, and their
//! rows compared: distinct counts (`count(DISTINCT …)` against two levels of grouping),
//! `one_event_per_user` (`row_number()` against the greatest time per user) and funnels
//! (self-join chains against the running max). See docs/performance.md.
//!
//! ```text
//! cargo run --release -p quarry-benches --bin forms -- URL [ROUNDS] [NOW]
//! ```
//!
//! `URL` is `postgres://…`, `sqlite://…` or `http://…` (ClickHouse, database `default`;
//! no funnel forms there) holding a project `p` seeded with
//! `quarry seed --project p --events 1000000 --days 30`; `NOW` (RFC 3339, default the
//! clock) should be the time of seeding, so that `range=30d` covers the data.
//! Rounds alternate the forms, so that a noisy neighbour slows both alike; the table
//! gives each form's median and the ratio of the medians.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use quarry_clickhouse::ClickHouseStorage;
use quarry_core::compile::{ChartForms, Context, compile_chart_with, compile_funnel_with};
use quarry_core::decode;
use quarry_core::sql::dialect::{DistinctCounts, FunnelStrategy, LatestEvent};
use quarry_core::sql::{Dialect, Query};
use quarry_core::sql::{Row, Value};
use quarry_core::storage::Storage;
use quarry_postgres::PostgresStorage;
use quarry_sqlite::SqliteStorage;

/// The chart requests whose distinct counts differ between the forms.
const CHARTS: [(&str, &str); 5] = [
    (
        "users, daily",
        r#"events=[{"name":"screen_view","segment":"user"}]&range=30d&interval=day"#,
    ),
    (
        "users by country",
        r#"events=[{"name":"screen_view","segment":"user"}]&range=30d&interval=day&breakdowns=[{"name":"country"}]"#,
    ),
    (
        "sessions, daily",
        r#"events=[{"name":"screen_view","segment":"session"}]&range=30d&interval=day"#,
    ),
    (
        "user_average, previous",
        r#"events=[{"name":"screen_view","segment":"user_average"}]&range=30d&interval=day&previous=true"#,
    ),
    (
        "users + events, 2 configs",
        r#"events=[{"name":"screen_view","segment":"user"},{"name":"session_start"}]&range=30d&interval=day"#,
    ),
];

/// `one_event_per_user` requests without breakdowns (where the forms differ).
const LATEST: [(&str, &str); 3] = [
    (
        "one_event_per_user",
        r#"events=[{"name":"screen_view","segment":"one_event_per_user"}]&range=30d&interval=day"#,
    ),
    (
        "one_event_per_user, previous",
        r#"events=[{"name":"screen_view","segment":"one_event_per_user"}]&range=30d&interval=day&previous=true"#,
    ),
    (
        "one_event_per_user + events",
        r#"events=[{"name":"screen_view","segment":"one_event_per_user"},{"name":"session_start"}]&range=30d&interval=day"#,
    ),
];

const FUNNEL: &str =
    r#"events=[{"name":"screen_view"},{"name":"sign_up"},{"name":"purchase"}]&range=30d"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: forms URL [ROUNDS] [NOW]");
    let rounds: usize = args.next().map_or(7, |r| r.parse().expect("ROUNDS"));
    let now = args.next().map_or_else(
        || chrono::Utc::now().timestamp_millis(),
        |t| {
            chrono::DateTime::parse_from_rfc3339(&t)
                .expect("NOW")
                .timestamp_millis()
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(&url, rounds, now));
}

async fn open(url: &str) -> Box<dyn Storage> {
    if url.starts_with("postgres") {
        Box::new(PostgresStorage::connect(url).await.unwrap())
    } else if url.starts_with("http") {
        Box::new(ClickHouseStorage::connect(url, "default").unwrap())
    } else {
        Box::new(SqliteStorage::connect(url).await.unwrap())
    }
}

fn context(now: i64) -> Context {
    Context {
        project_id: "p".into(),
        tz: chrono_tz::UTC,
        now,
        first_event: None,
    }
}

async fn run(url: &str, rounds: usize, now: i64) {
    let db = open(url).await;
    let dialect = db.dialect();
    let ctx = context(now);
    println!("{rounds} rounds on {dialect:?}\n");
    println!("| request | form A | form B | A ms (median) | B ms (median) | B / A | same rows |");
    println!("|---|---|---|---:|---:|---:|---|");
    let default = ChartForms::of(dialect);
    let distinct = |distinct| ChartForms {
        distinct,
        ..default
    };
    let latest = |latest| ChartForms { latest, ..default };
    let distinct_forms = [
        ("count(DISTINCT)", distinct(DistinctCounts::Direct)),
        ("grouped", distinct(DistinctCounts::Grouped)),
    ];
    let latest_forms = [
        ("row_number", latest(LatestEvent::RowNumber)),
        ("max time", latest(LatestEvent::MaxTime)),
    ];
    let cases = (CHARTS.iter().map(|c| (c, distinct_forms)))
        .chain(LATEST.iter().map(|c| (c, latest_forms)));
    for ((label, qs), forms) in cases {
        let req = decode::decode_chart(qs).unwrap();
        let forms = forms.map(|(name, f)| {
            let plan = compile_chart_with(&req, &ctx, dialect, f).unwrap();
            (name, plan.query)
        });
        compare(db.as_ref(), label, &forms, rounds).await;
    }
    if dialect == Dialect::ClickHouse {
        return;
    }
    let req = decode::decode_funnel(FUNNEL).unwrap();
    let form = |s| compile_funnel_with(&req, &ctx, dialect, s).unwrap().query;
    let forms = [
        ("chains", form(FunnelStrategy::Chains)),
        ("running max", form(FunnelStrategy::RunningMax)),
    ];
    compare(db.as_ref(), "3-step funnel", &forms, rounds).await;
}

async fn compare(db: &dyn Storage, label: &str, forms: &[(&str, Query); 2], rounds: usize) {
    let [(a_name, a), (b_name, b)] = forms;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        ra = db.fetch(a).await.unwrap();
        ta.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        rb = db.fetch(b).await.unwrap();
        tb.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (ma, mb) = (median(&mut ta), median(&mut tb));
    let same = same_rows(&ra, &rb);
    println!(
        "| {label} | {a_name} | {b_name} | {ma:.0} | {mb:.0} | {:.2} | {} |",
        mb / ma,
        if same { "yes" } else { "NO" }
    );
    assert!(same, "{label}: the forms disagree:\n{ra:?}\n{rb:?}");
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Equal rows; floats to 1e-9 relative (sums in another order may differ in the last bit).
/// Chart rows (`…, value, series`) whose value is 0 are left out: the max-time form of
/// `one_event_per_user` has no row where the row-number form has a 0, and shaping fills
/// both alike.
fn same_rows(a: &[Row], b: &[Row]) -> bool {
    let nonzero = |rows: &[Row]| -> Vec<Row> {
        rows.iter()
            .filter(|r| {
                r.len() < 5
                    || !matches!(r[r.len() - 2], Value::Int(0))
                        && !matches!(r[r.len() - 2], Value::Float(f) if f == 0.0)
            })
            .cloned()
            .collect()
    };
    let (a, b) = (nonzero(a), nonzero(b));
    let cell = |x: &Value, y: &Value| match (x, y) {
        (Value::Float(x), Value::Float(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        (Value::Float(x), Value::Int(y)) | (Value::Int(y), Value::Float(x)) => {
            (x - *y as f64).abs() <= 1e-9 * x.abs().max(1.0)
        }
        _ => x == y,
    };
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| cell(p, q)))
}
