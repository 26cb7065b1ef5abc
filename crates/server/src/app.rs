//! The actix-web application: state, routes and the request flow of every export
//! endpoint — authentication (401, failed attempts throttled per address), the client's
//! rate limit and concurrency (429), parameters (400, decoded on the blocking pool), project
//! access (403/404), then the query under a timeout (504) and the response.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_service::ServiceFactoryExt as _;
use actix_web::dev::AppConfig;
use actix_web::dev::Server;
use actix_web::http::header::HeaderMap;
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use chrono_tz::Tz;
use quarry_core::catalog::{ClientKind, ClientRecord};
use quarry_core::compile::Context;
use quarry_core::decode::{self, Limits};
use quarry_core::error::{ParamError, RequestError};
use quarry_core::exec;
use quarry_core::request::{ExportFormat, Format};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::auth::{AuthError, Authenticator};
use crate::error::{ApiError, Throttle};
use crate::metrics::{Gauges, Metrics};
use crate::observed::Observed;
use crate::ratelimit::{Quota, RateLimiter};
use crate::settings::Settings;
use crate::slots::{ClientSlots, Slot};
use crate::wire::{Gate, REFUSED_PATH, TargetFix};

pub use crate::backends::{Backends, Clock, system_clock};

struct State {
    backends: Backends,
    auth: Authenticator,
    /// Requests per verified client.
    limiter: Option<RateLimiter>,
    /// Failed authentications per peer address.
    failures: Option<RateLimiter>,
    /// Queries in flight per client.
    slots: Arc<ClientSlots>,
    /// Streamed exports running on the server, each holding a database connection.
    streams: Arc<Semaphore>,
    /// Decoding (regular expressions compile there) runs on the blocking pool, this many
    /// requests at a time.
    decoding: Arc<Semaphore>,
    limits: Limits,
    gate: Gate,
    timeout: Duration,
    /// `explain=true` is answered (else it is a 400 naming `explain`).
    explain: bool,
    metrics: Arc<Metrics>,
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

/// How long a request head may take to arrive (see wire.rs); actix-web's own timer is set
/// later, so this one answers, in JSON.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

impl Application {
    /// Open the configured storage, migrate nothing, bind, and build the server.
    pub async fn build(settings: Settings) -> Result<Application, crate::Error> {
        let backends = crate::backends::open(&settings, system_clock()).await?;
        Application::build_with(settings, backends)
    }

