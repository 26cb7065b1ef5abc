//! The `quarry` command line (contract §9), run as the built binary against a fresh SQLite
//! file per test. What the commands store is read back through the library
//! (`SqliteStorage` + `quarry_core::exec::events`), the same path the server answers with.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use quarry_core::catalog::Catalog;
use quarry_core::compile::Context;
use quarry_core::decode::{self, Limits};
use quarry_core::exec;
use quarry_core::write::{Database, EventWriter};
use quarry_sqlite::SqliteStorage;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_quarry");

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            ok: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A temporary directory holding `q.db`; every command runs inside it with the
/// `QUARRY_*` environment cleared, so nothing leaks in from the caller or out into the
/// repository.
struct Db {
    dir: tempfile::TempDir,
    url: String,
}

/// A bare `quarry` command: working directory `dir`, no `QUARRY_*` or `RUST_LOG` variables.
fn bare(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("QUARRY_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl Db {
    /// A fresh, not yet migrated, database location.
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        Db { dir, url }
    }

    /// A migrated database with project `p1` (organization `o1`, Europe/Stockholm).
    fn with_p1() -> Db {
        let db = Db::new();
        db.ok(&["migrate"]);
        db.ok(&[
            "projects",
            "create",
            "p1",
            "--organization",
            "o1",
            "--name",
            "P",
            "--timezone",
            "Europe/Stockholm",
        ]);
        db
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = bare(self.dir.path());
        cmd.arg("--database-url").arg(&self.url).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().unwrap().into()
    }

    fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_string();
        let writer = std::thread::spawn(move || {
            // The child may stop reading early (a bad line); a broken pipe is fine then.
            let _ = stdin.write_all(input.as_bytes());
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out.into()
    }

    /// Run, insist on success, return stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(r.ok, "quarry {args:?} failed: {r:?}");
        r.stdout
    }

    /// Run, insist on a non-zero exit, return stderr.
    fn fail(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(!r.ok, "quarry {args:?} should have failed: {r:?}");
        assert_eq!(r.code, Some(1), "{r:?}");
        assert!(!r.stderr.trim().is_empty(), "no message: {r:?}");
        r.stderr
    }

    fn store<T>(&self, f: impl AsyncFnOnce(&SqliteStorage) -> T) -> T {
        runtime().block_on(async {
            let store = SqliteStorage::connect(&self.url).await.unwrap();
            let out = f(&store).await;
            store.close().await;
            out
        })
    }

    fn count(&self, project: &str) -> i64 {
        self.store(async |s| s.count_events(project).await.unwrap() as i64)
    }

    /// `GET /export/events` for `project`, as the server would answer it (UTC).
    fn events(&self, project: &str, qs: &str) -> Value {
        let project = project.to_string();
        let qs = qs.to_string();
        self.store(async move |s| {
            let req = decode::decode_events(
                &qs,
                Limits {
                    max_page_size: 10_000,
                    ..Limits::default()
                },
            )
            .unwrap();
            let ctx = Context {
                project_id: project,
                tz: chrono_tz::UTC,
                now: 0,
                first_event: None,
            };
            serde_json::to_value(exec::events(s, s, &req, &ctx).await.unwrap()).unwrap()
        })
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every non-default Event field, for `includes`.
const ALL_FIELDS: &str = "sessionId,properties,region,longitude,latitude,osVersion,browserVersion,device,brand,model,origin,referrer,referrerName,referrerType,sdkName,sdkVersion,importedAt";

// ---------------------------------------------------------------------------------------
// --help, migrate, configuration

/// Every command of `quarry`.
const COMMANDS: [&str; 12] = [
    "demo",
    "serve",
    "migrate",
    "projects",
    "clients",
    "import",
    "event-meta",
    "seed",
    "export",
    "compile",
    "completions",
    "man",
];

#[test]
fn help_lists_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let r: Run = bare(dir.path()).arg("--help").output().unwrap().into();
    assert!(r.ok, "{r:?}");
    for cmd in COMMANDS {
        assert!(
            r.stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "--help does not list {cmd}:\n{}",
            r.stdout
        );
    }
    for (sub, needles) in [
        ("projects", &["create"][..]),
        ("clients", &["create"][..]),
        ("event-meta", &["set"][..]),
        ("import", &["--project", "--profiles"][..]),
        ("seed", &["--project", "--events", "--days", "--seed"][..]),
        ("compile", &["--dialect", "--endpoint", "--now"][..]),
        ("export", &["--project", "--format", "--output"][..]),
    ] {
        let r: Run = bare(dir.path())
            .args([sub, "--help"])
            .output()
            .unwrap()
            .into();
        assert!(r.ok, "{sub} --help: {r:?}");
        for n in needles {
            assert!(
                r.stdout.contains(n),
                "{sub} --help lacks {n}:\n{}",
                r.stdout
            );
        }
    }
    // Nothing was created by asking for help.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Completions and the man page come from the command line's definition: every command
/// is in each, and neither needs (or reads) the settings.
#[test]
fn completions_and_man_page_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> Run {
        bare(dir.path())
            .args(args)
            // A config file that does not exist: settings are never loaded.
            .env("QUARRY_CONFIG", "/nonexistent/quarry.toml")
            .output()
            .unwrap()
            .into()
    };
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completions", shell]);
        assert!(r.ok && r.stderr.is_empty(), "{shell}: {r:?}");
        for cmd in COMMANDS {
            assert!(r.stdout.contains(cmd), "{shell} completions lack {cmd}");
        }
        assert!(r.stdout.contains("database-url"), "{shell}");
    }
    // The bash script parses.
    let script = dir.path().join("quarry.bash");
    std::fs::write(&script, run(&["completions", "bash"]).stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    std::fs::remove_file(&script).unwrap();

    let man = run(&["man"]);
    assert!(man.ok, "{man:?}");
    assert!(man.stdout.contains(".TH quarry 1"), "{}", man.stdout);
    for cmd in COMMANDS {
        let section = format!(".SH \"QUARRY {}\"", cmd.to_uppercase());
        assert!(
            man.stdout.contains(&section),
            "the man page lacks {section}"
        );
    }
    assert!(man.stdout.contains("QUARRY_DATABASE_URL"));
    assert!(!run(&["completions", "tcsh"]).ok);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let db = Db::new();
    let out = db.ok(&["migrate"]);
    assert!(out.contains("migrated"), "{out}");
    assert!(db.path("q.db").exists());
    db.ok(&["migrate"]);
    assert_eq!(db.count("p1"), 0);
    // SQLite indexes events by name already: the ClickHouse layout flag changes nothing.
    let out = db.ok(&["migrate", "--events-by-name"]);
    assert!(
        out.contains("indexed by project, name and time already"),
        "{out}"
    );
}

#[test]
fn database_url_comes_from_flag_then_environment_then_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    // Environment only.
    let r: Run = bare(dir.path())
        .env("QUARRY_DATABASE_URL", url("env.db"))
        .arg("migrate")
        .output()
        .unwrap()
        .into();
    assert!(r.ok, "{r:?}");
    assert!(dir.path().join("env.db").exists());
    // The flag beats the environment.
    let r: Run = bare(dir.path())
        .env("QUARRY_DATABASE_URL", url("env2.db"))
        .args(["--database-url", &url("flag.db"), "migrate"])
        .output()
        .unwrap()
        .into();
    assert!(r.ok, "{r:?}");
    assert!(dir.path().join("flag.db").exists());
    assert!(!dir.path().join("env2.db").exists());
    // The environment beats the config file, which beats the default.
    let config = dir.path().join("quarry.toml");
    std::fs::write(&config, format!("database_url = {:?}\n", url("file.db"))).unwrap();
    let r: Run = bare(dir.path())
        .env("QUARRY_DATABASE_URL", url("env3.db"))
        .args(["--config", config.to_str().unwrap(), "migrate"])
        .output()
        .unwrap()
        .into();
    assert!(r.ok, "{r:?}");
    assert!(dir.path().join("env3.db").exists());
    assert!(!dir.path().join("file.db").exists());
    let r: Run = bare(dir.path())
        .args(["--config", config.to_str().unwrap(), "migrate"])
        .output()
        .unwrap()
        .into();
    assert!(r.ok, "{r:?}");
    assert!(dir.path().join("file.db").exists());
    // Default: ./quarry.db in the working directory.
    let r: Run = bare(dir.path()).arg("migrate").output().unwrap().into();
    assert!(r.ok, "{r:?}");
    assert!(dir.path().join("quarry.db").exists());
}

