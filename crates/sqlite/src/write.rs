//! The write side of SQLite: the schema, imports in one transaction per unit, and the
//! catalog's projects, clients and event metadata (quarry-core's `write` traits).

use async_trait::async_trait;
use quarry_core::catalog::{ClientKind, ClientRecord, ProjectRecord};
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::storage::StorageError;
use quarry_core::write::{CatalogWriter, Database, EventWriter, LoadHint, WriteUnit};
use sqlx::{AssertSqlSafe, Connection as _, Sqlite, SqliteConnection, Transaction};

use crate::{Error, SqliteStorage, map_err};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        match e {
            Error::Sqlx(e) => map_err(e),
            Error::Migrate(e) => StorageError::Query(e.to_string()),
        }
    }
}

#[async_trait]
impl Database for SqliteStorage {
    async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StorageError::from(Error::from(e)))
    }

    async fn close(&self) {
        self.pool.close().await;
        self.catalog.pool.close().await;
    }
}

/// One transaction: an import is all or nothing. A large load drops the events table's
/// secondary indexes when it starts and creates them again before it commits (`rebuild`
/// holds their definitions): one sort per index instead of a B-tree insertion per row.
/// The unique index on `id` stays, since `INSERT OR IGNORE` needs it.
struct Unit {
    conn: Conn,
    rebuild: Vec<String>,
}

enum Conn {
    /// A pooled connection's transaction (rolled back when dropped).
    Pooled(Transaction<'static, Sqlite>),
    /// A large load's own connection, taken out of the pool, with a `BEGIN IMMEDIATE`
    /// open and a larger page cache ([`LOAD_CACHE_KIB`]). It is closed when the load
    /// ends, so its cache never serves another query; closing it uncommitted (a failed
    /// load) rolls the load back.
    Own(SqliteConnection),
}

impl Conn {
    fn get(&mut self) -> &mut SqliteConnection {
        match self {
            Conn::Pooled(tx) => tx,
            Conn::Own(conn) => conn,
        }
    }
}

/// The page cache of a large load's connection, in KiB (SQLite's default is 2 000). Ids
/// arrive in random order, so every insert into the unique index on `id` lands on a
/// random page; with the default cache most of them are read from the file again. 32 MiB
/// took a million-event import from 17.2 to 13.0 s (64 MiB: 12.8 s) and its peak memory
/// from 42 to 99 MiB (docs/performance.md).
const LOAD_CACHE_KIB: i64 = 32 * 1024;

#[async_trait]
impl WriteUnit for Unit {
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<u64, StorageError> {
        Ok(insert_events(self.conn.get(), events).await?)
    }

