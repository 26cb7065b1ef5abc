//! Streamed statements read `RowBinaryWithNamesAndTypes` (or JSON, when the header names a
//! type the binary decoder does not read), and must give exactly the rows the JSON path of
//! `fetch` gives. Runs against `CLICKHOUSE_URL` (the chdb test server or a real ClickHouse).
#![allow(clippy::unwrap_used)]

mod common;

use common::{clickhouse_url, fresh};
use quarry_clickhouse::ClickHouseStorage;
use quarry_core::sql::{CellType, Query, Row, Value};
use quarry_core::storage::Storage;

async fn streamed(store: &ClickHouseStorage, query: &Query) -> Vec<Row> {
    let mut rows = store.stream(query).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = rows.next().await.unwrap() {
        assert!(!chunk.is_empty());
        out.extend(chunk);
    }
    out
}

fn query(sql: &str, columns: Vec<CellType>) -> Query {
    Query {
        sql: sql.into(),
        params: vec![],
        columns,
    }
}

const BIG_FLOATS: &str = "[pow(2, 53), pow(2, 54) + 4, pow(2, 60), pow(2, 63), -pow(2, 62), \
                          1e19, 1e300][number % 7 + 1]";
const AWKWARD_FLOATS: &str = "[985.6906946328695, 212.91890726713459, 0.1 + 0.7, 1 / 3, \
                              2.2250738585072014e-308][number % 5 + 1] + number";

/// Every type the binary decoder reads, in the column kinds Quarry declares, with the
/// values where JSON and binary differ most (escapes, bytes that are not UTF-8, NULLs,
/// integral, negative-zero and non-finite floats, 64- and 128-bit integers, repeated map
/// keys): the stream's rows are the fetch's.
#[tokio::test]
async fn binary_streams_give_the_rows_json_gives() {
    use CellType::*;
    let db = fresh().await;
    let store = ClickHouseStorage::connect(&clickhouse_url(), db.database()).unwrap();
    let cells: &[(&str, CellType)] = &[
        (
            "concat('é\"\\n\\\\/', char(0), unhex('FF'), toString(number))",
            Text,
        ),
        ("toLowCardinality(toString(number % 3))", Text),
        (
            "if(number % 2 = 0, NULL, toNullable(toString(number)))",
            Text,
        ),
        ("toFixedString(toString(number % 10), 3)", Text),
        ("toInt64(number) - 2", Int),
        ("toInt8(-number % 100)", Text),
        ("toUInt64(18446744073709551615 - number)", Int),
        ("toUInt64(18446744073709551615 - number)", Float),
        ("toInt128(number) - 1", Text),
        ("toUInt32(number)", Text),
        (
            "[-0., 3., 1e20, 0.1 + 0.2, nan, inf, -2., 1e-7][number % 8 + 1]",
            Float,
        ),
        (
            "[-0., 3., 1e20, 0.1 + 0.2, nan, inf, -2., 1e-7][number % 8 + 1]",
            Int,
        ),
        (
            "toFloat32([1.1, -0., 16777217., 3.4e38][number % 4 + 1])",
            Float,
        ),
        // Integral floats past 2^53, and doubles whose shortest digits a lossy parser
        // reads one unit off.
        (BIG_FLOATS, Text),
        (BIG_FLOATS, Int),
        (BIG_FLOATS, Float),
        (AWKWARD_FLOATS, Float),
        (AWKWARD_FLOATS, Text),
        (
            "map('a', [985.6906946328695, pow(2, 60), pow(2, 63), -pow(2, 55)][number % 4 + 1])",
            Map,
        ),
        (
            "toNullable(toFloat32(if(number % 3 = 0, nan, number / 4)))",
            Float,
        ),
        ("number % 2 = 0", Bool),
        ("toBool(number % 2)", Int),
        ("toString(number) = '3'", Text),
        (
            "map('b', toString(number), 'a', 'x', 'b', 'last', concat('k', unhex('FE')), '')",
            Map,
        ),
        (
            "map('f', toFloat32(number / 2), 'g', toFloat32(-0.), 'h', toFloat32(nan))",
            Map,
        ),
        (
            "map(toUInt64(number), toNullable(if(number % 2 = 0, NULL, 'v')))",
            Map,
        ),
        ("CAST(map(), 'Map(String, String)')", Map),
    ];
    let select: Vec<String> = cells
        .iter()
        .enumerate()
        .map(|(i, (e, _))| format!("{e} AS c{i}"))
        .collect();
    let q = query(
        &format!(
            "SELECT {} FROM numbers(3000) ORDER BY number",
            select.join(", ")
        ),
        cells.iter().map(|(_, t)| *t).collect(),
    );
    let fetched = store.fetch(&q).await.unwrap();
    assert_eq!(fetched.len(), 3000);
    // Spot checks of the JSON path itself.
    assert_eq!(fetched[1][0], Value::Text("é\"\n\\/\0\u{fffd}1".into()));
    assert_eq!(fetched[0][2], Value::Null);
    assert_eq!(fetched[4][10], Value::Null);
    assert_eq!(
        fetched[1][cells
            .iter()
            .position(|(e, _)| e.starts_with("map('b'"))
            .unwrap()],
        Value::Map(vec![
            ("b".into(), "last".into()),
            ("a".into(), "x".into()),
            ("k\u{fffd}".into(), "".into()),
        ])
    );
    let streamed = streamed(&store, &q).await;
    for (i, (a, b)) in fetched.iter().zip(&streamed).enumerate() {
        assert_eq!(a, b, "row {i}");
    }
    assert_eq!(streamed.len(), fetched.len());
}

/// A type the binary decoder does not read (dates, UUIDs, arrays, decimals, enums, a map
/// in a text column): the stream reads the statement again as JSON, with the same rows.
#[tokio::test]
async fn other_types_stream_as_json() {
    use CellType::*;
    let db = fresh().await;
    let store = ClickHouseStorage::connect(&clickhouse_url(), db.database()).unwrap();
    for (expr, ty, first) in [
        ("toDate('2024-01-01') + number", Text, "2024-01-01"),
        (
            "toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')",
            Text,
            "61f0c404-5cb3-11e7-907b-a6006ad3dba0",
        ),
        ("toDecimal32(number, 2)", Text, "0"),
        ("CAST('a', 'Enum8(\\'a\\' = 1)')", Text, "a"),
        ("[number, 1]", Text, "[0,1]"),
        ("map('k', 'v')", Text, "{\"k\":\"v\"}"),
    ] {
        let q = query(
            &format!("SELECT {expr}, toString(number) FROM numbers(700) ORDER BY number"),
            vec![ty, Text],
        );
        let fetched = store.fetch(&q).await.unwrap();
        assert_eq!(fetched[0][0], Value::Text(first.into()), "{expr}");
        assert_eq!(streamed(&store, &q).await, fetched, "{expr}");
    }
}

/// An empty result, and one whose rows cross many of the server's chunks (long strings
/// of every length around the chunk sizes).
#[tokio::test]
async fn empty_and_long_streams() {
    use CellType::*;
    let db = fresh().await;
    let store = ClickHouseStorage::connect(&clickhouse_url(), db.database()).unwrap();
    let empty = query("SELECT toString(number) FROM numbers(0)", vec![Text]);
    assert!(streamed(&store, &empty).await.is_empty());
    let long = query(
        "SELECT repeat('x', number * 37 % 70000), number FROM numbers(4000) ORDER BY number",
        vec![Text, Int],
    );
    let fetched = store.fetch(&long).await.unwrap();
    assert_eq!(fetched.len(), 4000);
    assert_eq!(streamed(&store, &long).await, fetched);
}
