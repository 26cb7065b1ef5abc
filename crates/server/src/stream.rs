//! Streamed exports: every row an events request matches, as NDJSON, CSV or Parquet, in
//! chunks.
//!
//! The rows come from one query per span, read as the database sends them, in batches
//! ([`EventsWalk`]). A task reads and encodes them one batch ahead of the connection,
//! through a channel that holds one chunk: the database works on the next batch while the
//! client receives the current one, and when the client is slower the task waits, and so
//! does the query, so at most three batches (one read, one queued, one being written) are
//! held. Reading each batch runs under the query timeout, and so does handing it to the
//! client: one that stops reading is dropped. The first batch is read before the response
//! starts, so a request that fails at once gets its status (400, 503, 504) like any other;
//! a failure after that ends the body early: an NDJSON body gets a last `{"error": …}`
//! line, and the chunked encoding is left unterminated so that no client mistakes it for a
//! complete export. A client that goes away closes the channel, and the task drops the
//! walk, which stops its query on the server.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use quarry_core::compile::Context;
use quarry_core::exec::{Batch, EventsWalk, ExecError};
use quarry_core::export::{EncodeError, Encoder};
use quarry_core::request::{EventsRequest, ExportFormat};
use quarry_core::storage::StorageError;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use crate::backends::Backends;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::slots::Slot;

type Chunk = Result<Bytes, std::io::Error>;

/// What a stream holds until its last byte: the client's query slot and one of the
/// server's stream permits (`max_streams`).
pub(crate) type Hold = (Slot, OwnedSemaphorePermit);

/// Reads and encodes batches, in a pipeline of two: while a batch is encoded on a thread
/// of the blocking pool, the walk reads the next one on the runtime's thread (where the
/// storage decodes its rows), so an export uses two cores. `quarry export` runs the same
/// pipeline.
pub(crate) struct Producer {
    walk: EventsWalk,
    /// The encoder until [`Producer::start`] hands it to its thread.
    encoder: Option<Encoder>,
    /// The encoder's thread, once started.
    encoding: Option<Encoding>,
    format: ExportFormat,
    backends: Backends,
    /// Each batch must be read within it; `None`: no limit (`quarry export`).
    timeout: Option<Duration>,
    /// The batch read while the previous one was encoded.
    ahead: Option<Result<Option<Batch>, ApiError>>,
    done: bool,
    rows: u64,
    /// Where rows sent are counted (the server's `/metrics`).
    metrics: Option<Arc<Metrics>>,
}

/// A batch to encode (`None`: the end, Parquet's footer), and where its bytes go.
type Job = (Option<Batch>, oneshot::Sender<Result<Vec<u8>, EncodeError>>);

/// One stream's encoder, on one thread of the blocking pool for the stream's life. What it
/// keeps between batches (a Parquet row group being filled) is then allocated, grown and
/// freed on one thread: with a task per batch, each landing on whichever pool thread was
/// free, the allocator kept the freed memory of every thread it had passed through (three
/// Parquet streams through one server peaked at 178 MiB, against 108 MiB on one thread,
/// with 65 536-row groups; docs/decisions.md). The thread ends when the stream is dropped.
struct Encoding {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl Encoding {
    fn spawn(mut encoder: Encoder) -> Encoding {
        // One job at a time: the producer waits for each before it sends the next.
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(1);
        tokio::task::spawn_blocking(move || {
            for (batch, reply) in queue {
                let mut out = Vec::new();
                let done = match batch {
                    Some(batch) => {
                        // Text bodies grow by about this much; Parquet's stay empty until
                        // a row group closes.
                        if encoder.format() != ExportFormat::Parquet {
                            out.reserve(batch.len() * 256);
                        }
                        encoder.rows(batch, &mut out)
                    }
                    None => encoder.finish(&mut out),
                };
                // A producer that went away no longer wants it.
                let _ = reply.send(done.map(|()| out));
            }
        });
        Encoding { jobs }
    }

    /// Encode `batch` (or the end) on the encoder's thread.
    async fn encode(&self, batch: Option<Batch>) -> Result<Vec<u8>, ApiError> {
        let (reply, bytes) = oneshot::channel();
        self.jobs.send((batch, reply)).map_err(|_| encoder_lost())?;
        bytes.await.map_err(|_| encoder_lost())?.map_err(encoding)
    }
}

/// An encoder's fault: a 500 (logged), never the client's.
fn encoding(e: EncodeError) -> ApiError {
    ApiError::Storage(StorageError::Query(e.to_string()))
}

/// The encoder was lost: its thread panicked or was never started.
fn encoder_lost() -> ApiError {
    ApiError::Storage(StorageError::Query("the export's encoder failed".into()))
}

impl Producer {
    /// A pipeline over `walk`, encoding with `encoder`.
    pub(crate) fn new(
        walk: EventsWalk,
        encoder: Encoder,
        backends: Backends,
        timeout: Option<Duration>,
    ) -> Producer {
        Producer {
            walk,
            format: encoder.format(),
            encoder: Some(encoder),
            encoding: None,
            backends,
            timeout,
            ahead: None,
            done: false,
            rows: 0,
            metrics: None,
        }
    }

    /// Count the rows this pipeline encodes in `metrics`.
    pub(crate) fn counted(self, metrics: Arc<Metrics>) -> Producer {
        Producer {
            metrics: Some(metrics),
            ..self
        }
    }