// ---------------------------------------------------------------------------------------
// projects and clients

#[test]
fn projects_create_stores_the_project() {
    let db = Db::with_p1();
    let p = db.store(async |s| s.project("p1").await.unwrap().unwrap());
    assert_eq!(p.id, "p1");
    assert_eq!(p.organization_id, "o1");
    assert_eq!(p.name, "P");
    assert_eq!(p.timezone.as_deref(), Some("Europe/Stockholm"));
}

#[test]
fn projects_create_rejects_an_unknown_timezone() {
    let db = Db::new();
    db.ok(&["migrate"]);
    let err = db.fail(&["projects", "create", "p9", "--timezone", "Mars/Olympus"]);
    assert!(err.contains("Mars/Olympus"), "{err}");
    assert!(err.to_lowercase().contains("timezone"), "{err}");
    assert!(db.store(async |s| s.project("p9").await.unwrap()).is_none());
}

fn parse_client(stdout: &str) -> (String, String) {
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {stdout:?}"));
    let obj = v.as_object().unwrap();
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "secret"], "{stdout}");
    let id = v["id"].as_str().unwrap().to_string();
    let secret = v["secret"].as_str().unwrap().to_string();
    uuid::Uuid::parse_str(&id).unwrap_or_else(|e| panic!("id {id:?} is not a UUID: {e}"));
    let rest = secret
        .strip_prefix("sec_")
        .unwrap_or_else(|| panic!("{secret:?} lacks sec_"));
    assert_eq!(rest.len(), 20, "{secret}");
    assert!(is_lower_hex(rest), "{secret}");
    (id, secret)
}

#[test]
fn clients_create_prints_id_and_secret_and_stores_a_hash() {
    let db = Db::with_p1();
    let out = db.ok(&["clients", "create", "--type", "read", "--project", "p1"]);
    let (id, secret) = parse_client(&out);
    let c = db.store(async |s| s.client(&id).await.unwrap().unwrap());
    assert_eq!(c.kind.as_str(), "read");
    assert_eq!(c.project_id.as_deref(), Some("p1"));
    assert_eq!(c.organization_id, "o1");
    let stored = c.secret.unwrap();
    assert!(!stored.contains(&secret), "the plain secret is stored");
    let (salt, hash) = stored.split_once('.').unwrap();
    assert!(salt.len() == 32 && is_lower_hex(salt), "{stored}");
    assert!(hash.len() == 64 && is_lower_hex(hash), "{stored}");
    assert!(quarry_server::auth::verify_secret(&secret, &stored));

    let out = db.ok(&["clients", "create", "--type", "write", "--project", "p1"]);
    let (id2, secret2) = parse_client(&out);
    assert_ne!(id, id2);
    assert_ne!(secret, secret2);
    let c = db.store(async |s| s.client(&id2).await.unwrap().unwrap());
    assert_eq!(c.kind.as_str(), "write");
}

