//! Rows in `JSONCompactEachRow` (one JSON array per line) → core's [`Value`]s.
//!
//! JSON is self-describing, so one decoder reads OpenPanel's types and ours alike
//! (`LowCardinality`, `FixedString`, `Float32`, `UInt64`, `Bool`, `Map`, `Nullable`), and
//! it stays correct whatever output settings a server's profile sets: 64-bit integers may
//! arrive quoted (`output_format_json_quote_64bit_integers`), floats as `"nan"`/`"inf"`
//! strings or `null` (`output_format_json_quote_denormals`), and a map as an object or as
//! an array of pairs (`output_format_json_map_as_array_of_tuples`).

use quarry_core::sql::{CellType, Row, Value};
use quarry_core::storage::StorageError;
use serde_json::Value as Json;

/// Decode a whole `JSONCompactEachRow` body.
pub fn rows(body: &[u8], columns: &[CellType]) -> Result<Vec<Row>, StorageError> {
    let mut out = Vec::new();
    for line in serde_json::Deserializer::from_slice(body).into_iter::<Vec<Json>>() {
        let cells = line.map_err(|e| StorageError::Query(format!("unreadable result row: {e}")))?;
        if cells.len() != columns.len() {
            return Err(StorageError::Query(format!(
                "a result row has {} columns, the query declares {}",
                cells.len(),
                columns.len()
            )));
        }
        out.push(
            cells
                .into_iter()
                .zip(columns)
                .map(|(cell, ty)| cell_value(cell, *ty))
                .collect(),
        );
    }
    Ok(out)
}

/// Decode one cell as its column declares.
pub fn cell_value(cell: Json, ty: CellType) -> Value {
    if cell.is_null() {
        return Value::Null;
    }
    match ty {
        CellType::Text => text(cell),
        CellType::Int | CellType::Bool => int(&cell).map_or(Value::Null, Value::Int),
        CellType::Float => float(&cell),
        CellType::Map => map(cell),
    }
}

fn text(cell: Json) -> Value {
    Value::Text(match cell {
        Json::String(s) => s,
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => quarry_core::format::decimal_text(f),
            _ => n.to_string(),
        },
        Json::Bool(b) => b.to_string(),
        other => other.to_string(),
    })
}

/// An integer from a number, a quoted number or a boolean; `None` when it is none of them.
fn int(cell: &Json) -> Option<i64> {
    match cell {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
            .or_else(|| n.as_f64().map(|f| f as i64)),
        Json::Bool(b) => Some(i64::from(*b)),
        Json::String(s) => match s.as_str() {
            "true" => Some(1),
            "false" => Some(0),
            s => s
                .parse::<i64>()
                .ok()
                .or_else(|| s.parse::<u64>().ok().map(|_| i64::MAX))
                .or_else(|| parse_float(s).filter(|f| f.is_finite()).map(|f| f as i64)),
        },
        _ => None,
    }
}

fn float(cell: &Json) -> Value {
    let f = match cell {
        Json::Number(n) => n.as_f64(),
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        Json::String(s) => parse_float(s),
        _ => None,
    };
    // NaN and ±inf are what ClickHouse returns where the other engines return NULL (avg
    // of nothing, x/0), and what its JSON output prints as `null` unless told otherwise.
    match f {
        Some(f) if f.is_finite() => Value::Float(f),
        _ => Value::Null,
    }
}

/// A float in ClickHouse's text form, including `nan`, `inf`, `+inf` and `-inf`.
fn parse_float(s: &str) -> Option<f64> {
    match s.trim_start_matches('+') {
        "nan" | "-nan" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn map(cell: Json) -> Value {
    let text = |v: Json| match v {
        Json::String(s) => s,
        Json::Null => String::new(),
        other => other.to_string(),
    };
    Value::Map(match cell {
        // Keys keep the server's order (serde_json's `preserve_order` is on).
        Json::Object(obj) => obj.into_iter().map(|(k, v)| (k, text(v))).collect(),
        Json::Array(pairs) => pairs
            .into_iter()
            .filter_map(|pair| match pair {
                Json::Array(kv) if kv.len() == 2 => {
                    let mut kv = kv.into_iter();
                    Some((text(kv.next()?), text(kv.next()?)))
                }
                // Named tuples print as objects: `{"keys": k, "values": v}`.
                Json::Object(kv) if kv.len() == 2 => {
                    let mut kv = kv.into_iter().map(|(_, v)| v);
                    Some((text(kv.next()?), text(kv.next()?)))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use CellType::*;

    fn decode(line: &str, cols: &[CellType]) -> Vec<Value> {
        rows(line.as_bytes(), cols).unwrap().remove(0)
    }

    #[test]
    fn integers_plain_quoted_unsigned_and_boolean() {
        let row = decode(
            r#"[5, "-3", 18446744073709551615, "18446744073709551615", true, false, null, 2.9]"#,
            &[Int, Int, Int, Int, Bool, Bool, Int, Int],
        );
        assert_eq!(
            row,
            vec![
                Value::Int(5),
                Value::Int(-3),
                Value::Int(i64::MAX),
                Value::Int(i64::MAX),
                Value::Int(1),
                Value::Int(0),
                Value::Null,
                Value::Int(2),
            ]
        );
    }

    #[test]
    fn floats_with_denormals() {
        let row = decode(
            r#"[1.5, "2.25", "nan", "inf", "-inf", "+inf", null, 3, "-nan"]"#,
            &[
                Float, Float, Float, Float, Float, Float, Float, Float, Float,
            ],
        );
        assert_eq!(
            row,
            vec![
                Value::Float(1.5),
                Value::Float(2.25),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Float(3.0),
                Value::Null,
            ]
        );
    }

    #[test]
    fn maps_as_objects_or_pairs_in_order() {
        let row = decode(
            r#"[{"z":"1","a":"x\u0000y"}, [["k","v"],["a","b"]], {}, [{"keys":"k","values":"v"}]]"#,
            &[Map, Map, Map, Map],
        );
        assert_eq!(
            row,
            vec![
                Value::Map(vec![("z".into(), "1".into()), ("a".into(), "x\0y".into())]),
                Value::Map(vec![("k".into(), "v".into()), ("a".into(), "b".into())]),
                Value::Map(vec![]),
                Value::Map(vec![("k".into(), "v".into())]),
            ]
        );
    }

    #[test]
    fn text_from_anything() {
        let row = decode(r#"["é\n\"", 7, 18.5, null]"#, &[Text, Text, Text, Text]);
        assert_eq!(
            row,
            vec![
                Value::Text("é\n\"".into()),
                Value::Text("7".into()),
                Value::Text("18.5".into()),
                Value::Null,
            ]
        );
    }

    #[test]
    fn several_lines_and_empty_body() {
        let out = rows(b"[1]\n[2]\n", &[Int]).unwrap();
        assert_eq!(out, vec![vec![Value::Int(1)], vec![Value::Int(2)]]);
        assert!(rows(b"", &[Int]).unwrap().is_empty());
    }

    #[test]
    fn wrong_width_or_garbage_is_an_error() {
        assert!(matches!(
            rows(b"[1,2]\n", &[Int]),
            Err(StorageError::Query(_))
        ));
        assert!(matches!(
            rows(b"Code: 62", &[Int]),
            Err(StorageError::Query(_))
        ));
    }
}
