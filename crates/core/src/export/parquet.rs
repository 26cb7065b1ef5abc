//! Parquet bodies: typed columns in row groups of [`ROW_GROUP_ROWS`] rows that span
//! batches. Each column of the open row group is encoded into a buffer of its own as
//! batches arrive (compressed pages, as a file writer holds them); a full group is spliced
//! into the file and its bytes handed out, the footer last. A stream holds one row group's
//! encoded columns, and the footer's metadata grows by one entry per group, not per batch.
//!
//! Types: text as `STRING`; `createdAt` as `INT64 TIMESTAMP(MILLIS, UTC)` and `importedAt`
//! the same but optional; `duration` as `INT64`; `longitude`/`latitude` as optional
//! `DOUBLE`; `properties` as a `MAP<STRING, STRING>`; a `properties.<key>` column as
//! `STRING`; `profile` and `meta` as optional `JSON` text.

use std::sync::{Arc, Mutex};

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::column::page::{CompressedPage, PageWriteSpec, PageWriter};
use parquet::column::writer::{ColumnWriter, get_column_writer};
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterPropertiesPtr};
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, Type, TypePtr};
use serde_json::Value;

use super::Layout;
use crate::event::FieldKind;
use crate::request::ExportColumn;
use crate::shape::FieldOut;
use crate::sql::Value as V;
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

/// Rows per row group. Larger groups compress better and keep the footer's metadata (an
/// entry per group and leaf column, held until the end) small; smaller ones hold less
/// while a group is open. Chosen by measurement (docs/performance.md).
pub(super) const ROW_GROUP_ROWS: usize = 16_384;

/// The largest dictionary a column chunk keeps before it falls back to plain values. The
/// writer holds every distinct value of the open group up to this size, in one allocation
/// each, so a column of unique values (ids) costs several times this while a group fills;
/// columns of few values (names, countries, paths) stay far below it. Measured in
/// docs/performance.md: smaller files than parquet's default of 1 MiB, and less memory.
const DICTIONARY_PAGE_BYTES: usize = 128 * 1024;

/// The encoded size at which a column's data page is closed (parquet's default is 1 MiB).
/// Every leaf column of the open group buffers one page; smaller pages hold less and free
/// smaller buffers (docs/performance.md: 0.95× a SQLite Parquet stream's time, files
/// 0.04 % larger).
const DATA_PAGE_BYTES: usize = 128 * 1024;

/// A Parquet file being written batch by batch.
pub(super) struct ParquetWriter {
    writer: Option<SerializedFileWriter<Vec<u8>>>,
    /// The columns' names and kinds: the layout's columns, then `profile` and `meta` when
    /// included.
    columns: Vec<(String, Kind)>,
    props: WriterPropertiesPtr,
    /// The open row group: a writer per leaf column, in schema order.
    group: Vec<(ColumnWriter<'static>, Chunk)>,
    /// Rows in the open group.
    rows: usize,
    /// Rows per group.
    group_rows: usize,
}

/// One column chunk being encoded: the pages its column writer has produced, in file
/// order (a dictionary page first), at offsets from 0.
#[derive(Clone)]
struct Chunk(Arc<Mutex<TrackedWrite<Vec<u8>>>>);

impl Chunk {
    fn new() -> Chunk {
        Chunk(Arc::new(Mutex::new(TrackedWrite::new(Vec::new()))))
    }

    fn sink(&self) -> parquet::errors::Result<std::sync::MutexGuard<'_, TrackedWrite<Vec<u8>>>> {
        self.0
            .lock()
            .map_err(|_| ParquetError::General("a column chunk's lock is poisoned".into()))
    }

    /// The chunk's bytes, leaving it empty.
    fn take(&self) -> parquet::errors::Result<bytes::Bytes> {
        let done = std::mem::replace(&mut *self.sink()?, TrackedWrite::new(Vec::new()));
        Ok(done.into_inner()?.into())
    }
}

impl PageWriter for Chunk {
    fn write_page(&mut self, page: CompressedPage) -> parquet::errors::Result<PageWriteSpec> {
        SerializedPageWriter::new(&mut *self.sink()?).write_page(page)
    }

