//! The parsed query string and typed reads of its parameters, collecting every error.

use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::budgets::Spent;
use super::{Limits, MAX_DETAILS, MAX_EVENTS, MAX_ID_BYTES};
use crate::error::{ParamError, RequestError};
use crate::event;
use crate::qs::{self, QsError};
use crate::request::TimeSpec;
use crate::time::{self, RangeName};

/// The parsed query string plus the errors found so far.
pub(super) struct Params {
    map: Map<String, Value>,
    /// Decoding failures by top-level key, reported only for keys the request reads.
    bad: Vec<QsError>,
    pub(super) errors: Vec<ParamError>,
    pub(super) limits: Limits,
    pub(super) spent: Spent,
}

thread_local! {
    /// The names read while [`parameters_read`] runs on this thread.
    static READ: std::cell::RefCell<Option<Vec<&'static str>>> =
        const { std::cell::RefCell::new(None) };
}

fn record(names: &[&'static str]) {
    READ.with(|r| {
        if let Some(read) = r.borrow_mut().as_mut() {
            for n in names {
                if !read.contains(n) {
                    read.push(n);
                }
            }
        }
    });
}

/// The top-level parameters `decode` reads, in the order it first reads them: what a
/// document of the API must list (the server's OpenAPI test compares them).
pub fn parameters_read(decode: impl FnOnce()) -> Vec<&'static str> {
    READ.with(|r| *r.borrow_mut() = Some(Vec::new()));
    decode();
    READ.with(|r| r.borrow_mut().take()).unwrap_or_default()
}

pub(super) fn parse_query(query: &str, limits: Limits) -> Params {
    let (map, bad) = qs::parse_lenient(query);
    Params {
        map,
        bad,
        errors: Vec::new(),
        limits,
        spent: Spent::default(),
    }
}

fn qs_error(e: &QsError) -> ParamError {
    match e {
        QsError::InvalidJson { param, reason } => {
            ParamError::invalid(param.clone(), format!("expected valid JSON ({reason})"))
        }
        QsError::Brackets { param } => {
            ParamError::invalid(param.clone(), "conflicting or invalid bracket notation")
        }
        QsError::InvalidUtf8 { param } => ParamError::invalid(
            param.clone(),
            "expected UTF-8 text (the percent-decoded bytes are not UTF-8)",
        ),
    }
}

pub(super) fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message: a number, boolean or short string as JSON, anything
/// else by its kind.
pub(super) fn shown(v: &Value) -> String {
    match v {
        Value::Number(_) | Value::Bool(_) => v.to_string(),
        Value::String(s) if s.chars().count() <= 40 => v.to_string(),
        Value::Array(items) if items.is_empty() => "an empty list".to_string(),
        Value::Array(items) => format!("a list of {}", items.len()),
        _ => describe(v).to_string(),
    }
}

impl Params {
    pub(super) fn finish<T>(mut self, value: T) -> Result<T, RequestError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            self.errors.truncate(MAX_DETAILS);
            Err(RequestError {
                details: self.errors,
            })
        }
    }

    pub(super) fn invalid(&mut self, param: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ParamError::invalid(param, message));
    }

    /// A missing parameter, unless it was already reported as present but undecodable.
    pub(super) fn missing(&mut self, param: impl Into<String>, message: impl Into<String>) {
        let param = param.into();
        if !self.errors.iter().any(|e| e.param == param) {
            self.errors.push(ParamError::missing(param, message));
        }
    }

    /// The first present key among `names`, with the name used.
    pub(super) fn get(&mut self, names: &[&'static str]) -> Option<(&'static str, Value)> {
        record(names);
        for n in names {
            // A value that could not be decoded is reported when the request reads it.
            if self.bad.iter().any(|e| e.param() == *n) {
                let first = self.bad.iter().find(|e| e.param() == *n).map(qs_error);
                self.errors.extend(first);
                self.bad.retain(|b| b.param() != *n);
                return None;
            }
            if let Some(v) = self.map.get(*n) {
                if let Some(at) = event::nul_path(v, n) {
                    self.invalid(
                        at,
                        "must not contain the NUL character (\\u0000): no stored text holds one",
                    );
                    return None;
                }
                return Some((*n, v.clone()));
            }
        }
        None
    }

    /// A single text value (a repeated key is an error).
    pub(super) fn text(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
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
    pub(super) fn nonempty(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        self.text(names).filter(|(_, s)| !s.is_empty())
    }

    /// An integer parameter and its text as given (for messages: an integer beyond i64 is
    /// read as i64's bound, and the message should quote what was sent).
    pub(super) fn integer(&mut self, name: &'static str) -> Option<(i64, String)> {
        let (_, s) = self.text(&[name])?;
        let t = s.trim();
        let digits = t.strip_prefix('-').unwrap_or(t);
        match t.parse::<i64>() {
            Ok(i) => Some((i, t.to_string())),
            // An integer beyond i64 is still an integer: saturate, then range rules apply.
            Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                let bound = if t.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                };
                Some((bound, t.to_string()))
            }
            Err(_) => {
                self.invalid(name, format!("expected an integer, got {s:?}"));
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, name: &'static str) -> Option<bool> {
        let (_, s) = self.text(&[name])?;
        match parse_bool_text(&s) {
            Some(b) => Some(b),
            None => {
                self.invalid(name, format!("expected true or false, got {s:?}"));
                None
            }
        }
    }

    pub(super) fn choice<T: Copy>(
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

    pub(super) fn project_id(&mut self) -> Option<String> {
        // An empty projectId does not hide a project_id that has a value.
        self.identifier(&["projectId"])
            .or_else(|| self.identifier(&["project_id"]))
            .map(|(_, s)| s)
    }

    /// A non-empty id of at most [`MAX_ID_BYTES`] bytes.
    pub(super) fn identifier(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        let (name, s) = self.nonempty(names)?;
        if s.len() > MAX_ID_BYTES {
            self.invalid(name, format!("expected at most {MAX_ID_BYTES} bytes"));
            return None;
        }
        Some((name, s))
    }

    pub(super) fn timezone(&mut self) -> Option<Tz> {
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
    pub(super) fn instant(&mut self, name: &'static str) -> Option<String> {
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
    pub(super) fn time_spec(&mut self) -> TimeSpec {
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

    /// The `events` (alias `series`) list of charts and funnels: a JSON array (or bracket
    /// notation with numeric indexes), never a single object or a bare name.
    pub(super) fn event_list(&mut self, min: usize) -> Option<(&'static str, Vec<Value>)> {
        let Some((name, v)) = self.get(&["events", "series"]) else {
            let reported = |p: &str| {
                ["events", "series"].iter().any(|n| {
                    p.strip_prefix(n)
                        .is_some_and(|r| r.is_empty() || r.starts_with('['))
                })
            };
            if self.errors.iter().any(|e| reported(&e.param)) {
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
            other => {
                self.invalid(
                    name,
                    format!(
                        "expected a JSON array of event configs like [{{\"name\":\"screen_view\"}}], got {}",
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

pub(super) fn parse_bool_text(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}
