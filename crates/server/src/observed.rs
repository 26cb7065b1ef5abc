//! A storage that reports each query: its time to `/metrics` (by backend and outcome) and
//! a `query` span to the log, with the SQL at debug level. Parameter values are never
//! logged, only their types: they are the request's own values (filters, profile ids).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use quarry_core::sql::{Dialect, Param, Query, Row};
use quarry_core::storage::{PoolStatus, RowStream, Storage, StorageError};
use tracing::Instrument as _;

use crate::metrics::Metrics;

/// `inner`, observed.
#[derive(Debug)]
pub struct Observed {
    inner: Arc<dyn Storage>,
    metrics: Arc<Metrics>,
}

impl Observed {
    /// Observe `inner`'s queries into `metrics`.
    pub fn wrap(inner: Arc<dyn Storage>, metrics: Arc<Metrics>) -> Arc<dyn Storage> {
        Arc::new(Observed { inner, metrics })
    }

    /// Time `run`, count it, and log it in a `query` span.
    async fn observe<T>(
        &self,
        query: &Query,
        run: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let backend = self.inner.dialect().name();
        let span = tracing::debug_span!("query", backend);
        async {
            tracing::debug!(sql = %query.sql, params = %redacted(&query.params), "query");
            let started = Instant::now();
            let result = run.await;
            let elapsed = started.elapsed();
            self.metrics
                .query(backend, result.as_ref().map(|_| ()), elapsed);
            match &result {
                Ok(_) => tracing::debug!(elapsed_ms = elapsed.as_secs_f64() * 1000.0, "query done"),
                Err(error) => tracing::debug!(elapsed_ms = elapsed.as_secs_f64() * 1000.0, %error, "query failed"),
            }
            result
        }
        .instrument(span)
        .await
    }
}

/// The parameters' types, in order: `[text, timestamp, int]`.
fn redacted(params: &[Param]) -> String {
    let types: Vec<&str> = params
        .iter()
        .map(|p| match p {
            Param::Text(_) => "text",
            Param::Int(_) => "int",
            Param::Float(_) => "float",
            Param::Timestamp(_) => "timestamp",
        })
        .collect();
    format!("[{}]", types.join(", "))
}

#[async_trait]
impl Storage for Observed {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        self.observe(query, self.inner.fetch(query)).await
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        self.observe(query, self.inner.stream(query)).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        self.inner.pool_status()
    }
}