    /// What comes before the first row (a CSV header); the encoder moves to its thread.
    pub(crate) fn start(&mut self) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        let mut encoder = self.encoder.take().ok_or_else(encoder_lost)?;
        encoder.start(&mut out).map_err(encoding)?;
        self.encoding = Some(Encoding::spawn(encoder));
        Ok(out)
    }

    /// Rows encoded so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The next batch, under the timeout.
    async fn next_batch(&mut self) -> Result<Option<Batch>, ApiError> {
        let store = self.backends.store.as_ref();
        let meta = self.backends.meta.as_ref();
        let next = self.walk.next(store, meta);
        let read = match self.timeout {
            Some(t) => tokio::time::timeout(t, next)
                .await
                .map_err(|_| ApiError::Timeout)?,
            None => next.await,
        };
        read.map_err(ApiError::from)
    }

    /// The next batch's rows, encoded; after the last, what ends the body (Parquet's
    /// footer), then `None`.
    pub(crate) async fn read(&mut self) -> Result<Option<Bytes>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let batch = match self.ahead.take() {
            Some(batch) => batch?,
            None => self.next_batch().await?,
        };
        let Some(batch) = batch else {
            self.done = true;
            let out = self.encoding()?.encode(None).await?;
            return Ok((!out.is_empty()).then(|| Bytes::from(out)));
        };
        self.rows += batch.len() as u64;
        if let Some(m) = &self.metrics {
            m.rows_streamed(batch.len() as u64);
        }
        let encoding = self.encoding.take().ok_or_else(encoder_lost)?;
        let (encoded, next) = tokio::join!(encoding.encode(Some(batch)), self.next_batch());
        self.encoding = Some(encoding);
        self.ahead = Some(next);
        Ok(Some(Bytes::from(encoded?)))
    }

    fn encoding(&self) -> Result<&Encoding, ApiError> {
        self.encoding.as_ref().ok_or_else(encoder_lost)
    }

    /// A failure after the body started: log it; the error line (NDJSON), then the error
    /// that ends the body without its terminating chunk.
    fn failure(&self, error: &ApiError) -> Vec<Chunk> {
        tracing::error!(%error, "streamed export failed part-way");
        let mut out = Vec::new();
        Encoder::failure_line(self.format, &error.body(), &mut out);
        let mut chunks = Vec::new();
        if !out.is_empty() {
            chunks.push(Ok(Bytes::from(out)));
        }
        chunks.push(Err(std::io::Error::other("the export failed part-way")));
        chunks
    }

    /// Read on until the walk ends, the client goes away, or a batch fails. `_hold` is
    /// the client's query slot and one of the server's stream permits, held as long as
    /// this runs.
    async fn run(mut self, tx: mpsc::Sender<Chunk>, _hold: Hold) {
        loop {
            let next = tokio::select! {
                // Dropping the read cancels its query.
                () = tx.closed() => return,
                next = self.read() => next,
            };
            let chunks = match next {
                Ok(Some(chunk)) => vec![Ok(chunk)],
                Ok(None) => return,
                Err(e) => self.failure(&e),
            };
            let last = chunks.last().is_some_and(Result::is_err);
            for chunk in chunks {
                // A client that stops reading holds a database connection and its query:
                // past the query timeout without taking a chunk, it is dropped.
                let stall = self.timeout.unwrap_or(Duration::MAX);
                match tokio::time::timeout(stall, tx.send(chunk)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        tracing::warn!("streamed export dropped: the client stopped reading");
                        return;
                    }
                }
            }
            if last {
                return;
            }
        }
    }
}

/// What was asked of a streamed export.
pub(crate) struct Stream {
    pub(crate) format: ExportFormat,
    /// Each batch's time limit.
    pub(crate) timeout: Duration,
    /// A HEAD request: the status and headers only.
    pub(crate) head: bool,
}

/// Answer a streamed export: the first batch now (its failure is an ordinary error
/// response), the rest as the client reads. A HEAD request is answered with the status
/// and headers once the first batch is read, and its query stops there.
pub(crate) async fn respond(
    backends: Backends,
    req: EventsRequest,
    ctx: Context,
    stream: Stream,
    hold: Hold,
    metrics: Arc<Metrics>,
) -> Result<HttpResponse, ApiError> {
    let Stream {
        format,
        timeout,
        head: head_only,
    } = stream;
    let dialect = backends.store.dialect();
    let walk = EventsWalk::new(req, ctx, dialect, EventsWalk::BATCH).map_err(ExecError::from)?;
    let encoder = Encoder::new(format, &walk.layout()).map_err(encoding)?;
    let mut producer = Producer::new(walk, encoder, backends, Some(timeout)).counted(metrics);
    let mut head = producer.start()?;
    if let Some(first) = producer.read().await? {
        head.extend_from_slice(&first);
    }
    if head_only {
        // No body and no length: the GET's is unknown (chunked).
        return Ok(HttpResponse::Ok()
            .content_type(format.media_type())
            .insert_header(("Cache-Control", "no-store"))
            .body(actix_web::body::None::new()));
    }
    let (tx, rx) = mpsc::channel::<Chunk>(1);
    actix_web::rt::spawn(producer.run(tx, hold));
    let first =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) });
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .insert_header(("Cache-Control", "no-store"))
        .streaming(futures_util::StreamExt::chain(first, rest)))
}
