//! The bodies of streamed exports: Event objects as NDJSON or CSV, written batch by batch
//! (see [`crate::exec::EventsWalk`]), byte for byte the same on every backend.

use std::io::Write as _;

use serde_json::Value;

use crate::request::ExportFormat;

/// Writes the rows of one export in one format.
#[derive(Debug, Clone)]
pub struct Encoder {
    format: ExportFormat,
    header: Vec<String>,
}

impl Encoder {
    /// An encoder for rows whose keys are `header` (see
    /// [`EventsWalk::header`](crate::exec::EventsWalk::header)).
    pub fn new(format: ExportFormat, header: Vec<String>) -> Encoder {
        Encoder { format, header }
    }

    /// What the body starts with: CSV's header row; nothing for NDJSON.
    pub fn start(&self, out: &mut Vec<u8>) {
        if self.format == ExportFormat::Csv {
            let names: Vec<Value> = self
                .header
                .iter()
                .map(|h| Value::String(h.clone()))
                .collect();
            csv_record(names.iter(), out);
        }
    }

    /// Append one batch of Event objects.
    pub fn rows(&self, rows: &[Value], out: &mut Vec<u8>) {
        for row in rows {
            match self.format {
                ExportFormat::Ndjson => {
                    // Writing a `Value` to a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut *out, row);
                    out.push(b'\n');
                }
                ExportFormat::Csv => {
                    let null = Value::Null;
                    csv_record(self.header.iter().map(|k| row.get(k).unwrap_or(&null)), out);
                }
            }
        }
    }

    /// The last line of an NDJSON body that failed part-way: the error's JSON. CSV has no
    /// place for one; its body just ends early (see docs/export.md).
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
        let enc = Encoder::new(
            ExportFormat::Csv,
            vec![
                "id".into(),
                "path".into(),
                "duration".into(),
                "properties".into(),
                "profile".into(),
            ],
        );
        let mut out = Vec::new();
        enc.start(&mut out);
        enc.rows(
            &[json!({"id": "a", "path": "/x,\"y\"\nz", "duration": 5, "properties": {"k": "v"}})],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,path,duration,properties,profile\r\na,\"/x,\"\"y\"\"\nz\",5,\"{\"\"k\"\":\"\"v\"\"}\",\r\n"
        );
    }

    #[test]
    fn ndjson_is_one_object_per_line_with_an_error_line_on_failure() {
        let enc = Encoder::new(ExportFormat::Ndjson, vec!["id".into()]);
        let mut out = Vec::new();
        enc.start(&mut out);
        enc.rows(&[json!({"id": "a"}), json!({"id": "b\n"})], &mut out);
        enc.failure(&json!({"error": "Service Unavailable"}), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\\n\"}\n{\"error\":\"Service Unavailable\"}\n"
        );
    }
}
