//! Shared helpers for the HTTP integration tests: a real `quarry-server` application on a
//! random port over fresh, migrated databases (one set per test; SQLite, PostgreSQL, or
//! ClickHouse with PostgreSQL, chosen by `QUARRY_TEST_BACKEND`), seeded with a small
//! hand-made data set, a fixed clock, and small HTTP clients (reqwest, plus a raw one that
//! sends the request line exactly as written, the way curl does).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use quarry_core::catalog::{ClientKind, ClientRecord, ProjectRecord};
use quarry_core::event::{NewEvent, NewEventMeta, NewProfile};
use quarry_core::storage::Storage;
use quarry_server::auth::{Secret, hash_secret};
use quarry_server::backends::Databases;
use quarry_server::settings::RateLimit;
use quarry_server::{Application, Backends, Settings};
use quarry_testkit::with_database;
use serde_json::Value;

/// "Now" for every test: Saturday 2024-04-20 12:00:00 UTC.
pub const NOW: &str = "2024-04-20T12:00:00.000Z";

/// Organization A holds projects `abc` (UTC) and `abc123` (Europe/Stockholm); organization
/// B holds `xyz`.
pub const ORG_A: &str = "org-a";
pub const ORG_B: &str = "org-b";

/// A `read` client of project `abc`.
pub const READ_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f01";
pub const READ_SECRET: &str = "sec_0a1b2c3d4e5f60718293";
/// A `read` client of project `abc123`.
pub const READ_123_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f02";
pub const READ_123_SECRET: &str = "sec_1b2c3d4e5f60718293a4";
/// A `root` client of organization A without a project.
pub const ROOT_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f03";
pub const ROOT_SECRET: &str = "sec_2c3d4e5f60718293a4b5";
/// A `root` client of organization A whose own project is `abc`.
pub const ROOT_P_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f04";
pub const ROOT_P_SECRET: &str = "sec_3d4e5f60718293a4b5c6";
/// A `root` client of organization B without a project.
pub const ROOT_B_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f05";
pub const ROOT_B_SECRET: &str = "sec_4e5f60718293a4b5c6d7";
/// A `write` client of project `abc` (with a secret).
pub const WRITE_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f06";
pub const WRITE_SECRET: &str = "sec_5f60718293a4b5c6d7e8";
/// A `read` client of project `abc` without a secret (NULL).
pub const NO_SECRET_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f07";
/// A `read` client of project `abc` whose secret is the empty string.
pub const EMPTY_SECRET_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f08";
/// A `read` client of project `abc` stored with the known-answer secret of §3.2.
pub const KAT_ID: &str = "6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5f09";
pub const KAT_SECRET: &str = "sec_3f9a1c7e5b2d8f4a6c0e";
pub const KAT_STORED: &str = "5f0c2a9e7d3b41c8a6e2f19b0d4c7a31.61fd9dd6c344abe357930fb25ec4f373517adfd2e79808562438a33df0ac8c53";
/// A well-formed UUID no client has.
pub const UNKNOWN_ID: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

/// Credentials of the read client of `abc`.
pub const READ: Creds<'static> = Creds::new(READ_ID, READ_SECRET);
pub const READ_123: Creds<'static> = Creds::new(READ_123_ID, READ_123_SECRET);
pub const ROOT: Creds<'static> = Creds::new(ROOT_ID, ROOT_SECRET);
pub const ROOT_P: Creds<'static> = Creds::new(ROOT_P_ID, ROOT_P_SECRET);
pub const ROOT_B: Creds<'static> = Creds::new(ROOT_B_ID, ROOT_B_SECRET);

/// The two authentication headers, either of which may be absent.
#[derive(Debug, Clone, Copy)]
pub struct Creds<'a> {
    pub id: Option<&'a str>,
    pub secret: Option<&'a str>,
}

impl<'a> Creds<'a> {
    pub const fn new(id: &'a str, secret: &'a str) -> Self {
        Creds {
            id: Some(id),
            secret: Some(secret),
        }
    }

    pub const NONE: Self = Creds {
        id: None,
        secret: None,
    };
}

