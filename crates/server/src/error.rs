//! Every error a request can meet, mapped to HTTP in one place (§4.2).
//!
//! The match in [`ApiError::parts`] has no catch-all arm: a new variant forces a decision
//! about its status and body. 5xx bodies say what happened in general terms; the details
//! go to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use quarry_core::error::RequestError;
use quarry_core::exec::ExecError;
use quarry_core::storage::StorageError;
use serde_json::{Map, Value, json};

use crate::auth::AuthError;

/// A request that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// §3.3 failures, and catalog faults met while authenticating.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Malformed parameters.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A read client asked for another project.
    #[error("You do not have access to this project")]
    Forbidden,
    /// The project does not exist in the client's organization.
    #[error("Project not found")]
    ProjectNotFound,
    /// Over a limit on requests (429).
    #[error("{}", throttle.message(*retry_after))]
    RateLimited {
        /// Seconds until the client may retry.
        retry_after: u64,
        /// Which limit.
        throttle: Throttle,
    },
    /// A database fault.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The query ran past the configured timeout.
    #[error("query timed out")]
    Timeout,
    /// No such route.
    #[error("no such endpoint")]
    NotFound,
    /// The route exists, but not for this method (every route is read-only).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The HTTP request itself was refused before any handler could read it.
    #[error("{0}")]
    Transport(#[from] Transport),
}

/// Which limit a 429 is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The client's requests per window.
    Requests,
    /// Failed authentications from this address.
    Failures,
    /// The client's queries in flight.
    Concurrency,
    /// Secret verifications in progress on the whole server.
    Verifications,
    /// Streamed exports running on the whole server.
    Streams,
}

impl ApiError {
    /// The limit a 429 met.
    pub fn throttle(&self) -> Option<Throttle> {
        match self {
            ApiError::RateLimited { throttle, .. } => Some(*throttle),
            ApiError::Auth(AuthError::Busy) => Some(Throttle::Verifications),
            _ => None,
        }
    }
}

impl Throttle {
    fn message(self, retry_after: u64) -> String {
        let what = match self {
            Throttle::Requests => "Rate limit exceeded",
            Throttle::Failures => "Too many failed authentication attempts from this address",
            Throttle::Concurrency => "Too many requests of this client are running at once",
            Throttle::Verifications => "Too many authentication attempts are in progress",
            Throttle::Streams => "Too many streamed exports are running on this server",
        };
        format!("{what}; retry in {retry_after} seconds")
    }
}

/// A request refused by the HTTP layer (see wire.rs), answered in the §4.2 shape like
/// every other error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Transport {
    /// Not an HTTP/1.x request Quarry can read (400).
    #[error("The request is not valid HTTP/1.1: {0}")]
    Malformed(&'static str),
    /// The request target is longer than the limit (414).
    #[error("The URL is longer than {0} bytes (see docs/limits.md)")]
    UriTooLong(usize),
    /// The request head is larger than the limit (431).
    #[error("The request line and headers are larger than {0} bytes (see docs/limits.md)")]
    HeadTooLarge(usize),
    /// The request head did not arrive in time (408).
    #[error("The request did not arrive within {0} seconds")]
    Timeout(u64),
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Request(r) => ApiError::Request(r),
            ExecError::Storage(s) => ApiError::Storage(s),
        }
    }
}

fn storage_parts(e: &StorageError) -> (StatusCode, &'static str, String) {
    match e {
        StorageError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "The database is unavailable; please retry shortly".into(),
        ),
        StorageError::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "query_timeout",
            "The query ran past the configured timeout".into(),
        ),
        StorageError::Query(_) | StorageError::Rejected(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "An internal error occurred".into(),
        ),
    }
}

