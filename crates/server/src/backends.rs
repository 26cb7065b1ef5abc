//! Opening the configured databases (§1 deployment shapes).

use std::sync::Arc;

use quarry_sqlite::SqliteStorage;

use crate::Error;
use crate::app::{Backends, system_clock};
use crate::settings::Settings;

/// Open the embedded SQLite database named by a `sqlite://` URL.
pub async fn open_sqlite(url: &str) -> Result<SqliteStorage, Error> {
    SqliteStorage::connect(url)
        .await
        .map_err(|e| Error::Storage(e.to_string()))
}

/// Open the storage the settings describe.
pub async fn open(settings: &Settings) -> Result<Backends, Error> {
    if settings.clickhouse_url.is_some() {
        return Err(Error::Config(
            "ClickHouse storage is not available in this build yet (QUARRY_CLICKHOUSE_URL)".into(),
        ));
    }
    let url = &settings.database_url;
    if url.starts_with("sqlite:") {
        let store = Arc::new(open_sqlite(url).await?);
        return Ok(Backends {
            store: store.clone(),
            meta: store.clone(),
            catalog: store,
            clock: system_clock(),
        });
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(Error::Config(
            "PostgreSQL storage is not available in this build yet".into(),
        ));
    }
    Err(Error::Config(format!(
        "unsupported database URL {url:?}: expected sqlite://path or postgres://…"
    )))
}