/// Stored `<salt>.<hash>` of every generated secret, derived once per test process.
static HASHES: LazyLock<BTreeMap<&'static str, String>> = LazyLock::new(|| {
    [
        READ_SECRET,
        READ_123_SECRET,
        ROOT_SECRET,
        ROOT_P_SECRET,
        ROOT_B_SECRET,
        WRITE_SECRET,
    ]
    .into_iter()
    .map(|s| (s, hash_secret(&Secret::new(s.to_string()))))
    .collect()
});

/// Milliseconds of an RFC 3339 instant.
pub fn ms(s: &str) -> i64 {
    quarry_core::time::parse_rfc3339(s).unwrap()
}

/// Settings for tests: port 0, rate limiting off unless a test turns it on.
pub fn settings() -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        rate_limit: None,
        auth_failure_limit: None,
        ..Settings::default()
    }
}

/// Settings with a rate limit of `requests` per `window_secs`, for requests and for
/// failed authentications alike (as `QUARRY_RATE_LIMIT` alone sets them).
pub fn rate_limited(requests: u32, window_secs: u64) -> Settings {
    let limit = Some(RateLimit {
        requests,
        window: Duration::from_secs(window_secs),
    });
    Settings {
        rate_limit: limit,
        auth_failure_limit: limit,
        ..settings()
    }
}

/// A running application and what it runs on.
pub struct TestApp {
    pub port: u16,
    pub http: reqwest::Client,
    /// The seeded databases.
    pub db: TestDb,
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Assert the status and that the body is exactly `expected` serialized compactly:
    /// same keys, same key order, same number formatting.
    #[track_caller]
    pub fn assert(&self, status: u16, expected: &Value) {
        let want = serde_json::to_string(expected).unwrap();
        if self.status != status || self.body != want {
            panic!(
                "\nexpected {status} {}\n     got {} {}\n",
                pretty(&want),
                self.status,
                pretty(&self.body)
            );
        }
    }
}

fn pretty(s: &str) -> String {
    serde_json::from_str::<Value>(s)
        .map(|v| serde_json::to_string_pretty(&v).unwrap())
        .unwrap_or_else(|_| s.to_string())
}

/// Which shape of §1 the tests run on: `QUARRY_TEST_BACKEND` = `sqlite` (the default),
/// `postgres` (needs `DATABASE_URL`) or `clickhouse` (ClickHouse events with a PostgreSQL
/// catalog: needs `CLICKHOUSE_URL` and `DATABASE_URL`). `scripts/test.sh` runs all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Sqlite,
    Postgres,
    ClickHouse,
}

pub fn shape() -> Shape {
    match std::env::var("QUARRY_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Shape::Sqlite,
        Ok("postgres") => Shape::Postgres,
        Ok("clickhouse") => Shape::ClickHouse,
        Ok(other) => {
            panic!("QUARRY_TEST_BACKEND={other:?}: expected sqlite, postgres or clickhouse")
        }
    }
}

fn env_url(name: &str) -> String {
    match std::env::var(name) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{name} is not set: PostgreSQL and ClickHouse tests need it (scripts/test.sh \
             starts throwaway servers; see docs/testing.md)"
        ),
    }
}

/// Fresh, migrated databases of their own for one test, in the configured shape, dropped
/// with this value (a temporary directory for SQLite; `q_<random>` databases on the
/// PostgreSQL and ClickHouse servers).
pub struct TestDb {
    pub dbs: Databases,
    /// The settings' database fields, pointing at these databases.
    pub database_url: String,
    pub clickhouse_url: Option<String>,
    pub clickhouse_database: Option<String>,
    _dir: tempfile::TempDir,
    pg_database: Option<(String, String)>,
    drop_clickhouse: bool,
}

impl std::ops::Deref for TestDb {
    type Target = Databases;
    fn deref(&self) -> &Databases {
        &self.dbs
    }
}

