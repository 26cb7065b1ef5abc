//! quarry-server: the HTTP face of Quarry and its command line.
//!
//! An actix-web application over quarry-core's compiler and a [`Storage`] backend:
//! OpenPanel-compatible authentication (§3), the three export endpoints, rate limiting,
//! query timeouts and health checks. [`app::Application::build`] lets tests start the real
//! server on port 0; `main.rs` only parses the command line and dispatches.
//!
//! [`Storage`]: quarry_core::storage::Storage

pub mod app;
pub mod assets;
pub mod auth;
pub mod backends;
pub mod catalog_cache;
pub mod cli;
pub mod error;
pub mod export;
pub mod import;
pub mod metrics;
pub mod observed;
pub mod ratelimit;
pub mod settings;
pub mod slots;
pub mod stream;
pub mod wire;

pub use app::Application;
pub use backends::Backends;
pub use settings::Settings;

/// Failures of the command line and server start-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration or arguments.
    #[error("{0}")]
    Config(String),
    /// A storage operation failed.
    #[error("storage: {0}")]
    Storage(String),
    /// An input file problem (import).
    #[error("{0}")]
    Input(String),
    /// Network or file I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A storage failure of a command (migrate, import, seed, catalog changes): its text.
impl From<quarry_core::storage::StorageError> for Error {
    fn from(e: quarry_core::storage::StorageError) -> Self {
        Error::Storage(e.to_string())
    }
}
