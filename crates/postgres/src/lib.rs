//! quarry-postgres: Quarry's storage over PostgreSQL, through sqlx.
//!
//! It runs the SQL that quarry-core compiles for the PostgreSQL dialect (never building any
//! itself), decodes rows into core's [`Value`]s by each column's actual PostgreSQL type,
//! owns the schema (sqlx migrations for events, profiles and, when missing, OpenPanel's
//! projects, clients and event_meta) and imports events with `COPY`. Projects, clients
//! and event metadata are read with OpenPanel's table and column names, so the catalog of
//! an existing OpenPanel database works unchanged (§1 "OpenPanel-style" shape).
//!
//! Event queries ([`Storage::fetch`]) run under the server's `statement_timeout`, and one
//! whose future is dropped (an HTTP timeout, a client gone) is cancelled on the server with
//! `pg_cancel_backend` before its connection returns to the pool. Client and project
//! lookups ([`PostgresCatalog`]) have a small pool of their own, so authentication never
//! waits behind event queries.

mod cells;
mod copy;

use std::ops::DerefMut;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use quarry_core::catalog::{Catalog, ClientRecord, ProjectRecord};
use quarry_core::sql::CellType;
use quarry_core::sql::Row;
use quarry_core::sql::{Dialect, Param, Query};
use quarry_core::storage::{PoolStatus, PoolWaits, RowStream, Storage, StorageError, row_channel};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Arguments, AssertSqlSafe, PgConnection, Postgres, Row as _};

/// Storage over one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
    catalog: PostgresCatalog,
    /// Where cancellations are sent from: never a connection an event query may hold.
    control: PgPool,
    /// Waits for `pool`'s connections by queries (`/metrics`).
    waits: Arc<PoolWaits>,
}

/// Projects and clients of a [`PostgresStorage`]'s database, read through a pool of their
/// own ([`Options::catalog_connections`]).
#[derive(Debug, Clone)]
pub struct PostgresCatalog {
    pool: PgPool,
}

/// How a [`PostgresStorage`] connects and runs queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The server cancels any statement running longer (reported as
    /// [`StorageError::Timeout`]); `None` keeps the server's own setting. A dropped event
    /// query is cancelled either way.
    pub statement_timeout: Option<Duration>,
    /// Connections for event queries, imports and administration.
    pub max_connections: u32,
    /// Connections for client and project lookups only.
    pub catalog_connections: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            statement_timeout: None,
            max_connections: 10,
            catalog_connections: 2,
        }
    }
}

/// Failures outside of query execution (connecting, migrating, importing).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached or a statement failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The data or the request cannot be stored in this database.
    #[error("{0}")]
    Unsupported(String),
}

/// The connection type import batches run on (an open transaction derefs to it).
pub use sqlx::PgConnection as Connection;

/// An epoch-milliseconds `bigint` parameter as `timestamptz`, exactly (integer arithmetic).
macro_rules! ts_param {
    ($n:literal) => {
        concat!(
            "(TIMESTAMPTZ 'epoch' + $",
            $n,
            "::bigint * INTERVAL '1 millisecond')"
        )
    };
}

/// The same as a UTC `timestamp` (OpenPanel's `timestamp(3)` catalog columns).
macro_rules! utc_param {
    ($n:literal) => {
        concat!(
            "(TIMESTAMP 'epoch' + $",
            $n,
            "::bigint * INTERVAL '1 millisecond')"
        )
    };
}

mod write;

pub use write::{insert_events, upsert_profile};

fn connect_options(
    url: &str,
    statement_timeout: Option<Duration>,
) -> Result<PgConnectOptions, Error> {
    let mut options = PgConnectOptions::from_str(url)?.application_name("quarry");
    if let Some(t) = statement_timeout {
        options = options.options([("statement_timeout", format!("{}ms", t.as_millis()))]);
    }
    Ok(options)
}

/// How long a query waits for a connection. sqlx keeps retrying a refused connection until
/// then, so this is also how long a request takes to get its 503 while PostgreSQL is down:
/// short, since a queue for a healthy pool of ten moves in milliseconds.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The event pool's sessions plan every statement for its own parameters.
///
/// sqlx prepares each statement once per connection; after five executions PostgreSQL
/// may switch to a generic plan, which cannot know the time window:
/// `created_at >= $2 AND created_at <= $3` is then estimated at a fraction of a percent
/// of the rows whatever the window, and a chart's plan turns into nested loops over what
/// is in fact a month of events (a daily users chart filtered by country: 156 ms on a
/// fresh server, 204 ms after fifty requests; with custom plans 151 ms; benches/pg_plans.py,
/// docs/performance.md). An event query costs milliseconds to seconds, its planning a
/// fraction of a millisecond: a custom plan always pays.
/// Catalog lookups keep the server's default.
fn event_options(connect: &PgConnectOptions) -> PgConnectOptions {
    connect
        .clone()
        .options([("plan_cache_mode", "force_custom_plan")])
}

