//! Import round trips: what goes in through a backend's import path comes back out of
//! `GET /export/events` exactly, whatever the text holds (quotes, tabs, newlines,
//! backslashes, COPY's own `\N` and `\.` markers, SQL, JSON, any Unicode), and importing
//! the same events again stores nothing twice.
use crate::*;
use quarry_core::event::{NewEvent, NewProfile};
use serde_json::{Value, json};

const NOW: &str = "2024-05-01T00:00:00Z";
const UTC: chrono_tz::Tz = chrono_tz::UTC;

/// Every extra field, so the response carries every column of §2.1.
const ALL_FIELDS: &str = r#"includes=["properties","sessionId","region","longitude","latitude","osVersion","browserVersion","device","brand","model","origin","referrer","referrerName","referrerType","sdkName","sdkVersion","importedAt"]"#;

/// Text that breaks naive escaping somewhere: SQL quoting, COPY's text format (tab,
/// newline, carriage return, backslash, `\N` = NULL, `\.` = end of data), JSON, and
/// Unicode beyond the BMP.
pub const HOSTILE: [&str; 14] = [
    r#"O'Brien said "hi" `x`"#,
    "tab\there",
    "line\nbreak",
    "carriage\rreturn\r\n",
    r"back\slash\\double\",
    r"\N",
    r"\.",
    "\\.\nend",
    r#"{"json": "looks like", "n": 1}"#,
    "'; DROP TABLE events; --",
    "Ünïcødé ✓ 日本語 😀 \u{200b}\u{feff}",
    "   padded   ",
    "%_*?[]()$^|+{}",
    "\u{1}\u{7}\u{1b}[31mcontrol\u{7f}",
];

/// The JSON an event with every field included must come back as (§5, field order of
/// §2.1), written from the event's own values.
fn expected_json(e: &NewEvent) -> Value {
    let coord = |c: Option<f64>| c.map_or(Value::Null, |f| json!(f));
    json!({
        "id": e.id,
        "name": e.name,
        "deviceId": e.device_id,
        "profileId": e.profile_id,
        "projectId": e.project_id,
        "sessionId": e.session_id,
        "properties": e.properties,
        "createdAt": quarry_core::time::format_utc_millis(e.created_at),
        "country": e.country,
        "city": e.city,
        "region": e.region,
        "longitude": coord(e.longitude),
        "latitude": coord(e.latitude),
        "os": e.os,
        "osVersion": e.os_version,
        "browser": e.browser,
        "browserVersion": e.browser_version,
        "device": e.device,
        "brand": e.brand,
        "model": e.model,
        "duration": e.duration,
        "path": e.path,
        "origin": e.origin,
        "referrer": e.referrer,
        "referrerName": e.referrer_name,
        "referrerType": e.referrer_type,
        "sdkName": e.sdk_name,
        "sdkVersion": e.sdk_version,
        "importedAt": e.imported_at.map(quarry_core::time::format_utc_millis),
    })
}

/// An event whose every text column (and a property key and value) holds `h`.
fn hostile_event(i: usize, h: &str) -> NewEvent {
    let mut e = ev(&format!("h{i:02}"), h, "2024-04-15T12:00:00.000Z");
    e.created_at += i as i64;
    e.device_id = h.into();
    e.profile_id = h.into();
    e.session_id = h.into();
    e.properties = props(&[(h, h), ("plain", h), ("k", "v")]);
    e.country = h.into();
    e.city = h.into();
    e.region = h.into();
    e.os = h.into();
    e.os_version = h.into();
    e.browser = h.into();
    e.browser_version = h.into();
    e.device = h.into();
    e.brand = h.into();
    e.model = h.into();
    e.path = h.into();
    e.origin = h.into();
    e.referrer = h.into();
    e.referrer_name = h.into();
    e.referrer_type = h.into();
    e.sdk_name = h.into();
    e.sdk_version = h.into();
    e
}

/// Every column of every hostile event reads back byte for byte, and filters find each
/// one by its exact text.
pub async fn hostile_text_round_trips(b: &dyn Backend) {
    let store = b.fresh().await;
    let rows: Vec<NewEvent> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, h)| hostile_event(i, h))
        .collect();
    assert_eq!(store.insert_events(&rows).await.unwrap(), rows.len() as u64);

    let out = events(&store, &format!("{ALL_FIELDS}&limit=100"), UTC, NOW).await;
    // Newest first: h13 … h00 (one millisecond apart).
    let expected: Vec<Value> = rows.iter().rev().map(expected_json).collect();
    assert_eq!(out["data"], Value::Array(expected));

    for (i, h) in HOSTILE.iter().enumerate() {
        let filters = json!([
            {"name": "path", "operator": "is", "value": [h]},
            {"name": format!("properties.{h}"), "operator": "is", "value": [h]}
        ]);
        let qs = format!("filters={}", url_enc(&filters.to_string()));
        let out = events(&store, &qs, UTC, NOW).await;
        assert_eq!(data_ids(&out), vec![format!("h{i:02}")], "{h:?}");
    }
}

