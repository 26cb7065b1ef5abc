//! The bodies of streamed exports: Event objects as NDJSON, CSV (byte for byte the same on
//! every backend) or Parquet, written batch by batch (see [`crate::exec::EventsWalk`]).

use std::io::Write as _;

use serde_json::Value;

use crate::exec::Batch;
use crate::request::{ExportColumn, ExportFormat};

mod parquet;

/// The columns of an export's rows: what [`EventsWalk`](crate::exec::EventsWalk) produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The chosen columns, in order.
    pub columns: Vec<ExportColumn>,
    /// Whether rows may carry `profile`.
    pub profile: bool,
    /// Whether rows may carry `meta`.
    pub meta: bool,
}

impl Layout {
    /// The keys of each row's object, in order: the columns, then `profile` and `meta`
    /// when included (an object may lack those two). CSV's header row.
    pub fn header(&self) -> Vec<String> {
        let mut names: Vec<String> = self.columns.iter().map(|c| c.name().into_owned()).collect();
        if self.profile {
            names.push("profile".into());
        }
        if self.meta {
            names.push("meta".into());
        }
        names
    }
}

/// A body that could not be encoded (a fault of the encoder, not of the request).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the export: {0}")]
pub struct EncodeError(String);

impl From<::parquet::errors::ParquetError> for EncodeError {
    fn from(e: ::parquet::errors::ParquetError) -> Self {
        EncodeError(e.to_string())
    }
}

/// Writes the rows of one export in one format, batch by batch.
#[derive(Debug)]
pub struct Encoder {
    format: ExportFormat,
    header: Vec<String>,
    parquet: Option<parquet::ParquetWriter>,
}

impl Encoder {
    /// An encoder for rows of this layout.
    pub fn new(format: ExportFormat, layout: &Layout) -> Result<Encoder, EncodeError> {
        let parquet = match format {
            ExportFormat::Parquet => Some(parquet::ParquetWriter::new(layout)?),
            ExportFormat::Ndjson | ExportFormat::Csv => None,
        };
        Ok(Encoder {
            format,
            header: layout.header(),
            parquet,
        })
    }

    /// What the body starts with: CSV's header row, Parquet's magic bytes; nothing for
    /// NDJSON.
    pub fn start(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self.format {
            ExportFormat::Csv => {
                let names: Vec<Value> = self
                    .header
                    .iter()
                    .map(|h| Value::String(h.clone()))
                    .collect();
                csv_record(names.iter(), out);
            }
            ExportFormat::Parquet => {
                if let Some(p) = self.parquet.as_mut() {
                    p.start(out)?;
                }
            }
            ExportFormat::Ndjson => {}
        }
        Ok(())
    }

    /// Append one batch. Every format is written field by field from the rows, without an
    /// object per row: NDJSON and CSV as the bytes of the JSON page's objects, Parquet as
    /// their values (its row groups span batches).
    pub fn rows(&mut self, batch: Batch, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self.format {
            ExportFormat::Ndjson => {
                let mut open = false;
                batch.visit(|field| match field {
                    Some((key, value)) => {
                        out.push(if open { b',' } else { b'{' });
                        open = true;
                        // Writing JSON to a Vec cannot fail.
                        let _ = serde_json::to_writer(&mut *out, key);
                        out.push(b':');
                        let _ = serde_json::to_writer(&mut *out, &value);
                    }
                    None => {
                        if !open {
                            out.push(b'{');
                        }
                        out.extend_from_slice(b"}\n");
                        open = false;
                    }
                });
            }
            ExportFormat::Csv => {
                let header = &self.header;
                let mut cells = vec![Value::Null; header.len()];
                let mut next = 0;
                batch.visit(|field| match field {
                    Some((key, value)) => {
                        // Columns come in the header's order; `profile` and `meta` only
                        // when present.
                        let at = if header.get(next).is_some_and(|h| h == key) {
                            next
                        } else {
                            header.iter().position(|h| h == key).unwrap_or(next)
                        };
                        if let Some(cell) = cells.get_mut(at) {
                            *cell = value.into_json();
                        }
                        next = at + 1;
                    }
                    None => {
                        csv_record(cells.iter(), out);
                        cells.fill(Value::Null);
                        next = 0;
                    }
                });
            }
            ExportFormat::Parquet => {
                if let Some(p) = self.parquet.as_mut() {
                    p.rows(batch.len(), |field| batch.visit(field), out)?;
                }
            }
        }
        Ok(())
    }

    /// What ends a complete body: Parquet's footer; nothing for the text formats.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if let Some(p) = self.parquet.as_mut() {
            p.finish(out)?;
        }
        Ok(())
    }

    /// The format it writes.
    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// The last line of an NDJSON body that failed part-way: the error's JSON. CSV and
    /// Parquet have no place for one; their bodies just end early (see docs/export.md).
    /// Needs only the format: a stream's encoder is on a thread of its own by then.
    pub fn failure_line(format: ExportFormat, error: &Value, out: &mut Vec<u8>) {
        if format == ExportFormat::Ndjson {
            let _ = serde_json::to_writer(&mut *out, error);
            out.push(b'\n');
        }
    }
}

/// One RFC 4180 record: fields separated by commas, quoted when they hold a comma, a
/// quote, CR or LF (quotes doubled), ended by CRLF.
fn csv_record<'a>(fields: impl Iterator<Item = &'a Value>, out: &mut Vec<u8>) {
    for (i, v) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let text = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        if text.contains([',', '"', '\r', '\n']) {
            out.push(b'"');
            let _ = out.write_all(text.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csv_quotes_what_rfc_4180_requires_and_writes_maps_as_json() {
        let mut out = Vec::new();
        let cells = [
            json!("a"),
            json!("/x,\"y\"\nz"),
            json!(5),
            json!({"k": "v"}),
            Value::Null,
            json!("plain text"),
        ];
        csv_record(cells.iter(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,\"/x,\"\"y\"\"\nz\",5,\"{\"\"k\"\":\"\"v\"\"}\",,plain text\r\n"
        );
    }

    #[test]
    fn only_ndjson_has_an_error_line() {
        let layout = Layout {
            columns: vec![ExportColumn::Field(crate::event::EventField::Id)],
            profile: false,
            meta: false,
        };
        let error = json!({"error": "Service Unavailable"});
        let mut out = Vec::new();
        Encoder::failure_line(ExportFormat::Ndjson, &error, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"error\":\"Service Unavailable\"}\n"
        );
        let mut out = Vec::new();
        let mut csv = Encoder::new(ExportFormat::Csv, &layout).unwrap();
        csv.start(&mut out).unwrap();
        Encoder::failure_line(csv.format(), &error, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "id\r\n");
    }
}
