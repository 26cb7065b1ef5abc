//! What a statement returns: the column types a [`Query`](super::Query) declares and the
//! cells a backend decodes them into.

/// One decoded cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (also timestamps, as ms since the epoch).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// A flat string map (event and profile properties), in storage order.
    Map(Vec<(String, String)>),
}

impl Value {
    /// The value as an integer (floats truncated; anything else 0).
    pub fn as_i64(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            Value::Float(f) => *f as i64,
            Value::Text(t) => t.parse().unwrap_or(0),
            Value::Null | Value::Map(_) => 0,
        }
    }

    /// The value as a float (NULL and text 0).
    pub fn as_f64(&self) -> f64 {
        match self {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Text(t) => t.parse().unwrap_or(0.0),
            Value::Null | Value::Map(_) => 0.0,
        }
    }

    /// A flat map from the text of a JSON object, as SQLite (TEXT) and PostgreSQL (jsonb)
    /// hand properties back: strings as they are, other values as their JSON text;
    /// anything but an object is an empty map.
    pub fn map_from_json(text: &str) -> Value {
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
            Ok(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => (k, s),
                        other => (k, other.to_string()),
                    })
                    .collect(),
            ),
            Err(_) => Value::Map(Vec::new()),
        }
    }

    /// Take the text out (NULL and numbers as text).
    pub fn into_text(self) -> String {
        match self {
            Value::Text(t) => t,
            Value::Int(i) => i.to_string(),
            Value::Float(f) => crate::format::decimal_text(f),
            Value::Null | Value::Map(_) => String::new(),
        }
    }
}

/// One result row, in the query's column order.
pub type Row = Vec<Value>;

/// How a backend must decode the cells of a result column (one per column of a
/// [`Query`](super::Query); not to be confused with the events columns a request names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellType {
    /// Text (NULL → `Value::Null`).
    Text,
    /// A 64-bit integer; timestamps are selected as epoch milliseconds.
    Int,
    /// A float (NULL → `Value::Null`).
    Float,
    /// A boolean stored as 0/1 or a native boolean, decoded as `Value::Int`.
    Bool,
    /// A flat string map (JSON object text in SQLite, JSONB in PostgreSQL, `Map` in ClickHouse).
    Map,
}
