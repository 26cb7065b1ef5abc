//! Streams ([`Storage::stream`](quarry_core::storage::Storage::stream)): a statement stepped
//! on a blocking thread of its own, over a read-only connection opened for it, its rows
//! decoded there and sent in chunks through core's row channel.
//!
//! Why not sqlx, as every other query here: its SQLite driver steps statements on a worker
//! thread and hands each row to the async side separately, a thread wake-up per row, and
//! copies every cell with SQLite's allocator so that another thread frees it. A stream of a
//! million rows spent most of its time there (3.3× `sqlite3 -json`; docs/performance.md).
//! rusqlite steps the same library (its version is chosen to link sqlx's `libsqlite3-sys`),
//! and one thread reads, decodes and sends [`ROWS_PER_CHUNK`]-row chunks.
//!
//! A stream's connection opens the database as sqlx's do (the same name and flags, so the
//! same file or the same shared in-memory database), read-only, with the same `regexp`
//! function. Its statement stops at the next
//! progress check once the stream's reader has gone (a client that disconnected). Streams
//! that read at once are bounded by a semaphore of their own, as many as the storage has
//! query connections; a wait for it counts among the pool's waits (`/metrics`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use quarry_core::sql::{CellType, Param, Query, Row};
use quarry_core::storage::{
    PoolWaits, ROWS_PER_CHUNK, RowSender, RowStream, StorageError, row_channel,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::Semaphore;

use crate::{PROGRESS_INTERVAL, Raw, value};

/// How long a stream waits for one of [`Readers`]' permits (as long as sqlx's pool waits
/// for a connection).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how stream connections open the storage's database, and how many may read
/// at once.
#[derive(Debug, Clone)]
pub(crate) struct Readers {
    target: Arc<Target>,
    permits: Arc<Semaphore>,
    /// The storage's count of waits for a connection (`/metrics`): a stream waiting for a
    /// reader counts there too.
    waits: Arc<PoolWaits>,
}

#[derive(Debug)]
struct Target {
    /// The name sqlx opens (a path, a `file:` URI, or an in-memory database's name).
    path: PathBuf,
    flags: OpenFlags,
    busy_timeout: Duration,
}

impl Readers {
    /// Readers of the database sqlx opens for `url` (`filename` is its options'
    /// `get_filename()`), at most `max` at once.
    pub(crate) fn new(
        url: &str,
        filename: &Path,
        busy_timeout: Duration,
        max: u32,
        waits: Arc<PoolWaits>,
    ) -> Self {
        let (path, flags) = opened_as(url, filename);
        let permits = usize::try_from(max.max(1)).unwrap_or(1);
        Readers {
            target: Arc::new(Target {
                path,
                flags,
                busy_timeout,
            }),
            permits: Arc::new(Semaphore::new(permits)),
            waits,
        }
    }

    pub(crate) async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        let acquire = async {
            tokio::time::timeout(ACQUIRE_TIMEOUT, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| {
                    StorageError::Unavailable("no stream reader came free in time".into())
                })?
                .map_err(|e| StorageError::Unavailable(e.to_string()))
        };
        let permit = self.waits.acquire(acquire).await?;
        let target = Arc::clone(&self.target);
        // Opened before the response starts, so a database that cannot be opened is a 503.
        let conn = tokio::task::spawn_blocking(move || target.open())
            .await
            .map_err(|e| StorageError::Unavailable(e.to_string()))??;
        let (tx, rows) = row_channel();
        let (sql, params, columns) = (
            query.sql.clone(),
            query.params.clone(),
            query.columns.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let sent = conn
                .progress_handler(PROGRESS_INTERVAL, Some(tx.reader_gone()))
                .map_err(map_err)
                .and_then(|()| send_rows(&conn, &sql, &params, &columns, &tx));
            match sent {
                Ok(true) => tx.blocking_finish(),
                Ok(false) => {}
                Err(e) => {
                    tx.blocking_send(Err(e));
                }
            }
        });
        Ok(rows)
    }
}