#[test]
fn read_and_write_clients_need_a_project() {
    let db = Db::with_p1();
    for kind in ["read", "write"] {
        let err = db.fail(&["clients", "create", "--type", kind]);
        assert!(err.contains("--project"), "{err}");
        let err = db.fail(&["clients", "create", "--type", kind, "--organization", "o1"]);
        assert!(err.contains("--project"), "{err}");
    }
    let err = db.fail(&["clients", "create", "--type", "read", "--project", "nope"]);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn root_clients_take_or_check_an_organization() {
    let db = Db::with_p1();
    // No project, an organization given.
    let (id, _) = parse_client(&db.ok(&[
        "clients",
        "create",
        "--type",
        "root",
        "--organization",
        "o7",
    ]));
    let c = db.store(async |s| s.client(&id).await.unwrap().unwrap());
    assert_eq!(c.kind.as_str(), "root");
    assert_eq!(c.project_id, None);
    assert_eq!(c.organization_id, "o7");
    // Organization taken from the project.
    let (id, _) = parse_client(&db.ok(&["clients", "create", "--type", "root", "--project", "p1"]));
    let c = db.store(async |s| s.client(&id).await.unwrap().unwrap());
    assert_eq!(c.project_id.as_deref(), Some("p1"));
    assert_eq!(c.organization_id, "o1");
    // Matching organization and project.
    db.ok(&[
        "clients",
        "create",
        "--type",
        "root",
        "--project",
        "p1",
        "--organization",
        "o1",
    ]);
    // Mismatch.
    let err = db.fail(&[
        "clients",
        "create",
        "--type",
        "root",
        "--project",
        "p1",
        "--organization",
        "o2",
    ]);
    assert!(err.contains("o1") && err.contains("o2"), "{err}");
    // Neither.
    let err = db.fail(&["clients", "create", "--type", "root"]);
    assert!(err.contains("--organization"), "{err}");
}

// ---------------------------------------------------------------------------------------
// import

const EVENTS: &str = r#"{"id":"11111111-1111-4111-8111-111111111111","name":"purchase","deviceId":"d1","profileId":"u1","sessionId":"s1","createdAt":"2024-04-15T12:34:56.789Z","properties":{"a":{"b":1},"items":[{"name":"x","qty":2},{"name":"y","tags":["t0","t1"]}],"total":19.99,"one":1.0,"half":-0.5,"big":12345678901234567890,"ok":true,"no":false,"gone":null,"nested":{"gone":null,"kept":"k"},"empty":{},"s":"text \"q\" ✓"},"country":"SE","city":"Stockholm","region":"Stockholm County","longitude":18.07,"latitude":59.33,"os":"macOS","osVersion":"14.4","browser":"Firefox","browserVersion":"125.0","device":"desktop","brand":"Apple","model":"MacBook","duration":1500,"path":"/checkout","origin":"https://shop.example","referrer":"https://google.com","referrerName":"Google","referrerType":"search","sdkName":"web","sdkVersion":"1.1.0","importedAt":"2024-04-16T00:00:00.000Z"}

{"id":"22222222-2222-4222-8222-222222222222","name":"screen_view","projectId":"p1","createdAt":"2024-04-15T10:00:00Z"}
"#;

#[test]
fn import_flattens_properties_and_defaults_missing_fields() {
    let db = Db::with_p1();
    let file = db.write("events.ndjson", EVENTS);
    let r = db.run(&["import", &file, "--project", "p1"]);
    assert!(r.ok, "{r:?}");
    assert!(r.stderr.contains("imported 2 events"), "{r:?}");
    assert_eq!(db.count("p1"), 2);

    let resp = db.events("p1", &format!("includes={ALL_FIELDS}&limit=10"));
    assert_eq!(resp["meta"]["totalCount"], 2, "{resp}");
    let data = resp["data"].as_array().unwrap();
    let full = json!({
        "id": "11111111-1111-4111-8111-111111111111",
        "name": "purchase",
        "deviceId": "d1",
        "profileId": "u1",
        "projectId": "p1",
        "createdAt": "2024-04-15T12:34:56.789Z",
        "country": "SE",
        "city": "Stockholm",
        "os": "macOS",
        "browser": "Firefox",
        "duration": 1500,
        "path": "/checkout",
        "sessionId": "s1",
        "properties": {
            "a.b": "1",
            "big": "12345678901234567890",
            "half": "-0.5",
            "items.0.name": "x",
            "items.0.qty": "2",
            "items.1.name": "y",
            "items.1.tags.0": "t0",
            "items.1.tags.1": "t1",
            "nested.kept": "k",
            "no": "false",
            "ok": "true",
            "one": "1",
            "s": "text \"q\" ✓",
            "total": "19.99"
        },
        "region": "Stockholm County",
        "longitude": 18.07,
        "latitude": 59.33,
        "osVersion": "14.4",
        "browserVersion": "125.0",
        "device": "desktop",
        "brand": "Apple",
        "model": "MacBook",
        "origin": "https://shop.example",
        "referrer": "https://google.com",
        "referrerName": "Google",
        "referrerType": "search",
        "sdkName": "web",
        "sdkVersion": "1.1.0",
        "importedAt": "2024-04-16T00:00:00.000Z"
    });
    assert_eq!(data[0], full, "{}", data[0]);
    let sparse = json!({
        "id": "22222222-2222-4222-8222-222222222222",
        "name": "screen_view",
        "deviceId": "",
        "profileId": "",
        "projectId": "p1",
        "createdAt": "2024-04-15T10:00:00.000Z",
        "country": "",
        "city": "",
        "os": "",
        "browser": "",
        "duration": 0,
        "path": "",
        "sessionId": "",
        "properties": {},
        "region": "",
        "longitude": null,
        "latitude": null,
        "osVersion": "",
        "browserVersion": "",
        "device": "",
        "brand": "",
        "model": "",
        "origin": "",
        "referrer": "",
        "referrerName": "",
        "referrerType": "",
        "sdkName": "",
        "sdkVersion": "",
        "importedAt": null
    });
    assert_eq!(data[1], sparse, "{}", data[1]);
}

#[test]
fn import_reads_crlf_offsets_epoch_millis_and_exponents() {
    let db = Db::with_p1();
    let text = "{\"id\":\"a1\",\"name\":\"x\",\"createdAt\":\"2024-04-15T12:34:56+02:00\",\"properties\":{\"e\":1e21,\"f\":1.5e-7,\"g\":100.0,\"h\":-0.0,\"i\":0.1,\"k\":-7}}\r\n\
                \r\n\
                {\"id\":\"a2\",\"name\":\"x\",\"createdAt\":1713184496789}\r\n";
    let file = db.write("crlf.ndjson", text);
    db.ok(&["import", &file, "--project", "p1"]);
    let resp = db.events("p1", "includes=properties");
    let data = resp["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{resp}");
    assert_eq!(data[0]["id"], "a2");
    assert_eq!(data[0]["createdAt"], "2024-04-15T12:34:56.789Z");
    assert_eq!(data[1]["id"], "a1");
    assert_eq!(data[1]["createdAt"], "2024-04-15T10:34:56.000Z");
    assert_eq!(
        data[1]["properties"],
        json!({"e": "1000000000000000000000", "f": "0.00000015", "g": "100", "h": "0", "i": "0.1", "k": "-7"}),
        "{resp}"
    );
    // An empty input imports nothing and succeeds.
    let file = db.write("empty.ndjson", "");
    let r = db.run(&["import", &file, "--project", "p1"]);
    assert!(r.ok && r.stderr.contains("imported 0 events"), "{r:?}");
}

#[test]
fn reimporting_a_file_keeps_ids_unique() {
    let db = Db::with_p1();
    let file = db.write("events.ndjson", EVENTS);
    db.ok(&["import", &file, "--project", "p1"]);
    db.ok(&["import", &file, "--project", "p1"]);
    assert_eq!(db.count("p1"), 2);
    let resp = db.events("p1", "limit=10");
    assert_eq!(resp["meta"]["totalCount"], 2, "{resp}");
}

#[test]
fn import_without_ids_is_reproducible() {
    let text = "{\"name\":\"a\",\"createdAt\":\"2024-01-01T00:00:00Z\",\"properties\":{\"k\":1}}\n\
                {\"name\":\"a\",\"createdAt\":\"2024-01-01T00:00:00Z\",\"properties\":{\"k\":2}}\n";
    let ids = |db: &Db| -> Vec<Value> {
        let resp = db.events("p1", "limit=10");
        resp["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect()
    };
    let one = Db::with_p1();
    let file = one.write("e.ndjson", text);
    one.ok(&["import", &file, "--project", "p1"]);
    let two = Db::with_p1();
    let file = two.write("e.ndjson", text);
    two.ok(&["import", &file, "--project", "p1"]);
    let a = ids(&one);
    assert_eq!(a.len(), 2);
    assert_ne!(a[0], a[1], "two different lines got the same id");
    for id in &a {
        uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap();
    }
    assert_eq!(a, ids(&two));
}

#[test]
fn import_from_stdin() {
    let db = Db::with_p1();
    let r = db.run_stdin(&["import", "-", "--project", "p1"], EVENTS);
    assert!(r.ok, "{r:?}");
    assert_eq!(db.count("p1"), 2);
    let resp = db.events("p1", "includes=properties&event=purchase");
    assert_eq!(resp["data"][0]["properties"]["total"], "19.99", "{resp}");
}

#[test]
fn import_uses_the_lines_project_when_no_flag_is_given() {
    let db = Db::with_p1();
    let file = db.write(
        "e.ndjson",
        "{\"name\":\"a\",\"projectId\":\"p1\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n",
    );
    db.ok(&["import", &file]);
    assert_eq!(db.count("p1"), 1);
    // A line without projectId and no --project is malformed.
    let file = db.write(
        "f.ndjson",
        "{\"name\":\"a\",\"projectId\":\"p1\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n\
         {\"name\":\"b\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n",
    );
    let err = db.fail(&["import", &file]);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("projectId"), "{err}");
    assert_eq!(db.count("p1"), 1);
}

/// A valid event line for project p1.
fn good_line(i: usize) -> String {
    format!(
        "{{\"id\":\"{}\",\"name\":\"screen_view\",\"deviceId\":\"d{i}\",\"createdAt\":\"2024-03-01T00:00:00Z\",\"path\":\"/p/{i}\",\"properties\":{{\"i\":{i}}}}}",
        uuid::Uuid::new_v4()
    )
}

fn lines(n: usize) -> String {
    (0..n).map(|i| good_line(i) + "\n").collect()
}

#[test]
fn a_malformed_line_stops_the_import_and_commits_nothing() {
    let db = Db::with_p1();
    let file = db.write("ok.ndjson", EVENTS);
    db.ok(&["import", &file, "--project", "p1"]);
    assert_eq!(db.count("p1"), 2);
    let g = || good_line(0);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad JSON",
            format!("{}\n{}\n{{\"name\":\"b\",\n{}\n", g(), g(), g()),
            "JSON",
        ),
        (
            "another project",
            format!(
                "{}\n{}\n{{\"name\":\"b\",\"projectId\":\"p2\",\"createdAt\":\"2024-01-01T00:00:00Z\"}}\n{}\n",
                g(),
                g(),
                g()
            ),
            "p2",
        ),
        (
            "no createdAt",
            format!("{}\n{}\n{{\"name\":\"b\"}}\n{}\n", g(), g(), g()),
            "createdAt",
        ),
        (
            "bad createdAt",
            format!(
                "{}\n{}\n{{\"name\":\"b\",\"createdAt\":\"yesterday\"}}\n{}\n",
                g(),
                g(),
                g()
            ),
            "createdAt",
        ),
        (
            "not an object",
            format!("{}\n{}\n[1,2]\n{}\n", g(), g(), g()),
            "line 3",
        ),
        (
            "no name",
            format!(
                "{}\n{}\n{{\"createdAt\":\"2024-01-01T00:00:00Z\"}}\n{}\n",
                g(),
                g(),
                g()
            ),
            "name",
        ),
    ];
    for (what, text, needle) in cases {
        let file = db.write("bad.ndjson", &text);
        let err = db.fail(&["import", &file, "--project", "p1"]);
        assert!(err.contains("line 3: "), "{what}: {err}");
        assert!(!err.contains("line 4"), "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert_eq!(db.count("p1"), 2, "{what}: something was committed");
        assert_eq!(db.count("p2"), 0, "{what}");
        // The same through stdin.
        let r = db.run_stdin(&["import", "-", "--project", "p1"], &text);
        assert!(!r.ok, "{what}: {r:?}");
        assert!(r.stderr.contains("line 3: "), "{what}: {r:?}");
        assert_eq!(
            db.count("p1"),
            2,
            "{what}: something was committed from stdin"
        );
    }
}