    /// Build over given backends (tests use this to start the real app on port 0).
    pub fn build_with(settings: Settings, backends: Backends) -> Result<Application, crate::Error> {
        let listener = TcpListener::bind(&settings.bind).map_err(|e| {
            crate::Error::Config(format!("cannot listen on {}: {e}", settings.bind))
        })?;
        let port = listener.local_addr().map_err(crate::Error::Io)?.port();
        let metrics = Arc::new(Metrics::default());
        // Client and project lookups are cached briefly; see catalog_cache.rs. Every
        // query is timed and logged (observed.rs).
        let backends = Backends {
            catalog: Arc::new(crate::catalog_cache::CachedCatalog::new(
                backends.catalog,
                Duration::from_secs(2),
            )),
            store: Observed::wrap(backends.store, metrics.clone()),
            meta: Observed::wrap(backends.meta, metrics.clone()),
            ..backends
        };
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let gate = Gate {
            max_url: settings.limits.max_url_bytes,
            max_head: settings.limits.max_head_bytes,
            head_timeout: HEAD_TIMEOUT,
        };
        let state = web::Data::new(State {
            backends,
            auth: Authenticator::new(),
            limiter: settings.rate_limit.map(RateLimiter::new),
            failures: settings.auth_failure_limit.map(RateLimiter::new),
            slots: ClientSlots::new(settings.limits.max_concurrent_queries),
            streams: Arc::new(Semaphore::new(settings.limits.max_streams)),
            decoding: Arc::new(Semaphore::new(cores.max(2))),
            limits: Limits {
                max_page_size: settings.max_page_size,
                ..settings.limits.request
            },
            gate,
            timeout: settings.query_timeout,
            explain: settings.explain,
            metrics,
        });
        let explorer = settings.explorer;
        let addr = listener.local_addr().map_err(crate::Error::Io)?;
        let server = actix_server::Server::build()
            .shutdown_timeout(10)
            .listen("quarry", listener, move || {
                let state = state.clone();
                let app = App::new()
                    .app_data(state)
                    .wrap(actix_web::middleware::from_fn(trace_request))
                    .configure(|cfg| pages(cfg, explorer))
                    .service(read_only("/export/events", events))
                    .service(read_only("/export/charts", charts))
                    .service(read_only("/export/funnel", funnel))
                    .service(read_only("/healthz", healthz))
                    .service(read_only("/metrics", metrics_page))
                    .service(read_only("/readyz", readyz))
                    .route(&format!("{REFUSED_PATH}{{code:.*}}"), web::to(refused))
                    .default_service(web::to(|| async { ApiError::NotFound.error_response() }));
                let http = actix_http::HttpService::build()
                    .local_addr(addr)
                    .client_request_timeout(HEAD_TIMEOUT * 2)
                    // How long a refused connection may linger (see wire.rs).
                    .client_disconnect_timeout(Duration::from_secs(2))
                    .h1(actix_service::map_config(app, |_| AppConfig::default()));
                // Raw `"` in a request target is legal for OpenPanel's clients, and every
                // refusal of the HTTP layer is JSON; see wire.rs.
                actix_service::fn_service(move |io: actix_web::rt::net::TcpStream| async move {
                    let _ = io.set_nodelay(true);
                    let peer = io.peer_addr().ok();
                    Ok::<_, actix_http::error::DispatchError>((TargetFix::new(io, gate), peer))
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

/// The longest `X-Request-Id` taken from a client; a longer or odd one is replaced.
const MAX_REQUEST_ID: usize = 128;

/// The request's id: the client's `X-Request-Id` when it is short printable text without
/// spaces or quotes (it goes into logs and a response header), else a fresh one.
fn request_id(headers: &HeaderMap) -> String {
    let given = header(headers, "x-request-id").filter(|id| {
        !id.is_empty()
            && id.len() <= MAX_REQUEST_ID
            && id
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    });
    match given {
        Some(id) => id.to_string(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    }
}

/// One span per request, with its id on every log line inside it; the id is echoed in
/// `X-Request-Id`. Counts the request in `/metrics` by route and status. Headers (and so
/// secrets) and the query string are never logged.
async fn trace_request(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use tracing::Instrument as _;
    let started = Instant::now();
    let id = request_id(req.headers());
    let metrics = req
        .app_data::<web::Data<State>>()
        .map(|s| s.metrics.clone());
    let in_flight = metrics.as_ref().map(Metrics::begin);
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    async move {
        let mut res = next.call(req).await;
        let elapsed = started.elapsed();
        let status = res.as_ref().map(|r| r.status().as_u16()).unwrap_or(500);
        if let Ok(r) = &mut res {
            let route = crate::metrics::route_label(r.request().match_pattern().as_deref());
            if let Some(m) = &metrics {
                m.request(route, status, elapsed);
            }
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
                r.headers_mut().insert(
                    actix_web::http::header::HeaderName::from_static("x-request-id"),
                    v,
                );
            }
        }
        tracing::info!(
            status,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        drop(in_flight);
        res
    }
    .instrument(span)
    .await
}

/// `/metrics`: Prometheus' text format (metrics.rs).
async fn metrics_page(state: web::Data<State>) -> HttpResponse {
    let b = &state.backends;
    let mut pools = Vec::new();
    for store in [&b.store, &b.meta] {
        let name = store.dialect().name();
        if let Some(p) = store.pool_status()
            && !pools.iter().any(|(n, _)| *n == name)
        {
            pools.push((name, p));
        }
    }
    let gauges = Gauges {
        pools,
        auth_cache: state.auth.cache_counts(),
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges))
}

/// A route of `handler` for GET and HEAD (the same answer, without its body); any other
/// method on the path is a 405 JSON error with `Allow: GET, HEAD`, not a 404.
fn read_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(|| async {
            ApiError::MethodNotAllowed.error_response()
        }))
}

/// The explorer page and its files (unless switched off), and the OpenAPI document.
fn pages(cfg: &mut web::ServiceConfig, explorer: bool) {
    use crate::assets;
    cfg.service(read_only("/openapi.json", || async {
        assets::OPENAPI.respond()
    }));
    if explorer {
        cfg.service(read_only("/", || async { assets::INDEX.respond() }))
            .service(read_only(
                "/explorer/{file}",
                |file: web::Path<String>| async move {
                    match assets::explorer_file(&file) {
                        Some(asset) => asset.respond(),
                        None => ApiError::NotFound.error_response(),
                    }
                },
            ));
    }
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

/// The JSON answer for a head the HTTP layer refused (see wire.rs).
async fn refused(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let code = req.match_info().get("code").unwrap_or_default();
    ApiError::Transport(crate::wire::refusal(code, &state.gate)).error_response()
}

/// The peer's address: the key of failed attempts.
fn peer_key(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
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

/// Authentication (§3.3), with failed attempts counted and throttled per peer address:
/// the client, or the refusal and the quota it was counted against.
///
/// An address past its budget of failures still gets its valid requests through — a
/// client must never be locked out by strangers at the same address (a NAT, a proxy) —
/// but nothing more: a malformed id is refused at once, a verification runs only if a turn
/// is free right away (never queueing behind others), and every failure is a 429.
async fn authenticate(
    state: &State,
    req: &HttpRequest,
) -> Result<ClientRecord, (ApiError, Option<Quota>)> {
    let headers = req.headers();
    let id = header(headers, "openpanel-client-id");
    let secret = header(headers, "openpanel-client-secret");
    let peer = peer_key(req);
    let exhausted = state
        .failures
        .as_ref()
        .map(|f| f.peek(&peer, Instant::now()))
        .filter(|q| !q.allowed && !state.auth.is_known(id, secret));
    let result = match exhausted {
        Some(_) if id.and_then(crate::auth::canonical_client_id).is_none() => {
            Err(AuthError::BadClientId)
        }
        Some(_) => {
            let catalog = state.backends.catalog.as_ref();
            state
                .auth
                .authenticate_within(catalog, id, secret, Duration::ZERO)
                .await
        }
        None => {
            let catalog = state.backends.catalog.as_ref();
            state.auth.authenticate(catalog, id, secret).await
        }
    };
    match result {
        Ok(client) => Ok(client),
        // A fault of the server, not an attempt of the client.
        Err(e @ AuthError::Storage(_)) => Err((e.into(), None)),
        Err(AuthError::Busy) if exhausted.is_none() => Err((AuthError::Busy.into(), None)),
        Err(e) => {
            let quota = state
                .failures
                .as_ref()
                .map(|f| f.check(&peer, Instant::now()));
            match exhausted {
                Some(q) => {
                    let refused = ApiError::RateLimited {
                        retry_after: q.reset_secs,
                        throttle: Throttle::Failures,
                    };
                    Err((refused, quota))
                }
                None => Err((e.into(), quota)),
            }
        }
    }
}

/// Decode on the blocking pool: a request's regular expressions compile there (within
/// their budgets), never on the threads that serve every other request. Returns the
/// request and its `explain`, each decoded or refused.
async fn decode_off_thread<R: Send + 'static>(
    state: &State,
    query: &str,
    decode: fn(&str, Limits) -> Result<R, RequestError>,
) -> Result<(Result<R, RequestError>, Result<bool, RequestError>), ApiError> {
    let limits = state.limits;
    let query = query.to_string();
    let internal = |what: String| {
        ApiError::Storage(quarry_core::storage::StorageError::Query(format!(
            "decoding did not complete: {what}"
        )))
    };
    // The semaphore is never closed.
    let _turn = state
        .decoding
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| internal(e.to_string()))?;
    let both = move || (decode(&query, limits), decode::decode_explain(&query));
    tokio::task::spawn_blocking(both)
        .await
        .map_err(|error| internal(error.to_string()))
}

/// What an admitted request asks for: its answer, or (`explain=true`) its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    Answer,
    Explain,
}

/// `explain`, when this server answers it.
fn ask(state: &State, explain: bool) -> Result<Ask, RequestError> {
    match explain {
        false => Ok(Ask::Answer),
        true if state.explain => Ok(Ask::Explain),
        true => {
            Err(ParamError::invalid("explain", "explain is switched off on this server").into())
        }
    }
}

/// The request's own decoding, then project access. A request with several problems names
/// every one, `projectId is required` included (§4.2).
async fn admit<R: Send + 'static>(
    state: &State,
    req: &HttpRequest,
    client: &ClientRecord,
    decode: fn(&str, Limits) -> Result<R, RequestError>,
    project_of: impl Fn(&R) -> Option<String>,
    tz_of: impl Fn(&R) -> Option<Tz>,
) -> Result<(R, Context, Ask), ApiError> {
    let no_default = client.project_id.as_deref().is_none_or(str::is_empty);
    let missing = || ParamError::missing("projectId", "projectId is required");
    let (decoded, explain) = decode_off_thread(state, req.query_string(), decode).await?;
    let (request, ask) = match (decoded, explain.and_then(|e| ask(state, e))) {
        (Ok(r), Ok(ask)) => (r, ask),
        (Ok(_), Err(e)) => return Err(ApiError::Request(e)),
        (Err(mut e), ask) => {
            let named = e.details.iter().any(|d| d.param == "projectId");
            if no_default && !named && decode::requested_project(req.query_string()).is_none() {
                e.details.insert(0, missing());
            }
            if let Err(bad) = ask {
                e.details.extend(bad.details);
            }
            // The decoder kept at most this many; what was added here stays within it.
            e.details.truncate(decode::MAX_DETAILS);
            return Err(ApiError::Request(e));
        }
    };
    let requested = project_of(&request);
    if requested.is_none() && no_default {
        return Err(ApiError::Request(missing().into()));
    }
    let scope = resolve_project(state, client, requested.as_deref()).await?;
    let tz = tz_of(&request).or(scope.project_tz).unwrap_or(Tz::UTC);
    let ctx = Context {
        project_id: scope.project_id,
        tz,
        now: (state.backends.clock)(),
        first_event: None,
    };
    Ok((request, ctx, ask))
}

/// The flow shared by the export endpoints: authentication, the client's rate limit and
/// concurrency, admission (400, 403/404), then `run`, which holds the client's query slot
/// for as long as it answers (a streamed body keeps it until the last byte); every
/// response carries the rate-limit headers of the quota it was counted against.
async fn export<R, F, Fut>(
    state: &State,
    req: &HttpRequest,
    decode: fn(&str, Limits) -> Result<R, RequestError>,
    project_of: impl Fn(&R) -> Option<String>,
    tz_of: impl Fn(&R) -> Option<Tz>,
    run: F,
) -> HttpResponse
where
    R: Send + 'static,
    F: FnOnce(R, Context, Slot, Ask) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, ApiError>>,
{
    let client = match authenticate(state, req).await {
        Ok(client) => client,
        Err((e, quota)) => return with_quota(refuse(state, &e), quota),
    };
    let quota = state
        .limiter
        .as_ref()
        .map(|l| l.check(&client.id, Instant::now()));
    if let Some(q) = quota.filter(|q| !q.allowed) {
        let refused = ApiError::RateLimited {
            retry_after: q.reset_secs,
            throttle: Throttle::Requests,
        };
        return with_quota(refuse(state, &refused), quota);
    }
    let Some(slot) = state.slots.try_take(&client.id) else {
        let refused = ApiError::RateLimited {
            retry_after: 1,
            throttle: Throttle::Concurrency,
        };
        return with_quota(refuse(state, &refused), quota);
    };
    let result = async {
        let (request, ctx, ask) = admit(state, req, &client, decode, project_of, tz_of).await?;
        run(request, ctx, slot, ask).await
    }
    .await;
    let resp = match result {
        Ok(r) => r,
        Err(e) => refuse(state, &e),
    };
    with_quota(resp, quota)
}

/// The response of an error, a 429 counted by the limit it met.
fn refuse(state: &State, e: &ApiError) -> HttpResponse {
    if let Some(throttle) = e.throttle() {
        state.metrics.refused(throttle);
    }
    e.error_response()
}

/// A JSON answer computed under the query timeout.
async fn json_within<T: Serialize>(
    timeout: Duration,
    answer: impl std::future::Future<Output = Result<T, exec::ExecError>>,
) -> Result<HttpResponse, ApiError> {
    match tokio::time::timeout(timeout, answer).await {
        Ok(body) => Ok(HttpResponse::Ok().json(body?)),
        Err(_) => Err(ApiError::Timeout),
    }
}

/// The `Retry-After` of a stream refused because the server runs as many as it may: a
/// stream lasts seconds to minutes, so asking again at once would only be refused again.
const STREAM_RETRY_SECS: u64 = 5;

/// `GET /export/events`: a page, a keyset page (`cursor`), or every matching row
/// streamed (`format=ndjson|csv`, or such an `Accept` when neither `format` nor `cursor`
/// is given).
async fn events(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let b = state.backends.clone();
    let accept = header(req.headers(), "accept").and_then(ExportFormat::from_accept);
    let timeout = state.timeout;
    let streams = state.streams.clone();
    let metrics = state.metrics.clone();
    let head = req.method() == actix_web::http::Method::HEAD;
    export(
        &state,
        &req,
        decode::decode_events,
        |r| r.project_id.clone(),
        |r| r.timezone,
        |r, ctx, slot, ask| async move {
            if ask == Ask::Explain {
                let _held = slot;
                return json_within(timeout, exec::explain_events(b.store.as_ref(), &r, &ctx))
                    .await;
            }
            let stream = match r.format {
                Some(Format::Stream(f)) => Some(f),
                Some(Format::Json) => None,
                None if r.cursor.is_none() => accept,
                None => None,
            };
            match stream {
                Some(format) => {
                    let Ok(running) = streams.try_acquire_owned() else {
                        return Err(ApiError::RateLimited {
                            retry_after: STREAM_RETRY_SECS,
                            throttle: Throttle::Streams,
                        });
                    };
                    let hold = (slot, running);
                    let stream = crate::stream::Stream {
                        format,
                        timeout,
                        head,
                    };
                    crate::stream::respond(b, r, ctx, stream, hold, metrics).await
                }
                None => {
                    let _held = slot;
                    let answer = exec::events(b.store.as_ref(), b.meta.as_ref(), &r, &ctx);
                    json_within(timeout, answer).await
                }
            }
        },
    )
    .await
}

async fn charts(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let store = state.backends.store.clone();
    let timeout = state.timeout;
    export(
        &state,
        &req,
        decode::decode_chart_with,
        |r| r.project_id.clone(),
        |r| r.timezone,
        |r, ctx, slot, ask| async move {
            let _held = slot;
            match ask {
                Ask::Answer => json_within(timeout, exec::chart(store.as_ref(), &r, &ctx)).await,
                Ask::Explain => {
                    json_within(timeout, exec::explain_chart(store.as_ref(), &r, &ctx)).await
                }
            }
        },
    )
    .await
}

async fn funnel(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let store = state.backends.store.clone();
    let timeout = state.timeout;
    export(
        &state,
        &req,
        decode::decode_funnel_with,
        |r| r.project_id.clone(),
        |r| r.timezone,
        |r, ctx, slot, ask| async move {
            let _held = slot;
            match ask {
                Ask::Answer => json_within(timeout, exec::funnel(store.as_ref(), &r, &ctx)).await,
                Ask::Explain => {
                    json_within(timeout, exec::explain_funnel(store.as_ref(), &r, &ctx)).await
                }
            }
        },
    )
    .await
}
