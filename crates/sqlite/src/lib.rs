//! quarry-sqlite: the embedded default storage, SQLite through sqlx.
//!
//! It runs the SQL that quarry-core compiles (never building any itself), decodes rows
//! into core's [`Value`]s, owns the schema (migrations for events, profiles, projects,
//! clients and event_meta) and imports events in batched transactions. One file holds
//! everything, so `quarry demo` needs nothing but a path.
//!
//! Two pools share the file. Event queries ([`Storage::fetch`]) run on the larger one,
//! each under a progress handler that stops it past the query timeout or as soon as its
//! future is dropped (an HTTP timeout, a client gone), so an abandoned query never keeps a
//! connection. Client and project lookups ([`SqliteCatalog`]) have a small pool of their
//! own, so authentication never waits behind event queries. Streams
//! ([`Storage::stream`]) read on a connection of their own, stepped with rusqlite on a
//! blocking thread (`stream.rs` says why). `REGEXP` is
//! [`quarry_sqlite_regexp`]'s: each pattern compiled once per process, within size limits.

mod stream;
mod write;

use stream::Readers;
pub use write::{insert_events, upsert_profile};

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quarry_core::catalog::{Catalog, ClientRecord, ProjectRecord};
use quarry_core::sql::{CellType, Row, Value};
use quarry_core::sql::{Dialect, Param, Query};
use quarry_core::storage::{PoolStatus, PoolWaits, RowStream, Storage, StorageError};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Row as _, SqliteConnection, TypeInfo, ValueRef};

/// Storage over one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
    catalog: SqliteCatalog,
    query_timeout: Option<Duration>,
    /// Waits for `pool`'s connections by queries (`/metrics`).
    waits: Arc<PoolWaits>,
    /// Streams read on connections of their own ([`stream`]).
    readers: Readers,
}

/// Projects and clients of a [`SqliteStorage`]'s file, read through a pool of their own
/// ([`Options::catalog_connections`]).
#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
}

/// How a [`SqliteStorage`] runs queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Event queries running longer are stopped and answer [`StorageError::Timeout`]
    /// (`None`: no limit; a dropped query is stopped either way).
    pub query_timeout: Option<Duration>,
    /// Connections for event queries, imports and administration.
    pub max_connections: u32,
    /// Connections for client and project lookups only.
    pub catalog_connections: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            query_timeout: None,
            max_connections: 8,
            catalog_connections: 2,
        }
    }
}

/// Failures outside of query execution (connecting, migrating, importing).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or a statement failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The connection type import batches run on (an open transaction derefs to it).
pub use sqlx::SqliteConnection as Connection;

/// SQLite calls the progress handler every this many virtual machine instructions: often
/// enough to stop a query within a millisecond, rarely enough that the clock read costs
/// nothing measurable.
pub(crate) const PROGRESS_INTERVAL: i32 = 1_000;

/// How long a connection waits for another's write lock before its statement fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `SQLITE_INTERRUPT`: the progress handler stopped the statement.
const SQLITE_INTERRUPT: &str = "9";

impl SqliteStorage {
    /// Open (creating if missing) the database at a `sqlite://path` URL or a plain path,
    /// with the default [`Options`] (no query timeout).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, Options::default()).await
    }

    /// Open (creating if missing) the database at a `sqlite://path` URL or a plain path.
    pub async fn connect_with(url: &str, options: Options) -> Result<Self, Error> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let connect = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let waits = Arc::<PoolWaits>::default();
        let readers = Readers::new(
            &url,
            connect.get_filename(),
            BUSY_TIMEOUT,
            options.max_connections,
            Arc::clone(&waits),
        );
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    quarry_sqlite_regexp::register(&mut conn.lock_handle().await?)
                        .map_err(|e| sqlx::Error::Configuration(e.into()))
                })
            })
            // `fetch` installs a progress handler that may be set to interrupt; it must not
            // outlive the fetch. sqlx runs this hook when a connection comes back (also when
            // the fetch's future was dropped mid-query), before the connection can be
            // acquired again.
            .after_release(|conn, _| {
                Box::pin(async move {
                    conn.lock_handle().await?.remove_progress_handler();
                    Ok(true)
                })
            })
            .connect_with(connect.clone())
            .await?;
        // The same options (also an in-memory database's name): the same database.
        let catalog = SqlitePoolOptions::new()
            .max_connections(options.catalog_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(connect);
        Ok(SqliteStorage {
            pool,
            catalog: SqliteCatalog { pool: catalog },
            query_timeout: options.query_timeout,
            waits,
            readers,
        })
    }

    /// The connection pool of event queries, imports and administration.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Client and project lookups, on their own pool.
    pub fn catalog(&self) -> &SqliteCatalog {
        &self.catalog
    }
}

fn bind(args: &mut SqliteArguments, p: &Param) -> Result<(), StorageError> {
    let r = match p {
        Param::Text(s) => args.add(s.clone()),
        Param::Int(i) | Param::Timestamp(i) => args.add(*i),
        Param::Float(f) => args.add(*f),
    };
    r.map_err(|e| StorageError::Query(e.to_string()))
}

fn map_err(e: sqlx::Error) -> StorageError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StorageError::Unavailable(e.to_string())
        }
        // Only `fetch`'s progress handler interrupts, and a dropped fetch reads no error.
        sqlx::Error::Database(db) if db.code().as_deref() == Some(SQLITE_INTERRUPT) => {
            StorageError::Timeout
        }
        sqlx::Error::Database(db) if db.message().starts_with(quarry_sqlite_regexp::REJECTED) => {
            StorageError::Rejected(db.message().to_string())
        }
        other => StorageError::Query(other.to_string()),
    }
}