#[test]
fn a_bad_line_after_the_first_batch_rolls_back_every_batch() {
    let db = Db::with_p1();
    let file = db.write("ok.ndjson", EVENTS);
    db.ok(&["import", &file, "--project", "p1"]);
    // 2500 good lines (more than one 2000-row batch), then a bad one.
    let mut text = lines(2500);
    text.push_str(
        "{\"name\":\"late\",\"projectId\":\"other\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n",
    );
    let file = db.write("big.ndjson", &text);
    let err = db.fail(&["import", &file, "--project", "p1"]);
    assert!(err.contains("line 2501: "), "{err}");
    assert_eq!(db.count("p1"), 2);
    // Missing createdAt at the very end, no trailing newline, through stdin.
    let mut text = lines(4100);
    text.push_str("{\"name\":\"late\"}");
    let r = db.run_stdin(&["import", "-", "--project", "p1"], &text);
    assert!(!r.ok, "{r:?}");
    assert!(r.stderr.contains("line 4101: "), "{r:?}");
    assert_eq!(db.count("p1"), 2);
    // Without the bad line, everything goes in.
    let file = db.write("big.ndjson", &lines(2500));
    db.ok(&["import", &file, "--project", "p1"]);
    assert_eq!(db.count("p1"), 2502);
}

#[test]
fn import_of_a_missing_file_fails_cleanly() {
    let db = Db::with_p1();
    let missing = db.path("nope.ndjson");
    let err = db.fail(&["import", missing.to_str().unwrap(), "--project", "p1"]);
    assert!(err.contains("nope.ndjson"), "{err}");
}

