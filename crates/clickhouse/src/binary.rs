//! Rows in `RowBinaryWithNamesAndTypes` → core's [`Value`]s: how streamed exports read.
//!
//! ClickHouse writes this format with less work than JSON (no escaping, numbers as they
//! are stored) and it decodes without parsing text, so a long stream costs both sides
//! less. It is not self-describing cell by cell: the header names each column's type, and
//! only the types below are read ([`Layout::new`] says which). For any other type (dates,
//! UUIDs, decimals, enums, arrays, …) the caller reads the statement as JSON instead
//! ([`crate::cells`]), whose decoder takes anything.
//!
//! Every cell becomes exactly the [`Value`] that JSON decoding gives for the same row with
//! ClickHouse's default JSON output settings: the same helpers build both, and a
//! `Float32` is read through its shortest decimal form, which is what JSON prints.

use quarry_core::sql::{CellType, Row, Value};

use crate::cells;

/// A column's wire type, among those read here.
#[derive(Debug, Clone, PartialEq)]
enum Wire {
    /// `String`: a LEB128 length, then the bytes.
    Str,
    /// `FixedString(n)`: n bytes.
    Fixed(usize),
    /// A byte (1 = NULL), then the value unless NULL.
    Nullable(Box<Wire>),
    /// `Bool`: one byte.
    Bool,
    /// Little-endian integers of 1, 2, 4, 8 or 16 bytes.
    UInt(usize),
    Int(usize),
    Float32,
    Float64,
    /// A LEB128 count, then that many keys and values.
    Map(Box<Wire>, Box<Wire>),
}

impl Wire {
    /// The wire type a type name in the header stands for; `None` when not read here.
    /// `LowCardinality(T)` is written as `T`.
    fn parse(name: &str) -> Option<Wire> {
        let name = name.trim();
        let inner = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('('))
                .and_then(|rest| rest.strip_suffix(')'))
        };
        Some(match name {
            "String" => Wire::Str,
            "Bool" => Wire::Bool,
            "UInt8" => Wire::UInt(1),
            "UInt16" => Wire::UInt(2),
            "UInt32" => Wire::UInt(4),
            "UInt64" => Wire::UInt(8),
            "UInt128" => Wire::UInt(16),
            "Int8" => Wire::Int(1),
            "Int16" => Wire::Int(2),
            "Int32" => Wire::Int(4),
            "Int64" => Wire::Int(8),
            "Int128" => Wire::Int(16),
            "Float32" => Wire::Float32,
            "Float64" => Wire::Float64,
            _ => {
                if let Some(t) = inner("LowCardinality") {
                    Wire::parse(t)?
                } else if let Some(t) = inner("Nullable") {
                    Wire::Nullable(Box::new(Wire::parse(t)?))
                } else if let Some(n) = inner("FixedString") {
                    Wire::Fixed(n.trim().parse().ok()?)
                } else if let Some(kv) = inner("Map") {
                    let (k, v) = split_top_level(kv)?;
                    Wire::Map(Box::new(Wire::parse(k)?), Box::new(Wire::parse(v)?))
                } else {
                    return None;
                }
            }
        })
    }

    /// Whether a value of this type is a single scalar (not a map).
    fn scalar(&self) -> bool {
        match self {
            Wire::Nullable(t) => t.scalar(),
            Wire::Map(..) => false,
            _ => true,
        }
    }

    /// Whether this type can stand in a column declared `ty`: maps in map columns,
    /// scalars elsewhere.
    fn fits(&self, ty: CellType) -> bool {
        match (self, ty) {
            (Wire::Map(k, v), CellType::Map) => k.scalar() && v.scalar(),
            (_, CellType::Map) => false,
            (wire, _) => wire.scalar(),
        }
    }
}

