//! The funnel's formulations agree: on generated data (many equal timestamps, repeated
//! step names, steps just inside and just outside the window) the running-max form that
//! PostgreSQL and SQLite use and the self-join chains it replaced give, for every funnel,
//! the levels of a brute-force search written here in Rust. A chart's two forms of
//! per-config aggregates agree too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use quarry_core::compile::compile_funnel_with;
use quarry_core::decode;
use quarry_core::event::NewEvent;
use quarry_core::sql::Dialect;
use quarry_core::sql::Value;
use quarry_core::sql::dialect::FunnelStrategy;
use quarry_core::storage::Storage;
use quarry_core::write::{Database as _, EventWriter as _};
use quarry_sqlite::SqliteStorage;
use quarry_testkit::{Rng, ctx, ev};

const NAMES: [&str; 4] = ["a", "b", "c", "d"];
const T0: i64 = 1_713_000_000_000; // 2024-04-13T09:20:00Z

/// `(session, time, name)` of every generated event.
fn generate(rng: &mut Rng) -> Vec<(String, i64, &'static str)> {
    let mut out = Vec::new();
    for s in 0..60 {
        let n = 1 + rng.below(12);
        let mut t = T0 + rng.below(3_600_000) as i64;
        for _ in 0..n {
            // Equal timestamps are common; gaps straddle the 10-minute windows below.
            t += match rng.below(4) {
                0 => 0,
                1 => 1,
                2 => rng.below(600_000) as i64,
                _ => 600_000 + rng.below(3) as i64 - 1,
            };
            out.push((format!("s{s:02}"), t, NAMES[rng.below(4) as usize]));
        }
    }
    out
}

/// The level of one entrant, by trying every start and extending greedily.
fn brute_level(events: &[(i64, &str)], steps: &[&str], window: i64) -> usize {
    let mut best = 0;
    for (i, (t0, name)) in events.iter().enumerate() {
        if *name != steps[0] {
            continue;
        }
        let (mut level, mut last) = (1, *t0);
        for (t, name) in &events[i..] {
            if level < steps.len() && *name == steps[level] && *t > last && *t <= t0 + window {
                level += 1;
                last = *t;
            }
        }
        best = best.max(level);
    }
    best
}

