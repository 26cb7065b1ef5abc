//! Opening the configured databases (§1 deployment shapes).
//!
//! | shape | events and profiles | projects, clients, event_meta |
//! |---|---|---|
//! | embedded (default) | SQLite | the same SQLite file |
//! | PostgreSQL | PostgreSQL | the same PostgreSQL database |
//! | ClickHouse | ClickHouse (OpenPanel's tables) | PostgreSQL (OpenPanel's), or SQLite |
//!
//! [`Databases`] is what the command line works on (migrate, projects, clients, import,
//! seed); [`Databases::backends`] is what the HTTP server reads through.

use std::sync::Arc;

use quarry_clickhouse::ClickHouseStorage;
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::sql::Dialect;
use quarry_core::storage::{Catalog, ClientKind, ClientRecord, ProjectRecord, Storage};
use quarry_postgres::PostgresStorage;
use quarry_sqlite::SqliteStorage;

use crate::Error;
use crate::app::{Backends, Clock};
use crate::settings::Settings;

/// The ClickHouse database used when `QUARRY_CLICKHOUSE_DATABASE` is not set (OpenPanel's).
pub const DEFAULT_CLICKHOUSE_DATABASE: &str = "openpanel";

/// Open the embedded SQLite database named by a `sqlite://` URL.
pub async fn open_sqlite(url: &str) -> Result<SqliteStorage, Error> {
    SqliteStorage::connect(url)
        .await
        .map_err(|e| Error::Storage(e.to_string()))
}

/// The database of projects, clients and event metadata (and of events, unless they are
/// in ClickHouse).
#[derive(Debug, Clone)]
pub enum CatalogDb {
    /// The embedded SQLite file.
    Sqlite(SqliteStorage),
    /// A PostgreSQL database (OpenPanel's table and column names).
    Postgres(PostgresStorage),
}

