//! quarry-testkit: the backend conformance suite, written once, run on every storage.
//!
//! Each scenario is an `async fn(&dyn Backend)` that builds its data, runs requests
//! through quarry-core's [`exec`] against the backend's [`Storage`], and compares the JSON
//! with expectations computed by hand from the contract (never with the code under test).
//! A backend crate implements [`Backend`] (a fresh, migrated database per call) in one
//! test file and expands [`conformance_tests!`], which generates one `#[tokio::test]` per
//! scenario; the same literals then hold on SQLite, PostgreSQL and ClickHouse, which is
//! what §8's byte-identical guarantee asks for.
//!
//! This crate is for tests only (`publish = false`); it panics freely.
#![allow(clippy::unwrap_used)]

pub mod charts;
pub mod events;
pub mod filters;
pub mod funnel;
pub mod funnel_options;
pub mod funnel_reference;
pub mod import;
pub mod oracle;
pub mod smoke;

use async_trait::async_trait;
use chrono_tz::Tz;
use quarry_core::compile::Context;
use quarry_core::decode::{self, Limits};
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::exec;
use quarry_core::sql::{CellType, Query};
use quarry_core::storage::Storage;
use quarry_core::write::{CatalogWriter, EventWriter, LoadHint};

/// One fresh database holding the tables of §2 (events, profiles, event_meta…).
#[async_trait]
pub trait Db: Send + Sync {
    /// The storage under test.
    fn storage(&self) -> &dyn Storage;

    /// Import events through the backend's own import path (all or nothing).
    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, String>;

    /// Create or replace a profile.
    async fn upsert_profile(&self, p: &NewProfile) -> Result<(), String>;

    /// Create or update an `event_meta` row.
    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), String>;

    /// Rows of `events`, counted with plain SQL (panics if the table is gone).
    async fn raw_event_count(&self) -> i64;

    /// Import `batches` as one load that the backend treats as large (indexes deferred
    /// where it defers them), committed when `commit`, else dropped as a failed import
    /// would be. Returns how many events were stored. By default each batch is inserted
    /// on its own (a store without load units, where nothing is rolled back).
    async fn load_events(&self, batches: &[Vec<NewEvent>], commit: bool) -> Result<u64, String> {
        let _ = commit;
        let mut stored = 0;
        for batch in batches {
            stored += self.insert_events(batch).await?;
        }
        Ok(stored)
    }
}

// Scenarios hold `Box<dyn Db>` and pass `&store` to helpers taking `&dyn Db`.
#[async_trait]
impl<T: Db + ?Sized> Db for Box<T> {
    fn storage(&self) -> &dyn Storage {
        (**self).storage()
    }

    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, String> {
        (**self).insert_events(events).await
    }

    async fn upsert_profile(&self, p: &NewProfile) -> Result<(), String> {
        (**self).upsert_profile(p).await
    }

    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), String> {
        (**self).set_event_meta(m).await
    }

    async fn raw_event_count(&self) -> i64 {
        (**self).raw_event_count().await
    }

    async fn load_events(&self, batches: &[Vec<NewEvent>], commit: bool) -> Result<u64, String> {
        (**self).load_events(batches, commit).await
    }
}

/// The one [`Db`] of every backend whose store implements quarry-core's read and write
/// traits (SQLite, PostgreSQL): the suite then writes exactly as `quarry import` does.
/// `keep` holds whatever must live as long as the database (a temporary directory).
#[allow(missing_debug_implementations)]
pub struct TraitDb<S> {
    store: S,
    _keep: Box<dyn Send + Sync>,
}

impl<S> TraitDb<S> {
    /// A database under test, keeping `keep` alive beside it.
    pub fn new(store: S, keep: impl Send + Sync + 'static) -> TraitDb<S> {
        TraitDb {
            store,
            _keep: Box::new(keep),
        }
    }

    /// The store under test.
    pub fn store(&self) -> &S {
        &self.store
    }
}

#[async_trait]
impl<S: Storage + EventWriter + CatalogWriter> Db for TraitDb<S> {
    fn storage(&self) -> &dyn Storage {
        &self.store
    }

    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, String> {
        self.store
            .insert_events(events)
            .await
            .map_err(|e| e.to_string())
    }

    async fn upsert_profile(&self, p: &NewProfile) -> Result<(), String> {
        self.store
            .upsert_profiles(std::slice::from_ref(p))
            .await
            .map_err(|e| e.to_string())
    }

    async fn set_event_meta(&self, m: &NewEventMeta) -> Result<(), String> {
        self.store
            .set_event_meta(m)
            .await
            .map_err(|e| e.to_string())
    }

