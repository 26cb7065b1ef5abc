//! quarry-sqlite: the embedded default storage, SQLite through sqlx.
//!
//! It runs the SQL that quarry-core compiles (never building any itself), decodes rows
//! into core's [`Value`]s, owns the schema (migrations for events, profiles, projects,
//! clients and event_meta) and imports events in batched transactions. One file holds
//! everything, so `quarry demo` needs nothing but a path.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::sql::{Dialect, Param, Query};
use quarry_core::storage::{
    Catalog, ClientKind, ClientRecord, ColumnType, ProjectRecord, Row, Storage, StorageError, Value,
};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Row as _, SqliteConnection, TypeInfo, ValueRef};

/// Storage over one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl SqliteStorage {
    /// Open (creating if missing) the database at a `sqlite://path` URL or a plain path.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .with_regexp();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(SqliteStorage { pool })
    }

    /// Create or upgrade the schema.
    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool, for the server's catalog queries.
    pub fn pool(&self) -> &SqlitePool {
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

    /// Create or update an `event_meta` row (§9 `event-meta set`).
    pub async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO event_meta (id, name, conversion, color, icon, \"projectId\", \"createdAt\", \"updatedAt\") \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) \
             ON CONFLICT (\"projectId\", name) DO UPDATE SET conversion = excluded.conversion, \
             color = excluded.color, icon = excluded.icon, \"updatedAt\" = excluded.\"updatedAt\"",
        )
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
}

/// Insert or replace a profile on an open connection or transaction.
pub async fn upsert_profile(conn: &mut SqliteConnection, p: &NewProfile) -> Result<(), Error> {
    let props = serde_json::to_string(&p.properties).unwrap_or_else(|_| "{}".into());
    sqlx::query(
        "INSERT OR REPLACE INTO profiles (id, project_id, is_external, first_name, last_name, \
         email, avatar, properties, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
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
pub async fn insert_events(conn: &mut SqliteConnection, events: &[NewEvent]) -> Result<u64, Error> {
    const SQL: &str = "INSERT OR IGNORE INTO events (id, name, device_id, profile_id, project_id, \
        session_id, properties, created_at, country, city, region, longitude, latitude, os, \
        os_version, browser, browser_version, device, brand, model, duration, path, origin, \
        referrer, referrer_name, referrer_type, sdk_name, sdk_version, imported_at) VALUES \
        (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
        ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)";
    let mut stored = 0;
    for e in events {
        let props = serde_json::to_string(&e.properties).unwrap_or_else(|_| "{}".into());
        stored += sqlx::query(SQL)
            .bind(&e.id)
            .bind(&e.name)
            .bind(&e.device_id)
            .bind(&e.profile_id)
            .bind(&e.project_id)
            .bind(&e.session_id)
            .bind(props)
            .bind(e.created_at)
            .bind(&e.country)
            .bind(&e.city)
            .bind(&e.region)
            .bind(e.longitude)
            .bind(e.latitude)
            .bind(&e.os)
            .bind(&e.os_version)
            .bind(&e.browser)
            .bind(&e.browser_version)
            .bind(&e.device)
            .bind(&e.brand)
            .bind(&e.model)
            .bind(e.duration)
            .bind(&e.path)
            .bind(&e.origin)
            .bind(&e.referrer)
            .bind(&e.referrer_name)
            .bind(&e.referrer_type)
            .bind(&e.sdk_name)
            .bind(&e.sdk_version)
            .bind(e.imported_at)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(stored)
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
        other => StorageError::Query(other.to_string()),
    }
}

fn decode_map(text: &str) -> Value {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
        Ok(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect(),
        ),
        Err(_) => Value::Map(Vec::new()),
    }
}

fn decode(row: &SqliteRow, i: usize, ty: ColumnType) -> Result<Value, StorageError> {
    let raw = row.try_get_raw(i).map_err(map_err)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    // SQLite is dynamically typed: read the value's own storage class.
    let class = raw.type_info().name().to_string();
    let get_err = |e: sqlx::Error| StorageError::Query(e.to_string());
    Ok(match (ty, class.as_str()) {
        (ColumnType::Map, _) => decode_map(&row.try_get::<String, _>(i).map_err(get_err)?),
        (_, "INTEGER") => {
            let v: i64 = row.try_get(i).map_err(get_err)?;
            match ty {
                ColumnType::Float => Value::Float(v as f64),
                ColumnType::Text => Value::Text(v.to_string()),
                _ => Value::Int(v),
            }
        }
        (_, "REAL") => {
            let v: f64 = row.try_get(i).map_err(get_err)?;
            match ty {
                ColumnType::Int | ColumnType::Bool => Value::Int(v as i64),
                ColumnType::Text => Value::Text(quarry_core::format::decimal_text(v)),
                _ => Value::Float(v),
            }
        }
        _ => {
            let v: String = row.try_get(i).map_err(get_err)?;
            match ty {
                ColumnType::Int | ColumnType::Bool => Value::Int(v.parse().unwrap_or(0)),
                ColumnType::Float => Value::Float(v.parse().unwrap_or(0.0)),
                _ => Value::Text(v),
            }
        }
    })
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
                    .map(|(i, ty)| decode(row, i, *ty))
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
impl Catalog for SqliteStorage {
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

impl SqliteStorage {
    /// Create (or update) a project.
    pub async fn upsert_project(&self, p: &ProjectRecord, now_ms: i64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO projects (id, \"organizationId\", name, timezone, \"createdAt\") \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
             \"organizationId\" = excluded.\"organizationId\", name = excluded.name, \
             timezone = excluded.timezone",
        )
        .bind(&p.id)
        .bind(&p.organization_id)
        .bind(&p.name)
        .bind(&p.timezone)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Create a client; `secret` must already be hashed (`<salt>.<hash>`).
    pub async fn insert_client(&self, c: &ClientRecord, now_ms: i64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO clients (id, name, secret, type, \"projectId\", \"organizationId\", \"createdAt\") \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
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
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(())
    }

    /// Number of events stored for a project (the demo seeds only an empty database).
    pub async fn count_events(&self, project_id: &str) -> Result<i64, Error> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE project_id = ?1")
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
            "SELECT id FROM clients WHERE \"projectId\" = ?1 AND type = ?2 ORDER BY \"createdAt\" LIMIT 1",
        )
        .bind(project_id)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// Replace a client's stored secret hash.
    pub async fn set_client_secret(&self, id: &str, hashed: &str) -> Result<(), Error> {
        sqlx::query("UPDATE clients SET secret = ?1 WHERE id = ?2")
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
