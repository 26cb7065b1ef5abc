//! The backend conformance suite (quarry-testkit) on SQLite: every scenario in a fresh
//! database file of its own.
#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::storage::Storage;
use quarry_sqlite::SqliteStorage;
use quarry_testkit::{Backend, Db};

struct Sqlite;

struct SqliteDb {
    store: SqliteStorage,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl Backend for Sqlite {
    async fn fresh(&self) -> Box<dyn Db> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let store = SqliteStorage::connect(path.to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        Box::new(SqliteDb { store, _dir: dir })
    }
}

#[async_trait]
impl Db for SqliteDb {
    fn storage(&self) -> &dyn Storage {
        &self.store
    }

    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, String> {
        self.store
            .insert_events(events)
            .await
            .map_err(|e| e.to_string())
    }

    async fn upsert_profile(&self, p: &NewProfile) -> Result<(), String> {
        self.store
            .upsert_profile(p)
            .await
            .map_err(|e| e.to_string())
    }

    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), String> {
        self.store
            .set_event_meta(m)
            .await
            .map_err(|e| e.to_string())
    }

    async fn raw_event_count(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }
}

async fn backend() -> Sqlite {
    Sqlite
}

quarry_testkit::conformance_tests!(crate::backend);