impl TestDb {
    /// `settings` pointed at these databases.
    pub fn settings(&self, settings: Settings) -> Settings {
        Settings {
            database_url: self.database_url.clone().into(),
            clickhouse_url: self.clickhouse_url.clone().map(Into::into),
            clickhouse_database: self.clickhouse_database.clone(),
            ..settings
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let pg = self.pg_database.take();
        let ch = self
            .clickhouse_url
            .clone()
            .zip(self.clickhouse_database.clone());
        if pg.is_none() && ch.is_none() {
            return;
        }
        // Drop runs inside the test's runtime: a thread with a runtime of its own may block.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Some((admin_url, name)) = pg {
                    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                        .await
                        .map_err(|e| e.to_string())?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                }
                if let Some((url, name)) = ch {
                    let admin = quarry_clickhouse::ClickHouseStorage::connect(&url, "system")
                        .map_err(|e| e.to_string())?;
                    admin
                        .client()
                        .query_raw(&format!("DROP DATABASE IF EXISTS `{name}`"))
                        .execute()
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop a test database: {e}");
        }
    }
}

/// Open fresh, migrated databases in the configured [`shape`].
pub async fn fresh_db() -> TestDb {
    fresh_db_in(shape()).await
}

/// Open fresh, migrated databases in the given shape.
pub async fn fresh_db_in(shape: Shape) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("q_{}", uuid::Uuid::new_v4().simple());
    let (database_url, pg_database) = match shape {
        Shape::Sqlite => {
            let path = dir.path().join("quarry-test.db");
            (format!("sqlite://{}", path.display()), None)
        }
        Shape::Postgres | Shape::ClickHouse => {
            let admin_url = env_url("DATABASE_URL");
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            (
                with_database(&admin_url, &name),
                Some((admin_url, name.clone())),
            )
        }
    };
    let (clickhouse_url, clickhouse_database) = match shape {
        Shape::ClickHouse => (Some(env_url("CLICKHOUSE_URL")), Some(name)),
        _ => (None, None),
    };
    let mut db = open_db(database_url, clickhouse_url.zip(clickhouse_database)).await;
    db._dir = dir;
    db.pg_database = pg_database;
    db.drop_clickhouse = db.clickhouse_url.is_some();
    db
}

/// Open and migrate the databases at these URLs (which this value does not drop).
pub async fn open_db(database_url: String, clickhouse: Option<(String, String)>) -> TestDb {
    let (clickhouse_url, clickhouse_database) = clickhouse.unzip();
    let settings = Settings {
        database_url: database_url.clone().into(),
        clickhouse_url: clickhouse_url.clone().map(Into::into),
        clickhouse_database: clickhouse_database.clone(),
        ..settings()
    };
    let dbs = Databases::open(&settings).await.unwrap();
    dbs.migrate().await.unwrap();
    TestDb {
        dbs,
        database_url,
        clickhouse_url,
        clickhouse_database,
        _dir: tempfile::tempdir().unwrap(),
        pg_database: None,
        drop_clickhouse: false,
    }
}

/// A fixed clock at [`NOW`].
pub fn clock() -> quarry_server::app::Clock {
    let now = ms(NOW);
    Arc::new(move || now)
}

/// Start the real application over freshly seeded databases of the configured [`shape`].
pub async fn spawn() -> TestApp {
    spawn_with(settings()).await
}

/// [`spawn`] with the given settings.
pub async fn spawn_with(settings: Settings) -> TestApp {
    spawn_over(settings, |_| None).await
}

/// Start the application over freshly seeded databases, with events from `store(db)`
/// when it returns one (a fake for the 5xx tests).
pub async fn spawn_over(
    settings: Settings,
    store: impl FnOnce(&Databases) -> Option<Arc<dyn Storage>>,
) -> TestApp {
    let db = fresh_db().await;
    seed(&db).await;
    let mut backends = db.backends(clock());
    if let Some(fake) = store(&db) {
        backends.store = fake;
    }
    spawn_backends(settings, backends, db)
}

/// Start the application over explicit backends.
pub fn spawn_backends(settings: Settings, backends: Backends, db: TestDb) -> TestApp {
    let app = Application::build_with(db.settings(settings), backends).unwrap();
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp { port, http, db }
}

impl TestApp {
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    /// GET with the given credentials (reqwest: the URL is parsed and normalised, so
    /// characters such as `"` and spaces are percent-encoded, as a browser would).
    pub async fn get(&self, path_and_query: &str, creds: Creds<'_>) -> Resp {
        self.request(reqwest::Method::GET, path_and_query, creds)
            .await
    }

