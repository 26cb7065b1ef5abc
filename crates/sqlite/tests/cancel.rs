//! Abandoned and overlong queries stop on SQLite itself, and authentication does not wait
//! behind event queries. Real database files; the bounds are generous liveness checks,
//! not performance assertions.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use quarry_core::catalog::Catalog;
use quarry_core::sql::Query;
use quarry_core::sql::{CellType, Value};
use quarry_core::storage::{Storage, StorageError};
use quarry_core::write::{CatalogWriter as _, Database as _};
use quarry_sqlite::{Options, SqliteStorage};

/// Counts to 10^9: minutes of work, all of it inside one statement.
const FOREVER: &str = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c \
                       WHERE n < 1000000000) SELECT count(*) FROM c";

/// Long enough to cross many progress checks, short enough to finish: about 10^6 steps.
const A_MOMENT: &str = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c \
                        WHERE n < 1000000) SELECT count(*) FROM c";

fn int_query(sql: &str) -> Query {
    Query {
        sql: sql.into(),
        params: vec![],
        columns: vec![CellType::Int],
    }
}

async fn open(dir: &tempfile::TempDir, options: Options) -> SqliteStorage {
    let store = SqliteStorage::connect_with(dir.path().join("q.db").to_str().unwrap(), options)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

/// A store with a single event connection and the given query timeout.
async fn one_connection(dir: &tempfile::TempDir, timeout: Duration) -> SqliteStorage {
    let options = Options {
        query_timeout: Some(timeout),
        max_connections: 1,
        ..Options::default()
    };
    open(dir, options).await
}

/// A store with a single event connection (and stream reader) and no query timeout.
async fn one_untimed_connection(dir: &tempfile::TempDir) -> SqliteStorage {
    let options = Options {
        query_timeout: None,
        max_connections: 1,
        ..Options::default()
    };
    open(dir, options).await
}

/// A fetch that must answer promptly (the pool waits 10 s for a busy connection).
async fn quick(store: &SqliteStorage, sql: &str) -> Vec<Vec<Value>> {
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
async fn a_query_past_the_timeout_is_stopped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = one_connection(&dir, Duration::from_millis(300)).await;
    let started = Instant::now();
    let err = store.fetch(&int_query(FOREVER)).await.unwrap_err();
    assert!(matches!(err, StorageError::Timeout), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The only connection is free at once, and the expired deadline does not outlive the
    // fetch: a later statement that is not a fetch runs to the end.
    assert_eq!(quick(&store, "SELECT 7").await, vec![vec![Value::Int(7)]]);
    let n: i64 = sqlx::query_scalar(A_MOMENT)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1_000_000);
}

#[tokio::test]
async fn a_dropped_query_frees_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let store = one_untimed_connection(&dir).await;
    for _ in 0..3 {
        // The HTTP layer's timeout: the future is dropped while SQLite is counting.
        let abandoned =
            tokio::time::timeout(Duration::from_millis(200), store.fetch(&int_query(FOREVER)))
                .await;
        assert!(abandoned.is_err(), "{abandoned:?}");
        // Before it was stopped, the next query waited for the pool (10 s) and failed.
        assert_eq!(quick(&store, "SELECT 1").await, vec![vec![Value::Int(1)]]);
    }
    // Neither the interrupt nor its handler outlives the dropped fetch: statements that
    // are not fetches (imports, administration) run to the end on the same connection.
    let started = Instant::now();
    let n: i64 = sqlx::query_scalar(A_MOMENT)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1_000_000);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn finished_fetches_leave_no_interrupt_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = one_connection(&dir, Duration::from_secs(30)).await;
    for _ in 0..3 {
        assert_eq!(quick(&store, "SELECT 1").await, vec![vec![Value::Int(1)]]);
        // A fetch's guard is set when it returns; the handler reading it must be gone.
        let n: i64 = sqlx::query_scalar(A_MOMENT)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 1_000_000);
    }
}

#[tokio::test]
async fn catalog_lookups_answer_while_every_event_connection_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        query_timeout: Some(Duration::from_secs(60)),
        ..Options::default()
    };
    let store = open(&dir, options).await;
    let (project, client) = quarry_testkit::catalog_records("c1");
    store.upsert_project(&project, 0).await.unwrap();
    store.insert_client(&client, 0).await.unwrap();

    let busy: Vec<_> = (0..options.max_connections)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.fetch(&int_query(FOREVER)).await })
        })
        .collect();
    // Every event connection is taken: another event query waits for one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        store.fetch(&int_query("SELECT 1")),
    )
    .await;
    assert!(waiting.is_err(), "{waiting:?}");

    for _ in 0..3 {
        let started = Instant::now();
        let catalog = store.catalog();
        assert_eq!(catalog.client("c1").await.unwrap(), Some(client.clone()));
        assert_eq!(catalog.project("p1").await.unwrap(), Some(project.clone()));
        assert_eq!(catalog.client("nobody").await.unwrap(), None);
        catalog.ping().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    // Aborting the tasks drops their fetches: every connection comes back.
    for task in &busy {
        task.abort();
    }
    for task in busy {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    assert_eq!(quick(&store, "SELECT 1").await, vec![vec![Value::Int(1)]]);
    // Had one stayed busy, one of these would wait out the pool's 10 s and fail.
    let all: Vec<_> = (0..options.max_connections)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.fetch(&int_query(A_MOMENT)).await.unwrap() })
        })
        .collect();
    for task in all {
        assert_eq!(task.await.unwrap(), vec![vec![Value::Int(1_000_000)]]);
    }
}

/// Read a whole stream, or fail past a generous bound (a reader that never came free).
async fn read_stream(store: &SqliteStorage, sql: &str) -> Result<Vec<Vec<Value>>, StorageError> {
    let read = async { store.stream(&int_query(sql)).await?.read_all().await };
    tokio::time::timeout(Duration::from_secs(8), read)
        .await
        .expect("the stream answered")
}

#[tokio::test]
async fn a_dropped_stream_stops_its_statement_and_frees_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let store = one_untimed_connection(&dir).await;
    for _ in 0..3 {
        // A client that disconnects before the first row: SQLite is still counting, no
        // row was sent, so only the progress check can stop the statement.
        let rows = store.stream(&int_query(FOREVER)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(rows);
        // Streams read one at a time here: the next waits for the first to stop.
        assert_eq!(
            read_stream(&store, "SELECT 3").await.unwrap(),
            vec![vec![Value::Int(3)]]
        );
    }
}
