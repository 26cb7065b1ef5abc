//! Streams ([`Storage::stream`]) read on connections of their own: every row, in order,
//! from a file or from sqlx's shared in-memory database, and a failing statement is
//! reported, not ended as if complete.
#![allow(clippy::unwrap_used)]

use quarry_core::sql::{CellType, Param, Query, Value};
use quarry_core::storage::{Storage, StorageError};
use quarry_core::write::Database as _;
use quarry_sqlite::SqliteStorage;

fn query(sql: &str, params: Vec<Param>, columns: Vec<CellType>) -> Query {
    Query {
        sql: sql.into(),
        params,
        columns,
    }
}

async fn read_all(store: &SqliteStorage, q: &Query) -> Result<Vec<Vec<Value>>, StorageError> {
    let mut rows = store.stream(q).await?;
    let mut all = Vec::new();
    while let Some(chunk) = rows.next().await? {
        assert!(!chunk.is_empty());
        all.extend(chunk);
    }
    Ok(all)
}

#[tokio::test]
async fn a_stream_sends_every_row_in_order_and_reports_a_failing_statement() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::connect(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // More rows than a chunk, bound parameters of each kind, cells of each declared type.
    let q = query(
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

    let missing = query("SELECT n FROM no_such_table", vec![], vec![CellType::Int]);
    let err = read_all(&store, &missing).await.unwrap_err();
    assert!(matches!(err, StorageError::Query(_)), "{err:?}");
}

#[tokio::test]
async fn a_stream_reads_the_in_memory_database_of_its_storage() {
    let store = SqliteStorage::connect("sqlite::memory:").await.unwrap();
    sqlx::query("CREATE TABLE t (n INTEGER)")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES (1), (2), (3)")
        .execute(store.pool())
        .await
        .unwrap();
    let q = query(
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
        ]
    );
}
