use serde_json::{Map, Value};

use crate::compile::EventsPlan;
use crate::event::{EventField, field_json};
use crate::response::{EventsMeta, EventsResponse};
use crate::sql::{Row, Value as V};
use crate::time::format_utc_millis;

/// Shape page rows (in `plan.fields` order) plus the total count; `profiles` and `metas`
/// are looked up by profile id and event name.
pub fn shape_events(
    plan: &EventsPlan,
    rows: Vec<Row>,
    total: u64,
    profiles: &std::collections::HashMap<String, Value>,
    metas: &std::collections::HashMap<String, Value>,
) -> EventsResponse {
    let profile_at = plan.fields.iter().position(|f| *f == EventField::ProfileId);
    let name_at = plan.fields.iter().position(|f| *f == EventField::Name);
    let data: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let mut obj = Map::new();
            let mut profile_id = None;
            let mut name = None;
            for (i, (field, value)) in plan.fields.iter().zip(row).enumerate() {
                let json = field_json(field.kind(), value);
                if Some(i) == profile_at {
                    profile_id = json.as_str().map(str::to_string);
                }
                if Some(i) == name_at {
                    name = json.as_str().map(str::to_string);
                }
                obj.insert(field.json().to_string(), json);
            }
            if plan.profile {
                if let Some(p) = profile_id.and_then(|id| profiles.get(&id)) {
                    obj.insert("profile".into(), p.clone());
                }
            }
            if plan.meta {
                if let Some(m) = name.and_then(|n| metas.get(&n)) {
                    obj.insert("meta".into(), m.clone());
                }
            }
            Value::Object(obj)
        })
        .collect();
    let size = plan.page_size.max(1);
    EventsResponse {
        meta: EventsMeta {
            count: data.len() as u64,
            total_count: total,
            pages: total.div_ceil(size),
            current: plan.page_number,
        },
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
    let props = field_json(crate::event::FieldKind::Map, it.next()?);
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
