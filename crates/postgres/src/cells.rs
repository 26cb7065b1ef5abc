//! Decoding PostgreSQL cells into core's [`Value`]s.
//!
//! PostgreSQL is strictly typed, and one compiled column can arrive as different types
//! (`sum` of a bigint is NUMERIC, of a double is FLOAT8; ids are TEXT or UUID). So each
//! cell is read by its actual type first, then converted to the type the query declares.

use quarry_core::format::decimal_text;
use quarry_core::sql::{CellType, Value};
use quarry_core::storage::StorageError;
use sqlx::postgres::{PgRow, PgValueFormat, PgValueRef};
use sqlx::{Row as _, TypeInfo, ValueRef};

/// A cell as PostgreSQL sent it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Int(i64),
    Float(f64),
    /// NUMERIC, as exact decimal text.
    Numeric(String),
    Bool(bool),
    Text(String),
    /// JSON or JSONB text.
    Json(String),
}

/// Decode column `i` of `row` as `ty`.
pub(crate) fn cell(row: &PgRow, i: usize, ty: CellType) -> Result<Value, StorageError> {
    let raw = row
        .try_get_raw(i)
        .map_err(|e| StorageError::Query(e.to_string()))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let info = raw.type_info().into_owned();
    let type_name = info.name();
    let cell = read(raw, type_name)
        .map_err(|e| StorageError::Query(format!("column {i} ({type_name}): {e}")))?;
    Ok(convert(cell, ty))
}

fn read(raw: PgValueRef<'_>, type_name: &str) -> Result<Cell, String> {
    if raw.format() == PgValueFormat::Text {
        let text = raw.as_str().map_err(|e| e.to_string())?;
        return Ok(read_text(text, type_name));
    }
    let bytes = raw.as_bytes().map_err(|e| e.to_string())?;
    let fixed = |n: usize| -> Result<&[u8], String> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(format!("expected {n} bytes, got {}", bytes.len()))
        }
    };
    let utf8 = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|e| e.to_string());
    Ok(match type_name {
        "INT2" => Cell::Int(i16::from_be_bytes(array(fixed(2)?)?).into()),
        "INT4" => Cell::Int(i32::from_be_bytes(array(fixed(4)?)?).into()),
        "INT8" => Cell::Int(i64::from_be_bytes(array(fixed(8)?)?)),
        "FLOAT4" => Cell::Float(f32::from_be_bytes(array(fixed(4)?)?).into()),
        "FLOAT8" => Cell::Float(f64::from_be_bytes(array(fixed(8)?)?)),
        "NUMERIC" => Cell::Numeric(numeric_text(bytes)?),
        "BOOL" => Cell::Bool(fixed(1)?[0] != 0),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" | "CITEXT" => {
            Cell::Text(utf8(bytes)?)
        }
        "UUID" => Cell::Text(
            uuid::Uuid::from_slice(fixed(16)?)
                .map_err(|e| e.to_string())?
                .hyphenated()
                .to_string(),
        ),
        "JSON" => Cell::Json(utf8(bytes)?),
        // JSONB's binary form is a version byte (1) followed by the JSON text.
        "JSONB" => match bytes.split_first() {
            Some((1, text)) => Cell::Json(utf8(text)?),
            _ => return Err("unknown JSONB version".into()),
        },
        // Microseconds since 2000-01-01T00:00:00Z, as epoch milliseconds.
        "TIMESTAMPTZ" | "TIMESTAMP" => {
            let us = i64::from_be_bytes(array(fixed(8)?)?);
            Cell::Int(us.div_euclid(1000).saturating_add(946_684_800_000))
        }
        other => return Err(format!("unsupported PostgreSQL type {other}")),
    })
}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    bytes.try_into().map_err(|_| format!("expected {N} bytes"))
}

/// The text protocol (only used by simple queries): the type decides what the text means.
fn read_text(text: &str, type_name: &str) -> Cell {
    match type_name {
        "INT2" | "INT4" | "INT8" => text
            .parse()
            .map_or_else(|_| Cell::Text(text.into()), Cell::Int),
        "FLOAT4" | "FLOAT8" => text
            .parse()
            .map_or_else(|_| Cell::Text(text.into()), Cell::Float),
        "NUMERIC" => Cell::Numeric(text.into()),
        "BOOL" => Cell::Bool(text == "t"),
        "JSON" | "JSONB" => Cell::Json(text.into()),
        _ => Cell::Text(text.into()),
    }
}

