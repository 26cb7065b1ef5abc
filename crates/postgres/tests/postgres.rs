//! What only PostgreSQL has to get right: reading an existing OpenPanel catalog (uuid ids,
//! the "ClientType" enum, no projects.timezone), imports inside a caller's transaction,
//! COPY against hostile text, decoding every column type PostgreSQL may send, exact
//! timestamp parameters, and the mapping of failures to storage errors.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Pg;
use quarry_core::catalog::{Catalog, ClientKind, ClientRecord, ProjectRecord};
use quarry_core::sql::{CellType, Value};
use quarry_core::sql::{Dialect, Param, Query};
use quarry_core::storage::{Storage, StorageError};
use quarry_core::write::{CatalogWriter as _, Database as _, EventWriter as _};
use quarry_postgres::PostgresStorage;
use quarry_testkit::{Db, ev, events, props};
use serde_json::json;
use sqlx::{AssertSqlSafe, Row as _};

const NOW: &str = "2024-05-01T00:00:00Z";

/// OpenPanel's catalog tables as Prisma migrations create them (packages/db/prisma):
/// enums, camelCase columns, uuid ids, `timestamp(3)` times, foreign keys, and a
/// projects table without `timezone` (OpenPanel keeps timezones on organizations).
const OPENPANEL_SCHEMA: &str = r#"
CREATE TYPE "ClientType" AS ENUM ('read', 'write', 'root');
CREATE TYPE "ProjectType" AS ENUM ('website', 'app', 'backend');
CREATE TABLE "organizations" (
    "id" TEXT NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "timezone" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "organizations_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "projects" (
    "id" TEXT NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL,
    "eventsCount" INTEGER NOT NULL DEFAULT 0,
    "types" "ProjectType"[] DEFAULT ARRAY[]::"ProjectType"[],
    "domain" TEXT,
    "cors" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "crossDomain" BOOLEAN NOT NULL DEFAULT false,
    "filters" JSONB NOT NULL DEFAULT '[]',
    "deleteAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "projects_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "clients" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "secret" TEXT,
    "type" "ClientType" NOT NULL DEFAULT 'write',
    "projectId" TEXT,
    "organizationId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "clients_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "event_meta" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "conversion" BOOLEAN,
    "color" TEXT,
    "icon" TEXT,
    "projectId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "event_meta_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "event_meta_name_projectId_key" ON "event_meta"("name", "projectId");
ALTER TABLE "projects" ADD CONSTRAINT "projects_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "clients" ADD CONSTRAINT "clients_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "clients" ADD CONSTRAINT "clients_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "event_meta" ADD CONSTRAINT "event_meta_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

INSERT INTO "organizations" ("id", "name", "timezone") VALUES ('org-1', 'Acme', 'Europe/Stockholm');
INSERT INTO "projects" ("id", "name", "organizationId", "types") VALUES ('proj', 'Web', 'org-1', ARRAY['website']::"ProjectType"[]);
INSERT INTO "clients" ("id", "name", "secret", "type", "projectId", "organizationId") VALUES
    ('3f1c2b7a-9d4e-4c1b-8a2f-6e5d4c3b2a10', 'reader', 'salt.hash', 'read', 'proj', 'org-1'),
    ('5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d', 'root', NULL, 'root', NULL, 'org-1');
INSERT INTO "event_meta" ("id", "name", "conversion", "color", "icon", "projectId", "createdAt", "updatedAt") VALUES
    ('0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b', 'sign_up', NULL, NULL, 'star', 'proj', '2024-02-03 04:05:06.007', '2024-02-04 00:00:00.000');
"#;

/// The columns of a table, in order, with their types (to see migrate left it alone).
async fn columns(store: &PostgresStorage, table: &str) -> Vec<(String, String)> {
    sqlx::query(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind(table)
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Clients of an OpenPanel catalog: uuid ids and enum types read as text; anything but a
/// canonical stored id is no client.
async fn openpanel_clients_are_read(store: &PostgresStorage) {
    // Clients: uuid ids and enum types read as text.
    let reader = store
        .client("3f1c2b7a-9d4e-4c1b-8a2f-6e5d4c3b2a10")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reader,
        ClientRecord {
            id: "3f1c2b7a-9d4e-4c1b-8a2f-6e5d4c3b2a10".into(),
            name: "reader".into(),
            secret: Some("salt.hash".into()),
            kind: ClientKind::Read,
            project_id: Some("proj".into()),
            organization_id: "org-1".into(),
        }
    );
    let root = store
        .client("5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (root.kind, root.project_id, root.secret),
        (ClientKind::Root, None, None)
    );
    // Not a client: unknown, not canonical, not a UUID at all, hostile.
    for id in [
        "00000000-0000-4000-8000-000000000000",
        "3F1C2B7A-9D4E-4C1B-8A2F-6E5D4C3B2A10",
        "3f1c2b7a9d4e4c1b8a2f6e5d4c3b2a10",
        "reader",
        "",
        "' OR 1=1 --",
    ] {
        assert_eq!(store.client(id).await.unwrap(), None, "{id:?}");
    }
}

/// Quarry's commands write clients, secrets and projects into OpenPanel's tables.
async fn quarry_writes_the_openpanel_catalog(store: &PostgresStorage) {
    // Writing through Quarry's commands works on the same tables.
    let new_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    store
        .insert_client(
            &ClientRecord {
                id: new_id.into(),
                name: "quarry reader".into(),
                secret: Some("s.h".into()),
                kind: ClientKind::Read,
                project_id: Some("proj".into()),
                organization_id: "org-1".into(),
            },
            quarry_testkit::ms("2024-04-01T00:00:00.000Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .find_client("proj", ClientKind::Read)
            .await
            .unwrap()
            .as_deref(),
        // The older read client comes first ("createdAt" of the OpenPanel row is now()).
        Some(new_id)
    );
    assert_eq!(
        store.find_client("proj", ClientKind::Write).await.unwrap(),
        None
    );
    store
        .set_client_secret(new_id, "salt2.hash2")
        .await
        .unwrap();
    let c = store.client(new_id).await.unwrap().unwrap();
    assert_eq!(
        (c.kind, c.secret.as_deref()),
        (ClientKind::Read, Some("salt2.hash2"))
    );

    let project = |timezone: Option<&str>| ProjectRecord {
        id: "proj2".into(),
        organization_id: "org-1".into(),
        name: "App".into(),
        timezone: timezone.map(str::to_string),
    };
    store.upsert_project(&project(None), 0).await.unwrap();
    store
        .upsert_project(&project(Some("UTC")), 0)
        .await
        .unwrap();
    let err = store
        .upsert_project(&project(Some("Europe/Stockholm")), 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no timezone column"), "{err}");
    assert_eq!(store.project("proj2").await.unwrap(), Some(project(None)));
}

#[tokio::test]
async fn openpanel_catalog_is_read_unchanged() {
    let pg = Pg::new().await;
    let store = PostgresStorage::connect(&pg.create_database().await)
        .await
        .unwrap();
    sqlx::raw_sql(OPENPANEL_SCHEMA)
        .execute(store.pool())
        .await
        .unwrap();
    let before: Vec<_> = [
        columns(&store, "projects").await,
        columns(&store, "clients").await,
        columns(&store, "event_meta").await,
    ]
    .concat();
    // Migrating adds events and profiles and leaves OpenPanel's tables as they are.
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let after: Vec<_> = [
        columns(&store, "projects").await,
        columns(&store, "clients").await,
        columns(&store, "event_meta").await,
    ]
    .concat();
    assert_eq!(before, after);
    assert!(after.contains(&("type".into(), "\"ClientType\"".into())));

    openpanel_clients_are_read(&store).await;

    // Projects: no timezone column, so UTC (None).
    assert_eq!(
        store.project("proj").await.unwrap(),
        Some(ProjectRecord {
            id: "proj".into(),
            organization_id: "org-1".into(),
            name: "Web".into(),
            timezone: None,
        })
    );
    assert_eq!(store.project("nope").await.unwrap(), None);

    quarry_writes_the_openpanel_catalog(&store).await;

    // event_meta: OpenPanel's uuid id and NULL conversion, plus a row Quarry writes.
    store
        .set_event_meta(&quarry_core::event::NewEventMeta {
            id: "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9".into(),
            name: "purchase".into(),
            project_id: "proj".into(),
            conversion: true,
            color: Some("#00ff00".into()),
            icon: None,
            at: quarry_testkit::ms("2024-03-01T00:00:00.001Z"),
        })
        .await
        .unwrap();
    let db = common::PgDb::new(store, ());
    db.insert_events(&[
        ev("e1", "sign_up", "2024-04-15T12:00:01.000Z"),
        ev("e2", "purchase", "2024-04-15T12:00:00.000Z"),
    ])
    .await
    .unwrap();
    let out = events(&db, "includes=meta", chrono_tz::UTC, NOW).await;
    assert_eq!(
        out["data"][0]["meta"],
        json!({
            "id": "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b", "name": "sign_up",
            "conversion": false, "color": null, "icon": "star", "projectId": "proj",
            "createdAt": "2024-02-03T04:05:06.007Z", "updatedAt": "2024-02-04T00:00:00.000Z"
        })
    );
    assert_eq!(
        out["data"][1]["meta"],
        json!({
            "id": "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", "name": "purchase",
            "conversion": true, "color": "#00ff00", "icon": null, "projectId": "proj",
            "createdAt": "2024-03-01T00:00:00.001Z", "updatedAt": "2024-03-01T00:00:00.001Z"
        })
    );
    db.store().close().await;
    pg.drop_databases().await;
}

#[tokio::test]
async fn own_catalog_round_trips() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let project = |name: &str, timezone: Option<&str>| ProjectRecord {
        id: "proj".into(),
        organization_id: "org".into(),
        name: name.into(),
        timezone: timezone.map(str::to_string),
    };
    store
        .upsert_project(&project("Web", Some("Europe/Stockholm")), 1)
        .await
        .unwrap();
    assert_eq!(
        store.project("proj").await.unwrap(),
        Some(project("Web", Some("Europe/Stockholm")))
    );
    store
        .upsert_project(&project("Web 2", None), 2)
        .await
        .unwrap();
    assert_eq!(
        store.project("proj").await.unwrap(),
        Some(project("Web 2", None))
    );

    let ids = [
        "00000000-0000-4000-8000-000000000002",
        "00000000-0000-4000-8000-000000000001",
    ];
    for (i, id) in ids.iter().enumerate() {
        store
            .insert_client(
                &ClientRecord {
                    id: id.to_string(),
                    name: format!("c{i}"),
                    secret: None,
                    kind: ClientKind::Read,
                    project_id: Some("proj".into()),
                    organization_id: "org".into(),
                },
                1_000 + i as i64,
            )
            .await
            .unwrap();
    }
    // The oldest read client.
    assert_eq!(
        store
            .find_client("proj", ClientKind::Read)
            .await
            .unwrap()
            .as_deref(),
        Some(ids[0])
    );
    assert_eq!(store.client(ids[1]).await.unwrap().unwrap().secret, None);
    store.set_client_secret(ids[1], "a.b").await.unwrap();
    store.set_client_secret("not-a-uuid", "a.b").await.unwrap();
    assert_eq!(
        store
            .client(ids[1])
            .await
            .unwrap()
            .unwrap()
            .secret
            .as_deref(),
        Some("a.b")
    );
    // A duplicate id is an error, not a silent overwrite.
    let dup = ClientRecord {
        id: ids[0].into(),
        name: "dup".into(),
        secret: None,
        kind: ClientKind::Root,
        project_id: None,
        organization_id: "org".into(),
    };
    assert!(store.insert_client(&dup, 0).await.is_err());
    // A client id must be a UUID here.
    let bad = ClientRecord {
        id: "not-a-uuid".into(),
        ..dup
    };
    assert!(store.insert_client(&bad, 0).await.is_err());
    assert_eq!(store.count_events("proj").await.unwrap(), 0);
    store.close().await;
    pg.drop_databases().await;
}

#[tokio::test]
async fn import_batches_commit_with_the_callers_transaction() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let batch = |from: usize, to: usize| -> Vec<_> {
        (from..to)
            .map(|i| ev(&format!("t{i:03}"), "x", "2024-04-15T12:00:00.000Z"))
            .collect()
    };

    // Rolled back: nothing of either batch is stored.
    let mut tx = store.pool().begin().await.unwrap();
    assert_eq!(
        quarry_postgres::insert_events(&mut tx, &batch(0, 10))
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        quarry_postgres::insert_events(&mut tx, &batch(10, 20))
            .await
            .unwrap(),
        10
    );
    tx.rollback().await.unwrap();
    assert_eq!(store.count_events("proj").await.unwrap(), 0);

    // Committed: both batches, and an overlapping third batch adds only its new ids.
    let mut tx = store.pool().begin().await.unwrap();
    assert_eq!(
        quarry_postgres::insert_events(&mut tx, &batch(0, 10))
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        quarry_postgres::insert_events(&mut tx, &batch(5, 20))
            .await
            .unwrap(),
        10
    );
    let mut p = quarry_testkit::ev("unused", "x", "2024-04-15T12:00:00.000Z");
    p.id = "t000".into();
    assert_eq!(
        quarry_postgres::insert_events(&mut tx, &[p]).await.unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(store.count_events("proj").await.unwrap(), 20);

    // Outside any transaction (autocommit), on a bare connection.
    let mut conn = store.pool().acquire().await.unwrap();
    assert_eq!(
        quarry_postgres::insert_events(&mut conn, &batch(20, 25))
            .await
            .unwrap(),
        5
    );
    drop(conn);
    assert_eq!(store.count_events("proj").await.unwrap(), 25);

    // A failing line inside a transaction fails the import, and nothing is kept.
    let mut tx = store.pool().begin().await.unwrap();
    quarry_postgres::insert_events(&mut tx, &batch(100, 110))
        .await
        .unwrap();
    let mut bad = ev("bad", "x", "2024-04-15T12:00:00.000Z");
    bad.properties = props(&[("k", "nul \0 here")]);
    let err = quarry_postgres::insert_events(&mut tx, &[bad])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
    drop(tx);
    assert_eq!(store.count_events("proj").await.unwrap(), 25);

    // A large batch goes through COPY in several chunks.
    let big: Vec<_> = (0..20_000)
        .map(|i| {
            let mut e = ev(&format!("big{i:05}"), "big", "2024-04-15T12:00:00.000Z");
            e.properties = props(&[("payload", &"x\t\\\n".repeat(20))]);
            e
        })
        .collect();
    assert_eq!(store.insert_events(&big).await.unwrap(), 20_000);
    assert_eq!(store.count_events("proj").await.unwrap(), 20_025);
    store.close().await;
    pg.drop_databases().await;
}

/// The events table's indexes, by name, with whether each is unique.
async fn event_indexes(store: &PostgresStorage) -> Vec<(String, bool)> {
    sqlx::query_as(
        "SELECT c.relname::text, x.indisunique FROM pg_index x \
         JOIN pg_class c ON c.oid = x.indexrelid \
         WHERE x.indrelid = 'events'::regclass ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

/// A large load drops the secondary indexes (and, into an empty table, the primary key)
/// only for its own duration: after a commit and after a failed load the table has the
/// same indexes and key.
#[tokio::test]
async fn a_large_load_builds_the_indexes_it_dropped() {
    use quarry_core::write::LoadHint;
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let indexes = event_indexes(&store).await;
    assert_eq!(
        indexes,
        vec![
            ("events_pkey".to_string(), true),
            ("events_project_name_time_cover".to_string(), false),
            ("events_project_time".to_string(), false),
        ]
    );
    let large = LoadHint {
        input_bytes: Some(u64::MAX),
    };
    let rows: Vec<_> = (0..3)
        .map(|i| ev(&format!("l{i}"), "x", "2024-04-15T12:00:00.000Z"))
        .collect();

    // Into the empty table, failed: nothing stored, every index back.
    let mut unit = store.begin_load(large).await.unwrap();
    assert_eq!(unit.insert_events(&rows).await.unwrap(), 3);
    assert_eq!(unit.insert_events(&rows[..1]).await.unwrap(), 1);
    drop(unit);
    assert_eq!(event_indexes(&store).await, indexes);
    assert_eq!(store.count_events("proj").await.unwrap(), 0);

    let mut unit = store.begin_load(large).await.unwrap();
    unit.insert_events(&rows).await.unwrap();
    unit.insert_events(&rows[..1]).await.unwrap();
    // The repeated id was counted by the copy, and is dropped by the commit.
    assert_eq!(unit.commit().await.unwrap(), 1);
    assert_eq!(event_indexes(&store).await, indexes);
    assert_eq!(store.count_events("proj").await.unwrap(), 3);

    // A small load changes no index: the hint decides.
    let small = LoadHint {
        input_bytes: Some(1024),
    };
    let mut unit = store.begin_load(small).await.unwrap();
    unit.insert_events(&rows).await.unwrap();
    assert_eq!(unit.commit().await.unwrap(), 0);
    assert_eq!(event_indexes(&store).await, indexes);
    store.close().await;
    pg.drop_databases().await;
}

/// Event queries are planned for their own parameters on every execution (a generic plan
/// cannot see the time window), through the pool's whole life.
#[tokio::test]
async fn event_queries_get_custom_plans() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    // More executions than the five after which PostgreSQL may go generic.
    for _ in 0..8 {
        let rows = fetch(
            &store,
            "SELECT current_setting('plan_cache_mode')",
            vec![],
            vec![CellType::Text],
        )
        .await;
        assert_eq!(rows, vec![vec![Value::Text("force_custom_plan".into())]]);
    }
    store.close().await;
    pg.drop_databases().await;
}

/// Run a hand-written query through `Storage::fetch`.
async fn fetch(
    store: &PostgresStorage,
    sql: &str,
    params: Vec<Param>,
    columns: Vec<CellType>,
) -> Vec<Vec<Value>> {
    store
        .fetch(&Query {
            sql: sql.into(),
            params,
            columns,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn every_column_type_decodes_as_declared() {
    use CellType::*;
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let sql = "SELECT 7::int2, 8::int4, 9::int8, 1.5::float4, 2.25::float8, \
        12345678901234::numeric, (-19.99)::numeric, sum(x), avg(x), true, false, \
        'txt'::text, 'vc'::varchar, 'c'::char(3), \
        '0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b'::uuid, '{\"b\":\"x\",\"a\":1,\"n\":null}'::jsonb, \
        '{\"k\":\"v\"}'::json, TIMESTAMPTZ '2024-04-15 12:34:56.789+00', \
        TIMESTAMP '1969-12-31 23:59:59.999', NULL::text, NULL::int8, NULL::jsonb \
        FROM (VALUES (1::bigint), (2::bigint)) AS v(x)";
    let columns = vec![
        Int, Int, Int, Float, Float, Int, Float, Int, Float, Bool, Bool, Text, Text, Text, Text,
        Map, Map, Int, Int, Text, Int, Map,
    ];
    let rows = fetch(&store, sql, vec![], columns).await;
    assert_eq!(
        rows,
        vec![vec![
            Value::Int(7),
            Value::Int(8),
            Value::Int(9),
            Value::Float(1.5),
            Value::Float(2.25),
            Value::Int(12_345_678_901_234),
            Value::Float(-19.99),
            Value::Int(3),
            Value::Float(1.5),
            Value::Int(1),
            Value::Int(0),
            Value::Text("txt".into()),
            Value::Text("vc".into()),
            Value::Text("c  ".into()),
            Value::Text("0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b".into()),
            Value::Map(vec![
                ("a".into(), "1".into()),
                ("b".into(), "x".into()),
                ("n".into(), "null".into())
            ]),
            Value::Map(vec![("k".into(), "v".into())]),
            Value::Int(1_713_184_496_789),
            Value::Int(-1),
            Value::Null,
            Value::Null,
            Value::Null,
        ]]
    );
    // The same cells read as other declared types.
    let rows = fetch(
        &store,
        "SELECT 2.5::numeric, 2.5::numeric, 10::int8, 0.1::float8, 3::int4, '42'::text",
        vec![],
        vec![Int, Text, Float, Text, Text, Int],
    )
    .await;
    assert_eq!(
        rows[0],
        vec![
            Value::Int(2),
            Value::Text("2.5".into()),
            Value::Float(10.0),
            Value::Text("0.1".into()),
            Value::Text("3".into()),
            Value::Int(42),
        ]
    );
    // An average of bigints is NUMERIC with 16+ fraction digits: read to the nearest double.
    let rows = fetch(
        &store,
        "SELECT avg(x) FROM (VALUES (1::bigint), (1::bigint), (5::bigint)) AS v(x)",
        vec![],
        vec![Float],
    )
    .await;
    assert_eq!(rows[0], vec![Value::Float(7.0 / 3.0)]);
    store.close().await;
    pg.drop_databases().await;
}

/// The dialect's timestamp placeholder and the epoch-ms read back are exact for every
/// millisecond from year 1 to 9999, and strictly ordered.
#[tokio::test]
async fn timestamp_parameters_are_exact() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let rules = Dialect::Postgres.rules();
    let ts = |n: usize| rules.placeholder(n, &Param::Timestamp(0));
    let sql = format!(
        "SELECT (date_part('epoch', {a}) * 1000)::bigint, ({a} < {b})::int, \
         to_char({a}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
        a = ts(1),
        b = ts(2)
    );
    for (ms, text) in [
        (0, "1970-01-01T00:00:00.000000"),
        (-1, "1969-12-31T23:59:59.999000"),
        (1_713_184_496_789, "2024-04-15T12:34:56.789000"),
        (9_007_199_254_740, "2255-06-05T23:47:34.740000"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999008"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000000"),
    ] {
        let rows = fetch(
            &store,
            &sql,
            vec![Param::Timestamp(ms), Param::Timestamp(ms + 1)],
            vec![CellType::Int, CellType::Int, CellType::Text],
        )
        .await;
        // Past year 2255 the microseconds are off by a few (interval arithmetic in
        // doubles), but every millisecond still reads back as itself, in order.
        assert_eq!(
            rows[0],
            vec![Value::Int(ms), Value::Int(1), Value::Text(text.into())],
            "{ms}"
        );
    }
    store.close().await;
    pg.drop_databases().await;
}

#[tokio::test]
async fn failures_map_to_storage_errors() {
    let pg = Pg::new().await;
    let url = pg.create_database().await;
    let q = |sql: &str| Query {
        sql: sql.into(),
        params: vec![],
        columns: vec![CellType::Int],
    };

    // The server cancels a statement past its timeout: a timeout (504), and the pool
    // stays usable.
    let store = PostgresStorage::connect_with(&url, Some(Duration::from_millis(200)))
        .await
        .unwrap();
    let err = store
        .fetch(&q("SELECT 1 FROM pg_sleep(5)"))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Timeout), "{err:?}");
    assert_eq!(
        store.fetch(&q("SELECT 1")).await.unwrap(),
        vec![vec![Value::Int(1)]]
    );

    // Bad SQL and a missing table: query errors (500).
    for sql in ["SELEC 1", "SELECT count(*) FROM nowhere"] {
        let err = store.fetch(&q(sql)).await.unwrap_err();
        assert!(matches!(err, StorageError::Query(_)), "{sql}: {err:?}");
    }

    // The server terminates our connections: unavailable (503) until it reconnects.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&PostgresStorage::connect(&url).await.unwrap().pool().clone())
    .await
    .unwrap();
    let mut saw = Vec::new();
    for _ in 0..3 {
        saw.push(store.fetch(&q("SELECT 1")).await);
    }
    for r in &saw {
        match r {
            Ok(rows) => assert_eq!(rows, &vec![vec![Value::Int(1)]]),
            Err(e) => assert!(matches!(e, StorageError::Unavailable(_)), "{e:?}"),
        }
    }

    // A closed pool: unavailable, for queries and for /readyz.
    store.close().await;
    let err = store.fetch(&q("SELECT 1")).await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(matches!(
        Storage::ping(&store).await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        Catalog::ping(&store).await,
        Err(StorageError::Unavailable(_))
    ));

    // Nothing listening: connecting fails.
    let dead = common::with_database("postgres://postgres@127.0.0.1:1", "x");
    assert!(PostgresStorage::connect(&dead).await.is_err());
    pg.drop_databases().await;
}

#[tokio::test]
async fn nul_characters_are_refused_clearly() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let mut e = ev("n1", "x", "2024-04-15T12:00:00.000Z");
    e.path = "a\0b".into();
    let err = store.insert_events(&[e]).await.unwrap_err();
    assert!(
        err.to_string().contains("event \"n1\"") && err.to_string().contains("NUL"),
        "{err}"
    );
    let p = quarry_core::event::NewProfile {
        id: "u1".into(),
        project_id: "proj".into(),
        is_external: false,
        first_name: "\0".into(),
        last_name: String::new(),
        email: String::new(),
        avatar: String::new(),
        properties: Default::default(),
        created_at: 0,
    };
    assert!(
        store
            .upsert_profiles(std::slice::from_ref(&p))
            .await
            .unwrap_err()
            .to_string()
            .contains("NUL")
    );
    assert_eq!(store.count_events("proj").await.unwrap(), 0);
    store.close().await;
    pg.drop_databases().await;
}

/// The events page is served straight from the (project_id, created_at DESC, id) index:
/// no sort of the project's rows before LIMIT.
#[tokio::test]
async fn events_page_reads_the_index_in_order() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let rows: Vec<_> = (0..5_000)
        .map(|i| {
            let mut e = ev(&format!("i{i:05}"), "x", "2024-04-15T12:00:00.000Z");
            e.created_at += (i / 3) as i64;
            e
        })
        .collect();
    store.insert_events(&rows).await.unwrap();
    sqlx::query("ANALYZE events")
        .execute(store.pool())
        .await
        .unwrap();
    let plan = quarry_testkit::compile_events_qs("limit=50&page=3", Dialect::Postgres, NOW);
    let mut conn = store.pool().acquire().await.unwrap();
    let text = explain(&mut conn, &plan.page).await;
    assert!(text.contains("events_project_time"), "{text}");
    assert!(!text.contains("Sort"), "{text}");
    drop(conn);
    store.close().await;
    pg.drop_databases().await;
}

/// Charts and funnels that name their events and count profiles or sessions, with a
/// country filter or breakdown, read the covering index alone after a VACUUM (what
/// `quarry import` ends with): no heap fetch for the columns they use.
#[tokio::test]
async fn charts_and_funnels_read_the_covering_index_alone() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let rows: Vec<_> = (0..3_000)
        .map(|i| {
            let name = ["screen_view", "sign_up", "purchase"][i % 3];
            let mut e = ev(&format!("c{i:05}"), name, "2024-04-15T12:00:00.000Z");
            e.created_at += i as i64 * 1000;
            e.profile_id = format!("p{}", i % 97);
            e.session_id = format!("s{}", i % 211);
            e.country = ["DE", "SE", "US"][i % 7 % 3].into();
            e
        })
        .collect();
    store.insert_events(&rows).await.unwrap();
    // What `quarry import` ends with (on the test server, with `synchronous_commit = off`).
    store.analyze().await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    // A table this small is cheaper to read whole; the question is what the index holds.
    for set in ["SET enable_seqscan = off", "SET enable_bitmapscan = off"] {
        sqlx::query(set).execute(&mut *conn).await.unwrap();
    }
    let range = "startDate=2024-04-01&endDate=2024-04-30&interval=day";
    let de = r#""filters":[{"name":"country","operator":"is","value":["DE"]}]"#;
    let charts = [
        format!(r#"{range}&events=[{{"name":"screen_view","segment":"user",{de}}}]"#),
        format!(
            r#"{range}&events=[{{"name":"screen_view","segment":"session"}}]&breakdowns=[{{"name":"country"}}]"#
        ),
        format!(r#"{range}&events=[{{"name":"screen_view","segment":"one_event_per_user"}}]"#),
    ];
    let funnel = format!(
        r#"startDate=2024-04-01&endDate=2024-04-30&events=[{{"name":"screen_view",{de}}},{{"name":"sign_up"}},{{"name":"purchase"}}]"#
    );
    let mut queries: Vec<Query> = charts
        .iter()
        .map(|qs| quarry_testkit::compile_chart_qs(qs, Dialect::Postgres, NOW))
        .collect();
    queries.push(quarry_testkit::compile_funnel_qs(
        &funnel,
        Dialect::Postgres,
        NOW,
    ));
    for q in &queries {
        let text = explain(&mut conn, q).await;
        assert!(
            text.contains("Index Only Scan using events_project_name_time_cover"),
            "{text}"
        );
        let fetches: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Heap Fetches"))
            .collect();
        assert!(!fetches.is_empty(), "{text}");
        assert!(
            fetches.iter().all(|l| l.ends_with("Heap Fetches: 0")),
            "{text}"
        );
    }
    drop(conn);
    store.close().await;
    pg.drop_databases().await;
}

/// PostgreSQL's plan for a compiled query, its parameters written in as literals.
async fn explain(conn: &mut sqlx::PgConnection, q: &Query) -> String {
    let mut explain = format!("EXPLAIN (ANALYZE, COSTS OFF) {}", q.sql);
    for (i, p) in q.params.iter().enumerate().rev() {
        let literal = match p {
            Param::Text(t) => format!("'{t}'::text"),
            Param::Int(n) | Param::Timestamp(n) => n.to_string(),
            Param::Float(f) => f.to_string(),
        };
        explain = explain.replace(&format!("${}", i + 1), &literal);
    }
    let lines: Vec<String> = sqlx::query_scalar(AssertSqlSafe(explain))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    lines.join("\n")
}
