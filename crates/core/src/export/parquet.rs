//! Parquet bodies: typed columns, one row group per batch, bytes handed out as each row
//! group is written (the footer last), so a stream never holds more than one batch.
//!
//! Types: text as `STRING`; `createdAt` as `INT64 TIMESTAMP(MILLIS, UTC)` and `importedAt`
//! the same but optional; `duration` as `INT64`; `longitude`/`latitude` as optional
//! `DOUBLE`; `properties` as a `MAP<STRING, STRING>`; a `properties.<key>` column as
//! `STRING`; `profile` and `meta` as optional `JSON` text.

use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::types::{Type, TypePtr};
use serde_json::Value;

use super::Layout;
use crate::event::FieldKind;
use crate::request::ExportColumn;
use crate::time::parse_rfc3339;

/// How one column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Time,
    OptionalTime,
    OptionalFloat,
    Map,
    Json,
}

/// A Parquet file being written batch by batch.
pub(super) struct ParquetWriter {
    writer: Option<SerializedFileWriter<Vec<u8>>>,
    columns: Vec<(String, Kind)>,
}

impl std::fmt::Debug for ParquetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

fn kind(column: &ExportColumn) -> Kind {
    match column {
        ExportColumn::Property(_) => Kind::Text,
        ExportColumn::Field(f) => match f.kind() {
            FieldKind::Text => Kind::Text,
            FieldKind::Int => Kind::Int,
            FieldKind::Timestamp => Kind::Time,
            FieldKind::NullableTimestamp => Kind::OptionalTime,
            FieldKind::NullableFloat => Kind::OptionalFloat,
            FieldKind::Map => Kind::Map,
        },
    }
}

fn leaf(
    name: &str,
    physical: Physical,
    repetition: Repetition,
    logical: Option<LogicalType>,
) -> parquet::errors::Result<TypePtr> {
    Ok(Arc::new(
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()?,
    ))
}

fn field_type(name: &str, kind: Kind) -> parquet::errors::Result<TypePtr> {
    const OPTIONAL: Repetition = Repetition::OPTIONAL;
    const REQUIRED: Repetition = Repetition::REQUIRED;
    let millis = || Some(LogicalType::timestamp(true, TimeUnit::MILLIS));
    match kind {
        Kind::Text => leaf(
            name,
            Physical::BYTE_ARRAY,
            REQUIRED,
            Some(LogicalType::String),
        ),
        Kind::Int => leaf(name, Physical::INT64, REQUIRED, None),
        Kind::Time => leaf(name, Physical::INT64, REQUIRED, millis()),
        Kind::OptionalTime => leaf(name, Physical::INT64, OPTIONAL, millis()),
        Kind::OptionalFloat => leaf(name, Physical::DOUBLE, OPTIONAL, None),
        Kind::Json => leaf(
            name,
            Physical::BYTE_ARRAY,
            OPTIONAL,
            Some(LogicalType::Json),
        ),
        Kind::Map => {
            let key = leaf(
                "key",
                Physical::BYTE_ARRAY,
                REQUIRED,
                Some(LogicalType::String),
            )?;
            let value = leaf(
                "value",
                Physical::BYTE_ARRAY,
                OPTIONAL,
                Some(LogicalType::String),
            )?;
            let entries = Type::group_type_builder("key_value")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![key, value])
                .build()?;
            Ok(Arc::new(
                Type::group_type_builder(name)
                    .with_repetition(REQUIRED)
                    .with_logical_type(Some(LogicalType::Map))
                    .with_fields(vec![Arc::new(entries)])
                    .build()?,
            ))
        }
    }
}

fn text(v: Option<&Value>) -> ByteArray {
    match v {
        Some(Value::String(s)) => ByteArray::from(s.as_str()),
        None | Some(Value::Null) => ByteArray::from(""),
        Some(other) => ByteArray::from(other.to_string().as_str()),
    }
}

fn time(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_str).and_then(parse_rfc3339)
}

/// Values and definition levels of an optional column.
fn optional<T>(
    rows: &[Value],
    name: &str,
    get: impl Fn(&Value) -> Option<T>,
) -> (Vec<T>, Vec<i16>) {
    let mut values = Vec::new();
    let mut defs = Vec::with_capacity(rows.len());
    for row in rows {
        match row.get(name).and_then(&get) {
            Some(v) => {
                values.push(v);
                defs.push(1);
            }
            None => defs.push(0),
        }
    }
    (values, defs)
}

