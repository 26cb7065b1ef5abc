//! The write side of SQLite: the schema, imports in one transaction per unit, and the
//! catalog's projects, clients and event metadata (quarry-core's `write` traits).

use async_trait::async_trait;
use quarry_core::catalog::{ClientKind, ClientRecord, ProjectRecord};
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::storage::StorageError;
use quarry_core::write::{CatalogWriter, Database, EventWriter, WriteUnit};
use sqlx::{Sqlite, SqliteConnection, Transaction};

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

/// One transaction: an import is all or nothing.
struct Unit(Transaction<'static, Sqlite>);

#[async_trait]
impl WriteUnit for Unit {
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<u64, StorageError> {
        Ok(insert_events(&mut self.0, events).await?)
    }

    async fn upsert_profiles(&mut self, profiles: &[NewProfile]) -> Result<(), StorageError> {
        for p in profiles {
            upsert_profile(&mut self.0, p).await?;
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.0.commit().await.map_err(map_err)
    }
}

#[async_trait]
impl EventWriter for SqliteStorage {
    fn atomic_writes(&self) -> bool {
        true
    }

    async fn begin(&self) -> Result<Box<dyn WriteUnit + '_>, StorageError> {
        Ok(Box::new(Unit(self.pool.begin().await.map_err(map_err)?)))
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