/// `K, V` split at its one comma outside parentheses.
fn split_top_level(args: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (i, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => return Some((&args[..i], &args[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Why decoding stopped.
#[derive(Debug, PartialEq)]
pub enum Stop {
    /// The bytes end inside the header or a row: read more and try again.
    Short,
    /// The header names a type not read here: read the statement as JSON.
    Unsupported(String),
    /// The body is not what the header announced.
    Bad(String),
}

/// A position in a body.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        let end = self.at.checked_add(n).ok_or(Stop::Short)?;
        let out = self.bytes.get(self.at..end).ok_or(Stop::Short)?;
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, Stop> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned LEB128 number.
    fn leb128(&mut self) -> Result<u64, Stop> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(Stop::Bad("a length longer than 64 bits".into()))
    }

    /// A length-prefixed string's bytes.
    fn string(&mut self) -> Result<&'a [u8], Stop> {
        let n = self.leb128()?;
        self.take(usize::try_from(n).map_err(|_| Stop::Bad("a string too long".into()))?)
    }

    /// `n` little-endian bytes, widened to 16.
    fn le(&mut self, n: usize) -> Result<[u8; 16], Stop> {
        let mut out = [0u8; 16];
        out[..n].copy_from_slice(self.take(n)?);
        Ok(out)
    }
}

/// Bytes as text, invalid UTF-8 replaced by U+FFFD (as the JSON decoder does).
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// One scalar as JSON output shows it.
enum Scalar {
    Null,
    Text(String),
    Bool(bool),
    Signed(i64),
    Unsigned(u64),
    /// A finite float.
    Float(f64),
    /// A 128-bit integer, which JSON prints quoted.
    Wide(String),
}

fn scalar(r: &mut Reader<'_>, wire: &Wire) -> Result<Scalar, Stop> {
    Ok(match wire {
        Wire::Nullable(t) => {
            if r.byte()? != 0 {
                Scalar::Null
            } else {
                scalar(r, t)?
            }
        }
        Wire::Str => Scalar::Text(text(r.string()?)),
        Wire::Fixed(n) => Scalar::Text(text(r.take(*n)?)),
        Wire::Bool => Scalar::Bool(r.byte()? != 0),
        Wire::UInt(16) => Scalar::Wide(u128::from_le_bytes(r.le(16)?).to_string()),
        Wire::Int(16) => Scalar::Wide(i128::from_le_bytes(r.le(16)?).to_string()),
        Wire::UInt(n) => Scalar::Unsigned(u128::from_le_bytes(r.le(*n)?) as u64),
        Wire::Int(n) => {
            let raw = u128::from_le_bytes(r.le(*n)?);
            // Sign-extend from n bytes.
            let shift = 128 - 8 * *n as u32;
            Scalar::Signed(((raw << shift) as i128 >> shift) as i64)
        }
        Wire::Float32 => {
            let f = f32::from_le_bytes(r.take(4)?.try_into().map_err(|_| Stop::Short)?);
            // JSON prints a Float32's shortest decimal form; read that as an f64.
            float(
                f.is_finite()
                    .then(|| f.to_string().parse().unwrap_or(f64::from(f))),
            )
        }
        Wire::Float64 => {
            let f = f64::from_le_bytes(r.take(8)?.try_into().map_err(|_| Stop::Short)?);
            float(f.is_finite().then_some(f))
        }
        Wire::Map(..) => return Err(Stop::Bad("a map where a scalar was expected".into())),
    })
}

/// A float as JSON output shows it, and the JSON parser reads it back: NaN and ±inf as
/// `null` (ClickHouse's default), an integral value as an integer (`3`, not `3.0`) when
/// one fits 64 bits, `-0` and the rest as floats. Integral values from 2^53 on print as
/// their shortest decimal digits padded with zeros (2^60 as `1152921504606847000`, in
/// ClickHouse 26), which is the integer read back.
fn float(f: Option<f64>) -> Scalar {
    const TWO_POW_53: f64 = 9_007_199_254_740_992.0;
    match f {
        None => Scalar::Null,
        Some(f) if f.fract() != 0.0 || (f == 0.0 && f.is_sign_negative()) => Scalar::Float(f),
        Some(f) if (-TWO_POW_53..=TWO_POW_53).contains(&f) => {
            if f >= 0.0 {
                Scalar::Unsigned(f as u64)
            } else {
                Scalar::Signed(f as i64)
            }
        }
        Some(f) => {
            // Rust prints a float's shortest round-trip digits, padded, without exponent.
            let digits = f.to_string();
            match (digits.parse::<u64>(), digits.parse::<i64>()) {
                (Ok(u), _) => Scalar::Unsigned(u),
                (_, Ok(i)) => Scalar::Signed(i),
                _ => Scalar::Float(f),
            }
        }
    }
}

/// A scalar in a column declared `ty`, as the JSON decoder builds it.
fn cell(s: Scalar, ty: CellType) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Text(t) | Scalar::Wide(t) => cells::string_cell(ty, t),
        Scalar::Bool(b) => cells::bool_cell(ty, b),
        // JSON shows a non-negative integer as unsigned.
        Scalar::Signed(i) if i >= 0 => cells::u64_cell(ty, i as u64),
        Scalar::Signed(i) => cells::i64_cell(ty, i),
        Scalar::Unsigned(u) => cells::u64_cell(ty, u),
        Scalar::Float(f) => cells::f64_cell(ty, f),
    }
}

