//! The bodies of streamed exports: Event objects as NDJSON, CSV (byte for byte the same on
//! every backend) or Parquet, written batch by batch (see [`crate::exec::EventsWalk`]).

use std::io::Write as _;

use serde_json::Value;

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

    /// Append one batch of Event objects (Parquet: one row group).
    pub fn rows(&mut self, rows: &[Value], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self.format {
            ExportFormat::Ndjson => {
                for row in rows {
                    // Writing a `Value` to a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut *out, row);
                    out.push(b'\n');
                }
            }
            ExportFormat::Csv => {
                let null = Value::Null;
                for row in rows {
                    csv_record(self.header.iter().map(|k| row.get(k).unwrap_or(&null)), out);
                }
            }
            ExportFormat::Parquet => {
                if let Some(p) = self.parquet.as_mut() {
                    p.rows(rows, out)?;
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

    /// The last line of an NDJSON body that failed part-way: the error's JSON. CSV and
    /// Parquet have no place for one; their bodies just end early (see docs/export.md).
    pub fn failure(&self, error: &Value, out: &mut Vec<u8>) {
        if self.format == ExportFormat::Ndjson {
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
        use crate::event::EventField::{Duration, Id, Path, Properties};
        let layout = Layout {
            columns: [Id, Path, Duration, Properties]
                .map(ExportColumn::Field)
                .to_vec(),
            profile: true,
            meta: false,
        };
        let mut enc = Encoder::new(ExportFormat::Csv, &layout).unwrap();
        let mut out = Vec::new();
        enc.start(&mut out).unwrap();
        enc.rows(
            &[json!({"id": "a", "path": "/x,\"y\"\nz", "duration": 5, "properties": {"k": "v"}})],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,path,duration,properties,profile\r\na,\"/x,\"\"y\"\"\nz\",5,\"{\"\"k\"\":\"\"v\"\"}\",\r\n"
        );
    }

    #[test]
    fn ndjson_is_one_object_per_line_with_an_error_line_on_failure() {
        let layout = Layout {
            columns: vec![ExportColumn::Field(crate::event::EventField::Id)],
            profile: false,
            meta: false,
        };
        let mut enc = Encoder::new(ExportFormat::Ndjson, &layout).unwrap();
        let mut out = Vec::new();
        enc.start(&mut out).unwrap();
        enc.rows(&[json!({"id": "a"}), json!({"id": "b\n"})], &mut out)
            .unwrap();
        enc.failure(&json!({"error": "Service Unavailable"}), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\\n\"}\n{\"error\":\"Service Unavailable\"}\n"
        );
    }
}