/// A long value, every code point class, and many properties on one event.
pub async fn large_values_round_trip(b: &dyn Backend) {
    let store = b.fresh().await;
    let long: String = HOSTILE.concat().repeat(200);
    let mut e = ev("big", "big", "2024-04-15T12:00:00.000Z");
    e.path = long.clone();
    e.properties = (0..300)
        .map(|i| {
            (
                format!("key.{i:03}"),
                format!("{i}{}", HOSTILE[i % HOSTILE.len()]),
            )
        })
        .collect();
    e.properties.insert("long".into(), long.clone());
    store.insert_events(std::slice::from_ref(&e)).await.unwrap();
    let out = events(&store, ALL_FIELDS, UTC, NOW).await;
    assert_eq!(out["data"], json!([expected_json(&e)]));
}

/// Numbers keep their exact values: coordinates as doubles (shortest text), durations
/// as 64-bit integers, timestamps to the millisecond, `importedAt` when given.
pub async fn numbers_and_times_round_trip(b: &dyn Backend) {
    let store = b.fresh().await;
    let mut rows = Vec::new();
    for (i, (lon, lat, duration, at)) in [
        (Some(18.0686), Some(59.3293), 0, "1970-01-01T00:00:00.000Z"),
        (
            Some(-0.1),
            Some(0.30000000000000004),
            1,
            "1999-12-31T23:59:59.999Z",
        ),
        (
            Some(-179.999999),
            Some(-89.9999999),
            -5,
            "2000-01-01T00:00:00.001Z",
        ),
        (
            Some(1e-7),
            None,
            9_007_199_254_740_993,
            "2024-02-29T12:34:56.789Z",
        ),
        (
            None,
            Some(123456.789012345),
            i64::MAX,
            "2038-01-19T03:14:08.000Z",
        ),
        (None, None, i64::MIN, "2100-03-01T00:00:00.999Z"),
        // The ends of ClickHouse's DateTime64 range.
        (Some(0.0), Some(0.25), 7, "1900-01-01T00:00:00.000Z"),
        (Some(5e-324), Some(f64::MAX), 8, "2299-12-31T23:59:59.999Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = ev(&format!("n{i}"), "num", at);
        e.longitude = lon;
        e.latitude = lat;
        e.duration = duration;
        e.imported_at = (i % 2 == 0).then(|| ms("2024-04-30T08:00:00.123Z") + i as i64);
        rows.push(e);
    }
    store.insert_events(&rows).await.unwrap();
    // No date parameters: no time window. Newest first.
    let out = events(&store, ALL_FIELDS, UTC, NOW).await;
    let mut expected: Vec<&NewEvent> = rows.iter().collect();
    expected.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    let expected: Vec<Value> = expected.into_iter().map(expected_json).collect();
    assert_eq!(out["data"], Value::Array(expected));
}

/// Importing the same events again stores nothing; a batch repeating an id stores it once;
/// new events in a repeated file are still stored.
pub async fn reimport_is_harmless(b: &dyn Backend) {
    let store = b.fresh().await;
    let first: Vec<NewEvent> = (0..5)
        .map(|i| ev(&format!("r{i}"), "x", "2024-04-15T12:00:00.000Z"))
        .collect();
    assert_eq!(store.insert_events(&first).await.unwrap(), 5);
    assert_eq!(store.insert_events(&first).await.unwrap(), 0);
    // r0 again (with other values: the stored row wins), r5 twice, r6 once → 2 stored.
    let mut changed = ev("r0", "changed", "2024-04-15T13:00:00.000Z");
    changed.path = "/changed".into();
    let second = vec![
        changed,
        ev("r5", "x", "2024-04-15T12:00:00.000Z"),
        ev("r5", "x", "2024-04-15T12:00:00.000Z"),
        ev("r6", "x", "2024-04-15T12:00:00.000Z"),
    ];
    assert_eq!(store.insert_events(&second).await.unwrap(), 2);
    assert_eq!(store.raw_event_count().await, 7);
    let out = events(&store, "event=changed", UTC, NOW).await;
    assert_eq!(out["meta"]["totalCount"], json!(0));
    // An empty batch is fine.
    assert_eq!(store.insert_events(&[]).await.unwrap(), 0);
}

/// A large load (the one that defers index maintenance, and on PostgreSQL copies
/// straight into an empty table) stores what a batch insert stores: hostile text and
/// extreme numbers read back exactly; an id repeated within the load is stored once, the
/// first row given with it kept; a second large load into the now non-empty table skips
/// stored ids; and the indexes answer queries afterwards.
pub async fn large_load_round_trips(b: &dyn Backend) {
    let store = b.fresh().await;
    let hostile: Vec<NewEvent> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, h)| hostile_event(i, h))
        .collect();
    let mut repeat = hostile_event(0, "a later row with the first id");
    repeat.name = "repeat".into();
    let mut far = ev("far", "far", "1900-01-01T00:00:00.000Z");
    far.duration = i64::MIN;
    far.longitude = Some(5e-324);
    far.imported_at = Some(ms("2299-12-31T23:59:59.999Z"));
    let batches = vec![hostile.clone(), vec![repeat, far.clone()]];
    let n = hostile.len() as u64;
    assert_eq!(store.load_events(&batches, true).await.unwrap(), n + 1);
    assert_eq!(store.raw_event_count().await, n as i64 + 1);
    let out = events(&store, &format!("{ALL_FIELDS}&limit=100"), UTC, NOW).await;
    let mut expected: Vec<Value> = hostile.iter().rev().map(expected_json).collect();
    expected.push(expected_json(&far));
    assert_eq!(out["data"], Value::Array(expected));
    let out = events(&store, "event=repeat", UTC, NOW).await;
    assert_eq!(out["meta"]["totalCount"], json!(0));

    // Into a table that holds rows: stored ids are skipped.
    let again = vec![vec![
        hostile_event(1, "changed"),
        ev("new", "x", "2024-04-16T12:00:00.000Z"),
    ]];
    assert_eq!(store.load_events(&again, true).await.unwrap(), 1);
    assert_eq!(store.raw_event_count().await, n as i64 + 2);
    let out = events(&store, "event=x", UTC, NOW).await;
    assert_eq!(data_ids(&out), vec!["new".to_string()]);
    // The unique index is back: a plain insert of a stored id stores nothing.
    assert_eq!(store.insert_events(&hostile[..2]).await.unwrap(), 0);
}

