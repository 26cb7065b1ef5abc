//! The Event of §2.1: its fields, the import shape (with property flattening) and the
//! profile and metadata rows that `includes` can attach.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::format::decimal_text;
use crate::time::{Ms, format_utc_millis, parse_rfc3339};

/// Every field of an exported Event, in the order of §2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventField {
    Id,
    Name,
    DeviceId,
    ProfileId,
    ProjectId,
    SessionId,
    Properties,
    CreatedAt,
    Country,
    City,
    Region,
    Longitude,
    Latitude,
    Os,
    OsVersion,
    Browser,
    BrowserVersion,
    Device,
    Brand,
    Model,
    Duration,
    Path,
    Origin,
    Referrer,
    ReferrerName,
    ReferrerType,
    SdkName,
    SdkVersion,
    ImportedAt,
}

/// How a field's value is stored and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string (empty when unknown).
    Text,
    /// An integer.
    Int,
    /// A number or null.
    NullableFloat,
    /// A timestamp in ms.
    Timestamp,
    /// A timestamp in ms or null.
    NullableTimestamp,
    /// The flat string map.
    Map,
}

impl EventField {
    /// All fields in §2.1 order.
    pub const ALL: [EventField; 29] = [
        EventField::Id,
        EventField::Name,
        EventField::DeviceId,
        EventField::ProfileId,
        EventField::ProjectId,
        EventField::SessionId,
        EventField::Properties,
        EventField::CreatedAt,
        EventField::Country,
        EventField::City,
        EventField::Region,
        EventField::Longitude,
        EventField::Latitude,
        EventField::Os,
        EventField::OsVersion,
        EventField::Browser,
        EventField::BrowserVersion,
        EventField::Device,
        EventField::Brand,
        EventField::Model,
        EventField::Duration,
        EventField::Path,
        EventField::Origin,
        EventField::Referrer,
        EventField::ReferrerName,
        EventField::ReferrerType,
        EventField::SdkName,
        EventField::SdkVersion,
        EventField::ImportedAt,
    ];

    /// The fields every exported event carries, in the order of §5.
    pub const DEFAULTS: [EventField; 12] = [
        EventField::Id,
        EventField::Name,
        EventField::DeviceId,
        EventField::ProfileId,
        EventField::ProjectId,
        EventField::CreatedAt,
        EventField::Country,
        EventField::City,
        EventField::Os,
        EventField::Browser,
        EventField::Duration,
        EventField::Path,
    ];

    /// The JSON (camelCase) name.
    pub fn json(self) -> &'static str {
        match self {
            EventField::Id => "id",
            EventField::Name => "name",
            EventField::DeviceId => "deviceId",
            EventField::ProfileId => "profileId",
            EventField::ProjectId => "projectId",
            EventField::SessionId => "sessionId",
            EventField::Properties => "properties",
            EventField::CreatedAt => "createdAt",
            EventField::Country => "country",
            EventField::City => "city",
            EventField::Region => "region",
            EventField::Longitude => "longitude",
            EventField::Latitude => "latitude",
            EventField::Os => "os",
            EventField::OsVersion => "osVersion",
            EventField::Browser => "browser",
            EventField::BrowserVersion => "browserVersion",
            EventField::Device => "device",
            EventField::Brand => "brand",
            EventField::Model => "model",
            EventField::Duration => "duration",
            EventField::Path => "path",
            EventField::Origin => "origin",
            EventField::Referrer => "referrer",
            EventField::ReferrerName => "referrerName",
            EventField::ReferrerType => "referrerType",
            EventField::SdkName => "sdkName",
            EventField::SdkVersion => "sdkVersion",
            EventField::ImportedAt => "importedAt",
        }
    }

    /// The SQL (snake_case) column, a whitelisted identifier.
    pub fn column(self) -> &'static str {
        match self {
            EventField::Id => "id",
            EventField::Name => "name",
            EventField::DeviceId => "device_id",
            EventField::ProfileId => "profile_id",
            EventField::ProjectId => "project_id",
            EventField::SessionId => "session_id",
            EventField::Properties => "properties",
            EventField::CreatedAt => "created_at",
            EventField::Country => "country",
            EventField::City => "city",
            EventField::Region => "region",
            EventField::Longitude => "longitude",
            EventField::Latitude => "latitude",
            EventField::Os => "os",
            EventField::OsVersion => "os_version",
            EventField::Browser => "browser",
            EventField::BrowserVersion => "browser_version",
            EventField::Device => "device",
            EventField::Brand => "brand",
            EventField::Model => "model",
            EventField::Duration => "duration",
            EventField::Path => "path",
            EventField::Origin => "origin",
            EventField::Referrer => "referrer",
            EventField::ReferrerName => "referrer_name",
            EventField::ReferrerType => "referrer_type",
            EventField::SdkName => "sdk_name",
            EventField::SdkVersion => "sdk_version",
            EventField::ImportedAt => "imported_at",
        }
    }

    /// How the value is stored.
    pub fn kind(self) -> FieldKind {
        match self {
            EventField::Properties => FieldKind::Map,
            EventField::CreatedAt => FieldKind::Timestamp,
            EventField::ImportedAt => FieldKind::NullableTimestamp,
            EventField::Longitude | EventField::Latitude => FieldKind::NullableFloat,
            EventField::Duration => FieldKind::Int,
            _ => FieldKind::Text,
        }
    }

    /// Look a field up by its JSON name.
    pub fn parse(s: &str) -> Option<EventField> {
        EventField::ALL.into_iter().find(|f| f.json() == s)
    }
}

