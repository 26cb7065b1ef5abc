//! Streamed exports: every row an events request matches, as NDJSON, CSV or Parquet, in
//! chunks.
//!
//! The body is a stream of keyset batches ([`EventsWalk`]): actix-web asks for the next
//! chunk only when the connection has taken the previous ones, so a slow client slows the
//! reads and at most one batch is held. Each batch runs under the query timeout. The first
//! batch is read before the response starts, so a request that fails at once gets its
//! status (400, 503, 504) like any other; a failure after that ends the body early: an
//! NDJSON body gets a last `{"error": …}` line, and the chunked encoding is left
//! unterminated so that no client mistakes it for a complete export. A client that goes
//! away drops the stream, and with it the query being read.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use quarry_core::compile::Context;
use quarry_core::exec::{EventsWalk, ExecError};
use quarry_core::export::{EncodeError, Encoder};
use quarry_core::request::{EventsRequest, ExportFormat};
use quarry_core::storage::StorageError;

use crate::backends::Backends;
use crate::error::ApiError;
use crate::slots::Slot;

/// Where a stream is.
struct Walk {
    walk: EventsWalk,
    encoder: Encoder,
    backends: Backends,
    timeout: Duration,
    /// Chunks ready to send before reading on.
    ready: VecDeque<Result<Bytes, std::io::Error>>,
    done: bool,
    /// The client's query slot, held until the stream ends.
    _slot: Slot,
}

impl Walk {
    /// The next batch's rows under the timeout, encoded; after the last, what ends the
    /// body (Parquet's footer), then `None`.
    async fn read(&mut self) -> Result<Option<Bytes>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let store = self.backends.store.as_ref();
        let meta = self.backends.meta.as_ref();
        let mut out = Vec::new();
        match tokio::time::timeout(self.timeout, self.walk.next(store, meta)).await {
            Err(_) => return Err(ApiError::Timeout),
            Ok(Err(e)) => return Err(ApiError::from(e)),
            Ok(Ok(None)) => {
                self.done = true;
                self.encoder.finish(&mut out).map_err(encoding)?;
            }
            Ok(Ok(Some(rows))) => {
                out.reserve(rows.len() * 256);
                self.encoder.rows(&rows, &mut out).map_err(encoding)?;
            }
        }
        Ok((!out.is_empty()).then(|| Bytes::from(out)))
    }

    /// A failure after the body started: log it, send the error line (NDJSON), then end
    /// the body without its terminating chunk.
    fn fail(&mut self, error: &ApiError) {
        tracing::error!(%error, "streamed export failed part-way");
        let mut out = Vec::new();
        self.encoder.failure(&error.body(), &mut out);
        if !out.is_empty() {
            self.ready.push_back(Ok(Bytes::from(out)));
        }
        self.ready
            .push_back(Err(std::io::Error::other("the export failed part-way")));
        self.done = true;
    }
}

/// An encoder's fault: a 500 (logged), never the client's.
fn encoding(e: EncodeError) -> ApiError {
    ApiError::Storage(StorageError::Query(e.to_string()))
}

/// Answer a streamed export: the first batch now (its failure is an ordinary error
/// response), the rest as the client reads.
pub(crate) async fn respond(
    backends: Backends,
    req: EventsRequest,
    ctx: Context,
    format: ExportFormat,
    timeout: Duration,
    slot: Slot,
) -> Result<HttpResponse, ApiError> {
    let dialect = backends.store.dialect();
    let walk = EventsWalk::new(req, ctx, dialect, EventsWalk::BATCH).map_err(ExecError::from)?;
    let encoder = Encoder::new(format, walk.layout()).map_err(encoding)?;
    let mut state = Walk {
        walk,
        encoder,
        backends,
        timeout,
        ready: VecDeque::new(),
        done: false,
        _slot: slot,
    };
    let mut head = Vec::new();
    state.encoder.start(&mut head).map_err(encoding)?;
    if let Some(first) = state.read().await? {
        head.extend_from_slice(&first);
    }
    state.ready.push_back(Ok(Bytes::from(head)));
    let body = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(chunk) = s.ready.pop_front() {
            return Some((chunk, s));
        }
        match s.read().await {
            Ok(Some(chunk)) => Some((Ok(chunk), s)),
            Ok(None) => None,
            Err(e) => {
                s.fail(&e);
                let chunk = s.ready.pop_front()?;
                Some((chunk, s))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}
