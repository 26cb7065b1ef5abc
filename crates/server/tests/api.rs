//! The real `quarry-server` application over HTTP, one temporary SQLite database per test,
//! with a fixed clock (`NOW` = 2024-04-20T12:00:00Z): health checks, authentication (§3.3),
//! project resolution (§3.4), the order of checks (§4.2), the three endpoints (§5–§7) with
//! the documented example requests, 400 bodies, rate limiting, 503/504/500 and unknown
//! routes. The data set is described in `support::events`; every expected body is written
//! out by hand from it.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quarry_core::catalog::{Catalog, ClientRecord, ProjectRecord};
use quarry_core::sql::Row;
use quarry_core::sql::{Dialect, Query};
use quarry_core::storage::{RowStream, Storage, StorageError, rows_at_once};
use quarry_server::{Backends, Settings};
use serde_json::{Value, json};
use support::*;

// ---- Expected bodies -----------------------------------------------------------------

fn unauthorized(message: &str) -> Value {
    json!({"error": "Unauthorized", "code": "unauthorized", "message": message})
}

fn forbidden() -> Value {
    json!({
        "error": "Forbidden",
        "code": "forbidden",
        "message": "You do not have access to this project"
    })
}

fn project_not_found() -> Value {
    json!({"error": "Not Found", "code": "project_not_found", "message": "Project not found"})
}

/// A 400 with one offending parameter: `message` is `<param>: <detail>`.
fn bad_request(code: &str, param: &str, detail: &str) -> Value {
    json!({
        "error": "Bad Request",
        "code": code,
        // A detail that already names its parameter is not prefixed again.
        "message": if detail.starts_with(param) { detail.to_string() } else { format!("{param}: {detail}") },
        "details": [{"param": param, "message": detail}]
    })
}

const BAD_CLIENT_ID: &str = "Export: Client ID must be a valid UUIDv4";
const UNKNOWN_CLIENT: &str = "Export: Invalid client id";
const NO_SECRET: &str = "Export: Client has no secret";
const WRITE_CLIENT: &str = "Export: Client is not allowed to export";
const BAD_SECRET: &str = "Export: Invalid client secret";

/// Default fields (§5) of the `abc` events used below.
fn e01() -> Value {
    json!({
        "id": eid(1), "name": "screen_view", "deviceId": "d1", "profileId": "u1",
        "projectId": "abc", "createdAt": "2024-04-15T09:00:00.000Z", "country": "SE",
        "city": "Stockholm", "os": "iOS", "browser": "Safari", "duration": 1500, "path": "/home"
    })
}

fn e02() -> Value {
    json!({
        "id": eid(2), "name": "screen_view", "deviceId": "d1", "profileId": "u1",
        "projectId": "abc", "createdAt": "2024-04-15T09:05:00.000Z", "country": "SE",
        "city": "Stockholm", "os": "iOS", "browser": "Safari", "duration": 0, "path": "/pricing"
    })
}

fn e05() -> Value {
    json!({
        "id": eid(5), "name": "screen_view", "deviceId": "d2", "profileId": "u2",
        "projectId": "abc", "createdAt": "2024-04-16T10:00:00.000Z", "country": "US",
        "city": "New York", "os": "Android", "browser": "Chrome", "duration": 0, "path": "/home"
    })
}

fn e07() -> Value {
    json!({
        "id": eid(7), "name": "screen_view", "deviceId": "d3", "profileId": "",
        "projectId": "abc", "createdAt": "2024-04-18T23:59:59.999Z", "country": "DE",
        "city": "Berlin", "os": "Windows", "browser": "Firefox", "duration": 0, "path": "/home"
    })
}

fn ada() -> Value {
    json!({
        "id": "u1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "avatar": "https://example.com/u1.png", "isExternal": true,
        "properties": {"plan": "pro"}, "createdAt": "2024-01-02T03:04:05.006Z"
    })
}

fn screen_view_meta() -> Value {
    json!({
        "id": "9a7b1c2d-0000-4000-8000-000000000001", "name": "screen_view",
        "conversion": false, "color": "#22c55e", "icon": "eye", "projectId": "abc",
        "createdAt": "2024-02-01T08:00:00.000Z", "updatedAt": "2024-02-01T08:00:00.000Z"
    })
}

/// `event` with extra keys appended in order.
fn with(event: Value, extra: &[(&str, Value)]) -> Value {
    let mut obj = event.as_object().unwrap().clone();
    for (k, v) in extra {
        obj.insert((*k).to_string(), v.clone());
    }
    Value::Object(obj)
}

/// The `id`s of an events response.
fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn eids(ns: &[u32]) -> Vec<String> {
    ns.iter().map(|n| eid(*n)).collect()
}

/// A chart series without breakdowns or previous period, `data` as (date, count).
fn series(
    id: &str,
    names: &[&str],
    breakdowns: Value,
    metrics: Value,
    data: &[(&str, u64)],
) -> Value {
    json!({
        "id": id,
        "names": names,
        "event": {"name": names[0], "displayName": names[0]},
        "breakdowns": breakdowns,
        "metrics": metrics,
        "data": data.iter().map(|(d, c)| json!({"date": d, "count": c})).collect::<Vec<_>>(),
    })
}

// ---- The three endpoints, for tests that run on each --------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ep {
    Events,
    Charts,
    Funnel,
}

const ENDPOINTS: [Ep; 3] = [Ep::Events, Ep::Charts, Ep::Funnel];