/// A scalar as a map's key or value text, as the JSON decoder writes it.
fn map_text(s: Scalar) -> String {
    match s {
        Scalar::Null => String::new(),
        Scalar::Text(t) | Scalar::Wide(t) => t,
        Scalar::Bool(b) => b.to_string(),
        Scalar::Signed(i) => i.to_string(),
        Scalar::Unsigned(u) => u.to_string(),
        Scalar::Float(f) => cells::f64_text(f),
    }
}

/// The columns of a body, from its header.
#[derive(Debug)]
pub struct Layout {
    wires: Vec<Wire>,
}

impl Layout {
    /// Read the header at the start of `bytes`: the layout and the header's length.
    /// `columns` are the statement's declared cells.
    pub fn new(bytes: &[u8], columns: &[CellType]) -> Result<(Layout, usize), Stop> {
        let mut r = Reader { bytes, at: 0 };
        let n = r.leb128()?;
        if n != columns.len() as u64 {
            return Err(Stop::Bad(format!(
                "the result has {n} columns, the query declares {}",
                columns.len()
            )));
        }
        for _ in 0..n {
            r.string()?;
        }
        let mut wires = Vec::with_capacity(columns.len());
        for ty in columns {
            let name = text(r.string()?);
            match Wire::parse(&name) {
                Some(wire) if wire.fits(*ty) => wires.push(wire),
                _ => return Err(Stop::Unsupported(name)),
            }
        }
        Ok((Layout { wires }, r.at))
    }