    async fn raw_event_count(&self) -> i64 {
        let count = Query {
            sql: "SELECT count(*) FROM events".into(),
            params: Vec::new(),
            columns: vec![CellType::Int],
        };
        self.store.fetch(&count).await.unwrap()[0][0].as_i64()
    }

    async fn load_events(&self, batches: &[Vec<NewEvent>], commit: bool) -> Result<u64, String> {
        let err = |e: quarry_core::storage::StorageError| e.to_string();
        // Larger than any table a test makes: a large load on every backend.
        let hint = LoadHint {
            input_bytes: Some(u64::MAX),
        };
        let mut unit = self.store.begin_load(hint).await.map_err(err)?;
        let mut stored = 0;
        for batch in batches {
            stored += unit.insert_events(batch).await.map_err(err)?;
        }
        if !commit {
            return Ok(0);
        }
        Ok(stored - unit.commit().await.map_err(err)?)
    }
}

/// A storage engine under test.
#[async_trait]
pub trait Backend: Send + Sync {
    /// A new, empty, migrated database, independent of every other one.
    async fn fresh(&self) -> Box<dyn Db>;

    /// Remove what [`Backend::fresh`] created (called after a scenario passes).
    async fn cleanup(&self) {}
}

/// Generate one `#[tokio::test]` per scenario, in modules named like the scenario modules.
/// `$make` is the absolute path (`crate::…`) of an `async fn() -> impl Backend`, called
/// once per test; the calling crate needs `tokio` (with `macros`) as a dev-dependency.
///
/// ```ignore
/// quarry_testkit::conformance_tests!(crate::backend);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::__scenarios!(@tests $make);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tests {
    ($make:path; $($module:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $module {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let backend = $make().await;
                        $crate::$module::$name(&backend).await;
                        $crate::Backend::cleanup(&backend).await;
                    }
                )*
            }
        )*
    };
}

mod scenarios;

/// Milliseconds of an RFC 3339 instant.
pub fn ms(s: &str) -> i64 {
    quarry_core::time::parse_rfc3339(s).unwrap()
}

/// A minimal event in project `proj`; adjust fields with struct update syntax.
pub fn ev(id: &str, name: &str, at: &str) -> NewEvent {
    NewEvent {
        id: id.to_string(),
        name: name.to_string(),
        device_id: format!("dev-{id}"),
        project_id: "proj".into(),
        created_at: ms(at),
        ..NewEvent::default()
    }
}

/// A catalog of one project `p1` and one read client of it with the given id (the catalog
/// tests of the SQLite and PostgreSQL storages).
pub fn catalog_records(
    client_id: &str,
) -> (
    quarry_core::catalog::ProjectRecord,
    quarry_core::catalog::ClientRecord,
) {
    use quarry_core::catalog::{ClientKind, ClientRecord, ProjectRecord};
    let project = ProjectRecord {
        id: "p1".into(),
        organization_id: "org".into(),
        name: "P".into(),
        timezone: Some("Europe/Stockholm".into()),
    };
    let client = ClientRecord {
        id: client_id.into(),
        name: "C".into(),
        secret: Some("salt.hash".into()),
        kind: ClientKind::Read,
        project_id: Some("p1".into()),
        organization_id: "org".into(),
    };
    (project, client)
}

