//! `GET /export/funnel`: steps, the window and the group (§7).

use serde_json::Value;

use super::Limits;
use super::config::{display_name, event_name};
use super::filter::decode_filters;
use super::params::{Params, describe, parse_query};
use crate::error::RequestError;
use crate::request::{FunnelGroup, FunnelRequest, FunnelStep};

/// Decode `GET /export/funnel` within the default [`Limits`].
pub fn decode_funnel(query: &str) -> Result<FunnelRequest, RequestError> {
    decode_funnel_with(query, Limits::default())
}

/// Decode `GET /export/funnel` within `limits`.
pub fn decode_funnel_with(query: &str, limits: Limits) -> Result<FunnelRequest, RequestError> {
    let mut p = parse_query(query, limits);
    let project_id = p.project_id();
    let mut steps = Vec::new();
    if let Some((name, items)) = p.event_list(2) {
        for (i, v) in items.iter().enumerate() {
            if let Some(step) = decode_step(v, &format!("{name}[{i}]"), &mut p) {
                steps.push(step);
            }
        }
    }
    let time = p.time_spec();
    let window_ms = match p.text(&["funnelWindow"]) {
        None => 24 * 3_600_000,
        Some((_, s)) => {
            let t = s.trim();
            let hours = t.parse::<f64>().ok().filter(|h| {
                t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && *h > 0.0 && *h <= 8760.0
            });
            match hours {
                Some(h) => ((h * 3_600_000.0).round() as i64).max(1),
                None => {
                    p.invalid(
                        "funnelWindow",
                        format!("expected hours as a decimal > 0 and <= 8760, got {s:?}"),
                    );
                    0
                }
            }
        }
    };
    let group = match p.text(&["funnelGroup"]) {
        None => FunnelGroup::Session,
        Some((_, s)) => match s.as_str() {
            "session_id" | "sessionId" | "session" => FunnelGroup::Session,
            "profile_id" | "profileId" | "profile" => FunnelGroup::Profile,
            _ => {
                p.invalid(
                    "funnelGroup",
                    format!("unknown funnel group {s:?}; expected session_id or profile_id"),
                );
                FunnelGroup::Session
            }
        },
    };
    let timezone = p.timezone();
    let req = FunnelRequest {
        project_id,
        steps,
        time,
        timezone,
        window_ms,
        group,
    };
    p.finish(req)
}

/// One step: its event name, filters and display name, like a chart's event config
/// without a segment.
fn decode_step(v: &Value, path: &str, p: &mut Params) -> Option<FunnelStep> {
    let Some(obj) = v.as_object() else {
        p.invalid(
            path,
            format!(
                "expected a step object like {{\"name\":\"sign_up\"}}, got {}",
                describe(v)
            ),
        );
        return None;
    };
    let before = p.errors.len();
    let name = event_name(obj.get("name"), &format!("{path}.name"), &mut p.errors);
    let filters = decode_filters(obj.get("filters"), &format!("{path}.filters"), p);
    let name = name?;
    let display = display_name(
        obj.get("displayName"),
        &name,
        &format!("{path}.displayName"),
        &mut p.errors,
    );
    (p.errors.len() == before).then_some(FunnelStep {
        name,
        display_name: display,
        filters,
    })
}
