//! The actix-web application: state, routes and the request flow of every export
//! endpoint — rate limit, authentication (401), parameters (400), project access
//! (403/404), then the query under a timeout (504) and the response.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_service::ServiceFactoryExt as _;
use actix_web::dev::AppConfig;
use actix_web::dev::Server;
use actix_web::http::header::HeaderMap;
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use chrono_tz::Tz;
use quarry_core::compile::Context;
use quarry_core::decode::{self, Limits};
use quarry_core::error::ParamError;
use quarry_core::exec;
use quarry_core::storage::{Catalog, ClientKind, ClientRecord, Storage};
use serde::Serialize;

use crate::auth::{VerifyCache, authenticate};
use crate::error::ApiError;
use crate::ratelimit::{Quota, RateLimiter};
use crate::settings::Settings;
use crate::wire::TargetFix;

/// Milliseconds since the epoch; injectable so tests control "now".
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

/// The databases behind the server.
#[derive(Clone)]
pub struct Backends {
    /// Events and profiles.
    pub store: Arc<dyn Storage>,
    /// `event_meta` (the catalog's database).
    pub meta: Arc<dyn Storage>,
    /// Projects and clients.
    pub catalog: Arc<dyn Catalog>,
    /// "Now".
    pub clock: Clock,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

struct State {
    backends: Backends,
    cache: VerifyCache,
    limiter: Option<RateLimiter>,
    limits: Limits,
    timeout: Duration,
}

/// A built server, bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish()
    }
}

impl Application {
    /// Open the configured storage, migrate nothing, bind, and build the server.
    pub async fn build(settings: Settings) -> Result<Application, crate::Error> {
        let backends = crate::backends::open(&settings, crate::app::system_clock()).await?;
        Application::build_with(settings, backends)
    }