/// Properties from pairs.
pub fn props(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The request context: project `proj`, a timezone and a clock.
pub fn ctx(tz: Tz, now: &str) -> Context {
    Context {
        project_id: "proj".into(),
        tz,
        now: ms(now),
        first_event: None,
    }
}

/// Run a chart query string and return its JSON.
pub async fn chart(db: &dyn Db, qs: &str, tz: Tz, now: &str) -> serde_json::Value {
    let req = decode::decode_chart(qs).unwrap();
    let tz = req.timezone.unwrap_or(tz);
    let resp = exec::chart(db.storage(), &req, &ctx(tz, now))
        .await
        .unwrap();
    serde_json::to_value(resp).unwrap()
}

/// Run a funnel query string and return its JSON.
pub async fn funnel(db: &dyn Db, qs: &str, tz: Tz, now: &str) -> serde_json::Value {
    let req = decode::decode_funnel(qs).unwrap();
    let tz = req.timezone.unwrap_or(tz);
    let resp = exec::funnel(db.storage(), &req, &ctx(tz, now))
        .await
        .unwrap();
    serde_json::to_value(resp).unwrap()
}

/// Run an events query string (page size up to 1000) and return its JSON.
pub async fn events(db: &dyn Db, qs: &str, tz: Tz, now: &str) -> serde_json::Value {
    let req = decode::decode_events(
        qs,
        Limits {
            max_page_size: 1000,
            ..Limits::default()
        },
    )
    .unwrap();
    let tz = req.timezone.unwrap_or(tz);
    let store = db.storage();
    let resp = exec::events(store, store, &req, &ctx(tz, now))
        .await
        .unwrap();
    serde_json::to_value(resp).unwrap()
}

/// Percent-encode a query-string value: every byte but the unreserved ones (RFC 3986).
pub fn url_enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Compile an events query string (UTC, project "proj") without running it.
pub fn compile_events_qs(
    qs: &str,
    dialect: quarry_core::Dialect,
    now: &str,
) -> quarry_core::compile::EventsPlan {
    let req = decode::decode_events(
        qs,
        Limits {
            max_page_size: 1000,
            ..Limits::default()
        },
    )
    .unwrap();
    let tz = req.timezone.unwrap_or(chrono_tz::UTC);
    quarry_core::compile::compile_events(&req, &ctx(tz, now), dialect).unwrap()
}

/// Compile a chart query string (UTC, project "proj") without running it.
pub fn compile_chart_qs(qs: &str, dialect: quarry_core::Dialect, now: &str) -> quarry_core::Query {
    let req = decode::decode_chart(qs).unwrap();
    let tz = req.timezone.unwrap_or(chrono_tz::UTC);
    quarry_core::compile::compile_chart(&req, &ctx(tz, now), dialect)
        .unwrap()
        .query
}

/// Compile a funnel query string (UTC, project "proj") without running it.
pub fn compile_funnel_qs(qs: &str, dialect: quarry_core::Dialect, now: &str) -> quarry_core::Query {
    let req = decode::decode_funnel(qs).unwrap();
    let tz = req.timezone.unwrap_or(chrono_tz::UTC);
    quarry_core::compile::compile_funnel(&req, &ctx(tz, now), dialect)
        .unwrap()
        .query
}

/// The `id`s of an events response's `data`, in response order.
pub fn data_ids(resp: &serde_json::Value) -> Vec<String> {
    resp["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// `url` with its database replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The workspace's one deterministic generator, shared with the demo data. Generated test
/// data uses [`Rng::xorshift`], the stream it has always been drawn from, so that every
/// data set stays the one its tests were checked on.
pub use quarry_demo::rng::Rng;

/// One request fixture of the compiler's snapshot suite (`crates/core/tests/fixtures`;
/// format in `crates/core/tests/snapshots.rs`): its headers, and the query string with
/// its lines joined by `&`.
#[derive(Debug, Clone)]
pub struct RequestFixture {
    /// The file name without `.txt`.
    pub name: String,
    /// `charts`, `funnel` or `events`.
    pub endpoint: String,
    /// The clock (header `now`).
    pub now: Option<String>,
    /// The project's timezone (header `timezone`).
    pub timezone: Option<Tz>,
    /// The project's first event (header `first_event`), in ms.
    pub first_event: Option<i64>,
    /// The project id (header `project`).
    pub project: Option<String>,
    /// The raw query string.
    pub query: String,
}

/// Every request fixture, sorted by name.
pub fn request_fixtures() -> Vec<RequestFixture> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures");
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(paths.len() > 50, "fixtures not found in {}", dir.display());
    paths.iter().map(|p| parse_fixture(p)).collect()
}

fn parse_fixture(path: &std::path::Path) -> RequestFixture {
    let name = path.file_stem().unwrap().to_str().unwrap().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let mut fx = RequestFixture {
        name,
        endpoint: String::new(),
        now: None,
        timezone: None,
        first_event: None,
        project: None,
        query: String::new(),
    };
    let mut lines = text.lines();
    for line in lines.by_ref() {
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once(':').unwrap();
        let value = value.trim().to_string();
        match key.trim() {
            "endpoint" => fx.endpoint = value,
            "now" => fx.now = Some(value),
            "timezone" => fx.timezone = Some(value.parse().unwrap()),
            "first_event" => fx.first_event = Some(ms(&value)),
            "project" => fx.project = Some(value),
            other => panic!("{}: unknown header {other}", fx.name),
        }
    }
    let query: Vec<&str> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    fx.query = query.join("&");
    fx
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "q_1"),
            "postgres://u@h:5432/q_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "q_1"),
            "postgres://u:p@h/q_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h:1", "q_1"),
            "postgresql://h:1/q_1"
        );
    }
}