/// The name and flags sqlx opens the database of `url` with (its `from_db_and_params` and
/// `connection/establish.rs`), read-only: the same name opened the same way is the same
/// database, a file or a shared in-memory one. sqlx's own URL of its options cannot be
/// used: it panics for an in-memory database's name.
fn opened_as(url: &str, filename: &Path) -> (PathBuf, OpenFlags) {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    let mut memory = database == ":memory:";
    let mut shared = memory;
    let (mut immutable, mut vfs) = (false, None);
    for (key, value) in params.split('&').filter_map(|p| p.split_once('=')) {
        match (key, value) {
            ("mode", "memory") => (memory, shared) = (true, true),
            ("cache", value) => shared = value == "shared",
            ("immutable", value) => immutable = matches!(value, "true" | "1"),
            ("vfs", value) => vfs = Some(value),
            _ => {}
        }
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if memory {
        flags |= OpenFlags::SQLITE_OPEN_MEMORY;
    }
    flags |= if shared {
        OpenFlags::SQLITE_OPEN_SHARED_CACHE
    } else {
        OpenFlags::SQLITE_OPEN_PRIVATE_CACHE
    };
    if !immutable && vfs.is_none() {
        return (filename.to_path_buf(), flags);
    }
    // As sqlx: the name as a `file:` URI, its bytes other than letters and digits escaped.
    let mut uri = String::from("file:");
    for b in filename.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() {
            uri.push(char::from(*b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    let mut sep = '?';
    if immutable {
        uri.push_str("?immutable=true");
        sep = '&';
    }
    if let Some(vfs) = vfs {
        uri.push(sep);
        uri.push_str("vfs=");
        uri.push_str(vfs);
    }
    (PathBuf::from(uri), flags)
}

impl Target {
    fn open(&self) -> Result<Connection, StorageError> {
        let unavailable = |e: rusqlite::Error| StorageError::Unavailable(e.to_string());
        let conn = Connection::open_with_flags(&self.path, self.flags).map_err(unavailable)?;
        conn.busy_timeout(self.busy_timeout).map_err(unavailable)?;
        // `mode=memory` lifts the read-only flag; the statement is still only a reader.
        conn.pragma_update(None, "query_only", true)
            .map_err(unavailable)?;
        quarry_sqlite_regexp::register_rusqlite(&conn)
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        Ok(conn)
    }
}

/// Step the statement and send its rows; `Ok(true)` once every row was sent, `Ok(false)`
/// when the reader went away.
fn send_rows(
    conn: &Connection,
    sql: &str,
    params: &[Param],
    columns: &[CellType],
    tx: &RowSender,
) -> Result<bool, StorageError> {
    let mut statement = conn.prepare(sql).map_err(map_err)?;
    for (i, p) in params.iter().enumerate() {
        let bound = match p {
            Param::Text(s) => statement.raw_bind_parameter(i + 1, s.as_str()),
            Param::Int(n) | Param::Timestamp(n) => statement.raw_bind_parameter(i + 1, *n),
            Param::Float(f) => statement.raw_bind_parameter(i + 1, *f),
        };
        bound.map_err(map_err)?;
    }
    let mut rows = statement.raw_query();
    let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
    while let Some(row) = rows.next().map_err(map_err)? {
        chunk.push(decode(row, columns)?);
        if chunk.len() == ROWS_PER_CHUNK && !tx.blocking_send(Ok(std::mem::take(&mut chunk))) {
            return Ok(false);
        }
    }
    Ok(tx.blocking_send(Ok(chunk)))
}

/// A row's cells, decoded as the query declares them ([`value`], as a fetch's are).
fn decode(row: &rusqlite::Row<'_>, columns: &[CellType]) -> Result<Row, StorageError> {
    columns
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let raw = match row.get_ref(i).map_err(map_err)? {
                ValueRef::Null => Raw::Null,
                ValueRef::Integer(n) => Raw::Int(n),
                ValueRef::Real(f) => Raw::Real(f),
                ValueRef::Text(bytes) => Raw::Text(std::str::from_utf8(bytes).map_err(|e| {
                    StorageError::Query(format!("column {i} is not UTF-8 text: {e}"))
                })?),
                // sqlx reads no BLOB as text either, and no event column is one.
                ValueRef::Blob(_) => {
                    return Err(StorageError::Query(format!("column {i} is a BLOB")));
                }
            };
            value(*ty, raw)
        })
        .collect()
}

fn map_err(e: rusqlite::Error) -> StorageError {
    match &e {
        // Only the progress handler interrupts, once the reader is gone (nobody reads this).
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::OperationInterrupted => {
            StorageError::Timeout
        }
        rusqlite::Error::SqliteFailure(_, Some(message))
            if message.starts_with(quarry_sqlite_regexp::REJECTED) =>
        {
            StorageError::Rejected(message.clone())
        }
        _ => StorageError::Query(e.to_string()),
    }
}
