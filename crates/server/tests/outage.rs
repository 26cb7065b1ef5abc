//! Real outages: the Quarry server keeps running while its database is stopped and started
//! again. Requests during the outage get the 503 JSON of §4.2 (nothing hangs, nothing
//! crashes), `/healthz` stays 200, and once the database is back the same requests answer
//! exactly what they answered before, without restarting Quarry.
//!
//! Each test starts servers of its own (never the shared ones of `DATABASE_URL` and
//! `CLICKHOUSE_URL`, which other tests use): a throwaway PostgreSQL from
//! `scripts/start-postgres.sh`, and the chdb-based ClickHouse test server
//! (`scripts/chdb_server.py`, whose virtual environment `scripts/start-clickhouse.sh
//! --install-only` creates), restarted on the same port and data directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Creds, READ, TestApp, clock, open_db, seed, settings, spawn_backends};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the outage looks like to a client.
fn unavailable() -> Value {
    json!({
        "error": "Service Unavailable",
        "code": "storage_unavailable",
        "message": "The database is unavailable; please retry shortly"
    })
}

const REQUESTS: [&str; 3] = [
    "/export/events?limit=3",
    "/export/charts?range=30d&interval=day&events[0][name]=screen_view&breakdowns[0][name]=country",
    "/export/funnel?range=30d&events[0][name]=screen_view&events[1][name]=sign_up",
];

/// Every request of [`REQUESTS`], answered 200, with its body.
async fn answers(app: &TestApp) -> Vec<String> {
    let mut bodies = Vec::new();
    for q in REQUESTS {
        let r = app.get(q, READ).await;
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        bodies.push(r.body);
    }
    bodies
}

/// During the outage: every endpoint and `/readyz` answer the 503 JSON, promptly.
async fn assert_down(app: &TestApp) {
    for q in REQUESTS.iter().copied().chain(["/readyz"]) {
        let started = Instant::now();
        let creds = if q == "/readyz" { Creds::NONE } else { READ };
        app.get(q, creds).await.assert(503, &unavailable());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{q} took {:?} to fail",
            started.elapsed()
        );
    }
    app.get("/healthz", Creds::NONE)
        .await
        .assert(200, &json!({"status": "ok"}));
}

/// After the restart: the same answers as before, within a deadline (pools reconnect).
async fn assert_recovers(app: &TestApp, before: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = app.get(REQUESTS[1], READ).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "while recovering: {}", r.body);
        assert!(Instant::now() < deadline, "no recovery within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answers(app).await, before);
    app.get("/readyz", Creds::NONE)
        .await
        .assert(200, &json!({"status": "ready"}));
}

// ---- A PostgreSQL of this test's own ------------------------------------------------

struct Postgres {
    url: String,
    dir: String,
    bin: String,
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `pg_ctl` as the data directory's owner.
fn pg_ctl(bin: &str) -> Command {
    let pg_ctl = format!("{bin}/pg_ctl");
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &pg_ctl]);
        c
    } else {
        Command::new(pg_ctl)
    }
}

impl Postgres {
    fn start() -> Postgres {
        let out = Command::new(root().join("scripts/start-postgres.sh"))
            .env_remove("DATABASE_URL")
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "scripts/start-postgres.sh failed");
        let text = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').to_string())
                .unwrap_or_else(|| panic!("no {name} in {text}"))
        };
        Postgres {
            url: var("DATABASE_URL"),
            dir: var("QUARRY_TEST_PG_DIR"),
            bin: var("QUARRY_TEST_PG_BIN"),
        }
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir)
    }

    /// Stop the server (fast shutdown: open connections are terminated).
    fn stop(&self) {
        let status = pg_ctl(&self.bin)
            .args(["-D", &self.data(), "-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl stop failed");
    }

    /// Start it again, on the same port, with the same data.
    fn restart(&self) {
        let log = format!("{}/log", self.dir);
        let status = pg_ctl(&self.bin)
            .args(["-D", &self.data(), "-l", &log, "-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start failed");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = pg_ctl(&self.bin)
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if self.dir.starts_with("/tmp/quarry-pg.") {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// ---- A ClickHouse test server of this test's own ------------------------------------

struct ClickHouse {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl ClickHouse {
    fn python() -> PathBuf {
        let python = root().join(".venv/chdb/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `scripts/start-clickhouse.sh --install-only` (scripts/test.sh does)",
            python.display()
        );
        python
    }

    fn start() -> ClickHouse {
        let dir = tempfile::tempdir().unwrap();
        let mut ch = ClickHouse {
            child: None,
            port: 0,
            dir,
        };
        ch.spawn();
        ch
    }

    /// Start the server on `self.port` (0 the first time) over the same data directory.
    fn spawn(&mut self) {
        let port_file = self.dir.path().join("port");
        let _ = std::fs::remove_file(&port_file);
        let child = Command::new(Self::python())
            .arg(root().join("scripts/chdb_server.py"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--port-file")
            .arg(&port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = text.trim().parse::<u16>() {
                    if ping(port) {
                        self.port = port;
                        return;
                    }
                }
            }
            assert!(Instant::now() < deadline, "the chdb server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        assert!(!ping(self.port), "the chdb server still answers");
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200")
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---- The tests ----------------------------------------------------------------------

fn outage_settings() -> quarry_server::Settings {
    quarry_server::Settings {
        query_timeout: Duration::from_secs(20),
        ..settings()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_and_the_server_recovers_by_itself() {
    let pg = Postgres::start();
    let db = open_db(pg.url.clone(), None).await;
    seed(&db).await;
    let backends = db.backends(clock());
    let app = spawn_backends(outage_settings(), backends, db);
    let before = answers(&app).await;

    pg.stop();
    assert_down(&app).await;
    pg.restart();
    assert_recovers(&app, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_is_503_and_the_server_recovers_by_itself() {
    // Events in ClickHouse, the catalog in PostgreSQL (which stays up).
    let pg = Postgres::start();
    let mut ch = ClickHouse::start();
    let db = open_db(pg.url.clone(), Some((ch.url(), "openpanel".into()))).await;
    seed(&db).await;
    let backends = db.backends(clock());
    let app = spawn_backends(outage_settings(), backends, db);
    let before = answers(&app).await;

    ch.stop();
    assert_down(&app).await;
    ch.spawn();
    assert_recovers(&app, &before).await;
}
