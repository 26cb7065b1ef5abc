//! The write side of PostgreSQL: the schema, imports in one transaction per unit (each
//! batch a `COPY` in a savepoint), and the catalog's projects, clients and event metadata
//! (quarry-core's `write` traits).

use async_trait::async_trait;
use quarry_core::catalog::{ClientKind, ClientRecord, ProjectRecord};
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::storage::StorageError;
use quarry_core::write::{CatalogWriter, Database, EventWriter, LoadHint, WriteUnit};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Postgres, Transaction};

use crate::{Error, PostgresStorage, canonical_uuid, check_text, copy, map_err};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        match e {
            Error::Sqlx(e) => map_err(e),
            Error::Migrate(e) => StorageError::Query(e.to_string()),
            Error::Unsupported(message) => StorageError::Rejected(message),
        }
    }
}

#[async_trait]
impl Database for PostgresStorage {
    async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StorageError::from(Error::from(e)))
    }

    async fn close(&self) {
        self.pool.close().await;
        self.catalog.pool.close().await;
        self.control.close().await;
    }
}

/// One transaction: an import is all or nothing.
///
/// A large load ([`LoadHint::is_large_against`]) drops the events table's secondary
/// indexes when it starts and builds them again before it commits (`rebuild` holds their
/// definitions): one sort per index instead of a B-tree insertion per row. Into an empty
/// table it also drops the primary key and copies rows straight into `events`
/// (`primary_key` holds the statement that adds it back, at commit, after removing ids
/// the load repeated). Otherwise each batch goes through the staging table and
/// `ON CONFLICT (id) DO NOTHING`, which needs the primary key.
struct Unit {
    tx: Transaction<'static, Postgres>,
    rebuild: Vec<String>,
    primary_key: Option<String>,
}

impl Unit {
    /// A plain unit: one transaction, indexes kept.
    fn new(tx: Transaction<'static, Postgres>) -> Unit {
        Unit {
            tx,
            rebuild: Vec::new(),
            primary_key: None,
        }
    }
}

#[async_trait]
impl WriteUnit for Unit {
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<u64, StorageError> {
        if self.primary_key.is_some() {
            return Ok(copy_events(&mut self.tx, events).await?);
        }
        Ok(insert_events(&mut self.tx, events).await?)
    }

    async fn upsert_profiles(&mut self, profiles: &[NewProfile]) -> Result<(), StorageError> {
        for p in profiles {
            upsert_profile(&mut self.tx, p).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<u64, StorageError> {
        let mut repeated = 0;
        if self.primary_key.is_some() || !self.rebuild.is_empty() {
            // Index builds sort in memory up to this much (per build, inside this
            // transaction only) instead of the server's default 64 MB.
            sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
        }
        if let Some(add) = self.primary_key.take() {
            repeated = restore_primary_key(&mut self.tx, add).await?;
        }
        for definition in std::mem::take(&mut self.rebuild) {
            // The definition is the server's own (pg_get_indexdef), never user text.
            sqlx::raw_sql(AssertSqlSafe(definition))
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
        }
        // A write reports its rows stored only once they are durable, whatever the
        // server's `synchronous_commit`; and VACUUM (after an import) cannot mark a page
        // all-visible while the commit of a row on it is not yet flushed, so index-only
        // scans would keep fetching heap pages. One flush per unit (an import is one).
        sqlx::query("SET LOCAL synchronous_commit = on")
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        self.tx.commit().await.map_err(map_err)?;
        Ok(repeated)
    }
}

/// The events table's indexes that a large load may drop: every one but the unique ones
/// (the primary key, which skips stored ids, and any a user added to keep something unique).
const DEFERRABLE_INDEXES: &str = "SELECT x.indexrelid::regclass::text, \
    pg_get_indexdef(x.indexrelid) FROM pg_index x \
    WHERE x.indrelid = 'events'::regclass AND NOT x.indisunique ORDER BY 1";

/// The events table's primary key: its quoted name and its definition.
const PRIMARY_KEY: &str = "SELECT quote_ident(conname), pg_get_constraintdef(oid) \
    FROM pg_constraint WHERE conrelid = 'events'::regclass AND contype = 'p'";

/// Add the primary key back after a load copied straight into `events`. When the load
/// repeated an id, the first row copied with it stays (the table was emptied when the
/// load began, so the copy order is the physical order) and the others are removed;
/// returns how many were.
async fn restore_primary_key(conn: &mut PgConnection, add: String) -> Result<u64, Error> {
    // The statement is built from the server's own catalog (quote_ident,
    // pg_get_constraintdef), never from user text.
    let mut attempt = conn.begin().await?;
    match sqlx::raw_sql(AssertSqlSafe(add.clone()))
        .execute(&mut *attempt)
        .await
    {
        Ok(_) => {
            attempt.commit().await?;
            return Ok(0);
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
            attempt.rollback().await?;
        }
        Err(e) => return Err(e.into()),
    }
    let removed =
        sqlx::query("DELETE FROM events a USING events b WHERE a.id = b.id AND a.ctid > b.ctid")
            .execute(&mut *conn)
            .await?
            .rows_affected();
    sqlx::raw_sql(AssertSqlSafe(add))
        .execute(&mut *conn)
        .await?;
    Ok(removed)
}

#[async_trait]
impl EventWriter for PostgresStorage {
    fn atomic_writes(&self) -> bool {
        true
    }

    async fn begin(&self) -> Result<Box<dyn WriteUnit + '_>, StorageError> {
        Ok(Box::new(Unit::new(
            self.pool.begin().await.map_err(map_err)?,
        )))
    }

    /// A load at least as large as the table (with its indexes) takes the table's
    /// exclusive lock, drops the secondary indexes and builds them before committing;
    /// into an empty table it also copies straight into `events` without the primary key
    /// ([`Unit`]). Reads of `events` wait until the load commits or rolls back
    /// (docs/decisions.md). A smaller load is a plain [`EventWriter::begin`].
    async fn begin_load(&self, hint: LoadHint) -> Result<Box<dyn WriteUnit + '_>, StorageError> {
        Ok(Box::new(begin_load(&self.pool, hint).await?))
    }