impl ParquetWriter {
    pub(super) fn new(layout: &Layout) -> parquet::errors::Result<ParquetWriter> {
        let mut columns: Vec<(String, Kind)> = layout
            .columns
            .iter()
            .map(|c| (c.name().into_owned(), kind(c)))
            .collect();
        for (on, name) in [(layout.profile, "profile"), (layout.meta, "meta")] {
            if on {
                columns.push((name.to_string(), Kind::Json));
            }
        }
        let fields = columns
            .iter()
            .map(|(name, kind)| field_type(name, *kind))
            .collect::<parquet::errors::Result<Vec<_>>>()?;
        let schema = Type::group_type_builder("event")
            .with_fields(fields)
            .build()?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("quarry".into())
            .build();
        let writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(props))?;
        Ok(ParquetWriter {
            writer: Some(writer),
            columns,
        })
    }

    /// Move what the writer has produced into `out`.
    fn drain(
        writer: &mut SerializedFileWriter<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> parquet::errors::Result<()> {
        writer.flush()?;
        out.append(writer.inner_mut());
        Ok(())
    }

    /// The file's leading magic bytes.
    pub(super) fn start(&mut self, out: &mut Vec<u8>) -> parquet::errors::Result<()> {
        match self.writer.as_mut() {
            Some(w) => Self::drain(w, out),
            None => Ok(()),
        }
    }

    /// One row group of these Event objects.
    pub(super) fn rows(
        &mut self,
        rows: &[Value],
        out: &mut Vec<u8>,
    ) -> parquet::errors::Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut group = writer.next_row_group()?;
        for (name, kind) in &self.columns {
            let Some(mut column) = group.next_column()? else {
                break;
            };
            write_column(&mut column, rows, name, *kind)?;
            column.close()?;
            if *kind == Kind::Map {
                // The map's second leaf: its values.
                if let Some(mut values) = group.next_column()? {
                    write_map_values(&mut values, rows, name)?;
                    values.close()?;
                }
            }
        }
        group.close()?;
        Self::drain(writer, out)
    }

    /// The footer: the file is complete.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) -> parquet::errors::Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.finish()?;
            out.append(writer.inner_mut());
        }
        Ok(())
    }
}

fn write_column(
    column: &mut SerializedColumnWriter<'_>,
    rows: &[Value],
    name: &str,
    kind: Kind,
) -> parquet::errors::Result<()> {
    match kind {
        Kind::Text => {
            let values: Vec<ByteArray> = rows.iter().map(|r| text(r.get(name))).collect();
            column
                .typed::<ByteArrayType>()
                .write_batch(&values, None, None)?;
        }
        Kind::Int => {
            let values: Vec<i64> = rows
                .iter()
                .map(|r| r.get(name).and_then(Value::as_i64).unwrap_or(0))
                .collect();
            column
                .typed::<Int64Type>()
                .write_batch(&values, None, None)?;
        }
        Kind::Time => {
            let values: Vec<i64> = rows
                .iter()
                .map(|r| time(r.get(name)).unwrap_or(0))
                .collect();
            column
                .typed::<Int64Type>()
                .write_batch(&values, None, None)?;
        }
        Kind::OptionalTime => {
            let (values, defs) = optional(rows, name, |v| time(Some(v)));
            column
                .typed::<Int64Type>()
                .write_batch(&values, Some(&defs), None)?;
        }
        Kind::OptionalFloat => {
            let (values, defs) = optional(rows, name, Value::as_f64);
            column
                .typed::<DoubleType>()
                .write_batch(&values, Some(&defs), None)?;
        }
        Kind::Json => {
            let (values, defs) = optional(rows, name, |v| {
                Some(ByteArray::from(v.to_string().as_str()))
            });
            column
                .typed::<ByteArrayType>()
                .write_batch(&values, Some(&defs), None)?;
        }
        Kind::Map => {
            let (keys, defs, reps) = map_levels(rows, name, |k, _| ByteArray::from(k));
            column
                .typed::<ByteArrayType>()
                .write_batch(&keys, Some(&defs), Some(&reps))?;
        }
    }
    Ok(())
}

fn write_map_values(
    column: &mut SerializedColumnWriter<'_>,
    rows: &[Value],
    name: &str,
) -> parquet::errors::Result<()> {
    let (values, defs, reps) = map_levels(rows, name, |_, v| ByteArray::from(v));
    // Every entry has a value: one level deeper than the entry itself.
    let defs: Vec<i16> = defs
        .into_iter()
        .map(|d| if d == 1 { 2 } else { 0 })
        .collect();
    column
        .typed::<ByteArrayType>()
        .write_batch(&values, Some(&defs), Some(&reps))?;
    Ok(())
}

/// A map leaf's values with its levels: an empty map is one level-0 slot; each entry is
/// defined (1), the first of a row starting it (repetition 0), the others continuing (1).
fn map_levels(
    rows: &[Value],
    name: &str,
    pick: impl Fn(&str, &str) -> ByteArray,
) -> (Vec<ByteArray>, Vec<i16>, Vec<i16>) {
    let (mut values, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let entries = row.get(name).and_then(Value::as_object);
        match entries {
            Some(map) if !map.is_empty() => {
                for (i, (k, v)) in map.iter().enumerate() {
                    values.push(pick(k, v.as_str().unwrap_or("")));
                    defs.push(1);
                    reps.push(i16::from(i > 0));
                }
            }
            _ => {
                defs.push(0);
                reps.push(0);
            }
        }
    }
    (values, defs, reps)
}
