//! Rows in `JSONCompactEachRow` (one JSON array per line) → core's [`Value`]s.
//!
//! JSON is self-describing, so one decoder reads OpenPanel's types and ours alike
//! (`LowCardinality`, `FixedString`, `Float32`, `UInt64`, `Bool`, `Map`, `Nullable`), and
//! it stays correct whatever output settings a server's profile sets: 64-bit integers may
//! arrive quoted (`output_format_json_quote_64bit_integers`), floats as `"nan"`/`"inf"`
//! strings or `null` (`output_format_json_quote_denormals`), and a map as an object or as
//! an array of pairs (`output_format_json_map_as_array_of_tuples`).
//!
//! Each cell is decoded straight into its [`Value`] as the parser meets it (a
//! [`DeserializeSeed`] per column), with no `serde_json::Value` in between: a streamed
//! export decodes every row it sends, and the intermediate tree was most of the decoder's
//! allocations.

use std::fmt;

use quarry_core::sql::{CellType, Row, Value};
use quarry_core::storage::StorageError;
use serde::Deserialize as _;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

/// Decode a whole `JSONCompactEachRow` body. A `String` column may hold bytes that are
/// not UTF-8: they decode as U+FFFD.
pub fn rows(body: &[u8], columns: &[CellType]) -> Result<Vec<Row>, StorageError> {
    let mut out = Vec::new();
    let mut from = 0;
    // A line is one row: JSON strings escape their line breaks.
    for end in memchr::memchr_iter(b'\n', body).chain([body.len()]) {
        let line = &body[from..end];
        from = end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let row = match row(line, columns) {
            // The parser checks each string's UTF-8; only a line it refused is read again
            // with the invalid bytes replaced.
            Err(_) if std::str::from_utf8(line).is_err() => {
                row(String::from_utf8_lossy(line).as_bytes(), columns)
            }
            decoded => decoded,
        };
        out.push(row?);
    }
    Ok(out)
}

/// One line's row.
fn row(line: &[u8], columns: &[CellType]) -> Result<Row, StorageError> {
    let unreadable =
        |e: serde_json::Error| StorageError::Query(format!("unreadable result row: {e}"));
    let mut de = serde_json::Deserializer::from_slice(line);
    let row = RowSeed(columns).deserialize(&mut de).map_err(unreadable)?;
    de.end().map_err(unreadable)?;
    row.map_err(|found| {
        StorageError::Query(format!(
            "a result row has {found} columns, the query declares {}",
            columns.len()
        ))
    })
}

/// One row: a JSON array with a cell per column. `Err(n)`: the array had `n` cells.
struct RowSeed<'a>(&'a [CellType]);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Result<Row, usize>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Result<Row, usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row as a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut row = Vec::with_capacity(self.0.len());
        for ty in self.0 {
            match seq.next_element_seed(CellSeed(*ty))? {
                Some(cell) => row.push(cell),
                None => return Ok(Err(row.len())),
            }
        }
        let mut extra = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            extra += 1;
        }
        Ok(if extra == 0 {
            Ok(row)
        } else {
            Err(row.len() + extra)
        })
    }
}

/// One cell, decoded as its column declares.
#[derive(Clone, Copy)]
struct CellSeed(CellType);

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a result cell")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(bool_cell(self.0, b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(i64_cell(self.0, i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(u64_cell(self.0, u))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(f64_cell(self.0, f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(str_cell(self.0, s))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(string_cell(self.0, s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        match self.0 {
            CellType::Map => {
                let mut pairs = Vec::new();
                while let Some(pair) = seq.next_element_seed(PairSeed)? {
                    pairs.extend(pair);
                }
                Ok(Value::Map(pairs))
            }
            CellType::Text => {
                let json = Json::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Value::Text(json.to_string()))
            }
            CellType::Int | CellType::Bool | CellType::Float => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Value::Null)
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match self.0 {
            CellType::Map => {
                let mut pairs: Vec<(String, String)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value_seed(TextSeed)?;
                    pairs.push((key, value));
                }
                Ok(Value::Map(first_place_last_value(pairs)))
            }
            CellType::Text => {
                let json = Json::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Value::Text(json.to_string()))
            }
            CellType::Int | CellType::Bool | CellType::Float => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Value::Null)
            }
        }
    }
}

