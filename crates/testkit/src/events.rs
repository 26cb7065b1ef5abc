//! `GET /export/events` (§5) executed on every backend: fields and their order, includes,
//! profile and meta objects, the total order and paging, event/date/profile filters,
//! timezones and project scoping. Expected JSON is written out by hand.
use crate::*;
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use serde_json::{Value, json};

const NOW: &str = "2024-05-01T00:00:00Z";
const UTC: chrono_tz::Tz = chrono_tz::UTC;

// event_meta ids are UUIDs (§9; PostgreSQL and OpenPanel store them as uuid).
const META_SIGN_UP: &str = "6f0e2d3c-0000-4000-8000-000000000001";
const META_PURCHASE: &str = "6f0e2d3c-0000-4000-8000-000000000002";
const META_OTHER: &str = "6f0e2d3c-0000-4000-8000-000000000003";

async fn run(store: &dyn Db, qs: &str) -> Value {
    events(store, qs, UTC, NOW).await
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// An event with every field set to something recognizable.
fn full_event() -> NewEvent {
    let mut e = ev("e1", "screen_view", "2024-04-15T12:34:56.789Z");
    e.device_id = "dev-1".into();
    e.profile_id = "u1".into();
    e.session_id = "s1".into();
    e.properties = props(&[("plan", "pro"), ("__query.utm_source", "google")]);
    e.country = "SE".into();
    e.city = "Stockholm".into();
    e.region = "Stockholm County".into();
    e.longitude = None;
    e.latitude = Some(59.33);
    e.os = "iOS".into();
    e.os_version = "17.4".into();
    e.browser = "Safari".into();
    e.duration = 1234;
    e.path = "/home".into();
    e.origin = "https://example.com".into();
    e
}

const DEFAULT_KEYS: [&str; 12] = [
    "id",
    "name",
    "deviceId",
    "profileId",
    "projectId",
    "createdAt",
    "country",
    "city",
    "os",
    "browser",
    "duration",
    "path",
];

pub async fn default_fields_in_contract_order(b: &dyn Backend) {
    let store = b.fresh().await;
    store.insert_events(&[full_event()]).await.unwrap();
    let out = run(&store, "").await;
    // The twelve default fields of §5, in that order, createdAt with milliseconds and Z.
    let expected = r#"{"id":"e1","name":"screen_view","deviceId":"dev-1","profileId":"u1","projectId":"proj","createdAt":"2024-04-15T12:34:56.789Z","country":"SE","city":"Stockholm","os":"iOS","browser":"Safari","duration":1234,"path":"/home"}"#;
    assert_eq!(serde_json::to_string(&out["data"][0]).unwrap(), expected);
    // meta: one row, one page of the default size 50.
    assert_eq!(
        serde_json::to_string(&out["meta"]).unwrap(),
        r#"{"count":1,"totalCount":1,"pages":1,"current":1}"#
    );
    // Top-level key order: meta, then data.
    assert_eq!(keys(&out), vec!["meta", "data"]);
}

pub async fn createdat_formatting_keeps_milliseconds(b: &dyn Backend) {
    let store = b.fresh().await;
    store
        .insert_events(&[
            ev("a", "x", "2024-04-15T12:34:56.000Z"),
            ev("b", "x", "2024-04-15T12:34:56.007Z"),
            ev("c", "x", "1999-12-31T23:59:59.999Z"),
            ev("d", "x", "1969-12-31T23:59:59.999Z"),
        ])
        .await
        .unwrap();
    let out = run(&store, "").await;
    // Newest first; always three millisecond digits, always Z.
    let got: Vec<&Value> = out["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["createdAt"])
        .collect();
    assert_eq!(
        got,
        vec![
            &json!("2024-04-15T12:34:56.007Z"),
            &json!("2024-04-15T12:34:56.000Z"),
            &json!("1999-12-31T23:59:59.999Z"),
            &json!("1969-12-31T23:59:59.999Z")
        ]
    );
}

pub async fn includes_add_fields(b: &dyn Backend) {
    let store = b.fresh().await;
    store.insert_events(&[full_event()]).await.unwrap();
    let defaults = json!({
        "id": "e1", "name": "screen_view", "deviceId": "dev-1", "profileId": "u1",
        "projectId": "proj", "createdAt": "2024-04-15T12:34:56.789Z", "country": "SE",
        "city": "Stockholm", "os": "iOS", "browser": "Safari", "duration": 1234,
        "path": "/home"
    });
    let with = |extra: Value| {
        let mut obj = defaults.as_object().unwrap().clone();
        for (k, v) in extra.as_object().unwrap() {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    };

    // Comma list: the defaults plus each named field; longitude unset is null, the
    // property map is flat (dotted key kept).
    let out = run(
        &store,
        "includes=properties,sessionId,region,longitude,latitude,osVersion,origin,importedAt",
    )
    .await;
    let row = &out["data"][0];
    assert_eq!(
        row,
        &with(json!({
            "sessionId": "s1",
            "properties": {"__query.utm_source": "google", "plan": "pro"},
            "region": "Stockholm County",
            "longitude": null,
            "latitude": 59.33,
            "osVersion": "17.4",
            "origin": "https://example.com",
            "importedAt": null
        }))
    );
    // The twelve defaults keep their order at the front.
    assert_eq!(&keys(row)[..12], &DEFAULT_KEYS.map(String::from)[..]);

    // Repeated keys and a JSON array name fields the same way.
    let out = run(&store, "includes=properties&includes=sessionId").await;
    assert_eq!(
        out["data"][0],
        with(json!({
            "sessionId": "s1",
            "properties": {"__query.utm_source": "google", "plan": "pro"}
        }))
    );
    let out = run(&store, &format!("includes={}", url_enc(r#"["region"]"#))).await;
    assert_eq!(out["data"][0], with(json!({"region": "Stockholm County"})));
    // Naming a default field adds nothing and does not move it.
    let out = run(&store, "includes=country").await;
    assert_eq!(
        serde_json::to_string(&out["data"][0]).unwrap(),
        serde_json::to_string(&defaults).unwrap()
    );
}

pub async fn unknown_include_is_rejected(_b: &dyn Backend) {
    // An unknown includes value is a 400 naming the parameter.
    let err = quarry_core::decode::decode_events(
        "includes=profile,bogus",
        quarry_core::decode::Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.details.len(), 1);
    assert_eq!(err.details[0].param, "includes");
}

async fn profile_and_meta_store(b: &dyn Backend) -> Box<dyn Db> {
    let store = b.fresh().await;
    let mk = |id: &str, name: &str, at: &str, profile: &str| {
        let mut e = ev(id, name, at);
        e.profile_id = profile.into();
        e
    };
    store
        .insert_events(&[
            mk("e1", "sign_up", "2024-04-15T12:00:03.000Z", "u1"),
            mk("e2", "screen_view", "2024-04-15T12:00:02.000Z", "u2"),
            mk("e3", "purchase", "2024-04-15T12:00:01.000Z", ""),
            mk("e4", "screen_view", "2024-04-15T12:00:00.000Z", "u1"),
        ])
        .await
        .unwrap();
    store
        .upsert_profile(&NewProfile {
            id: "u1".into(),
            project_id: "proj".into(),
            is_external: true,
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            avatar: "https://example.com/a.png".into(),
            properties: props(&[("plan", "pro")]),
            created_at: ms("2024-01-02T03:04:05.006Z"),
        })
        .await
        .unwrap();
    // u2 exists only in another project: it must not be attached.
    store
        .upsert_profile(&NewProfile {
            id: "u2".into(),
            project_id: "other".into(),
            is_external: false,
            first_name: "Eve".into(),
            last_name: "Intruder".into(),
            email: "eve@example.com".into(),
            avatar: String::new(),
            properties: Default::default(),
            created_at: ms("2024-01-01T00:00:00.000Z"),
        })
        .await
        .unwrap();
    store
        .set_event_meta(&NewEventMeta {
            id: META_SIGN_UP.into(),
            name: "sign_up".into(),
            project_id: "proj".into(),
            conversion: true,
            color: Some("#ff0000".into()),
            icon: Some("star".into()),
            at: ms("2024-02-03T04:05:06.007Z"),
        })
        .await
        .unwrap();
    store
        .set_event_meta(&NewEventMeta {
            id: META_PURCHASE.into(),
            name: "purchase".into(),
            project_id: "proj".into(),
            conversion: false,
            color: None,
            icon: None,
            at: ms("2024-02-04T00:00:00.000Z"),
        })
        .await
        .unwrap();
    // screen_view has metadata only in another project.
    store
        .set_event_meta(&NewEventMeta {
            id: META_OTHER.into(),
            name: "screen_view".into(),
            project_id: "other".into(),
            conversion: true,
            color: Some("#000000".into()),
            icon: None,
            at: ms("2024-02-05T00:00:00.000Z"),
        })
        .await
        .unwrap();
    store
}

fn base(id: &str, name: &str, at: &str, profile: &str) -> serde_json::Map<String, Value> {
    json!({
        "id": id, "name": name, "deviceId": format!("dev-{id}"), "profileId": profile,
        "projectId": "proj", "createdAt": at, "country": "", "city": "", "os": "",
        "browser": "", "duration": 0, "path": ""
    })
    .as_object()
    .unwrap()
    .clone()
}

pub async fn profile_and_meta_objects(b: &dyn Backend) {
    let store = profile_and_meta_store(b).await;
    let ada = json!({
        "id": "u1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "avatar": "https://example.com/a.png", "isExternal": true,
        "properties": {"plan": "pro"}, "createdAt": "2024-01-02T03:04:05.006Z"
    });
    let sign_up_meta = json!({
        "id": META_SIGN_UP, "name": "sign_up", "conversion": true, "color": "#ff0000",
        "icon": "star", "projectId": "proj", "createdAt": "2024-02-03T04:05:06.007Z",
        "updatedAt": "2024-02-03T04:05:06.007Z"
    });
    let purchase_meta = json!({
        "id": META_PURCHASE, "name": "purchase", "conversion": false, "color": null,
        "icon": null, "projectId": "proj", "createdAt": "2024-02-04T00:00:00.000Z",
        "updatedAt": "2024-02-04T00:00:00.000Z"
    });

    let out = run(&store, "includes=profile,meta").await;
    // e1: u1's profile and sign_up's meta; e2: u2 has no row in this project, screen_view
    // has no meta here → neither key; e3: no profile id, purchase meta with nulls;
    // e4: u1 again, no meta.
    let mut e1 = base("e1", "sign_up", "2024-04-15T12:00:03.000Z", "u1");
    e1.insert("profile".into(), ada.clone());
    e1.insert("meta".into(), sign_up_meta.clone());
    let e2 = base("e2", "screen_view", "2024-04-15T12:00:02.000Z", "u2");
    let mut e3 = base("e3", "purchase", "2024-04-15T12:00:01.000Z", "");
    e3.insert("meta".into(), purchase_meta);
    let mut e4 = base("e4", "screen_view", "2024-04-15T12:00:00.000Z", "u1");
    e4.insert("profile".into(), ada.clone());
    assert_eq!(
        out["data"],
        json!([
            Value::Object(e1),
            Value::Object(e2),
            Value::Object(e3),
            Value::Object(e4)
        ])
    );
    // Key order inside the objects follows §5 / §2.2.
    assert_eq!(
        keys(&out["data"][0]["profile"]),
        vec![
            "id",
            "firstName",
            "lastName",
            "email",
            "avatar",
            "isExternal",
            "properties",
            "createdAt"
        ]
    );
    assert_eq!(
        keys(&out["data"][0]["meta"]),
        vec![
            "id",
            "name",
            "conversion",
            "color",
            "icon",
            "projectId",
            "createdAt",
            "updatedAt"
        ]
    );
    // profile and meta come after the fields.
    assert_eq!(&keys(&out["data"][0])[12..], &["profile", "meta"]);

    // Without includes neither object appears; with only meta, no profile.
    let plain = run(&store, "").await;
    assert!(plain["data"].as_array().unwrap().iter().all(|e| {
        let o = e.as_object().unwrap();
        !o.contains_key("profile") && !o.contains_key("meta")
    }));
    let only_meta = run(&store, "includes=meta").await;
    assert_eq!(only_meta["data"][0]["meta"], sign_up_meta);
    assert!(only_meta["data"][3].get("profile").is_none());
    assert!(only_meta["data"][0].get("profile").is_none());
    // includes as a JSON array with a field too.
    let arr = run(
        &store,
        &format!("includes={}", url_enc(r#"["profile","sessionId"]"#)),
    )
    .await;
    assert_eq!(arr["data"][3]["profile"], ada);
    assert_eq!(arr["data"][3]["sessionId"], json!(""));
    assert!(arr["data"][0].get("meta").is_none());
}

/// Seven events with ties, inserted out of order.
async fn seven(b: &dyn Backend) -> Box<dyn Db> {
    let store = b.fresh().await;
    store
        .insert_events(&[
            ev("b", "x", "2024-04-15T12:00:00.000Z"),
            ev("g", "x", "2024-04-15T10:00:00.000Z"),
            ev("f", "x", "2024-04-15T13:00:00.000Z"),
            ev("a", "x", "2024-04-15T12:00:00.000Z"),
            ev("d", "x", "2024-04-15T11:00:00.000Z"),
            ev("c", "x", "2024-04-15T12:00:00.000Z"),
            ev("e", "x", "2024-04-15T13:00:00.000Z"),
        ])
        .await
        .unwrap();
    store
}

pub async fn order_is_created_at_desc_then_id_asc(b: &dyn Backend) {
    let store = seven(b).await;
    // 13:00 {e,f}, 12:00 {a,b,c}, 11:00 d, 10:00 g; ties by id ascending.
    let out = run(&store, "").await;
    assert_eq!(data_ids(&out), vec!["e", "f", "a", "b", "c", "d", "g"]);
}

pub async fn pages_never_repeat_or_skip(b: &dyn Backend) {
    let store = seven(b).await;
    // Without and with a time window (with one, ClickHouse reads a page in its table's
    // order and falls back to §5's statement when a time is shared across its border).
    for window in ["", "&start=2024-04-15T00:00:00Z&end=2024-04-15T23:59:59Z"] {
        // limit 2 over 7 rows: pages [e,f] [a,b] [c,d] [g], then empty; pages = ceil(7/2).
        let expected_pages: [&[&str]; 5] = [&["e", "f"], &["a", "b"], &["c", "d"], &["g"], &[]];
        let mut walked = Vec::new();
        for (i, want) in expected_pages.iter().enumerate() {
            let page = i + 1;
            let out = run(&store, &format!("limit=2&page={page}{window}")).await;
            assert_eq!(data_ids(&out), want.to_vec(), "page {page}{window}");
            assert_eq!(
                out["meta"],
                json!({"count": want.len(), "totalCount": 7, "pages": 4, "current": page})
            );
            walked.extend(data_ids(&out));
        }
        assert_eq!(walked, vec!["e", "f", "a", "b", "c", "d", "g"]);

        // limit 3: [e,f,a] [b,c,d] [g]; the tie group a,b,c spans a page boundary intact.
        let mut walked = Vec::new();
        for page in 1..=3 {
            let out = run(&store, &format!("limit=3&page={page}{window}")).await;
            assert_eq!(out["meta"]["pages"], json!(3));
            walked.extend(data_ids(&out));
        }
        assert_eq!(walked, vec!["e", "f", "a", "b", "c", "d", "g"]);

        // limit 1: every border of the tie groups, from inside and outside.
        let mut walked = Vec::new();
        for page in 1..=7 {
            let out = run(&store, &format!("limit=1&page={page}{window}")).await;
            walked.extend(data_ids(&out));
        }
        assert_eq!(walked, vec!["e", "f", "a", "b", "c", "d", "g"], "{window}");
    }
}

pub async fn pages_through_a_long_tie(b: &dyn Backend) {
    // 45 events of one millisecond between a few of their own: pages whose borders fall
    // inside the tie (ClickHouse reads a page in its table's order with a margin of rows
    // on each side, which a tie this long outlasts, so §5's statement decides there).
    let store = b.fresh().await;
    let mut rows = vec![
        ev("y", "x", "2024-04-15T13:00:00.000Z"),
        ev("z", "x", "2024-04-15T12:30:00.000Z"),
        ev("a", "x", "2024-04-15T11:00:00.000Z"),
    ];
    // Inserted out of id order, and not in its reverse either (a table read backwards
    // would hand them over sorted).
    for i in 0..45 {
        let n = (i * 17) % 45;
        rows.push(ev(&format!("t{n:02}"), "x", "2024-04-15T12:00:00.000Z"));
    }
    store.insert_events(&rows).await.unwrap();
    let mut expected = vec!["y".to_string(), "z".to_string()];
    expected.extend((0..45).map(|i| format!("t{i:02}")));
    expected.push("a".into());
    for window in ["", "&start=2024-04-15T00:00:00Z&end=2024-04-15T23:59:59Z"] {
        for limit in [7, 20] {
            let mut walked = Vec::new();
            for page in 1..=expected.len().div_ceil(limit) {
                let out = run(&store, &format!("limit={limit}&page={page}{window}")).await;
                walked.extend(data_ids(&out));
            }
            assert_eq!(walked, expected, "limit {limit}{window}");
        }
    }
}

pub async fn page_and_limit_edges(b: &dyn Backend) {
    let store = seven(b).await;
    // Far past the end: no data, but the total and page count are still reported.
    let out = run(&store, "limit=2&page=10").await;
    assert_eq!(
        out,
        json!({"meta": {"count": 0, "totalCount": 7, "pages": 4, "current": 10}, "data": []})
    );
    // page=0 reads as 1.
    let out = run(&store, "limit=2&page=0").await;
    assert_eq!(data_ids(&out), vec!["e", "f"]);
    assert_eq!(out["meta"]["current"], json!(1));
    // limit=0 is clamped to 1: 7 pages of one row.
    let out = run(&store, "limit=0").await;
    assert_eq!(
        out["meta"],
        json!({"count": 1, "totalCount": 7, "pages": 7, "current": 1})
    );
    // Default limit 50: one page with everything.
    let out = run(&store, "").await;
    assert_eq!(
        out["meta"],
        json!({"count": 7, "totalCount": 7, "pages": 1, "current": 1})
    );
    // Exactly divisible: limit 7 → 1 page; limit 1 page 7 → the last row g.
    let out = run(&store, "limit=7").await;
    assert_eq!(out["meta"]["pages"], json!(1));
    let out = run(&store, "limit=1&page=7").await;
    assert_eq!(data_ids(&out), vec!["g"]);
}

pub async fn empty_result_meta(b: &dyn Backend) {
    let store = b.fresh().await;
    // Nothing at all: pages 0, data [].
    let out = run(&store, "").await;
    assert_eq!(
        out,
        json!({"meta": {"count": 0, "totalCount": 0, "pages": 0, "current": 1}, "data": []})
    );
    let out = run(&store, "page=3").await;
    assert_eq!(
        out,
        json!({"meta": {"count": 0, "totalCount": 0, "pages": 0, "current": 3}, "data": []})
    );
}

async fn named(b: &dyn Backend) -> Box<dyn Db> {
    let store = b.fresh().await;
    let mut rows = Vec::new();
    for (i, name) in [
        "screen_view",
        "screen_view",
        "screen_view",
        "sign_up",
        "sign_up",
        "purchase",
    ]
    .iter()
    .enumerate()
    {
        let mut e = ev(
            &format!("n{i}"),
            name,
            &format!("2024-04-15T12:00:0{i}.000Z"),
        );
        e.country = if i % 2 == 0 { "SE" } else { "DE" }.into();
        rows.push(e);
    }
    store.insert_events(&rows).await.unwrap();
    store
}

pub async fn event_name_filter(b: &dyn Backend) {
    let store = named(b).await;
    // n0..n5 at seconds 0..5 (newest first): sign_up = n3, n4.
    let out = run(&store, "event=sign_up").await;
    assert_eq!(data_ids(&out), vec!["n4", "n3"]);
    assert_eq!(out["meta"]["totalCount"], json!(2));
    // Repeated keys: sign_up or purchase = n3, n4, n5.
    let out = run(&store, "event=sign_up&event=purchase").await;
    assert_eq!(data_ids(&out), vec!["n5", "n4", "n3"]);
    // JSON array, URL-encoded and raw.
    let out = run(
        &store,
        &format!("event={}", url_enc(r#"["sign_up","purchase"]"#)),
    )
    .await;
    assert_eq!(data_ids(&out), vec!["n5", "n4", "n3"]);
    let out = run(&store, r#"event=["purchase","screen_view"]"#).await;
    assert_eq!(data_ids(&out), vec!["n5", "n2", "n1", "n0"]);
    // Unknown name: nothing.
    let out = run(&store, "event=nope").await;
    assert_eq!(out["meta"]["totalCount"], json!(0));
    assert_eq!(out["data"], json!([]));
    // Event names are case-sensitive.
    let out = run(&store, "event=Sign_Up").await;
    assert_eq!(out["meta"]["totalCount"], json!(0));
}

pub async fn filters_param_and_counts(b: &dyn Backend) {
    let store = named(b).await;
    // Countries: even i → SE (n0, n2, n4), odd → DE. screen_view ∧ SE → n0, n2.
    let filters = url_enc(r#"[{"name":"country","operator":"is","value":["SE"]}]"#);
    let out = run(&store, &format!("event=screen_view&filters={filters}")).await;
    assert_eq!(data_ids(&out), vec!["n2", "n0"]);
    assert_eq!(out["meta"]["totalCount"], json!(2));
    // SE alone with limit 1: 3 rows → 3 pages, page 2 is n2.
    let out = run(&store, &format!("filters={filters}&limit=1&page=2")).await;
    assert_eq!(data_ids(&out), vec!["n2"]);
    assert_eq!(
        out["meta"],
        json!({"count": 1, "totalCount": 3, "pages": 3, "current": 2})
    );
}

/// Seven events around the UTC day 2024-04-15 and the Stockholm day (UTC+2 in April).
async fn around_midnight(b: &dyn Backend) -> Box<dyn Db> {
    let store = b.fresh().await;
    store
        .insert_events(&[
            ev("t1", "x", "2024-04-14T21:59:59.999Z"),
            ev("t2", "x", "2024-04-14T22:00:00.000Z"),
            ev("t3", "x", "2024-04-15T00:00:00.000Z"),
            ev("t4", "x", "2024-04-15T21:59:59.999Z"),
            ev("t5", "x", "2024-04-15T22:00:00.000Z"),
            ev("t6", "x", "2024-04-15T23:59:59.999Z"),
            ev("t7", "x", "2024-04-16T00:00:00.000Z"),
        ])
        .await
        .unwrap();
    store
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub async fn start_and_end_dates_are_inclusive_days(b: &dyn Backend) {
    let store = around_midnight(b).await;
    // UTC 2024-04-15 = [00:00:00.000, 23:59:59.999] → t3, t4, t5, t6.
    let out = run(&store, "start=2024-04-15&end=2024-04-15").await;
    assert_eq!(sorted(data_ids(&out)), vec!["t3", "t4", "t5", "t6"]);
    // start alone: from 2024-04-15T00:00Z on → t3..t7.
    let out = run(&store, "start=2024-04-15").await;
    assert_eq!(sorted(data_ids(&out)), vec!["t3", "t4", "t5", "t6", "t7"]);
    // end alone: through 2024-04-14T23:59:59.999Z → t1, t2.
    let out = run(&store, "end=2024-04-14").await;
    assert_eq!(sorted(data_ids(&out)), vec!["t1", "t2"]);
    // Date-times are exact instants, both ends inclusive: t3 and t4.
    let out = run(
        &store,
        "start=2024-04-15T00:00:00.000Z&end=2024-04-15T21:59:59.999Z",
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["t3", "t4"]);
    // An offset: 2024-04-15T00:00+02:00 = 2024-04-14T22:00Z → t2..t7.
    let out = run(
        &store,
        &format!("start={}", url_enc("2024-04-15T00:00:00+02:00")),
    )
    .await;
    assert_eq!(
        sorted(data_ids(&out)),
        vec!["t2", "t3", "t4", "t5", "t6", "t7"]
    );
}

pub async fn timezone_changes_what_a_date_means(b: &dyn Backend) {
    let store = around_midnight(b).await;
    // Stockholm (CEST, +02:00) 2024-04-15 = [04-14T22:00:00.000Z, 04-15T21:59:59.999Z]
    // → t2, t3, t4.
    let out = run(
        &store,
        "start=2024-04-15&end=2024-04-15&timezone=Europe/Stockholm",
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["t2", "t3", "t4"]);
    // The project timezone (the helper's default) gives the same when no parameter is set.
    let out = events(
        &store,
        "start=2024-04-15&end=2024-04-15",
        chrono_tz::Europe::Stockholm,
        NOW,
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["t2", "t3", "t4"]);
    // timezone=UTC overrides a Stockholm project: t3..t6.
    let out = events(
        &store,
        "start=2024-04-15&end=2024-04-15&timezone=UTC",
        chrono_tz::Europe::Stockholm,
        NOW,
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["t3", "t4", "t5", "t6"]);
    // A date-time without offset is local: 2024-04-15T00:00 Stockholm = 04-14T22:00Z;
    // through 2024-04-15T23:59:59.999 Stockholm = 04-15T21:59:59.999Z → t2, t3, t4.
    let out = run(
        &store,
        "start=2024-04-15T00:00:00&end=2024-04-15T23:59:59.999&timezone=Europe/Stockholm",
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["t2", "t3", "t4"]);
    // New York (EDT, −04:00) 2024-04-14 = [04-14T04:00Z, 04-15T03:59:59.999Z] → t1..t3.
    let out = run(
        &store,
        "start=2024-04-14&end=2024-04-14&timezone=America/New_York",
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["t1", "t2", "t3"]);
}

pub async fn dates_across_daylight_saving_changes(b: &dyn Backend) {
    let store = b.fresh().await;
    store
        .insert_events(&[
            ev("m0", "x", "2024-03-30T22:59:59.999Z"),
            ev("m1", "x", "2024-03-30T23:00:00.000Z"),
            ev("m2", "x", "2024-03-31T21:59:59.999Z"),
            ev("m3", "x", "2024-03-31T22:00:00.000Z"),
            ev("o0", "x", "2024-10-26T21:59:59.999Z"),
            ev("o1", "x", "2024-10-26T22:00:00.000Z"),
            ev("o2", "x", "2024-10-27T22:59:59.999Z"),
            ev("o3", "x", "2024-10-27T23:00:00.000Z"),
        ])
        .await
        .unwrap();
    // Stockholm 2024-03-31 has 23 hours: [03-30T23:00Z (+01:00), 03-31T21:59:59.999Z
    // (+02:00)] → m1, m2.
    let out = run(
        &store,
        "start=2024-03-31&end=2024-03-31&timezone=Europe/Stockholm",
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["m1", "m2"]);
    // 2024-10-27 has 25 hours: [10-26T22:00Z (+02:00), 10-27T22:59:59.999Z (+01:00)]
    // → o1, o2.
    let out = run(
        &store,
        "start=2024-10-27&end=2024-10-27&timezone=Europe/Stockholm",
    )
    .await;
    assert_eq!(sorted(data_ids(&out)), vec!["o1", "o2"]);
}

pub async fn start_after_end_is_rejected(_b: &dyn Backend) {
    // 2024-04-16 > end of 2024-04-15: a 400 on `start`.
    let req = quarry_core::decode::decode_events(
        "start=2024-04-16&end=2024-04-15",
        quarry_core::decode::Limits::default(),
    )
    .unwrap();
    for d in quarry_core::Dialect::ALL {
        let err = quarry_core::compile::compile_events(&req, &ctx(UTC, NOW), d).unwrap_err();
        assert_eq!(err.details[0].param, "start");
    }
    // The same day as start and end is fine (start 00:00:00.000 ≤ end 23:59:59.999).
    let req = quarry_core::decode::decode_events(
        "start=2024-04-15&end=2024-04-15",
        quarry_core::decode::Limits::default(),
    )
    .unwrap();
    for d in quarry_core::Dialect::ALL {
        assert!(quarry_core::compile::compile_events(&req, &ctx(UTC, NOW), d).is_ok());
    }
}

pub async fn profile_id_filter(b: &dyn Backend) {
    let store = b.fresh().await;
    let mk = |id: &str, at: &str, profile: &str| {
        let mut e = ev(id, "x", at);
        e.profile_id = profile.into();
        e
    };
    store
        .insert_events(&[
            mk("p1", "2024-04-15T10:00:00.000Z", "u1"),
            mk("p2", "2024-04-15T11:00:00.000Z", "u2"),
            mk("p3", "2024-04-15T12:00:00.000Z", "u1"),
            mk("p4", "2024-04-15T13:00:00.000Z", ""),
            mk("p5", "2024-04-15T14:00:00.000Z", "U1"),
        ])
        .await
        .unwrap();
    // u1's events only, newest first: p3, p1 (not "U1").
    let out = run(&store, "profileId=u1").await;
    assert_eq!(data_ids(&out), vec!["p3", "p1"]);
    assert_eq!(out["meta"]["totalCount"], json!(2));
    // Combined with an event filter that excludes them: nothing.
    let out = run(&store, "profileId=u1&event=y").await;
    assert_eq!(out["meta"]["totalCount"], json!(0));
    // Unknown profile: nothing.
    let out = run(&store, "profileId=u9").await;
    assert_eq!(out["data"], json!([]));
}

pub async fn project_scoping(b: &dyn Backend) {
    let store = b.fresh().await;
    let mk = |id: &str, project: &str, at: &str| {
        let mut e = ev(id, "screen_view", at);
        e.project_id = project.into();
        e.profile_id = "u1".into();
        e
    };
    store
        .insert_events(&[
            mk("mine1", "proj", "2024-04-15T10:00:00.000Z"),
            mk("theirs1", "other", "2024-04-15T10:30:00.000Z"),
            mk("mine2", "proj", "2024-04-15T11:00:00.000Z"),
            mk("theirs2", "other", "2024-04-15T11:30:00.000Z"),
            mk("theirs3", "proj2", "2024-04-15T12:00:00.000Z"),
        ])
        .await
        .unwrap();
    // Only project "proj" (the resolved project in ctx): mine2, mine1 — whatever the
    // request's own projectId says, with any filter.
    for qs in [
        "",
        "event=screen_view",
        "profileId=u1",
        "start=2024-04-15&end=2024-04-15",
        "projectId=other",
        "project_id=other",
        "limit=1&page=2",
    ] {
        let out = run(&store, qs).await;
        assert_eq!(out["meta"]["totalCount"], json!(2), "{qs}");
        for id in data_ids(&out) {
            assert!(id.starts_with("mine"), "{qs}: {id}");
        }
    }
    let out = run(&store, "").await;
    assert_eq!(data_ids(&out), vec!["mine2", "mine1"]);
    // Both compiled statements bind the resolved project.
    let plan = compile_events_qs("projectId=other", store.storage().dialect(), NOW);
    for q in [&plan.page, &plan.count] {
        assert!(q.params.contains(&quarry_core::Param::Text("proj".into())));
        assert!(!q.params.contains(&quarry_core::Param::Text("other".into())));
    }
}