    async fn count_events(&self, project_id: &str) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(n.max(0) as u64)
    }

    /// `VACUUM` as well as `ANALYZE`: after a load the visibility map is empty, and every
    /// index-only scan fetches each row's heap page until a vacuum sets it.
    async fn analyze(&self) -> Result<(), StorageError> {
        sqlx::raw_sql("VACUUM ANALYZE events, profiles")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl CatalogWriter for PostgresStorage {
    async fn upsert_project(&self, p: &ProjectRecord, now_ms: i64) -> Result<(), StorageError> {
        for text in [&p.id, &p.organization_id, &p.name] {
            check_text(text, "project")?;
        }
        let has_timezone: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('projects') \
             AND attname = 'timezone' AND NOT attisdropped)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
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
                return Err(StorageError::Rejected(format!(
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
        query.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn insert_client(&self, c: &ClientRecord, now_ms: i64) -> Result<(), StorageError> {
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
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn find_client(
        &self,
        project_id: &str,
        kind: ClientKind,
    ) -> Result<Option<String>, StorageError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id::text FROM clients WHERE \"projectId\" = $1 AND type::text = $2 \
             ORDER BY \"createdAt\", id LIMIT 1",
        )
        .bind(project_id)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(id)
    }

    async fn set_client_secret(&self, id: &str, hashed: &str) -> Result<(), StorageError> {
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
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), StorageError> {
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
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

async fn begin_load(pool: &sqlx::PgPool, hint: LoadHint) -> Result<Unit, Error> {
    let mut tx = pool.begin().await?;
    let stored: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('events')")
        .fetch_one(&mut *tx)
        .await?;
    let mut unit = Unit::new(tx);
    if !hint.is_large_against(stored.max(0) as u64) {
        return Ok(unit);
    }
    let tx = &mut unit.tx;
    // Locked first, so that no row can arrive between the check and the copy.
    sqlx::query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(DEFERRABLE_INDEXES)
        .fetch_all(&mut **tx)
        .await?;
    for (name, definition) in indexes {
        // `regclass::text` quotes the name where it needs quoting.
        sqlx::raw_sql(AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut **tx)
            .await?;
        unit.rebuild.push(definition);
    }
    let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM events)")
        .fetch_one(&mut **tx)
        .await?;
    let key: Option<(String, String)> = sqlx::query_as(PRIMARY_KEY)
        .fetch_optional(&mut **tx)
        .await?;
    if let (true, Some((name, definition))) = (empty, key) {
        // A fresh heap: rows are stored in the order they are copied.
        sqlx::query("TRUNCATE events").execute(&mut **tx).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER TABLE events DROP CONSTRAINT {name}"
        )))
        .execute(&mut **tx)
        .await?;
        unit.primary_key = Some(format!(
            "ALTER TABLE events ADD CONSTRAINT {name} {definition}"
        ));
    }
    Ok(unit)
}

/// Copy events straight into `events` (a large load into an empty table, whose primary
/// key is dropped until the load ends): every row is stored, repeated ids included, until
/// [`restore_primary_key`].
async fn copy_events(conn: &mut PgConnection, events: &[NewEvent]) -> Result<u64, Error> {
    if events.is_empty() {
        return Ok(0);
    }
    copy_in(conn, copy::COPY_EVENTS, &copy::event_rows(events)?).await
}

/// Send `data` (a whole binary COPY stream) with `statement`, in 1 MiB messages; returns
/// the rows the server copied.
async fn copy_in(conn: &mut PgConnection, statement: &str, data: &[u8]) -> Result<u64, Error> {
    let mut copy_in = conn.copy_in_raw(statement).await?;
    for chunk in data.chunks(1 << 20) {
        copy_in.send(chunk).await?;
    }
    Ok(copy_in.finish().await?)
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
    copy_in(&mut tx, copy::COPY_STAGE, &data).await?;
    let stored = sqlx::query(copy::MOVE)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(stored)
}
