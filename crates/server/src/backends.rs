//! Opening the configured databases (§1 deployment shapes).
//!
//! | shape | events and profiles | projects, clients, event_meta |
//! |---|---|---|
//! | embedded (default) | SQLite | the same SQLite file |
//! | PostgreSQL | PostgreSQL | the same PostgreSQL database |
//! | ClickHouse | ClickHouse (OpenPanel's tables) | PostgreSQL (OpenPanel's), or SQLite |
//!
//! [`Databases::open`] is the one place that names a backend: everything else holds
//! quarry-core's traits. [`Databases`] is what the command line works on (migrate,
//! projects, clients, import, seed); [`Databases::backends`] is what the HTTP server reads
//! through. A fourth backend is a crate implementing those traits and one branch in `open`.

use std::sync::Arc;

use quarry_core::catalog::{Catalog, ClientKind, ClientRecord, ProjectRecord};
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::sql::Dialect;
use quarry_core::storage::Storage;
use quarry_core::write::{CatalogWriter, Database, EventWriter, LoadHint, WriteUnit};

use crate::Error;
use crate::settings::Settings;

/// The ClickHouse database used when `QUARRY_CLICKHOUSE_DATABASE` is not set (OpenPanel's).
pub const DEFAULT_CLICKHOUSE_DATABASE: &str = "openpanel";

/// Milliseconds since the epoch; injectable so tests control "now".
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

/// The databases behind the HTTP server, as it reads them.
#[derive(Clone)]
pub struct Backends {
    /// Events and profiles.
    pub store: Arc<dyn Storage>,
    /// `event_meta` (the catalog's database).
    pub meta: Arc<dyn Storage>,
    /// Projects and clients.
    pub catalog: Arc<dyn Catalog>,
    /// "Now".
    pub clock: Clock,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The configured databases, each in the roles it plays.
#[derive(Debug, Clone)]
pub struct Databases {
    /// Where projects, clients and event metadata are written.
    catalog: Arc<dyn CatalogWriter>,
    /// Client and project lookups (a pool of their own, so authentication never waits
    /// behind event queries).
    lookups: Arc<dyn Catalog>,
    /// `event_meta` queries (the catalog's database, under the query timeout).
    meta: Arc<dyn Storage>,
    /// Where events and profiles are written.
    events: Arc<dyn EventWriter>,
    /// Where event queries run.
    store: Arc<dyn Storage>,
    /// Every distinct database, in the order their schemas are migrated.
    schemas: Vec<Arc<dyn Database>>,
    /// One SQLite file holds everything.
    embedded: bool,
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

impl Databases {
    /// One database in every role (SQLite or PostgreSQL).
    fn relational<T>(db: T, lookups: Arc<dyn Catalog>) -> Databases
    where
        T: Storage + EventWriter + CatalogWriter + 'static,
    {
        let db = Arc::new(db);
        Databases {
            catalog: db.clone(),
            lookups,
            meta: db.clone(),
            events: db.clone(),
            store: db.clone(),
            schemas: vec![db],
            embedded: false,
        }
    }

    /// Events and profiles in a database of their own (ClickHouse).
    fn with_events<T>(mut self, db: T) -> Databases
    where
        T: Storage + EventWriter + 'static,
    {
        let db = Arc::new(db);
        self.events = db.clone();
        self.store = db.clone();
        self.schemas.push(db);
        self.embedded = false;
        self
    }

    /// Connect to what the settings name. Nothing is created or migrated.
    ///
    /// PostgreSQL and ClickHouse are connected lazily: a server whose database is down
    /// starts, answers 503, and recovers when the database is back.
    pub async fn open(settings: &Settings) -> Result<Databases, Error> {
        let url = settings.database_url.expose();
        let timeout = settings.query_timeout;
        let databases = if is_sqlite(url) {
            let options = quarry_sqlite::Options {
                query_timeout: Some(timeout),
                ..quarry_sqlite::Options::default()
            };
            let db = quarry_sqlite::SqliteStorage::connect_with(url, options)
                .await
                .map_err(|e| Error::Storage(e.to_string()))?;
            let lookups = Arc::new(db.catalog().clone());
            Databases {
                embedded: true,
                ..Databases::relational(db, lookups)
            }
        } else if is_postgres(url) {
            let db = quarry_postgres::PostgresStorage::connect_lazy(url, Some(timeout))
                .map_err(|e| Error::Config(format!("QUARRY_DATABASE_URL: {e}")))?;
            let lookups = Arc::new(db.catalog().clone());
            Databases::relational(db, lookups)
        } else {
            return Err(Error::Config(format!(
                "unsupported database URL {}: expected sqlite://path or postgres://…",
                settings.database_url
            )));
        };
        let Some(ch) = &settings.clickhouse_url else {
            return Ok(databases);
        };
        let database = settings
            .clickhouse_database
            .as_deref()
            .unwrap_or(DEFAULT_CLICKHOUSE_DATABASE);
        let events = quarry_clickhouse::ClickHouseStorage::connect(ch.expose(), database)
            .map_err(|e| Error::Config(format!("QUARRY_CLICKHOUSE_URL: {e}")))?;
        Ok(databases.with_events(events.with_query_timeout(timeout)))
    }

