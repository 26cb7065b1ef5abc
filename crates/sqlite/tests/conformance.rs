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