/// Where events and profiles are written and read.
#[derive(Debug, Clone, Copy)]
pub enum EventStore<'a> {
    /// In the catalog's SQLite file.
    Sqlite(&'a SqliteStorage),
    /// In the catalog's PostgreSQL database.
    Postgres(&'a PostgresStorage),
    /// In ClickHouse.
    ClickHouse(&'a ClickHouseStorage),
}

/// The configured databases.
#[derive(Debug, Clone)]
pub struct Databases {
    /// Projects, clients, event_meta.
    pub catalog: CatalogDb,
    /// Events and profiles, when they live in ClickHouse.
    pub clickhouse: Option<ClickHouseStorage>,
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

impl Databases {
    /// Connect to what the settings name. Nothing is created or migrated.
    ///
    /// PostgreSQL and ClickHouse are connected lazily: a server whose database is down
    /// starts, answers 503, and recovers when the database is back.
    pub async fn open(settings: &Settings) -> Result<Databases, Error> {
        let url = &settings.database_url;
        let catalog = if is_sqlite(url) {
            CatalogDb::Sqlite(open_sqlite(url).await?)
        } else if is_postgres(url) {
            let store = PostgresStorage::connect_lazy(url, Some(settings.query_timeout))
                .map_err(|e| Error::Config(format!("QUARRY_DATABASE_URL: {e}")))?;
            CatalogDb::Postgres(store)
        } else {
            return Err(Error::Config(format!(
                "unsupported database URL {url:?}: expected sqlite://path or postgres://…"
            )));
        };
        let clickhouse = match &settings.clickhouse_url {
            Some(ch) => {
                let database = settings
                    .clickhouse_database
                    .as_deref()
                    .unwrap_or(DEFAULT_CLICKHOUSE_DATABASE);
                let store = ClickHouseStorage::connect(ch, database)
                    .map_err(|e| Error::Config(format!("QUARRY_CLICKHOUSE_URL: {e}")))?;
                Some(store.with_setting(
                    "max_execution_time",
                    &settings.query_timeout.as_secs().max(1).to_string(),
                ))
            }
            None => None,
        };
        Ok(Databases {
            catalog,
            clickhouse,
        })
    }

    /// Whether this is the embedded shape (one SQLite file, nothing in ClickHouse).
    pub fn is_embedded(&self) -> bool {
        matches!(self.catalog, CatalogDb::Sqlite(_)) && self.clickhouse.is_none()
    }

    /// Create or upgrade every schema this shape uses.
    pub async fn migrate(&self) -> Result<(), Error> {
        match &self.catalog {
            CatalogDb::Sqlite(s) => s.migrate().await?,
            CatalogDb::Postgres(p) => p.migrate().await?,
        }
        if let Some(ch) = &self.clickhouse {
            ch.migrate().await?;
        }
        Ok(())
    }

    /// Where events and profiles go.
    pub fn events(&self) -> EventStore<'_> {
        match (&self.clickhouse, &self.catalog) {
            (Some(ch), _) => EventStore::ClickHouse(ch),
            (None, CatalogDb::Sqlite(s)) => EventStore::Sqlite(s),
            (None, CatalogDb::Postgres(p)) => EventStore::Postgres(p),
        }
    }

    /// The catalog as core's traits.
    fn catalog_dyn(&self) -> (Arc<dyn Storage>, Arc<dyn Catalog>) {
        match &self.catalog {
            CatalogDb::Sqlite(s) => {
                let s = Arc::new(s.clone());
                (s.clone(), s)
            }
            CatalogDb::Postgres(p) => {
                let p = Arc::new(p.clone());
                (p.clone(), p)
            }
        }
    }

    /// What the HTTP server reads through.
    pub fn backends(&self, clock: Clock) -> Backends {
        let (meta, catalog) = self.catalog_dyn();
        let store: Arc<dyn Storage> = match &self.clickhouse {
            Some(ch) => Arc::new(ch.clone()),
            None => meta.clone(),
        };
        Backends {
            store,
            meta,
            catalog,
            clock,
        }
    }

    /// A project by id.
    pub async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, Error> {
        let (_, catalog) = self.catalog_dyn();
        catalog
            .project(id)
            .await
            .map_err(|e| Error::Storage(e.to_string()))
    }

    /// Create or update a project.
    pub async fn upsert_project(&self, p: &ProjectRecord, now_ms: i64) -> Result<(), Error> {
        match &self.catalog {
            CatalogDb::Sqlite(s) => s.upsert_project(p, now_ms).await?,
            CatalogDb::Postgres(pg) => pg.upsert_project(p, now_ms).await?,
        }
        Ok(())
    }

    /// Store a new client.
    pub async fn insert_client(&self, c: &ClientRecord, now_ms: i64) -> Result<(), Error> {
        match &self.catalog {
            CatalogDb::Sqlite(s) => s.insert_client(c, now_ms).await?,
            CatalogDb::Postgres(pg) => pg.insert_client(c, now_ms).await?,
        }
        Ok(())
    }

    /// Any client of a project, of a type.
    pub async fn find_client(
        &self,
        project_id: &str,
        kind: ClientKind,
    ) -> Result<Option<String>, Error> {
        Ok(match &self.catalog {
            CatalogDb::Sqlite(s) => s.find_client(project_id, kind).await?,
            CatalogDb::Postgres(pg) => pg.find_client(project_id, kind).await?,
        })
    }

    /// Replace a client's stored secret hash.
    pub async fn set_client_secret(&self, id: &str, hashed: &str) -> Result<(), Error> {
        match &self.catalog {
            CatalogDb::Sqlite(s) => s.set_client_secret(id, hashed).await?,
            CatalogDb::Postgres(pg) => pg.set_client_secret(id, hashed).await?,
        }
        Ok(())
    }

    /// Create or update an `event_meta` row, and read it back as the API shows it.
    pub async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), Error> {
        match &self.catalog {
            CatalogDb::Sqlite(s) => s.set_event_meta(m).await?,
            CatalogDb::Postgres(pg) => pg.set_event_meta(m).await?,
        }
        Ok(())
    }

    /// The catalog's storage and dialect (event metadata queries).
    pub fn meta_store(&self) -> (Arc<dyn Storage>, Dialect) {
        let (meta, _) = self.catalog_dyn();
        let dialect = meta.dialect();
        (meta, dialect)
    }

    /// Number of events stored for a project.
    pub async fn count_events(&self, project_id: &str) -> Result<u64, Error> {
        Ok(match self.events() {
            EventStore::Sqlite(s) => s.count_events(project_id).await?.max(0) as u64,
            EventStore::Postgres(pg) => pg.count_events(project_id).await?.max(0) as u64,
            EventStore::ClickHouse(ch) => ch.count_events(project_id).await?,
        })
    }

    /// Insert events (one transaction or one `INSERT`); returns how many were stored.
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, Error> {
        Ok(match self.events() {
            EventStore::Sqlite(s) => s.insert_events(events).await?,
            EventStore::Postgres(pg) => pg.insert_events(events).await?,
            EventStore::ClickHouse(ch) => ch.insert_events(events).await?,
        })
    }

    /// Refresh the planner's statistics after a bulk load. Without them SQLite answers a
    /// filtered events page by walking the page-order index over every row of the project
    /// (1.4 s for a name that matches nothing on the demo data) instead of the name index.
    pub async fn analyze(&self) -> Result<(), Error> {
        match self.events() {
            EventStore::Sqlite(s) => s.analyze().await?,
            EventStore::Postgres(pg) => pg.analyze().await?,
            EventStore::ClickHouse(_) => {}
        }
        Ok(())
    }

    /// Insert or replace profiles (outside any import transaction).
    pub async fn upsert_profiles(&self, profiles: &[NewProfile]) -> Result<(), Error> {
        match self.events() {
            EventStore::Sqlite(s) => {
                for p in profiles {
                    s.upsert_profile(p).await?;
                }
            }
            EventStore::Postgres(pg) => {
                for p in profiles {
                    pg.upsert_profile(p).await?;
                }
            }
            EventStore::ClickHouse(ch) => ch.upsert_profiles(profiles).await?,
        }
        Ok(())
    }

    /// Close pools (graceful end of a command).
    pub async fn close(&self) {
        match &self.catalog {
            CatalogDb::Sqlite(s) => s.close().await,
            CatalogDb::Postgres(pg) => pg.close().await,
        }
    }

    /// A description for messages: `sqlite://…`, `postgres://host/db`, `+ clickhouse`.
    pub fn describe(&self, settings: &Settings) -> String {
        let catalog = redact(&settings.database_url);
        match &settings.clickhouse_url {
            Some(ch) => format!("{} (events in ClickHouse {})", catalog, redact(ch)),
            None => catalog,
        }
    }
}

/// A URL without its password.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Open the storage the settings describe, for the HTTP server.
pub async fn open(settings: &Settings, clock: Clock) -> Result<Backends, Error> {
    Ok(Databases::open(settings).await?.backends(clock))
}

impl From<quarry_postgres::Error> for Error {
    fn from(e: quarry_postgres::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<quarry_clickhouse::Error> for Error {
    fn from(e: quarry_clickhouse::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("sqlite://quarry.db"), "sqlite://quarry.db");
        assert_eq!(
            redact("http://default:pw@127.0.0.1:8123"),
            "http://default:***@127.0.0.1:8123"
        );
    }
}
