//! `GET /export/charts`: event configs, breakdowns and the chart options (§6).

use serde_json::Value;

use super::config::{display_name, event_name};
use super::filter::{FIELD_HINT, decode_filters, parse_field};
use super::params::{Params, describe, parse_query};
use super::{Limits, MAX_BREAKDOWNS};
use crate::error::{ParamError, RequestError};
use crate::request::{Breakdown, ChartRequest, ChartType, EventConfig, Metric, Segment};
use crate::time::Interval;

fn decode_event_config(v: &Value, path: &str, p: &mut Params) -> Option<EventConfig> {
    let Some(obj) = v.as_object() else {
        p.invalid(
            path,
            format!(
                "expected an event config object like {{\"name\":\"screen_view\"}}, got {}",
                describe(v)
            ),
        );
        return None;
    };
    let before = p.errors.len();
    let name = event_name(obj.get("name"), &format!("{path}.name"), &mut p.errors);
    let filters = decode_filters(obj.get("filters"), &format!("{path}.filters"), p);
    let segment = match obj.get("segment") {
        None | Some(Value::Null) => Segment::Event,
        Some(Value::String(s)) => Segment::parse(s).unwrap_or_else(|| {
            let valid: Vec<&str> = Segment::ALL.iter().map(|(_, n)| *n).collect();
            p.invalid(
                format!("{path}.segment"),
                format!(
                    "unknown segment {s:?}; expected one of: {}",
                    valid.join(", ")
                ),
            );
            Segment::Event
        }),
        Some(other) => {
            p.invalid(
                format!("{path}.segment"),
                format!("expected a string, got {}", describe(other)),
            );
            Segment::Event
        }
    };
    let property = match obj.get("property") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match parse_field(s, false) {
            Some(f) => Some(f),
            None => {
                p.invalid(
                    format!("{path}.property"),
                    format!("unknown field {s:?}; {FIELD_HINT}"),
                );
                None
            }
        },
        Some(other) => {
            p.invalid(
                format!("{path}.property"),
                format!("expected a string, got {}", describe(other)),
            );
            None
        }
    };
    if segment.needs_property()
        && property.is_none()
        && !p.errors[before..]
            .iter()
            .any(|e| e.param.ends_with(".property"))
    {
        p.errors.push(ParamError::missing(
            format!("{path}.property"),
            "this segment requires a property",
        ));
    }
    let name = name?;
    let display = display_name(
        obj.get("displayName"),
        &name,
        &format!("{path}.displayName"),
        &mut p.errors,
    );
    (p.errors.len() == before).then_some(EventConfig {
        name,
        display_name: display,
        filters,
        segment,
        property,
    })
}

/// Decode `GET /export/charts` within the default [`Limits`].
pub fn decode_chart(query: &str) -> Result<ChartRequest, RequestError> {
    decode_chart_with(query, Limits::default())
}

/// Decode `GET /export/charts` within `limits`.
pub fn decode_chart_with(query: &str, limits: Limits) -> Result<ChartRequest, RequestError> {
    let mut p = parse_query(query, limits);
    let project_id = p.project_id();
    let mut events = Vec::new();
    if let Some((name, items)) = p.event_list(1) {
        for (i, v) in items.iter().enumerate() {
            if let Some(c) = decode_event_config(v, &format!("{name}[{i}]"), &mut p) {
                events.push(c);
            }
        }
    }
    let breakdowns = decode_breakdowns(&mut p);
    let interval = match p.text(&["interval"]) {
        None => Interval::Day,
        Some((_, s)) => Interval::parse(&s).unwrap_or_else(|| {
            p.invalid(
                "interval",
                format!("unknown interval {s:?}; expected one of: minute, hour, day, week, month"),
            );
            Interval::Day
        }),
    };
    let time = p.time_spec();
    let previous = p.boolean("previous").unwrap_or(false);
    let chart_type = p
        .choice("chartType", &ChartType::ALL, "chart type")
        .unwrap_or(ChartType::Linear);
    let metric = p
        .choice("metric", &Metric::ALL, "metric")
        .unwrap_or(Metric::Sum);
    let limit = match p.integer("limit") {
        None => 300,
        Some((l, _)) if (1..=1000).contains(&l) => l as usize,
        Some((_, l)) => {
            p.invalid("limit", format!("expected 1 to 1000, got {l}"));
            300
        }
    };
    let offset = match p.integer("offset") {
        None => 0,
        Some((o, _)) if o >= 0 => usize::try_from(o).unwrap_or(usize::MAX),
        Some((_, o)) => {
            p.invalid("offset", format!("expected an integer >= 0, got {o}"));
            0
        }
    };
    // Each event config keeps `limit + offset` combinations in SQL (§6.3).
    if limit.saturating_add(offset) > limits.max_chart_series {
        let max = limits.max_chart_series;
        p.invalid(
            if offset > 0 { "offset" } else { "limit" },
            format!("limit + offset may be at most {max} (see docs/limits.md)"),
        );
    }
    let timezone = p.timezone();
    let req = ChartRequest {
        project_id,
        events,
        breakdowns,
        interval,
        time,
        previous,
        chart_type,
        metric,
        limit,
        offset,
        timezone,
        max_points: limits.max_chart_points,
    };
    p.finish(req)
}

/// `breakdowns`: a JSON array of at most 3 `{"name": <field>}` (charts and funnels).
pub(super) fn decode_breakdowns(p: &mut Params) -> Vec<Breakdown> {
    let mut breakdowns = Vec::new();
    match p.get(&["breakdowns"]) {
        None => {}
        Some((_, Value::Array(items))) => {
            if items.len() > MAX_BREAKDOWNS {
                p.invalid(
                    "breakdowns",
                    format!("at most {MAX_BREAKDOWNS} breakdowns, got {}", items.len()),
                );
            }
            for (i, b) in items.iter().take(MAX_BREAKDOWNS).enumerate() {
                let path = format!("breakdowns[{i}].name");
                let name = match b {
                    Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_string),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                };
                match name {
                    None => p.invalid(format!("breakdowns[{i}]"), "expected {\"name\": <field>}"),
                    Some(n) => match parse_field(&n, false) {
                        Some(field) => breakdowns.push(Breakdown { field, label: n }),
                        None => p.invalid(path, format!("unknown field {n:?}; {FIELD_HINT}")),
                    },
                }
            }
        }
        Some((_, Value::String(s))) if s.is_empty() => {}
        Some((_, other)) => {
            p.invalid(
                "breakdowns",
                format!(
                    "expected a JSON array like [{{\"name\":\"country\"}}], got {}",
                    describe(&other)
                ),
            );
        }
    }
    breakdowns
}