/// One event as imported: every column typed, properties flattened. `Default` is an empty
/// event (no id, project or time): fill what matters with struct update syntax.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub name: String,
    pub device_id: String,
    pub profile_id: String,
    pub project_id: String,
    pub session_id: String,
    /// Flat string map, sorted by key.
    pub properties: BTreeMap<String, String>,
    pub created_at: Ms,
    pub country: String,
    pub city: String,
    pub region: String,
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
    pub os: String,
    pub os_version: String,
    pub browser: String,
    pub browser_version: String,
    pub device: String,
    pub brand: String,
    pub model: String,
    pub duration: i64,
    pub path: String,
    pub origin: String,
    pub referrer: String,
    pub referrer_name: String,
    pub referrer_type: String,
    pub sdk_name: String,
    pub sdk_version: String,
    pub imported_at: Option<Ms>,
}

/// A profile to store (the `--profiles` import shape of §9).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProfile {
    pub id: String,
    pub project_id: String,
    pub is_external: bool,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub avatar: String,
    pub properties: std::collections::BTreeMap<String, String>,
    pub created_at: i64,
}

/// An `event_meta` row to create or update (§9 `event-meta set`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEventMeta {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub conversion: bool,
    pub color: Option<String>,
    pub icon: Option<String>,
    /// Creation (or update) time, ms.
    pub at: i64,
}

/// Flatten a JSON object into the flat string map of §2.1 / §9: nested objects join keys
/// with dots, arrays use indexes, numbers become their shortest decimal text, booleans
/// `true`/`false`, and `null` leaves are dropped.
pub fn flatten_properties(value: &Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            Value::Null => {}
            Value::Bool(b) => {
                out.insert(prefix.to_string(), b.to_string());
            }
            Value::Number(n) => {
                let text = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => i.to_string(),
                    (None, Some(u), _) => u.to_string(),
                    (None, None, Some(f)) => decimal_text(f),
                    _ => n.to_string(),
                };
                out.insert(prefix.to_string(), text);
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&key(&i.to_string()), item, out);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    walk(&key(k), item, out);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Value::Object(_) | Value::Array(_) = value {
        walk("", value, &mut out);
    }
    out
}

