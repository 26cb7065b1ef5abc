//! The write side of the seam between Quarry and its databases.
//!
//! [`Storage`](crate::storage::Storage) and [`Catalog`](crate::catalog::Catalog) are what the
//! HTTP server reads through; these traits are everything the command line does to a store:
//! create or upgrade its schema ([`Database`]), load events and profiles in a unit that says
//! whether it is all or nothing ([`EventWriter`], [`WriteUnit`]), and change projects,
//! clients and event metadata ([`CatalogWriter`]). Each backend crate implements them; the
//! server holds trait objects and never names a driver.

use async_trait::async_trait;

use crate::catalog::{ClientKind, ClientRecord, ProjectRecord};
use crate::event::{NewEvent, NewEventMeta, NewProfile};
use crate::storage::StorageError;

/// One database Quarry keeps a schema in.
#[async_trait]
pub trait Database: Send + Sync + std::fmt::Debug {
    /// Create or upgrade the schema (idempotent; existing data is kept).
    async fn migrate(&self) -> Result<(), StorageError>;

    /// Close the connections (graceful end of a command).
    async fn close(&self);
}

/// Batches of one import or seed, written all or nothing where the database allows
/// ([`EventWriter::atomic_writes`]). Dropping a unit without [`WriteUnit::commit`] rolls an
/// atomic unit back.
#[async_trait]
pub trait WriteUnit: Send {
    /// Insert events; those whose id is already stored are skipped. Returns how many were
    /// stored.
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<u64, StorageError>;

    /// Insert or replace profiles.
    async fn upsert_profiles(&mut self, profiles: &[NewProfile]) -> Result<(), StorageError>;

    /// Make everything written through this unit visible.
    async fn commit(self: Box<Self>) -> Result<(), StorageError>;
}

/// Where events and profiles are written.
#[async_trait]
pub trait EventWriter: Database {
    /// Whether a [`WriteUnit`] is all or nothing (a transaction). When it is not
    /// (ClickHouse), a caller that must leave nothing behind on bad input checks all of it
    /// before the first write.
    fn atomic_writes(&self) -> bool;

    /// Start a unit of writes.
    async fn begin(&self) -> Result<Box<dyn WriteUnit + '_>, StorageError>;

    /// Number of events stored for a project.
    async fn count_events(&self, project_id: &str) -> Result<u64, StorageError>;

    /// Refresh the query planner's statistics after a bulk load (nothing where the engine
    /// keeps them itself).
    async fn analyze(&self) -> Result<(), StorageError>;

    /// Insert events in one unit of their own; returns how many were stored.
    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, StorageError> {
        let mut unit = self.begin().await?;
        let stored = unit.insert_events(events).await?;
        unit.commit().await?;
        Ok(stored)
    }

    /// Insert or replace profiles in one unit of their own.
    async fn upsert_profiles(&self, profiles: &[NewProfile]) -> Result<(), StorageError> {
        let mut unit = self.begin().await?;
        unit.upsert_profiles(profiles).await?;
        unit.commit().await
    }
}

/// Where projects, clients and event metadata are written (§2.2, §9).
#[async_trait]
pub trait CatalogWriter: Database {
    /// Create or update a project.
    async fn upsert_project(&self, p: &ProjectRecord, now_ms: i64) -> Result<(), StorageError>;

    /// Create a client; its `secret` is already hashed (`<salt>.<hash>`).
    async fn insert_client(&self, c: &ClientRecord, now_ms: i64) -> Result<(), StorageError>;

    /// Any client of a project, of a type (the oldest).
    async fn find_client(
        &self,
        project_id: &str,
        kind: ClientKind,
    ) -> Result<Option<String>, StorageError>;

    /// Replace a client's stored secret hash.
    async fn set_client_secret(&self, id: &str, hashed: &str) -> Result<(), StorageError>;

    /// Create or update an `event_meta` row.
    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), StorageError>;
}
