//! The backend conformance suite (quarry-testkit) on ClickHouse: the same scenarios and
//! hand-computed JSON as on SQLite and PostgreSQL, each in a database `q_<random>` of its
//! own on the server named by `CLICKHOUSE_URL`.
//!
//! Two things differ from the other backends by design and are bridged here, in the test
//! adapter only:
//!
//! - Event ids are `UUID` in OpenPanel's table, and the scenarios use short readable ids
//!   (`"a"`, `"view-3"`). The adapter stores each as a UUID whose text sorts like the id
//!   (its bytes, zero-padded, for ids of at most 16 bytes), so the order ClickHouse
//!   computes over `toString(id)` is the order the scenarios expect, and maps the UUIDs in
//!   results back to the ids.
//! - `event_meta` lives in PostgreSQL in the ClickHouse deployment shape; for the
//!   scenarios a table with OpenPanel's columns is created in the test database.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::sql::{Dialect, Query};
use quarry_core::sql::{Row, Value};
use quarry_core::storage::{RowStream, Storage, StorageError, rows_at_once};
use quarry_core::write::EventWriter;
use quarry_testkit::{Backend, Db};
use uuid::Uuid;

struct ClickHouse;

/// UUID text → the scenario's id.
type IdMap = Arc<Mutex<HashMap<String, String>>>;

struct ChDb {
    db: common::TestDb,
    storage: Mapped,
}

/// The storage under test, with stored UUIDs mapped back to the scenarios' ids.
#[derive(Debug)]
struct Mapped {
    inner: quarry_clickhouse::ClickHouseStorage,
    ids: IdMap,
}

/// An order-preserving UUID for a scenario id: its UTF-8 bytes, zero-padded, when they
/// fit (byte order is code point order, as `toString(id)` sorts); else the first 12 bytes
/// and a hash.
fn test_uuid(id: &str) -> Uuid {
    if let Ok(u) = Uuid::try_parse(id) {
        return u;
    }
    let mut bytes = [0u8; 16];
    let src = id.as_bytes();
    if src.len() <= 16 {
        bytes[..src.len()].copy_from_slice(src);
    } else {
        bytes[..12].copy_from_slice(&src[..12]);
        let hash = quarry_clickhouse::event_uuid(id).into_bytes();
        bytes[12..].copy_from_slice(&hash[..4]);
    }
    Uuid::from_bytes(bytes)
}

#[async_trait]
impl Storage for Mapped {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        let mut rows = self.inner.fetch(query).await?;
        let ids = self.ids.lock().unwrap();
        for cell in rows.iter_mut().flatten() {
            if let Value::Text(t) = cell {
                if let Some(id) = ids.get(t.as_str()) {
                    *t = id.clone();
                }
            }
        }
        Ok(rows)
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        // Small results only: the whole answer as one chunk.
        Ok(rows_at_once(self.fetch(query).await?))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }
}

#[async_trait]
impl Backend for ClickHouse {
    async fn fresh(&self) -> Box<dyn Db> {
        let db = common::fresh().await;
        // OpenPanel's event_meta columns (PostgreSQL in production).
        db.client()
            .query_raw(
                "CREATE TABLE event_meta (id String, name String, conversion Bool, \
                 color Nullable(String), icon Nullable(String), projectId String, \
                 createdAt DateTime64(3), updatedAt DateTime64(3)) \
                 ENGINE = MergeTree ORDER BY (projectId, name)",
            )
            .execute()
            .await
            .unwrap();
        let storage = Mapped {
            inner: db.store.clone(),
            ids: IdMap::default(),
        };
        Box::new(ChDb { db, storage })
    }
}

#[async_trait]
impl Db for ChDb {
    fn storage(&self) -> &dyn Storage {
        &self.storage
    }

    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, String> {
        let mapped: Vec<NewEvent> = events
            .iter()
            .map(|e| {
                let uuid = test_uuid(&e.id).to_string();
                self.storage
                    .ids
                    .lock()
                    .unwrap()
                    .insert(uuid.clone(), e.id.clone());
                NewEvent {
                    id: uuid,
                    ..e.clone()
                }
            })
            .collect();
        self.db
            .insert_events(&mapped)
            .await
            .map_err(|e| e.to_string())
    }

    async fn upsert_profile(&self, p: &NewProfile) -> Result<(), String> {
        self.db
            .upsert_profiles(std::slice::from_ref(p))
            .await
            .map_err(|e| e.to_string())
    }

    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), String> {
        self.db
            .client()
            .query_raw(
                "INSERT INTO event_meta SELECT {id:String}, {name:String}, {conversion:Bool}, \
                 {color:Nullable(String)}, {icon:Nullable(String)}, {project:String}, \
                 fromUnixTimestamp64Milli({at:Int64}), fromUnixTimestamp64Milli({at:Int64})",
            )
            .param("id", &m.id)
            .param("name", &m.name)
            .param("conversion", m.conversion)
            .param("color", &m.color)
            .param("icon", &m.icon)
            .param("project", &m.project_id)
            .param("at", m.at)
            .execute()
            .await
            .map_err(|e| e.to_string())
    }

    async fn raw_event_count(&self) -> i64 {
        let n: u64 = self
            .db
            .client()
            .query_raw("SELECT count() FROM events")
            .fetch_one()
            .await
            .unwrap();
        n as i64
    }
}

async fn backend() -> ClickHouse {
    ClickHouse
}

quarry_testkit::conformance_tests!(crate::backend);

#[test]
fn test_uuids_sort_like_the_ids() {
    let ids = ["a", "a-1", "a-10", "a-2", "b", "s1-0", "view-3", "Ü", "😀"];
    let mut uuids: Vec<String> = ids.iter().map(|i| test_uuid(i).to_string()).collect();
    let sorted = uuids.clone();
    uuids.sort();
    assert_eq!(uuids, sorted);
}
