//! A real PostgreSQL for the tests: `DATABASE_URL` names a server (start a throwaway one
//! with `eval "$(scripts/start-postgres.sh)"`), and every test gets a database of its own
//! (`CREATE DATABASE q_<random>`), so tests run in parallel and leave each other alone.
//! Databases of passing tests are dropped; a failing test's database is kept to inspect.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Mutex;

use async_trait::async_trait;
use quarry_core::write::Database;
use quarry_postgres::PostgresStorage;
use quarry_testkit::{Backend, Db, TraitDb};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

/// The server URL, or a failing test that says how to get one.
pub fn server_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "DATABASE_URL is not set: the PostgreSQL tests need a server. Start a throwaway \
             one with `eval \"$(scripts/start-postgres.sh)\"` (stop it with \
             scripts/stop-postgres.sh), or point DATABASE_URL at a server where this user \
             may CREATE DATABASE."
        ),
    }
}

pub use quarry_testkit::with_database;

/// Databases created on one server, dropped by [`Pg::cleanup`].
pub struct Pg {
    admin: PgPool,
    url: String,
    created: Mutex<Vec<String>>,
}

impl Pg {
    /// Connect to the server named by `DATABASE_URL`.
    pub async fn new() -> Pg {
        let url = server_url();
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL ({url}): {e}"));
        Pg {
            admin,
            url,
            created: Mutex::new(Vec::new()),
        }
    }

    /// A new empty database; returns its URL.
    pub async fn create_database(&self) -> String {
        let name = format!("q_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&self.admin)
            .await
            .unwrap();
        self.created.lock().unwrap().push(name.clone());
        with_database(&self.url, &name)
    }

    /// A new migrated database.
    pub async fn storage(&self) -> PostgresStorage {
        let store = PostgresStorage::connect(&self.create_database().await)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// Drop every database this value created.
    pub async fn drop_databases(&self) {
        let names: Vec<String> = std::mem::take(&mut *self.created.lock().unwrap());
        for name in names {
            sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&self.admin)
            .await
            .unwrap();
        }
    }
}

/// A migrated database as the conformance suite sees it.
pub type PgDb = TraitDb<PostgresStorage>;

#[async_trait]
impl Backend for Pg {
    async fn fresh(&self) -> Box<dyn Db> {
        Box::new(TraitDb::new(self.storage().await, ()))
    }

    async fn cleanup(&self) {
        self.drop_databases().await;
    }
}
