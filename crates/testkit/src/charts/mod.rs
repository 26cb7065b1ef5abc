//! `GET /export/charts` semantics (contract §4.3, §4.4, §6) on every backend.
//!
//! Every expected value below is worked out by hand from the contract and written as a
//! literal; nothing is computed with the code under test. Each test's comment shows the
//! hand computation.
//!
//! One file per section of the contract; this one holds the helpers they share.

mod breakdowns;
mod buckets;
mod configs;
mod dst;
mod intervals;
mod previous;
mod ranges;
mod segments;

pub use breakdowns::*;
pub use buckets::*;
pub use configs::*;
pub use dst::*;
pub use intervals::*;
pub use previous::*;
pub use ranges::*;
pub use segments::*;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::*;
use chrono_tz::Europe::Stockholm;
use chrono_tz::Tz;
use chrono_tz::UTC;
use quarry_core::event::NewEvent;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Local helpers (data building and JSON picking only; no expectations are computed).

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// An event with a process-unique id.
fn e(name: &str, at: &str) -> NewEvent {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    ev(&format!("{name}-{n}"), name, at)
}

/// Events named `name` at each instant.
fn many(name: &str, times: &[&str]) -> Vec<NewEvent> {
    times.iter().map(|t| e(name, t)).collect()
}

/// `n` events named `name` at one instant, with a country.
fn in_country(name: &str, country: &str, at: &str, n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|_| NewEvent {
            country: country.into(),
            ..e(name, at)
        })
        .collect()
}

/// An event by a profile in a session.
fn by(name: &str, at: &str, profile: &str, session: &str) -> NewEvent {
    NewEvent {
        profile_id: profile.into(),
        session_id: session.into(),
        ..e(name, at)
    }
}

async fn db(b: &dyn Backend, events: Vec<NewEvent>) -> Box<dyn Db> {
    let store = b.fresh().await;
    if !events.is_empty() {
        store.insert_events(&events).await.unwrap();
    }
    store
}

/// The `count`s of series `i`.
fn counts(v: &Value, i: usize) -> Value {
    Value::Array(
        v["series"][i]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["count"].clone())
            .collect(),
    )
}

/// The `date`s of series `i`.
fn dates(v: &Value, i: usize) -> Value {
    Value::Array(
        v["series"][i]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["date"].clone())
            .collect(),
    )
}

/// The `names` of every series, in response order.
fn all_names(v: &Value) -> Value {
    Value::Array(
        v["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["names"].clone())
            .collect(),
    )
}

/// The `id` of every series, in response order.
fn all_ids(v: &Value) -> Value {
    Value::Array(
        v["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect(),
    )
}

async fn run(store: &dyn Db, qs: &str, tz: Tz, now: &str) -> Value {
    chart(store, qs, tz, now).await
}

const NOW: &str = "2024-05-15T10:00:00.000Z";
