//! What SQLite's planner makes of the compiled SQL: charts and funnels that name their
//! events and count profiles or sessions, with a country filter or breakdown, read the
//! covering index alone (migration 0003), never a table row; the latest event per
//! profile reads the profile index (0004) without sorting.
#![allow(clippy::unwrap_used)]

use quarry_core::event::NewEvent;
use quarry_core::sql::{Dialect, Param, Query};
use quarry_core::write::{Database as _, EventWriter as _};
use quarry_sqlite::SqliteStorage;
use quarry_testkit::ev;
use sqlx::{AssertSqlSafe, Row as _};

const NOW: &str = "2024-05-01T00:00:00Z";
const NAMES: [&str; 8] = [
    "screen_view",
    "sign_up",
    "purchase",
    "session_start",
    "session_end",
    "click",
    "scroll",
    "screen_view",
];

/// `EXPLAIN QUERY PLAN` of a compiled query: one line per step. The parameters are
/// written in as literals: SQLite plans a statement with its bound values when it runs
/// (it prepares again once they are bound, with STAT4), but `EXPLAIN QUERY PLAN` of the
/// bound statement shows the plan made without them.
async fn plan(db: &SqliteStorage, q: &Query) -> String {
    let mut sql = q.sql.clone();
    // From the last parameter down, so that `?1` does not match inside `?10`.
    for (i, p) in q.params.iter().enumerate().rev() {
        let literal = match p {
            Param::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Param::Int(i) | Param::Timestamp(i) => i.to_string(),
            Param::Float(f) => format!("{f:?}"),
        };
        sql = sql.replace(&format!("?{}", i + 1), &literal);
    }
    let rows = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(db.pool())
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn charts_and_funnels_read_the_covering_index_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let db = SqliteStorage::connect(path.to_str().unwrap())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let events: Vec<NewEvent> = (0..3_000)
        .map(|i| {
            // As in real data, most events are of other names than a funnel's steps.
            let name = NAMES[i % NAMES.len()];
            // Spread over the thirty days of April.
            let mut e = ev(&format!("c{i:05}"), name, "2024-04-01T00:00:00.000Z");
            e.created_at += i as i64 * 864_000;
            e.profile_id = format!("p{}", i % 97);
            e.session_id = format!("s{}", i % 211);
            e.country = ["DE", "SE", "US"][i % 7 % 3].into();
            e
        })
        .collect();
    db.insert_events(&events).await.unwrap();
    db.analyze().await.unwrap();
    // A connection reads the statistics when it loads the schema, and ANALYZE on one
    // connection does not reload them on the pool's others: plan on fresh connections,
    // as a server started after an import does.
    drop(db);
    let db = SqliteStorage::connect(path.to_str().unwrap())
        .await
        .unwrap();

    let range = "startDate=2024-04-01&endDate=2024-04-30&interval=day";
    let day = "startDate=2024-04-15&endDate=2024-04-15&interval=hour";
    let de = r#""filters":[{"name":"country","operator":"is","value":["DE"]}]"#;
    let latest = r#"events=[{"name":"screen_view","segment":"one_event_per_user"}]"#;
    const COVER: &str = "events_project_name_cover";
    // `one_event_per_user` over a window holding most of a name's events reads the
    // profiles in index order (migration 0004) and sorts only its buckets; over one day
    // of the thirty it reads the day's entries of the covering index and sorts those.
    const PROFILE: &str = "events_project_name_profile";
    let charts = [
        (
            format!(r#"{range}&events=[{{"name":"screen_view","segment":"user",{de}}}]"#),
            COVER,
        ),
        (
            format!(
                r#"{range}&events=[{{"name":"screen_view","segment":"session"}}]&breakdowns=[{{"name":"country"}}]"#
            ),
            COVER,
        ),
        (format!("{range}&{latest}"), PROFILE),
        (format!("{day}&{latest}"), COVER),
    ];
    let funnel = format!(
        r#"startDate=2024-04-01&endDate=2024-04-30&events=[{{"name":"screen_view",{de}}},{{"name":"sign_up"}},{{"name":"purchase"}}]"#
    );
    let mut queries: Vec<(Query, &str)> = charts
        .iter()
        .map(|(qs, index)| {
            let q = quarry_testkit::compile_chart_qs(qs, Dialect::Sqlite, NOW);
            (q, *index)
        })
        .collect();
    queries.push((
        quarry_testkit::compile_funnel_qs(&funnel, Dialect::Sqlite, NOW),
        COVER,
    ));
    for (q, index) in &queries {
        let text = plan(&db, q).await;
        let scans: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("events"))
            .filter(|l| l.starts_with("SEARCH") || l.starts_with("SCAN"))
            .collect();
        assert!(!scans.is_empty(), "{text}");
        if *index == PROFILE {
            // One sort only: the buckets' (the per-profile grouping has none).
            assert_eq!(
                text.matches("TEMP B-TREE FOR GROUP BY").count(),
                1,
                "{text}"
            );
        }
        for scan in scans {
            assert!(
                scan.contains(&format!("USING COVERING INDEX {index} ")),
                "{text}"
            );
        }
    }
}

/// A file migrated before 0004, with statistics for its other indexes: the upgrade builds
/// the profile index and writes its statistics at once (without them the planner would
/// take it for every window).
#[tokio::test]
async fn an_upgrade_writes_the_profile_index_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let db = SqliteStorage::connect(path.to_str().unwrap())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let events: Vec<NewEvent> = (0..500)
        .map(|i| {
            let mut e = ev(&format!("u{i:04}"), NAMES[i % NAMES.len()], NOW);
            e.profile_id = format!("p{}", i % 31);
            e
        })
        .collect();
    db.insert_events(&events).await.unwrap();
    db.analyze().await.unwrap();
    // The file as the release before 0004 left it.
    sqlx::raw_sql(
        "DROP INDEX events_project_name_profile; \
         DELETE FROM sqlite_stat1 WHERE idx = 'events_project_name_profile'; \
         DELETE FROM _sqlx_migrations WHERE version = 4",
    )
    .execute(db.pool())
    .await
    .unwrap();
    drop(db);

    let db = SqliteStorage::connect(path.to_str().unwrap())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let stat: Option<String> = sqlx::query_scalar(
        "SELECT stat FROM sqlite_stat1 WHERE idx = 'events_project_name_profile'",
    )
    .fetch_optional(db.pool())
    .await
    .unwrap();
    // 500 entries; 31 profiles of a name's events: the profile column's estimate is set.
    let stat = stat.expect("statistics for the new index");
    assert!(stat.starts_with("500 "), "{stat}");
}
