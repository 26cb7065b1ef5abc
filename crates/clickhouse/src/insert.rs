//! Import rows: core's [`NewEvent`] and [`NewProfile`] as RowBinary rows of the tables in
//! `schema.rs`.

use std::collections::BTreeMap;

use clickhouse::Row;
use quarry_core::event::{NewEvent, NewProfile};
use serde::Serialize;
use uuid::Uuid;

/// The namespace of the name-based (v5) UUIDs given to event ids that are not UUIDs.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5d1f_2c8a_4b7e_4c39_9a0e_6f3b_8d21_c4e7);

/// The UUID stored for an event id: the id itself when it is a UUID (in any of the forms
/// `uuid` parses), else a v5 UUID of its text, so the same id always maps to the same UUID.
pub fn event_uuid(id: &str) -> Uuid {
    Uuid::try_parse(id).unwrap_or_else(|_| Uuid::new_v5(&EVENT_ID_NAMESPACE, id.as_bytes()))
}

/// One `events` row. Timestamps are DateTime64(3) values, i.e. milliseconds.
#[derive(Debug, Row, Serialize)]
pub struct EventRow<'a> {
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub name: &'a str,
    pub sdk_name: &'a str,
    pub sdk_version: &'a str,
    pub device_id: &'a str,
    pub profile_id: &'a str,
    pub project_id: &'a str,
    pub session_id: &'a str,
    pub path: &'a str,
    pub origin: &'a str,
    pub referrer: &'a str,
    pub referrer_name: &'a str,
    pub referrer_type: &'a str,
    pub duration: i64,
    pub properties: &'a BTreeMap<String, String>,
    pub created_at: i64,
    pub country: &'a str,
    pub city: &'a str,
    pub region: &'a str,
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
    pub os: &'a str,
    pub os_version: &'a str,
    pub browser: &'a str,
    pub browser_version: &'a str,
    pub device: &'a str,
    pub brand: &'a str,
    pub model: &'a str,
    pub imported_at: Option<i64>,
}

impl<'a> EventRow<'a> {
    /// The row of an event whose id is already mapped to `id`.
    pub fn new(e: &'a NewEvent, id: Uuid) -> Self {
        EventRow {
            id,
            name: &e.name,
            sdk_name: &e.sdk_name,
            sdk_version: &e.sdk_version,
            device_id: &e.device_id,
            profile_id: &e.profile_id,
            project_id: &e.project_id,
            session_id: &e.session_id,
            path: &e.path,
            origin: &e.origin,
            referrer: &e.referrer,
            referrer_name: &e.referrer_name,
            referrer_type: &e.referrer_type,
            duration: e.duration,
            properties: &e.properties,
            created_at: e.created_at,
            country: &e.country,
            city: &e.city,
            region: &e.region,
            longitude: e.longitude,
            latitude: e.latitude,
            os: &e.os,
            os_version: &e.os_version,
            browser: &e.browser,
            browser_version: &e.browser_version,
            device: &e.device,
            brand: &e.brand,
            model: &e.model,
            imported_at: e.imported_at,
        }
    }
}

/// One `profiles` row.
#[derive(Debug, Row, Serialize)]
pub struct ProfileRow<'a> {
    pub id: &'a str,
    pub is_external: bool,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    pub avatar: &'a str,
    pub properties: &'a BTreeMap<String, String>,
    pub project_id: &'a str,
    pub created_at: i64,
}

impl<'a> From<&'a NewProfile> for ProfileRow<'a> {
    fn from(p: &'a NewProfile) -> Self {
        ProfileRow {
            id: &p.id,
            is_external: p.is_external,
            first_name: &p.first_name,
            last_name: &p.last_name,
            email: &p.email,
            avatar: &p.avatar,
            properties: &p.properties,
            project_id: &p.project_id,
            created_at: p.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_kept_in_canonical_form() {
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(event_uuid(id).to_string(), id);
        assert_eq!(event_uuid(&id.to_uppercase()).to_string(), id);
        assert_eq!(event_uuid(&id.replace('-', "")).to_string(), id);
    }

    #[test]
    fn other_ids_map_to_stable_distinct_v5_uuids() {
        let a = event_uuid("evt_1");
        assert_eq!(a, event_uuid("evt_1"));
        assert_ne!(a, event_uuid("evt_2"));
        assert_eq!(a.get_version_num(), 5);
    }
}