fn pool_options(connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

impl PostgresStorage {
    /// Connect to the database at a `postgres://` URL.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, None).await
    }

    /// Connect, and have the server cancel any statement running longer than
    /// `statement_timeout` (reported as [`StorageError::Timeout`]). A client-side timeout
    /// alone would leave an abandoned query running on the server.
    pub async fn connect_with(
        url: &str,
        statement_timeout: Option<Duration>,
    ) -> Result<Self, Error> {
        Self::open(
            url,
            Options {
                statement_timeout,
                ..Options::default()
            },
        )
        .await
    }

    /// Like [`PostgresStorage::connect_with`], but nothing is sent until the first query:
    /// a server started while PostgreSQL is down answers 503 and recovers by itself.
    pub fn connect_lazy(url: &str, statement_timeout: Option<Duration>) -> Result<Self, Error> {
        Self::open_lazy(
            url,
            Options {
                statement_timeout,
                ..Options::default()
            },
        )
    }

    /// Connect with these options (one connection is opened now, to fail early).
    pub async fn open(url: &str, options: Options) -> Result<Self, Error> {
        let connect = connect_options(url, options.statement_timeout)?;
        let pool = pool_options(options.max_connections)
            .connect_with(event_options(&connect))
            .await?;
        Ok(Self::with_pool(pool, connect, options))
    }

    /// Like [`PostgresStorage::open`], but nothing is sent until the first query.
    pub fn open_lazy(url: &str, options: Options) -> Result<Self, Error> {
        let connect = connect_options(url, options.statement_timeout)?;
        let pool = pool_options(options.max_connections).connect_lazy_with(event_options(&connect));
        Ok(Self::with_pool(pool, connect, options))
    }

    fn with_pool(pool: PgPool, connect: PgConnectOptions, options: Options) -> Self {
        let catalog = pool_options(options.catalog_connections).connect_lazy_with(connect.clone());
        // One connection, opened on the first cancellation and closed when idle: a
        // cancellation takes a fraction of a millisecond, even in a burst of timeouts.
        let control = pool_options(1)
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(connect);
        PostgresStorage {
            pool,
            catalog: PostgresCatalog { pool: catalog },
            control,
            waits: Arc::default(),
        }
    }

    /// The connection pool of event queries, import transactions and administration.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Client and project lookups, on their own pool.
    pub fn catalog(&self) -> &PostgresCatalog {
        &self.catalog
    }
}

/// PostgreSQL text cannot hold U+0000: refuse it with a message naming the record, rather
/// than the server's encoding error.
pub(crate) fn check_text(text: &str, what: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::Unsupported(format!(
            "{what}: PostgreSQL cannot store the NUL character (U+0000) in text"
        )));
    }
    Ok(())
}

/// The id if it is a UUID in canonical (lowercase, hyphenated) form. Client ids are
/// compared as exact text on every backend; anything else cannot name a client.
pub(crate) fn canonical_uuid(id: &str) -> Option<String> {
    let parsed = uuid::Uuid::try_parse(id).ok()?;
    let canonical = parsed.hyphenated().to_string();
    (canonical == id).then_some(canonical)
}

fn bind(args: &mut PgArguments, p: &Param) -> Result<(), StorageError> {
    let r = match p {
        Param::Text(s) => args.add(s.as_str()),
        // Timestamps are rendered as `TIMESTAMPTZ 'epoch' + $n::bigint * …` (epoch ms).
        Param::Int(i) | Param::Timestamp(i) => args.add(*i),
        Param::Float(f) => args.add(*f),
    };
    r.map_err(|e| StorageError::Query(e.to_string()))
}

/// Connection-level failures are "unavailable" (503), the server's statement timeout is a
/// timeout (504), everything else a query error (500).
pub(crate) fn map_err(e: sqlx::Error) -> StorageError {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // query_canceled: statement_timeout fired (a cancelled fetch reads no error).
            Some("57014") => return StorageError::Timeout,
            // invalid_regular_expression, also "regular expression is too complex": the
            // request's pattern, not a fault.
            Some("2201B") => return StorageError::Rejected(db.message().to_string()),
            // connection_exception class, server shutting down or refusing connections.
            Some(code) => {
                code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
            }
            None => false,
        },
        _ => false,
    };
    if unavailable {
        StorageError::Unavailable(e.to_string())
    } else {
        StorageError::Query(e.to_string())
    }
}

/// A row's cells, decoded as the query declares them.
fn decode(row: &PgRow, columns: &[CellType]) -> Result<Row, StorageError> {
    columns
        .iter()
        .enumerate()
        .map(|(i, ty)| cells::cell(row, i, *ty))
        .collect()
}