impl NewEvent {
    /// Read one import line (the Event shape of §2.1). `default_project` applies when the
    /// line has no `projectId`; a line naming another project is rejected.
    pub fn from_json(value: &Value, default_project: Option<&str>) -> Result<NewEvent, String> {
        refuse_nul(value)?;
        let obj = value.as_object().ok_or("expected a JSON object")?;
        let text = |k: &str| -> Result<String, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(Value::Bool(b)) => Ok(b.to_string()),
                Some(_) => Err(format!("{k}: expected a string")),
            }
        };
        let float = |k: &str| -> Result<Option<f64>, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => s
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("{k}: expected a number")),
                Some(_) => Err(format!("{k}: expected a number")),
            }
        };
        let time = |k: &str| -> Result<Option<Ms>, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => parse_rfc3339(s)
                    .map(Some)
                    .ok_or_else(|| format!("{k}: expected an RFC 3339 timestamp")),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| format!("{k}: expected milliseconds since the epoch")),
                Some(_) => Err(format!("{k}: expected a timestamp")),
            }
        };
        let project_id = line_project(&text("projectId")?, default_project)?;

        let name = text("name")?;
        if name.is_empty() {
            return Err("name: missing".into());
        }
        let created_at = time("createdAt")?.ok_or("createdAt: missing")?;
        let duration = match obj.get("duration") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i,
                (None, Some(f)) if f.is_finite() => f.round() as i64,
                _ => return Err("duration: expected an integer".into()),
            },
            Some(Value::String(s)) => s.parse().map_err(|_| "duration: expected an integer")?,
            Some(_) => return Err("duration: expected an integer".into()),
        };
        let mut id = text("id")?;
        if id.is_empty() {
            id = deterministic_id(&project_id, &name, created_at, value);
        }
        Ok(NewEvent {
            id,
            name,
            device_id: text("deviceId")?,
            profile_id: text("profileId")?,
            project_id,
            session_id: text("sessionId")?,
            properties: match obj.get("properties") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(v @ (Value::Object(_) | Value::Array(_))) => flatten_properties(v),
                Some(_) => return Err("properties: expected an object".into()),
            },
            created_at,
            country: text("country")?,
            city: text("city")?,
            region: text("region")?,
            longitude: float("longitude")?,
            latitude: float("latitude")?,
            os: text("os")?,
            os_version: text("osVersion")?,
            browser: text("browser")?,
            browser_version: text("browserVersion")?,
            device: text("device")?,
            brand: text("brand")?,
            model: text("model")?,
            duration,
            path: text("path")?,
            origin: text("origin")?,
            referrer: text("referrer")?,
            referrer_name: text("referrerName")?,
            referrer_type: text("referrerType")?,
            sdk_name: text("sdkName")?,
            sdk_version: text("sdkVersion")?,
            imported_at: time("importedAt")?,
        })
    }
}

/// An import line holding a NUL character (`\u0000`), in a value or a key, is malformed on
/// every backend: PostgreSQL cannot store one, and a request can never match one (a NUL in
/// a request is a 400), so SQLite and ClickHouse refuse it too.
pub fn refuse_nul(line: &Value) -> Result<(), String> {
    // Looking costs no allocation; naming where the NUL is does, so only then.
    if !holds_nul(line) {
        return Ok(());
    }
    match nul_path(line, "") {
        Some(at) => Err(format!(
            "{}: text must not contain the NUL character (\\u0000)",
            at.trim_start_matches('.')
        )),
        None => Ok(()),
    }
}

/// The project of an imported line: its own `projectId`, else the default; a line that
/// names another project than the default is rejected (§9 `import --project`).
pub fn line_project(line: &str, default: Option<&str>) -> Result<String, String> {
    match (line, default) {
        ("", None) => Err("projectId: missing".into()),
        ("", Some(d)) => Ok(d.to_string()),
        (p, Some(d)) if p != d => Err(format!(
            "projectId: the line names project {p:?}, not {d:?}"
        )),
        (p, _) => Ok(p.to_string()),
    }
}

