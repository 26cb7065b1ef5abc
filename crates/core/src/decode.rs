//! Query strings into validated requests (§4.1, §5, §6, §7).
//!
//! Decoding is total: every input either yields a request or a [`RequestError`] that
//! names each offending parameter by its path (`events[1].filters[0].operator`) and says
//! what was expected. Unknown parameters are ignored; known ones are never silently
//! dropped.

use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::error::{ParamError, RequestError};
use crate::event::EventField;
use crate::qs::{self, QsError};
use crate::request::{
    Breakdown, ChartRequest, ChartType, Column, EventConfig, EventName, EventsRequest, Field,
    Filter, FilterValues, FunnelGroup, FunnelRequest, FunnelStep, Include, Metric, Operator,
    Segment, TimeSpec,
};
use crate::time::{self, Interval, RangeName};

/// Limits that come from configuration rather than from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest events page (default 50, configurable up to 10 000).
    pub max_page_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_page_size: 50 }
    }
}

/// Most event configs a chart or funnel may have.
pub const MAX_EVENTS: usize = 20;
/// Most breakdowns of a chart.
pub const MAX_BREAKDOWNS: usize = 3;

/// The parsed query string plus the errors found so far.
struct Params {
    map: Map<String, Value>,
    /// Decoding failures by top-level key, reported only for keys the request reads.
    bad: Vec<QsError>,
    errors: Vec<ParamError>,
}

fn parse_query(query: &str) -> Result<Params, RequestError> {
    let (map, bad) = qs::parse_lenient(query);
    Ok(Params {
        map,
        bad,
        errors: Vec::new(),
    })
}