#[async_trait]
impl Storage for PostgresStorage {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        let mut args = PgArguments::default();
        for p in &query.params {
            bind(&mut args, p)?;
        }
        let mut conn = self
            .waits
            .acquire(self.pool.acquire())
            .await
            .map_err(map_err)?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
        let mut running = Running {
            conn: Some(conn),
            pid,
            control: self.control.clone(),
            finished: false,
        };
        let rows = running
            .fetch_all(sqlx::query_with(AssertSqlSafe(query.sql.clone()), args))
            .await;
        running.finished = true;
        let rows = rows.map_err(map_err)?;
        rows.iter().map(|row| decode(row, &query.columns)).collect()
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        let mut args = PgArguments::default();
        for p in &query.params {
            bind(&mut args, p)?;
        }
        // A transaction only to lift the statement timeout for this statement alone
        // (`SET LOCAL`): the reader bounds its wait for each chunk, and dropping the
        // stream cancels the statement.
        let mut tx = self
            .waits
            .acquire(self.pool.begin())
            .await
            .map_err(map_err)?;
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let running = Running {
            conn: Some(tx),
            pid,
            control: self.control.clone(),
            finished: false,
        };
        let (sender, rows) = row_channel();
        let (sql, columns) = (query.sql.clone(), query.columns.clone());
        tokio::spawn(async move {
            // The whole guard moves here: dropped unfinished, with the task, it cancels
            // the statement.
            let mut running = running;
            let sent = {
                let Some(conn) = running.conn.as_deref_mut() else {
                    return;
                };
                let fetched = sqlx::query_with(AssertSqlSafe(sql), args).fetch(conn);
                sender
                    .send_all(fetched, |row| decode(&row, &columns), map_err)
                    .await
            };
            if sent {
                running.finished = true;
                if let Some(tx) = running.conn.take() {
                    // Read only: committing or not leaves the same database.
                    let _ = tx.commit().await;
                }
                sender.finish().await;
            }
        });
        Ok(rows)
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

/// An event query on its connection. Dropped before it finished (the future of `fetch`
/// was dropped), it cancels the statement on the server, and only then lets the
/// connection go back to the pool: a late cancel can never hit a later statement there.
struct Running<C = PoolConnection<Postgres>>
where
    C: DerefMut<Target = PgConnection> + Send + 'static,
{
    conn: Option<C>,
    pid: i32,
    control: PgPool,
    finished: bool,
}

impl Running {
    async fn fetch_all(
        &mut self,
        query: sqlx::query::Query<'_, Postgres, PgArguments>,
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        match self.conn.as_deref_mut() {
            Some(conn) => query.fetch_all(conn).await,
            None => Err(sqlx::Error::PoolClosed),
        }
    }
}

impl<C> Drop for Running<C>
where
    C: DerefMut<Target = PgConnection> + Send + 'static,
{
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime left to cancel from: the connection is closed with the process.
            return;
        };
        let (conn, pid, control) = (self.conn.take(), self.pid, self.control.clone());
        runtime.spawn(async move {
            // A failure leaves the statement to statement_timeout, as before cancellation.
            let _ = sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(pid)
                .execute(&control)
                .await;
            drop(conn);
        });
    }
}

/// The same lookups as [`PostgresStorage::catalog`], on the catalog's own pool.
#[async_trait]
impl Catalog for PostgresStorage {
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

/// Projects and clients (OpenPanel's names and columns).
#[async_trait]
impl Catalog for PostgresCatalog {
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StorageError> {
        let Some(id) = canonical_uuid(id) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT id::text, name, secret, type::text, \"projectId\", \"organizationId\" \
             FROM clients WHERE id = $1::text::uuid",
        )
        .bind(&id)
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
        // OpenPanel's projects table has no timezone column: read it from the row as JSON,
        // which is NULL (UTC) where the column does not exist.
        let row = sqlx::query(
            "SELECT p.id, p.\"organizationId\", p.name, to_jsonb(p) ->> 'timezone' \
             FROM projects AS p WHERE p.id = $1",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uuids_only() {
        let id = "0b5c8a4e-6f1d-4c2e-9a7b-3d2f1e0c9b8a";
        assert_eq!(canonical_uuid(id).as_deref(), Some(id));
        assert_eq!(canonical_uuid(&id.to_uppercase()), None);
        assert_eq!(canonical_uuid(&id.replace('-', "")), None);
        assert_eq!(canonical_uuid("not-a-uuid"), None);
        assert_eq!(canonical_uuid(""), None);
    }

    #[test]
    fn timestamp_parameters_are_exact_sql() {
        assert_eq!(
            ts_param!(9),
            "(TIMESTAMPTZ 'epoch' + $9::bigint * INTERVAL '1 millisecond')"
        );
        assert_eq!(
            utc_param!(4),
            "(TIMESTAMP 'epoch' + $4::bigint * INTERVAL '1 millisecond')"
        );
    }
}