/// A stable UUID-shaped id for lines that carry none, so re-imports are reproducible.
fn deterministic_id(project: &str, name: &str, created_at: Ms, line: &Value) -> String {
    // FNV-1a over the line's canonical text: not cryptographic, only stable.
    let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x8422_2325_cbf2_9ce4;
    let text = format!("{project}\u{1}{name}\u{1}{created_at}\u{1}{line}");
    for b in text.bytes() {
        h1 = (h1 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        h2 = (h2 ^ u64::from(b))
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(5);
    }
    let hex = format!("{h1:016x}{h2:016x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Render a decoded value of one event field as JSON: [`FieldJson`]'s JSON, with a text
/// cell's string moved rather than copied.
pub fn field_json(kind: FieldKind, value: crate::sql::Value) -> Value {
    match (kind, value) {
        (FieldKind::Text, crate::sql::Value::Text(s)) => Value::String(s),
        (kind, value) => serde_json::to_value(FieldJson(kind, &value)).unwrap_or(Value::Null),
    }
}

/// A map cell's entries as its JSON object holds them: sorted by key, and of a repeated
/// key's pairs (adjacent once sorted) the one that sorts last.
pub fn map_entries(pairs: &[(String, String)]) -> Vec<&(String, String)> {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort_unstable();
    sorted.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
    sorted
}

/// A decoded value of one event field, serialized as its JSON straight from the cell: how
/// streamed NDJSON writes rows without building a `serde_json::Value` for each field, and
/// (through [`field_json`]) how every other body renders them, so all write the same bytes.
///
/// Timestamps (ms) are RFC 3339 UTC strings; a map's pairs are sorted, and a repeated key
/// keeps the value that sorts last; a text field is a string (`""` when null); a value of
/// the wrong type is `null`.
#[derive(Debug, Clone, Copy)]
pub struct FieldJson<'a>(pub FieldKind, pub &'a crate::sql::Value);

impl serde::Serialize for FieldJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use crate::sql::Value as V;
        use serde::ser::SerializeMap as _;
        match (self.0, self.1) {
            (FieldKind::Timestamp | FieldKind::NullableTimestamp, V::Int(ms)) => {
                ser.serialize_str(&format_utc_millis(*ms))
            }
            (FieldKind::Int, V::Int(i)) => ser.serialize_i64(*i),
            (FieldKind::Int, V::Float(f)) => ser.serialize_i64(*f as i64),
            // A non-finite float serializes as `null`.
            (FieldKind::NullableFloat, V::Float(f)) => ser.serialize_f64(*f),
            (FieldKind::NullableFloat, V::Int(i)) => ser.serialize_i64(*i),
            (FieldKind::Map, V::Map(pairs)) => {
                let sorted = map_entries(pairs);
                let mut map = ser.serialize_map(Some(sorted.len()))?;
                for (k, v) in sorted {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            (FieldKind::Map, V::Null) => ser.serialize_map(Some(0))?.end(),
            (FieldKind::Text, V::Text(s)) => ser.serialize_str(s),
            (FieldKind::Text, V::Null) => ser.serialize_str(""),
            (FieldKind::Text, V::Int(i)) => ser.collect_str(i),
            (_, _) => ser.serialize_unit(),
        }
    }
}

/// Whether a NUL character is in any string or key of `v`.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(k, item)| k.contains('\0') || holds_nul(item)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The path of the first text in `v` (a value or an object key) holding a NUL character.
///
/// PostgreSQL cannot store or compare text containing NUL, and no backend stores one (an
/// import line containing NUL is refused), so a NUL in a request is refused on every
/// backend alike rather than reaching a database.
pub fn nul_path(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\0').then(|| path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let at = format!("{path}.{k}");
            if k.contains('\0') {
                Some(at)
            } else {
                nul_path(item, &at)
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sql::Value as V;

    /// Every kind of cell, with the JSON each body writes for it: the value (JSON pages,
    /// CSV, Parquet) and the text serialized straight from the cell (NDJSON) agree.
    #[test]
    fn field_json_of_every_kind_of_cell() {
        let map = V::Map(vec![
            ("b".into(), "2".into()),
            ("a".into(), "x\"y".into()),
            ("b".into(), "1".into()),
            ("b".into(), "3".into()),
        ]);
        let cases = [
            (
                FieldKind::Timestamp,
                V::Int(1_711_929_600_123),
                r#""2024-04-01T00:00:00.123Z""#,
            ),
            (FieldKind::NullableTimestamp, V::Null, "null"),
            (FieldKind::Int, V::Int(-7), "-7"),
            (FieldKind::Int, V::Float(2.9), "2"),
            (FieldKind::NullableFloat, V::Float(1.5), "1.5"),
            (FieldKind::NullableFloat, V::Float(3.0), "3.0"),
            (FieldKind::NullableFloat, V::Float(f64::NAN), "null"),
            (FieldKind::NullableFloat, V::Int(4), "4"),
            (FieldKind::NullableFloat, V::Null, "null"),
            (FieldKind::Map, map, r#"{"a":"x\"y","b":"3"}"#),
            (FieldKind::Map, V::Null, "{}"),
            (
                FieldKind::Text,
                V::Text("é\n\u{0}".into()),
                r#""é\n\u0000""#,
            ),
            (FieldKind::Text, V::Null, r#""""#),
            (FieldKind::Text, V::Int(12), r#""12""#),
            (FieldKind::Text, V::Float(1.0), "null"),
        ];
        for (kind, cell, want) in cases {
            let direct = serde_json::to_string(&FieldJson(kind, &cell)).unwrap();
            assert_eq!(direct, want, "{kind:?} {cell:?}");
            let value = serde_json::to_string(&field_json(kind, cell)).unwrap();
            assert_eq!(value, want);
        }
    }
}
