//! `GET /export/events`: names, dates, paging, includes and filters (§5).

use serde_json::Value;

use super::Limits;
use super::filter::decode_filters;
use super::params::{describe, parse_query};
use crate::error::RequestError;
use crate::event::EventField;
use crate::request::{EventsRequest, ExportColumn, ExportFormat, Format, Include};

/// Columns one `fields=` may choose.
pub const MAX_FIELDS: usize = 64;

/// Bytes of a `cursor` token (a position is a time, an id of at most 256 bytes and a
/// fingerprint).
const MAX_CURSOR_BYTES: usize = 512;

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
        Some((n, _)) => u64::try_from(n.max(1)).unwrap_or(1),
    };
    let max = limits.max_page_size.clamp(1, 10_000);
    let limit = match p.integer("limit") {
        None => 50.min(max),
        Some((n, _)) => u64::try_from(n.max(1)).unwrap_or(1).min(max),
    };
    let mut includes = Vec::new();
    for name in name_list(&mut p, "includes").unwrap_or_default() {
        let inc = match name.as_str() {
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
    let filters = match p.get(&["filters"]) {
        Some((_, v)) => decode_filters(Some(&v), "filters", &mut p),
        None => Vec::new(),
    };
    let profile_id = p.identifier(&["profileId"]).map(|(_, s)| s);
    let timezone = p.timezone();
    let fields = decode_fields(&mut p);
    let cursor = match p.text(&["cursor"]) {
        Some((_, c)) if c.len() > MAX_CURSOR_BYTES => {
            p.invalid("cursor", "not a cursor this server issued");
            None
        }
        other => other.map(|(_, c)| c),
    };
    let count = p.boolean("count").unwrap_or(false);
    let format = match p.text(&["format"]) {
        None => None,
        Some((_, f)) if f.is_empty() => None,
        Some((_, f)) if f == "json" => Some(Format::Json),
        Some((_, f)) => match ExportFormat::parse(&f) {
            Some(format) => Some(Format::Stream(format)),
            None => {
                p.invalid(
                    "format",
                    format!("unknown format {f:?}; expected one of: json, ndjson, csv, parquet"),
                );
                None
            }
        },
    };
    if cursor.is_some() && page != 1 {
        p.invalid(
            "page",
            "page cannot be combined with cursor: a cursor says where to go on",
        );
    }
    if cursor.is_some() && matches!(format, Some(Format::Stream(_))) {
        p.invalid(
            "cursor",
            "a streamed export sends every matching row; it takes no cursor",
        );
    }
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
        fields,
        cursor,
        count,
        format,
    };
    p.finish(req)
}

/// `fields`: Event fields by JSON name and `properties.<key>` columns, as a JSON array,
/// repeated keys or a comma-separated list; in the order given, repeats dropped.
fn decode_fields(p: &mut super::params::Params) -> Option<Vec<ExportColumn>> {
    let names = name_list(p, "fields")?;
    let mut columns: Vec<ExportColumn> = Vec::new();
    for name in &names {
        let column = match name.strip_prefix("properties.") {
            Some("") => None,
            Some(key) => {
                if !p.spend_value("fields", key.len()) {
                    return None;
                }
                Some(ExportColumn::Property(key.to_string()))
            }
            None => EventField::parse(name).map(ExportColumn::Field),
        };
        match column {
            Some(c) if columns.contains(&c) => {}
            Some(_) if columns.len() >= MAX_FIELDS => {
                p.invalid("fields", format!("expected at most {MAX_FIELDS} fields"));
                return None;
            }
            Some(c) => columns.push(c),
            None => p.invalid(
                "fields",
                format!(
                    "unknown field {name:?}; expected Event fields ({}) or properties.<key>",
                    EventField::ALL.map(EventField::json).join(", ")
                ),
            ),
        }
    }
    if columns.is_empty() && !p.errors.iter().any(|e| e.param == "fields") {
        p.invalid("fields", "expected at least one field");
    }
    Some(columns)
}

/// The names a list parameter (`includes`, `fields`) holds: a JSON array, repeated keys or
/// comma-separated text, each name trimmed, empty ones dropped; `None` when absent. A
/// non-text item is reported and skipped.
fn name_list(p: &mut super::params::Params, param: &'static str) -> Option<Vec<String>> {
    let (_, v) = p.get(&[param])?;
    let items = match v {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut names = Vec::new();
    for item in items {
        match item {
            Value::String(s) => names.extend(
                s.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
            ),
            other => p.invalid(param, format!("expected names, got {}", describe(&other))),
        }
    }
    Some(names)
}
