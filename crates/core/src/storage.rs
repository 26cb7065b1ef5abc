//! The seam between the compiler and the databases.
//!
//! A backend executes a compiled [`Query`] and decodes every column as the query declares
//! it ([`ColumnType`]) into core's [`Value`]s. It never builds SQL: everything it runs
//! comes from this crate's compiler, so all backends answer the same questions.

use async_trait::async_trait;

use crate::sql::{Dialect, Query};

/// One decoded cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (also timestamps, as ms since the epoch).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// A flat string map (event and profile properties), in storage order.
    Map(Vec<(String, String)>),
}

impl Value {
    /// The value as an integer (floats truncated; anything else 0).
    pub fn as_i64(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            Value::Float(f) => *f as i64,
            Value::Text(t) => t.parse().unwrap_or(0),
            Value::Null | Value::Map(_) => 0,
        }
    }

    /// The value as a float (NULL and text 0).
    pub fn as_f64(&self) -> f64 {
        match self {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Text(t) => t.parse().unwrap_or(0.0),
            Value::Null | Value::Map(_) => 0.0,
        }
    }

    /// Take the text out (NULL and numbers as text).
    pub fn into_text(self) -> String {
        match self {
            Value::Text(t) => t,
            Value::Int(i) => i.to_string(),
            Value::Float(f) => crate::format::decimal_text(f),
            Value::Null | Value::Map(_) => String::new(),
        }
    }
}

/// One result row, in the query's column order.
pub type Row = Vec<Value>;

/// How a backend must decode a result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text (NULL → `Value::Null`).
    Text,
    /// A 64-bit integer; timestamps are selected as epoch milliseconds.
    Int,
    /// A float (NULL → `Value::Null`).
    Float,
    /// A boolean stored as 0/1 or a native boolean, decoded as `Value::Int`.
    Bool,
    /// A flat string map (JSON object text in SQLite, JSONB in PostgreSQL, `Map` in ClickHouse).
    Map,
}

/// Why storage could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached (→ 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The query ran past the configured timeout (→ 504).
    #[error("query timed out")]
    Timeout,
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
}
