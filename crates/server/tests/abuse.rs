//! Hostile input and load against the real server (`QUARRY_TEST_BACKEND` picks SQLite,
//! PostgreSQL or ClickHouse; scripts/test.sh runs all three): each finding of the security
//! review (docs/limits.md, SECURITY.md) replayed as an ordinary `read` client would send
//! it, asserting the status, the §4.2 JSON body, that the process still answers, and that
//! `/healthz` and another client's requests answer while the attack runs and right after.
//!
//! Time bounds here are generous liveness limits (seconds), not performance targets.
#![allow(clippy::unwrap_used)]
// Each test holds `serial()` across its awaits on purpose: tests run on runtimes of their
// own, so the lock only orders whole tests.
#![allow(clippy::await_holding_lock)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use quarry_server::settings::Limits;
use serde_json::{Value, json};
use support::*;

/// The attacks run one at a time: each measures how the server answers others while it
/// runs, which another attack running beside it would distort.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A chart URL of the given event configs (JSON) and extra parameters.
fn chart(configs: &str, extra: &str) -> String {
    format!("/export/charts?events={}&{extra}", enc(configs))
}

/// One filter with `n` values made by `value(i)`, as JSON.
fn filter(field: &str, operator: &str, n: usize, value: impl Fn(usize) -> String) -> String {
    let values: Vec<Value> = (0..n).map(|i| Value::String(value(i))).collect();
    json!({"name": field, "operator": operator, "value": values}).to_string()
}

#[track_caller]
fn assert_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let body = r.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: &[&str] = if status == 400 {
        &["error", "code", "message", "details"]
    } else {
        &["error", "code", "message"]
    };
    assert_eq!(keys, expected, "{}", r.body);
    assert_eq!(body["code"], json!(code), "{}", r.body);
    assert!(!body["message"].as_str().unwrap().is_empty());
    body
}

/// The first detail of a 400.
#[track_caller]
fn detail(body: &Value) -> (&str, &str) {
    let d = &body["details"][0];
    (d["param"].as_str().unwrap(), d["message"].as_str().unwrap())
}

/// Probes `/healthz` and an ordinary request of another client every 200 ms until
/// stopped; the worst latency and any failure of either.
struct Prober {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Duration, Vec<String>)>,
}

impl Prober {
    /// Start probing, after one request of the victim (an existing client, whose secret
    /// the server has verified before the attack starts).
    async fn start(app: &TestApp, victim: Creds<'static>, url: &'static str) -> Prober {
        let r = app.get(url, victim).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let base = app.url("");
        let task = tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut failures = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                for (path, creds) in [("/healthz", None), (url, Some(victim))] {
                    let started = Instant::now();
                    let mut req = http.get(format!("{base}{path}"));
                    if let Some(c) = creds {
                        req = req
                            .header("openpanel-client-id", c.id.unwrap())
                            .header("openpanel-client-secret", c.secret.unwrap());
                    }
                    match req.send().await {
                        Ok(r) if r.status().as_u16() == 200 => {}
                        Ok(r) => {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            failures.push(format!("{path}: {status} {body}"));
                        }
                        Err(e) => failures.push(format!("{path}: {e}")),
                    }
                    worst = worst.max(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (worst, failures)
        });
        Prober { stop, task }
    }

    /// Stop and assert that every probe answered 200 within `bound`.
    async fn finish(self, bound: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let (worst, failures) = self.task.await.unwrap();
        assert!(failures.is_empty(), "probes failed: {failures:?}");
        assert!(worst < bound, "a probe took {worst:?}");
    }
}

/// Send raw bytes and read the whole answer (the connection is closed by the server or
/// after `Connection: close`), off the test's runtime, which serves the app.
async fn raw(port: u16, request: &[u8]) -> Resp {
    let request = request.to_vec();
    tokio::task::spawn_blocking(move || raw_blocking(port, &request))
        .await
        .unwrap()
}

