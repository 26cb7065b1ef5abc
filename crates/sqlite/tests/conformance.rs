//! The backend conformance suite (quarry-testkit) on SQLite: every scenario in a fresh
//! database file of its own.
#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use quarry_core::write::Database;
use quarry_sqlite::SqliteStorage;
use quarry_testkit::{Backend, Db, TraitDb};

struct Sqlite;

#[async_trait]
impl Backend for Sqlite {
    async fn fresh(&self) -> Box<dyn Db> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let store = SqliteStorage::connect(path.to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        Box::new(TraitDb::new(store, dir))
    }
}

async fn backend() -> Sqlite {
    Sqlite
}

quarry_testkit::conformance_tests!(crate::backend);

/// The events table's indexes (name, SQL) and the page cache size of a pooled connection.
async fn layout(store: &SqliteStorage) -> (Vec<(String, String)>, i64) {
    let indexes = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' \
         AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(store.pool())
        .await
        .unwrap();
    (indexes, cache)
}

/// A large load drops the secondary indexes and enlarges its connection's page cache only
/// for its own duration: after a commit and after a failed load the table has the same
/// indexes, and the pool's connection the same cache.
#[tokio::test]
async fn a_large_load_creates_the_indexes_it_dropped() {
    use quarry_core::write::{EventWriter as _, LoadHint};
    let dir = tempfile::tempdir().unwrap();
    // One connection: the one the load used is the one inspected afterwards.
    let options = quarry_sqlite::Options {
        max_connections: 1,
        ..Default::default()
    };
    let store = SqliteStorage::connect_with(dir.path().join("t.db").to_str().unwrap(), options)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let before = layout(&store).await;
    assert_eq!(before.0.len(), 4, "{before:?}");
    let large = LoadHint {
        input_bytes: Some(u64::MAX),
    };
    let rows: Vec<_> = (0..3)
        .map(|i| quarry_testkit::ev(&format!("l{i}"), "x", "2024-04-15T12:00:00.000Z"))
        .collect();

    let mut unit = store.begin_load(large).await.unwrap();
    assert_eq!(unit.insert_events(&rows).await.unwrap(), 3);
    drop(unit);
    assert_eq!(layout(&store).await.0, before.0);
    assert_eq!(store.count_events("proj").await.unwrap(), 0);

    let mut unit = store.begin_load(large).await.unwrap();
    assert_eq!(unit.insert_events(&rows).await.unwrap(), 3);
    assert_eq!(unit.insert_events(&rows[..1]).await.unwrap(), 0);
    assert_eq!(unit.commit().await.unwrap(), 0);
    assert_eq!(layout(&store).await, before);
    assert_eq!(store.count_events("proj").await.unwrap(), 3);
}