    fn close(&mut self) -> parquet::errors::Result<()> {
        SerializedPageWriter::new(&mut *self.sink()?).close()
    }
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

/// A cell as text: a text cell's string moved, anything else as its JSON page value
/// (a number's digits; `null` as "").
fn text(field: FieldOut<'_>) -> ByteArray {
    match field {
        FieldOut::Cell(_, V::Text(s)) => ByteArray::from(s.into_bytes()),
        other => match other.into_json() {
            Value::String(s) => ByteArray::from(s.into_bytes()),
            Value::Null => ByteArray::from(""),
            other => ByteArray::from(other.to_string().into_bytes()),
        },
    }
}

/// A timestamp cell in milliseconds: the instant its JSON page string names (also for
/// years outside 0–9999, whose strings do not parse back); a cell of another type as its
/// JSON string parses.
fn time(field: FieldOut<'_>) -> Option<i64> {
    match field {
        FieldOut::Cell(FieldKind::Timestamp | FieldKind::NullableTimestamp, V::Int(ms)) => Some(ms),
        other => other.into_json().as_str().and_then(parse_rfc3339),
    }
}

/// One batch's values of one column, with the levels Parquet needs.
#[derive(Debug)]
enum Buffer {
    Text(Vec<ByteArray>),
    Int(Vec<i64>),
    Time(Vec<i64>),
    OptionalTime(Vec<i64>, Vec<i16>),
    OptionalFloat(Vec<f64>, Vec<i16>),
    /// A map's keys and values, each entry defined (level 1) and an empty map one level-0
    /// slot; the first entry of a row starts it (repetition 0), the others continue it.
    Map(MapLevels),
    Json(Vec<ByteArray>, Vec<i16>),
}

/// A map column's two leaves (keys, values) with their levels.
#[derive(Debug, Default)]
struct MapLevels {
    keys: Vec<ByteArray>,
    values: Vec<ByteArray>,
    defs: Vec<i16>,
    reps: Vec<i16>,
}

impl Buffer {
    fn new(kind: Kind, rows: usize) -> Buffer {
        match kind {
            Kind::Text => Buffer::Text(Vec::with_capacity(rows)),
            Kind::Int => Buffer::Int(Vec::with_capacity(rows)),
            Kind::Time => Buffer::Time(Vec::with_capacity(rows)),
            Kind::OptionalTime => Buffer::OptionalTime(Vec::new(), Vec::with_capacity(rows)),
            Kind::OptionalFloat => Buffer::OptionalFloat(Vec::new(), Vec::with_capacity(rows)),
            Kind::Map => Buffer::Map(MapLevels::default()),
            Kind::Json => Buffer::Json(Vec::new(), Vec::with_capacity(rows)),
        }
    }

    /// One row's value, as the JSON page writes it.
    fn push(&mut self, field: FieldOut<'_>) {
        match self {
            Buffer::Text(v) => v.push(text(field)),
            Buffer::Int(v) => v.push(field.into_json().as_i64().unwrap_or(0)),
            Buffer::Time(v) => v.push(time(field).unwrap_or(0)),
            Buffer::OptionalTime(v, defs) => optional(v, defs, time(field)),
            Buffer::OptionalFloat(v, defs) => optional(v, defs, field.into_json().as_f64()),
            Buffer::Json(v, defs) => {
                let json = match field {
                    FieldOut::Object(o) => o.to_string(),
                    cell => cell.into_json().to_string(),
                };
                optional(v, defs, Some(ByteArray::from(json.into_bytes())));
            }
            Buffer::Map(MapLevels {
                keys,
                values,
                defs,
                reps,
            }) => {
                let start = keys.len();
                match field {
                    FieldOut::Cell(FieldKind::Map, V::Map(pairs)) => {
                        for (k, v) in crate::event::map_entries(&pairs) {
                            keys.push(ByteArray::from(k.as_str()));
                            values.push(ByteArray::from(v.as_str()));
                        }
                    }
                    other => {
                        if let Value::Object(map) = other.into_json() {
                            for (k, v) in map {
                                keys.push(ByteArray::from(k.into_bytes()));
                                values.push(ByteArray::from(v.as_str().unwrap_or("")));
                            }
                        }
                    }
                }
                let entries = keys.len() - start;
                if entries == 0 {
                    defs.push(0);
                    reps.push(0);
                }
                for i in 0..entries {
                    defs.push(1);
                    reps.push(i16::from(i > 0));
                }
            }
        }
    }

    /// A row without this field: `profile`/`meta` not found (null); for a column the value
    /// of a null cell.
    fn absent(&mut self) {
        match self {
            Buffer::Text(v) => v.push(ByteArray::from("")),
            Buffer::Int(v) | Buffer::Time(v) => v.push(0),
            Buffer::OptionalTime(v, defs) => optional(v, defs, None),
            Buffer::OptionalFloat(v, defs) => optional(v, defs, None),
            Buffer::Json(v, defs) => optional(v, defs, None),
            Buffer::Map(MapLevels { defs, reps, .. }) => {
                defs.push(0);
                reps.push(0);
            }
        }
    }