    /// Whether this is the embedded shape (one SQLite file, nothing in ClickHouse).
    pub fn is_embedded(&self) -> bool {
        self.embedded
    }

    /// Create or upgrade every schema this shape uses.
    pub async fn migrate(&self) -> Result<(), Error> {
        for db in &self.schemas {
            db.migrate().await.map_err(Error::from)?;
        }
        Ok(())
    }

    /// Make the events readable by project, name and time where the store needs a
    /// structure for it (`quarry migrate --events-by-name`).
    pub async fn add_events_by_name(&self) -> Result<String, Error> {
        self.events.add_events_by_name().await.map_err(Error::from)
    }

    /// What the HTTP server reads through.
    pub fn backends(&self, clock: Clock) -> Backends {
        Backends {
            store: self.store.clone(),
            meta: self.meta.clone(),
            catalog: self.lookups.clone(),
            clock,
        }
    }

    /// A project by id.
    pub async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, Error> {
        self.lookups.project(id).await.map_err(Error::from)
    }

    /// Create or update a project.
    pub async fn upsert_project(&self, p: &ProjectRecord, now_ms: i64) -> Result<(), Error> {
        self.catalog
            .upsert_project(p, now_ms)
            .await
            .map_err(Error::from)
    }

    /// Store a new client.
    pub async fn insert_client(&self, c: &ClientRecord, now_ms: i64) -> Result<(), Error> {
        self.catalog
            .insert_client(c, now_ms)
            .await
            .map_err(Error::from)
    }

    /// Any client of a project, of a type.
    pub async fn find_client(
        &self,
        project_id: &str,
        kind: ClientKind,
    ) -> Result<Option<String>, Error> {
        self.catalog
            .find_client(project_id, kind)
            .await
            .map_err(Error::from)
    }

    /// Replace a client's stored secret hash.
    pub async fn set_client_secret(&self, id: &str, hashed: &str) -> Result<(), Error> {
        self.catalog
            .set_client_secret(id, hashed)
            .await
            .map_err(Error::from)
    }

    /// Create or update an `event_meta` row.
    pub async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), Error> {
        self.catalog.set_event_meta(m).await.map_err(Error::from)
    }

    /// The catalog's storage and dialect (event metadata queries).
    pub fn meta_store(&self) -> (Arc<dyn Storage>, Dialect) {
        (self.meta.clone(), self.meta.dialect())
    }

    /// Number of events stored for a project.
    pub async fn count_events(&self, project_id: &str) -> Result<u64, Error> {
        self.events
            .count_events(project_id)
            .await
            .map_err(Error::from)
    }

    /// Insert events (one unit); returns how many were stored.
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, Error> {
        self.events.insert_events(events).await.map_err(Error::from)
    }

    /// Insert or replace profiles (one unit).
    pub async fn upsert_profiles(&self, profiles: &[NewProfile]) -> Result<(), Error> {
        self.events
            .upsert_profiles(profiles)
            .await
            .map_err(Error::from)
    }

    /// Whether a unit of writes ([`Databases::begin`]) is all or nothing.
    pub fn atomic_writes(&self) -> bool {
        self.events.atomic_writes()
    }

    /// Start a unit of event and profile writes.
    pub async fn begin(&self) -> Result<Box<dyn WriteUnit + '_>, Error> {
        self.events.begin().await.map_err(Error::from)
    }

    /// Start the unit of one bulk load (an import of `hint`'s size).
    pub async fn begin_load(&self, hint: LoadHint) -> Result<Box<dyn WriteUnit + '_>, Error> {
        self.events.begin_load(hint).await.map_err(Error::from)
    }

    /// Refresh the planner's statistics after a bulk load. Without them SQLite answers a
    /// filtered events page by walking the page-order index over every row of the project
    /// (1.4 s for a name that matches nothing on the demo data) instead of the name index.
    pub async fn analyze(&self) -> Result<(), Error> {
        self.events.analyze().await.map_err(Error::from)
    }

    /// Close pools (graceful end of a command).
    pub async fn close(&self) {
        for db in &self.schemas {
            db.close().await;
        }
    }

    /// A description for messages: `sqlite://…`, `postgres://host/db`, `+ clickhouse`,
    /// passwords hidden.
    pub fn describe(&self, settings: &Settings) -> String {
        let catalog = settings.database_url.to_string();
        match &settings.clickhouse_url {
            Some(ch) => format!("{catalog} (events in ClickHouse {ch})"),
            None => catalog,
        }
    }
}

/// Open the storage the settings describe, for the HTTP server.
pub async fn open(settings: &Settings, clock: Clock) -> Result<Backends, Error> {
    Ok(Databases::open(settings).await?.backends(clock))
}