    /// [`TestApp::get`] with another method.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        creds: Creds<'_>,
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path_and_query));
        if let Some(id) = creds.id {
            req = req.header("openpanel-client-id", id);
        }
        if let Some(secret) = creds.secret {
            req = req.header("openpanel-client-secret", secret);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp.text().await.unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Send `GET <target> HTTP/1.1` byte for byte as written (no normalisation at all, like
    /// `curl 'http://…/export/charts?events=[{"name":"x"}]'`), with exactly these header
    /// lines (names keep their case).
    pub async fn raw_get(&self, target: &str, headers: &[(&str, &str)]) -> Resp {
        let mut request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", self.port);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("Connection: close\r\n\r\n");
        let port = self.port;
        tokio::task::spawn_blocking(move || raw_exchange(port, &request))
            .await
            .unwrap()
    }
}

fn raw_exchange(port: u16, request: &str) -> Resp {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")),
        "the raw client expects a sized body"
    );
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Percent-encode a query-string value (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- The data set -------------------------------------------------------------------

/// An event of project `abc` with everything empty; adjust with struct update syntax.
pub fn ev(id: &str, name: &str, at: &str) -> NewEvent {
    NewEvent {
        id: id.to_string(),
        name: name.to_string(),
        project_id: "abc".into(),
        created_at: ms(at),
        ..NewEvent::default()
    }
}

/// Event ids: `e01`… become UUID-shaped ids that sort in the same order (`f01` is
/// `eid(101)`, `x01` is `eid(201)`): ClickHouse stores ids as UUIDs.
pub fn eid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// An event of `abc` by user `u1` on device `d1` (an iPhone in Stockholm), session `s1`.
fn u1(n: u32, name: &str, at: &str, path: &str) -> NewEvent {
    NewEvent {
        device_id: "d1".into(),
        profile_id: "u1".into(),
        session_id: "s1".into(),
        country: "SE".into(),
        city: "Stockholm".into(),
        region: "Stockholm County".into(),
        os: "iOS".into(),
        browser: "Safari".into(),
        path: path.into(),
        ..ev(&eid(n), name, at)
    }
}

/// An event of `abc` by user `u2` (Android/Chrome in New York), in session `session`.
fn u2(n: u32, name: &str, at: &str, session: &str, path: &str) -> NewEvent {
    NewEvent {
        device_id: "d2".into(),
        profile_id: "u2".into(),
        session_id: session.into(),
        country: "US".into(),
        city: "New York".into(),
        os: "Android".into(),
        browser: "Chrome".into(),
        path: path.into(),
        ..ev(&eid(n), name, at)
    }
}

/// The data set (all times UTC):
///
/// Project `abc` (org A, UTC):
/// | id  | name          | createdAt                | profile | session | country |
/// |-----|---------------|--------------------------|---------|---------|---------|
/// | e01 | screen_view   | 2024-04-15T09:00:00.000Z | u1      | s1      | SE      |
/// | e02 | screen_view   | 2024-04-15T09:05:00.000Z | u1      | s1      | SE      |
/// | e03 | sign_up       | 2024-04-15T09:10:00.000Z | u1      | s1      | SE      |
/// | e04 | purchase      | 2024-04-15T09:30:00.000Z | u1      | s1      | SE      |
/// | e05 | screen_view   | 2024-04-16T10:00:00.000Z | u2      | s2      | US      |
/// | e06 | sign_up       | 2024-04-16T10:01:00.000Z | u2      | s2      | US      |
/// | e07 | screen_view   | 2024-04-18T23:59:59.999Z | –       | s3      | DE      |
/// | e08 | screen_view   | 2024-04-19T00:00:00.000Z | –       | s3      | DE      |
/// | e09 | screen_view   | 2024-04-14T23:59:59.999Z | u2      | s4      | US      |
/// | e10 | sign_up       | 2024-04-19T08:00:00.000Z | u3      | s5      | SE      |
/// | e11 | session_start | 2024-03-10T12:00:00.000Z | u1      | s0      | SE      |
///
/// Project `abc123` (org A, Europe/Stockholm, UTC+2 in April):
/// | f01 | screen_view | 2024-04-16T22:30:00.000Z (04-17 00:30 local) | –  | s8 | FR |
/// | f02 | screen_view | 2024-04-17T12:00:00.000Z                     | u9 | s9 | FR |
/// | f03 | sign_up     | 2024-04-17T12:01:00.000Z                     | u9 | s9 | FR |
///
/// Project `xyz` (org B, UTC):
/// | x01 | screen_view | 2024-04-16T00:00:00.000Z | u7 | s7 | JP |
/// | x02 | sign_up     | 2024-04-16T00:05:00.000Z | u7 | s7 | JP |
/// | x03 | purchase    | 2024-04-16T00:06:00.000Z | u7 | s7 | JP |
///
/// Profiles: `u1` in `abc` (Ada Lovelace); `u7` in `xyz`. Event metadata: `screen_view`
/// and `sign_up` in `abc`, `screen_view` in `xyz`.
pub fn events() -> Vec<NewEvent> {
    let mut e01 = u1(1, "screen_view", "2024-04-15T09:00:00.000Z", "/home");
    e01.properties = [("__query.utm_source".to_string(), "google".to_string())].into();
    e01.duration = 1500;
    let mut e04 = u1(4, "purchase", "2024-04-15T09:30:00.000Z", "/checkout");
    e04.properties = [("total".to_string(), "100".to_string())].into();
    let anon = |n: u32, at: &str| NewEvent {
        device_id: "d3".into(),
        session_id: "s3".into(),
        country: "DE".into(),
        city: "Berlin".into(),
        os: "Windows".into(),
        browser: "Firefox".into(),
        path: "/home".into(),
        ..ev(&eid(n), "screen_view", at)
    };
    let abc123 =
        |id: &str, name: &str, at: &str, profile: &str, session: &str, city: &str| NewEvent {
            project_id: "abc123".into(),
            device_id: format!("d-{session}"),
            profile_id: profile.into(),
            session_id: session.into(),
            country: "FR".into(),
            city: city.into(),
            os: "macOS".into(),
            browser: "Safari".into(),
            path: "/".into(),
            ..ev(id, name, at)
        };
    let xyz = |id: &str, name: &str, at: &str| NewEvent {
        project_id: "xyz".into(),
        device_id: "d7".into(),
        profile_id: "u7".into(),
        session_id: "s7".into(),
        country: "JP".into(),
        city: "Tokyo".into(),
        ..ev(id, name, at)
    };
    vec![
        e01,
        u1(2, "screen_view", "2024-04-15T09:05:00.000Z", "/pricing"),
        u1(3, "sign_up", "2024-04-15T09:10:00.000Z", "/signup"),
        e04,
        u2(5, "screen_view", "2024-04-16T10:00:00.000Z", "s2", "/home"),
        u2(6, "sign_up", "2024-04-16T10:01:00.000Z", "s2", "/signup"),
        anon(7, "2024-04-18T23:59:59.999Z"),
        anon(8, "2024-04-19T00:00:00.000Z"),
        u2(9, "screen_view", "2024-04-14T23:59:59.999Z", "s4", "/home"),
        NewEvent {
            device_id: "d4".into(),
            profile_id: "u3".into(),
            session_id: "s5".into(),
            country: "SE".into(),
            city: "Malmö".into(),
            ..ev(&eid(10), "sign_up", "2024-04-19T08:00:00.000Z")
        },
        NewEvent {
            session_id: "s0".into(),
            ..u1(11, "session_start", "2024-03-10T12:00:00.000Z", "/")
        },
        abc123(
            &eid(101),
            "screen_view",
            "2024-04-16T22:30:00.000Z",
            "",
            "s8",
            "Lyon",
        ),
        abc123(
            &eid(102),
            "screen_view",
            "2024-04-17T12:00:00.000Z",
            "u9",
            "s9",
            "Paris",
        ),
        abc123(
            &eid(103),
            "sign_up",
            "2024-04-17T12:01:00.000Z",
            "u9",
            "s9",
            "Paris",
        ),
        xyz(&eid(201), "screen_view", "2024-04-16T00:00:00.000Z"),
        xyz(&eid(202), "sign_up", "2024-04-16T00:05:00.000Z"),
        xyz(&eid(203), "purchase", "2024-04-16T00:06:00.000Z"),
    ]
}

/// Projects, clients, events, profiles and event metadata of the data set.
pub async fn seed(db: &Databases) {
    seed_catalog(db).await;
    db.insert_events(&events()).await.unwrap();
    seed_profiles(db).await;
    seed_event_meta(db).await;
}

/// Projects `abc`, `abc123`, `xyz` and every client the tests authenticate as.
async fn seed_catalog(db: &Databases) {
    let at = ms("2024-01-01T00:00:00.000Z");
    for (id, org, tz) in [
        ("abc", ORG_A, None),
        ("abc123", ORG_A, Some("Europe/Stockholm")),
        ("xyz", ORG_B, None),
    ] {
        db.upsert_project(
            &ProjectRecord {
                id: id.into(),
                organization_id: org.into(),
                name: format!("Project {id}"),
                timezone: tz.map(str::to_string),
            },
            at,
        )
        .await
        .unwrap();
    }
    let hashed = |s: &str| Some(HASHES[s].clone());
    let clients = [
        (
            READ_ID,
            ClientKind::Read,
            Some("abc"),
            ORG_A,
            hashed(READ_SECRET),
        ),
        (
            READ_123_ID,
            ClientKind::Read,
            Some("abc123"),
            ORG_A,
            hashed(READ_123_SECRET),
        ),
        (ROOT_ID, ClientKind::Root, None, ORG_A, hashed(ROOT_SECRET)),
        (
            ROOT_P_ID,
            ClientKind::Root,
            Some("abc"),
            ORG_A,
            hashed(ROOT_P_SECRET),
        ),
        (
            ROOT_B_ID,
            ClientKind::Root,
            None,
            ORG_B,
            hashed(ROOT_B_SECRET),
        ),
        (
            WRITE_ID,
            ClientKind::Write,
            Some("abc"),
            ORG_A,
            hashed(WRITE_SECRET),
        ),
        (NO_SECRET_ID, ClientKind::Read, Some("abc"), ORG_A, None),
        (
            EMPTY_SECRET_ID,
            ClientKind::Read,
            Some("abc"),
            ORG_A,
            Some(String::new()),
        ),
        (
            KAT_ID,
            ClientKind::Read,
            Some("abc"),
            ORG_A,
            Some(KAT_STORED.to_string()),
        ),
    ];
    for (id, kind, project, org, secret) in clients {
        db.insert_client(
            &ClientRecord {
                id: id.into(),
                name: format!("{} client", kind.as_str()),
                secret,
                kind,
                project_id: project.map(str::to_string),
                organization_id: org.into(),
            },
            at,
        )
        .await
        .unwrap();
    }
}

/// Profiles `u1` (abc) and `u7` (xyz).
async fn seed_profiles(db: &Databases) {
    for (id, project, first, last, email) in [
        ("u1", "abc", "Ada", "Lovelace", "ada@example.com"),
        ("u7", "xyz", "Kenji", "Sato", "kenji@example.jp"),
    ] {
        db.upsert_profiles(&[NewProfile {
            id: id.into(),
            project_id: project.into(),
            is_external: true,
            first_name: first.into(),
            last_name: last.into(),
            email: email.into(),
            avatar: format!("https://example.com/{id}.png"),
            properties: [("plan".to_string(), "pro".to_string())].into(),
            created_at: ms("2024-01-02T03:04:05.006Z"),
        }])
        .await
        .unwrap();
    }
}

/// `event_meta` rows of both projects.
async fn seed_event_meta(db: &Databases) {
    for (id, name, project, conversion, color, icon, when) in [
        (
            "9a7b1c2d-0000-4000-8000-000000000001",
            "screen_view",
            "abc",
            false,
            Some("#22c55e"),
            Some("eye"),
            "2024-02-01T08:00:00.000Z",
        ),
        (
            "9a7b1c2d-0000-4000-8000-000000000002",
            "sign_up",
            "abc",
            true,
            None,
            None,
            "2024-02-02T08:00:00.000Z",
        ),
        (
            "9a7b1c2d-0000-4000-8000-000000000003",
            "screen_view",
            "xyz",
            true,
            Some("#000000"),
            None,
            "2024-02-03T08:00:00.000Z",
        ),
    ] {
        db.set_event_meta(&NewEventMeta {
            id: id.into(),
            name: name.into(),
            project_id: project.into(),
            conversion,
            color: color.map(str::to_string),
            icon: icon.map(str::to_string),
            at: ms(when),
        })
        .await
        .unwrap();
    }
}