impl Ep {
    /// A valid request to this endpoint, plus `extra` parameters.
    fn url(self, extra: &str) -> String {
        let base = match self {
            Ep::Events => "/export/events?limit=50".to_string(),
            Ep::Charts => format!(
                "/export/charts?events={}&startDate=2024-04-15&endDate=2024-04-18",
                enc(r#"[{"name":"screen_view"}]"#)
            ),
            Ep::Funnel => format!(
                "/export/funnel?events={}&range=last_30_days",
                enc(r#"[{"name":"sign_up"},{"name":"purchase"}]"#)
            ),
        };
        if extra.is_empty() {
            base
        } else {
            format!("{base}&{extra}")
        }
    }

    /// A request to this endpoint whose own parameters are invalid, plus `extra`.
    fn bad_url(self, extra: &str) -> String {
        let base = match self {
            Ep::Events => "/export/events?limit=ten".to_string(),
            Ep::Charts => format!(
                "/export/charts?events={}&range=fortnight",
                enc(r#"[{"name":"screen_view"}]"#)
            ),
            Ep::Funnel => "/export/funnel?range=last_30_days".to_string(),
        };
        if extra.is_empty() {
            base
        } else {
            format!("{base}&{extra}")
        }
    }

    /// The body of [`Ep::bad_url`] (no project parameters involved).
    fn bad_body(self) -> Value {
        match self {
            Ep::Events => bad_request(
                "invalid_parameter",
                "limit",
                "expected an integer, got \"ten\"",
            ),
            Ep::Charts => bad_request(
                "invalid_parameter",
                "range",
                "unknown range \"fortnight\"; expected one of: 30min, lastHour, today, \
                 yesterday, 7d, last_7_days, 30d, last_30_days, 6m, 12m, monthToDate, \
                 this_month, lastMonth, last_month, yearToDate, this_year, lastYear, \
                 last_year, all_time, custom",
            ),
            Ep::Funnel => bad_request(
                "missing_parameter",
                "events",
                "expected a JSON array of event configs, e.g. [{\"name\":\"screen_view\"}]",
            ),
        }
    }

    /// Assert a 200 whose content identifies `project` (hand-computed per project):
    /// events — every row of the project and its total; charts — `screen_view` from
    /// 2024-04-15 to 2024-04-18 in the project's timezone; funnel — sign_up → purchase over
    /// the last 30 days, by session.
    #[track_caller]
    fn assert_project(self, resp: &Resp, project: &str) {
        assert_eq!(resp.status, 200, "{self:?} for {project}: {}", resp.body);
        let body = resp.json();
        match self {
            Ep::Events => {
                let total = match project {
                    "abc" => 11,
                    "abc123" => 3,
                    "xyz" => 3,
                    _ => unreachable!(),
                };
                assert_eq!(body["meta"]["totalCount"], json!(total), "{project}");
                let data = body["data"].as_array().unwrap();
                assert_eq!(data.len(), total, "{project}");
                assert!(
                    data.iter().all(|e| e["projectId"] == json!(project)),
                    "{project}"
                );
            }
            Ep::Charts => {
                let sum = match project {
                    "abc" => 4,
                    "abc123" => 2,
                    "xyz" => 1,
                    _ => unreachable!(),
                };
                assert_eq!(body["metrics"]["sum"], json!(sum), "{project}");
            }
            Ep::Funnel => {
                let (entrants, purchased) = match project {
                    "abc" => (3, 1),
                    "abc123" => (1, 0),
                    "xyz" => (1, 1),
                    _ => unreachable!(),
                };
                assert_eq!(body["totalSessions"], json!(entrants), "{project}");
                assert_eq!(body["steps"][1]["count"], json!(purchased), "{project}");
            }
        }
    }
}

// ---- Health --------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn().await;
    let r = app.get("/healthz", Creds::NONE).await;
    r.assert(200, &json!({"status": "ok"}));
    assert_eq!(r.header("content-type"), Some("application/json"));
    app.get("/readyz", Creds::NONE)
        .await
        .assert(200, &json!({"status": "ready"}));
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = spawn().await;
    let not_found =
        json!({"error": "Not Found", "code": "not_found", "message": "No such endpoint"});
    for path in [
        "/export",
        "/explorer/",
        "/explorer/nothing.js",
        "/export/nothing",
        "/export/events/extra",
        "/api/export/events",
    ] {
        let r = app.get(path, READ).await;
        r.assert(404, &not_found);
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
    }
}

/// Every route is read-only: HEAD answers what GET does without the body, and any other
/// method is a 405 JSON error with `Allow` (not a 404: the path exists).
#[tokio::test]
async fn other_methods_are_json_405s_and_head_is_get_without_a_body() {
    use reqwest::Method;
    let app = spawn().await;
    let not_allowed = json!({
        "error": "Method Not Allowed",
        "code": "method_not_allowed",
        "message": "This endpoint answers GET and HEAD only",
    });
    let events = "/export/events?projectId=abc&limit=2";
    for path in [
        events,
        "/export/charts",
        "/export/funnel",
        "/healthz",
        "/openapi.json",
        "/",
    ] {
        for method in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ] {
            let r = app.request(method.clone(), path, READ).await;
            r.assert(405, &not_allowed);
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
    }
    for (path, creds) in [
        (events, READ),
        ("/healthz", Creds::NONE),
        ("/readyz", Creds::NONE),
    ] {
        let get = app.get(path, creds).await;
        let head = app.request(Method::HEAD, path, creds).await;
        assert_eq!((head.status, get.status), (200, 200), "{path}");
        assert_eq!(head.header("content-type"), get.header("content-type"));
        assert_eq!(head.body, "", "{path}");
    }
    // A stream's HEAD has the stream's headers, and holds nothing once answered: more
    // HEADs than the server runs streams at once, then the stream itself.
    let ndjson = "/export/events?projectId=abc&format=ndjson";
    for _ in 0..6 {
        let head = app.request(Method::HEAD, ndjson, READ).await;
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-type"), Some("application/x-ndjson"));
        // The GET's length is unknown (chunked): the HEAD states none.
        assert_eq!(head.header("content-length"), None);
        assert_eq!(head.body, "");
    }
    let get = app.get(ndjson, READ).await;
    assert_eq!(get.status, 200);
    assert!(!get.body.is_empty());
    // HEAD is checked like GET: no credentials, no answer.
    assert_eq!(
        app.request(Method::HEAD, events, Creds::NONE).await.status,
        401
    );
    // An unknown path stays a 404 whatever the method.
    let r = app.request(Method::POST, "/export/nothing", READ).await;
    assert_eq!(r.status, 404);
}

// ---- Authentication (§3.3) ---------------------------------------------------------------

#[tokio::test]
async fn every_authentication_failure_has_its_message() {
    let app = spawn().await;
    let cases: [(&str, Creds, &str); 14] = [
        ("no headers", Creds::NONE, BAD_CLIENT_ID),
        (
            "secret only",
            Creds {
                id: None,
                secret: Some(READ_SECRET),
            },
            BAD_CLIENT_ID,
        ),
        (
            "not a UUID",
            Creds::new("not-a-uuid", READ_SECRET),
            BAD_CLIENT_ID,
        ),
        ("empty id", Creds::new("", READ_SECRET), BAD_CLIENT_ID),
        (
            "UUID with a bad digit",
            Creds::new("6f1c2a3b-4d5e-4f60-8a71-0b2c3d4e5fzz", READ_SECRET),
            BAD_CLIENT_ID,
        ),
        (
            "unknown client",
            Creds::new(UNKNOWN_ID, READ_SECRET),
            UNKNOWN_CLIENT,
        ),
        (
            "unknown client, no secret",
            Creds {
                id: Some(UNKNOWN_ID),
                secret: None,
            },
            UNKNOWN_CLIENT,
        ),
        (
            "client without secret",
            Creds::new(NO_SECRET_ID, READ_SECRET),
            NO_SECRET,
        ),
        (
            "client without secret, none sent",
            Creds {
                id: Some(NO_SECRET_ID),
                secret: None,
            },
            NO_SECRET,
        ),
        (
            "client with an empty secret",
            Creds::new(EMPTY_SECRET_ID, ""),
            NO_SECRET,
        ),
        (
            "write client, right secret",
            Creds::new(WRITE_ID, WRITE_SECRET),
            WRITE_CLIENT,
        ),
        (
            "write client, wrong secret",
            Creds::new(WRITE_ID, "sec_00000000000000000000"),
            WRITE_CLIENT,
        ),
        (
            "wrong secret",
            Creds::new(READ_ID, "sec_00000000000000000000"),
            BAD_SECRET,
        ),
        (
            "missing secret",
            Creds {
                id: Some(READ_ID),
                secret: None,
            },
            BAD_SECRET,
        ),
    ];
    for (what, creds, message) in cases {
        let r = app.get(&Ep::Events.url(""), creds).await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        r.assert(401, &unauthorized(message));
    }
    // More wrong secrets: another client's, empty, the right one with different case.
    for secret in [
        ROOT_SECRET,
        "",
        "SEC_0A1B2C3D4E5F60718293",
        "sec_0a1b2c3d4e5f6071829",
    ] {
        app.get(&Ep::Events.url(""), Creds::new(READ_ID, secret))
            .await
            .assert(401, &unauthorized(BAD_SECRET));
    }
}

#[tokio::test]
async fn authentication_applies_to_every_endpoint() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        let url = ep.url("");
        app.get(&url, Creds::NONE)
            .await
            .assert(401, &unauthorized(BAD_CLIENT_ID));
        app.get(&url, Creds::new("nope", READ_SECRET))
            .await
            .assert(401, &unauthorized(BAD_CLIENT_ID));
        app.get(&url, Creds::new(UNKNOWN_ID, READ_SECRET))
            .await
            .assert(401, &unauthorized(UNKNOWN_CLIENT));
        app.get(&url, Creds::new(NO_SECRET_ID, READ_SECRET))
            .await
            .assert(401, &unauthorized(NO_SECRET));
        app.get(&url, Creds::new(WRITE_ID, WRITE_SECRET))
            .await
            .assert(401, &unauthorized(WRITE_CLIENT));
        app.get(&url, Creds::new(READ_ID, ROOT_SECRET))
            .await
            .assert(401, &unauthorized(BAD_SECRET));
        app.get(
            &url,
            Creds {
                id: Some(READ_ID),
                secret: None,
            },
        )
        .await
        .assert(401, &unauthorized(BAD_SECRET));
        ep.assert_project(&app.get(&url, READ).await, "abc");
    }
}

#[tokio::test]
async fn the_known_answer_secret_authenticates() {
    let app = spawn().await;
    let url = "/export/events?event=sign_up&start=2024-04-19";
    let r = app.get(url, Creds::new(KAT_ID, KAT_SECRET)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), eids(&[10]));
    // One character off is refused, also after a success was cached.
    app.get(url, Creds::new(KAT_ID, "sec_3f9a1c7e5b2d8f4a6c0f"))
        .await
        .assert(401, &unauthorized(BAD_SECRET));
    assert_eq!(
        app.get(url, Creds::new(KAT_ID, KAT_SECRET)).await.status,
        200
    );
}

#[tokio::test]
async fn a_cached_success_does_not_admit_other_secrets() {
    let app = spawn().await;
    let url = Ep::Events.url("");
    for _ in 0..2 {
        assert_eq!(app.get(&url, READ).await.status, 200);
        app.get(&url, Creds::new(READ_ID, "sec_0a1b2c3d4e5f60718294"))
            .await
            .assert(401, &unauthorized(BAD_SECRET));
        // Another client's valid secret presented under this client's id.
        app.get(&url, Creds::new(READ_ID, READ_123_SECRET))
            .await
            .assert(401, &unauthorized(BAD_SECRET));
    }
}

#[tokio::test]
async fn header_names_are_case_insensitive() {
    let app = spawn().await;
    let target = "/export/events?event=sign_up&start=2024-04-19";
    for (id_name, secret_name) in [
        ("OpenPanel-Client-Id", "OpenPanel-Client-Secret"),
        ("OPENPANEL-CLIENT-ID", "OPENPANEL-CLIENT-SECRET"),
        ("openpanel-client-id", "Openpanel-Client-SECRET"),
    ] {
        let r = app
            .raw_get(target, &[(id_name, READ_ID), (secret_name, READ_SECRET)])
            .await;
        assert_eq!(r.status, 200, "{id_name}/{secret_name}: {}", r.body);
        assert_eq!(ids(&r.json()), eids(&[10]));
        // And a wrong secret under a mixed-case name is still checked.
        let r = app
            .raw_get(
                target,
                &[
                    (id_name, READ_ID),
                    (secret_name, "sec_00000000000000000000"),
                ],
            )
            .await;
        r.assert(401, &unauthorized(BAD_SECRET));
    }
    let r = app
        .raw_get(target, &[("OPENPANEL-CLIENT-SECRET", READ_SECRET)])
        .await;
    r.assert(401, &unauthorized(BAD_CLIENT_ID));
}

#[tokio::test]
async fn client_ids_are_uuids_in_any_case() {
    let app = spawn().await;
    let upper = READ_ID.to_ascii_uppercase();
    let r = app
        .get(
            "/export/events?event=sign_up&start=2024-04-19",
            Creds::new(&upper, READ_SECRET),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), eids(&[10]));
}

// ---- Project resolution (§3.4) -----------------------------------------------------------

#[tokio::test]
async fn read_clients_are_confined_to_their_project() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        // No project given: the client's own.
        ep.assert_project(&app.get(&ep.url(""), READ).await, "abc");
        ep.assert_project(&app.get(&ep.url(""), READ_123).await, "abc123");
        // Its own project, under either spelling.
        ep.assert_project(&app.get(&ep.url("projectId=abc"), READ).await, "abc");
        ep.assert_project(&app.get(&ep.url("project_id=abc"), READ).await, "abc");
        ep.assert_project(
            &app.get(&ep.url("project_id=abc123"), READ_123).await,
            "abc123",
        );
        // Any other project, existing or not, in its organization or not: 403.
        for other in ["abc123", "xyz", "nope", "ABC", "abc%20"] {
            for key in ["projectId", "project_id"] {
                app.get(&ep.url(&format!("{key}={other}")), READ)
                    .await
                    .assert(403, &forbidden());
            }
        }
        app.get(&ep.url("projectId=abc"), READ_123)
            .await
            .assert(403, &forbidden());
    }
}

#[tokio::test]
async fn project_id_wins_over_project_underscore_id() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        ep.assert_project(
            &app.get(&ep.url("projectId=abc&project_id=abc123"), READ)
                .await,
            "abc",
        );
        ep.assert_project(
            &app.get(&ep.url("project_id=abc123&projectId=abc"), READ)
                .await,
            "abc",
        );
        app.get(&ep.url("projectId=abc123&project_id=abc"), READ)
            .await
            .assert(403, &forbidden());
        ep.assert_project(
            &app.get(&ep.url("projectId=abc123&project_id=xyz"), ROOT)
                .await,
            "abc123",
        );
        ep.assert_project(
            &app.get(&ep.url("projectId=abc&project_id=abc123"), ROOT)
                .await,
            "abc",
        );
    }
}

