//! A short-lived cache in front of the catalog (projects and clients).
//!
//! Every export request looks up its client and its project; on SQLite and PostgreSQL
//! that is two round trips that cost more than a query which returns at once. Answers,
//! including "not found", are kept for a couple of seconds: a revoked client or a changed
//! project takes effect within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quarry_core::catalog::{Catalog, ClientRecord, ProjectRecord};
use quarry_core::storage::StorageError;

/// Entries kept at most per map before expired ones are swept (then the map is cleared).
const MAX_ENTRIES: usize = 10_000;

type Entries<T> = Mutex<HashMap<String, (Instant, Option<T>)>>;

/// A [`Catalog`] that remembers answers for `ttl`.
#[derive(Debug)]
pub struct CachedCatalog {
    inner: Arc<dyn Catalog>,
    ttl: Duration,
    clients: Entries<ClientRecord>,
    projects: Entries<ProjectRecord>,
}

impl CachedCatalog {
    /// Wrap a catalog.
    pub fn new(inner: Arc<dyn Catalog>, ttl: Duration) -> Self {
        CachedCatalog {
            inner,
            ttl,
            clients: Mutex::new(HashMap::new()),
            projects: Mutex::new(HashMap::new()),
        }
    }
}

fn lookup<T: Clone>(map: &Entries<T>, key: &str, ttl: Duration) -> Option<Option<T>> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(key)
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
}

fn remember<T>(map: &Entries<T>, key: &str, value: Option<T>, ttl: Duration) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, (at, _)| at.elapsed() < ttl);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
    map.insert(key.to_string(), (Instant::now(), value));
}

#[async_trait]
impl Catalog for CachedCatalog {
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StorageError> {
        if let Some(hit) = lookup(&self.clients, id, self.ttl) {
            return Ok(hit);
        }
        let value = self.inner.client(id).await?;
        remember(&self.clients, id, value.clone(), self.ttl);
        Ok(value)
    }

    async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StorageError> {
        if let Some(hit) = lookup(&self.projects, id, self.ttl) {
            return Ok(hit);
        }
        let value = self.inner.project(id).await?;
        remember(&self.projects, id, value.clone(), self.ttl);
        Ok(value)
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }
}