/// A large load that fails (its unit dropped without a commit) leaves the table as it
/// was: rows, unique ids and indexes. A store without load units (ClickHouse) keeps what
/// it wrote, so this holds where writes are atomic.
pub async fn failed_large_load_leaves_nothing(b: &dyn Backend) {
    let store = b.fresh().await;
    let before = vec![
        ev("kept1", "x", "2024-04-15T12:00:00.000Z"),
        ev("kept2", "x", "2024-04-15T13:00:00.000Z"),
    ];
    assert_eq!(store.insert_events(&before).await.unwrap(), 2);
    let batches = vec![vec![ev("lost", "y", "2024-04-15T14:00:00.000Z")]];
    if store.load_events(&batches, false).await.unwrap() != 0 {
        return; // Not atomic: nothing to roll back.
    }
    assert_eq!(store.raw_event_count().await, 2);
    assert_eq!(store.insert_events(&before).await.unwrap(), 0);
    let out = events(&store, "event=x", UTC, NOW).await;
    assert_eq!(
        data_ids(&out),
        vec!["kept2".to_string(), "kept1".to_string()]
    );
}

/// Profiles with hostile text come back exactly under `includes=profile`, and replacing
/// a profile replaces every field.
pub async fn hostile_profiles_round_trip(b: &dyn Backend) {
    let store = b.fresh().await;
    let mut rows = Vec::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let mut e = ev(&format!("p{i:02}"), "x", "2024-04-15T12:00:00.000Z");
        e.created_at += i as i64;
        e.profile_id = format!("user {h}");
        rows.push(e);
        let profile = NewProfile {
            id: format!("user {h}"),
            project_id: "proj".into(),
            is_external: i % 2 == 0,
            first_name: h.to_string(),
            last_name: h.to_string(),
            email: h.to_string(),
            avatar: h.to_string(),
            properties: props(&[(h, h), ("n", "1")]),
            created_at: ms("2024-01-01T00:00:00.000Z") + i as i64,
        };
        // Stored twice: the second write replaces the first.
        let mut older = profile.clone();
        older.first_name = "older".into();
        older.is_external = !profile.is_external;
        older.properties = props(&[("stale", "yes")]);
        store.upsert_profile(&older).await.unwrap();
        store.upsert_profile(&profile).await.unwrap();
    }
    store.insert_events(&rows).await.unwrap();
    let out = events(&store, "includes=profile&limit=100", UTC, NOW).await;
    let data = out["data"].as_array().unwrap();
    assert_eq!(data.len(), HOSTILE.len());
    for (i, h) in HOSTILE.iter().enumerate() {
        // Newest first.
        let got = &data[HOSTILE.len() - 1 - i]["profile"];
        let want = json!({
            "id": format!("user {h}"),
            "firstName": h, "lastName": h, "email": h, "avatar": h,
            "isExternal": i % 2 == 0,
            "properties": { *h: h, "n": "1" },
            "createdAt": quarry_core::time::format_utc_millis(ms("2024-01-01T00:00:00.000Z") + i as i64),
        });
        assert_eq!(got, &want, "{h:?}");
    }
}