#[test]
fn profiles_import_then_includes_profile() {
    let db = Db::with_p1();
    let file = db.write("events.ndjson", EVENTS);
    db.ok(&["import", &file, "--project", "p1"]);
    let profiles = "{\"id\":\"u1\",\"firstName\":\"Ada\",\"lastName\":\"Lovelace\",\"email\":\"ada@example.com\",\"avatar\":\"https://a.example/ada.png\",\"isExternal\":true,\"properties\":{\"plan\":\"pro\",\"seats\":3,\"billing\":{\"annual\":true,\"discount\":0.25,\"none\":null}},\"createdAt\":\"2024-01-02T03:04:05.006Z\"}\n\
                    {\"id\":\"u2\",\"projectId\":\"p1\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n";
    let r = db.run_stdin(&["import", "--profiles", "-", "--project", "p1"], profiles);
    assert!(r.ok, "{r:?}");
    assert!(r.stderr.contains("imported 2 profiles"), "{r:?}");
    let resp = db.events("p1", "includes=profile&event=purchase");
    let expected = json!({
        "id": "u1",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "avatar": "https://a.example/ada.png",
        "isExternal": true,
        "properties": {
            "billing.annual": "true",
            "billing.discount": "0.25",
            "plan": "pro",
            "seats": "3"
        },
        "createdAt": "2024-01-02T03:04:05.006Z"
    });
    assert_eq!(resp["data"][0]["profile"], expected, "{resp}");
    // The event without a profile has no `profile` key.
    let resp = db.events("p1", "includes=profile&event=screen_view");
    assert!(resp["data"][0].get("profile").is_none(), "{resp}");

    // Re-importing a profile replaces it (from a file this time).
    let file = db.write(
        "profiles.ndjson",
        "{\"id\":\"u1\",\"firstName\":\"Grace\",\"createdAt\":\"2024-01-02T03:04:05.006Z\"}\n",
    );
    db.ok(&["import", "--profiles", &file, "--project", "p1"]);
    let resp = db.events("p1", "includes=profile&event=purchase");
    let p = &resp["data"][0]["profile"];
    assert_eq!(p["firstName"], "Grace", "{resp}");
    assert_eq!(p["lastName"], "", "{resp}");
    assert_eq!(p["isExternal"], false, "{resp}");
    assert_eq!(p["properties"], json!({}), "{resp}");
}

#[test]
fn a_malformed_profile_line_commits_nothing() {
    let db = Db::with_p1();
    let file = db.write("events.ndjson", EVENTS);
    db.ok(&["import", &file, "--project", "p1"]);
    let text = "{\"id\":\"u1\",\"firstName\":\"Ada\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n\
                {\"id\":\"u3\",\"projectId\":\"elsewhere\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n";
    let file = db.write("profiles.ndjson", text);
    let err = db.fail(&["import", "--profiles", &file, "--project", "p1"]);
    assert!(err.contains("line 2: "), "{err}");
    assert!(err.contains("elsewhere"), "{err}");
    let resp = db.events("p1", "includes=profile&event=purchase");
    assert!(
        resp["data"][0].get("profile").is_none(),
        "line 1 was committed: {resp}"
    );
    let err = db.fail(&["import", "--profiles", &file, "--project", "p1"]);
    assert!(err.contains("line 2"), "{err}");
    let file = db.write("profiles.ndjson", "{\"id\":\"u1\",\n");
    let err = db.fail(&["import", "--profiles", &file, "--project", "p1"]);
    assert!(err.contains("line 1: "), "{err}");
}

// ---------------------------------------------------------------------------------------
// event-meta

#[test]
fn event_meta_set_creates_then_updates() {
    let db = Db::with_p1();
    let out = db.ok(&[
        "event-meta",
        "set",
        "--project",
        "p1",
        "--name",
        "sign_up",
        "--conversion",
        "--color",
        "red",
    ]);
    let first: Value = serde_json::from_str(out.trim()).unwrap();
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "conversion",
            "color",
            "icon",
            "projectId",
            "createdAt",
            "updatedAt"
        ],
        "{out}"
    );
    uuid::Uuid::parse_str(first["id"].as_str().unwrap()).unwrap();
    assert_eq!(first["name"], "sign_up");
    assert_eq!(first["conversion"], true);
    assert_eq!(first["color"], "red");
    assert_eq!(first["icon"], Value::Null);
    assert_eq!(first["projectId"], "p1");
    for k in ["createdAt", "updatedAt"] {
        let t = first[k].as_str().unwrap();
        assert!(
            quarry_core::time::parse_rfc3339(t).is_some() && t.len() == 24 && t.ends_with('Z'),
            "{k}: {t}"
        );
    }
    assert_eq!(first["createdAt"], first["updatedAt"]);

    std::thread::sleep(std::time::Duration::from_millis(5));
    let out = db.ok(&[
        "event-meta",
        "set",
        "--project",
        "p1",
        "--name",
        "sign_up",
        "--conversion",
        "--color",
        "blue",
        "--icon",
        "star",
    ]);
    let second: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["color"], "blue");
    assert_eq!(second["icon"], "star");
    assert_eq!(second["conversion"], true);
    assert_eq!(second["createdAt"], first["createdAt"]);
    assert!(
        second["updatedAt"].as_str().unwrap() > first["updatedAt"].as_str().unwrap(),
        "{first} then {second}"
    );

    // What includes=meta returns is that row.
    let file = db.write(
        "e.ndjson",
        "{\"name\":\"sign_up\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n\
         {\"name\":\"other\",\"createdAt\":\"2024-01-01T00:00:00Z\"}\n",
    );
    db.ok(&["import", &file, "--project", "p1"]);
    let resp = db.events("p1", "includes=meta&event=sign_up");
    assert_eq!(resp["data"][0]["meta"], second, "{resp}");
    let resp = db.events("p1", "includes=meta&event=other");
    assert!(resp["data"][0].get("meta").is_none(), "{resp}");

    // A minimal row: conversion false, color and icon null; another project is separate.
    db.ok(&["projects", "create", "p2"]);
    let out = db.ok(&["event-meta", "set", "--project", "p2", "--name", "sign_up"]);
    let other: Value = serde_json::from_str(out.trim()).unwrap();
    assert_ne!(other["id"], first["id"]);
    assert_eq!(other["conversion"], false);
    assert_eq!(other["color"], Value::Null);
    assert_eq!(other["icon"], Value::Null);
    assert_eq!(other["projectId"], "p2");
}

// ---------------------------------------------------------------------------------------
// seed

/// Every event of `project`, oldest last, without the time-dependent `createdAt`.
fn seeded(db: &Db, project: &str) -> Vec<Value> {
    let resp = db.events(
        project,
        &format!("includes={ALL_FIELDS},profile&limit=10000"),
    );
    resp["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let obj = e.as_object_mut().unwrap();
            obj.remove("createdAt");
            if let Some(p) = obj.get_mut("profile").and_then(Value::as_object_mut) {
                p.remove("createdAt");
            }
            e
        })
        .collect()
}

