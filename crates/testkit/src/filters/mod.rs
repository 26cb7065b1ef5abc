//! Filters (§4.4, §4.5) executed on every backend: every operator, every kind of field, the text
//! conversion of values, literal wildcards, number recognition, and hostile text in every
//! position reaching SQL only as bound parameters. Expected values are computed by hand.
//!
//! One file per concern; this one holds the helpers they share.

mod fields;
mod hostile;
mod operators;
mod values;

pub use fields::*;
pub use hostile::*;
pub use operators::*;
pub use values::*;

use crate::*;
use quarry_core::{Dialect, Param, Query};
use serde_json::{Value, json};

const NOW: &str = "2024-05-01T00:00:00Z";
const AT: &str = "2024-04-15T12:00:00.000Z";

/// Sorted ids of the events matching a JSON array of filters.
async fn matching(store: &dyn Db, filters: Value) -> Vec<String> {
    let qs = format!("limit=1000&filters={}", url_enc(&filters.to_string()));
    let mut ids = data_ids(&events(store, &qs, chrono_tz::UTC, NOW).await);
    ids.sort();
    ids
}

/// Sorted ids of the events matching one filter.
async fn one(store: &dyn Db, name: &str, operator: &str, value: Value) -> Vec<String> {
    matching(
        store,
        json!([{"name": name, "operator": operator, "value": value}]),
    )
    .await
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Events that differ only in one text column or in their properties.
async fn store_with(b: &dyn Backend, rows: Vec<quarry_core::event::NewEvent>) -> Box<dyn Db> {
    let store = b.fresh().await;
    store.insert_events(&rows).await.unwrap();
    store
}

fn with_country(id: &str, country: &str) -> quarry_core::event::NewEvent {
    let mut e = ev(id, "screen_view", AT);
    e.country = country.into();
    e
}

fn with_props(id: &str, pairs: &[(&str, &str)]) -> quarry_core::event::NewEvent {
    let mut e = ev(id, "screen_view", AT);
    e.properties = props(pairs);
    e
}
