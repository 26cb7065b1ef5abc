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

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StorageError>;
}

/// What a client may do (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Export within its own project.
    Read,
    /// Ingest only; may not export.
    Write,
    /// Export any project of its organization.
    Root,
}

impl ClientKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Read => "read",
            ClientKind::Write => "write",
            ClientKind::Root => "root",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<ClientKind> {
        match s {
            "read" => Some(ClientKind::Read),
            "write" => Some(ClientKind::Write),
            "root" => Some(ClientKind::Root),
            _ => None,
        }
    }
}

/// A row of `clients`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// UUID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `<salt>.<hash>` (§3.2), if the client has a secret.
    pub secret: Option<String>,
    /// Read, write or root.
    pub kind: ClientKind,
    /// The client's own project.
    pub project_id: Option<String>,
    /// Its organization.
    pub organization_id: String,
}

impl ClientRecord {
    /// A client from the text columns `id, name, secret, type, projectId, organizationId`
    /// as every catalog stores them; an unknown `type` is a query error.
    pub fn from_columns(columns: [Option<String>; 6]) -> Result<ClientRecord, StorageError> {
        let [id, name, secret, kind, project_id, organization_id] = columns;
        let id = id.unwrap_or_default();
        let Some(kind) = kind.as_deref().and_then(ClientKind::parse) else {
            return Err(StorageError::Query(format!(
                "client {id} has an unknown type"
            )));
        };
        Ok(ClientRecord {
            id,
            name: name.unwrap_or_default(),
            secret,
            kind,
            project_id,
            organization_id: organization_id.unwrap_or_default(),
        })
    }
}

// The stored hash never appears in logs.
impl std::fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("kind", &self.kind)
            .field("project_id", &self.project_id)
            .field("organization_id", &self.organization_id)
            .finish()
    }
}

/// A row of `projects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    /// Project id.
    pub id: String,
    /// Its organization.
    pub organization_id: String,
    /// Display name.
    pub name: String,
    /// IANA timezone, UTC when absent.
    pub timezone: Option<String>,
}

/// Where projects and clients live (SQLite or PostgreSQL, with OpenPanel's names).
#[async_trait]
pub trait Catalog: Send + Sync + std::fmt::Debug {
    /// Look a client up by id.
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StorageError>;
    /// Look a project up by id.
    async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StorageError>;
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StorageError>;
}