    /// Write the values to the column's leaf writers (a map has two: keys, values).
    fn write<'w>(
        self,
        leaves: &mut impl Iterator<Item = &'w mut ColumnWriter<'static>>,
        name: &str,
    ) -> parquet::errors::Result<()> {
        let mut leaf = || leaves.next().ok_or_else(|| missing(name));
        match self {
            Buffer::Text(v) => byte_arrays(leaf()?, name, &v, None, None),
            Buffer::Int(v) | Buffer::Time(v) => int64s(leaf()?, name, &v, None),
            Buffer::OptionalTime(v, defs) => int64s(leaf()?, name, &v, Some(&defs)),
            Buffer::OptionalFloat(v, defs) => match leaf()? {
                ColumnWriter::DoubleColumnWriter(w) => {
                    w.write_batch(&v, Some(&defs), None).map(drop)
                }
                _ => Err(mismatch(name)),
            },
            Buffer::Json(v, defs) => byte_arrays(leaf()?, name, &v, Some(&defs), None),
            Buffer::Map(map) => {
                let MapLevels {
                    keys,
                    values,
                    defs,
                    reps,
                } = map;
                byte_arrays(leaf()?, name, &keys, Some(&defs), Some(&reps))?;
                // Every entry has a value: one level deeper than the entry itself.
                let value_defs: Vec<i16> = defs.iter().map(|d| d * 2).collect();
                byte_arrays(leaf()?, name, &values, Some(&value_defs), Some(&reps))
            }
        }
    }
}

