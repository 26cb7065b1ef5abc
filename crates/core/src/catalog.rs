//! Projects and clients (§2.2, §3): the catalog's records and the read-side trait
//! authentication looks them up through. Writing them is [`crate::write::CatalogWriter`].

use async_trait::async_trait;

use crate::storage::StorageError;

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
