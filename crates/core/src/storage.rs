//! The seam between the compiler and the databases.
//!
//! A backend executes a compiled [`Query`] and decodes every column as the query declares
//! it ([`CellType`](crate::sql::CellType)) into core's [`Value`](crate::sql::Value)s. It never builds SQL: everything it runs
//! comes from this crate's compiler, so all backends answer the same questions.

use async_trait::async_trait;

use crate::sql::{Dialect, Query, Row};

/// Why storage could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached (→ 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The query ran past the configured timeout (→ 504).
    #[error("query timed out")]
    Timeout,
    /// The engine refused a value the request supplied, such as a regular expression it
    /// finds too complex: the user's input, not a fault (→ 400 naming the request's
    /// patterns). The text is the engine's, for the log only.
    #[error("the database refused a value of the request: {0}")]
    Rejected(String),
    /// Anything else the database reported (→ 500; logged, never shown).
    #[error("storage error: {0}")]
    Query(String),
}

/// A database that runs compiled queries.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// The dialect queries for this storage must be compiled in.
    fn dialect(&self) -> Dialect;

    /// Run one compiled query and decode its rows as `query.columns` declares.
    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StorageError>;
}
