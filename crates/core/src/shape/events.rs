use serde_json::{Map, Value};

use std::borrow::Cow;
use std::collections::HashMap;

use crate::compile::{EventsPlan, Paging};
use crate::cursor::Position;
use crate::event::{EventField, FieldJson, FieldKind, field_json};
use crate::request::ExportColumn;
use crate::response::{CursorMeta, EventsMeta, EventsResponse, PageMeta};
use crate::sql::{Row, Value as V};
use crate::time::format_utc_millis;

/// Shape page rows (in `plan.columns` order) into Event objects; `profiles` and `metas`
/// are looked up by profile id and event name. Cells past the columns (the lookups' fields,
/// a keyset page's position) are not part of the object.
pub fn shape_rows(
    plan: &EventsPlan,
    rows: Vec<Row>,
    profiles: &HashMap<String, Value>,
    metas: &HashMap<String, Value>,
) -> Vec<Value> {
    let names = column_names(plan);
    rows.into_iter()
        .map(|row| {
            let mut obj = Map::new();
            visit_row(plan, &names, row, profiles, metas, |k, v| {
                obj.insert(k.to_string(), v.into_json());
            });
            Value::Object(obj)
        })
        .collect()
}

/// The object key of each column.
pub fn column_names(plan: &EventsPlan) -> Vec<Cow<'_, str>> {
    plan.columns.iter().map(ExportColumn::name).collect()
}

/// One field of an Event object as a row holds it: a cell and its field's kind, or an
/// object that `includes` looked up.
#[derive(Debug)]
pub enum FieldOut<'a> {
    /// A column's cell.
    Cell(FieldKind, V),
    /// `profile` or `meta`.
    Object(&'a Value),
}

impl FieldOut<'_> {
    /// The field's JSON value (a cell's text is moved, an object cloned).
    pub fn into_json(self) -> Value {
        match self {
            FieldOut::Cell(kind, v) => field_json(kind, v),
            FieldOut::Object(v) => v.clone(),
        }
    }
}

impl serde::Serialize for FieldOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldOut::Cell(kind, v) => FieldJson(*kind, v).serialize(ser),
            FieldOut::Object(v) => v.serialize(ser),
        }
    }
}

/// One row's Event fields, in the object's order, each as `(key, field)`: the columns,
/// then `profile` and `meta` when included and found. Every body (JSON page, NDJSON, CSV,
/// Parquet) is written from these.
pub fn visit_row<'a>(
    plan: &EventsPlan,
    names: &[Cow<'_, str>],
    row: Row,
    profiles: &'a HashMap<String, Value>,
    metas: &'a HashMap<String, Value>,
    mut field: impl FnMut(&str, FieldOut<'a>),
) {
    let text_at = |at: Option<usize>| match at.and_then(|i| row.get(i)) {
        Some(V::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let profile = plan
        .profile
        .then(|| text_at(plan.field_at(EventField::ProfileId)))
        .flatten()
        .and_then(|id| profiles.get(&id));
    let meta = plan
        .meta
        .then(|| text_at(plan.field_at(EventField::Name)))
        .flatten()
        .and_then(|n| metas.get(&n));
    for ((column, name), value) in plan.columns.iter().zip(names).zip(row) {
        let kind = match column {
            ExportColumn::Field(f) => f.kind(),
            ExportColumn::Property(_) => FieldKind::Text,
        };
        field(name, FieldOut::Cell(kind, value));
    }
    if let Some(p) = profile {
        field("profile", FieldOut::Object(p));
    }
    if let Some(m) = meta {
        field("meta", FieldOut::Object(m));
    }
}

/// The position of a keyset page's row (its last two cells).
pub fn row_position(row: &Row) -> Option<Position> {
    match row.as_slice() {
        [.., V::Int(ms), V::Text(id)] => Some(Position {
            created_at: *ms,
            id: id.clone(),
        }),
        _ => None,
    }
}

/// §5's page: the Event objects plus the total count.
pub fn shape_page(plan: &EventsPlan, data: Vec<Value>, total: u64) -> EventsResponse {
    let (page, size) = match plan.paging {
        Paging::Offset { page, limit } => (page, limit.max(1)),
        Paging::After { limit, .. } => (1, limit.max(1)),
        Paging::All { .. } => (1, (data.len() as u64).max(1)),
    };
    EventsResponse {
        meta: EventsMeta::Pages(PageMeta {
            count: data.len() as u64,
            total_count: total,
            pages: total.div_ceil(size),
            current: page,
        }),
        data,
    }
}

/// A keyset page: the Event objects, the token of the next page (`None` after the last),
/// and the total count when it was asked for.
pub fn shape_cursor_page(
    data: Vec<Value>,
    next: Option<String>,
    total: Option<u64>,
) -> EventsResponse {
    EventsResponse {
        meta: EventsMeta::Cursor(CursorMeta {
            count: data.len() as u64,
            next,
            total_count: total,
        }),
        data,
    }
}

fn text(v: V) -> Value {
    match v {
        V::Null => Value::Null,
        other => Value::String(other.into_text()),
    }
}

fn time(v: V) -> Value {
    match v {
        V::Int(ms) => Value::String(format_utc_millis(ms)),
        _ => Value::Null,
    }
}

fn flag(v: &V) -> Value {
    Value::Bool(v.as_i64() != 0)
}

/// A profile row (see [`crate::compile::compile_profiles`]) as `(id, JSON)`.
pub fn shape_profile(row: Row) -> Option<(String, Value)> {
    let mut it = row.into_iter();
    let id = it.next()?.into_text();
    let (first, last, email, avatar) = (it.next()?, it.next()?, it.next()?, it.next()?);
    let external = it.next()?;
    let props = field_json(FieldKind::Map, it.next()?);
    let created = it.next()?;
    let mut obj = Map::new();
    obj.insert("id".into(), Value::String(id.clone()));
    obj.insert("firstName".into(), text(first));
    obj.insert("lastName".into(), text(last));
    obj.insert("email".into(), text(email));
    obj.insert("avatar".into(), text(avatar));
    obj.insert("isExternal".into(), flag(&external));
    obj.insert("properties".into(), props);
    obj.insert("createdAt".into(), time(created));
    Some((id, Value::Object(obj)))
}

/// An event_meta row (see [`crate::compile::compile_event_meta`]) as `(name, JSON)`.
pub fn shape_meta(row: Row) -> Option<(String, Value)> {
    let mut it = row.into_iter();
    let id = text(it.next()?);
    let name = it.next()?.into_text();
    let conversion = flag(&it.next()?);
    let (color, icon, project) = (text(it.next()?), text(it.next()?), text(it.next()?));
    let (created, updated) = (time(it.next()?), time(it.next()?));
    let mut obj = Map::new();
    obj.insert("id".into(), id);
    obj.insert("name".into(), Value::String(name.clone()));
    obj.insert("conversion".into(), conversion);
    obj.insert("color".into(), color);
    obj.insert("icon".into(), icon);
    obj.insert("projectId".into(), project);
    obj.insert("createdAt".into(), created);
    obj.insert("updatedAt".into(), updated);
    Some((name, Value::Object(obj)))
}