/// Sets the flag a statement's progress handler reads when dropped: on every exit of
/// `fetch`, and so also when its future is dropped mid-query. SQLite then stops the
/// statement at its next progress check, and the connection goes back to the pool.
struct InterruptOnDrop(Arc<AtomicBool>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Install a fresh progress handler for the next statement on `conn`: it stops the
/// statement past `timeout` or once the returned guard is dropped. The pool's
/// `after_release` hook removes it before anyone else can acquire the connection.
async fn arm(
    conn: &mut SqliteConnection,
    timeout: Option<Duration>,
) -> Result<InterruptOnDrop, StorageError> {
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let flag = Arc::clone(&stop);
    conn.lock_handle()
        .await
        .map_err(map_err)?
        .set_progress_handler(PROGRESS_INTERVAL, move || {
            !flag.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d)
        });
    Ok(InterruptOnDrop(stop))
}

/// A cell as SQLite stores it (its storage class).
pub(crate) enum Raw<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

/// A cell decoded as the query declares it. SQLite is dynamically typed, so the value's
/// own storage class is converted to the declared type; a map is read from JSON text only.
pub(crate) fn value(ty: CellType, raw: Raw<'_>) -> Result<Value, StorageError> {
    Ok(match (ty, raw) {
        (_, Raw::Null) => Value::Null,
        (CellType::Map, Raw::Text(v)) => Value::map_from_json(v),
        (CellType::Map, _) => {
            return Err(StorageError::Query("a map column holds a number".into()));
        }
        (CellType::Float, Raw::Int(v)) => Value::Float(v as f64),
        (CellType::Text, Raw::Int(v)) => Value::Text(v.to_string()),
        (_, Raw::Int(v)) => Value::Int(v),
        (CellType::Int | CellType::Bool, Raw::Real(v)) => Value::Int(v as i64),
        (CellType::Text, Raw::Real(v)) => Value::Text(quarry_core::format::decimal_text(v)),
        (_, Raw::Real(v)) => Value::Float(v),
        (CellType::Int | CellType::Bool, Raw::Text(v)) => Value::Int(v.parse().unwrap_or(0)),
        (CellType::Float, Raw::Text(v)) => Value::Float(v.parse().unwrap_or(0.0)),
        (_, Raw::Text(v)) => Value::Text(v.to_string()),
    })
}

fn cell(row: &SqliteRow, i: usize, ty: CellType) -> Result<Value, StorageError> {
    let raw = row.try_get_raw(i).map_err(map_err)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let get_err = |e: sqlx::Error| StorageError::Query(e.to_string());
    match raw.type_info().name() {
        "INTEGER" => value(ty, Raw::Int(row.try_get(i).map_err(get_err)?)),
        "REAL" => value(ty, Raw::Real(row.try_get(i).map_err(get_err)?)),
        _ => value(ty, Raw::Text(row.try_get::<&str, _>(i).map_err(get_err)?)),
    }
}

/// A row's cells, decoded as the query declares them.
fn decode(row: &SqliteRow, columns: &[CellType]) -> Result<Row, StorageError> {
    columns
        .iter()
        .enumerate()
        .map(|(i, ty)| cell(row, i, *ty))
        .collect()
}

#[async_trait]
impl Storage for SqliteStorage {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        let mut args = SqliteArguments::default();
        for p in &query.params {
            bind(&mut args, p)?;
        }
        let mut conn = self
            .waits
            .acquire(self.pool.acquire())
            .await
            .map_err(map_err)?;
        // Declared after `conn`, so dropped before it: the interrupt is requested before
        // the connection starts its way back to the pool.
        let _interrupt = arm(&mut conn, self.query_timeout).await?;
        let rows = sqlx::query_with(AssertSqlSafe(query.sql.clone()), args)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?;
        rows.iter().map(|row| decode(row, &query.columns)).collect()
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        self.readers.stream(query).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let p = &self.pool;
        let idle = u32::try_from(p.num_idle()).unwrap_or(u32::MAX);
        Some(
            self.waits
                .status(p.size(), idle, p.options().get_max_connections()),
        )
    }
}

/// Projects and clients (OpenPanel's names and columns).
#[async_trait]
impl Catalog for SqliteCatalog {
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StorageError> {
        let row = sqlx::query(
            "SELECT id, name, secret, type, \"projectId\", \"organizationId\" FROM clients WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let get = |i: usize| -> Result<Option<String>, StorageError> {
            row.try_get::<Option<String>, _>(i).map_err(map_err)
        };
        let columns = [get(0)?, get(1)?, get(2)?, get(3)?, get(4)?, get(5)?];
        ClientRecord::from_columns(columns).map(Some)
    }

    async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StorageError> {
        let row = sqlx::query(
            "SELECT id, \"organizationId\", name, timezone FROM projects WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let get = |i: usize| -> Result<Option<String>, StorageError> {
            row.try_get::<Option<String>, _>(i).map_err(map_err)
        };
        Ok(Some(ProjectRecord {
            id: get(0)?.unwrap_or_default(),
            organization_id: get(1)?.unwrap_or_default(),
            name: get(2)?.unwrap_or_default(),
            timezone: get(3)?,
        }))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

/// The same lookups as [`SqliteStorage::catalog`], on the catalog's own pool.
#[async_trait]
impl Catalog for SqliteStorage {
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StorageError> {
        self.catalog.client(id).await
    }

    async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StorageError> {
        self.catalog.project(id).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.catalog.ping().await
    }
}
