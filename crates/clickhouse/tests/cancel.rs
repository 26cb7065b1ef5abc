//! Overlong and abandoned queries stop on the ClickHouse server, and a pattern RE2 refuses
//! is the user's. Runs against `CLICKHOUSE_URL` (the chdb test server or a real ClickHouse).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{clickhouse_url, fresh};
use quarry_clickhouse::ClickHouseStorage;
use quarry_core::sql::{CellType, Value};
use quarry_core::sql::{Param, Query};
use quarry_core::storage::{Storage, StorageError};

#[tokio::test]
async fn a_query_past_max_execution_time_is_a_timeout() {
    let db = fresh().await;
    let store = ClickHouseStorage::connect(&clickhouse_url(), db.database())
        .unwrap()
        .with_query_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let err = store
        .fetch(&Query::new(
            "SELECT count() FROM numbers(10000000000000)",
            vec![],
            vec![CellType::Int],
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let rows = store
        .fetch(&Query::new("SELECT 1", vec![], vec![CellType::Int]))
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
}

/// An `INSERT … SELECT` that sleeps 1.5 s before writing 3 rows: whether it ran to the end
/// shows in the table.
const SLOW_INSERT: &str =
    "INSERT INTO killed SELECT number FROM numbers(3) WHERE sleepEachRow(0.5) = 0";

#[tokio::test]
async fn a_stream_runs_past_max_execution_time() {
    let db = fresh().await;
    let store = ClickHouseStorage::connect(&clickhouse_url(), db.database())
        .unwrap()
        .with_query_timeout(Duration::from_secs(1));
    // Two seconds of work: past the timeout as a fetch, to its end as a stream (whose
    // reader bounds each wait instead).
    let slow = Query::new(
        "SELECT number FROM numbers(4) WHERE sleepEachRow(0.5) = 0",
        vec![],
        vec![CellType::Int],
    );
    let err = store.fetch(&slow).await.unwrap_err();
    assert!(matches!(err, StorageError::Timeout), "{err:?}");
    let mut rows = store.stream(&slow).await.unwrap();
    let mut read = Vec::new();
    while let Some(chunk) = rows.next().await.unwrap() {
        read.extend(chunk);
    }
    let expected: Vec<Vec<Value>> = (0..4).map(|n| vec![Value::Int(n)]).collect();
    assert_eq!(read, expected);
}

#[tokio::test]
async fn a_dropped_query_is_killed() {
    let db = fresh().await;
    db.client()
        .query_raw("CREATE TABLE killed (n UInt64) ENGINE = MergeTree ORDER BY n")
        .execute()
        .await
        .unwrap();
    let store = ClickHouseStorage::connect(&clickhouse_url(), db.database())
        .unwrap()
        .with_query_timeout(Duration::from_secs(2));
    // The chdb test server runs one query at a time and cannot interrupt a running one:
    // this query holds it for 2 s, so the insert below is still waiting there when its
    // future is dropped (the server then cancels it before it starts). A real ClickHouse
    // runs the insert at once and kills it while it sleeps.
    let blocker = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .fetch(&Query::new(
                    "SELECT count() FROM numbers(10000000000000)",
                    vec![],
                    vec![CellType::Int],
                ))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        store.fetch(&Query::new(SLOW_INSERT, vec![], vec![])),
    )
    .await;
    assert!(abandoned.is_err(), "{abandoned:?}");
    // Whatever the server: the blocker ends at its timeout, and then the insert would have
    // had 1.5 s to finish had it not been killed.
    let blocked = blocker.await.unwrap();
    assert!(
        matches!(blocked, Err(StorageError::Timeout) | Ok(_)),
        "{blocked:?}"
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let rows = store
        .fetch(&Query::new(
            "SELECT count() FROM killed",
            vec![],
            vec![CellType::Int],
        ))
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![Value::Int(0)]]);
}

#[tokio::test]
async fn patterns_re2_refuses_are_rejected() {
    let db = fresh().await;
    let matches = |pattern: &str| {
        Query::new(
            "SELECT toInt64(match('abc', {p1:String}))",
            vec![Param::Text(pattern.into())],
            vec![CellType::Int],
        )
    };
    assert_eq!(
        db.store.fetch(&matches("^a[b]c$")).await.unwrap(),
        vec![vec![Value::Int(1)]]
    );
    // Bad syntax, a repetition RE2 will not expand, and "pattern too large".
    for pattern in ["(a", "(a{1,255}){1,255}", "\\pL{1000}"] {
        let err = db.store.fetch(&matches(pattern)).await.unwrap_err();
        assert!(
            matches!(err, StorageError::Rejected(_)),
            "{pattern}: {err:?}"
        );
    }
    let err = db
        .store
        .fetch(&Query::new("SELECT nope()", vec![], vec![CellType::Int]))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Query(_)), "{err:?}");
}
