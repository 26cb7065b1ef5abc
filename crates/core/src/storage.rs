//! The seam between the compiler and the databases.
//!
//! A backend executes a compiled [`Query`] and decodes every column as the query declares
//! it ([`CellType`](crate::sql::CellType)) into core's [`Value`](crate::sql::Value)s. It never builds SQL: everything it runs
//! comes from this crate's compiler, so all backends answer the same questions.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;

use crate::sql::{Dialect, Query, Row};

/// Why storage could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached (→ 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The query ran past the configured timeout (→ 504).
    #[error("query timed out")]
    Timeout,
    /// The engine refused a value the request supplied, such as a regular expression it
    /// finds too complex: the user's input, not a fault (→ 400 naming the request's
    /// patterns). The text is the engine's, for the log only.
    #[error("the database refused a value of the request: {0}")]
    Rejected(String),
    /// Anything else the database reported (→ 500; logged, never shown).
    #[error("storage error: {0}")]
    Query(String),
}

/// A database that runs compiled queries.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// The dialect queries for this storage must be compiled in.
    fn dialect(&self) -> Dialect;

    /// Run one compiled query and decode its rows as `query.columns` declares.
    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError>;

    /// Run one compiled query and read its rows as the database sends them, a chunk at a
    /// time, at the reader's pace: a few chunks ahead of the reader at most, so memory
    /// stays the same however many rows the query returns. The query runs under no timeout
    /// of its own (the reader bounds its wait for each chunk) until its last row is read
    /// or the stream is dropped, which stops it on the server as a dropped `fetch` does.
    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StorageError>;

    /// How the connection pool of queries is used (for `/metrics`); `None` when the
    /// backend has none of its own to report (ClickHouse speaks HTTP).
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }
}

/// A connection pool's use, as `/metrics` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolStatus {
    /// Connections open.
    pub size: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
    /// Queries waiting for a connection now.
    pub waiting: u64,
    /// Connections handed to queries so far.
    pub acquired: u64,
    /// Seconds queries spent waiting for those connections, in all.
    pub wait_seconds: f64,
}

/// The waits for a pool's connections, counted by the backend around each acquisition.
#[derive(Debug, Default)]
pub struct PoolWaits {
    waiting: AtomicU64,
    acquired: AtomicU64,
    wait_nanos: AtomicU64,
}