impl ApiError {
    /// Status, code, message and the `details` of a 400.
    fn parts(&self) -> (StatusCode, &'static str, String, Option<Vec<Value>>) {
        match self {
            // Core's exec names the request's patterns; this is the fallback for a refusal
            // met elsewhere.
            ApiError::Auth(AuthError::Storage(StorageError::Rejected(_)))
            | ApiError::Storage(StorageError::Rejected(_)) => (
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "filters: the database refused a value of this request".into(),
                Some(vec![json!({
                    "param": "filters",
                    "message": "the database refused a value of this request (a pattern too complex?)",
                })]),
            ),
            ApiError::Auth(AuthError::Storage(e)) | ApiError::Storage(e) => {
                let (status, code, message) = storage_parts(e);
                (status, code, message, None)
            }
            ApiError::Auth(
                e @ (AuthError::BadClientId
                | AuthError::UnknownClient
                | AuthError::NoSecret
                | AuthError::WriteClient
                | AuthError::BadSecret),
            ) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                e.to_string(),
                None,
            ),
            ApiError::Request(r) => {
                let details = r
                    .details
                    .iter()
                    .map(|d| json!({"param": d.param, "message": d.message}))
                    .collect();
                (
                    StatusCode::BAD_REQUEST,
                    r.code(),
                    r.message(),
                    Some(details),
                )
            }
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden", self.to_string(), None),
            ApiError::ProjectNotFound => (
                StatusCode::NOT_FOUND,
                "project_not_found",
                self.to_string(),
                None,
            ),
            ApiError::RateLimited { .. } | ApiError::Auth(AuthError::Busy) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                self.to_string(),
                None,
            ),
            ApiError::Transport(t) => {
                let status = match t {
                    Transport::Malformed(_) => StatusCode::BAD_REQUEST,
                    Transport::UriTooLong(_) => StatusCode::URI_TOO_LONG,
                    Transport::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    Transport::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
                };
                let code = match t {
                    Transport::Timeout(_) => "request_timeout",
                    _ => "invalid_request",
                };
                // A 400 always has `details`; no parameter could be read.
                let details = matches!(t, Transport::Malformed(_)).then(Vec::new);
                (status, code, t.to_string(), details)
            }
            ApiError::Timeout => storage_parts(&StorageError::Timeout).into_details(),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "No such endpoint".into(),
                None,
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This endpoint answers GET and HEAD only".into(),
                None,
            ),
        }
    }

    /// The JSON body: `error`, `code`, `message`, and `details` on a 400.
    pub fn body(&self) -> Value {
        let (status, code, message, details) = self.parts();
        let mut obj = Map::new();
        obj.insert(
            "error".into(),
            Value::from(status.canonical_reason().unwrap_or("Error")),
        );
        obj.insert("code".into(), Value::from(code));
        obj.insert("message".into(), Value::from(message));
        if let Some(d) = details {
            obj.insert("details".into(), Value::Array(d));
        }
        Value::Object(obj)
    }
}

trait IntoDetails {
    fn into_details(self) -> (StatusCode, &'static str, String, Option<Vec<Value>>);
}

impl IntoDetails for (StatusCode, &'static str, String) {
    fn into_details(self) -> (StatusCode, &'static str, String, Option<Vec<Value>>) {
        (self.0, self.1, self.2, None)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The client gets a general sentence; the log keeps the cause.
            tracing::error!(error = %self, "request failed");
        }
        let mut resp = HttpResponse::build(status);
        match self {
            ApiError::RateLimited { retry_after, .. } => {
                resp.insert_header(("Retry-After", retry_after.to_string()));
            }
            ApiError::Auth(AuthError::Busy) => {
                resp.insert_header(("Retry-After", "1"));
            }
            ApiError::MethodNotAllowed => {
                resp.insert_header(("Allow", "GET, HEAD"));
            }
            _ => {}
        }
        if matches!(self, ApiError::Transport(_)) {
            // Nothing more is read from a connection whose request could not be read.
            resp.insert_header(("Connection", "close"));
        }
        resp.json(self.body())
    }
}