/// A JSON boolean in a column of type `ty`.
pub(crate) fn bool_cell(ty: CellType, b: bool) -> Value {
    match ty {
        CellType::Text => Value::Text(b.to_string()),
        CellType::Int | CellType::Bool => Value::Int(i64::from(b)),
        CellType::Float => Value::Float(f64::from(u8::from(b))),
        CellType::Map => Value::Map(Vec::new()),
    }
}

/// A JSON integer (negative) in a column of type `ty`.
pub(crate) fn i64_cell(ty: CellType, i: i64) -> Value {
    match ty {
        CellType::Text => Value::Text(i.to_string()),
        CellType::Int | CellType::Bool => Value::Int(i),
        CellType::Float => Value::Float(i as f64),
        CellType::Map => Value::Map(Vec::new()),
    }
}

/// A JSON integer (not negative) in a column of type `ty`.
pub(crate) fn u64_cell(ty: CellType, u: u64) -> Value {
    match ty {
        CellType::Text => Value::Text(u.to_string()),
        CellType::Int | CellType::Bool => Value::Int(i64::try_from(u).unwrap_or(i64::MAX)),
        CellType::Float => Value::Float(u as f64),
        CellType::Map => Value::Map(Vec::new()),
    }
}

/// A JSON number with a fraction or exponent in a column of type `ty`.
pub(crate) fn f64_cell(ty: CellType, f: f64) -> Value {
    match ty {
        CellType::Text => Value::Text(quarry_core::format::decimal_text(f)),
        CellType::Int | CellType::Bool => Value::Int(f as i64),
        CellType::Float => finite(Some(f)),
        CellType::Map => Value::Map(Vec::new()),
    }
}

/// A JSON string in a column of type `ty`.
pub(crate) fn str_cell(ty: CellType, s: &str) -> Value {
    match ty {
        CellType::Text => Value::Text(s.to_owned()),
        CellType::Int | CellType::Bool => int_text(s).map_or(Value::Null, Value::Int),
        CellType::Float => finite(parse_float(s)),
        CellType::Map => Value::Map(Vec::new()),
    }
}

/// [`str_cell`], keeping the string when the column is text.
pub(crate) fn string_cell(ty: CellType, s: String) -> Value {
    match ty {
        CellType::Text => Value::Text(s),
        _ => str_cell(ty, &s),
    }
}

/// A map's value that is a JSON number with a fraction or exponent, as text.
pub(crate) fn f64_text(f: f64) -> String {
    Json::from(f).to_string()
}

