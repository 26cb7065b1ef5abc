//! Abandoned and overlong queries stop on the PostgreSQL server, authentication does not
//! wait behind event queries, and a pattern PostgreSQL refuses is the user's. A real server
//! (`DATABASE_URL`); the bounds are generous liveness checks, not performance assertions.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::Pg;
use quarry_core::catalog::Catalog;
use quarry_core::sql::{CellType, Value};
use quarry_core::sql::{Param, Query};
use quarry_core::storage::{Storage, StorageError};
use quarry_core::write::{CatalogWriter as _, Database as _};
use quarry_postgres::{Options, PostgresStorage};
use sqlx::PgPool;

const SLEEP: &str = "SELECT 1 FROM pg_sleep(30)";

fn int_query(sql: &str) -> Query {
    Query {
        sql: sql.into(),
        params: vec![],
        columns: vec![CellType::Int],
    }
}

/// Statements of this database still running `pg_sleep`, seen from another connection.
async fn sleeping(admin: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state = 'active' AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

/// Wait (up to 5 s) until nothing sleeps any more; how long it took.
async fn until_nothing_sleeps(admin: &PgPool) -> Duration {
    let started = Instant::now();
    while sleeping(admin).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "pg_sleep still running after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// A fetch that must answer promptly (the pool waits 2 s for a busy connection).
async fn quick(store: &PostgresStorage, sql: &str) -> Vec<Vec<Value>> {
    let started = Instant::now();
    let rows = store.fetch(&int_query(sql)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{sql}: {:?}",
        started.elapsed()
    );
    rows
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_stopped_and_reported() {
    let pg = Pg::new().await;
    let url = pg.create_database().await;
    let store = PostgresStorage::open(
        &url,
        Options {
            statement_timeout: Some(Duration::from_millis(300)),
            max_connections: 1,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let err = store.fetch(&int_query(SLEEP)).await.unwrap_err();
    assert!(matches!(err, StorageError::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(quick(&store, "SELECT 1").await, vec![vec![Value::Int(1)]]);
    store.close().await;
    pg.drop_databases().await;
}

#[tokio::test]
async fn a_dropped_query_is_cancelled_on_the_server() {
    let pg = Pg::new().await;
    let url = pg.create_database().await;
    let admin = PgPool::connect(&url).await.unwrap();
    let store = PostgresStorage::open(
        &url,
        Options {
            statement_timeout: None,
            max_connections: 1,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    for _ in 0..3 {
        // The HTTP layer's timeout: the future is dropped while PostgreSQL sleeps.
        let abandoned =
            tokio::time::timeout(Duration::from_millis(300), store.fetch(&int_query(SLEEP))).await;
        assert!(abandoned.is_err(), "{abandoned:?}");
        let took = until_nothing_sleeps(&admin).await;
        assert!(took < Duration::from_secs(2), "{took:?}");
        // The only connection is free again; before cancellation the next query waited
        // the pool's 2 s and failed. The cancel never reaches a later statement.
        assert_eq!(quick(&store, "SELECT 1").await, vec![vec![Value::Int(1)]]);
        assert_eq!(
            quick(&store, "SELECT 2 FROM pg_sleep(0.3)").await,
            vec![vec![Value::Int(2)]]
        );
    }
    admin.close().await;
    store.close().await;
    pg.drop_databases().await;
}

/// Rows that trickle out, about one per millisecond.
fn trickle(rows: u32) -> Query {
    int_query(&format!(
        "SELECT i::bigint, pg_sleep(0.001) FROM generate_series(1, {rows}) AS i"
    ))
}

/// Statements of this database still running `trickle`.
async fn trickling(admin: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state = 'active' AND query LIKE '%pg_sleep(0.001)%' AND pid <> pg_backend_pid()",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_dropped_stream_is_cancelled_and_a_stream_outlives_the_statement_timeout() {
    let pg = Pg::new().await;
    let url = pg.create_database().await;
    let admin = PgPool::connect(&url).await.unwrap();
    let store = PostgresStorage::open(
        &url,
        Options {
            statement_timeout: Some(Duration::from_millis(300)),
            max_connections: 1,
            ..Options::default()
        },
    )
    .await
    .unwrap();

    // A stream runs past the statement timeout (about a second of rows), to its end.
    let mut rows = store.stream(&trickle(1000)).await.unwrap();
    let mut read = Vec::new();
    while let Some(chunk) = rows.next().await.unwrap() {
        read.extend(chunk);
    }
    drop(rows);
    assert_eq!(read.len(), 1000);
    assert_eq!(read[999], vec![Value::Int(1000)]);
    // The lifted timeout was the stream's alone: the same connection times out again.
    let err = store.fetch(&int_query(SLEEP)).await.unwrap_err();
    assert!(matches!(err, StorageError::Timeout), "{err:?}");

    for _ in 0..2 {
        // A stream of half a minute, dropped after its first rows.
        let mut rows = store.stream(&trickle(30_000)).await.unwrap();
        let first = rows.next().await.unwrap().unwrap();
        assert_eq!(first[0], vec![Value::Int(1)]);
        assert_eq!(trickling(&admin).await, 1);
        drop(rows);
        let started = Instant::now();
        while trickling(&admin).await > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the dropped stream's statement still runs"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The only connection is back, out of its transaction.
        assert_eq!(quick(&store, "SELECT 1").await, vec![vec![Value::Int(1)]]);
    }
    admin.close().await;
    store.close().await;
    pg.drop_databases().await;
}

#[tokio::test]
async fn catalog_lookups_answer_while_every_event_connection_is_busy() {
    let pg = Pg::new().await;
    let url = pg.create_database().await;
    let admin = PgPool::connect(&url).await.unwrap();
    let options = Options {
        statement_timeout: Some(Duration::from_secs(60)),
        ..Options::default()
    };
    let store = PostgresStorage::open(&url, options).await.unwrap();
    store.migrate().await.unwrap();
    let (project, client) = quarry_testkit::catalog_records("0b5c8a4e-6f1d-4c2e-9a7b-3d2f1e0c9b8a");
    store.upsert_project(&project, 0).await.unwrap();
    store.insert_client(&client, 0).await.unwrap();

    let busy: Vec<_> = (0..options.max_connections)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.fetch(&int_query(SLEEP)).await })
        })
        .collect();
    let started = Instant::now();
    while sleeping(&admin).await < i64::from(options.max_connections) {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every event connection is taken: another event query waits for one.
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        store.fetch(&int_query("SELECT 1")),
    )
    .await;
    assert!(waiting.is_err(), "{waiting:?}");

    for _ in 0..3 {
        let started = Instant::now();
        let catalog = store.catalog();
        assert_eq!(
            catalog.client(&client.id).await.unwrap(),
            Some(client.clone())
        );
        assert_eq!(catalog.project("p1").await.unwrap(), Some(project.clone()));
        assert_eq!(catalog.project("nope").await.unwrap(), None);
        catalog.ping().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    // Aborting the tasks drops their fetches: every statement is cancelled.
    for task in &busy {
        task.abort();
    }
    for task in busy {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    let took = until_nothing_sleeps(&admin).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(quick(&store, "SELECT 1").await, vec![vec![Value::Int(1)]]);
    admin.close().await;
    store.close().await;
    pg.drop_databases().await;
}

#[tokio::test]
async fn patterns_postgresql_refuses_are_rejected() {
    let pg = Pg::new().await;
    let store = pg.storage().await;
    let matches = |pattern: &str| Query {
        sql: "SELECT ('abc' ~ $1)::int".into(),
        params: vec![Param::Text(pattern.into())],
        columns: vec![CellType::Int],
    };
    assert_eq!(
        store.fetch(&matches("^a[b]c$")).await.unwrap(),
        vec![vec![Value::Int(1)]]
    );
    // Bad syntax, and "regular expression is too complex".
    for pattern in ["(a", "(a{1,255}){1,255}"] {
        let err = store.fetch(&matches(pattern)).await.unwrap_err();
        assert!(
            matches!(err, StorageError::Rejected(_)),
            "{pattern}: {err:?}"
        );
    }
    // Other failures stay query errors.
    let err = store.fetch(&int_query("SELECT nope()")).await.unwrap_err();
    assert!(matches!(err, StorageError::Query(_)), "{err:?}");
    store.close().await;
    pg.drop_databases().await;
}
