//! Streams ([`Storage::stream`]) read on connections of their own: every row, in order,
//! from a file or from sqlx's shared in-memory database, and a failing statement is
//! reported, not ended as if complete.
#![allow(clippy::unwrap_used)]

use quarry_core::sql::{CellType, Param, Query, Value};
use quarry_core::storage::{Storage, StorageError};
use quarry_core::write::Database as _;
use quarry_sqlite::SqliteStorage;

async fn read_all(store: &SqliteStorage, q: &Query) -> Result<Vec<Vec<Value>>, StorageError> {
    store.stream(q).await?.read_all().await
}

#[tokio::test]
async fn a_stream_sends_every_row_in_order_and_reports_a_failing_statement() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::connect(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // More rows than a chunk, bound parameters of each kind, cells of each declared type.
    let q = Query::new(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?1) \
         SELECT n, n * ?2, ?3 || n, '{\"k\":\"' || n || '\"}', NULL FROM c ORDER BY n",
        vec![Param::Int(1300), Param::Float(0.5), Param::Text("n".into())],
        vec![
            CellType::Int,
            CellType::Float,
            CellType::Text,
            CellType::Map,
            CellType::Text,
        ],
    );
    let rows = read_all(&store, &q).await.unwrap();
    let expected: Vec<Vec<Value>> = (1..=1300i64)
        .map(|n| {
            vec![
                Value::Int(n),
                Value::Float(n as f64 * 0.5),
                Value::Text(format!("n{n}")),
                Value::Map(vec![("k".into(), n.to_string())]),
                Value::Null,
            ]
        })
        .collect();
    assert_eq!(rows, expected);
    // The same rows as a fetch (sqlx) decodes them.
    assert_eq!(store.fetch(&q).await.unwrap(), expected);

    let missing = Query::new("SELECT n FROM no_such_table", vec![], vec![CellType::Int]);
    let err = read_all(&store, &missing).await.unwrap_err();
    assert!(
        matches!(&err, StorageError::Query(m) if m.contains("no such table")),
        "{err:?}"
    );

    // A statement that fails after its first chunk was sent: the rows sent, then its error.
    let overflow = Query::new(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1300) \
         SELECT CASE WHEN n > 600 THEN abs(-9223372036854775808) ELSE n END FROM c",
        vec![],
        vec![CellType::Int],
    );
    let mut rows = store.stream(&overflow).await.unwrap();
    let first = rows.next().await.unwrap().unwrap();
    assert_eq!(first.first(), Some(&vec![Value::Int(1)]));
    let err = loop {
        match rows.next().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the failed stream ended as if complete"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&err, StorageError::Query(m) if m.contains("integer overflow")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stream_converts_each_storage_class_as_a_fetch_does() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::connect(dir.path().join("c.db").to_str().unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let cells = [
        ("7", CellType::Text, Ok(Value::Text("7".into()))),
        ("2.5", CellType::Text, Ok(Value::Text("2.5".into()))),
        ("2.9", CellType::Int, Ok(Value::Int(2))),
        ("'12'", CellType::Int, Ok(Value::Int(12))),
        ("'x'", CellType::Int, Ok(Value::Int(0))),
        ("1", CellType::Bool, Ok(Value::Int(1))),
        ("3", CellType::Float, Ok(Value::Float(3.0))),
        ("'0.25'", CellType::Float, Ok(Value::Float(0.25))),
        (
            "'{\"a\":1}'",
            CellType::Map,
            Ok(Value::Map(vec![("a".into(), "1".into())])),
        ),
        ("'not json'", CellType::Map, Ok(Value::Map(vec![]))),
        ("5", CellType::Map, Err("a map column holds a number")),
        ("x'00'", CellType::Text, Err("")),
    ];
    for (sql, ty, expected) in cells {
        let q = Query::new(format!("SELECT {sql}"), vec![], vec![ty]);
        let fetched = store.fetch(&q).await;
        let streamed = read_all(&store, &q).await;
        match expected {
            Ok(v) => {
                assert_eq!(fetched.unwrap(), vec![vec![v.clone()]], "fetch {sql}");
                assert_eq!(streamed.unwrap(), vec![vec![v]], "stream {sql}");
            }
            Err(message) => {
                for (how, got) in [("fetch", fetched), ("stream", streamed)] {
                    assert!(
                        matches!(&got, Err(StorageError::Query(m)) if m.contains(message)),
                        "{how} {sql}: {got:?}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_stream_reads_the_database_its_storage_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("u.db");
    // Made and filled first, so that `immutable` has a file to read.
    SqliteStorage::connect(file.to_str().unwrap())
        .await
        .unwrap();
    let urls = [
        "sqlite::memory:".to_string(),
        "sqlite:file:quarry-stream-uri?mode=memory&cache=shared".to_string(),
        format!("sqlite://{}", file.display()),
    ];
    for url in urls {
        let store = SqliteStorage::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1), (2), (3)")
            .execute(store.pool())
            .await
            .expect(&url);
        let q = Query::new(
            "SELECT n FROM t ORDER BY n DESC",
            vec![],
            vec![CellType::Int],
        );
        let rows = read_all(&store, &q).await.unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Value::Int(3)],
                vec![Value::Int(2)],
                vec![Value::Int(1)]
            ],
            "{url}"
        );
        // Read-only, whatever the URL: a stream's statement writes nothing.
        let write = Query::new("DELETE FROM t RETURNING n", vec![], vec![CellType::Int]);
        let err = read_all(&store, &write).await.unwrap_err();
        assert!(matches!(err, StorageError::Query(_)), "{url}: {err:?}");
        // An immutable reader sees the main file only: move the log's pages into it.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(store.pool())
            .await
            .unwrap();
        store.pool().close().await;
    }
    let immutable = format!("sqlite://{}?immutable=true", file.display());
    match SqliteStorage::connect(&immutable).await {
        Ok(store) => {
            let q = Query::new("SELECT count(*) FROM t", vec![], vec![CellType::Int]);
            assert_eq!(
                read_all(&store, &q).await.unwrap(),
                vec![vec![Value::Int(3)]]
            );
        }
        Err(e) => panic!("{immutable}: {e}"),
    }
}
