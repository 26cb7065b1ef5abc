//! quarry-core: the pure heart of Quarry.
//!
//! It turns OpenPanel Export API requests (raw query strings) into validated requests,
//! lowers them into a small SQL AST, renders that AST for ClickHouse, PostgreSQL or SQLite
//! as SQL text plus bound parameters, and shapes the rows a database returns into the exact
//! JSON of the contract. It performs no I/O: no driver, no HTTP, no clock. Databases sit
//! behind the [`storage::Storage`] trait, implemented by the backend crates.
//!
//! Pipeline: query string ([`qs`]) → validated request ([`decode`], [`request`]) →
//! time windows ([`time`]) → SQL AST ([`compile`], [`sql::ast`]) → SQL + params
//! ([`sql::render`]) → [`storage::Storage`] → rows → response ([`shape`], [`response`]).

pub mod catalog;
pub mod compile;
pub mod cursor;
pub mod decode;
pub mod error;
pub mod event;
pub mod exec;
pub mod explain;
pub mod export;
pub mod format;
pub mod pattern;
pub mod qs;
pub mod request;
pub mod response;
pub mod shape;
pub mod sql;
pub mod storage;
pub mod time;
pub mod write;

pub use error::{ParamError, RequestError};
pub use sql::{Dialect, Param, Query};