/// Entrants per level (levels ≥ 1), as the SQL returns them.
fn brute(data: &[(String, i64, &str)], steps: &[&str], window: i64) -> Vec<(i64, i64)> {
    let mut by_key: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
    for (k, t, name) in data {
        by_key.entry(k).or_default().push((*t, name));
    }
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for events in by_key.values_mut() {
        events.sort_by_key(|e| e.0);
        let level = brute_level(events, steps, window);
        if level > 0 {
            *counts.entry(level as i64).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

async fn levels(db: &SqliteStorage, qs: &str, strategy: FunnelStrategy) -> Vec<(i64, i64)> {
    let req = decode::decode_funnel(qs).unwrap();
    let now = "2024-04-20T00:00:00.000Z";
    let plan =
        compile_funnel_with(&req, &ctx(chrono_tz::UTC, now), Dialect::Sqlite, strategy).unwrap();
    db.fetch(&plan.query)
        .await
        .unwrap()
        .into_iter()
        .map(|row| match row.as_slice() {
            [Value::Int(l), Value::Int(n)] => (*l, *n),
            other => panic!("unexpected row {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn running_max_chains_and_brute_force_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteStorage::connect(dir.path().join("f.db").to_str().unwrap())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let mut rng = Rng::xorshift(0x9e37_79b9_7f4a_7c15);
    let data = generate(&mut rng);
    let events: Vec<NewEvent> = data
        .iter()
        .enumerate()
        .map(|(i, (session, t, name))| NewEvent {
            session_id: session.clone(),
            project_id: "proj".into(),
            created_at: *t,
            ..ev(&format!("e{i:04}"), name, "2024-04-13T00:00:00.000Z")
        })
        .collect();
    db.insert_events(&events).await.unwrap();

    let mut nonempty = 0;
    for _ in 0..60 {
        let n = 2 + rng.below(4) as usize;
        let steps: Vec<&str> = (0..n).map(|_| NAMES[rng.below(4) as usize]).collect();
        // 10 minutes (the data's gaps straddle it), or 1 ms.
        let (window_h, window_ms) = if rng.below(5) == 0 {
            ("0.0000002777777777777778", 1)
        } else {
            ("0.166666666666666667", 600_000)
        };
        let list: Vec<String> = steps
            .iter()
            .map(|s| format!(r#"{{"name":"{s}"}}"#))
            .collect();
        let qs = format!(
            "events=[{}]&startDate=2024-04-13&endDate=2024-04-14&funnelWindow={window_h}",
            list.join(",")
        );
        let req = decode::decode_funnel(&qs).unwrap();
        let window = req.window_ms;
        assert!((window - window_ms).abs() <= 1, "{window} vs {window_ms}");
        let expected = brute(&data, &steps, window);
        nonempty += usize::from(expected.len() > 1);
        let running = levels(&db, &qs, FunnelStrategy::RunningMax).await;
        let chains = levels(&db, &qs, FunnelStrategy::Chains).await;
        assert_eq!(running, expected, "running max, {steps:?} window {window}");
        assert_eq!(chains, expected, "chains, {steps:?} window {window}");
    }
    assert!(nonempty > 20, "too few funnels past step 1: {nonempty}");
}

/// A chart of configs with different aggregates gives the same rows whether every
/// aggregate runs in every config's group (`CASE`, what SQLite and PostgreSQL use) or
/// each is filtered to its own configs (ClickHouse's `-If`, rendered here as
/// `FILTER (WHERE …)`), and whether the rows come from one scan repeated per config or
/// from one scan per config joined by `UNION ALL` (ClickHouse's form), with and without a
/// previous period and a breakdown, with configs that overlap.
#[tokio::test]
async fn config_aggregate_and_row_forms_agree() {
    use quarry_core::compile::{ChartForms, compile_chart_with};
    use quarry_core::sql::dialect::{ConfigAggregates, ConfigRows};
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteStorage::connect(dir.path().join("c.db").to_str().unwrap())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let mut rng = Rng::xorshift(0x2545_f491_4f6c_dd1d);
    let events: Vec<NewEvent> = (0..600)
        .map(|i| {
            let mut e = ev(
                &format!("e{i:04}"),
                NAMES[rng.below(4) as usize],
                "2024-04-13T00:00:00.000Z",
            );
            e.created_at = T0 + rng.below(6 * 86_400_000) as i64;
            e.profile_id = format!("u{}", rng.below(40));
            e.session_id = format!("s{}", rng.below(90));
            e.country = ["SE", "DE", ""][rng.below(3) as usize].into();
            e.properties = quarry_testkit::props(&[("total", &rng.below(100).to_string())]);
            e
        })
        .collect();
    db.insert_events(&events).await.unwrap();
    // Configs sharing names (one scan repeated in every form), and configs of distinct
    // names (`*` overlaps the others), which ConfigRows::UnionAll reads one scan each.
    let shared_names = r#"[{"name":"a"},{"name":"b","segment":"user"},{"name":"c","segment":"session"},{"name":"d","segment":"property_sum","property":"properties.total"},{"name":"a","segment":"user_average"},{"name":"*","segment":"property_average","property":"properties.total"},{"name":"b","segment":"one_event_per_user"},{"name":"c","segment":"event","filters":[{"name":"country","operator":"is","value":["SE"]}]}]"#;
    let own_names = r#"[{"name":"a","segment":"one_event_per_user"},{"name":"b","segment":"user"},{"name":"c","segment":"session","filters":[{"name":"country","operator":"is","value":["SE"]}]},{"name":"d","segment":"property_sum","property":"properties.total"},{"name":"*","segment":"property_average","property":"properties.total"}]"#;
    let ctx = ctx(chrono_tz::UTC, "2024-04-20T00:00:00.000Z");
    let mut compared = 0;
    let requests = [shared_names, own_names].into_iter().flat_map(|configs| {
        ["", "&previous=true", r#"&breakdowns=[{"name":"country"}]"#].map(|extra| (configs, extra))
    });
    for (configs, extra) in requests {
        let qs =
            format!("events={configs}&startDate=2024-04-13&endDate=2024-04-19&interval=day{extra}");
        let req = decode::decode_chart(&qs).unwrap();
        let configs_of_own_names = configs == own_names;
        let rows = |configs, rows| {
            let forms = ChartForms {
                configs,
                rows,
                ..ChartForms::of(Dialect::Sqlite)
            };
            let plan = compile_chart_with(&req, &ctx, Dialect::Sqlite, forms).unwrap();
            let db = &db;
            async move {
                assert_eq!(
                    plan.query.sql.contains("FILTER (WHERE"),
                    configs == ConfigAggregates::Filtered
                );
                assert_eq!(
                    plan.query.sql.contains(") AS u\n"),
                    rows == ConfigRows::UnionAll && configs_of_own_names,
                    "{}",
                    plan.query.sql
                );
                db.fetch(&plan.query).await.unwrap()
            }
        };
        let shared = rows(ConfigAggregates::Shared, ConfigRows::Expand).await;
        assert!(shared.len() > 20, "{qs}: {} rows", shared.len());
        for (configs, form) in [
            (ConfigAggregates::Filtered, ConfigRows::Expand),
            (ConfigAggregates::Shared, ConfigRows::UnionAll),
            (ConfigAggregates::Filtered, ConfigRows::UnionAll),
        ] {
            assert_eq!(
                rows(configs, form).await,
                shared,
                "{qs}: {configs:?}, {form:?}"
            );
        }
        compared += shared.len();
    }
    assert!(compared > 100);
}
