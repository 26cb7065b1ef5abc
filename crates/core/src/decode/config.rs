//! What chart event configs and funnel steps are both written with: an event name and a
//! display name.

use serde_json::Value;

use super::params::describe;
use crate::error::ParamError;
use crate::request::EventName;

pub(super) fn event_name(
    v: Option<&Value>,
    path: &str,
    errors: &mut Vec<ParamError>,
) -> Option<EventName> {
    match v {
        None => {
            errors.push(ParamError::missing(
                path,
                "expected an event name (or \"*\" for all events)",
            ));
            None
        }
        Some(Value::String(s)) if s == "*" => Some(EventName::Any),
        Some(Value::String(s)) if !s.is_empty() => Some(EventName::Named(s.clone())),
        Some(other) => {
            errors.push(ParamError::invalid(
                path,
                format!("expected a non-empty event name, got {}", describe(other)),
            ));
            None
        }
    }
}

pub(super) fn display_name(
    v: Option<&Value>,
    name: &EventName,
    path: &str,
    errors: &mut Vec<ParamError>,
) -> String {
    match v {
        None | Some(Value::Null) => name.as_str().to_string(),
        Some(Value::String(s)) if s.is_empty() => name.as_str().to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            errors.push(ParamError::invalid(
                path,
                format!("expected a string, got {}", describe(other)),
            ));
            String::new()
        }
    }
}
