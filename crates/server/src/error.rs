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
    /// Over the rate limit.
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until the window resets.
        retry_after: u64,
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
        StorageError::Query(_) => (
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
            ApiError::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Rate limit exceeded; retry in {retry_after} seconds"),
                None,
            ),
            ApiError::Timeout => storage_parts(&StorageError::Timeout).into_details(),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "No such endpoint".into(),
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
        if let ApiError::RateLimited { retry_after } = self {
            resp.insert_header(("Retry-After", retry_after.to_string()));
        }
        resp.json(self.body())
    }
}