#[tokio::test]
async fn root_clients_read_any_project_of_their_organization() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        ep.assert_project(&app.get(&ep.url("projectId=abc"), ROOT).await, "abc");
        ep.assert_project(&app.get(&ep.url("projectId=abc123"), ROOT).await, "abc123");
        ep.assert_project(&app.get(&ep.url("project_id=abc123"), ROOT).await, "abc123");
        ep.assert_project(&app.get(&ep.url("projectId=xyz"), ROOT_B).await, "xyz");
        // Another organization's project, or none at all: 404.
        for (creds, project) in [
            (ROOT, "xyz"),
            (ROOT, "nope"),
            (ROOT_P, "xyz"),
            (ROOT_B, "abc"),
            (ROOT_B, "abc123"),
            (ROOT_B, "nope"),
        ] {
            app.get(&ep.url(&format!("projectId={project}")), creds)
                .await
                .assert(404, &project_not_found());
            app.get(&ep.url(&format!("project_id={project}")), creds)
                .await
                .assert(404, &project_not_found());
        }
        // A root client with a project of its own uses it by default, and may pick another.
        ep.assert_project(&app.get(&ep.url(""), ROOT_P).await, "abc");
        ep.assert_project(
            &app.get(&ep.url("projectId=abc123"), ROOT_P).await,
            "abc123",
        );
    }
}

#[tokio::test]
async fn root_without_project_needs_project_id_on_every_endpoint() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        for extra in ["", "projectId=", "project_id=", "projectId=&project_id="] {
            let r = app.get(&ep.url(extra), ROOT).await;
            assert_eq!(r.status, 400, "{ep:?} {extra:?}: {}", r.body);
            let body = r.json();
            assert_eq!(body["error"], json!("Bad Request"));
            assert_eq!(body["code"], json!("missing_parameter"));
            assert_eq!(
                body["details"],
                json!([{"param": "projectId", "message": "projectId is required"}])
            );
            let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["error", "code", "message", "details"]);
        }
        // An empty projectId does not hide a project_id with a value.
        ep.assert_project(
            &app.get(&ep.url("projectId=&project_id=abc123"), ROOT).await,
            "abc123",
        );
    }
}

#[tokio::test]
async fn root_without_project_gets_the_contract_message() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        app.get(&ep.url(""), ROOT).await.assert(
            400,
            &json!({
                "error": "Bad Request",
                "code": "missing_parameter",
                "message": "projectId is required",
                "details": [{"param": "projectId", "message": "projectId is required"}]
            }),
        );
    }
}

#[tokio::test]
async fn a_read_client_never_sees_another_projects_rows() {
    let app = spawn().await;
    // All events of every name, in a window holding rows of all three projects.
    let r = app
        .get(
            "/export/events?start=2024-04-15&end=2024-04-18&limit=50",
            READ,
        )
        .await;
    assert_eq!(ids(&r.json()), eids(&[7, 6, 5, 4, 3, 2, 1]));
    let all = enc(r#"[{"name":"*"}]"#);
    let r = app
        .get(
            &format!("/export/charts?events={all}&startDate=2024-04-15&endDate=2024-04-18"),
            READ,
        )
        .await;
    assert_eq!(r.json()["metrics"]["sum"], json!(7), "{}", r.body);
    // Another project's users and sessions are not found through the client's project.
    for qs in ["profileId=u9", "profileId=u7"] {
        let r = app.get(&format!("/export/events?{qs}"), READ).await;
        r.assert(
            200,
            &json!({"meta": {"count": 0, "totalCount": 0, "pages": 0, "current": 1}, "data": []}),
        );
    }
    let f = enc(r#"[{"name":"session_id","operator":"is","value":["s7","s8","s9"]}]"#);
    let r = app.get(&format!("/export/events?filters={f}"), READ).await;
    assert_eq!(r.json()["meta"]["totalCount"], json!(0), "{}", r.body);
    // project_id is not a field one can filter on.
    let f = enc(r#"[{"name":"project_id","operator":"is","value":["abc123"]}]"#);
    app.get(&format!("/export/events?filters={f}"), READ)
        .await
        .assert(
            400,
            &bad_request(
                "invalid_parameter",
                "filters[0].name",
                "unknown field \"project_id\"; expected a column (name, path, country, …), \
             properties.<key>, or utm_*",
            ),
        );
    // A repeated or bracketed projectId is not a way around the check.
    for qs in [
        "projectId=abc&projectId=abc123",
        "projectId[]=abc123",
        "projectId[0]=abc123",
    ] {
        let r = app.get(&format!("/export/events?{qs}"), READ).await;
        assert_ne!(r.status, 200, "{qs}: {}", r.body);
        assert!(!r.body.contains("abc123\","), "{qs}: {}", r.body);
    }
    app.get("/export/events?projectId=abc&projectId=abc123", READ)
        .await
        .assert(
            400,
            &bad_request(
                "invalid_parameter",
                "projectId",
                "expected a single value, got a list",
            ),
        );
}

// ---- Order of checks (§4.2) --------------------------------------------------------------

#[tokio::test]
async fn authentication_is_checked_before_parameters() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        let url = ep.bad_url("");
        app.get(&url, Creds::NONE)
            .await
            .assert(401, &unauthorized(BAD_CLIENT_ID));
        app.get(&url, Creds::new(UNKNOWN_ID, READ_SECRET))
            .await
            .assert(401, &unauthorized(UNKNOWN_CLIENT));
        app.get(&url, Creds::new(WRITE_ID, WRITE_SECRET))
            .await
            .assert(401, &unauthorized(WRITE_CLIENT));
        app.get(&url, Creds::new(READ_ID, "sec_00000000000000000000"))
            .await
            .assert(401, &unauthorized(BAD_SECRET));
        // Bad auth + a forbidden project, bad auth + a root client without project.
        app.get(&ep.url("projectId=abc123"), Creds::new(READ_ID, "wrong"))
            .await
            .assert(401, &unauthorized(BAD_SECRET));
        app.get(
            &ep.url(""),
            Creds {
                id: Some(ROOT_ID),
                secret: None,
            },
        )
        .await
        .assert(401, &unauthorized(BAD_SECRET));
    }
}

#[tokio::test]
async fn parameters_are_checked_before_project_access() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        // Forbidden project (403) and unknown project (404) lose to a bad parameter.
        app.get(&ep.bad_url("projectId=abc123"), READ)
            .await
            .assert(400, &ep.bad_body());
        app.get(&ep.bad_url("projectId=nope"), READ)
            .await
            .assert(400, &ep.bad_body());
        app.get(&ep.bad_url("projectId=xyz"), ROOT)
            .await
            .assert(400, &ep.bad_body());
        app.get(&ep.bad_url("project_id=nope"), ROOT)
            .await
            .assert(400, &ep.bad_body());
        // A root client without project: every problem is named, `projectId is
        // required` first (§4.2).
        let mut both = ep.bad_body();
        let details = both["details"].as_array_mut().unwrap();
        details.insert(
            0,
            json!({"param": "projectId", "message": "projectId is required"}),
        );
        let params: Vec<&str> = details
            .iter()
            .map(|d| d["param"].as_str().unwrap())
            .collect();
        both["message"] = json!(format!("Invalid parameters: {}", params.join(", ")));
        if ep != Ep::Funnel {
            both["code"] = json!("invalid_parameter");
        }
        app.get(&ep.bad_url(""), ROOT).await.assert(400, &both);
    }
}

// ---- GET /export/events (§5) -------------------------------------------------------------