fn seed_args(seed: &str) -> Vec<&str> {
    vec![
        "seed",
        "--project",
        "p2",
        "--events",
        "500",
        "--days",
        "10",
        "--seed",
        seed,
    ]
}

#[test]
fn seed_is_exact_realistic_and_deterministic() {
    let (a, b, c) = (Db::new(), Db::new(), Db::new());
    for db in [&a, &b, &c] {
        db.ok(&["migrate"]);
    }
    let before = chrono::Utc::now().timestamp_millis();
    // The generator anchors its window at the clock; seed both databases at once so
    // they see (nearly) the same "now", and retry once should an hour boundary fall
    // between the two runs.
    let mut attempt = 0;
    let (ea, eb) = loop {
        let (ra, rb) = std::thread::scope(|s| {
            let ha = s.spawn(|| a.run(&seed_args("7")));
            let hb = s.spawn(|| b.run(&seed_args("7")));
            (ha.join().unwrap(), hb.join().unwrap())
        });
        assert!(ra.ok && rb.ok, "{ra:?} {rb:?}");
        let (ea, eb) = (seeded(&a, "p2"), seeded(&b, "p2"));
        attempt += 1;
        if ea == eb || attempt == 2 {
            break (ea, eb);
        }
        // Start over with empty projects.
        for db in [&a, &b] {
            std::fs::remove_file(db.path("q.db")).unwrap();
            for ext in ["q.db-wal", "q.db-shm"] {
                let _ = std::fs::remove_file(db.path(ext));
            }
            db.ok(&["migrate"]);
        }
    };
    let after = chrono::Utc::now().timestamp_millis();
    assert_eq!(a.count("p2"), 500);
    assert_eq!(b.count("p2"), 500);
    assert_eq!(ea.len(), 500);
    for (i, (x, y)) in ea.iter().zip(&eb).enumerate() {
        assert_eq!(x, y, "event {i} differs between two databases seeded alike");
    }
    // The project was created.
    assert!(a.store(async |s| s.project("p2").await.unwrap()).is_some());

    // Inside the window [now - 10 days, now].
    let resp = a.events("p2", "limit=10000");
    for e in resp["data"].as_array().unwrap() {
        let t = quarry_core::time::parse_rfc3339(e["createdAt"].as_str().unwrap()).unwrap();
        assert!(t <= after, "{e}");
        assert!(t >= before - 10 * 86_400_000 - 60_000, "{e}");
    }

    // Realistic: several names, countries, browsers, devices; purchases carry a total.
    let distinct = |key: &str| -> std::collections::BTreeSet<String> {
        ea.iter()
            .map(|e| e[key].as_str().unwrap().to_string())
            .collect()
    };
    for name in ["session_start", "screen_view"] {
        assert!(distinct("name").contains(name), "{:?}", distinct("name"));
    }
    assert!(distinct("country").len() >= 3, "{:?}", distinct("country"));
    assert!(distinct("browser").len() >= 2, "{:?}", distinct("browser"));
    assert!(distinct("device").len() >= 2, "{:?}", distinct("device"));
    assert!(distinct("path").len() >= 5, "{:?}", distinct("path"));
    assert!(
        distinct("sessionId").len() >= 20,
        "{:?}",
        distinct("sessionId")
    );
    let purchases: Vec<&Value> = ea.iter().filter(|e| e["name"] == "purchase").collect();
    for p in &purchases {
        let total = p["properties"]["total"].as_str().unwrap();
        assert!(
            quarry_core::decode::is_number_text(total),
            "purchase total {total:?} is not numeric: {p}"
        );
    }

    // Another seed gives another data set.
    c.ok(&seed_args("8"));
    assert_eq!(c.count("p2"), 500);
    assert_ne!(seeded(&c, "p2"), ea);
}

#[test]
fn seed_adds_to_an_existing_project() {
    let db = Db::with_p1();
    db.ok(&[
        "seed",
        "--project",
        "p1",
        "--events",
        "120",
        "--days",
        "3",
        "--seed",
        "1",
    ]);
    assert_eq!(db.count("p1"), 120);
    // The existing project is kept as it was.
    let p = db.store(async |s| s.project("p1").await.unwrap().unwrap());
    assert_eq!(p.organization_id, "o1");
    assert_eq!(p.timezone.as_deref(), Some("Europe/Stockholm"));
}

// ---------------------------------------------------------------------------------------
// compile

const NOW: &str = "2024-04-15T00:00:00Z";

fn compile(dialect: &str, endpoint: &str, qs: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    bare(dir.path())
        .args([
            "compile",
            "--dialect",
            dialect,
            "--endpoint",
            endpoint,
            "--now",
            NOW,
            qs,
        ])
        .output()
        .unwrap()
        .into()
}

#[test]
fn compile_prints_sql_and_params_for_every_dialect_and_endpoint() {
    let requests = [
        (
            "charts",
            r#"events=[{"name":"screen_view","filters":[{"name":"country","operator":"is","value":["SE"]}]}]&breakdowns=[{"name":"browser"}]&range=7d&interval=day"#,
        ),
        (
            "funnel",
            r#"events=[{"name":"session_start"},{"name":"sign_up"},{"name":"purchase"}]&range=30d"#,
        ),
        ("events", "event=screen_view&limit=10&includes=properties"),
    ];
    for dialect in ["sqlite", "postgres", "clickhouse"] {
        for (endpoint, qs) in requests {
            let r = compile(dialect, endpoint, qs);
            assert!(r.ok, "{dialect} {endpoint}: {r:?}");
            assert!(r.stdout.contains("SELECT"), "{dialect} {endpoint}: {r:?}");
            assert!(
                r.stdout.contains("-- params"),
                "{dialect} {endpoint}: {r:?}"
            );
            assert!(
                r.stdout.lines().any(|l| l.starts_with("-- 1: ")),
                "{dialect} {endpoint}: {r:?}"
            );
            assert!(
                r.stdout.contains("project_id"),
                "{dialect} {endpoint}: {r:?}"
            );
            // A fixed --now makes the output reproducible.
            let again = compile(dialect, endpoint, qs);
            assert_eq!(r.stdout, again.stdout, "{dialect} {endpoint}");
        }
    }
    // The events endpoint prints the page and its count.
    let r = compile("sqlite", "events", "event=screen_view");
    assert_eq!(r.stdout.matches("-- params").count(), 2, "{r:?}");
    assert!(r.stdout.contains("count("), "{r:?}");
    // A funnel prints every statement it runs: the levels, the previous period's and
    // time to convert's.
    let options = r#"events=[{"name":"a"},{"name":"b"}]&previous=true&timeToConvert=true"#;
    for dialect in ["sqlite", "postgres", "clickhouse"] {
        let r = compile(dialect, "funnel", options);
        assert_eq!(r.stdout.matches("-- params").count(), 3, "{dialect}: {r:?}");
    }
    // Dialects differ.
    let a = compile("sqlite", "charts", requests[0].1).stdout;
    let b = compile("postgres", "charts", requests[0].1).stdout;
    let c = compile("clickhouse", "charts", requests[0].1).stdout;
    assert!(a != b && b != c && a != c);
    // --now is honoured: 7 days before 2024-04-15 in the parameters or the SQL.
    let later = {
        let dir = tempfile::tempdir().unwrap();
        let r: Run = bare(dir.path())
            .args([
                "compile",
                "--dialect",
                "sqlite",
                "--endpoint",
                "charts",
                "--now",
                "2025-01-01T00:00:00Z",
                requests[0].1,
            ])
            .output()
            .unwrap()
            .into();
        assert!(r.ok, "{r:?}");
        r.stdout
    };
    assert_ne!(a, later, "--now changes nothing");
}

