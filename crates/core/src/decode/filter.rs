//! Fields (§4.4) and filters (§4.5), with their values checked against the budgets.

use serde_json::Value;

use super::params::{Params, describe, parse_bool_text};
use crate::error::ParamError;
use crate::request::{Column, Field, Filter, FilterValues, Operator};

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

pub(super) const FIELD_HINT: &str =
    "expected a column (name, path, country, …), properties.<key>, or utm_*";

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

/// One filter object: its field, operator and values, each checked (and spent against the
/// budgets) in the order written.
fn decode_filter(v: &Value, path: &str, p: &mut Params) -> Option<Filter> {
    let Some(obj) = v.as_object() else {
        p.invalid(
            path,
            format!("expected a filter object, got {}", describe(v)),
        );
        return None;
    };
    let before = p.errors.len();
    let field = filter_field(obj.get("name"), path, p);
    let operator = filter_operator(obj.get("operator"), path, p);
    let vpath = format!("{path}.value");
    // A list (§4.5), or nothing for the operators that take no values. A scalar is not a
    // list of one: it is reported, never guessed at.
    let raw: &[Value] = match obj.get("value") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(other) => {
            p.invalid(
                &vpath,
                format!(
                    "expected a list of values (a JSON array), got {}",
                    describe(other)
                ),
            );
            return None;
        }
    };
    let (field, operator) = (field?, operator?);
    if !p.spend_filter(path) {
        return None;
    }
    if field == Field::HasProfile && operator != Operator::Is {
        p.invalid(
            format!("{path}.operator"),
            "has_profile only supports the operator is",
        );
        return None;
    }
    if operator.takes_no_values() {
        return (p.errors.len() == before).then_some(Filter {
            field,
            operator,
            values: FilterValues::None,
        });
    }
    if raw.is_empty() {
        let msg = "expected at least one value";
        p.errors.push(if obj.contains_key("value") {
            ParamError::invalid(&vpath, msg)
        } else {
            ParamError::missing(&vpath, msg)
        });
        return None;
    }
    for (i, v) in raw.iter().enumerate() {
        let bytes = match v {
            Value::String(s) => s.len(),
            _ => 8,
        };
        if !p.spend_value(&format!("{vpath}[{i}]"), bytes) {
            return None;
        }
    }
    let values = filter_values(&field, operator, raw, path, p)?;
    (p.errors.len() == before).then_some(Filter {
        field,
        operator,
        values,
    })
}

/// A filter's `name`: the field it reads.
fn filter_field(v: Option<&Value>, path: &str, p: &mut Params) -> Option<Field> {
    match v {
        None => {
            p.errors.push(ParamError::missing(
                format!("{path}.name"),
                "a filter needs a field name",
            ));
            None
        }
        Some(Value::String(s)) => match parse_field(s, true) {
            Some(f) => Some(f),
            None => {
                p.invalid(
                    format!("{path}.name"),
                    format!("unknown field {s:?}; {FIELD_HINT}"),
                );
                None
            }
        },
        Some(other) => {
            p.invalid(
                format!("{path}.name"),
                format!("expected a string, got {}", describe(other)),
            );
            None
        }
    }
}

/// A filter's `operator`.
fn filter_operator(v: Option<&Value>, path: &str, p: &mut Params) -> Option<Operator> {
    match v {
        None => {
            p.errors.push(ParamError::missing(
                format!("{path}.operator"),
                "a filter needs an operator",
            ));
            None
        }
        Some(Value::String(s)) => match Operator::parse(s) {
            Some(o) => Some(o),
            None => {
                let valid: Vec<&str> = Operator::ALL.iter().map(|(_, n)| *n).collect();
                p.invalid(
                    format!("{path}.operator"),
                    format!(
                        "unknown operator {s:?}; expected one of: {}",
                        valid.join(", ")
                    ),
                );
                None
            }
        },
        Some(other) => {
            p.invalid(
                format!("{path}.operator"),
                format!("expected a string, got {}", describe(other)),
            );
            None
        }
    }
}

/// The values of a filter that takes some (`raw` is not empty), typed by its field and
/// operator; `None` when the filter is rejected as a whole or a budget is exceeded.
fn filter_values(
    field: &Field,
    operator: Operator,
    raw: &[Value],
    path: &str,
    p: &mut Params,
) -> Option<FilterValues> {
    let vpath = format!("{path}.value");
    let numeric_op = matches!(
        operator,
        Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte
    );
    if *field == Field::HasProfile {
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
                None => p.invalid(format!("{vpath}[{i}]"), "expected true or false"),
            }
        }
        Some(FilterValues::Bools(out))
    } else if field.is_numeric() {
        if !matches!(operator, Operator::Is | Operator::IsNot) && !numeric_op {
            p.invalid(
                format!("{path}.operator"),
                "this field is numeric: use is, isNot, gt, gte, lt, lte, isNull or isNotNull",
            );
            return None;
        }
        let mut out = Vec::new();
        for (i, v) in raw.iter().enumerate() {
            match value_number(v) {
                Some(n) => out.push(n),
                None => p.invalid(format!("{vpath}[{i}]"), "expected a number"),
            }
        }
        Some(FilterValues::Numbers(out))
    } else if numeric_op {
        // A property compared numerically: a value that is not a number (§4.5: `1e3`,
        // `+5`, ` 5`, `NaN`) can never match, so it is left out; the filter's other values
        // still compare. With none left the filter matches nothing.
        let mut out = Vec::new();
        for (i, v) in raw.iter().enumerate() {
            match v {
                Value::Array(_) | Value::Object(_) => p.invalid(
                    format!("{vpath}[{i}]"),
                    "expected a string, number, boolean or null",
                ),
                other => out.extend(value_number(other)),
            }
        }
        Some(FilterValues::Numbers(out))
    } else {
        text_values(operator, raw, &vpath, p).map(FilterValues::Text)
    }
}

/// Text values; a `regex` value, written bare or as `/…/`, becomes the pattern in the
/// common dialect. `None` when a pattern budget is exceeded.
fn text_values(
    operator: Operator,
    raw: &[Value],
    vpath: &str,
    p: &mut Params,
) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (i, v) in raw.iter().enumerate() {
        let Some(mut text) = value_text(v) else {
            p.invalid(
                format!("{vpath}[{i}]"),
                "expected a string, number, boolean or null",
            );
            continue;
        };
        if operator == Operator::Regex {
            if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
                text = text[1..text.len() - 1].to_string();
            }
            match p.pattern(&format!("{vpath}[{i}]"), &text) {
                Some(Ok(normalized)) => text = normalized,
                Some(Err(reason)) => {
                    p.invalid(
                        format!("{vpath}[{i}]"),
                        format!("invalid regular expression: {reason}"),
                    );
                    continue;
                }
                // Over budget, reported once.
                None => return None,
            }
        }
        out.push(text);
    }
    Some(out)
}

/// A JSON array of filters; absent, `null` or an empty top-level parameter mean none.
pub(super) fn decode_filters(v: Option<&Value>, path: &str, p: &mut Params) -> Vec<Filter> {
    let items = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::String(s)) if s.is_empty() => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            p.invalid(
                path,
                format!("expected a JSON array of filters, got {}", describe(other)),
            );
            return Vec::new();
        }
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, f)| decode_filter(f, &format!("{path}[{i}]"), p))
        .collect()
}
