//! quarry-postgres: Quarry's storage over PostgreSQL, through sqlx.
//!
//! It runs the SQL that quarry-core compiles for the PostgreSQL dialect (never building any
//! itself), decodes rows into core's [`Value`]s by each column's actual PostgreSQL type,
//! owns the schema (sqlx migrations for events, profiles and, when missing, OpenPanel's
//! projects, clients and event_meta) and imports events with `COPY`. Projects, clients
//! and event metadata are read with OpenPanel's table and column names, so the catalog of
//! an existing OpenPanel database works unchanged (§1 "OpenPanel-style" shape).

mod copy;
mod decode;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::sql::{Dialect, Param, Query};
use quarry_core::storage::{
    Catalog, ClientKind, ClientRecord, ProjectRecord, Row, Storage, StorageError,
};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Arguments, AssertSqlSafe, Connection as _, PgConnection, Row as _};

/// Storage over one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(10)
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
        let pool = pool_options()
            .connect_with(connect_options(url, statement_timeout)?)
            .await?;
        Ok(PostgresStorage { pool })
    }

    /// Like [`PostgresStorage::connect_with`], but nothing is sent until the first query:
    /// a server started while PostgreSQL is down answers 503 and recovers by itself.
    pub fn connect_lazy(url: &str, statement_timeout: Option<Duration>) -> Result<Self, Error> {
        let pool = pool_options().connect_lazy_with(connect_options(url, statement_timeout)?);
        Ok(PostgresStorage { pool })
    }

    /// Create or upgrade the schema.
    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool, for the server's catalog queries and import transactions.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Insert events in one transaction: all of them or none.
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, Error> {
        let mut tx = self.pool.begin().await?;
        let stored = insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Insert or replace a profile.
    pub async fn upsert_profile(&self, p: &NewProfile) -> Result<(), Error> {
        let mut conn = self.pool.acquire().await?;
        upsert_profile(&mut conn, p).await
    }

    /// Create or update an `event_meta` row (§9 `event-meta set`); `m.id` must be a UUID.
    pub async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), Error> {
        for text in [
            Some(&m.name),
            Some(&m.project_id),
            m.color.as_ref(),
            m.icon.as_ref(),
        ] {
            check_text(text.map_or("", String::as_str), "event_meta")?;
        }
        const SQL: &str = concat!(
            "INSERT INTO event_meta (id, name, conversion, color, icon, \"projectId\", \"createdAt\", \"updatedAt\") ",
            "VALUES ($1::text::uuid, $2, $3, $4, $5, $6, ",
            utc_param!(7),
            ", ",
            utc_param!(7),
            ") ON CONFLICT (name, \"projectId\") DO UPDATE SET conversion = excluded.conversion, ",
            "color = excluded.color, icon = excluded.icon, \"updatedAt\" = excluded.\"updatedAt\""
        );
        sqlx::query(SQL)
            .bind(&m.id)
            .bind(&m.name)
            .bind(m.conversion)
            .bind(&m.color)
            .bind(&m.icon)
            .bind(&m.project_id)
            .bind(m.at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Create (or update) a project. OpenPanel's `projects` has no `timezone` column: there
    /// a project can only be created without one (or with UTC).
    pub async fn upsert_project(&self, p: &ProjectRecord, now_ms: i64) -> Result<(), Error> {
        for text in [&p.id, &p.organization_id, &p.name] {
            check_text(text, "project")?;
        }
        let has_timezone: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('projects') \
             AND attname = 'timezone' AND NOT attisdropped)",
        )
        .fetch_one(&self.pool)
        .await?;
        const WITH_TZ: &str = concat!(
            "INSERT INTO projects (id, \"organizationId\", name, \"createdAt\", \"updatedAt\", timezone) ",
            "VALUES ($1, $2, $3, ",
            utc_param!(4),
            ", ",
            utc_param!(4),
            ", $5) ON CONFLICT (id) DO UPDATE SET \"organizationId\" = excluded.\"organizationId\", ",
            "name = excluded.name, \"updatedAt\" = excluded.\"updatedAt\", timezone = excluded.timezone"
        );
        const WITHOUT_TZ: &str = concat!(
            "INSERT INTO projects (id, \"organizationId\", name, \"createdAt\", \"updatedAt\") ",
            "VALUES ($1, $2, $3, ",
            utc_param!(4),
            ", ",
            utc_param!(4),
            ") ON CONFLICT (id) DO UPDATE SET \"organizationId\" = excluded.\"organizationId\", ",
            "name = excluded.name, \"updatedAt\" = excluded.\"updatedAt\""
        );
        let query = if has_timezone {
            check_text(p.timezone.as_deref().unwrap_or(""), "project")?;
            sqlx::query(WITH_TZ)
                .bind(&p.id)
                .bind(&p.organization_id)
                .bind(&p.name)
                .bind(now_ms)
                .bind(&p.timezone)
        } else {
            if let Some(tz) = p.timezone.as_deref().filter(|tz| *tz != "UTC") {
                return Err(Error::Unsupported(format!(
                    "cannot set timezone {tz:?}: this database's projects table has no timezone \
                     column (an OpenPanel database); add one with \
                     ALTER TABLE projects ADD COLUMN timezone text"
                )));
            }
            sqlx::query(WITHOUT_TZ)
                .bind(&p.id)
                .bind(&p.organization_id)
                .bind(&p.name)
                .bind(now_ms)
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Create a client; `secret` must already be hashed (`<salt>.<hash>`) and `id` be a UUID.
    pub async fn insert_client(&self, c: &ClientRecord, now_ms: i64) -> Result<(), Error> {
        let texts = [
            Some(&c.name),
            c.secret.as_ref(),
            c.project_id.as_ref(),
            Some(&c.organization_id),
        ];
        for text in texts {
            check_text(text.map_or("", String::as_str), "client")?;
        }
        // json_populate_record parses each value with the column's own input function, so
        // the same statement fills OpenPanel's uuid id and "ClientType" enum or plain text.
        const SQL: &str = concat!(
            "INSERT INTO clients (id, name, secret, type, \"projectId\", \"organizationId\", \"createdAt\", \"updatedAt\") ",
            "SELECT r.id, r.name, r.secret, r.type, r.\"projectId\", r.\"organizationId\", ",
            utc_param!(7),
            ", ",
            utc_param!(7),
            " FROM json_populate_record(NULL::clients, json_build_object('id', $1::text, ",
            "'name', $2::text, 'secret', $3::text, 'type', $4::text, 'projectId', $5::text, ",
            "'organizationId', $6::text)) AS r"
        );
        sqlx::query(SQL)
            .bind(&c.id)
            .bind(&c.name)
            .bind(&c.secret)
            .bind(c.kind.as_str())
            .bind(&c.project_id)
            .bind(&c.organization_id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Refresh the query planner's statistics (after a bulk load).
    pub async fn analyze(&self) -> Result<(), Error> {
        sqlx::query("ANALYZE events, profiles")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Number of events stored for a project (the demo seeds only an empty database).
    pub async fn count_events(&self, project_id: &str) -> Result<i64, Error> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Any client of a project, of a type (the demo reuses its read client).
    pub async fn find_client(
        &self,
        project_id: &str,
        kind: ClientKind,
    ) -> Result<Option<String>, Error> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id::text FROM clients WHERE \"projectId\" = $1 AND type::text = $2 \
             ORDER BY \"createdAt\", id LIMIT 1",
        )
        .bind(project_id)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// Replace a client's stored secret hash (nothing happens for an unknown id).
    pub async fn set_client_secret(&self, id: &str, hashed: &str) -> Result<(), Error> {
        let Some(id) = canonical_uuid(id) else {
            return Ok(());
        };
        check_text(hashed, "client")?;
        sqlx::query(
            "UPDATE clients SET secret = $1, \"updatedAt\" = (now() AT TIME ZONE 'UTC') \
             WHERE id = $2::text::uuid",
        )
        .bind(hashed)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Close the pool (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Insert or replace a profile on an open connection or transaction.
pub async fn upsert_profile(conn: &mut PgConnection, p: &NewProfile) -> Result<(), Error> {
    let what = || format!("profile {:?}", p.id);
    for text in [
        &p.id,
        &p.project_id,
        &p.first_name,
        &p.last_name,
        &p.email,
        &p.avatar,
    ] {
        check_text(text, &what())?;
    }
    for (k, v) in &p.properties {
        check_text(k, &what())?;
        check_text(v, &what())?;
    }
    let props = serde_json::to_string(&p.properties).unwrap_or_else(|_| "{}".into());
    const SQL: &str = concat!(
        "INSERT INTO profiles (id, project_id, is_external, first_name, last_name, email, avatar, ",
        "properties, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, ",
        ts_param!(9),
        ") ON CONFLICT (project_id, id) DO UPDATE SET is_external = excluded.is_external, ",
        "first_name = excluded.first_name, last_name = excluded.last_name, ",
        "email = excluded.email, avatar = excluded.avatar, properties = excluded.properties, ",
        "created_at = excluded.created_at"
    );
    sqlx::query(SQL)
        .bind(&p.id)
        .bind(&p.project_id)
        .bind(p.is_external)
        .bind(&p.first_name)
        .bind(&p.last_name)
        .bind(&p.email)
        .bind(&p.avatar)
        .bind(props)
        .bind(p.created_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Insert events on an open connection or transaction (the caller commits), so an import
/// can stream a file in batches and still commit all or nothing. Events whose id is already
/// stored are skipped (re-importing a file is harmless); returns how many were stored.
///
/// The batch is sent with `COPY` into a session-local staging table, then moved with
/// `INSERT … SELECT … ON CONFLICT (id) DO NOTHING` (COPY itself cannot skip duplicates).
pub async fn insert_events(conn: &mut PgConnection, events: &[NewEvent]) -> Result<u64, Error> {
    if events.is_empty() {
        return Ok(0);
    }
    let data = copy::event_rows(events)?;
    // A savepoint when the caller has a transaction open; the staging rows must survive
    // from COPY to INSERT, which they would not across autocommitted statements.
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(copy::STAGE).execute(&mut *tx).await?;
    let mut copy_in = tx.copy_in_raw(copy::COPY).await?;
    for chunk in data.chunks(1 << 20) {
        copy_in.send(chunk).await?;
    }
    copy_in.finish().await?;
    let stored = sqlx::query(copy::MOVE)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(stored)
}

/// PostgreSQL text cannot hold U+0000: refuse it with a message naming the record, rather
/// than the server's encoding error.
fn check_text(text: &str, what: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::Unsupported(format!(
            "{what}: PostgreSQL cannot store the NUL character (U+0000) in text"
        )));
    }
    Ok(())
}

/// The id if it is a UUID in canonical (lowercase, hyphenated) form. Client ids are
/// compared as exact text on every backend; anything else cannot name a client.
fn canonical_uuid(id: &str) -> Option<String> {
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
fn map_err(e: sqlx::Error) -> StorageError {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // query_canceled: statement_timeout fired.
            Some("57014") => return StorageError::Timeout,
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
        let rows = sqlx::query_with(AssertSqlSafe(query.sql.clone()), args)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                query
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, ty)| decode::decode(row, i, *ty))
                    .collect()
            })
            .collect()
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Catalog::ping(self).await
    }
}

/// Projects and clients (OpenPanel's names and columns).
#[async_trait]
impl Catalog for PostgresStorage {
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