fn qs_error(e: &QsError) -> ParamError {
    match e {
        QsError::InvalidJson { param, reason } => {
            ParamError::invalid(param.clone(), format!("expected valid JSON ({reason})"))
        }
        QsError::Brackets { param } => {
            ParamError::invalid(param.clone(), "conflicting or invalid bracket notation")
        }
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Params {
    fn finish<T>(self, value: T) -> Result<T, RequestError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(RequestError {
                details: self.errors,
            })
        }
    }

    fn invalid(&mut self, param: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ParamError::invalid(param, message));
    }

    /// A missing parameter, unless it was already reported as present but undecodable.
    fn missing(&mut self, param: impl Into<String>, message: impl Into<String>) {
        let param = param.into();
        if !self.errors.iter().any(|e| e.param == param) {
            self.errors.push(ParamError::missing(param, message));
        }
    }

    /// The first present key among `names`, with the name used.
    fn get(&mut self, names: &[&'static str]) -> Option<(&'static str, Value)> {
        for n in names {
            // A value that could not be decoded is reported when the request reads it.
            if self.bad.iter().any(|e| e.param() == *n) {
                let first = self.bad.iter().find(|e| e.param() == *n).map(qs_error);
                self.errors.extend(first);
                self.bad.retain(|b| b.param() != *n);
                return None;
            }
            if let Some(v) = self.map.get(*n) {
                return Some((*n, v.clone()));
            }
        }
        None
    }

    /// A single text value (a repeated key is an error).
    fn text(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        let (name, v) = self.get(names)?;
        match scalar_text(&v) {
            Some(s) => Some((name, s)),
            None => {
                self.invalid(
                    name,
                    format!("expected a single value, got {}", describe(&v)),
                );
                None
            }
        }
    }

    /// A single non-empty text value; empty text reads as absent.
    fn nonempty(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        self.text(names).filter(|(_, s)| !s.is_empty())
    }

    fn integer(&mut self, name: &'static str) -> Option<i64> {
        let (_, s) = self.text(&[name])?;
        let t = s.trim();
        let digits = t.strip_prefix('-').unwrap_or(t);
        match t.parse::<i64>() {
            Ok(i) => Some(i),
            // An integer beyond i64 is still an integer: saturate, then range rules apply.
            Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(if t.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                })
            }
            Err(_) => {
                self.invalid(name, format!("expected an integer, got {s:?}"));
                None
            }
        }
    }

    fn boolean(&mut self, name: &'static str) -> Option<bool> {
        let (_, s) = self.text(&[name])?;
        match parse_bool_text(&s) {
            Some(b) => Some(b),
            None => {
                self.invalid(name, format!("expected true or false, got {s:?}"));
                None
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        name: &'static str,
        table: &[(T, &'static str)],
        what: &str,
    ) -> Option<T> {
        let (_, s) = self.text(&[name])?;
        match table.iter().find(|(_, n)| *n == s) {
            Some((v, _)) => Some(*v),
            None => {
                let valid: Vec<&str> = table.iter().map(|(_, n)| *n).collect();
                self.invalid(
                    name,
                    format!(
                        "unknown {what} {s:?}; expected one of: {}",
                        valid.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn project_id(&mut self) -> Option<String> {
        // An empty projectId does not hide a project_id that has a value.
        self.nonempty(&["projectId"])
            .or_else(|| self.nonempty(&["project_id"]))
            .map(|(_, s)| s)
    }

    fn timezone(&mut self) -> Option<Tz> {
        let (name, s) = self.nonempty(&["timezone"])?;
        match s.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.invalid(name, format!("unknown IANA timezone {s:?}"));
                None
            }
        }
    }

    /// Validate a date or date-time now (so a malformed one is a 400 before anything
    /// else), keep the text to resolve in the request timezone later.
    fn instant(&mut self, name: &'static str) -> Option<String> {
        let (_, s) = self.nonempty(&[name])?;
        match time::parse_instant(&s, Tz::UTC, false) {
            Ok(_) => Some(s),
            Err(e) => {
                self.invalid(name, e.to_string());
                None
            }
        }
    }

    /// `range` / `startDate` / `endDate` of charts and funnels.
    fn time_spec(&mut self) -> TimeSpec {
        let range = match self.text(&["range"]) {
            None => RangeName::Days30,
            Some((_, s)) => match RangeName::parse(&s) {
                Some(r) => r,
                None => {
                    self.invalid(
                        "range",
                        format!(
                            "unknown range {s:?}; expected one of: {}",
                            RangeName::VALID.join(", ")
                        ),
                    );
                    RangeName::Days30
                }
            },
        };
        let start = self.instant("startDate");
        let end = self.instant("endDate");
        match (start, end) {
            (Some(start), end) => TimeSpec::Dates { start, end },
            (None, Some(_)) if !self.errors.iter().any(|e| e.param == "startDate") => {
                self.missing("startDate", "endDate requires startDate");
                TimeSpec::Range(range)
            }
            (None, _) => {
                if range == RangeName::Custom && !self.errors.iter().any(|e| e.param == "startDate")
                {
                    self.missing("startDate", "range=custom requires startDate");
                }
                TimeSpec::Range(range)
            }
        }
    }

    /// The `events` (alias `series`) list of charts and funnels.
    fn event_list(&mut self, min: usize) -> Option<(&'static str, Vec<Value>)> {
        let Some((name, v)) = self.get(&["events", "series"]) else {
            let reported = ["events", "series"];
            if self
                .errors
                .iter()
                .any(|e| reported.contains(&e.param.as_str()))
            {
                return None;
            }
            self.missing(
                "events",
                "expected a JSON array of event configs, e.g. [{\"name\":\"screen_view\"}]",
            );
            return None;
        };
        let items = match v {
            Value::Array(items) => items,
            // A single config object is accepted as a list of one; other objects (such as
            // bracket notation with non-numeric indexes) are not lists.
            Value::Object(ref o) if o.contains_key("name") => vec![v],
            other => {
                self.invalid(
                    name,
                    format!(
                        "expected a JSON array of event configs, got {}",
                        describe(&other)
                    ),
                );
                return None;
            }
        };
        if items.len() < min || items.len() > MAX_EVENTS {
            self.invalid(
                name,
                format!(
                    "expected {min} to {MAX_EVENTS} event configs, got {}",
                    items.len()
                ),
            );
            return None;
        }
        Some((name, items))
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_bool_text(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Whether text is a number in the sense of §4.5: `^-?[0-9]+(\.[0-9]+)?$`.
pub fn is_number_text(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

/// A field name of §4.4; `has_profile` only where `allow_has_profile`.
pub fn parse_field(s: &str, allow_has_profile: bool) -> Option<Field> {
    if let Some(key) = s.strip_prefix("properties.") {
        return (!key.is_empty()).then(|| Field::Property(key.to_string()));
    }
    if let Some(c) = Column::parse(s) {
        return Some(Field::Column(c));
    }
    match s {
        "utm_source" | "utm_medium" | "utm_campaign" | "utm_term" | "utm_content" => {
            Some(Field::Property(format!("__query.{s}")))
        }
        "has_profile" | "hasProfile" if allow_has_profile => Some(Field::HasProfile),
        _ => None,
    }
}

const FIELD_HINT: &str = "expected a column (name, path, country, …), properties.<key>, or utm_*";

/// A filter value as text (§4.5): integers in decimal, other numbers in their shortest
/// decimal form, booleans `true`/`false`, `null` the empty string.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => crate::format::decimal_text(f),
            _ => n.to_string(),
        }),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) if is_number_text(s) => s.parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn decode_filter(v: &Value, path: &str, errors: &mut Vec<ParamError>) -> Option<Filter> {
    let Some(obj) = v.as_object() else {
        errors.push(ParamError::invalid(
            path,
            format!("expected a filter object, got {}", describe(v)),
        ));
        return None;
    };
    let before = errors.len();
    let field = match obj.get("name") {
        None => {
            errors.push(ParamError::missing(
                format!("{path}.name"),
                "a filter needs a field name",
            ));
            None
        }
        Some(Value::String(s)) => match parse_field(s, true) {
            Some(f) => Some(f),
            None => {
                errors.push(ParamError::invalid(
                    format!("{path}.name"),
                    format!("unknown field {s:?}; {FIELD_HINT}"),
                ));
                None
            }
        },
        Some(other) => {
            errors.push(ParamError::invalid(
                format!("{path}.name"),
                format!("expected a string, got {}", describe(other)),
            ));
            None
        }
    };
    let operator = match obj.get("operator") {
        None => {
            errors.push(ParamError::missing(
                format!("{path}.operator"),
                "a filter needs an operator",
            ));
            None
        }
        Some(Value::String(s)) => match Operator::parse(s) {
            Some(o) => Some(o),
            None => {
                let valid: Vec<&str> = Operator::ALL.iter().map(|(_, n)| *n).collect();
                errors.push(ParamError::invalid(
                    format!("{path}.operator"),
                    format!(
                        "unknown operator {s:?}; expected one of: {}",
                        valid.join(", ")
                    ),
                ));
                None
            }
        },
        Some(other) => {
            errors.push(ParamError::invalid(
                format!("{path}.operator"),
                format!("expected a string, got {}", describe(other)),
            ));
            None
        }
    };
    let (field, operator) = (field?, operator?);
    let vpath = format!("{path}.value");
    let raw: Vec<Value> = match obj.get("value") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(_)) => {
            errors.push(ParamError::invalid(&vpath, "expected a list of values"));
            return None;
        }
        Some(scalar) => vec![scalar.clone()],
    };
    if field == Field::HasProfile && operator != Operator::Is {
        errors.push(ParamError::invalid(
            format!("{path}.operator"),
            "has_profile only supports the operator is",
        ));
        return None;
    }
    if operator.takes_no_values() {
        return (errors.len() == before).then_some(Filter {
            field,
            operator,
            values: FilterValues::None,
        });
    }
    if raw.is_empty() {
        let msg = "expected at least one value";
        errors.push(if obj.contains_key("value") {
            ParamError::invalid(&vpath, msg)
        } else {
            ParamError::missing(&vpath, msg)
        });
        return None;
    }
    let numeric_op = matches!(
        operator,
        Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte
    );
    let values = if field == Field::HasProfile {
        if operator != Operator::Is {
            errors.push(ParamError::invalid(
                format!("{path}.operator"),
                "has_profile only supports the operator is",
            ));
            return None;
        }
        let mut out = Vec::new();
        for (i, v) in raw.iter().enumerate() {
            let b = match v {
                Value::Bool(b) => Some(*b),
                Value::String(s) => parse_bool_text(s),
                Value::Number(n) => n.as_i64().and_then(|i| parse_bool_text(&i.to_string())),
                _ => None,
            };
            match b {
                Some(b) => out.push(b),
                None => errors.push(ParamError::invalid(
                    format!("{vpath}[{i}]"),
                    "expected true or false",
                )),
            }
        }
        FilterValues::Bools(out)
    } else if field.is_numeric() || numeric_op {
        if field.is_numeric() && !matches!(operator, Operator::Is | Operator::IsNot) && !numeric_op
        {
            errors.push(ParamError::invalid(
                format!("{path}.operator"),
                "this field is numeric: use is, isNot, gt, gte, lt, lte, isNull or isNotNull",
            ));
            return None;
        }
        let mut out = Vec::new();
        for (i, v) in raw.iter().enumerate() {
            match value_number(v) {
                Some(n) => out.push(n),
                None => errors.push(ParamError::invalid(
                    format!("{vpath}[{i}]"),
                    "expected a number",
                )),
            }
        }
        FilterValues::Numbers(out)
    } else {
        let mut out = Vec::new();
        for (i, v) in raw.iter().enumerate() {
            let Some(mut text) = value_text(v) else {
                errors.push(ParamError::invalid(
                    format!("{vpath}[{i}]"),
                    "expected a string, number, boolean or null",
                ));
                continue;
            };
            if operator == Operator::Regex {
                if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
                    text = text[1..text.len() - 1].to_string();
                }
                match crate::pattern::normalize(&text) {
                    Ok(p) => text = p,
                    Err(reason) => {
                        errors.push(ParamError::invalid(
                            format!("{vpath}[{i}]"),
                            format!("invalid regular expression: {reason}"),
                        ));
                        continue;
                    }
                }
            }
            out.push(text);
        }
        FilterValues::Text(out)
    };
    (errors.len() == before).then_some(Filter {
        field,
        operator,
        values,
    })
}

fn decode_filters(v: Option<&Value>, path: &str, errors: &mut Vec<ParamError>) -> Vec<Filter> {
    let items = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(obj @ Value::Object(o)) if o.contains_key("name") => vec![obj.clone()],
        Some(Value::String(s)) if s.is_empty() => return Vec::new(),
        Some(other) => {
            errors.push(ParamError::invalid(
                path,
                format!("expected a JSON array of filters, got {}", describe(other)),
            ));
            return Vec::new();
        }
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, f)| decode_filter(f, &format!("{path}[{i}]"), errors))
        .collect()
}

fn event_name(v: Option<&Value>, path: &str, errors: &mut Vec<ParamError>) -> Option<EventName> {
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

fn display_name(
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

/// A config given as a bare string means `{"name": <string>}`.
fn as_object(v: &Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(o) => Some(o.clone()),
        Value::String(s) => {
            let mut m = Map::new();
            m.insert("name".into(), Value::String(s.clone()));
            Some(m)
        }
        _ => None,
    }
}

fn decode_event_config(v: &Value, path: &str, errors: &mut Vec<ParamError>) -> Option<EventConfig> {
    let Some(obj) = as_object(v) else {
        errors.push(ParamError::invalid(
            path,
            format!("expected an event config object, got {}", describe(v)),
        ));
        return None;
    };
    let before = errors.len();
    let name = event_name(obj.get("name"), &format!("{path}.name"), errors);
    let filters = decode_filters(obj.get("filters"), &format!("{path}.filters"), errors);
    let segment = match obj.get("segment") {
        None | Some(Value::Null) => Segment::Event,
        Some(Value::String(s)) => Segment::parse(s).unwrap_or_else(|| {
            let valid: Vec<&str> = Segment::ALL.iter().map(|(_, n)| *n).collect();
            errors.push(ParamError::invalid(
                format!("{path}.segment"),
                format!(
                    "unknown segment {s:?}; expected one of: {}",
                    valid.join(", ")
                ),
            ));
            Segment::Event
        }),
        Some(other) => {
            errors.push(ParamError::invalid(
                format!("{path}.segment"),
                format!("expected a string, got {}", describe(other)),
            ));
            Segment::Event
        }
    };
    let property = match obj.get("property") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match parse_field(s, false) {
            Some(f) => Some(f),
            None => {
                errors.push(ParamError::invalid(
                    format!("{path}.property"),
                    format!("unknown field {s:?}; {FIELD_HINT}"),
                ));
                None
            }
        },
        Some(other) => {
            errors.push(ParamError::invalid(
                format!("{path}.property"),
                format!("expected a string, got {}", describe(other)),
            ));
            None
        }
    };
    if segment.needs_property()
        && property.is_none()
        && !errors[before..]
            .iter()
            .any(|e| e.param.ends_with(".property"))
    {
        errors.push(ParamError::missing(
            format!("{path}.property"),
            "this segment requires a property",
        ));
    }
    let name = name?;
    let display = display_name(
        obj.get("displayName"),
        &name,
        &format!("{path}.displayName"),
        errors,
    );
    (errors.len() == before).then_some(EventConfig {
        name,
        display_name: display,
        filters,
        segment,
        property,
    })
}

/// Decode `GET /export/charts`.
pub fn decode_chart(query: &str) -> Result<ChartRequest, RequestError> {
    let mut p = parse_query(query)?;
    let project_id = p.project_id();
    let mut events = Vec::new();
    if let Some((name, items)) = p.event_list(1) {
        for (i, v) in items.iter().enumerate() {
            if let Some(c) = decode_event_config(v, &format!("{name}[{i}]"), &mut p.errors) {
                events.push(c);
            }
        }
    }
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
        Some(l) if (1..=1000).contains(&l) => l as usize,
        Some(l) => {
            p.invalid("limit", format!("expected 1 to 1000, got {l}"));
            300
        }
    };
    let offset = match p.integer("offset") {
        None => 0,
        Some(o) if o >= 0 => usize::try_from(o).unwrap_or(usize::MAX),
        Some(o) => {
            p.invalid("offset", format!("expected an integer >= 0, got {o}"));
            0
        }
    };
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
    };
    p.finish(req)
}

