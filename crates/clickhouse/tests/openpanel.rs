//! Pointing Quarry at an existing OpenPanel database: `migrate` leaves OpenPanel's tables
//! exactly as they are, and all three request kinds read OpenPanel's own column types
//! (`LowCardinality(FixedString(2))`, `Float32`, `DateTime` imported_at, `UInt64`
//! duration, an extra `revenue` column, `ReplacingMergeTree(created_at)` profiles).
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use quarry_clickhouse::{ClickHouseStorage, Error};
use quarry_core::write::{Database as _, EventWriter as _};
use serde_json::json;

const NOW: &str = "2024-04-15T00:00:00Z";

async fn show_create(db: &TestDb, table: &str) -> String {
    db.client()
        .query_raw(&format!("SHOW CREATE TABLE {table}"))
        .fetch_one::<String>()
        .await
        .unwrap()
}

#[tokio::test]
async fn migrate_leaves_openpanels_tables_unchanged() {
    let db = openpanel_db("proj").await;
    let before = (
        show_create(&db, "events").await,
        show_create(&db, "profiles").await,
    );
    db.migrate().await.unwrap();
    let after = (
        show_create(&db, "events").await,
        show_create(&db, "profiles").await,
    );
    assert_eq!(before, after);
    assert!(before.0.contains("FixedString(2)"), "{}", before.0);
}

#[tokio::test]
async fn a_table_without_a_column_quarry_reads_is_reported() {
    let db = empty().await;
    db.client()
        .query_raw("CREATE TABLE events (id UUID, name String) ENGINE = MergeTree ORDER BY id")
        .execute()
        .await
        .unwrap();
    let err = db.ensure_schema().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Schema {
                table: "events",
                column: "device_id"
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn events_with_every_field_from_openpanels_types() {
    let db = openpanel_db("proj").await;
    let out = json(
        &db.store,
        Kind::Events,
        r#"includes=["properties","longitude","latitude","importedAt","sessionId"]&profileId=u1"#,
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(out["meta"]["totalCount"], json!(2));
    // Float32 coordinates print as their shortest decimals; imported_at is in seconds.
    assert_eq!(
        out["data"][1],
        json!({
            "id": "11111111-1111-4111-8111-111111111111",
            "name": "screen_view",
            "deviceId": "d1",
            "profileId": "u1",
            "projectId": "proj",
            "createdAt": "2024-04-14T10:00:00.123Z",
            "country": "SE",
            "city": "Malmö",
            "os": "iOS",
            "browser": "Safari",
            "duration": 1500,
            "path": "/",
            "sessionId": "s1",
            "properties": {"plan": "pro", "price": "10"},
            "longitude": 13.003822,
            // 55.604981 as a Float32.
            "latitude": 55.60498,
            "importedAt": "2024-04-14T11:00:00.000Z"
        })
    );
    let out = json(
        &db.store,
        Kind::Events,
        "includes=profile&event=purchase",
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(out["data"][0]["profile"]["firstName"], json!("Ann"));
}

#[tokio::test]
async fn charts_and_funnels_on_openpanels_tables() {
    let db = openpanel_db("proj").await;
    let c = json(
        &db.store,
        Kind::Chart,
        r#"events=[{"name":"screen_view","segment":"user"},{"name":"purchase","segment":"property_sum","property":"properties.price"}]&startDate=2024-04-14&endDate=2024-04-14"#,
        chrono_tz::UTC,
        NOW,
    )
    .await;
    let sum = |name: &str| {
        let series = c["series"].as_array().unwrap();
        let s = series.iter().find(|s| s["event"]["name"] == json!(name));
        s.unwrap()["metrics"]["sum"].clone()
    };
    assert_eq!(sum("screen_view"), json!(2));
    assert_eq!(sum("purchase"), json!(19.5));
    let f = json(
        &db.store,
        Kind::Funnel,
        r#"events=[{"name":"screen_view"},{"name":"purchase"}]&startDate=2024-04-14&endDate=2024-04-14"#,
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(f["totalSessions"], json!(2));
    assert_eq!(f["steps"][1]["count"], json!(1));
}

/// `migrate --events-by-name` adds the projection to OpenPanel's table (and only then:
/// plain `migrate` added none above); a second run changes nothing; every answer is the
/// same with it.
#[tokio::test]
async fn the_events_by_name_projection_is_added_only_when_asked_and_changes_no_answer() {
    let db = openpanel_db("proj").await;
    db.migrate().await.unwrap();
    assert!(!show_create(&db, "events").await.contains("PROJECTION"));
    let requests = [
        (
            Kind::Chart,
            r#"events=[{"name":"screen_view","segment":"user"},{"name":"purchase","segment":"property_sum","property":"properties.price"}]&startDate=2024-04-14&endDate=2024-04-14"#,
        ),
        (
            Kind::Chart,
            r#"events=[{"name":"purchase"}]&startDate=2024-04-01&endDate=2024-04-14&breakdowns=[{"name":"country"}]"#,
        ),
        (
            Kind::Funnel,
            r#"events=[{"name":"screen_view"},{"name":"purchase"}]&startDate=2024-04-14&endDate=2024-04-14"#,
        ),
        (Kind::Events, "event=purchase&includes=properties"),
    ];
    let mut before = Vec::new();
    for (kind, qs) in requests {
        before.push(json(&db.store, kind, qs, chrono_tz::UTC, NOW).await);
    }
    let said = db.add_events_by_name().await.unwrap();
    assert!(
        said.starts_with("added projection quarry_events_by_name"),
        "{said}"
    );
    assert!(
        said.contains("DROP PROJECTION quarry_events_by_name"),
        "{said}"
    );
    let create = show_create(&db, "events").await;
    assert!(
        create.contains("PROJECTION quarry_events_by_name"),
        "{create}"
    );
    let again = db.add_events_by_name().await.unwrap();
    assert!(again.contains("is present"), "{again}");
    assert_eq!(show_create(&db, "events").await, create);
    for ((kind, qs), expected) in requests.into_iter().zip(before) {
        assert_eq!(
            json(&db.store, kind, qs, chrono_tz::UTC, NOW).await,
            expected,
            "{qs}"
        );
    }
}

/// Known gap, pinned so that a fix shows up here: OpenPanel stores an unknown country in a
/// `FixedString(2)` as two NUL bytes, which Quarry returns as they are (and does not
/// label `(not set)`). Reading it as the empty string needs a column hook in core.
#[tokio::test]
async fn openpanels_empty_country_reads_as_two_nul_bytes() {
    let db = openpanel_db("proj").await;
    let out = json(&db.store, Kind::Events, "profileId=d2", chrono_tz::UTC, NOW).await;
    assert_eq!(out["data"][0]["country"], json!("\0\0"));
}

/// The import rows are this crate's schema; an OpenPanel table with narrower types is
/// refused before anything is written, never written with converted values.
#[tokio::test]
async fn importing_into_openpanels_narrower_table_is_refused() {
    let db = openpanel_db("proj").await;
    let err = db
        .insert_events(&[ev("z", "x", "2024-04-14T00:00:00.000Z")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, quarry_core::storage::StorageError::Query(_)),
        "{err}"
    );
    assert_eq!(db.count_events("proj").await.unwrap(), 3);
    // The connection itself is fine.
    let _ = ClickHouseStorage::connect(&clickhouse_url(), db.database()).unwrap();
}