    /// Build over given backends (tests use this to start the real app on port 0).
    pub fn build_with(settings: Settings, backends: Backends) -> Result<Application, crate::Error> {
        let listener = TcpListener::bind(&settings.bind).map_err(|e| {
            crate::Error::Config(format!("cannot listen on {}: {e}", settings.bind))
        })?;
        let port = listener.local_addr().map_err(crate::Error::Io)?.port();
        // Client and project lookups are cached briefly; see catalog_cache.rs.
        let backends = Backends {
            catalog: Arc::new(crate::catalog_cache::CachedCatalog::new(
                backends.catalog,
                Duration::from_secs(2),
            )),
            ..backends
        };
        let state = web::Data::new(State {
            backends,
            cache: VerifyCache::new(10_000, Duration::from_secs(300)),
            limiter: settings.rate_limit.map(RateLimiter::new),
            limits: Limits {
                max_page_size: settings.max_page_size,
            },
            timeout: settings.query_timeout,
        });
        let addr = listener.local_addr().map_err(crate::Error::Io)?;
        let server = actix_server::Server::build()
            .shutdown_timeout(10)
            .listen("quarry", listener, move || {
                let state = state.clone();
                let app = App::new()
                    .app_data(state)
                    .wrap(actix_web::middleware::from_fn(trace_request))
                    .route("/export/events", web::get().to(events))
                    .route("/export/charts", web::get().to(charts))
                    .route("/export/funnel", web::get().to(funnel))
                    .route("/healthz", web::get().to(healthz))
                    .route("/readyz", web::get().to(readyz))
                    .default_service(web::to(|| async { ApiError::NotFound.error_response() }));
                let http = actix_http::HttpService::build()
                    .local_addr(addr)
                    .h1(actix_service::map_config(app, |_| AppConfig::default()));
                // Raw `"` in a request target is legal for OpenPanel's clients; see wire.rs.
                actix_service::fn_service(|io: actix_web::rt::net::TcpStream| async move {
                    let _ = io.set_nodelay(true);
                    let peer = io.peer_addr().ok();
                    Ok::<_, actix_http::error::DispatchError>((TargetFix::new(io), peer))
                })
                .and_then(http)
            })
            .map_err(crate::Error::Io)?
            .run();
        Ok(Application { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until stopped (SIGINT/SIGTERM stop gracefully).
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        self.server.await
    }
}

/// One span per request: method, path, status, latency. Headers (and so secrets) are
/// never recorded.
async fn trace_request(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let res = next.call(req).await;
    let status = res.as_ref().map(|r| r.status().as_u16()).unwrap_or(500);
    tracing::info!(%method, %path, status, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "request");
    res
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(state: web::Data<State>) -> HttpResponse {
    let b = &state.backends;
    let (store, catalog) = tokio::join!(b.store.ping(), b.catalog.ping());
    match store.and(catalog) {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(e) => ApiError::Storage(e).error_response(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Rate-limit key: the presented client id, else the peer address, so every response
/// (401s included) is counted and carries the headers.
fn limit(state: &State, req: &HttpRequest) -> Option<Quota> {
    let limiter = state.limiter.as_ref()?;
    let key = match header(req.headers(), "openpanel-client-id") {
        Some(id) => format!("client:{}", id.trim().to_ascii_lowercase()),
        None => format!(
            "peer:{}",
            req.peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default()
        ),
    };
    Some(limiter.check(&key, Instant::now()))
}

fn with_quota(mut resp: HttpResponse, quota: Option<Quota>) -> HttpResponse {
    if let Some(q) = quota {
        let h = resp.headers_mut();
        let pairs = [
            ("ratelimit-limit", q.limit.to_string()),
            ("ratelimit-remaining", q.remaining.to_string()),
            ("ratelimit-reset", q.reset_secs.to_string()),
        ];
        for (name, value) in pairs {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&value) {
                h.insert(actix_web::http::header::HeaderName::from_static(name), v);
            }
        }
    }
    resp
}

/// The resolved project of a request (§3.4) and its timezone.
struct Scope {
    project_id: String,
    project_tz: Option<Tz>,
}

async fn resolve_project(
    state: &State,
    client: &ClientRecord,
    requested: Option<&str>,
) -> Result<Scope, ApiError> {
    let project_id = match requested {
        Some(p) => {
            if client.kind == ClientKind::Read && client.project_id.as_deref() != Some(p) {
                return Err(ApiError::Forbidden);
            }
            p.to_string()
        }
        None => match &client.project_id {
            Some(p) if !p.is_empty() => p.clone(),
            _ => {
                return Err(ApiError::Request(
                    ParamError::missing("projectId", "projectId is required").into(),
                ));
            }
        },
    };
    let project = state.backends.catalog.project(&project_id).await?;
    match project {
        Some(p) if p.organization_id == client.organization_id => Ok(Scope {
            project_tz: p.timezone.as_deref().and_then(|t| t.parse().ok()),
            project_id,
        }),
        _ => Err(ApiError::ProjectNotFound),
    }
}

/// Authentication, then the request's own decoding, then project access.
async fn admit<R>(
    state: &State,
    req: &HttpRequest,
    decode: impl FnOnce(&str) -> Result<R, quarry_core::error::RequestError>,
    project_of: impl Fn(&R) -> Option<String>,
    tz_of: impl Fn(&R) -> Option<Tz>,
) -> Result<(R, Context), ApiError> {
    let headers = req.headers();
    let client = authenticate(
        state.backends.catalog.as_ref(),
        &state.cache,
        header(headers, "openpanel-client-id"),
        header(headers, "openpanel-client-secret"),
    )
    .await?;
    let request = decode(req.query_string())?;
    let requested = project_of(&request);
    if requested.is_none() && client.project_id.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::Request(
            ParamError::missing("projectId", "projectId is required").into(),
        ));
    }
    let scope = resolve_project(state, &client, requested.as_deref()).await?;
    let tz = tz_of(&request).or(scope.project_tz).unwrap_or(Tz::UTC);
    let ctx = Context {
        project_id: scope.project_id,
        tz,
        now: (state.backends.clock)(),
        first_event: None,
    };
    Ok((request, ctx))
}

/// The flow shared by the export endpoints: rate limit, admission (401, 400, 403/404),
/// then `run` under the query timeout; every response carries the rate-limit headers.
async fn export<R, T, F, Fut>(
    state: &State,
    req: &HttpRequest,
    decode: impl FnOnce(&str) -> Result<R, quarry_core::error::RequestError>,
    project_of: impl Fn(&R) -> Option<String>,
    tz_of: impl Fn(&R) -> Option<Tz>,
    run: F,
) -> HttpResponse
where
    T: Serialize,
    F: FnOnce(R, Context) -> Fut,
    Fut: std::future::Future<Output = Result<T, exec::ExecError>>,
{
    let quota = limit(state, req);
    if let Some(q) = quota.filter(|q| !q.allowed) {
        let refused = ApiError::RateLimited {
            retry_after: q.reset_secs,
        }
        .error_response();
        return with_quota(refused, quota);
    }
    let result = async {
        let (request, ctx) = admit(state, req, decode, project_of, tz_of).await?;
        let body = match tokio::time::timeout(state.timeout, run(request, ctx)).await {
            Ok(r) => r?,
            Err(_) => return Err(ApiError::Timeout),
        };
        Ok(HttpResponse::Ok().json(body))
    }
    .await;
    let resp = match result {
        Ok(r) => r,
        Err(e) => e.error_response(),
    };
    with_quota(resp, quota)
}

async fn events(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let limits = state.limits;
    let b = state.backends.clone();
    let decode = |q: &str| decode::decode_events(q, limits);
    export(
        &state,
        &req,
        decode,
        |r| r.project_id.clone(),
        |r| r.timezone,
        |r, ctx| async move { exec::events(b.store.as_ref(), b.meta.as_ref(), &r, &ctx).await },
    )
    .await
}

async fn charts(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let store = state.backends.store.clone();
    let decode = decode::decode_chart;
    export(
        &state,
        &req,
        decode,
        |r| r.project_id.clone(),
        |r| r.timezone,
        |r, ctx| async move { exec::chart(store.as_ref(), &r, &ctx).await },
    )
    .await
}

async fn funnel(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let store = state.backends.store.clone();
    let decode = decode::decode_funnel;
    export(
        &state,
        &req,
        decode,
        |r| r.project_id.clone(),
        |r| r.timezone,
        |r, ctx| async move { exec::funnel(store.as_ref(), &r, &ctx).await },
    )
    .await
}
