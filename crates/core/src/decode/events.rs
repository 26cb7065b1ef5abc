//! `GET /export/events`: names, dates, paging, includes and filters (§5).

use serde_json::Value;

use super::Limits;
use super::filter::decode_filters;
use super::params::{describe, parse_query};
use crate::error::RequestError;
use crate::event::EventField;
use crate::request::{EventsRequest, Include};

/// The `includes` values accepted, for error messages.
pub fn include_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = EventField::ALL.iter().map(|f| f.json()).collect();
    names.extend(["profile", "meta"]);
    names
}

/// Decode `GET /export/events`.
pub fn decode_events(query: &str, limits: Limits) -> Result<EventsRequest, RequestError> {
    let mut p = parse_query(query, limits);
    let project_id = p.project_id();
    let mut events = Vec::new();
    match p.get(&["event"]) {
        None => {}
        Some((_, v)) => {
            let items = match v {
                Value::Array(items) => items,
                other => vec![other],
            };
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if s.is_empty() => {}
                    Value::String(s) => {
                        if !p.spend_value(&format!("event[{i}]"), s.len()) {
                            break;
                        }
                        events.push(s.clone());
                    }
                    other => p.invalid(
                        format!("event[{i}]"),
                        format!("expected an event name, got {}", describe(other)),
                    ),
                }
            }
        }
    }
    let start = p.instant("start");
    let end = p.instant("end");
    let page = match p.integer("page") {
        None => 1,
        Some(n) => u64::try_from(n.max(1)).unwrap_or(1),
    };
    let max = limits.max_page_size.clamp(1, 10_000);
    let limit = match p.integer("limit") {
        None => 50.min(max),
        Some(n) => u64::try_from(n.max(1)).unwrap_or(1).min(max),
    };
    let mut includes = Vec::new();
    if let Some((_, v)) = p.get(&["includes"]) {
        let items = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            let Value::String(s) = item else {
                p.invalid(
                    "includes",
                    format!("expected names, got {}", describe(&item)),
                );
                continue;
            };
            for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let inc = match name {
                    "profile" => Some(Include::Profile),
                    "meta" => Some(Include::Meta),
                    other => EventField::parse(other).map(Include::Field),
                };
                match inc {
                    Some(i) if !includes.contains(&i) => includes.push(i),
                    Some(_) => {}
                    None => p.invalid(
                        "includes",
                        format!(
                            "unknown include {name:?}; expected any of: {}",
                            include_names().join(", ")
                        ),
                    ),
                }
            }
        }
    }
    let filters = match p.get(&["filters"]) {
        Some((_, v)) => decode_filters(Some(&v), "filters", &mut p),
        None => Vec::new(),
    };
    let profile_id = p.identifier(&["profileId"]).map(|(_, s)| s);
    let timezone = p.timezone();
    let req = EventsRequest {
        project_id,
        events,
        start,
        end,
        page,
        limit,
        includes,
        filters,
        profile_id,
        timezone,
    };
    p.finish(req)
}
