//! The backend conformance suite (quarry-testkit) on PostgreSQL: the same scenarios and
//! hand-computed JSON as on SQLite, each in a database of its own (see `common`).
#![allow(clippy::unwrap_used)]

mod common;

async fn backend() -> common::Pg {
    common::Pg::new().await
}

quarry_testkit::conformance_tests!(crate::backend);