#[tokio::test]
async fn events_documented_example() {
    // curl '…/export/events?project_id=abc&event=screen_view&start=2024-04-15&end=2024-04-18'
    let app = spawn().await;
    let r = app
        .get(
            "/export/events?project_id=abc&event=screen_view&start=2024-04-15&end=2024-04-18",
            READ,
        )
        .await;
    // e07 at 23:59:59.999 on the end date is in; e08 (next midnight) and e09 (a ms before
    // the start date) are out. createdAt descending.
    r.assert(
        200,
        &json!({
            "meta": {"count": 4, "totalCount": 4, "pages": 1, "current": 1},
            "data": [e07(), e05(), e02(), e01()]
        }),
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The same through a root client of the organization.
    let r2 = app
        .get(
            "/export/events?project_id=abc&event=screen_view&start=2024-04-15&end=2024-04-18",
            ROOT,
        )
        .await;
    assert_eq!(r2.body, r.body);
}

#[tokio::test]
async fn events_documented_example_with_profile_and_meta() {
    // curl '…/export/events?project_id=abc123&event=screen_view&start=2024-04-15&end=2024-04-18
    //        &page=1&limit=50&includes=profile,meta'  (adapted: project abc)
    let app = spawn().await;
    let expected = json!({
        "meta": {"count": 4, "totalCount": 4, "pages": 1, "current": 1},
        "data": [
            // No profile id: no profile; screen_view has metadata in abc.
            with(e07(), &[("meta", screen_view_meta())]),
            // u2 has no profile row: no profile key.
            with(e05(), &[("meta", screen_view_meta())]),
            with(e02(), &[("profile", ada()), ("meta", screen_view_meta())]),
            with(e01(), &[("profile", ada()), ("meta", screen_view_meta())]),
        ]
    });
    let base = "/export/events?project_id=abc&event=screen_view&start=2024-04-15&end=2024-04-18\
                &page=1&limit=50";
    app.get(&format!("{base}&includes=profile,meta"), READ)
        .await
        .assert(200, &expected);
    // The documented array form and repeated keys say the same.
    let arr = enc(r#"["profile","meta"]"#);
    app.get(&format!("{base}&includes={arr}"), READ)
        .await
        .assert(200, &expected);
    app.get(&format!("{base}&includes=profile&includes=meta"), READ)
        .await
        .assert(200, &expected);
    app.get(&format!("{base}&includes=profile%2Cmeta"), READ)
        .await
        .assert(200, &expected);
}

#[tokio::test]
async fn profiles_and_metadata_come_from_the_resolved_project() {
    // xyz has a screen_view metadata row of its own and none for sign_up (abc has one);
    // u7's profile lives in xyz.
    let app = spawn().await;
    let kenji = json!({
        "id": "u7", "firstName": "Kenji", "lastName": "Sato", "email": "kenji@example.jp",
        "avatar": "https://example.com/u7.png", "isExternal": true,
        "properties": {"plan": "pro"}, "createdAt": "2024-01-02T03:04:05.006Z"
    });
    let meta = json!({
        "id": "9a7b1c2d-0000-4000-8000-000000000003", "name": "screen_view",
        "conversion": true, "color": "#000000", "icon": null, "projectId": "xyz",
        "createdAt": "2024-02-03T08:00:00.000Z", "updatedAt": "2024-02-03T08:00:00.000Z"
    });
    let x = |id: &str, name: &str, at: &str| {
        json!({
            "id": id, "name": name, "deviceId": "d7", "profileId": "u7", "projectId": "xyz",
            "createdAt": at, "country": "JP", "city": "Tokyo", "os": "", "browser": "",
            "duration": 0, "path": ""
        })
    };
    app.get("/export/events?projectId=xyz&includes=profile,meta", ROOT_B).await.assert(
        200,
        &json!({
            "meta": {"count": 3, "totalCount": 3, "pages": 1, "current": 1},
            "data": [
                with(x(&eid(203), "purchase", "2024-04-16T00:06:00.000Z"), &[("profile", kenji.clone())]),
                with(x(&eid(202), "sign_up", "2024-04-16T00:05:00.000Z"), &[("profile", kenji.clone())]),
                with(
                    x(&eid(201), "screen_view", "2024-04-16T00:00:00.000Z"),
                    &[("profile", kenji), ("meta", meta)]
                ),
            ]
        }),
    );
}

#[tokio::test]
async fn events_includes_extra_fields() {
    let app = spawn().await;
    let r = app
        .get("/export/events?event=screen_view&end=2024-04-15T09:00:00Z&includes=properties,region,sessionId", READ)
        .await;
    let body = r.json();
    assert_eq!(ids(&body), eids(&[1, 9]), "{}", r.body);
    let first = &body["data"][0];
    assert_eq!(first["properties"], json!({"__query.utm_source": "google"}));
    assert_eq!(first["region"], json!("Stockholm County"));
    assert_eq!(first["sessionId"], json!("s1"));
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 15);
    assert_eq!(
        keys[..12],
        [
            "id",
            "name",
            "deviceId",
            "profileId",
            "projectId",
            "createdAt",
            "country",
            "city",
            "os",
            "browser",
            "duration",
            "path"
        ]
    );
}

#[tokio::test]
async fn events_paging() {
    let app = spawn().await;
    let base = "/export/events?project_id=abc&event=screen_view&start=2024-04-15&end=2024-04-18";
    app.get(&format!("{base}&page=1&limit=3"), READ).await.assert(
        200,
        &json!({"meta": {"count": 3, "totalCount": 4, "pages": 2, "current": 1}, "data": [e07(), e05(), e02()]}),
    );
    app.get(&format!("{base}&page=2&limit=3"), READ).await.assert(
        200,
        &json!({"meta": {"count": 1, "totalCount": 4, "pages": 2, "current": 2}, "data": [e01()]}),
    );
    app.get(&format!("{base}&page=3&limit=3"), READ)
        .await
        .assert(
            200,
            &json!({"meta": {"count": 0, "totalCount": 4, "pages": 2, "current": 3}, "data": []}),
        );
    // page below 1 reads as 1; limit is clamped to 1..max_page_size (50 by default).
    let r = app.get(&format!("{base}&page=0&limit=0"), READ).await;
    r.assert(
        200,
        &json!({"meta": {"count": 1, "totalCount": 4, "pages": 4, "current": 1}, "data": [e07()]}),
    );
    let r = app.get("/export/events?limit=100000", READ).await;
    assert_eq!(
        r.json()["meta"],
        json!({"count": 11, "totalCount": 11, "pages": 1, "current": 1})
    );
}

#[tokio::test]
async fn events_page_size_follows_settings() {
    let app = spawn_with(quarry_server::Settings {
        max_page_size: 3,
        ..settings()
    })
    .await;
    // Without limit the page is min(50, max) = 3; a larger limit is clamped.
    for qs in ["", "?limit=1000"] {
        let r = app.get(&format!("/export/events{qs}"), READ).await;
        let body = r.json();
        assert_eq!(
            body["meta"],
            json!({"count": 3, "totalCount": 11, "pages": 4, "current": 1})
        );
        assert_eq!(ids(&body), eids(&[10, 8, 7]));
    }
    let r = app.get("/export/events?page=4", READ).await;
    let body = r.json();
    assert_eq!(
        body["meta"],
        json!({"count": 2, "totalCount": 11, "pages": 4, "current": 4})
    );
    assert_eq!(ids(&body), eids(&[9, 11]));
}

#[tokio::test]
async fn events_every_row_of_the_project_in_total_order() {
    let app = spawn().await;
    let r = app.get("/export/events", READ).await;
    let body = r.json();
    assert_eq!(
        body["meta"],
        json!({"count": 11, "totalCount": 11, "pages": 1, "current": 1})
    );
    assert_eq!(ids(&body), eids(&[10, 8, 7, 6, 5, 4, 3, 2, 1, 9, 11]));
}

#[tokio::test]
async fn events_event_names_filters_and_profile() {
    let app = spawn().await;
    let day = "start=2024-04-15&end=2024-04-15";
    let arr = enc(r#"["sign_up","purchase"]"#);
    for qs in [
        format!("event=sign_up&event=purchase&{day}"),
        format!("event={arr}&{day}"),
    ] {
        let r = app.get(&format!("/export/events?{qs}"), READ).await;
        assert_eq!(ids(&r.json()), eids(&[4, 3]), "{qs}");
    }
    let f = enc(r#"[{"name":"country","operator":"is","value":["US"]}]"#);
    let r = app.get(&format!("/export/events?filters={f}"), READ).await;
    assert_eq!(ids(&r.json()), eids(&[6, 5, 9]));
    let r = app
        .get("/export/events?profileId=u2&event=screen_view", READ)
        .await;
    assert_eq!(ids(&r.json()), eids(&[5, 9]));
    let f = enc(r#"[{"name":"utm_source","operator":"is","value":["google"]}]"#);
    let r = app.get(&format!("/export/events?filters={f}"), READ).await;
    assert_eq!(ids(&r.json()), eids(&[1]));
}

#[tokio::test]
async fn events_dates_are_days_in_the_project_timezone() {
    // abc123 is in Europe/Stockholm (UTC+2): 2024-04-17 runs from 04-16T22:00Z.
    let app = spawn().await;
    let f01 = json!({
        "id": eid(101), "name": "screen_view", "deviceId": "d-s8", "profileId": "",
        "projectId": "abc123", "createdAt": "2024-04-16T22:30:00.000Z", "country": "FR",
        "city": "Lyon", "os": "macOS", "browser": "Safari", "duration": 0, "path": "/"
    });
    let f02 = json!({
        "id": eid(102), "name": "screen_view", "deviceId": "d-s9", "profileId": "u9",
        "projectId": "abc123", "createdAt": "2024-04-17T12:00:00.000Z", "country": "FR",
        "city": "Paris", "os": "macOS", "browser": "Safari", "duration": 0, "path": "/"
    });
    let q = "/export/events?projectId=abc123&event=screen_view&start=2024-04-17&end=2024-04-17";
    app.get(q, ROOT).await.assert(
        200,
        &json!({"meta": {"count": 2, "totalCount": 2, "pages": 1, "current": 1}, "data": [f02, f01]}),
    );
    app.get(&format!("{q}&timezone=UTC"), ROOT).await.assert(
        200,
        &json!({"meta": {"count": 1, "totalCount": 1, "pages": 1, "current": 1}, "data": [f02]}),
    );
    // The read client of abc123, without naming the project, gets the same.
    let r = app
        .get(
            "/export/events?event=screen_view&start=2024-04-17&end=2024-04-17",
            READ_123,
        )
        .await;
    assert_eq!(r.json()["meta"]["totalCount"], json!(2));
}

// ---- GET /export/charts (§6) -------------------------------------------------------------

/// The 31 daily buckets of `last_30_days` at NOW (2024-03-21 … 2024-04-20, UTC) with the
/// `screen_view` counts of `abc`: e09 on 04-14, e01+e02 on 04-15, e05 on 04-16, e07 on
/// 04-18 (at 23:59:59.999), e08 on 04-19.
fn screen_views_last_30_days() -> Value {
    let mut data = Vec::new();
    for day in 21..=31 {
        data.push(json!({"date": format!("2024-03-{day:02}T00:00:00Z"), "count": 0}));
    }
    for day in 1..=20 {
        let count = match day {
            14 | 16 | 18 | 19 => 1,
            15 => 2,
            _ => 0,
        };
        data.push(json!({"date": format!("2024-04-{day:02}T00:00:00Z"), "count": count}));
    }
    let metrics = json!({"sum": 6, "average": 1.2, "min": 0, "max": 2});
    json!({
        "series": [{
            "id": "screen-view",
            "names": ["screen_view"],
            "event": {"name": "screen_view", "displayName": "screen_view"},
            "breakdowns": {},
            "metrics": metrics,
            "data": data
        }],
        "metrics": metrics,
        "meta": {
            "startDate": "2024-03-21T00:00:00.000Z",
            "endDate": "2024-04-20T12:00:00.000Z",
            "interval": "day",
            "timezone": "UTC",
            "totalSeries": 1
        }
    })
}

#[tokio::test]
async fn charts_documented_example() {
    // curl '…/export/charts?projectId=abc123&events=[{"name":"screen_view"}]&interval=day
    //        &range=last_30_days&chartType=linear&metric=sum'  (adapted: project abc)
    let app = spawn().await;
    let expected = screen_views_last_30_days();
    // As a browser or reqwest sends it: `"` percent-encoded, `[{:,}]` raw.
    let url = r#"/export/charts?projectId=abc&events=[{"name":"screen_view"}]&interval=day&range=last_30_days&chartType=linear&metric=sum"#;
    app.get(url, READ).await.assert(200, &expected);
    // Fully percent-encoded.
    let encoded = format!(
        "/export/charts?projectId=abc&events={}&interval=day&range=last_30_days&chartType=linear&metric=sum",
        enc(r#"[{"name":"screen_view"}]"#)
    );
    app.get(&encoded, READ).await.assert(200, &expected);
    // The same chart from a root client; the defaults (interval=day, range=30d, linear, sum).
    app.get(url, ROOT).await.assert(200, &expected);
    let defaults = format!(
        "/export/charts?events={}",
        enc(r#"[{"name":"screen_view"}]"#)
    );
    app.get(&defaults, READ).await.assert(200, &expected);
}

#[tokio::test]
async fn charts_documented_example_sent_raw_like_curl() {
    let app = spawn().await;
    let target = r#"/export/charts?projectId=abc&events=[{"name":"screen_view"}]&interval=day&range=last_30_days&chartType=linear&metric=sum"#;
    let r = app
        .raw_get(
            target,
            &[
                ("openpanel-client-id", READ_ID),
                ("openpanel-client-secret", READ_SECRET),
            ],
        )
        .await;
    r.assert(200, &screen_views_last_30_days());
}

#[tokio::test]
async fn charts_breakdowns_limit_and_offset() {
    let app = spawn().await;
    let ev = enc(r#"[{"name":"screen_view"}]"#);
    let bd = enc(r#"[{"name":"country"}]"#);
    let base = format!(
        "/export/charts?events={ev}&breakdowns={bd}&startDate=2024-04-15&endDate=2024-04-18"
    );
    let se = series(
        "screen-view-se",
        &["screen_view", "SE"],
        json!({"country": "SE"}),
        json!({"sum": 2, "average": 2, "min": 0, "max": 2}),
        &[
            ("2024-04-15T00:00:00Z", 2),
            ("2024-04-16T00:00:00Z", 0),
            ("2024-04-17T00:00:00Z", 0),
            ("2024-04-18T00:00:00Z", 0),
        ],
    );
    let de = series(
        "screen-view-de",
        &["screen_view", "DE"],
        json!({"country": "DE"}),
        json!({"sum": 1, "average": 1, "min": 0, "max": 1}),
        &[
            ("2024-04-15T00:00:00Z", 0),
            ("2024-04-16T00:00:00Z", 0),
            ("2024-04-17T00:00:00Z", 0),
            ("2024-04-18T00:00:00Z", 1),
        ],
    );
    let us = series(
        "screen-view-us",
        &["screen_view", "US"],
        json!({"country": "US"}),
        json!({"sum": 1, "average": 1, "min": 0, "max": 1}),
        &[
            ("2024-04-15T00:00:00Z", 0),
            ("2024-04-16T00:00:00Z", 1),
            ("2024-04-17T00:00:00Z", 0),
            ("2024-04-18T00:00:00Z", 0),
        ],
    );
    let meta = json!({
        "startDate": "2024-04-15T00:00:00.000Z",
        "endDate": "2024-04-18T23:59:59.999Z",
        "interval": "day",
        "timezone": "UTC",
        "totalSeries": 3
    });
    // Sum descending, ties (DE, US) by names; top-level average = mean(2, 1, 1) = 1.33.
    app.get(&base, READ).await.assert(
        200,
        &json!({
            "series": [se, de.clone(), us.clone()],
            "metrics": {"sum": 4, "average": 1.33, "min": 0, "max": 2},
            "meta": meta
        }),
    );
    app.get(&format!("{base}&limit=2&offset=1"), READ)
        .await
        .assert(
            200,
            &json!({
                "series": [de, us],
                "metrics": {"sum": 2, "average": 1, "min": 0, "max": 1},
                "meta": meta
            }),
        );
}

#[tokio::test]
async fn charts_previous_period() {
    let app = spawn().await;
    // 2024-04-16 (e05) against the day before (e01, e02).
    let url = format!(
        "/export/charts?events={}&startDate=2024-04-16&endDate=2024-04-16&previous=true",
        enc(r#"[{"name":"screen_view"}]"#)
    );
    let down = json!({"value": 2, "diff": -50, "state": "negative"});
    let metrics = json!({
        "sum": 1, "average": 1, "min": 1, "max": 1,
        "previous": {"sum": down, "average": down, "min": down, "max": down}
    });
    app.get(&url, READ).await.assert(
        200,
        &json!({
            "series": [{
                "id": "screen-view",
                "names": ["screen_view"],
                "event": {"name": "screen_view", "displayName": "screen_view"},
                "breakdowns": {},
                "metrics": metrics,
                "data": [{"date": "2024-04-16T00:00:00Z", "count": 1, "previous": down}]
            }],
            "metrics": metrics,
            "meta": {
                "startDate": "2024-04-16T00:00:00.000Z",
                "endDate": "2024-04-16T23:59:59.999Z",
                "interval": "day",
                "timezone": "UTC",
                "totalSeries": 1
            }
        }),
    );
}

#[tokio::test]
async fn charts_use_the_project_timezone_unless_overridden() {
    let app = spawn().await;
    let ev = enc(r#"[{"name":"screen_view"}]"#);
    let one = |date: &str, count: u64, start: &str, end: &str, tz: &str| {
        let m = json!({"sum": count, "average": count, "min": count, "max": count});
        json!({
            "series": [series("screen-view", &["screen_view"], json!({}), m.clone(), &[(date, count)])],
            "metrics": m,
            "meta": {"startDate": start, "endDate": end, "interval": "day", "timezone": tz, "totalSeries": 1}
        })
    };
    // Stockholm: f01 (00:30 local) and f02.
    let url = format!(
        "/export/charts?projectId=abc123&events={ev}&startDate=2024-04-17&endDate=2024-04-17"
    );
    app.get(&url, ROOT).await.assert(
        200,
        &one(
            "2024-04-17T00:00:00+02:00",
            2,
            "2024-04-17T00:00:00.000+02:00",
            "2024-04-17T23:59:59.999+02:00",
            "Europe/Stockholm",
        ),
    );
    app.get(&format!("{url}&timezone=UTC"), ROOT).await.assert(
        200,
        &one(
            "2024-04-17T00:00:00Z",
            1,
            "2024-04-17T00:00:00.000Z",
            "2024-04-17T23:59:59.999Z",
            "UTC",
        ),
    );
}

#[tokio::test]
async fn charts_accept_bracket_notation_and_the_series_alias() {
    let app = spawn().await;
    let m = json!({"sum": 1, "average": 1, "min": 1, "max": 1});
    let expected = json!({
        "series": [series("screen-view", &["screen_view"], json!({}), m.clone(), &[("2024-04-16T00:00:00Z", 1)])],
        "metrics": m,
        "meta": {
            "startDate": "2024-04-16T00:00:00.000Z",
            "endDate": "2024-04-16T23:59:59.999Z",
            "interval": "day",
            "timezone": "UTC",
            "totalSeries": 1
        }
    });
    let dates = "startDate=2024-04-16&endDate=2024-04-16";
    for q in [
        format!("events[0][name]=screen_view&{dates}"),
        format!("events%5B0%5D%5Bname%5D=screen_view&{dates}"),
        format!("series={}&{dates}", enc(r#"[{"name":"screen_view"}]"#)),
    ] {
        app.get(&format!("/export/charts?{q}"), READ)
            .await
            .assert(200, &expected);
    }
}

// ---- GET /export/funnel (§7) -------------------------------------------------------------

#[tokio::test]
async fn funnel_documented_example() {
    // curl '…/export/funnel?projectId=abc123&events=[{"name":"sign_up"},{"name":"purchase"}]
    //        &range=last_30_days'  (adapted: project abc)
    // Sessions with a sign_up: s1 (then purchase 20 min later), s2, s5.
    let app = spawn().await;
    let expected = json!({
        "totalSessions": 3,
        "steps": [
            {"event": {"name": "sign_up", "displayName": "sign_up"}, "count": 3, "percent": 100,
             "dropoffCount": 0, "dropoffPercent": 0, "previousCount": 3},
            {"event": {"name": "purchase", "displayName": "purchase"}, "count": 1, "percent": 33.33,
             "dropoffCount": 2, "dropoffPercent": 66.67, "previousCount": 3}
        ]
    });
    let url = r#"/export/funnel?projectId=abc&events=[{"name":"sign_up"},{"name":"purchase"}]&range=last_30_days"#;
    app.get(url, READ).await.assert(200, &expected);
    let encoded = format!(
        "/export/funnel?projectId=abc&events={}&range=last_30_days",
        enc(r#"[{"name":"sign_up"},{"name":"purchase"}]"#)
    );
    app.get(&encoded, ROOT).await.assert(200, &expected);
}

#[tokio::test]
async fn funnel_groups_by_session_or_profile() {
    let app = spawn().await;
    let steps = enc(
        r#"[{"name":"screen_view","displayName":"Viewed"},{"name":"sign_up"},{"name":"purchase"}]"#,
    );
    let step = |name: &str, display: &str, counts: [u64; 3], percents: [Value; 2]| {
        let [count, drop, prev] = counts;
        let [percent, drop_pct] = percents;
        json!({"event": {"name": name, "displayName": display}, "count": count, "percent": percent,
               "dropoffCount": drop, "dropoffPercent": drop_pct, "previousCount": prev})
    };
    // By session: s1 reaches 3, s2 reaches 2, s3 (anonymous) and s4 reach 1.
    let by_session = format!("/export/funnel?events={steps}&range=last_30_days");
    app.get(&by_session, READ).await.assert(
        200,
        &json!({
            "totalSessions": 4,
            "steps": [
                step("screen_view", "Viewed", [4, 0, 4], [json!(100), json!(0)]),
                step("sign_up", "sign_up", [2, 2, 4], [json!(50), json!(50)]),
                step("purchase", "purchase", [1, 1, 2], [json!(25), json!(50)]),
            ]
        }),
    );
    // By profile: u1 reaches 3; u2 reaches 2 (chain from e05; e09 is more than 24 h before
    // e06); anonymous d3 has no profile and u3 never viewed.
    app.get(&format!("{by_session}&funnelGroup=profile_id"), READ)
        .await
        .assert(
            200,
            &json!({
                "totalSessions": 2,
                "steps": [
                    step("screen_view", "Viewed", [2, 0, 2], [json!(100), json!(0)]),
                    step("sign_up", "sign_up", [2, 0, 2], [json!(100), json!(0)]),
                    step("purchase", "purchase", [1, 1, 2], [json!(50), json!(50)]),
                ]
            }),
        );
}

// ---- 400s (§4.2) -------------------------------------------------------------------------

/// Malformed parameters and the errors naming them (§4.2), first part: filters, paging,
/// ranges and dates.
fn malformed_parameters_first() -> Vec<(String, Value)> {
    let sv = enc(r#"[{"name":"screen_view"}]"#);
    vec![
        (
            format!(
                "/export/events?filters={}",
                enc(r#"[{"name":"country","operator":"like","value":["SE"]}]"#)
            ),
            bad_request(
                "invalid_parameter",
                "filters[0].operator",
                "unknown operator \"like\"; expected one of: is, isNot, contains, \
                 doesNotContain, startsWith, endsWith, regex, isNull, isNotNull, gt, gte, lt, lte",
            ),
        ),
        (
            format!(
                "/export/charts?events={}",
                enc(
                    r#"[{"name":"a"},{"name":"b","filters":[{"name":"country","operator":"bogus","value":["SE"]}]}]"#
                )
            ),
            bad_request(
                "invalid_parameter",
                "events[1].filters[0].operator",
                "unknown operator \"bogus\"; expected one of: is, isNot, contains, \
                 doesNotContain, startsWith, endsWith, regex, isNull, isNotNull, gt, gte, lt, lte",
            ),
        ),
        (
            format!("/export/charts?events={sv}&range=last_2_weeks"),
            bad_request(
                "invalid_parameter",
                "range",
                "unknown range \"last_2_weeks\"; expected one of: 30min, lastHour, today, \
                 yesterday, 7d, last_7_days, 30d, last_30_days, 6m, 12m, monthToDate, \
                 this_month, lastMonth, last_month, yearToDate, this_year, lastYear, \
                 last_year, all_time, custom",
            ),
        ),
        (
            "/export/charts?range=last_7_days".to_string(),
            bad_request(
                "missing_parameter",
                "events",
                "expected a JSON array of event configs, e.g. [{\"name\":\"screen_view\"}]",
            ),
        ),
        (
            "/export/funnel".to_string(),
            bad_request(
                "missing_parameter",
                "events",
                "expected a JSON array of event configs, e.g. [{\"name\":\"screen_view\"}]",
            ),
        ),
        (
            "/export/events?includes=profile,bogus".to_string(),
            bad_request(
                "invalid_parameter",
                "includes",
                "unknown include \"bogus\"; expected any of: id, name, deviceId, profileId, \
                 projectId, sessionId, properties, createdAt, country, city, region, longitude, \
                 latitude, os, osVersion, browser, browserVersion, device, brand, model, \
                 duration, path, origin, referrer, referrerName, referrerType, sdkName, \
                 sdkVersion, importedAt, profile, meta",
            ),
        ),
        (
            "/export/events?start=2024-04-18&end=2024-04-15".to_string(),
            bad_request("invalid_parameter", "start", "start must not be after end"),
        ),
        (
            "/export/events?start=yesterday".to_string(),
            bad_request(
                "invalid_parameter",
                "start",
                "expected a date (YYYY-MM-DD) or a date-time \
                 (YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM])",
            ),
        ),
        (
            "/export/events?timezone=Mars/Base".to_string(),
            bad_request(
                "invalid_parameter",
                "timezone",
                "unknown IANA timezone \"Mars/Base\"",
            ),
        ),
    ]
}

/// Malformed parameters and the errors naming them (§4.2), second part: chart dates,
/// limits, configs and funnels.
fn malformed_parameters_second() -> Vec<(String, Value)> {
    let sv = enc(r#"[{"name":"screen_view"}]"#);
    vec![
        (
            format!("/export/charts?events={sv}&endDate=2024-04-18"),
            bad_request(
                "missing_parameter",
                "startDate",
                "endDate requires startDate",
            ),
        ),
        (
            format!("/export/charts?events={sv}&startDate=2024-04-18&endDate=2024-04-15"),
            bad_request(
                "invalid_parameter",
                "endDate",
                "startDate must not be after endDate (or now, when endDate is absent)",
            ),
        ),
        (
            format!("/export/charts?events={sv}&limit=0"),
            bad_request("invalid_parameter", "limit", "expected 1 to 1000, got 0"),
        ),
        (
            format!("/export/charts?events={sv}&interval=minute&range=12m"),
            bad_request(
                "invalid_parameter",
                "interval",
                "the window needs 527761 minute buckets; at most 10000 are allowed per series",
            ),
        ),
        (
            format!(
                "/export/charts?events={}",
                enc(
                    r#"[{"name":"a","filters":[{"name":"path","operator":"regex","value":["(unclosed"]}]}]"#
                )
            ),
            bad_request(
                "invalid_parameter",
                "events[0].filters[0].value[0]",
                "invalid regular expression: unclosed group",
            ),
        ),
        (
            format!("/export/charts?events={}", enc(r#"[{"name":"a""#)),
            bad_request(
                "invalid_parameter",
                "events",
                "expected valid JSON (EOF while parsing an object at line 1 column 12)",
            ),
        ),
        (
            format!(
                "/export/charts?events={sv}&breakdowns={}",
                enc(r#"[{"name":"planet"}]"#)
            ),
            bad_request(
                "invalid_parameter",
                "breakdowns[0].name",
                "unknown field \"planet\"; expected a column (name, path, country, …), \
                 properties.<key>, or utm_*",
            ),
        ),
        (
            format!("/export/funnel?events={sv}"),
            bad_request(
                "invalid_parameter",
                "events",
                "expected 2 to 20 event configs, got 1",
            ),
        ),
        (
            format!(
                "/export/funnel?events={}&funnelWindow=0",
                enc(r#"[{"name":"a"},{"name":"b"}]"#)
            ),
            bad_request(
                "invalid_parameter",
                "funnelWindow",
                "expected hours as a decimal > 0 and <= 8760, got \"0\"",
            ),
        ),
    ]
}

/// Malformed funnel options (docs/funnels.md), each named.
fn malformed_funnel_options() -> Vec<(String, Value)> {
    let ab = enc(r#"[{"name":"a"},{"name":"b"}]"#);
    let invalid = |param: &str, detail: &str| bad_request("invalid_parameter", param, detail);
    let many: Vec<String> = (0..10).map(|i| format!(r#"{{"name":"e{i}"}}"#)).collect();
    let wide = format!(r#"{{"anyOf":[{}]}}"#, many.join(","));
    let budget = enc(&format!("[{wide},{wide},{wide},{wide},{wide}]"));
    vec![
        (
            format!("/export/funnel?events={ab}&funnelOrder=unordered"),
            invalid(
                "funnelOrder",
                "unknown funnel order \"unordered\"; expected one of: ordered, strict, any",
            ),
        ),
        (
            format!(
                "/export/funnel?funnelOrder=any&events={}",
                enc(r#"[{"name":"a"},{"anyOf":[{"name":"b"},{"name":"a"}]}]"#)
            ),
            invalid(
                "events[1]",
                "funnelOrder=any needs each event name in one step only; \"a\" is also in step 1",
            ),
        ),
        (
            format!(
                "/export/funnel?funnelOrder=any&events={}",
                enc(r#"[{"name":"a"},{"name":"*"}]"#)
            ),
            invalid(
                "events[1]",
                "funnelOrder=any needs named events (\"*\" would match every step)",
            ),
        ),
        (
            format!(
                "/export/funnel?funnelOrder=any&events={}",
                enc(r#"[{"name":"a"},{"name":"b","window":2}]"#)
            ),
            invalid(
                "events[1].window",
                "a step window needs an order; not allowed with funnelOrder=any",
            ),
        ),
        (
            format!(
                "/export/funnel?funnelOrder=any&events={ab}&exclusions={}",
                enc(r#"[{"name":"x"}]"#)
            ),
            invalid(
                "exclusions",
                "exclusions lie between ordered steps; not allowed with funnelOrder=any",
            ),
        ),
        (
            format!("/export/funnel?funnelOrder=any&events={ab}&timeToConvertBins=[60]"),
            invalid(
                "timeToConvertBins",
                "time to convert follows the steps' order; not allowed with funnelOrder=any",
            ),
        ),
        (
            format!("/export/funnel?events={ab}&funnelRange=exit"),
            invalid(
                "funnelRange",
                "unknown funnel range \"exit\"; expected one of: all, entry",
            ),
        ),
        (
            format!(
                "/export/funnel?events={ab}&exclusions={}",
                enc(r#"[{"name":"x","from":2,"to":1}]"#)
            ),
            invalid("exclusions[0].to", "expected a step after from (2), got 1"),
        ),
        (
            format!(
                "/export/funnel?events={ab}&exclusions={}",
                enc(r#"[{"name":"x","to":3}]"#)
            ),
            invalid(
                "exclusions[0].to",
                "expected a step number from 1 to 2, got 3",
            ),
        ),
        (
            format!(
                "/export/funnel?events={}",
                enc(r#"[{"name":"a"},{"anyOf":[]}]"#)
            ),
            invalid(
                "events[1].anyOf",
                "expected a JSON array of 1 to 10 event configs, got an empty list",
            ),
        ),
        (
            format!(
                "/export/funnel?events={}",
                enc(r#"[{"name":"a"},{"anyOf":[{"name":""}]}]"#)
            ),
            invalid(
                "events[1].anyOf[0].name",
                "expected a non-empty event name, got a string",
            ),
        ),
        (
            format!(
                "/export/funnel?events={}",
                enc(r#"[{"name":"a"},{"name":"b","window":-1}]"#)
            ),
            invalid(
                "events[1].window",
                "expected hours as a decimal > 0 and <= 8760, got \"-1\"",
            ),
        ),
        (
            format!("/export/funnel?events={ab}&timeToConvertBins=[60,30]"),
            invalid(
                "timeToConvertBins",
                "item 1: edges must increase, got 30 after 60",
            ),
        ),
        (
            format!("/export/funnel?events={ab}&interval=year"),
            invalid(
                "interval",
                "unknown interval \"year\"; expected one of: minute, hour, day, week, month",
            ),
        ),
        (
            format!("/export/funnel?events={ab}&previous=maybe"),
            invalid("previous", "expected true or false, got \"maybe\""),
        ),
        (
            format!(
                "/export/funnel?events={ab}&breakdowns={}",
                enc(r#"[{"name":"duration"}]"#)
            ),
            invalid(
                "breakdowns[0].name",
                "funnel breakdowns take text fields; \"duration\" is a number",
            ),
        ),
        (
            format!("/export/funnel?events={ab}&limit=5"),
            invalid(
                "limit",
                "applies to funnel breakdowns only; give breakdowns too",
            ),
        ),
        (
            format!(
                "/export/funnel?events={ab}&breakdowns={}&breakdownAttribution=4",
                enc(r#"[{"name":"country"}]"#)
            ),
            invalid(
                "breakdownAttribution",
                "expected first, last or a step number from 1 to 2, got \"4\"",
            ),
        ),
        (
            format!("/export/funnel?events={budget}"),
            invalid(
                "events",
                "a funnel may have at most 40 event conditions in all (every step's \
                 alternatives and the exclusions), got 50 (see docs/limits.md)",
            ),
        ),
    ]
}

#[tokio::test]
async fn malformed_parameters_are_named() {
    let app = spawn().await;
    let cases = malformed_parameters_first()
        .into_iter()
        .chain(malformed_parameters_second())
        .chain(malformed_funnel_options());
    for (url, expected) in cases {
        let r = app.get(&url, READ).await;
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        r.assert(400, &expected);
    }
}

#[tokio::test]
async fn every_offending_parameter_is_listed() {
    let app = spawn().await;
    let url = format!(
        "/export/charts?events={}&interval=year&chartType=donut&metric=median",
        enc(r#"[{"name":"screen_view"}]"#)
    );
    app.get(&url, READ).await.assert(
        400,
        &json!({
            "error": "Bad Request",
            "code": "invalid_parameter",
            "message": "Invalid parameters: interval, chartType, metric",
            "details": [
                {"param": "interval",
                 "message": "unknown interval \"year\"; expected one of: minute, hour, day, week, month"},
                {"param": "chartType",
                 "message": "unknown chart type \"donut\"; expected one of: linear, area, bar, histogram, pie, metric, map"},
                {"param": "metric",
                 "message": "unknown metric \"median\"; expected one of: sum, average, min, max"}
            ]
        }),
    );
}

// ---- Rate limiting (§4.2) ----------------------------------------------------------------

fn quota(r: &Resp) -> (u32, u32, u64) {
    let num = |name: &str| -> u64 {
        r.header(name)
            .unwrap_or_else(|| panic!("{name} missing: {:?}", r.headers))
            .parse()
            .unwrap()
    };
    (
        num("ratelimit-limit") as u32,
        num("ratelimit-remaining") as u32,
        num("ratelimit-reset"),
    )
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let app = spawn_with(rate_limited(3, 10)).await;
    // Every response of a verified client counts and carries the headers: a 200, a 400.
    let r = app.get(&Ep::Events.url(""), READ).await;
    assert_eq!(r.status, 200);
    let (limit, remaining, reset) = quota(&r);
    assert_eq!((limit, remaining), (3, 2));
    assert!((1..=10).contains(&reset), "{reset}");
    let r = app.get(&Ep::Charts.bad_url(""), READ).await;
    assert_eq!(r.status, 400);
    assert_eq!(quota(&r).1, 1);
    // A failed authentication is counted against the address, not the client it names.
    let r = app
        .get(
            &Ep::Funnel.url(""),
            Creds::new(READ_ID, "sec_00000000000000000000"),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(quota(&r), (3, 2, quota(&r).2));
    let r = app.get(&Ep::Funnel.url(""), READ).await;
    assert_eq!(r.status, 200);
    assert_eq!(quota(&r).1, 0);
    // The fourth request in the window is refused, with Retry-After.
    let r = app.get(&Ep::Events.url(""), READ).await;
    let (limit, remaining, reset) = quota(&r);
    assert_eq!((limit, remaining), (3, 0));
    assert!((1..=10).contains(&reset), "{reset}");
    assert_eq!(r.header("retry-after"), Some(reset.to_string().as_str()));
    r.assert(
        429,
        &json!({
            "error": "Too Many Requests",
            "code": "rate_limited",
            "message": format!("Rate limit exceeded; retry in {reset} seconds")
        }),
    );
    // Still refused on the other endpoints.
    for ep in [Ep::Charts, Ep::Funnel] {
        let r = app.get(&ep.url(""), READ).await;
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(r.header("retry-after").is_some());
    }
    // Another client has its own budget.
    let r = app.get(&Ep::Events.url("projectId=abc"), ROOT).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(quota(&r).0, 3);
    assert_eq!(quota(&r).1, 2);
    let r = app.get(&Ep::Events.url(""), READ_123).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(quota(&r).1, 2);
}

#[tokio::test]
async fn failed_attempts_never_spend_another_clients_quota() {
    // The security review: five wrong secrets carrying READ's id, at 5 per 10 s, made
    // READ's own next request a 429.
    let app = spawn_with(rate_limited(5, 10)).await;
    let wrong = Creds::new(READ_ID, "sec_00000000000000000000");
    for _ in 0..5 {
        let r = app.get(&Ep::Events.url(""), wrong).await;
        r.assert(401, &unauthorized(BAD_SECRET));
    }
    // Its first request: the attempts were the address's, not READ's, and a valid
    // request gets through even from an address past its budget of failures.
    let r = app.get(&Ep::Events.url(""), READ).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(quota(&r), (5, 4, quota(&r).2));
    // More failures from the address are refused, as 429s...
    let r = app.get(&Ep::Events.url(""), wrong).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let reset = quota(&r).2;
    r.assert(
        429,
        &json!({
            "error": "Too Many Requests",
            "code": "rate_limited",
            "message": format!(
                "Too many failed authentication attempts from this address; retry in {reset} seconds"
            )
        }),
    );
    assert_eq!(r.header("retry-after"), Some(reset.to_string().as_str()));
    let r = app
        .get(&Ep::Events.url(""), Creds::new(UNKNOWN_ID, "x"))
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let r = app.get(&Ep::Events.url(""), Creds::new("nope", "x")).await;
    assert_eq!(r.status, 429, "{}", r.body);
    // ...but READ is not locked out with them.
    let r = app.get(&Ep::Charts.url(""), READ).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(quota(&r).1, 3);
}

#[tokio::test]
async fn a_client_runs_a_bounded_number_of_queries_at_once() {
    // A storage whose queries take a while, so requests overlap.
    let app = spawn_over(
        quarry_server::Settings {
            limits: quarry_server::settings::Limits {
                max_concurrent_queries: 2,
                ..Default::default()
            },
            ..settings()
        },
        |_| Some(Arc::new(FailingStore(Failure::Slow)) as Arc<dyn Storage>),
    )
    .await;
    let url = Ep::Charts.url("");
    // The client's secret is verified before, so the requests overlap in their queries.
    assert_eq!(app.get(&Ep::Events.url(""), READ).await.status, 200);
    let (a, b, c) = tokio::join!(app.get(&url, READ), app.get(&url, READ), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        app.get(&url, READ).await
    });
    // One of the three, sent while two run, is refused with Retry-After; the others finish.
    let (refused, done): (Vec<Resp>, Vec<Resp>) =
        [a, b, c].into_iter().partition(|r| r.status == 429);
    assert_eq!(refused.len(), 1, "{done:?}");
    assert!(done.iter().all(|r| r.status == 200), "{done:?}");
    assert_eq!(refused[0].header("retry-after"), Some("1"));
    assert_eq!(
        refused[0].json()["message"],
        json!("Too many requests of this client are running at once; retry in 1 seconds")
    );
    // Another client is not affected.
    let r = app.get(&Ep::Charts.url("projectId=abc"), ROOT).await;
    assert_ne!(r.status, 429, "{}", r.body);
}

#[tokio::test]
async fn without_rate_limit_there_are_no_headers() {
    let app = spawn().await;
    for _ in 0..5 {
        let r = app.get(&Ep::Events.url(""), READ).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit"), None);
    }
}

// ---- 503, 504, 500 (§4.2) ----------------------------------------------------------------

/// How the fake storage fails.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Unavailable,
    Slow,
    Query,
}

/// Events storage that fails every query (the catalog stays the real SQLite database).
#[derive(Debug)]
struct FailingStore(Failure);

const INTERNALS: &str = "SELECT secret_sql_text FROM events WHERE password = 'hunter2'";

#[async_trait]
impl Storage for FailingStore {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn fetch(&self, _query: &Query) -> Result<Vec<Row>, StorageError> {
        match self.0 {
            Failure::Unavailable => Err(StorageError::Unavailable(format!(
                "connection refused: postgres://quarry:hunter2@10.0.0.5:5432 ({INTERNALS})"
            ))),
            Failure::Slow => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(Vec::new())
            }
            Failure::Query => Err(StorageError::Query(INTERNALS.into())),
        }
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        Ok(rows_at_once(self.fetch(query).await?))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        match self.0 {
            Failure::Unavailable => Err(StorageError::Unavailable(INTERNALS.into())),
            Failure::Slow | Failure::Query => Ok(()),
        }
    }
}

async fn spawn_failing(failure: Failure, timeout: Duration) -> TestApp {
    let settings = quarry_server::Settings {
        query_timeout: timeout,
        ..settings()
    };
    spawn_over(settings, |_| {
        Some(Arc::new(FailingStore(failure)) as Arc<dyn Storage>)
    })
    .await
}

#[tokio::test]
async fn unreachable_storage_is_503_without_internals() {
    let app = spawn_failing(Failure::Unavailable, Duration::from_secs(30)).await;
    let expected = json!({
        "error": "Service Unavailable",
        "code": "storage_unavailable",
        "message": "The database is unavailable; please retry shortly"
    });
    for ep in ENDPOINTS {
        let r = app.get(&ep.url(""), READ).await;
        r.assert(503, &expected);
        assert!(!r.body.contains("hunter2") && !r.body.contains("SELECT"));
    }
    app.get("/readyz", Creds::NONE).await.assert(503, &expected);
    // Authentication (the SQLite catalog) still runs first.
    app.get(&Ep::Events.url(""), Creds::new(READ_ID, "x"))
        .await
        .assert(401, &unauthorized(BAD_SECRET));
    app.get("/healthz", Creds::NONE)
        .await
        .assert(200, &json!({"status": "ok"}));
}

#[tokio::test]
async fn slow_queries_are_504() {
    let app = spawn_failing(Failure::Slow, Duration::from_millis(200)).await;
    let expected = json!({
        "error": "Gateway Timeout",
        "code": "query_timeout",
        "message": "The query ran past the configured timeout"
    });
    for ep in ENDPOINTS {
        // Warm the verification cache so the timing below is the query's alone.
        let started = Instant::now();
        let r = app.get(&ep.url(""), READ).await;
        r.assert(504, &expected);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    app.get(&Ep::Charts.url(""), READ)
        .await
        .assert(504, &expected);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn storage_errors_are_500_without_internals() {
    let app = spawn_failing(Failure::Query, Duration::from_secs(30)).await;
    for ep in ENDPOINTS {
        let r = app.get(&ep.url(""), READ).await;
        r.assert(
            500,
            &json!({
                "error": "Internal Server Error",
                "code": "internal",
                "message": "An internal error occurred"
            }),
        );
        assert!(!r.body.contains("secret_sql_text") && !r.body.contains("hunter2"));
    }
}

/// A catalog that cannot be reached.
#[derive(Debug)]
struct DownCatalog;

#[async_trait]
impl Catalog for DownCatalog {
    async fn client(&self, _id: &str) -> Result<Option<ClientRecord>, StorageError> {
        Err(StorageError::Unavailable(INTERNALS.into()))
    }

    async fn project(&self, _id: &str) -> Result<Option<ProjectRecord>, StorageError> {
        Err(StorageError::Unavailable(INTERNALS.into()))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Err(StorageError::Unavailable(INTERNALS.into()))
    }
}

#[tokio::test]
async fn an_unreachable_catalog_is_503_not_401() {
    let db = fresh_db().await;
    seed(&db).await;
    let backends = Backends {
        catalog: Arc::new(DownCatalog),
        ..db.backends(clock())
    };
    let app = spawn_backends(settings(), backends, db);
    let expected = json!({
        "error": "Service Unavailable",
        "code": "storage_unavailable",
        "message": "The database is unavailable; please retry shortly"
    });
    for ep in ENDPOINTS {
        app.get(&ep.url(""), READ).await.assert(503, &expected);
    }
    app.get("/readyz", Creds::NONE).await.assert(503, &expected);
    // A malformed id never reaches the catalog.
    app.get(&Ep::Events.url(""), Creds::NONE)
        .await
        .assert(401, &unauthorized(BAD_CLIENT_ID));
}

// ---- explain=true --------------------------------------------------------------------

/// The real storage, recording the SQL of every statement it is asked to run.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Storage>,
    ran: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Storage for Recording {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        self.ran.lock().unwrap().push(query.sql.clone());
        self.inner.fetch(query).await
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        self.ran.lock().unwrap().push(query.sql.clone());
        self.inner.stream(query).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }
}

/// What an explained request ran: only the engine's plans of its statements (and the
/// first-event lookup of `range=all_time`, whose answer its SQL depends on).
#[tokio::test]
async fn explain_returns_each_statement_its_parameters_and_the_engines_plan() {
    let recording = Arc::new(std::sync::Mutex::new(None::<Arc<Recording>>));
    let keep = recording.clone();
    let app = spawn_over(settings(), move |db| {
        let store = Arc::new(Recording {
            inner: db.backends(clock()).store,
            ran: std::sync::Mutex::new(Vec::new()),
        });
        *keep.lock().unwrap() = Some(store.clone());
        Some(store)
    })
    .await;
    let store = recording.lock().unwrap().clone().unwrap();
    let dialect = store.dialect();
    let prefix = match dialect {
        Dialect::Postgres => "EXPLAIN ",
        Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
        Dialect::ClickHouse => "EXPLAIN indexes = 1 ",
    };
    let cases = [
        (Ep::Charts.url("explain=true"), vec!["chart"]),
        (Ep::Funnel.url("explain=1"), vec!["funnel"]),
        // Every statement a funnel with options runs.
        (
            Ep::Funnel.url(&format!(
                "explain=true&previous=true&timeToConvert=true&breakdowns={}",
                enc(r#"[{"name":"country"}]"#)
            )),
            vec![
                "funnel",
                "funnel_previous",
                "time_to_convert",
                "funnel_breakdowns",
            ],
        ),
        (
            Ep::Events.url("explain=true&event=screen_view"),
            vec!["page", "count"],
        ),
        (
            format!(
                "/export/charts?events={}&range=all_time&explain=true",
                enc(r#"[{"name":"screen_view"}]"#)
            ),
            vec!["first_event", "chart"],
        ),
        // A streamed format is explained, not streamed.
        (
            Ep::Events.url("format=csv&explain=true"),
            vec!["page", "count"],
        ),
    ];
    for (url, purposes) in cases {
        store.ran.lock().unwrap().clear();
        let r = app.get(&url, READ).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"), "{url}");
        let body = r.json();
        assert_eq!(body["dialect"], dialect.name(), "{url}");
        let statements = body["statements"].as_array().unwrap();
        let got: Vec<&str> = statements
            .iter()
            .map(|s| s["purpose"].as_str().unwrap())
            .collect();
        assert_eq!(got, purposes, "{url}");
        let ran = store.ran.lock().unwrap().clone();
        for s in statements {
            let sql = s["sql"].as_str().unwrap();
            assert!(sql.contains("FROM events"), "{url}: {sql}");
            // The project is a bound parameter, never text in the SQL.
            assert!(!sql.contains("'abc'"), "{url}: {sql}");
            assert_eq!(
                s["params"][0],
                json!({"type": "text", "value": "abc"}),
                "{url}"
            );
            let plan = s["plan"].as_str().unwrap();
            assert!(
                plan.contains("events"),
                "{url}: the plan names the table: {plan}"
            );
            // The plan is the engine's plan of this very statement.
            assert!(ran.contains(&format!("{prefix}{sql}")), "{url}: {ran:?}");
        }
        // Nothing but the plans (and the first-event lookup) ran.
        let plans = ran.iter().filter(|q| q.starts_with("EXPLAIN")).count();
        let others: Vec<&String> = ran.iter().filter(|q| !q.starts_with("EXPLAIN")).collect();
        assert_eq!(plans, statements.len(), "{url}: {ran:?}");
        assert_eq!(
            others.len(),
            usize::from(purposes[0] == "first_event"),
            "{url}: {others:?}"
        );
    }
}

#[tokio::test]
async fn explain_is_checked_like_any_parameter() {
    let app = spawn().await;
    for ep in ENDPOINTS {
        // Authentication and project access come first, as for the request itself.
        let r = app.get(&ep.url("explain=true"), Creds::NONE).await;
        assert_eq!(r.status, 401, "{ep:?}");
        let r = app.get(&ep.url("explain=true&projectId=xyz"), READ).await;
        r.assert(403, &forbidden());
        app.get(&ep.url("explain=maybe"), READ).await.assert(
            400,
            &bad_request(
                "invalid_parameter",
                "explain",
                "expected true or false, got \"maybe\"",
            ),
        );
        // Every problem of a request is named, explain's too.
        let body = app.get(&ep.bad_url("explain=maybe"), READ).await.json();
        let params: Vec<&str> = body["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["param"].as_str().unwrap())
            .collect();
        assert_eq!(params.last(), Some(&"explain"), "{ep:?}: {body}");
        assert!(params.len() >= 2, "{ep:?}: {body}");
        // `explain=false` is the request itself.
        let plain = app.get(&ep.url(""), READ).await;
        let explicit = app.get(&ep.url("explain=false"), READ).await;
        assert_eq!(
            (plain.status, &plain.body),
            (explicit.status, &explicit.body)
        );
    }
}

#[tokio::test]
async fn explain_can_be_switched_off() {
    let app = spawn_with(Settings {
        explain: false,
        ..settings()
    })
    .await;
    for ep in ENDPOINTS {
        app.get(&ep.url("explain=true"), READ).await.assert(
            400,
            &bad_request(
                "invalid_parameter",
                "explain",
                "explain is switched off on this server",
            ),
        );
        assert_eq!(app.get(&ep.url("explain=false"), READ).await.status, 200);
    }
}

// ---- The explorer page and the OpenAPI document ------------------------------------------

#[tokio::test]
async fn the_explorer_page_and_its_files_are_served_unless_switched_off() {
    let app = spawn().await;
    let page = app.get("/", Creds::NONE).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.starts_with("<!doctype html>"), "{}", page.body);
    assert!(page.body.contains("/explorer/explorer.js"), "{}", page.body);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"));
    for (path, media) in [
        ("/explorer/explorer.js", "text/javascript; charset=utf-8"),
        ("/explorer/explorer.css", "text/css; charset=utf-8"),
        ("/openapi.json", "application/json"),
    ] {
        let r = app.get(path, Creds::NONE).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(media), "{path}");
    }
    assert_eq!(
        app.get("/openapi.json", Creds::NONE).await.json()["openapi"],
        "3.1.0"
    );

    let off = spawn_with(Settings {
        explorer: false,
        ..settings()
    })
    .await;
    for path in ["/", "/explorer/explorer.js"] {
        off.get(path, Creds::NONE).await.assert(
            404,
            &json!({"error": "Not Found", "code": "not_found", "message": "No such endpoint"}),
        );
    }
    // The document describes the API, which is still there.
    assert_eq!(off.get("/openapi.json", Creds::NONE).await.status, 200);
}

// ---- /metrics --------------------------------------------------------------------------

/// The value of one series in a `/metrics` text.
fn series_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_refusals_queries_and_streamed_rows() {
    let app = spawn_with(rate_limited(2, 600)).await;
    for _ in 0..3 {
        app.get(&Ep::Charts.url(""), READ).await;
    }
    let r = app.get("/export/events?format=ndjson", READ).await;
    assert_eq!(
        r.status, 429,
        "the third request was refused, so is this one"
    );
    let text = app.get("/metrics", Creds::NONE).await;
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let m = |series: &str| series_value(&text.body, series).unwrap_or(-1.0);
    assert_eq!(
        m(r#"quarry_http_requests_total{route="/export/charts",status="200"}"#),
        2.0
    );
    assert_eq!(
        m(r#"quarry_http_requests_total{route="/export/charts",status="429"}"#),
        1.0
    );
    assert_eq!(
        m(r#"quarry_http_requests_total{route="/export/events",status="429"}"#),
        1.0
    );
    assert_eq!(m(r#"quarry_rate_limited_total{limit="requests"}"#), 2.0);
    assert_eq!(
        m(r#"quarry_http_request_duration_seconds_count{route="/export/charts"}"#),
        3.0
    );
    let backend = app.db.backends(clock()).store.dialect().name();
    let ok = format!(r#"quarry_query_duration_seconds_count{{backend="{backend}",outcome="ok"}}"#);
    assert!(m(&ok) >= 2.0, "{}", text.body);

    // Rows of a streamed export are counted.
    let app = spawn().await;
    let r = app.get("/export/events?format=ndjson", READ).await;
    assert_eq!(r.status, 200);
    let rows = r.body.lines().count() as f64;
    assert!(rows > 0.0);
    let text = app.get("/metrics", Creds::NONE).await.body;
    assert_eq!(
        series_value(&text, "quarry_rows_streamed_total"),
        Some(rows),
        "{text}"
    );
    if backend != "clickhouse" {
        let acquired = format!(r#"quarry_db_pool_acquired_total{{backend="{backend}"}}"#);
        assert!(
            series_value(&text, &acquired).unwrap_or(0.0) >= 1.0,
            "{text}"
        );
    }
}

/// A 400 names at most `MAX_DETAILS` problems (docs/limits.md), also when the server adds
/// `projectId is required` and `explain`'s to the decoder's (already full) list.
#[tokio::test]
async fn a_400_names_at_most_max_details_problems_whatever_is_added() {
    let app = spawn().await;
    let values = serde_json::to_string(&vec!["x"; 100]).unwrap();
    let events = format!(
        r#"[{{"name":"sign_up","filters":[{{"name":"has_profile","operator":"is","value":{values}}}]}},{{"name":"purchase"}}]"#
    );
    let url = format!("/export/funnel?events={}&explain=maybe", enc(&events));
    for creds in [READ, ROOT] {
        let body = app.get(&url, creds).await.json();
        let details = body["details"].as_array().unwrap();
        assert_eq!(details.len(), quarry_core::decode::MAX_DETAILS, "{body}");
    }
    // The root client's first problem is the missing project.
    let body = app.get(&url, ROOT).await.json();
    assert_eq!(body["details"][0]["param"], "projectId");
}