/// A map's pairs with each repeated key once, where it first appears, holding the last
/// value given for it: what a JSON object means (and what reading it into an ordered map
/// gave before this decoder).
pub(crate) fn first_place_last_value(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    if pairs.len() < 2 {
        return pairs;
    }
    let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).all(|w| w[0] != w[1]) {
        return pairs;
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match out.iter_mut().find(|(seen, _)| *seen == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// One pair of a map printed as an array of pairs: `["k", "v"]`, or a named tuple's
/// object `{"keys": "k", "values": "v"}`; `None` for anything else.
struct PairSeed;

impl<'de> DeserializeSeed<'de> for PairSeed {
    type Value = Option<(String, String)>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PairSeed {
    type Value = Option<(String, String)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map's pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(2);
        while let Some(item) = seq.next_element_seed(TextSeed)? {
            items.push(item);
        }
        Ok(pair(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(2);
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value_seed(TextSeed)?));
        }
        // An object keeps one value per key.
        let items = first_place_last_value(entries)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        Ok(pair(items))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Exactly two items make a pair.
fn pair(items: Vec<String>) -> Option<(String, String)> {
    let mut items = items.into_iter();
    match (items.next(), items.next(), items.next()) {
        (Some(k), Some(v), None) => Some((k, v)),
        _ => None,
    }
}

/// A map's key or value as text: a string as it is, `null` as an empty string, anything
/// else as its JSON.
struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<String, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextSeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map's key or value")
    }

    fn visit_str<E>(self, s: &str) -> Result<String, E> {
        Ok(s.to_owned())
    }

    fn visit_string<E>(self, s: String) -> Result<String, E> {
        Ok(s)
    }

    fn visit_unit<E>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_none<E>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_bool<E>(self, b: bool) -> Result<String, E> {
        Ok(b.to_string())
    }

    fn visit_i64<E>(self, i: i64) -> Result<String, E> {
        Ok(i.to_string())
    }

    fn visit_u64<E>(self, u: u64) -> Result<String, E> {
        Ok(u.to_string())
    }

    fn visit_f64<E>(self, f: f64) -> Result<String, E> {
        Ok(f64_text(f))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<String, A::Error> {
        Ok(Json::deserialize(SeqAccessDeserializer::new(seq))?.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
        Ok(Json::deserialize(MapAccessDeserializer::new(map))?.to_string())
    }
}

/// An integer from a quoted number or boolean; `None` when it is neither.
fn int_text(s: &str) -> Option<i64> {
    match s {
        "true" => Some(1),
        "false" => Some(0),
        s => s
            .parse::<i64>()
            .ok()
            .or_else(|| s.parse::<u64>().ok().map(|_| i64::MAX))
            .or_else(|| parse_float(s).filter(|f| f.is_finite()).map(|f| f as i64)),
    }
}

/// NaN and ±inf are what ClickHouse returns where the other engines return NULL (avg of
/// nothing, x/0), and what its JSON output prints as `null` unless told otherwise.
fn finite(f: Option<f64>) -> Value {
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
    fn map_keys_repeat_values_of_any_kind() {
        let row = decode(
            r#"[{"b":"1","a":"2","b":"3"}, {"n":1.5,"i":-2,"u":7,"t":true,"z":null,"o":{"x":[1]}}, [["k","v","w"],["a","b"],5,{"keys":"c","values":"d"},{"a":1,"a":2},{"a":1,"b":2,"a":3}]]"#,
            &[Map, Map, Map],
        );
        let pairs = |p: &[(&str, &str)]| {
            Value::Map(p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect())
        };
        assert_eq!(
            row,
            vec![
                pairs(&[("b", "3"), ("a", "2")]),
                pairs(&[
                    ("n", "1.5"),
                    ("i", "-2"),
                    ("u", "7"),
                    ("t", "true"),
                    ("z", ""),
                    ("o", r#"{"x":[1]}"#)
                ]),
                pairs(&[("a", "b"), ("c", "d"), ("3", "2")]),
            ]
        );
    }

    #[test]
    fn nested_cells_as_json_text_or_null() {
        let row = decode(
            r#"[[1,"a"], {"k":null}, [1], {"k":1}, "x", 3]"#,
            &[Text, Text, Int, Float, Map, Map],
        );
        assert_eq!(
            row,
            vec![
                Value::Text(r#"[1,"a"]"#.into()),
                Value::Text(r#"{"k":null}"#.into()),
                Value::Null,
                Value::Null,
                Value::Map(vec![]),
                Value::Map(vec![]),
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
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let out = rows(
            b"[\"a\xffb\", {\"k\xfe\":\"v\"}]\n[\"ok\", {}]\n",
            &[Text, Map],
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                vec![
                    Value::Text("a\u{fffd}b".into()),
                    Value::Map(vec![("k\u{fffd}".into(), "v".into())])
                ],
                vec![Value::Text("ok".into()), Value::Map(vec![])],
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
        let Err(StorageError::Query(too_many)) = rows(b"[1,[2],{}]\n", &[Int]) else {
            panic!("three cells for one column");
        };
        assert!(
            too_many.contains("has 3 columns, the query declares 1"),
            "{too_many}"
        );
        let Err(StorageError::Query(too_few)) = rows(b"[1]\n", &[Int, Int]) else {
            panic!("one cell for two columns");
        };
        assert!(
            too_few.contains("has 1 columns, the query declares 2"),
            "{too_few}"
        );
        assert!(matches!(
            rows(b"[1] [2]\n", &[Int]),
            Err(StorageError::Query(_))
        ));
    }
}