/// A value of an optional column: the value (when present) and its definition level.
fn optional<T>(values: &mut Vec<T>, defs: &mut Vec<i16>, value: Option<T>) {
    match value {
        Some(v) => {
            values.push(v);
            defs.push(1);
        }
        None => defs.push(0),
    }
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
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by("quarry".into())
                .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
                .set_data_page_size_limit(DATA_PAGE_BYTES)
                .build(),
        );
        let writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), props.clone())?;
        Ok(ParquetWriter {
            writer: Some(writer),
            columns,
            props,
            group: Vec::new(),
            rows: 0,
            group_rows: ROW_GROUP_ROWS,
        })
    }

    /// The same writer with row groups of `rows` rows (tests).
    #[cfg(test)]
    fn with_group_rows(mut self, rows: usize) -> ParquetWriter {
        self.group_rows = rows.max(1);
        self
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

    /// Add one batch's rows to the open row group (opening one if needed), read field by
    /// field as [`crate::exec::Batch::visit`] gives them; a group that has reached its
    /// size closes, and its bytes go to `out`. Groups close at batch boundaries only.
    pub(super) fn rows(
        &mut self,
        rows: usize,
        visit: impl FnOnce(&mut dyn FnMut(Option<(&str, FieldOut<'_>)>)),
        out: &mut Vec<u8>,
    ) -> parquet::errors::Result<()> {
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        let mut buffers: Vec<Buffer> = self
            .columns
            .iter()
            .map(|(_, kind)| Buffer::new(*kind, rows))
            .collect();
        // A row's cells come in the columns' order, then `profile` and `meta` when found;
        // a field goes to the column of its name (the next one, as a rule), and a column a
        // row leaves out gets the value of a null cell.
        let names = &self.columns;
        let mut filled = vec![false; names.len()];
        let (mut next, mut count) = (0, 0);
        visit(&mut |field| match field {
            Some((key, value)) => {
                let at = if names.get(next).is_some_and(|(name, _)| name == key) {
                    Some(next)
                } else {
                    names
                        .iter()
                        .zip(&filled)
                        .position(|((name, _), filled)| !filled && name == key)
                };
                if let (Some(at), Some(buffer)) = (at, at.and_then(|at| buffers.get_mut(at))) {
                    buffer.push(value);
                    if let Some(f) = filled.get_mut(at) {
                        *f = true;
                    }
                    next = at + 1;
                }
            }
            None => {
                for (buffer, filled) in buffers.iter_mut().zip(filled.iter_mut()) {
                    if !std::mem::take(filled) {
                        buffer.absent();
                    }
                }
                next = 0;
                count += 1;
            }
        });
        if count == 0 {
            return Ok(());
        }
        if self.group.is_empty() {
            self.group = leaves(writer.schema_descr().columns(), &self.props);
        }
        let mut leaves = self.group.iter_mut().map(|(w, _)| w);
        for (buffer, (name, _)) in buffers.into_iter().zip(&self.columns) {
            buffer.write(&mut leaves, name)?;
        }
        self.rows += count;
        if self.rows >= self.group_rows {
            self.close_group(out)?;
        }
        Ok(())
    }

    /// Splice the open row group's column chunks into the file and hand out its bytes.
    fn close_group(&mut self, out: &mut Vec<u8>) -> parquet::errors::Result<()> {
        let group = std::mem::take(&mut self.group);
        self.rows = 0;
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        if group.is_empty() {
            return Ok(());
        }
        let mut row_group = writer.next_row_group()?;
        for (column, chunk) in group {
            let closed = column.close()?;
            row_group.append_column(&chunk.take()?, closed)?;
        }
        row_group.close()?;
        Self::drain(writer, out)
    }

    /// The footer: the file is complete.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) -> parquet::errors::Result<()> {
        self.close_group(out)?;
        if let Some(mut writer) = self.writer.take() {
            writer.finish()?;
            out.append(writer.inner_mut());
        }
        Ok(())
    }
}

/// A writer per leaf column, each encoding into a chunk of its own.
fn leaves(
    descriptors: &[ColumnDescPtr],
    props: &WriterPropertiesPtr,
) -> Vec<(ColumnWriter<'static>, Chunk)> {
    descriptors
        .iter()
        .map(|d| {
            let chunk = Chunk::new();
            let writer = get_column_writer(d.clone(), props.clone(), Box::new(chunk.clone()));
            (writer, chunk)
        })
        .collect()
}

fn missing(name: &str) -> ParquetError {
    ParquetError::General(format!("no leaf column for {name}"))
}

fn mismatch(name: &str) -> ParquetError {
    ParquetError::General(format!("the leaf column of {name} has another type"))
}

/// Write `values` to a `BYTE_ARRAY` leaf.
fn byte_arrays(
    column: &mut ColumnWriter<'static>,
    name: &str,
    values: &[ByteArray],
    defs: Option<&[i16]>,
    reps: Option<&[i16]>,
) -> parquet::errors::Result<()> {
    match column {
        ColumnWriter::ByteArrayColumnWriter(w) => w.write_batch(values, defs, reps).map(drop),
        _ => Err(mismatch(name)),
    }
}

/// Write `values` to an `INT64` leaf.
fn int64s(
    column: &mut ColumnWriter<'static>,
    name: &str,
    values: &[i64],
    defs: Option<&[i16]>,
) -> parquet::errors::Result<()> {
    match column {
        ColumnWriter::Int64ColumnWriter(w) => w.write_batch(values, defs, None).map(drop),
        _ => Err(mismatch(name)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    use serde_json::json;

    use super::*;
    use crate::event::EventField;

    const COLUMNS: [EventField; 5] = [
        EventField::Id,
        EventField::CreatedAt,
        EventField::Duration,
        EventField::Properties,
        EventField::Longitude,
    ];

    /// Row `i`'s cells, in `COLUMNS`' order: some with properties (one key repeated) and a
    /// longitude, some without.
    fn cells(i: i64) -> Vec<V> {
        let properties = if i % 3 == 0 {
            V::Map(Vec::new())
        } else {
            V::Map(vec![
                ("plan".into(), format!("p{i}")),
                ("a".into(), "x".into()),
                ("plan".into(), "p0".into()),
            ])
        };
        let longitude = if i % 2 == 0 {
            V::Float(i as f64 / 2.0)
        } else {
            V::Null
        };
        vec![
            V::Text(format!("e{i}")),
            V::Int(1_704_067_200_000 + i * 1_001),
            V::Int(i),
            properties,
            longitude,
        ]
    }

    /// Feed rows `from..to` to `writer` as a batch visits them (`profile` on every fourth
    /// row), and return the JSON page's objects of those rows.
    fn batch(writer: &mut ParquetWriter, from: i64, to: i64, out: &mut Vec<u8>) -> Vec<Value> {
        let profile = json!({"id": "u1", "properties": {"plan": "pro"}});
        let mut objects = Vec::new();
        for i in from..to {
            let mut object = serde_json::Map::new();
            for (field, cell) in COLUMNS.iter().zip(cells(i)) {
                object.insert(
                    field.json().into(),
                    FieldOut::Cell(field.kind(), cell).into_json(),
                );
            }
            if i % 4 == 0 {
                object.insert("profile".into(), profile.clone());
            }
            objects.push(Value::Object(object));
        }
        let rows = usize::try_from(to - from).unwrap();
        writer
            .rows(
                rows,
                |visit| {
                    for i in from..to {
                        for (field, cell) in COLUMNS.iter().zip(cells(i)) {
                            visit(Some((field.json(), FieldOut::Cell(field.kind(), cell))));
                        }
                        if i % 4 == 0 {
                            visit(Some(("profile", FieldOut::Object(&profile))));
                        }
                        visit(None);
                    }
                },
                out,
            )
            .unwrap();
        objects
    }

    /// A value read back, as the JSON page writes it.
    fn json_of(field: &Field) -> Value {
        match field {
            Field::Str(s) => json!(s),
            Field::Long(n) => json!(n),
            Field::Double(x) => json!(x),
            Field::Null => Value::Null,
            Field::TimestampMillis(ms) => json!(crate::time::format_utc_millis(*ms)),
            Field::MapInternal(m) => Value::Object(
                m.entries()
                    .iter()
                    .map(|(k, v)| (json_of(k).as_str().unwrap().to_string(), json_of(v)))
                    .collect(),
            ),
            other => panic!("a type this test does not write: {other:?}"),
        }
    }

    /// Row groups close at the first batch boundary at or past their size, whatever the
    /// batches (so the footer grows by one entry per group, not per batch), and every row
    /// reads back as the JSON page writes it.
    #[test]
    fn row_groups_span_batches_and_hold_every_row() {
        let layout = Layout {
            columns: COLUMNS.into_iter().map(ExportColumn::Field).collect(),
            profile: true,
            meta: true,
        };
        let mut writer = ParquetWriter::new(&layout).unwrap().with_group_rows(5);
        let mut out = Vec::new();
        writer.start(&mut out).unwrap();
        let mut written = Vec::new();
        for (from, to) in [(0, 3), (3, 6), (6, 9), (9, 10), (10, 10), (10, 12)] {
            written.extend(batch(&mut writer, from, to, &mut out));
        }
        writer.finish(&mut out).unwrap();

        let reader = SerializedFileReader::new(bytes::Bytes::from(out)).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, [6, 6]);
        let read: Vec<Value> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|row| {
                let row = row.unwrap();
                let mut object = serde_json::Map::new();
                for (name, field) in row.get_column_iter() {
                    let v = json_of(field);
                    match (name.as_str(), v) {
                        // Absent from the JSON page's object, as `profile`/`meta` are when
                        // not found.
                        ("profile" | "meta", Value::Null) => {}
                        ("profile" | "meta", Value::String(text)) => {
                            object.insert(name.clone(), serde_json::from_str(&text).unwrap());
                        }
                        (_, v) => {
                            object.insert(name.clone(), v);
                        }
                    }
                }
                Value::Object(object)
            })
            .collect();
        assert_eq!(read, written);
        assert_eq!(read[1]["properties"], json!({"a": "x", "plan": "p1"}));
    }

    /// A row that lacks some cells still puts `profile` in its own column; the columns it
    /// lacks hold a null cell's value.
    #[test]
    fn a_row_without_some_cells_keeps_its_fields_in_their_columns() {
        let layout = Layout {
            columns: COLUMNS.into_iter().map(ExportColumn::Field).collect(),
            profile: true,
            meta: false,
        };
        let mut writer = ParquetWriter::new(&layout).unwrap();
        let mut out = Vec::new();
        writer.start(&mut out).unwrap();
        let profile = json!({"id": "u1"});
        writer
            .rows(
                1,
                |visit| {
                    visit(Some((
                        "id",
                        FieldOut::Cell(FieldKind::Text, V::Text("e".into())),
                    )));
                    visit(Some(("profile", FieldOut::Object(&profile))));
                    visit(None);
                },
                &mut out,
            )
            .unwrap();
        writer.finish(&mut out).unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(out)).unwrap();
        let row = reader.get_row_iter(None).unwrap().next().unwrap().unwrap();
        let read: Vec<(String, Value)> = row
            .get_column_iter()
            .map(|(name, field)| (name.clone(), json_of(field)))
            .collect();
        let expected: Vec<(String, Value)> = [
            ("id", json!("e")),
            ("createdAt", json!("1970-01-01T00:00:00.000Z")),
            ("duration", json!(0)),
            ("properties", json!({})),
            ("longitude", Value::Null),
            ("profile", json!(profile.to_string())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn an_export_without_rows_is_a_file_without_row_groups() {
        let layout = Layout {
            columns: vec![ExportColumn::Field(EventField::Id)],
            profile: false,
            meta: false,
        };
        let mut writer = ParquetWriter::new(&layout).unwrap();
        let mut out = Vec::new();
        writer.start(&mut out).unwrap();
        writer.rows(0, |_| {}, &mut out).unwrap();
        writer.finish(&mut out).unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(out)).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 0);
    }
}
