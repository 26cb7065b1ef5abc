//! `REGEXP` on a real SQLite file: quarry-sqlite-regexp's function, registered on every
//! event connection, sqlx's and the streams' alike (every query runs both ways). One test, so that the process-wide compile counter it reads moves for
//! nothing else.
#![allow(clippy::unwrap_used)]

use quarry_core::sql::{CellType, Value};
use quarry_core::sql::{Param, Query};
use quarry_core::storage::{Storage, StorageError};
use quarry_core::write::Database as _;
use quarry_sqlite::SqliteStorage;
use quarry_sqlite_regexp::{CAPACITY, stats};
use regex::Regex;

fn one(sql: String, params: Vec<Param>) -> Query {
    Query {
        sql,
        params,
        columns: vec![CellType::Int],
    }
}

fn text(s: &str) -> Param {
    Param::Text(s.into())
}

/// The query as a fetch and as a stream (which read on connections of their own): the same
/// rows, or the same kind of error.
async fn run(store: &SqliteStorage, query: &Query) -> Result<Vec<Vec<Value>>, StorageError> {
    let fetched = store.fetch(query).await;
    let streamed = async { store.stream(query).await?.read_all().await }.await;
    match (&fetched, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", query.sql),
        (Err(a), Err(b)) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "{a:?} / {b:?}"
        ),
        _ => panic!("{}: fetch {fetched:?}, stream {streamed:?}", query.sql),
    }
    fetched
}

#[tokio::test]
async fn regexp_compiles_each_pattern_once_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::connect(dir.path().join("r.db").to_str().unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();

    // Matches exactly where the regex crate does (`text REGEXP pattern`).
    let cases = [
        ("^[0-9]+(\\.[0-9]+)?$", "12.5"),
        ("^[0-9]+(\\.[0-9]+)?$", "12."),
        ("b[^\\n]d", "abcde"),
        ("(?i)^SE$", "se"),
        ("^$", ""),
        ("é", "café"),
        ("a|b", "xyz"),
    ];
    for (pattern, subject) in cases {
        let rows = run(
            &store,
            &one(
                "SELECT ?1 REGEXP ?2".into(),
                vec![text(subject), text(pattern)],
            ),
        )
        .await
        .unwrap();
        let expected = i64::from(Regex::new(pattern).unwrap().is_match(subject));
        assert_eq!(
            rows,
            vec![vec![Value::Int(expected)]],
            "{pattern} on {subject:?}"
        );
    }
    // Numbers are matched as their text; NULL on either side is no match.
    for (sql, expected) in [
        ("SELECT 123 REGEXP '23'", 1),
        ("SELECT 12.5 REGEXP '^12\\.5$'", 1),
        ("SELECT NULL REGEXP 'a'", 0),
        ("SELECT 'a' REGEXP NULL", 0),
        ("SELECT NULL REGEXP '('", 0),
    ] {
        let rows = run(&store, &one(sql.into(), vec![])).await.unwrap();
        assert_eq!(rows, vec![vec![Value::Int(expected)]], "{sql}");
    }

    // 400 call sites of one pattern, over 50 rows, in one statement: one compilation.
    let pattern = "^(a{1,255}){1,4}(b|c)$";
    let sites = vec!["(s.x REGEXP ?1)"; 400].join(" + ");
    let sql = format!(
        "WITH RECURSIVE s(n, x) AS (SELECT 1, 'ab' UNION ALL SELECT n + 1, x FROM s \
         WHERE n < 50) SELECT sum({sites}) FROM s"
    );
    let before = stats();
    let rows = run(&store, &one(sql.clone(), vec![text(pattern)]))
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![Value::Int(400 * 50)]]);
    assert_eq!(stats().compiled - before.compiled, 1);
    // Again, on whichever connection: still cached.
    run(&store, &one(sql, vec![text(pattern)])).await.unwrap();
    assert_eq!(stats().compiled - before.compiled, 1);

    // Many distinct patterns: the cache never holds more than its bound.
    let before = stats();
    for i in 0..(2 * CAPACITY) {
        let rows = run(
            &store,
            &one(
                "SELECT ?1 REGEXP ?2".into(),
                vec![text(&format!("k{i}")), text(&format!("^k{i}$"))],
            ),
        )
        .await
        .unwrap();
        assert_eq!(rows, vec![vec![Value::Int(1)]]);
        assert!(stats().cached <= CAPACITY, "{:?}", stats());
    }
    assert_eq!(stats().compiled - before.compiled, 2 * CAPACITY as u64);
    assert_eq!(stats().cached, CAPACITY);

    // A pattern that does not compile (too large for the limits, or bad syntax) is the
    // user's: Rejected, at any of 400 call sites, and the connection stays usable.
    for pattern in ["(a{1,255}){1,255}", "(a", "\\pL{1000}"] {
        let before = stats();
        let sql = format!("SELECT {}", vec!["('a' REGEXP ?1)"; 400].join(" + "));
        let err = run(&store, &one(sql, vec![text(pattern)]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::Rejected(_)),
            "{pattern}: {err:?}"
        );
        assert_eq!(stats().compiled, before.compiled);
    }
    let rows = run(&store, &one("SELECT 'a' REGEXP 'a'".into(), vec![]))
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
    // Other failures stay query errors.
    let err = run(&store, &one("SELECT nope()".into(), vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Query(_)), "{err:?}");
}
