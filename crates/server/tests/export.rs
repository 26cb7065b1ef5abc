//! Export at scale over HTTP, on the configured backend (`QUARRY_TEST_BACKEND`): keyset
//! cursors walked while events arrive, the cursor's filter fingerprint, streamed NDJSON
//! and CSV parsed back and compared with the JSON pages, projection, and a client that
//! goes away mid-stream.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quarry_core::sql::{Dialect, Query, Row};
use quarry_core::storage::{RowStream, Storage, StorageError};
use serde_json::Value;
use support::*;

/// `count` generated events of project `abc` (ids are UUIDs, many share a millisecond).
fn generated(count: usize, seed: u64) -> Vec<quarry_core::event::NewEvent> {
    let opts = quarry_demo::SeedOptions {
        project_id: "abc".into(),
        events: count,
        days: 3,
        seed,
        now_ms: ms(NOW),
    };
    let mut rows: Vec<_> = quarry_demo::events(&opts).collect();
    // Ties in time: every fourth event shares the previous one's millisecond.
    for i in (1..rows.len()).step_by(4) {
        rows[i].created_at = rows[i - 1].created_at;
    }
    rows
}

/// Every page of §5's offset paging, concatenated.
async fn offset_pages(app: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = app
            .get(
                &format!("/export/events?{query}&limit=50&page={page}"),
                READ,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let data = r.json()["data"].as_array().unwrap().clone();
        if data.is_empty() {
            break;
        }
        out.extend(data);
    }
    out
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_cursor_walk_sees_every_row_once_while_events_arrive() {
    let app = spawn().await;
    app.db.insert_events(&generated(600, 3)).await.unwrap();
    let before = offset_pages(&app, "includes=properties").await;
    assert!(before.len() > 600);

    let mut walked: Vec<Value> = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    let mut late = 0u64;
    loop {
        let r = app
            .get(
                &format!(
                    "/export/events?includes=properties&limit=50&cursor={}",
                    enc(&token)
                ),
                READ,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        let meta = body["meta"].as_object().unwrap();
        let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
        assert_eq!(keys, ["count", "next"]);
        let data = body["data"].as_array().unwrap();
        assert_eq!(meta["count"], data.len());
        walked.extend(data.iter().cloned());
        pages += 1;
        // Events arrive while the walk runs: newer than every row, older than every row,
        // and in the very millisecond of the page's last row.
        let last_at = data.last().map(|r| ms(r["createdAt"].as_str().unwrap()));
        if let Some(at) = last_at.filter(|_| pages % 3 == 0) {
            late += 1;
            let arrivals = [
                ev(
                    &eid(50_000 + late as u32 * 3),
                    "late",
                    "2030-01-01T00:00:00.000Z",
                ),
                ev(
                    &eid(50_001 + late as u32 * 3),
                    "late",
                    "2000-01-01T00:00:00.000Z",
                ),
                quarry_core::event::NewEvent {
                    created_at: at,
                    ..ev(
                        &eid(50_002 + late as u32 * 3),
                        "late",
                        "2000-01-01T00:00:00.000Z",
                    )
                },
            ];
            app.db.insert_events(&arrivals).await.unwrap();
        }
        match &meta["next"] {
            Value::Null => break,
            Value::String(next) => token = next.clone(),
            other => panic!("next: {other}"),
        }
        assert!(pages < 100, "the walk does not end");
    }
    assert!(late > 3, "events arrived during the walk");
    let seen = ids(&walked);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row came twice");
    // Every row that was there before the walk, in the offset pages' order and with the
    // same content; rows that arrived meanwhile may appear only where §5's order puts them.
    let original: HashSet<String> = ids(&before).into_iter().collect();
    let kept: Vec<Value> = walked
        .iter()
        .filter(|r| original.contains(r["id"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(kept, before);
    let order: Vec<(i64, String)> = walked
        .iter()
        .map(|r| {
            (
                -ms(r["createdAt"].as_str().unwrap()),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "not in §5's order");
}

#[tokio::test]
async fn a_cursor_is_bound_to_its_conditions() {
    let app = spawn().await;
    let first = app
        .get(
            "/export/events?event=screen_view&limit=2&cursor=&count=true",
            READ,
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let body = first.json();
    let keys: Vec<&str> = body["meta"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["count", "next", "totalCount"]);
    assert_eq!(body["meta"]["count"], 2);
    assert_eq!(body["meta"]["totalCount"], 6);
    let next = body["meta"]["next"].as_str().unwrap().to_string();

    // The same conditions go on (the page size and includes may change)...
    let again = app
        .get(
            &format!(
                "/export/events?event=screen_view&limit=4&includes=region&cursor={}",
                enc(&next)
            ),
            READ,
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["meta"]["count"], 4);
    assert_eq!(again.json()["meta"]["next"], Value::Null);

    // ...other conditions, another timezone of the same dates, or another project do not.
    for other in [
        "event=sign_up",
        "event=screen_view&filters=[{\"name\":\"country\",\"operator\":\"is\",\"value\":[\"SE\"]}]",
        "event=screen_view&profileId=u1",
        "event=screen_view&start=2024-04-01",
    ] {
        let r = app
            .get(
                &format!("/export/events?{other}&cursor={}", enc(&next)),
                READ,
            )
            .await;
        assert_eq!(r.status, 400, "{other}: {}", r.body);
        let details = &r.json()["details"];
        assert_eq!(details[0]["param"], "cursor", "{other}");
        assert!(
            details[0]["message"]
                .as_str()
                .unwrap()
                .contains("other conditions")
        );
    }
    for malformed in ["garbage", "MXxmZnx4fHk", "%F0%9F%92%A9"] {
        let r = app
            .get(&format!("/export/events?cursor={malformed}"), READ)
            .await;
        assert_eq!(r.status, 400, "{malformed}: {}", r.body);
        assert_eq!(r.json()["details"][0]["param"], "cursor");
    }
    let r = app.get("/export/events?cursor=&page=2", READ).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["details"][0]["param"], "page");
    let r = app.get("/export/events?cursor=&format=csv", READ).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["details"][0]["param"], "cursor");
}

/// A streamed body, read whole.
async fn stream(
    app: &TestApp,
    query: &str,
    accept: Option<&str>,
) -> (reqwest::header::HeaderMap, String) {
    let mut req = app
        .http
        .get(app.url(&format!("/export/events?{query}")))
        .header("openpanel-client-id", READ_ID)
        .header("openpanel-client-secret", READ_SECRET);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    (headers, resp.text().await.unwrap())
}

/// RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record is not ended by CRLF"
    );
    records
}

/// How a JSON value reads in a CSV cell.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Offset pages inside a date range (which ClickHouse narrows to each page's own times,
/// read in its sort key's order) hold exactly the stream's rows, page after page, with
/// ties in time cut by page ends, and a page past the last is empty.
#[tokio::test]
async fn offset_pages_in_a_date_range_hold_the_rows_of_the_stream() {
    let app = spawn().await;
    app.db.insert_events(&generated(3_000, 21)).await.unwrap();
    let query = "start=2024-04-16&end=2024-04-21";
    let (_, ndjson) = stream(&app, &format!("{query}&format=ndjson"), None).await;
    let streamed: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(streamed.len() > 2_900, "{}", streamed.len());
    let mut paged = Vec::new();
    for page in 1.. {
        let r = app
            .get(
                &format!("/export/events?{query}&limit=37&page={page}"),
                READ,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        assert_eq!(body["meta"]["totalCount"], streamed.len(), "page {page}");
        let data = body["data"].as_array().unwrap().clone();
        if data.is_empty() {
            break;
        }
        paged.extend(data);
    }
    assert_eq!(ids(&paged), ids(&streamed));
    assert_eq!(paged, streamed);
}

#[tokio::test]
async fn streams_hold_exactly_the_rows_of_the_json_pages() {
    let app = spawn().await;
    let mut rows = generated(6_000, 5);
    // Text CSV must quote, in a property and in a column.
    rows[7].path = "/a,\"b\"\r\nc".into();
    rows[9]
        .properties
        .insert("note".into(), "x,\"y\"\nz".into());
    app.db.insert_events(&rows).await.unwrap();
    let query = "includes=properties,sessionId,profile,meta";
    let pages = offset_pages(&app, query).await;
    assert!(pages.len() > 6_000);

    let (headers, ndjson) = stream(&app, &format!("{query}&format=ndjson"), None).await;
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert_eq!(headers["transfer-encoding"], "chunked");
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(ndjson.ends_with('\n'));
    assert_eq!(lines, pages);
    // Lines are exactly the page's objects as the JSON page writes them, byte for byte.
    let written: String = pages
        .iter()
        .map(|p| serde_json::to_string(p).unwrap() + "\n")
        .collect();
    assert!(
        ndjson == written,
        "NDJSON lines differ from the JSON page's objects"
    );

    // Accept chooses the format when `format` does not.
    let (_, by_accept) = stream(&app, query, Some("application/x-ndjson")).await;
    assert_eq!(by_accept, ndjson);

    let (headers, csv) = stream(&app, query, Some("text/csv")).await;
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let records = parse_csv(&csv);
    let header = &records[0];
    let mut names: Vec<String> = pages[0].as_object().unwrap().keys().cloned().collect();
    names.retain(|n| n != "profile" && n != "meta");
    names.extend(["profile".into(), "meta".into()]);
    assert_eq!(header, &names);
    assert_eq!(records.len() - 1, pages.len());
    for (record, page_row) in records[1..].iter().zip(&pages) {
        let expected: Vec<String> = names.iter().map(|n| cell(page_row.get(n))).collect();
        assert_eq!(record, &expected);
    }
    let (_, explicit) = stream(
        &app,
        &format!("{query}&format=csv"),
        Some("application/x-ndjson"),
    )
    .await;
    assert_eq!(explicit, csv, "format= wins over Accept");
}

#[tokio::test]
async fn fields_choose_the_columns_of_pages_and_streams() {
    let app = spawn().await;
    let query = "fields=createdAt,properties.__query.utm_source,name&event=screen_view";
    let page = app
        .get(&format!("/export/events?{query}&limit=2"), READ)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let data = page.json()["data"].clone();
    let first = data[0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys, ["createdAt", "properties.__query.utm_source", "name"]);
    let (_, csv) = stream(&app, &format!("{query}&format=csv"), None).await;
    let records = parse_csv(&csv);
    assert_eq!(
        records[0],
        ["createdAt", "properties.__query.utm_source", "name"]
    );
    // e01 is the only screen_view with a utm_source; the others read as empty text.
    let e01: Vec<&Vec<String>> = records.iter().filter(|r| r[1] == "google").collect();
    assert_eq!(e01.len(), 1);
    assert_eq!(e01[0][0], "2024-04-15T09:00:00.000Z");
    assert_eq!(records.len(), 7, "the header and six screen_view events");

    for bad in ["fields=nope", "fields=properties.", "fields="] {
        let r = app.get(&format!("/export/events?{bad}"), READ).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.json()["details"][0]["param"], "fields");
    }
    let r = app.get("/export/events?format=xml", READ).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["details"][0]["param"], "format");
}

/// A real store that counts the fetches started and those still running.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Storage>,
    started: AtomicUsize,
    running: Arc<AtomicUsize>,
}

struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream that counts as running until it is dropped.
struct CountedRows(Box<dyn RowStream>, #[allow(dead_code)] Running);

#[async_trait]
impl RowStream for CountedRows {
    async fn next(&mut self) -> Result<Option<Vec<Row>>, StorageError> {
        self.0.next().await
    }
}

#[async_trait]
impl Storage for Counting {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.running.fetch_add(1, Ordering::SeqCst);
        let _running = Running(self.running.clone());
        self.inner.fetch(query).await
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(self.running.clone());
        let inner = self.inner.stream(query).await?;
        Ok(Box::new(CountedRows(inner, running)))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn a_client_that_goes_away_stops_the_export() {
    let counting: Arc<std::sync::OnceLock<Arc<Counting>>> = Arc::default();
    let keep = counting.clone();
    let settings = quarry_server::Settings {
        limits: quarry_server::settings::Limits {
            max_concurrent_queries: 1,
            ..Default::default()
        },
        ..settings()
    };
    let app = spawn_over(settings, move |db| {
        let c = Arc::new(Counting {
            inner: db.backends(clock()).store,
            started: AtomicUsize::new(0),
            running: Arc::default(),
        });
        keep.set(c.clone()).unwrap();
        Some(c as Arc<dyn Storage>)
    })
    .await;
    let store = counting.get().unwrap().clone();
    // 20 batches of properties-heavy rows: far more than the socket buffers hold.
    let mut rows = generated(100_000, 11);
    let pad = "p".repeat(400);
    for r in &mut rows {
        r.properties.insert("pad".into(), pad.clone());
    }
    for chunk in rows.chunks(20_000) {
        app.db.insert_events(chunk).await.unwrap();
    }

    let resp = app
        .http
        .get(app.url("/export/events?includes=properties&format=ndjson"))
        .header("openpanel-client-id", READ_ID)
        .header("openpanel-client-secret", READ_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut resp = resp;
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(resp);

    // The walk stops: soon nothing runs and no query starts for a second.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut settled = store.started.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = store.started.load(Ordering::SeqCst);
        if now == settled && store.running.load(Ordering::SeqCst) == 0 {
            break;
        }
        settled = now;
        assert!(
            Instant::now() < deadline,
            "the export goes on after the client left"
        );
    }
    // One streaming query per span (three on ClickHouse), none after the client left.
    assert!(settled <= 3, "{settled} queries for one export");
    if shape() == Shape::Postgres {
        // And the server itself runs no statement of the export any more.
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&app.db.database_url)
            .await
            .unwrap();
        loop {
            let active: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE '%FROM events%'",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            if active == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the export's statement still runs"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The client's only query slot is free again.
    let r = app.get("/export/events?limit=1", READ).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_server_runs_at_most_max_streams_streams() {
    let settings = quarry_server::Settings {
        limits: quarry_server::settings::Limits {
            max_streams: 1,
            ..Default::default()
        },
        ..settings()
    };
    let app = spawn_with(settings).await;
    // Far more than the socket buffers hold, so the first stream cannot finish unread.
    let mut rows = generated(30_000, 12);
    let pad = "p".repeat(1_000);
    for r in &mut rows {
        r.properties.insert("pad".into(), pad.clone());
    }
    app.db.insert_events(&rows).await.unwrap();
    let open = || {
        app.http
            .get(app.url("/export/events?includes=properties&format=ndjson"))
            .header("openpanel-client-id", READ_ID)
            .header("openpanel-client-secret", READ_SECRET)
            .send()
    };
    let mut first = open().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(!first.chunk().await.unwrap().unwrap().is_empty());

    // A second stream, even of the same client (which has slots left), waits its turn.
    let refused = app.get("/export/events?format=csv", READ).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("5"));
    assert_eq!(refused.json()["code"], "rate_limited", "{}", refused.body);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("streamed exports"),
        "{}",
        refused.body
    );
    // Pages are not streams.
    assert_eq!(app.get("/export/events?limit=1", READ).await.status, 200);

    // Once the first stream is gone, the next one runs.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.get("/export/events?format=csv&fields=id", READ).await;
        if r.status == 200 {
            let total = app.get("/export/events?limit=1", READ).await.json()["meta"]["totalCount"]
                .as_u64()
                .unwrap();
            assert!(total > 30_000);
            assert_eq!(
                r.body.lines().count() as u64,
                total + 1,
                "the header and every row"
            );
            break;
        }
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "the first stream's permit was never given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stream_of_an_empty_match_is_empty_and_csv_keeps_its_header() {
    let app = spawn().await;
    let (_, ndjson) = stream(&app, "event=nothing&format=ndjson", None).await;
    assert_eq!(ndjson, "");
    let (_, csv) = stream(&app, "event=nothing&format=csv&fields=id,name", None).await;
    assert_eq!(csv, "id,name\r\n");
}

#[tokio::test]
async fn a_stream_crosses_the_ends_of_clickhouses_date_range() {
    // ClickHouse's sort-key day (Date) wraps outside 1970-01-01..2149-06-06: the walk reads
    // the rows after, inside and before that range separately, in §5's order throughout.
    let app = spawn().await;
    let at = [
        "1900-01-01T00:00:00.000Z",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T12:00:00.000Z",
        "1970-01-02T00:00:00.000Z",
        "2149-06-04T23:59:59.999Z",
        "2149-06-05T00:00:00.000Z",
        "2149-06-07T00:00:00.000Z",
        "2299-12-31T23:59:59.999Z",
    ];
    let rows: Vec<_> = at
        .iter()
        .enumerate()
        .flat_map(|(i, t)| (0..3).map(move |k| ev(&eid(60_000 + i as u32 * 10 + k), "edge", t)))
        .collect();
    app.db.insert_events(&rows).await.unwrap();
    let mut expected: Vec<(i64, String)> =
        rows.iter().map(|e| (-e.created_at, e.id.clone())).collect();
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let pages = offset_pages(&app, "event=edge").await;
    assert_eq!(ids(&pages), expected);
    let (_, ndjson) = stream(&app, "event=edge&format=ndjson", None).await;
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, pages);
    // Cursor pages of 5 cross the same ends, each page full but the last.
    let (mut walked, mut token) = (Vec::new(), String::new());
    loop {
        let r = app
            .get(
                &format!("/export/events?event=edge&limit=5&cursor={}", enc(&token)),
                READ,
            )
            .await;
        let body = r.json();
        let data = body["data"].as_array().unwrap().clone();
        match body["meta"]["next"].as_str() {
            Some(next) => {
                assert_eq!(data.len(), 5, "a page that is not the last is full");
                token = next.to_string();
                walked.extend(data);
            }
            None => {
                walked.extend(data);
                break;
            }
        }
    }
    assert_eq!(walked, pages);
}

/// A Parquet value as the JSON page writes it.
fn parquet_json(field: &parquet::record::Field) -> Value {
    use parquet::record::Field as F;
    match field {
        F::Null => Value::Null,
        F::Str(s) => Value::String(s.clone()),
        F::Long(i) => Value::from(*i),
        F::Double(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        F::TimestampMillis(ms) => Value::String(quarry_core::time::format_utc_millis(*ms)),
        F::MapInternal(map) => Value::Object(
            map.entries()
                .iter()
                .map(|(k, v)| {
                    (
                        parquet_json(k).as_str().unwrap().to_string(),
                        parquet_json(v),
                    )
                })
                .collect(),
        ),
        other => panic!("a type Quarry does not write: {other:?}"),
    }
}

#[tokio::test]
async fn parquet_holds_the_rows_of_the_json_pages_with_typed_columns() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let app = spawn().await;
    app.db.insert_events(&generated(12_000, 8)).await.unwrap();
    let query = "includes=properties,importedAt,longitude,profile,meta&fields=id,createdAt,name,duration,properties.__query.utm_source";
    let pages = offset_pages(&app, query).await;
    let resp = app
        .http
        .get(app.url(&format!("/export/events?{query}")))
        .header("openpanel-client-id", READ_ID)
        .header("openpanel-client-secret", READ_SECRET)
        .header("accept", "application/vnd.apache.parquet")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.apache.parquet"
    );
    let body = resp.bytes().await.unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(file.path()).unwrap()).unwrap();

    let schema = reader.metadata().file_metadata().schema_descr();
    let leaf = |name: &str| {
        (0..schema.num_columns())
            .map(|i| schema.column(i))
            .find(|c| c.path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    use parquet::basic::{LogicalType, TimeUnit, Type as Physical};
    let created = leaf("createdAt");
    assert_eq!(created.physical_type(), Physical::INT64);
    assert_eq!(
        created.logical_type_ref(),
        Some(&LogicalType::timestamp(true, TimeUnit::MILLIS))
    );
    assert_eq!(created.max_def_level(), 0, "createdAt is required");
    assert_eq!(
        leaf("importedAt").max_def_level(),
        1,
        "importedAt may be null"
    );
    assert_eq!(leaf("duration").physical_type(), Physical::INT64);
    assert_eq!(leaf("longitude").physical_type(), Physical::DOUBLE);
    assert_eq!(
        leaf("properties.__query.utm_source").logical_type_ref(),
        Some(&LogicalType::String)
    );
    assert_eq!(
        leaf("properties.key_value.key").logical_type_ref(),
        Some(&LogicalType::String)
    );
    assert_eq!(
        reader.metadata().num_row_groups(),
        1,
        "a row group spans the stream's batches"
    );

    let mut rows = Vec::new();
    for row in reader.get_row_iter(None).unwrap() {
        let row = row.unwrap();
        let mut obj = serde_json::Map::new();
        for (name, field) in row.get_column_iter() {
            let mut v = parquet_json(field);
            if name == "profile" || name == "meta" {
                if v.is_null() {
                    continue;
                }
                v = serde_json::from_str(v.as_str().unwrap()).unwrap();
            }
            obj.insert(name.clone(), v);
        }
        rows.push(Value::Object(obj));
    }
    assert_eq!(rows.len(), pages.len());
    assert!(pages.iter().any(|p| p.get("profile").is_some()));
    assert_eq!(rows, pages);
}
