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

    /// Make sure the events can be read in (project, event name, time) order, so a chart
    /// or funnel of a rare event reads only that event's rows; only when asked for
    /// (`quarry migrate --events-by-name`), since it may change a table Quarry did not
    /// create. Returns what was done, in words. By default: nothing to do (SQLite and
    /// PostgreSQL index events by name already).
    async fn add_events_by_name(&self) -> Result<String, StorageError> {
        Ok("events are indexed by project, name and time already".into())
    }
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

    /// How many rows a batch of [`WriteUnit::insert_events`] should hold: 2 000 unless
    /// the database is faster with larger ones (ClickHouse, where each batch is one
    /// part).
    fn batch_rows(&self) -> usize {
        2_000
    }

    /// Make everything written through this unit visible. Returns how many of the events
    /// that [`WriteUnit::insert_events`] counted as stored the commit found repeated (an
    /// id given twice in a load that deferred that check) and did not keep.
    async fn commit(self: Box<Self>) -> Result<u64, StorageError>;
}

/// What a bulk load knows before its first row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadHint {
    /// The size of the input in bytes, when it is known (a file, not standard input).
    pub input_bytes: Option<u64>,
}

impl LoadHint {
    /// Below this much input a load is never treated as large.
    pub const LARGE_INPUT_BYTES: u64 = 64 << 20;

    /// Whether this load is large against `stored_bytes` already in the table: at least
    /// [`LoadHint::LARGE_INPUT_BYTES`] of input, and at least as many bytes as the table
    /// holds (an event takes about as many bytes in its input line as in a row-store
    /// table with its indexes). Rebuilding the table's indexes once then costs less than
    /// maintaining them row by row; an unknown size is never large.
    pub fn is_large_against(&self, stored_bytes: u64) -> bool {
        self.input_bytes
            .is_some_and(|n| n >= Self::LARGE_INPUT_BYTES && n >= stored_bytes)
    }
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

    /// Start the unit of one bulk load (an import). A backend may defer the maintenance
    /// of secondary indexes to the unit's commit when the load is large
    /// ([`LoadHint::is_large_against`]); by default this is [`EventWriter::begin`].
    async fn begin_load(&self, hint: LoadHint) -> Result<Box<dyn WriteUnit + '_>, StorageError> {
        let _ = hint;
        self.begin().await
    }

    /// Number of events stored for a project.
    async fn count_events(&self, project_id: &str) -> Result<u64, StorageError>;

    /// Refresh the query planner's statistics after a bulk load, and whatever else keeps
    /// reads fast after one (PostgreSQL's visibility map); nothing where the engine keeps
    /// them itself.
    async fn analyze(&self) -> Result<(), StorageError>;

    /// Insert events in one unit of their own; returns how many were stored.
    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, StorageError> {
        let mut unit = self.begin().await?;
        let stored = unit.insert_events(events).await?;
        let repeated = unit.commit().await?;
        Ok(stored - repeated)
    }

    /// Insert or replace profiles in one unit of their own.
    async fn upsert_profiles(&self, profiles: &[NewProfile]) -> Result<(), StorageError> {
        let mut unit = self.begin().await?;
        unit.upsert_profiles(profiles).await?;
        unit.commit().await.map(|_| ())
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
