//! Shared helpers for the SQLite tests: a fresh database per test and compact event rows.
#![allow(dead_code, clippy::unwrap_used)]

use chrono_tz::Tz;
use quarry_core::compile::Context;
use quarry_core::decode::{self, Limits};
use quarry_core::event::NewEvent;
use quarry_core::exec;
use quarry_sqlite::SqliteStorage;

/// A migrated database in a temporary directory (kept alive by the returned guard).
pub async fn fresh() -> (SqliteStorage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = SqliteStorage::connect(path.to_str().unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
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

/// Run a chart query string and return its JSON.
pub async fn chart(store: &SqliteStorage, qs: &str, tz: Tz, now: &str) -> serde_json::Value {
    let req = decode::decode_chart(qs).unwrap();
    let tz = req.timezone.unwrap_or(tz);
    let resp = exec::chart(store, &req, &ctx(tz, now)).await.unwrap();
    serde_json::to_value(resp).unwrap()
}

/// Run a funnel query string and return its JSON.
pub async fn funnel(store: &SqliteStorage, qs: &str, tz: Tz, now: &str) -> serde_json::Value {
    let req = decode::decode_funnel(qs).unwrap();
    let tz = req.timezone.unwrap_or(tz);
    let resp = exec::funnel(store, &req, &ctx(tz, now)).await.unwrap();
    serde_json::to_value(resp).unwrap()
}

/// Run an events query string and return its JSON.
pub async fn events(store: &SqliteStorage, qs: &str, tz: Tz, now: &str) -> serde_json::Value {
    let req = decode::decode_events(
        qs,
        Limits {
            max_page_size: 1000,
        },
    )
    .unwrap();
    let tz = req.timezone.unwrap_or(tz);
    let resp = exec::events(store, store, &req, &ctx(tz, now))
        .await
        .unwrap();
    serde_json::to_value(resp).unwrap()
}

// ---- Helpers for filters.rs, events.rs and funnel.rs ----

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

/// Rows of the `events` table read with plain SQL (fails if the table is gone).
pub async fn raw_event_count(store: &SqliteStorage) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .unwrap()
}