#[test]
fn compile_scopes_to_the_given_project() {
    let dir = tempfile::tempdir().unwrap();
    let r: Run = bare(dir.path())
        .args([
            "compile",
            "--dialect",
            "postgres",
            "--endpoint",
            "events",
            "--project",
            "p1",
            "--now",
            NOW,
            "limit=5",
        ])
        .output()
        .unwrap()
        .into();
    assert!(r.ok, "{r:?}");
    assert!(r.stdout.contains("\"p1\""), "{r:?}");
    // Compiling needs no database.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn compile_rejects_invalid_requests_naming_the_parameter() {
    let cases = [
        (
            "charts",
            r#"events=[{"name":"x","segment":"bogus"}]"#,
            "events[0].segment",
        ),
        (
            "charts",
            r#"events=[{"name":"x","filters":[{"name":"country","operator":"nope","value":["SE"]}]}]"#,
            "events[0].filters[0].operator",
        ),
        (
            "charts",
            "events=[{\"name\":\"x\"}]&range=fortnight",
            "range",
        ),
        ("funnel", r#"events=[{"name":"a"}]&range=bogus"#, "range"),
        ("events", "includes=bogus", "includes"),
        ("events", "start=yesterday", "start"),
    ];
    for dialect in ["sqlite", "postgres", "clickhouse"] {
        for (endpoint, qs, param) in cases {
            let r = compile(dialect, endpoint, qs);
            assert!(!r.ok, "{dialect} {endpoint} {qs}: {r:?}");
            assert_eq!(r.code, Some(1), "{r:?}");
            assert!(r.stdout.is_empty(), "{r:?}");
            assert!(r.stderr.contains(param), "{dialect} {endpoint} {qs}: {r:?}");
        }
    }
    // A bad --now or --dialect is an error too.
    let dir = tempfile::tempdir().unwrap();
    let r: Run = bare(dir.path())
        .args([
            "compile",
            "--dialect",
            "sqlite",
            "--now",
            "soon",
            "range=7d",
        ])
        .output()
        .unwrap()
        .into();
    assert!(!r.ok && r.stderr.contains("--now"), "{r:?}");
    let r: Run = bare(dir.path())
        .args(["compile", "--dialect", "mysql", "range=7d"])
        .output()
        .unwrap()
        .into();
    assert!(!r.ok && r.stderr.contains("mysql"), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// export

#[test]
fn export_writes_the_rows_of_the_json_pages() {
    let db = Db::new();
    db.ok(&["migrate"]);
    db.ok(&seed_args("4"));
    let pages = db.events("p2", "includes=properties,sessionId&limit=10000");
    let pages = pages["data"].as_array().unwrap();
    assert_eq!(pages.len(), 500);

    let ndjson = db.ok(&["export", "--project", "p2", "includes=properties,sessionId"]);
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(&lines, pages);

    let file = db.path("out.csv");
    let r = db.run(&[
        "export",
        "--project",
        "p2",
        "--format",
        "csv",
        "--output",
        file.to_str().unwrap(),
        "fields=id,name,properties.__query.utm_source",
    ]);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("exported 500 events"), "{r:?}");
    let csv = std::fs::read_to_string(&file).unwrap();
    let mut records = csv.split("\r\n");
    assert_eq!(
        records.next(),
        Some("id,name,properties.__query.utm_source")
    );
    let ids: Vec<&str> = records
        .filter(|r| !r.is_empty())
        .map(|r| r.split(',').next().unwrap())
        .collect();
    let expected: Vec<&str> = pages.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected);

    // Parquet, read back with the same crate: every row, in order.
    let file = db.path("out.parquet");
    db.ok(&[
        "export",
        "--project",
        "p2",
        "--format",
        "parquet",
        "--output",
        file.to_str().unwrap(),
    ]);
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;
    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let parquet_ids: Vec<String> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().get_string(0).unwrap().clone())
        .collect();
    assert_eq!(parquet_ids, expected);

    // The query's format wins over --format; a bad request names its parameter.
    let csv_again = db.ok(&["export", "--project", "p2", "fields=id&format=csv"]);
    assert!(csv_again.starts_with("id\r\n"), "{csv_again}");
    let err = db.fail(&["export", "--project", "p2", "fields=nope"]);
    assert!(err.contains("fields"), "{err}");
    let err = db.fail(&["export", "--project", "nope"]);
    assert!(err.contains("no project"), "{err}");
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Kills the server when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A streamed export of a million rows through `quarry serve`: every row arrives, and the
/// server's resident memory stays flat while they do (it does not grow with the rows
/// sent). Memory is read from /proc, not timed.
#[test]
fn a_million_row_stream_keeps_the_servers_memory_flat() {
    const ROWS: u64 = 1_000_000;
    let db = Db::with_p1();
    let (id, secret) =
        parse_client(&db.ok(&["clients", "create", "--type", "read", "--project", "p1"]));
    // The rows by SQL, in one statement: importing a million lines through a debug build
    // would take minutes.
    db.store(async |s| {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999) \
             INSERT INTO events (id, name, project_id, device_id, profile_id, properties, \
             created_at, country, path) \
             SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'screen_view', 'p1', \
             'd' || (i % 5000), 'u' || (i % 3000), '{\"plan\":\"p' || (i % 7) || '\"}', \
             1700000000000 + i * 997, 'SE', '/page/' || (i % 50) FROM n",
        )
        .execute(s.pool())
        .await
        .unwrap();
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let server = Child(
        db.cmd(&["serve", "--bind", &bind, "--rate-limit", "off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = server.0.id();
    let base = format!("http://{bind}");
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let started = std::time::Instant::now();
        while http.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(started.elapsed().as_secs() < 30, "the server did not start");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let before = proc_kib(pid, "VmRSS");
        let mut resp = http
            .get(format!(
                "{base}/export/events?format=csv&fields=id,name,createdAt,profileId,path,\
                 properties.plan"
            ))
            .header("openpanel-client-id", &id)
            .header("openpanel-client-secret", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // Lines received, and the server's resident memory at each tenth of them.
        let (mut lines, mut last, mut tail) = (0u64, b'\n', Vec::new());
        let mut at_tenths = Vec::new();
        while let Some(chunk) = resp.chunk().await.unwrap() {
            lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            last = *chunk.last().unwrap_or(&last);
            if lines >= (at_tenths.len() as u64 + 1) * ROWS / 10 {
                at_tenths.push(proc_kib(pid, "VmRSS"));
            }
            if tail.len() < 200 {
                tail.extend_from_slice(&chunk[..chunk.len().min(200)]);
            }
        }
        assert_eq!(last, b'\n');
        assert_eq!(lines, ROWS + 1, "the header and every row");
        assert!(
            tail.starts_with(b"id,name,createdAt,profileId,path,properties.plan\r\n"),
            "{}",
            String::from_utf8_lossy(&tail)
        );
        let peak = proc_kib(pid, "VmHWM");
        let (first, end) = (at_tenths[0], *at_tenths.last().unwrap());
        let mib = |kib: u64| kib as f64 / 1024.0;
        eprintln!(
            "server RSS before {:.1} MiB, after a tenth {:.1}, at the end {:.1}, peak {:.1}",
            mib(before),
            mib(first),
            mib(end),
            mib(peak)
        );
        // Flat: what the last nine tenths add is noise, not rows.
        assert!(
            end <= first + 8 * 1024,
            "memory grows with the rows sent: {at_tenths:?} KiB"
        );
        assert!(
            peak <= 64 * 1024,
            "peak resident memory {:.1} MiB is over 64 MiB",
            mib(peak)
        );
    });
    drop(server);
}

/// Operations, through `quarry serve` as deployed: JSON log lines (`QUARRY_LOG_FORMAT`),
/// each line of a request carrying its id (the client's `X-Request-Id` or a fresh one,
/// echoed), the SQL at debug level with parameter values redacted, `/metrics` counting
/// the requests made, and no client secret anywhere: not in the logs, the metrics, or
/// `explain`.
#[test]
fn logs_carry_request_ids_and_no_secret_reaches_logs_metrics_or_explain() {
    let db = Db::with_p1();
    let (id, secret) =
        parse_client(&db.ok(&["clients", "create", "--type", "read", "--project", "p1"]));
    let marker = "needle-7f3a";
    let line = format!(
        r#"{{"name":"screen_view","profileId":"u1","createdAt":"2024-04-15T09:00:00Z","properties":{{"plan":"{marker}"}}}}"#
    );
    db.run_stdin(&["import", "-", "--project", "p1"], &format!("{line}\n"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let log = db.path("server.log");
    let mut server = Child(
        db.cmd(&["serve", "--bind", &bind, "--rate-limit", "off"])
            .env("QUARRY_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn,quarry_server=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://{bind}");
    let filter = format!(r#"[{{"name":"properties.plan","operator":"is","value":["{marker}"]}}]"#);
    let (metrics, explain, fresh) = runtime().block_on(async {
        let http = reqwest::Client::new();
        let started = std::time::Instant::now();
        while http.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(started.elapsed().as_secs() < 30, "the server did not start");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let get = |url: String, secret: &str, request_id: Option<&str>| {
            let mut req = http
                .get(url)
                .header("openpanel-client-id", &id)
                .header("openpanel-client-secret", secret);
            if let Some(r) = request_id {
                req = req.header("x-request-id", r);
            }
            req.send()
        };
        let chart = format!(
            "{base}/export/charts?events=[{{\"name\":\"screen_view\",\"filters\":{filter}}}]\
             &startDate=2024-04-01&endDate=2024-04-30"
        );
        let r = get(chart.clone(), &secret, Some("req-given-1"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-request-id"], "req-given-1");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["series"][0]["metrics"]["sum"], 1, "{body}");
        // A wrong secret, and an id that is not fit for a header: a fresh id instead.
        let r = get(
            chart.clone(),
            "sec_wrongwrongwrongwrong",
            Some("bad id with \"quotes\""),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 401);
        let fresh = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(fresh.len() == 32 && is_lower_hex(&fresh), "{fresh}");
        let explain: Value = get(format!("{chart}&explain=true"), &secret, None)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(explain["statements"][0]["plan"].is_string(), "{explain}");
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (metrics, explain.to_string(), fresh)
    });
    let _ = server.0.kill();
    let _ = server.0.wait();
    let logs = std::fs::read_to_string(&log).unwrap();

    // /metrics counted what was asked of it.
    for line in [
        "quarry_http_requests_total{route=\"/export/charts\",status=\"200\"} 2",
        "quarry_http_requests_total{route=\"/export/charts\",status=\"401\"} 1",
        "quarry_http_request_duration_seconds_count{route=\"/export/charts\"} 3",
        "quarry_auth_cache_total{result=\"miss\"} 2",
        "quarry_auth_cache_total{result=\"hit\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    assert!(
        metrics.contains("quarry_query_duration_seconds_count{backend=\"sqlite\",outcome=\"ok\"}")
    );

    // Every line of the given request carries its id; its SQL is logged, its values not.
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| l["spans"][0]["id"] == "req-given-1")
        .collect();
    assert!(of_request.len() >= 3, "{logs}");
    assert!(
        of_request.iter().any(|l| l["fields"]["sql"]
            .as_str()
            .is_some_and(|s| s.contains("FROM events"))),
        "{logs}"
    );
    assert!(
        of_request
            .iter()
            .any(|l| l["fields"]["message"] == "request" && l["fields"]["status"] == 200)
    );
    // The generated id echoed is the one the request's lines carry.
    assert!(
        lines.iter().any(|l| l["span"]["id"] == fresh.as_str()),
        "{fresh}: {logs}"
    );
    assert!(
        !logs.contains(marker),
        "a parameter value reached the log:\n{logs}"
    );

    for (what, text) in [
        ("logs", &logs),
        ("metrics", &metrics),
        ("explain", &explain),
    ] {
        assert!(!text.contains(&secret), "the secret reached the {what}");
        assert!(
            !text.contains("sec_wrongwrong"),
            "a presented secret reached the {what}"
        );
    }
}