/// Decode `GET /export/funnel`.
pub fn decode_funnel(query: &str) -> Result<FunnelRequest, RequestError> {
    let mut p = parse_query(query)?;
    let project_id = p.project_id();
    let mut steps = Vec::new();
    if let Some((name, items)) = p.event_list(2) {
        for (i, v) in items.iter().enumerate() {
            let path = format!("{name}[{i}]");
            let Some(obj) = as_object(v) else {
                p.invalid(path, format!("expected a step object, got {}", describe(v)));
                continue;
            };
            let before = p.errors.len();
            let step_name = event_name(obj.get("name"), &format!("{path}.name"), &mut p.errors);
            let filters = decode_filters(
                obj.get("filters"),
                &format!("{path}.filters"),
                &mut p.errors,
            );
            if let Some(step_name) = step_name {
                let display = display_name(
                    obj.get("displayName"),
                    &step_name,
                    &format!("{path}.displayName"),
                    &mut p.errors,
                );
                if p.errors.len() == before {
                    steps.push(FunnelStep {
                        name: step_name,
                        display_name: display,
                        filters,
                    });
                }
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

/// The `includes` values accepted, for error messages.
pub fn include_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = EventField::ALL.iter().map(|f| f.json()).collect();
    names.extend(["profile", "meta"]);
    names
}

/// Decode `GET /export/events`.
pub fn decode_events(query: &str, limits: Limits) -> Result<EventsRequest, RequestError> {
    let mut p = parse_query(query)?;
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
                    Value::String(s) => events.push(s.clone()),
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
    let filters = decode_filters(
        p.get(&["filters"]).map(|(_, v)| v).as_ref(),
        "filters",
        &mut p.errors,
    );
    let profile_id = p.nonempty(&["profileId"]).map(|(_, s)| s);
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