fn raw_blocking(port: u16, request: &[u8]) -> Resp {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may answer and close before reading everything of a huge request.
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get_with_auth(target: &[u8], port: u16, extra: &str) -> Vec<u8> {
    let mut r = b"GET ".to_vec();
    r.extend_from_slice(target);
    r.extend_from_slice(
        format!(
            " HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nopenpanel-client-id: {READ_ID}\r\n\
             openpanel-client-secret: {READ_SECRET}\r\n{extra}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    r
}

// ---- 1, 3. Regular expressions ------------------------------------------------------------

#[tokio::test]
async fn hostile_regular_expressions_are_refused_before_they_compile() {
    let _serial = serial();
    let app = spawn().await;
    let probe = Prober::start(&app, ROOT_P, "/export/events?limit=1").await;
    // The review's 18 KB URL: 400 patterns that each expand to 65 025 atoms (one compiled
    // copy per call site and connection made the process abort).
    let hostile = format!(
        "[{}]",
        filter("path", "regex", 400, |_| "(a{1,255}){1,255}".into())
    );
    let url = format!("/export/events?filters={}", enc(&hostile));
    for _ in 0..3 {
        let r = app.get(&url, READ).await;
        let body = assert_error(&r, 400, "invalid_parameter");
        let (param, message) = detail(&body);
        assert_eq!(param, "filters[0].value[0]");
        assert!(message.contains("compiles to more than"), "{message}");
    }
    // Distinct hostile patterns: the budget of 16 per request is reported once.
    let many = format!(
        "[{}]",
        filter("path", "regex", 40, |i| format!(
            "([ab]{{1,255}}){{1,{}}}",
            200 + i
        ))
    );
    let r = app
        .get(
            &chart(&format!(r#"[{{"name":"*","filters":{many}}}]"#), "range=7d"),
            READ,
        )
        .await;
    let body = assert_error(&r, 400, "invalid_parameter");
    assert!(
        body["details"].as_array().unwrap().len() <= 17,
        "{}",
        r.body
    );
    // Two requests of ~2 350 such values at once: refused quickly (the URL alone is over
    // the limit), while /healthz and other clients keep answering.
    let huge = format!(
        "[{}]",
        filter("path", "regex", 2_350, |_| "([ab]{1,255}){1,255}".into())
    );
    let url = format!("/export/events?filters={huge}");
    let started = Instant::now();
    let (a, b) = tokio::join!(app.raw_get(&url, &[]), app.raw_get(&url, &[]));
    for r in [a, b] {
        assert_error(&r, 414, "invalid_request");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Honest patterns at the budget still run on every backend.
    let honest = format!(
        "[{}]",
        filter("path", "regex", 16, |i| format!("^/(home|pricing|p{i})$"))
    );
    let r = app
        .get(
            &format!("/export/events?limit=50&filters={}", enc(&honest)),
            READ,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["meta"]["totalCount"], json!(6));
    probe.finish(Duration::from_secs(5)).await;
}

// ---- 2. Charts that keep too much ---------------------------------------------------------

#[tokio::test]
async fn charts_cannot_keep_unbounded_series_and_buckets() {
    let _serial = serial();
    let app = spawn().await;
    let probe = Prober::start(&app, ROOT_P, "/export/events?limit=1").await;
    let twenty = format!("[{}]", [r#"{"name":"*"}"#; 20].join(","));
    let session = enc(r#"[{"name":"session_id"}]"#);
    // The review's 923-byte request: minute buckets over ~9 990 minutes, 20 configs, a
    // session breakdown, the previous period, offset 100 000.
    let window = "startDate=2024-04-13T13:30:00Z&endDate=2024-04-20T11:59:00Z";
    let r = app
        .get(
            &chart(
                &twenty,
                &format!(
                    "breakdowns={session}&interval=minute&{window}&previous=true&limit=1&offset=100000"
                ),
            ),
            READ,
        )
        .await;
    let body = assert_error(&r, 400, "invalid_parameter");
    assert_eq!(detail(&body).0, "offset");
    // Within the series budget, the points a chart may keep are bounded.
    let r = app
        .get(
            &chart(
                &twenty,
                &format!(
                    "breakdowns={session}&interval=minute&{window}&previous=true&limit=1&offset=9000"
                ),
            ),
            READ,
        )
        .await;
    let body = assert_error(&r, 400, "invalid_parameter");
    let (param, message) = detail(&body);
    assert_eq!(param, "interval");
    assert!(message.contains("points"), "{message}");
    // The same window without a breakdown is 20 series: answered.
    let r = app
        .get(
            &chart(&twenty, &format!("interval=minute&{window}&previous=true")),
            READ,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["series"].as_array().unwrap().len(), 20);
    probe.finish(Duration::from_secs(5)).await;
}

// ---- 4. Timeouts free the database ------------------------------------------------------

#[tokio::test]
async fn a_timed_out_query_stops_and_other_clients_keep_answering() {
    let _serial = serial();
    let settings = quarry_server::Settings {
        query_timeout: Duration::from_secs(2),
        ..settings()
    };
    let app = spawn_with(settings).await;
    // Enough rows that 1 000 property comparisons per row outlast the timeout (PostgreSQL
    // compares about five times faster than SQLite; ClickHouse may finish in time).
    let events = match shape() {
        Shape::Sqlite => 30_000,
        Shape::Postgres | Shape::ClickHouse => 150_000,
    };
    let opts = quarry_demo::SeedOptions {
        project_id: "abc".into(),
        events,
        days: 6,
        seed: 9,
        now_ms: ms(NOW),
    };
    let rows: Vec<_> = quarry_demo::events(&opts).collect();
    app.db.insert_events(&rows).await.unwrap();
    app.db.analyze().await.unwrap();

    let config = format!(
        r#"{{"name":"*","filters":[{}]}}"#,
        filter(
            "properties.__query.utm_source",
            "contains",
            50,
            |i| format!("x{i}")
        )
    );
    let heavy = chart(&format!("[{}]", vec![config; 20].join(",")), "range=7d");
    let probe = Prober::start(&app, ROOT_P, "/export/events?limit=1").await;
    // The attacker is a client like any other: its secret verified before it attacks.
    assert_eq!(app.get("/export/events?limit=1", READ).await.status, 200);
    let started = Instant::now();
    let attack: Vec<_> = (0..8).map(|_| app.get(&heavy, READ)).collect();
    let answers = futures_join_all(attack).await;
    let mut timed_out = 0;
    for r in &answers {
        match r.status {
            // The query ran past the timeout; or the client ran out of concurrent slots.
            504 => {
                assert_error(r, 504, "query_timeout");
                timed_out += 1;
            }
            429 => {
                assert_error(r, 429, "rate_limited");
                assert_eq!(r.header("retry-after"), Some("1"));
            }
            // An engine fast enough to finish in time (ClickHouse) answers.
            200 => {}
            other => panic!("{other}: {}", r.body),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    if shape() != Shape::ClickHouse {
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert!(
            timed_out > 0,
            "the attack should outlast the timeout here: {statuses:?} in {:?}",
            started.elapsed()
        );
    }
    // Right after the timeouts, the database is free: another client's chart answers
    // promptly, and so does the attacker's next ordinary request.
    let after = Instant::now();
    let r = app.get(&ordinary_chart(), ROOT_P).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.get("/export/events?limit=1", READ).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        after.elapsed() < Duration::from_secs(5),
        "{timed_out} timed-out queries still hold the database: {:?}",
        after.elapsed()
    );
    probe.finish(Duration::from_secs(8)).await;
}

/// `join_all` without the futures crate.
async fn futures_join_all<F: std::future::Future<Output = Resp>>(futures: Vec<F>) -> Vec<Resp> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out = Vec::new();
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    // Poll them together.
    std::future::poll_fn(|cx| {
        let mut all = true;
        for slot in pending.iter_mut() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => {
                        out.push(r);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out
}

/// An ordinary chart request.
fn ordinary_chart() -> String {
    chart(r#"[{"name":"screen_view"}]"#, "projectId=abc&range=7d")
}

// ---- 5. Long value lists run on every engine ------------------------------------------------

#[tokio::test]
async fn the_largest_value_budget_runs_on_every_backend() {
    let _serial = serial();
    let app = spawn().await;
    let max = Limits::default().request.max_values;
    // Values of several filters and configs add up to the budget.
    let half = max / 2;
    for (op, expect_events) in [
        ("contains", 0),
        ("doesNotContain", 11),
        ("startsWith", 0),
        ("endsWith", 0),
        ("is", 0),
        ("isNot", 11),
    ] {
        let f = filter("path", op, half, |i| format!("/nope{i}"));
        let p = filter("properties.total", op, half, |i| format!("{i}x"));
        // The events page: one filter list.
        let url = format!(
            "/export/events?limit=50&filters={}",
            enc(&format!("[{f},{p}]"))
        );
        let r = app.get(&url, READ).await;
        assert_eq!(r.status, 200, "{op}: {}", r.body);
        let expect = if op == "isNot" || op == "doesNotContain" {
            // The property filter: `total` is 100 only on e04; every other event reads ''.
            expect_events
        } else {
            0
        };
        assert_eq!(r.json()["meta"]["totalCount"], json!(expect), "{op}");
        // Charts and funnels: the same values split over two configs or steps.
        let configs = format!(
            r#"[{{"name":"screen_view","filters":[{f}]}},{{"name":"sign_up","filters":[{p}]}}]"#
        );
        let r = app.get(&chart(&configs, "range=30d"), READ).await;
        assert_eq!(r.status, 200, "{op}: {}", r.body);
        let r = app
            .get(
                &format!("/export/funnel?range=30d&events={}", enc(&configs)),
                READ,
            )
            .await;
        assert_eq!(r.status, 200, "{op}: {}", r.body);
    }
    // One more value is a 400 naming where the budget ran out.
    let over = format!(
        "[{}]",
        filter("path", "contains", max + 1, |i| format!("v{i}"))
    );
    let r = app
        .get(&format!("/export/events?filters={}", enc(&over)), READ)
        .await;
    let body = assert_error(&r, 400, "invalid_parameter");
    assert_eq!(detail(&body).0, format!("filters[0].value[{max}]"));
    // Numeric comparisons of a property: values that are not numbers never match, the
    // others still do (§4.5).
    let gt =
        r#"[{"name":"properties.total","operator":"gt","value":["1e3","+5"," 5","NaN","99"]}]"#;
    let r = app
        .get(&format!("/export/events?filters={}", enc(gt)), READ)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["meta"]["totalCount"], json!(1));
    let none = r#"[{"name":"properties.total","operator":"gt","value":["1e3"]}]"#;
    let r = app
        .get(&format!("/export/events?filters={}", enc(none)), READ)
        .await;
    assert_eq!(r.json()["meta"]["totalCount"], json!(0), "{}", r.body);
}

// ---- 6, 7. Authentication under attack ------------------------------------------------------

#[tokio::test]
async fn a_flood_of_wrong_secrets_does_not_slow_a_known_client() {
    let _serial = serial();
    let app = spawn_with(quarry_server::Settings {
        auth_failure_limit: None,
        ..settings()
    })
    .await;
    let probe = Prober::start(&app, ROOT_P, "/export/events?limit=1").await;
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let attempts: Vec<_> = (0..64)
            .map(|i| {
                let secret: &'static str =
                    Box::leak(format!("sec_{round:08}{i:012}").into_boxed_str());
                app.get("/export/events", Creds::new(READ_ID, secret))
            })
            .collect();
        for r in futures_join_all(attempts).await {
            // Wrong (401), or no turn to verify within its wait (429): never anything else.
            match r.status {
                401 => {
                    assert_error(&r, 401, "unauthorized");
                }
                429 => {
                    assert_error(&r, 429, "rate_limited");
                    assert_eq!(r.header("retry-after"), Some("1"));
                }
                other => panic!("{other}: {}", r.body),
            }
        }
        round += 1;
    }
    probe.finish(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn client_id_headers_cannot_grow_the_limiter() {
    let _serial = serial();
    let app = spawn_with(rate_limited(5, 10)).await;
    // 120 KB client-id headers: over the head limit, refused before anything is counted.
    for i in 0..20 {
        let id = format!("{i}{}", "a".repeat(120 * 1024));
        let r = raw(
            app.port,
            format!("GET /export/events HTTP/1.1\r\nHost: x\r\nopenpanel-client-id: {id}\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_error(&r, 431, "invalid_request");
    }
    // Malformed ids within the head limit are failures of the address.
    for i in 0..5 {
        let id = format!("not-a-uuid-{i}-{}", "b".repeat(1024));
        let r = app.get("/export/events", Creds::new(leak(id), "x")).await;
        r.assert(
            401,
            &json!({"error": "Unauthorized", "code": "unauthorized",
                    "message": "Export: Client ID must be a valid UUIDv4"}),
        );
    }
    let r = app
        .get("/export/events", Creds::new("still-not-a-uuid", "x"))
        .await;
    assert_error(&r, 429, "rate_limited");
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

// ---- 8. Errors of the HTTP layer are JSON -----------------------------------------------

#[tokio::test]
async fn the_http_layer_answers_json() {
    let _serial = serial();
    let app = spawn().await;
    let port = app.port;
    // A URL of 64 KiB and more, and one just over the configured limit (32 KiB).
    for len in [64 * 1024, 33 * 1024] {
        let target = format!("/export/events?x={}", "a".repeat(len));
        let r = raw(port, &get_with_auth(target.as_bytes(), port, "")).await;
        let body = assert_error(&r, 414, "invalid_request");
        assert!(
            body["message"].as_str().unwrap().contains("32768"),
            "{}",
            r.body
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // Raw control bytes in the target make it malformed (percent-encoded, they are text).
    for target in [
        &b"/export/events?event=a\x00b"[..],
        b"/export/events?event=a\x01b",
        b"/export/events?x=a\x7fb",
        b"/export/events?limit=1&x=a\tb",
    ] {
        let r = raw(port, &get_with_auth(target, port, "")).await;
        let body = assert_error(&r, 400, "invalid_request");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("control character"),
            "{}",
            r.body
        );
    }
    let r = raw(
        port,
        &get_with_auth(b"/export/events?event=a%01%7Fb", port, ""),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["meta"]["totalCount"], json!(0));
    // Raw non-ASCII and quotes are read as what they encode (curl sends them raw).
    let target = "/export/events?event=caf\u{e9}&filters=[{\"name\":\"path\",\
                  \"operator\":\"is\",\"value\":[\"<#>\"]}]";
    let r = raw(port, &get_with_auth(target.as_bytes(), port, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["meta"]["totalCount"], json!(0));
    // A head over 128 KiB, and one with more headers than the parser takes.
    let big: String = (0..200)
        .map(|i| format!("x-h{i}: {}\r\n", "v".repeat(700)))
        .collect();
    let r = raw(port, &get_with_auth(b"/export/events", port, &big)).await;
    assert_error(&r, 431, "invalid_request");
    let many: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
    let r = raw(port, &get_with_auth(b"/export/events", port, &many)).await;
    assert_error(&r, 431, "invalid_request");
    // Malformed requests.
    for bad in [
        &b"GET /healthz HTTP/7.0\r\n\r\n"[..],
        b"G(T /healthz HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ] {
        let r = raw(port, bad).await;
        let body = assert_error(&r, 400, "invalid_request");
        assert_eq!(body["details"], json!([]));
    }
    // A head that never completes is answered 408 in JSON.
    let started = Instant::now();
    let r = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    assert_error(&r, 408, "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(15));
    // And the server is still there.
    let r = app.get("/export/events?limit=1", READ).await;
    assert_eq!(r.status, 200);
}

// ---- 9. NUL characters ------------------------------------------------------------------

#[tokio::test]
async fn nul_characters_are_a_400_on_every_backend() {
    let _serial = serial();
    let app = spawn().await;
    for (url, param) in [
        (
            chart(r#"[{"name":"screen\u0000view"}]"#, "range=30d"),
            "events[0].name",
        ),
        (
            format!(
                "/export/events?filters={}",
                enc(r#"[{"name":"path","operator":"is","value":["/ho\u0000me"]}]"#)
            ),
            "filters[0].value[0]",
        ),
        (
            format!(
                "/export/funnel?events={}",
                enc(
                    r#"[{"name":"a"},{"name":"b","filters":[{"name":"properties.k\u0000","operator":"is","value":["x"]}]}]"#
                )
            ),
            "events[1].filters[0].name",
        ),
        (
            format!(
                "/export/events?filters={}",
                enc(r#"[{"name":"path","operator":"regex","value":["/a","^\\x00"]}]"#)
            ),
            "filters[0].value[1]",
        ),
        (
            chart(
                r#"[{"name":"e","filters":[{"name":"path","operator":"regex","value":["\\u0000"]}]}]"#,
                "range=30d",
            ),
            "events[0].filters[0].value[0]",
        ),
        ("/export/events?event=sign%00up".into(), "event"),
        ("/export/events?profileId=u%001".into(), "profileId"),
        ("/export/events?projectId=ab%00c".into(), "projectId"),
    ] {
        let r = app.get(&url, READ).await;
        let body = assert_error(&r, 400, "invalid_parameter");
        assert_eq!(detail(&body).0, param, "{url}");
        assert!(detail(&body).1.contains("NUL"), "{}", r.body);
    }
}

// ---- Contract conformance found by the same review ---------------------------------------

#[tokio::test]
async fn shapes_are_strict_and_every_problem_is_named() {
    let _serial = serial();
    let app = spawn().await;
    for (url, param) in [
        (
            format!("/export/charts?events={}", enc(r#"{"name":"screen_view"}"#)),
            "events",
        ),
        ("/export/charts?series=screen_view".into(), "series"),
        (
            format!("/export/funnel?events={}", enc(r#"["a","b"]"#)),
            "events[0]",
        ),
        (
            format!(
                "/export/events?filters={}",
                enc(r#"{"name":"path","operator":"is","value":["/"]}"#)
            ),
            "filters",
        ),
        (
            format!(
                "/export/events?filters={}",
                enc(r#"[{"name":"path","operator":"is","value":"/"}]"#)
            ),
            "filters[0].value",
        ),
    ] {
        let r = app.get(&url, READ).await;
        let body = assert_error(&r, 400, "invalid_parameter");
        assert_eq!(detail(&body).0, param, "{url}");
    }
    // A root client without a project: `projectId is required` beside the other problems.
    let r = app
        .get("/export/charts?events=nope&interval=year", ROOT)
        .await;
    let body = assert_error(&r, 400, "invalid_parameter");
    let params: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["param"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["projectId", "events", "interval"]);
}

/// How many events project `abc` holds.
async fn stored_events(app: &TestApp) -> Value {
    app.get("/export/events?limit=1", READ).await.json()["meta"]["totalCount"].clone()
}

/// A bad line far into a file (ClickHouse checks a file in ranges, one per core, before
/// inserting) is named by its number in the file, and nothing of the file is stored.
#[tokio::test]
async fn a_bad_line_deep_in_an_import_is_named_and_nothing_is_stored() {
    let _serial = serial();
    use quarry_server::import::{Input, import_events};
    let app = spawn().await;
    let before = stored_events(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let line = |i: usize| {
        format!(
            r#"{{"id":"00000000-0000-4000-8000-{i:012}","name":"deep","createdAt":"2024-04-15T00:00:00Z"}}"#
        )
    };
    let mut lines: Vec<String> = (0..3000).map(line).collect();
    lines[2499] = r#"{"name":"deep","createdAt":"not a time"}"#.into();
    lines[2899] = "{".into();
    let path = dir.path().join("deep.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let err = import_events(&app.db, &Input::File(path), Some("abc"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2500: ") && err.contains("createdAt"),
        "{err}"
    );
    let after = stored_events(&app).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_import_line_holding_nul_is_malformed_on_every_backend() {
    let _serial = serial();
    use quarry_server::import::{Input, import_events, import_profiles};
    let app = spawn().await;
    let before = stored_events(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"id":"00000000-0000-4000-8000-000000000901","name":"a","createdAt":"2024-04-15T00:00:00Z"}"#;
    for (what, bad) in [
        (
            "value",
            r#"{"name":"b\u0000","createdAt":"2024-04-15T00:00:00Z"}"#,
        ),
        (
            "key",
            r#"{"name":"b","createdAt":"2024-04-15T00:00:00Z","properties":{"k\u0000":"v"}}"#,
        ),
    ] {
        let path = dir.path().join("e.ndjson");
        std::fs::write(&path, format!("{good}\n{bad}\n")).unwrap();
        let err = import_events(&app.db, &Input::File(path), Some("abc"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("NUL"),
            "{what}: {err}"
        );
    }
    // Nothing of those files was stored.
    let after = stored_events(&app).await;
    assert_eq!(before, after);
    let path = dir.path().join("p.ndjson");
    std::fs::write(
        &path,
        r#"{"id":"u5","projectId":"abc","firstName":"A\u0000","createdAt":"2024-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let err = import_profiles(&app.db, &Input::File(path), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1") && err.contains("NUL"), "{err}");
}
