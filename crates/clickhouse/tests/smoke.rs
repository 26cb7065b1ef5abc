//! The storage on its own: every request kind through `quarry_core::exec`, migration,
//! import round trips, and error mapping.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use quarry_clickhouse::ClickHouseStorage;
use quarry_core::event::{NewEvent, NewProfile};
use quarry_core::sql::{CellType, Value};
use quarry_core::storage::{Storage, StorageError};
use quarry_core::write::{Database, EventWriter};
use quarry_core::{Param, Query};
use serde_json::json;

const NOW: &str = "2024-04-03T00:00:00Z";

fn two_events() -> Vec<NewEvent> {
    let mut a = ev("a", "screen_view", "2024-04-01T10:00:00.000Z");
    a.country = "SE".into();
    a.profile_id = "u1".into();
    a.session_id = "s1".into();
    let mut b = ev("b", "sign_up", "2024-04-01T11:00:00.000Z");
    b.profile_id = "u1".into();
    b.session_id = "s1".into();
    b.properties = props(&[("total", "19.99")]);
    vec![a, b]
}

#[tokio::test]
async fn every_request_kind_runs() {
    let db = fresh().await;
    assert_eq!(db.insert_events(&two_events()).await.unwrap(), 2);
    db.store.ping().await.unwrap();

    let c = json(
        &db.store,
        Kind::Chart,
        r#"events=[{"name":"screen_view"},{"name":"sign_up","segment":"property_sum","property":"properties.total"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-02&previous=true"#,
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(c["metrics"]["sum"], json!(20.99));
    let f = json(
        &db.store,
        Kind::Funnel,
        r#"events=[{"name":"screen_view"},{"name":"sign_up"}]&startDate=2024-04-01&endDate=2024-04-02"#,
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(f["steps"][1]["count"], json!(1));
    let e = json(
        &db.store,
        Kind::Events,
        "includes=properties,profile",
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(e["meta"]["totalCount"], json!(2));
    assert_eq!(e["data"][0]["name"], json!("sign_up"));
    assert_eq!(e["data"][0]["properties"], json!({"total": "19.99"}));
}

#[tokio::test]
async fn migrate_is_idempotent_and_creates_the_database() {
    let db = empty().await;
    // A database that does not exist yet is created.
    let store =
        ClickHouseStorage::connect(&clickhouse_url(), &format!("{}_new", db.store.database()))
            .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.count_events("proj").await.unwrap(), 0);
    store
        .client()
        .query_raw(&format!("DROP DATABASE `{}`", store.database()))
        .execute()
        .await
        .unwrap();
}

#[tokio::test]
async fn every_field_round_trips() {
    let db = fresh().await;
    let e = NewEvent {
        id: "67E55044-10B1-426F-9247-BB680E5FE0C8".into(),
        device_id: "d1".into(),
        profile_id: "p1".into(),
        session_id: "s1".into(),
        properties: props(&[("b.c", "2"), ("a", "x\ty\n'\"\\z\0"), ("", "empty key")]),
        country: "SE".into(),
        city: "Malmö".into(),
        region: "Skåne".into(),
        longitude: Some(13.003_822),
        latitude: Some(55.604_981),
        os: "iOS".into(),
        os_version: "17.4".into(),
        browser: "Safari".into(),
        browser_version: "17".into(),
        device: "mobile".into(),
        brand: "Apple".into(),
        model: "iPhone".into(),
        duration: 1234,
        path: "/a?b=c".into(),
        origin: "https://example.com".into(),
        referrer: "https://news.example/x".into(),
        referrer_name: "News".into(),
        referrer_type: "social".into(),
        sdk_name: "web".into(),
        sdk_version: "1.0.0".into(),
        imported_at: Some(ms("2024-04-02T08:09:10.011Z")),
        ..ev("x", "page view ✓", "2024-04-01T10:00:00.789Z")
    };
    db.insert_events(&[e]).await.unwrap();
    let out = json(
        &db.store,
        Kind::Events,
        r#"includes=["importedAt","sdkVersion","sdkName","referrerType","referrerName","referrer","origin","model","brand","device","browserVersion","osVersion","latitude","longitude","region","properties","sessionId"]"#,
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(
        out["data"][0],
        json!({
            "id": "67e55044-10b1-426f-9247-bb680e5fe0c8",
            "name": "page view ✓",
            "deviceId": "d1",
            "profileId": "p1",
            "projectId": "proj",
            "createdAt": "2024-04-01T10:00:00.789Z",
            "country": "SE",
            "city": "Malmö",
            "os": "iOS",
            "browser": "Safari",
            "duration": 1234,
            "path": "/a?b=c",
            "sessionId": "s1",
            "properties": {"": "empty key", "a": "x\ty\n'\"\\z\0", "b.c": "2"},
            "region": "Skåne",
            "longitude": 13.003822,
            "latitude": 55.604981,
            "osVersion": "17.4",
            "browserVersion": "17",
            "device": "mobile",
            "brand": "Apple",
            "model": "iPhone",
            "origin": "https://example.com",
            "referrer": "https://news.example/x",
            "referrerName": "News",
            "referrerType": "social",
            "sdkName": "web",
            "sdkVersion": "1.0.0",
            "importedAt": "2024-04-02T08:09:10.011Z"
        })
    );
}

#[tokio::test]
async fn reimport_is_skipped_and_ids_become_uuids() {
    let db = fresh().await;
    assert_eq!(db.insert_events(&two_events()).await.unwrap(), 2);
    // The same ids again, plus a new one twice within the batch.
    let mut again = two_events();
    again.push(ev("c", "x", "2024-04-01T12:00:00.000Z"));
    again.push(ev("c", "x", "2024-04-01T12:00:00.000Z"));
    assert_eq!(db.insert_events(&again).await.unwrap(), 1);
    assert_eq!(db.count_events("proj").await.unwrap(), 3);
    assert_eq!(db.insert_events(&[]).await.unwrap(), 0);

    let out = json(&db.store, Kind::Events, "", chrono_tz::UTC, NOW).await;
    assert_eq!(
        out["data"][0]["id"],
        json!(quarry_clickhouse::event_uuid("c").to_string())
    );
}

fn profile(first: &str, at: &str) -> NewProfile {
    NewProfile {
        id: "u1".into(),
        project_id: "proj".into(),
        is_external: true,
        first_name: first.into(),
        last_name: "Lind".into(),
        email: "a@example.com".into(),
        avatar: String::new(),
        properties: props(&[("plan", "pro")]),
        created_at: ms(at),
    }
}

#[tokio::test]
async fn upsert_profile_replaces_even_with_an_older_created_at() {
    let db = fresh().await;
    db.insert_events(&two_events()).await.unwrap();
    db.upsert_profiles(&[profile("Ann", "2024-03-01T00:00:00.000Z")])
        .await
        .unwrap();
    db.upsert_profiles(&[profile("Anna", "2023-01-01T00:00:00.000Z")])
        .await
        .unwrap();
    let out = json(
        &db.store,
        Kind::Events,
        "includes=profile",
        chrono_tz::UTC,
        NOW,
    )
    .await;
    assert_eq!(out["data"][0]["profile"]["firstName"], json!("Anna"));
    assert_eq!(out["data"][0]["profile"]["isExternal"], json!(true));
    assert_eq!(
        out["data"][0]["profile"]["createdAt"],
        json!("2023-01-01T00:00:00.000Z")
    );
}

#[tokio::test]
async fn params_are_bound_server_side_and_question_marks_are_literal() {
    let db = fresh().await;
    let q = Query {
        sql: "SELECT {p1:String} AS a, concat('?', {p1:String}, '??') AS b, {p2:Int64} AS c, \
              {p3:Float64} AS d, toUnixTimestamp64Milli(fromUnixTimestamp64Milli({p4:Int64})) AS e"
            .into(),
        params: vec![
            Param::Text("it's a \\ \t \n ? {p2:Int64} \0 é".into()),
            Param::Int(-9_007_199_254_740_993),
            Param::Float(0.1),
            Param::Timestamp(1_712_000_000_123),
        ],
        columns: vec![
            CellType::Text,
            CellType::Text,
            CellType::Int,
            CellType::Float,
            CellType::Int,
        ],
    };
    let rows = db.store.fetch(&q).await.unwrap();
    let text = "it's a \\ \t \n ? {p2:Int64} \0 é".to_string();
    assert_eq!(
        rows,
        vec![vec![
            Value::Text(text.clone()),
            Value::Text(format!("?{text}??")),
            Value::Int(-9_007_199_254_740_993),
            Value::Float(0.1),
            Value::Int(1_712_000_000_123),
        ]]
    );
}

#[tokio::test]
async fn types_decode_whatever_the_output_settings() {
    let db = fresh().await;
    let sql = "SELECT toUInt64(18446744073709551615) AS a, toInt64(-3) AS b, nan AS c, \
               CAST(NULL AS Nullable(Float64)) AS d, map('k', 'v', 'a', 'b') AS e, \
               true AS f, toFloat32(18.0686) AS g, toFixedString('SE', 2) AS h, \
               1 / 0 AS i"
        .to_string();
    let columns = vec![
        CellType::Int,
        CellType::Int,
        CellType::Float,
        CellType::Float,
        CellType::Map,
        CellType::Bool,
        CellType::Float,
        CellType::Text,
        CellType::Float,
    ];
    let expected = vec![vec![
        Value::Int(i64::MAX),
        Value::Int(-3),
        Value::Null,
        Value::Null,
        Value::Map(vec![("k".into(), "v".into()), ("a".into(), "b".into())]),
        Value::Int(1),
        Value::Float(18.0686),
        Value::Text("SE".into()),
        Value::Null,
    ]];
    for settings in [
        "",
        " SETTINGS output_format_json_quote_64bit_integers = 1, output_format_json_quote_denormals = 1, output_format_json_map_as_array_of_tuples = 1",
    ] {
        let q = Query {
            sql: format!("{sql}{settings}"),
            params: vec![],
            columns: columns.clone(),
        };
        assert_eq!(db.store.fetch(&q).await.unwrap(), expected, "{settings}");
    }
}

#[tokio::test]
async fn errors_map_to_unavailable_and_query() {
    // Nothing listens on port 1.
    let down = ClickHouseStorage::connect("http://127.0.0.1:1", "default").unwrap();
    assert!(matches!(
        down.ping().await,
        Err(StorageError::Unavailable(_))
    ));
    let q = Query {
        sql: "SELECT 1".into(),
        params: vec![],
        columns: vec![CellType::Int],
    };
    assert!(matches!(
        down.fetch(&q).await,
        Err(StorageError::Unavailable(_))
    ));

    let db = fresh().await;
    let bad = Query {
        sql: "SELECT nope FROM events".into(),
        params: vec![],
        columns: vec![CellType::Int],
    };
    assert!(matches!(
        db.store.fetch(&bad).await,
        Err(StorageError::Query(_))
    ));
}

#[tokio::test]
async fn large_batches_are_deduplicated_too() {
    let db = fresh().await;
    let rows: Vec<NewEvent> = (0..2_500)
        .map(|i| {
            let mut e = ev(&format!("big-{i}"), "x", "2024-04-01T00:00:00.000Z");
            e.created_at += i * 1_000;
            e
        })
        .collect();
    assert_eq!(db.insert_events(&rows).await.unwrap(), 2_500);
    assert_eq!(db.insert_events(&rows).await.unwrap(), 0);
    assert_eq!(db.count_events("proj").await.unwrap(), 2_500);
}
