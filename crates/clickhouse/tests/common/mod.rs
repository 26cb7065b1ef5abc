//! Shared helpers for the ClickHouse tests: a database of its own per test on the server
//! named by `CLICKHOUSE_URL`, compact event rows, and a twin SQLite database for checking
//! that both backends answer byte for byte alike (§8).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono_tz::Tz;
use quarry_clickhouse::ClickHouseStorage;
use quarry_core::compile::Context;
use quarry_core::decode::{self, Limits};
use quarry_core::event::{NewEvent, NewProfile};
use quarry_core::exec;
use quarry_core::storage::Storage;
use quarry_core::write::{Database, EventWriter};
use quarry_sqlite::SqliteStorage;

/// The server under test. Unset is a failure, not a skip: CI starts a server and sets it.
pub fn clickhouse_url() -> String {
    match std::env::var("CLICKHOUSE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CLICKHOUSE_URL is not set. These tests need a ClickHouse HTTP endpoint: run \
             `eval \"$(scripts/start-clickhouse.sh)\"` first (docs/testing.md), or set \
             CLICKHOUSE_URL to a real ClickHouse server."
        ),
    }
}

/// A migrated database `q_<random>` of its own, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    pub store: ClickHouseStorage,
    url: String,
    name: String,
}

impl std::ops::Deref for TestDb {
    type Target = ClickHouseStorage;
    fn deref(&self) -> &ClickHouseStorage {
        &self.store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime; a thread with its own runtime may block.
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = ClickHouseStorage::connect(&url, "system").unwrap();
                admin
                    .client()
                    .query_raw(&format!("DROP DATABASE IF EXISTS `{name}`"))
                    .execute()
                    .await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// A fresh, migrated database.
pub async fn fresh() -> TestDb {
    let db = empty().await;
    db.store.migrate().await.unwrap();
    db
}

/// A fresh database that exists but has no tables.
pub async fn empty() -> TestDb {
    let url = clickhouse_url();
    let name = format!("q_{}", uuid::Uuid::new_v4().simple());
    let admin = ClickHouseStorage::connect(&url, "system").unwrap();
    admin
        .client()
        .query_raw(&format!("CREATE DATABASE `{name}`"))
        .execute()
        .await
        .unwrap();
    TestDb {
        store: ClickHouseStorage::connect(&url, &name).unwrap(),
        url,
        name,
    }
}

/// Milliseconds of an RFC 3339 instant.
pub fn ms(s: &str) -> i64 {
    quarry_core::time::parse_rfc3339(s).unwrap()
}

/// A minimal event; adjust fields with struct update syntax.
pub fn ev(id: &str, name: &str, at: &str) -> NewEvent {
    NewEvent {
        id: id.to_string(),
        name: name.to_string(),
        device_id: format!("dev-{id}"),
        profile_id: String::new(),
        project_id: "proj".into(),
        session_id: String::new(),
        properties: Default::default(),
        created_at: ms(at),
        country: String::new(),
        city: String::new(),
        region: String::new(),
        longitude: None,
        latitude: None,
        os: String::new(),
        os_version: String::new(),
        browser: String::new(),
        browser_version: String::new(),
        device: String::new(),
        brand: String::new(),
        model: String::new(),
        duration: 0,
        path: String::new(),
        origin: String::new(),
        referrer: String::new(),
        referrer_name: String::new(),
        referrer_type: String::new(),
        sdk_name: String::new(),
        sdk_version: String::new(),
        imported_at: None,
    }
}

/// Properties from pairs.
pub fn props(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn ctx(tz: Tz, now: &str) -> Context {
    Context {
        project_id: "proj".into(),
        tz,
        now: ms(now),
        first_event: None,
    }
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

/// Which endpoint a query string is for.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Chart,
    Funnel,
    Events,
}

/// Run a request on a storage; the JSON text of the response, or `error: …` for a request
/// or storage error (so that two backends can be compared on failures too).
pub async fn run(store: &dyn Storage, kind: Kind, qs: &str, tz: Tz, now: &str) -> String {
    let out = match kind {
        Kind::Chart => match decode::decode_chart(qs) {
            Ok(req) => {
                let tz = req.timezone.unwrap_or(tz);
                exec::chart(store, &req, &ctx(tz, now))
                    .await
                    .map(|r| serde_json::to_string(&r).unwrap())
            }
            Err(e) => return format!("error: {e}"),
        },
        Kind::Funnel => match decode::decode_funnel(qs) {
            Ok(req) => {
                let tz = req.timezone.unwrap_or(tz);
                exec::funnel(store, &req, &ctx(tz, now))
                    .await
                    .map(|r| serde_json::to_string(&r).unwrap())
            }
            Err(e) => return format!("error: {e}"),
        },
        Kind::Events => match decode::decode_events(
            qs,
            Limits {
                max_page_size: 1000,
                ..Limits::default()
            },
        ) {
            Ok(req) => {
                let tz = req.timezone.unwrap_or(tz);
                exec::events(store, store, &req, &ctx(tz, now))
                    .await
                    .map(|r| serde_json::to_string(&r).unwrap())
            }
            Err(e) => return format!("error: {e}"),
        },
    };
    out.unwrap_or_else(|e| format!("error: {e}"))
}

/// Run a request on ClickHouse and parse the JSON (panics on an error).
pub async fn json(
    store: &dyn Storage,
    kind: Kind,
    qs: &str,
    tz: Tz,
    now: &str,
) -> serde_json::Value {
    let text = run(store, kind, qs, tz, now).await;
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{qs}: {text}"))
}

/// The same data in ClickHouse and in SQLite.
pub struct Twins {
    pub ch: TestDb,
    pub lite: SqliteStorage,
    _dir: tempfile::TempDir,
}

/// Load events and profiles into both backends. Event ids are first mapped to the UUIDs
/// ClickHouse stores ([`quarry_clickhouse::event_uuid`]), so both return the same ids.
pub async fn twins(events: Vec<NewEvent>, profiles: Vec<NewProfile>) -> Twins {
    let events: Vec<NewEvent> = events
        .into_iter()
        .map(|e| NewEvent {
            id: quarry_clickhouse::event_uuid(&e.id).to_string(),
            ..e
        })
        .collect();
    let ch = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStorage::connect(dir.path().join("twin.db").to_str().unwrap())
        .await
        .unwrap();
    lite.migrate().await.unwrap();
    if !events.is_empty() {
        assert_eq!(
            ch.insert_events(&events).await.unwrap(),
            lite.insert_events(&events).await.unwrap()
        );
    }
    for p in &profiles {
        ch.upsert_profiles(std::slice::from_ref(p)).await.unwrap();
        lite.upsert_profiles(std::slice::from_ref(p)).await.unwrap();
    }
    Twins {
        ch,
        lite,
        _dir: dir,
    }
}

impl Twins {
    /// Run a request on both; assert byte-identical JSON (or the same error) and return it.
    pub async fn same(&self, kind: Kind, qs: &str, tz: Tz, now: &str) -> String {
        let ch = run(&self.ch.store, kind, qs, tz, now).await;
        let lite = run(&self.lite, kind, qs, tz, now).await;
        assert_eq!(
            ch, lite,
            "ClickHouse (left) and SQLite (right) differ for {kind:?} {qs}"
        );
        assert!(!ch.starts_with("error: storage"), "{qs}: {ch}");
        ch
    }

    /// [`Twins::same`], parsed.
    pub async fn same_json(&self, kind: Kind, qs: &str, tz: Tz, now: &str) -> serde_json::Value {
        let text = self.same(kind, qs, tz, now).await;
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{qs}: {text}"))
    }
}

/// OpenPanel's `events` table as its migrations create it today (`8-order-keys.ts`:
/// `LowCardinality(FixedString(2))` country, `Float32` coordinates, `DateTime` imported_at,
/// an extra `revenue` column), to check that Quarry reads an OpenPanel database unchanged.
pub const OPENPANEL_EVENTS: &str = "\
CREATE TABLE events (
  `id` UUID DEFAULT generateUUIDv4(),
  `name` LowCardinality(String),
  `sdk_name` LowCardinality(String),
  `sdk_version` LowCardinality(String),
  `device_id` String CODEC(ZSTD(3)),
  `profile_id` String CODEC(ZSTD(3)),
  `project_id` String CODEC(ZSTD(3)),
  `session_id` String CODEC(LZ4),
  `path` String CODEC(ZSTD(3)),
  `origin` String CODEC(ZSTD(3)),
  `referrer` String CODEC(ZSTD(3)),
  `referrer_name` String CODEC(ZSTD(3)),
  `referrer_type` LowCardinality(String),
  `revenue` UInt64,
  `duration` UInt64 CODEC(Delta(4), LZ4),
  `properties` Map(String, String) CODEC(ZSTD(3)),
  `created_at` DateTime64(3) CODEC(DoubleDelta, ZSTD(3)),
  `country` LowCardinality(FixedString(2)),
  `city` String,
  `region` LowCardinality(String),
  `longitude` Nullable(Float32) CODEC(Gorilla, LZ4),
  `latitude` Nullable(Float32) CODEC(Gorilla, LZ4),
  `os` LowCardinality(String),
  `os_version` LowCardinality(String),
  `browser` LowCardinality(String),
  `browser_version` LowCardinality(String),
  `device` LowCardinality(String),
  `brand` LowCardinality(String),
  `model` LowCardinality(String),
  `imported_at` Nullable(DateTime) CODEC(Delta(4), LZ4),
  INDEX idx_name name TYPE bloom_filter GRANULARITY 1,
  INDEX idx_properties_bounce properties['__bounce'] TYPE set(3) GRANULARITY 1,
  INDEX idx_origin origin TYPE bloom_filter(0.05) GRANULARITY 1,
  INDEX idx_path path TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, toDate(created_at), created_at, name)
SETTINGS index_granularity = 8192";

/// OpenPanel's `profiles` table (`3-init-ch.sql`).
pub const OPENPANEL_PROFILES: &str = "\
CREATE TABLE profiles (
  `id` String CODEC(ZSTD(3)),
  `is_external` Bool,
  `first_name` String CODEC(ZSTD(3)),
  `last_name` String CODEC(ZSTD(3)),
  `email` String CODEC(ZSTD(3)),
  `avatar` String CODEC(ZSTD(3)),
  `properties` Map(String, String) CODEC(ZSTD(3)),
  `project_id` String CODEC(ZSTD(3)),
  `created_at` DateTime64(3) CODEC(Delta(4), LZ4),
  INDEX idx_first_name first_name TYPE bloom_filter GRANULARITY 1,
  INDEX idx_last_name last_name TYPE bloom_filter GRANULARITY 1,
  INDEX idx_email email TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, id)
SETTINGS index_granularity = 8192";

/// A database holding OpenPanel's own tables (created as OpenPanel does, not by
/// `migrate`) with a few rows written the way OpenPanel writes them (plain SQL).
pub async fn openpanel_db(project: &str) -> TestDb {
    let db = empty().await;
    for ddl in [OPENPANEL_EVENTS, OPENPANEL_PROFILES] {
        db.client().query_raw(ddl).execute().await.unwrap();
    }
    db.client()
        .query_raw(
            "INSERT INTO events (id, name, device_id, profile_id, project_id, session_id, \
             properties, created_at, country, city, longitude, latitude, os, browser, duration, \
             path, imported_at) VALUES \
             ('11111111-1111-4111-8111-111111111111', 'screen_view', 'd1', 'u1', {p:String}, 's1', \
              map('price', '10', 'plan', 'pro'), toDateTime64('2024-04-14 10:00:00.123', 3, 'UTC'), 'SE', 'Malmö', 13.003822, \
              55.604981, 'iOS', 'Safari', 1500, '/', toDateTime('2024-04-14 11:00:00', 'UTC')), \
             ('22222222-2222-4222-8222-222222222222', 'purchase', 'd1', 'u1', {p:String}, 's1', \
              map('price', '19.5'), toDateTime64('2024-04-14 10:05:00.000', 3, 'UTC'), 'SE', 'Malmö', NULL, NULL, 'iOS', \
              'Safari', 0, '/buy', NULL), \
             ('33333333-3333-4333-8333-333333333333', 'screen_view', 'd2', 'd2', {p:String}, 's2', \
              map(), toDateTime64('2024-04-14 12:00:00.000', 3, 'UTC'), '', '', NULL, NULL, '', '', 0, '/', NULL)",
        )
        .param("p", project)
        .execute()
        .await
        .unwrap();
    db.client()
        .query_raw(
            "INSERT INTO profiles (id, is_external, first_name, last_name, email, avatar, \
             properties, project_id, created_at) VALUES \
             ('u1', true, 'Ann', 'Lind', 'ann@example.com', '', map('plan', 'pro'), {p:String}, \
              toDateTime64('2024-01-01 00:00:00.000', 3, 'UTC'))",
        )
        .param("p", project)
        .execute()
        .await
        .unwrap();
    db
}