impl PoolWaits {
    /// Run `acquire`, counting the wait (also when the future is dropped mid-wait).
    pub async fn acquire<T, E>(
        &self,
        acquire: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        struct Waiting<'a>(&'a AtomicU64);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        let started = std::time::Instant::now();
        let result = acquire.await;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        if result.is_ok() {
            self.acquired.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// The status of a pool of `size` connections (`idle` of them idle, at most `max`).
    pub fn status(&self, size: u32, idle: u32, max: u32) -> PoolStatus {
        PoolStatus {
            size,
            idle,
            max,
            waiting: self.waiting.load(Ordering::Relaxed),
            acquired: self.acquired.load(Ordering::Relaxed),
            wait_seconds: self.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// The rows of one query as they arrive ([`Storage::stream`]).
#[async_trait]
pub trait RowStream: Send {
    /// The next rows, in the query's order (never an empty chunk); `None` after the last.
    async fn next(&mut self) -> Result<Option<Vec<Row>>, StorageError>;

    /// Every remaining row, in memory (tests and small results).
    async fn read_all(&mut self) -> Result<Vec<Row>, StorageError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next().await? {
            all.extend(chunk);
        }
        Ok(all)
    }
}

/// Rows per chunk a backend sends through a [`row_channel`].
pub const ROWS_PER_CHUNK: usize = 512;

/// Chunks a backend reads ahead of the stream's reader.
const CHUNKS_AHEAD: usize = 4;

/// A bounded channel of row chunks: a backend reads its query on a task of its own and
/// sends the rows through the [`RowSender`]; the reader holds the [`RowStream`]. When the
/// reader falls behind, `send` waits (and so does the query); when the reader drops the
/// stream, `send` fails and the task stops its query.
pub fn row_channel() -> (RowSender, Box<dyn RowStream>) {
    let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
    (RowSender(tx), Box::new(ChannelRows(rx, false)))
}

/// The sending end of a [`row_channel`].
#[derive(Debug)]
pub struct RowSender(mpsc::Sender<Result<Vec<Row>, StorageError>>);

impl RowSender {
    /// Send a chunk (an empty one is skipped) or an error; `false` once the reader is
    /// gone.
    pub async fn send(&self, chunk: Result<Vec<Row>, StorageError>) -> bool {
        if chunk.as_ref().is_ok_and(Vec::is_empty) {
            return !self.0.is_closed();
        }
        self.0.send(chunk).await.is_ok()
    }

    /// Decode a statement's rows as they come and send them in chunks of
    /// [`ROWS_PER_CHUNK`]; `true` once the last chunk is sent, `false` when the statement
    /// or a row failed (the error was sent) or the reader went away. The caller then
    /// calls [`RowSender::finish`] (after whatever must precede it).
    pub async fn send_all<R, E>(
        &self,
        mut rows: impl Stream<Item = Result<R, E>> + Unpin,
        decode: impl Fn(R) -> Result<Row, StorageError>,
        failed: impl Fn(E) -> StorageError,
    ) -> bool {
        let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
        while let Some(row) = rows.next().await {
            match row.map_err(&failed).and_then(&decode) {
                Ok(row) => chunk.push(row),
                Err(e) => {
                    self.send(Err(e)).await;
                    return false;
                }
            }
            if chunk.len() == ROWS_PER_CHUNK && !self.send(Ok(std::mem::take(&mut chunk))).await {
                return false;
            }
        }
        self.send(Ok(chunk)).await
    }

    /// Say that the last row was sent. A stream whose sender goes away without this (a
    /// backend task that panicked) ends in an error, never as if it were complete.
    pub async fn finish(self) {
        let _ = self.0.send(Ok(Vec::new())).await;
    }

    /// [`RowSender::send`] from a thread outside the async runtime (a backend that reads
    /// its statement on a blocking thread): waits while the reader is behind.
    pub fn blocking_send(&self, chunk: Result<Vec<Row>, StorageError>) -> bool {
        if chunk.as_ref().is_ok_and(Vec::is_empty) {
            return !self.0.is_closed();
        }
        self.0.blocking_send(chunk).is_ok()
    }

    /// [`RowSender::finish`] from a thread outside the async runtime.
    pub fn blocking_finish(self) {
        let _ = self.0.blocking_send(Ok(Vec::new()));
    }

    /// A check, for a statement's progress handler, of whether the reader has gone away
    /// (the statement should stop). It holds a sender of its own: drop it with the
    /// statement's connection, before or with this sender.
    pub fn reader_gone(&self) -> impl Fn() -> bool + Send + 'static {
        let sender = self.0.clone();
        move || sender.is_closed()
    }
}

/// The receiver, and whether the end was read.
struct ChannelRows(mpsc::Receiver<Result<Vec<Row>, StorageError>>, bool);

#[async_trait]
impl RowStream for ChannelRows {
    async fn next(&mut self) -> Result<Option<Vec<Row>>, StorageError> {
        match self.0.recv().await {
            Some(Ok(rows)) if rows.is_empty() => {
                self.0.close();
                self.1 = true;
                Ok(None)
            }
            Some(chunk) => chunk.map(Some),
            None if self.1 => Ok(None),
            None => Err(StorageError::Query(
                "the database's rows stopped before the last one".into(),
            )),
        }
    }
}

/// Rows already in memory, as one chunk: for small results and test doubles.
pub fn rows_at_once(rows: Vec<Row>) -> Box<dyn RowStream> {
    Box::new(AtOnce(Some(rows).filter(|r| !r.is_empty())))
}

struct AtOnce(Option<Vec<Row>>);

#[async_trait]
impl RowStream for AtOnce {
    async fn next(&mut self) -> Result<Option<Vec<Row>>, StorageError> {
        Ok(self.0.take())
    }
}