    /// Decode up to `max` whole rows from the start of `bytes` (cells declared
    /// `columns`, those the layout was read for): the rows and the bytes they took. A row
    /// cut off by the end of `bytes` is left for the next call.
    pub fn rows(
        &self,
        bytes: &[u8],
        columns: &[CellType],
        max: usize,
    ) -> Result<(Vec<Row>, usize), Stop> {
        let mut r = Reader { bytes, at: 0 };
        let mut out = Vec::new();
        while out.len() < max && r.at < bytes.len() {
            let start = r.at;
            match self.row(&mut r, columns) {
                Ok(row) => out.push(row),
                Err(Stop::Short) => {
                    r.at = start;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok((out, r.at))
    }

    fn row(&self, r: &mut Reader<'_>, columns: &[CellType]) -> Result<Row, Stop> {
        let mut row = Vec::with_capacity(self.wires.len());
        for (wire, ty) in self.wires.iter().zip(columns) {
            row.push(match wire {
                Wire::Map(k, v) => {
                    let n = r.leb128()?;
                    let mut pairs = Vec::new();
                    for _ in 0..n {
                        let key = map_text(scalar(r, k)?);
                        pairs.push((key, map_text(scalar(r, v)?)));
                    }
                    // A JSON object keeps one value per key.
                    Value::Map(cells::first_place_last_value(pairs))
                }
                wire => cell(scalar(r, wire)?, *ty),
            });
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use CellType::*;

    fn leb(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn string(s: &[u8], out: &mut Vec<u8>) {
        leb(s.len() as u64, out);
        out.extend_from_slice(s);
    }

    fn header(types: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        leb(types.len() as u64, &mut out);
        for (i, _) in types.iter().enumerate() {
            string(format!("c{i}").as_bytes(), &mut out);
        }
        for t in types {
            string(t.as_bytes(), &mut out);
        }
        out
    }

    #[test]
    fn type_names() {
        assert_eq!(
            Wire::parse("LowCardinality(Nullable(String))"),
            Some(Wire::Nullable(Box::new(Wire::Str)))
        );
        assert_eq!(
            Wire::parse("Map(LowCardinality(String), Nullable(Float32))"),
            Some(Wire::Map(
                Box::new(Wire::Str),
                Box::new(Wire::Nullable(Box::new(Wire::Float32)))
            ))
        );
        assert_eq!(Wire::parse("FixedString(16)"), Some(Wire::Fixed(16)));
        for unread in [
            "UUID",
            "DateTime64(3, 'UTC')",
            "Date",
            "Decimal(10, 2)",
            "Array(String)",
            "Enum8('a' = 1)",
            "Map(String)",
            "Map(String, Array(String))",
            "Nullable(UUID)",
            "UInt256",
        ] {
            let supported = Wire::parse(unread).is_some_and(|w| w.fits(Map) || w.fits(Text));
            assert!(!supported, "{unread}");
        }
    }

    #[test]
    fn cells_as_json_decoding_gives_them() {
        let mut body = header(&[
            "String",
            "LowCardinality(Nullable(String))",
            "Int64",
            "Int8",
            "UInt64",
            "Nullable(Float64)",
            "Float32",
            "Bool",
            "Map(String, String)",
            "String",
            "Int128",
        ]);
        let columns = [
            Text, Text, Int, Text, Int, Float, Float, Bool, Map, Int, Text,
        ];
        // Row 1.
        string("é\"x".as_bytes(), &mut body);
        body.push(1); // NULL
        body.extend_from_slice(&(-5i64).to_le_bytes());
        body.extend_from_slice(&(-3i8).to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        body.push(0);
        body.extend_from_slice(&f64::NAN.to_le_bytes());
        body.extend_from_slice(&1.1f32.to_le_bytes());
        body.push(1);
        leb(3, &mut body);
        for (k, v) in [("b", "1"), ("a", "2"), ("b", "3")] {
            string(k.as_bytes(), &mut body);
            string(v.as_bytes(), &mut body);
        }
        string(b"42", &mut body);
        body.extend_from_slice(&(-1i128).to_le_bytes());
        // Row 2, cut short.
        string(b"a\xffb", &mut body);
        let (layout, at) = Layout::new(&body, &columns).unwrap();
        let (rows, used) = layout.rows(&body[at..], &columns, 10).unwrap();
        assert_eq!(
            rows,
            vec![vec![
                Value::Text("é\"x".into()),
                Value::Null,
                Value::Int(-5),
                Value::Text("-3".into()),
                Value::Int(i64::MAX),
                Value::Null,
                Value::Float(1.1),
                Value::Int(1),
                Value::Map(vec![("b".into(), "3".into()), ("a".into(), "2".into())]),
                Value::Int(42),
                Value::Text("-1".into()),
            ]]
        );
        // The cut row is left for later.
        assert_eq!(at + used + 4, body.len());
        // The same row as JSON output prints it decodes to the same cells.
        let json = "[\"é\\\"x\", null, \"-5\", -3, \"18446744073709551615\", null, 1.1, true, \
                    {\"b\":\"1\",\"a\":\"2\",\"b\":\"3\"}, \"42\", \"-1\"]";
        assert_eq!(cells::rows(json.as_bytes(), &columns).unwrap(), rows);
    }

    #[test]
    fn floats_as_clickhouse_prints_them_in_json() {
        // What `SELECT … FORMAT JSONCompactEachRow` printed for these values (ClickHouse
        // 26.9): integral floats as integers, -0 as `-0`, NaN and inf as null.
        let values = [
            -0.0,
            3.0,
            1e15,
            1e20,
            1.5,
            1e-7,
            -2.0,
            f64::NAN,
            f64::INFINITY,
        ];
        let json = "[-0, 3, 1000000000000000, 100000000000000000000, 1.5, 1e-7, -2, null, null]";
        for ty in [Float, Int, Text, Map] {
            let types = vec!["Float64"; values.len()];
            let columns = vec![ty; values.len()];
            let mut body = header(&types);
            for v in values {
                body.extend_from_slice(&v.to_le_bytes());
            }
            let binary = Layout::new(&body, &columns)
                .map(|(layout, at)| layout.rows(&body[at..], &columns, 1));
            if ty == Map {
                assert!(matches!(binary, Err(Stop::Unsupported(_))));
                continue;
            }
            let (rows, _) = binary.unwrap().unwrap();
            assert_eq!(
                rows,
                cells::rows(json.as_bytes(), &columns).unwrap(),
                "{ty:?}"
            );
        }
        // In a map, as text.
        let mut body = header(&["Map(String, Float32)"]);
        leb(4, &mut body);
        for (k, v) in [("a", 3.0f32), ("b", 1.1), ("c", -0.0), ("d", 16_777_217.0)] {
            string(k.as_bytes(), &mut body);
            body.extend_from_slice(&v.to_le_bytes());
        }
        let (layout, at) = Layout::new(&body, &[Map]).unwrap();
        let json = r#"[{"a":3,"b":1.1,"c":-0,"d":16777216}]"#;
        assert_eq!(
            layout.rows(&body[at..], &[Map], 1).unwrap().0,
            cells::rows(json.as_bytes(), &[Map]).unwrap()
        );
    }

    #[test]
    fn short_header_unsupported_type_and_bad_width() {
        let full = header(&["String", "UUID"]);
        assert_eq!(
            Layout::new(&full[..3], &[Text, Text]).unwrap_err(),
            Stop::Short
        );
        assert_eq!(
            Layout::new(&full, &[Text, Text]).unwrap_err(),
            Stop::Unsupported("UUID".into())
        );
        assert!(matches!(
            Layout::new(&full, &[Text]).unwrap_err(),
            Stop::Bad(_)
        ));
        // A map type in a text column is read as JSON.
        assert!(matches!(
            Layout::new(&header(&["Map(String, String)"]), &[Text]).unwrap_err(),
            Stop::Unsupported(_)
        ));
    }
}