    async fn upsert_profiles(&mut self, profiles: &[NewProfile]) -> Result<(), StorageError> {
        for p in profiles {
            upsert_profile(self.conn.get(), p).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<u64, StorageError> {
        for definition in std::mem::take(&mut self.rebuild) {
            // The definition is SQLite's own (sqlite_master), never user text.
            sqlx::raw_sql(AssertSqlSafe(definition))
                .execute(self.conn.get())
                .await
                .map_err(map_err)?;
        }
        match self.conn {
            Conn::Pooled(tx) => tx.commit().await.map_err(map_err)?,
            Conn::Own(mut conn) => {
                sqlx::raw_sql("COMMIT")
                    .execute(&mut conn)
                    .await
                    .map_err(map_err)?;
                conn.close().await.map_err(map_err)?;
            }
        }
        Ok(0)
    }
}

/// The events table's indexes that a large load may drop, with their definitions: every
/// one but the unique ones (`id`'s, which skips stored ids).
const DEFERRABLE_INDEXES: &str = "SELECT l.name, m.sql FROM pragma_index_list('events') l \
    JOIN sqlite_master m ON m.type = 'index' AND m.name = l.name \
    WHERE NOT l.\"unique\" AND m.sql IS NOT NULL ORDER BY l.name";

#[async_trait]
impl EventWriter for SqliteStorage {
    fn atomic_writes(&self) -> bool {
        true
    }

    async fn begin(&self) -> Result<Box<dyn WriteUnit + '_>, StorageError> {
        Ok(Box::new(Unit {
            conn: Conn::Pooled(self.pool.begin().await.map_err(map_err)?),
            rebuild: Vec::new(),
        }))
    }

    /// A load at least as large as the database file drops the secondary indexes of
    /// `events` inside its transaction and creates them before committing, on a
    /// connection of its own with a larger page cache ([`Conn::Own`]). Readers are not
    /// held up: in WAL mode they keep reading the last committed state, indexes and all.
    /// A smaller load is a plain [`EventWriter::begin`].
    async fn begin_load(&self, hint: LoadHint) -> Result<Box<dyn WriteUnit + '_>, StorageError> {
        let stored: i64 = sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        if !hint.is_large_against(stored.max(0) as u64) {
            return self.begin().await;
        }
        let mut conn = self.pool.acquire().await.map_err(map_err)?.detach();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "PRAGMA cache_size = -{LOAD_CACHE_KIB}; BEGIN IMMEDIATE"
        )))
        .execute(&mut conn)
        .await
        .map_err(map_err)?;
        let indexes: Vec<(String, String)> = sqlx::query_as(DEFERRABLE_INDEXES)
            .fetch_all(&mut conn)
            .await
            .map_err(map_err)?;
        let mut rebuild = Vec::new();
        for (name, definition) in indexes {
            let name = name.replace('"', "\"\"");
            sqlx::raw_sql(AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
                .execute(&mut conn)
                .await
                .map_err(map_err)?;
            rebuild.push(definition);
        }
        Ok(Box::new(Unit {
            conn: Conn::Own(conn),
            rebuild,
        }))
    }

    async fn count_events(&self, project_id: &str) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE project_id = ?1")
            .bind(project_id)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(n.max(0) as u64)
    }

    async fn analyze(&self) -> Result<(), StorageError> {
        sqlx::query("ANALYZE")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl CatalogWriter for SqliteStorage {
    async fn upsert_project(&self, p: &ProjectRecord, now_ms: i64) -> Result<(), StorageError> {
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
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert_client(&self, c: &ClientRecord, now_ms: i64) -> Result<(), StorageError> {
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
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn find_client(
        &self,
        project_id: &str,
        kind: ClientKind,
    ) -> Result<Option<String>, StorageError> {
        sqlx::query_scalar(
            "SELECT id FROM clients WHERE \"projectId\" = ?1 AND type = ?2 ORDER BY \"createdAt\" LIMIT 1",
        )
        .bind(project_id)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn set_client_secret(&self, id: &str, hashed: &str) -> Result<(), StorageError> {
        sqlx::query("UPDATE clients SET secret = ?1 WHERE id = ?2")
            .bind(hashed)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), StorageError> {
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
        .await
        .map_err(map_err)?;
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

/// The columns of an event row, in the order [`bind_event`] binds them.
const EVENT_COLUMNS: &str = "id, name, device_id, profile_id, project_id, session_id, \
    properties, created_at, country, city, region, longitude, latitude, os, os_version, \
    browser, browser_version, device, brand, model, duration, path, origin, referrer, \
    referrer_name, referrer_type, sdk_name, sdk_version, imported_at";

/// Rows per `INSERT` statement: one statement (one trip to sqlx's worker thread, one
/// parse) per this many rows instead of per row. 29 parameters a row keeps a full
/// statement far below SQLite's 32 766.
const ROWS_PER_INSERT: usize = 500;

/// `INSERT OR IGNORE … VALUES (…), (…)` for `rows` events.
fn insert_sql(rows: usize) -> String {
    let columns = EVENT_COLUMNS.split(", ").count();
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!(
        "INSERT OR IGNORE INTO events ({EVENT_COLUMNS}) VALUES {}",
        vec![row; rows].join(", ")
    )
}

fn bind_event<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    e: &'q NewEvent,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    let props = serde_json::to_string(&e.properties).unwrap_or_else(|_| "{}".into());
    q.bind(&e.id)
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
}

/// Insert events on an open connection or transaction (the caller commits), so an import
/// can stream a file in batches and still commit all or nothing. Events whose id is already
/// stored are skipped (re-importing a file is harmless); returns how many were stored.
pub async fn insert_events(conn: &mut SqliteConnection, events: &[NewEvent]) -> Result<u64, Error> {
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let mut stored = 0;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let full = chunk.len() == ROWS_PER_INSERT;
        let remainder;
        let sql: &str = if full {
            FULL.get_or_init(|| insert_sql(ROWS_PER_INSERT))
        } else {
            remainder = insert_sql(chunk.len());
            &remainder
        };
        // Only the full statement is worth keeping prepared; a batch's remainder is rare.
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(full);
        for e in chunk {
            q = bind_event(q, e);
        }
        stored += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(stored)
}