/// The binary NUMERIC format as decimal text: `ndigits, weight, sign, dscale` (16-bit
/// each), then `ndigits` base-10000 digits, the first worth 10000^weight.
fn numeric_text(b: &[u8]) -> Result<String, String> {
    let word = |i: usize| -> Result<u16, String> {
        b.get(2 * i..2 * i + 2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
            .ok_or_else(|| "truncated NUMERIC".to_string())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = usize::from(word(3)?);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        other => return Err(format!("bad NUMERIC sign {other:#x}")),
    }
    let digits = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<u16>, String>>()?;
    // The base-10000 digit worth 10000^(weight - index), 0 outside the stored ones.
    let digit = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        out.push_str(&digit(0).to_string());
        for index in 1..=weight {
            out.push_str(&format!("{:04}", digit(index)));
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut index = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit(index)));
            index += 1;
        }
        fraction.truncate(dscale);
        out.push('.');
        out.push_str(&fraction);
    }
    Ok(out)
}

/// A NUMERIC's value as an integer when it is one, else as a float.
fn numeric_value(text: &str) -> Value {
    match text.parse::<i64>() {
        Ok(i) => Value::Int(i),
        Err(_) => {
            let f: f64 = text.parse().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Value::Int(f as i64)
            } else {
                Value::Float(f)
            }
        }
    }
}

/// Convert a cell to the declared column type, as the SQLite backend does for its
/// storage classes (floats truncate to integers, unparsable text is 0).
fn convert(cell: Cell, ty: CellType) -> Value {
    match ty {
        CellType::Text => Value::Text(match cell {
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => decimal_text(f),
            Cell::Numeric(n) => match numeric_value(&n) {
                Value::Int(i) => i.to_string(),
                other => decimal_text(other.as_f64()),
            },
            Cell::Bool(b) => b.to_string(),
            Cell::Text(t) | Cell::Json(t) => t,
        }),
        CellType::Int | CellType::Bool => Value::Int(match cell {
            Cell::Int(i) => i,
            Cell::Float(f) => f as i64,
            Cell::Numeric(n) => numeric_value(&n).as_i64(),
            Cell::Bool(b) => i64::from(b),
            Cell::Text(t) => match t.as_str() {
                "true" | "t" => 1,
                t => t.parse().unwrap_or(0),
            },
            Cell::Json(_) => 0,
        }),
        CellType::Float => Value::Float(match cell {
            Cell::Int(i) => i as f64,
            Cell::Float(f) => f,
            Cell::Numeric(n) | Cell::Text(n) => n.parse().unwrap_or(0.0),
            Cell::Bool(b) => f64::from(u8::from(b)),
            Cell::Json(_) => 0.0,
        }),
        CellType::Map => match cell {
            Cell::Json(t) | Cell::Text(t) => Value::map_from_json(&t),
            _ => Value::Map(Vec::new()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binary NUMERIC from its parts.
    fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [digits.len() as u16, weight as u16, sign, dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numeric_binary_to_text() {
        let cases: &[(Vec<u8>, &str)] = &[
            (numeric(0, 0, 0, &[]), "0"),
            (numeric(0, 0, 0, &[7]), "7"),
            (numeric(1, 0, 0, &[1, 2345]), "12345"),
            (numeric(2, 0, 0, &[12]), "1200000000"),
            (numeric(0, 0x4000, 2, &[19, 9900]), "-19.99"),
            (numeric(-1, 0, 4, &[5]), "0.0005"),
            (numeric(-2, 0, 6, &[1200]), "0.000012"),
            (numeric(-2, 0, 8, &[12]), "0.00000012"),
            (numeric(0, 0, 5, &[2, 3333, 3300]), "2.33333"),
            (numeric(0, 0, 20, &[2, 3333]), "2.33330000000000000000"),
            (numeric(0, 0xC000, 0, &[]), "NaN"),
        ];
        for (bytes, text) in cases {
            assert_eq!(numeric_text(bytes).as_deref(), Ok(*text));
        }
        assert!(numeric_text(&[0, 1]).is_err());
    }

    #[test]
    fn conversions_follow_the_declared_type() {
        let n = || Cell::Numeric("42.000".into());
        assert_eq!(convert(n(), CellType::Int), Value::Int(42));
        assert_eq!(convert(n(), CellType::Float), Value::Float(42.0));
        assert_eq!(convert(n(), CellType::Text), Value::Text("42".into()));
        let f = Cell::Numeric("2.3333333333333333".into());
        assert_eq!(
            convert(f, CellType::Float),
            Value::Float(2.3333333333333333)
        );
        assert_eq!(convert(Cell::Bool(true), CellType::Bool), Value::Int(1));
        assert_eq!(convert(Cell::Bool(false), CellType::Bool), Value::Int(0));
        assert_eq!(convert(Cell::Int(3), CellType::Float), Value::Float(3.0));
        assert_eq!(convert(Cell::Float(2.9), CellType::Int), Value::Int(2));
        assert_eq!(
            convert(Cell::Float(0.5), CellType::Text),
            Value::Text("0.5".into())
        );
        assert_eq!(
            convert(
                Cell::Json(r#"{"b":"x","a":1,"c":null}"#.into()),
                CellType::Map
            ),
            Value::Map(vec![
                ("b".into(), "x".into()),
                ("a".into(), "1".into()),
                ("c".into(), "null".into())
            ])
        );
    }
}
