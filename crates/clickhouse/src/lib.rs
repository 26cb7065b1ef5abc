//! quarry-clickhouse: events and profiles in ClickHouse, OpenPanel's own tables.
//!
//! It runs the SQL that quarry-core compiles for the ClickHouse dialect (never building any
//! itself) over HTTP with the official `clickhouse` crate, binds the `{pN:Type}`
//! placeholders as server-side parameters, reads results as `JSONCompactEachRow` and
//! decodes them into core's [`Value`]s. `migrate` creates OpenPanel's `events` and
//! `profiles` tables when they are missing and leaves existing ones alone, so Quarry can be
//! pointed at an OpenPanel database. Projects, clients and event metadata are not here:
//! in this deployment shape they live in PostgreSQL.
//!
//! Every event query carries a fresh `query_id`. Past the timeout the server stops it
//! (`max_execution_time`, [`ClickHouseStorage::with_query_timeout`]); when its future is
//! dropped first (an HTTP timeout, a client gone), a `KILL QUERY … ASYNC` is sent for that
//! id, since ClickHouse keeps running a query whose HTTP client went away.
//!
//! ClickHouse has no transactions: every [`ClickHouseStorage::insert_events`] call is one
//! `INSERT`, atomic on its own, but an import that fails midway keeps the batches already
//! inserted. Only SQLite and PostgreSQL import a file all or nothing.

mod binary;
mod cells;
mod insert;
pub mod schema;
mod write;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::Client;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use quarry_core::event::{NewEvent, NewProfile};
use quarry_core::sql::{CellType, Dialect, Param, Query, Row};
use quarry_core::storage::{
    ROWS_PER_CHUNK, RowSender, RowStream, Storage, StorageError, row_channel,
};
use uuid::Uuid;

pub use insert::event_uuid;

/// How long connecting to the server may take before it counts as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Below ClickHouse's HTTP keep-alive timeout (3 s by default), so that pooled connections
/// are not reused just as the server closes them.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// ClickHouse's `TIMEOUT_EXCEEDED` (`max_execution_time`).
const TIMEOUT_EXCEEDED: u32 = 159;
/// ClickHouse's `TOO_MANY_SIMULTANEOUS_QUERIES`: the server is saturated, try again later.
const TOO_MANY_SIMULTANEOUS_QUERIES: u32 = 202;
/// ClickHouse's `CANNOT_COMPILE_REGEXP`: RE2 refused the pattern (bad syntax, or "pattern
/// too large - compile failed").
const CANNOT_COMPILE_REGEXP: u32 = 427;

/// Storage over one ClickHouse database, reached over HTTP.
#[derive(Debug, Clone)]
pub struct ClickHouseStorage {
    client: Client,
    database: String,
    /// Whether statements carry a `max_execution_time`, which streams then lift.
    time_limited: bool,
}

/// Failures outside of query execution (connecting, migrating, importing).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL cannot be used.
    #[error("invalid ClickHouse URL: {0}")]
    Url(String),
    /// The server refused or failed a statement, or could not be reached.
    #[error(transparent)]
    ClickHouse(#[from] clickhouse::error::Error),
    /// An existing table lacks a column Quarry reads.
    #[error("ClickHouse table {table} has no column {column}; is it OpenPanel's?")]
    Schema {
        /// The table.
        table: &'static str,
        /// The missing column.
        column: &'static str,
    },
}

/// The columns Quarry's queries read, per table: `migrate` checks them on existing tables.
const READ_COLUMNS: [(&str, &[&str]); 2] = [
    (
        "events",
        &[
            "id",
            "name",
            "device_id",
            "profile_id",
            "project_id",
            "session_id",
            "properties",
            "created_at",
            "country",
            "city",
            "region",
            "longitude",
            "latitude",
            "os",
            "os_version",
            "browser",
            "browser_version",
            "device",
            "brand",
            "model",
            "duration",
            "path",
            "origin",
            "referrer",
            "referrer_name",
            "referrer_type",
            "sdk_name",
            "sdk_version",
            "imported_at",
        ],
    ),
    (
        "profiles",
        &[
            "id",
            "is_external",
            "first_name",
            "last_name",
            "email",
            "avatar",
            "properties",
            "project_id",
            "created_at",
        ],
    ),
];

impl ClickHouseStorage {
    /// A compiled query as a statement with its parameters, under a fresh `query_id`.
    fn statement(&self, query: &Query, id: &str) -> clickhouse::query::Query {
        // `query_raw`: the text is sent as compiled; `?` is not a client-side bind slot.
        let mut q = self
            .client
            .query_raw(&query.sql)
            .with_setting("query_id", id);
        for (i, p) in query.params.iter().enumerate() {
            let name = format!("p{}", i + 1);
            q = match p {
                Param::Text(s) => q.param(&name, s),
                Param::Int(v) | Param::Timestamp(v) => q.param(&name, v),
                Param::Float(f) => q.param(&name, f),
            };
        }
        q
    }

    /// A client for the HTTP interface at `url` (`http://[user[:password]@]host:port`),
    /// using `database`. Nothing is sent until the first query.
    pub fn connect(url: &str, database: &str) -> Result<Self, Error> {
        let endpoint = Endpoint::parse(url)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        connector.set_nodelay(true);
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        let mut client = Client::with_http_client(http)
            .with_url(endpoint.url)
            .with_database(database);
        if let Some(user) = endpoint.user {
            client = client.with_user(user);
        }
        if let Some(password) = endpoint.password {
            client = client.with_password(password);
        }
        Ok(ClickHouseStorage {
            client,
            database: database.to_string(),
            time_limited: false,
        })
    }

    /// Apply a ClickHouse setting to every statement (e.g. `max_execution_time`, so the
    /// server stops a query the HTTP server has given up on). A user in `readonly = 1`
    /// mode may not change settings, so none is sent unless configured.
    pub fn with_setting(mut self, name: &str, value: &str) -> Self {
        self.client = self.client.with_setting(name, value);
        self.time_limited |= name == "max_execution_time";
        self
    }

    /// Have the server stop any statement running longer than `timeout`
    /// (`max_execution_time`, in whole seconds, at least 1), reported as
    /// [`StorageError::Timeout`].
    pub fn with_query_timeout(self, timeout: Duration) -> Self {
        let seconds = timeout.as_secs().max(1).to_string();
        self.with_setting("max_execution_time", &seconds)
    }

    /// The database this storage reads.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The underlying client (for tests and administration).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Create the database and OpenPanel's `events` and `profiles` tables where they are
    /// missing. Existing tables are never altered; they are checked for the columns Quarry
    /// reads.
    pub async fn ensure_schema(&self) -> Result<(), Error> {
        // The database may not exist yet, and a request naming it would then fail.
        let admin = self.client.clone().with_database("system");
        let exists: u64 = admin
            .query_raw("SELECT count() FROM system.databases WHERE name = {db:String}")
            .param("db", &self.database)
            .fetch_one()
            .await?;
        if exists == 0 {
            admin
                .query_raw(&format!(
                    "CREATE DATABASE IF NOT EXISTS {}",
                    identifier(&self.database)
                ))
                .execute()
                .await?;
        }
        for (ddl, (table, columns)) in schema::TABLES.iter().zip(READ_COLUMNS) {
            let present = self.columns(table).await?;
            if present.is_empty() {
                self.client.query_raw(ddl).execute().await?;
                continue;
            }
            if let Some(column) = columns.iter().find(|c| !present.contains(**c)) {
                return Err(Error::Schema { table, column });
            }
        }
        Ok(())
    }

    /// Add [`schema::EVENTS_BY_NAME`], a projection of `events` ordered by project, event
    /// name and time, and build it for the parts already stored (waiting for that
    /// mutation). ClickHouse keeps it up to date on every insert and merge, and reads it
    /// instead of the table when it reads fewer granules: a chart of an event that is 0.1 %
    /// of the rows no longer reads nearly every granule of its days. Changes the table
    /// (also OpenPanel's), costs about the table's size again on disk; removed with
    /// [`schema::DROP_EVENTS_BY_NAME`]. Quarry's SQL is the same with or without it.
    pub async fn add_events_by_name_projection(&self) -> Result<String, Error> {
        let system = self.client.clone().with_database("system");
        let present: u64 = system
            .query_raw(
                "SELECT count() FROM system.projections WHERE database = {db:String} \
                 AND table = 'events' AND name = {name:String}",
            )
            .param("db", &self.database)
            .param("name", schema::EVENTS_BY_NAME)
            .fetch_one()
            .await?;
        if present == 0 {
            self.client
                .query_raw(&format!(
                    "ALTER TABLE events ADD PROJECTION {} \
                     (SELECT * ORDER BY project_id, name, created_at)",
                    schema::EVENTS_BY_NAME
                ))
                .execute()
                .await?;
        }
        // Parts written before the projection existed (or whose build an earlier run did
        // not finish) get it; a run where every part has it rebuilds nothing.
        let missing: u64 = system
            .query_raw(
                "SELECT count() FROM system.parts WHERE database = {db:String} \
                 AND table = 'events' AND active AND NOT has(projections, {name:String})",
            )
            .param("db", &self.database)
            .param("name", schema::EVENTS_BY_NAME)
            .fetch_one()
            .await?;
        if missing > 0 {
            // `mutations_sync` waits for the mutation to finish.
            self.client
                .clone()
                .with_setting("mutations_sync", "1")
                .query_raw(&format!(
                    "ALTER TABLE events MATERIALIZE PROJECTION {}",
                    schema::EVENTS_BY_NAME
                ))
                .execute()
                .await?;
        }
        let events = format!("{}.events", self.database);
        Ok(match (present, missing) {
            (0, _) => format!(
                "added projection {} to {events} (remove it with: {})",
                schema::EVENTS_BY_NAME,
                schema::DROP_EVENTS_BY_NAME
            ),
            (_, 0) => format!(
                "projection {} of {events} is present",
                schema::EVENTS_BY_NAME
            ),
            (_, n) => format!(
                "projection {} of {events} is present; built it for {n} parts without it",
                schema::EVENTS_BY_NAME
            ),
        })
    }

    /// The column names of a table of this database (empty when it does not exist).
    async fn columns(&self, table: &str) -> Result<HashSet<String>, Error> {
        let names: Vec<String> = self
            .client
            .clone()
            .with_database("system")
            .query_raw(
                "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            )
            .param("db", &self.database)
            .param("t", table)
            .fetch_all()
            .await?;
        Ok(names.into_iter().collect())
    }

    /// Insert events as one `INSERT` (the [`EventWriter`](quarry_core::write::EventWriter)
    /// form); returns how many were stored.
    ///
    /// An event is skipped when its id is already stored for its project at a time within
    /// the span of the batch's events (not anywhere: ids are not in the sort key), or
    /// repeats an earlier id of the batch, so importing a file again stores nothing new. Ids must be UUIDs in ClickHouse: any other id is stored as the
    /// name-based UUID of its text ([`event_uuid`]), and exported as that UUID.
    async fn insert_new_events(&self, events: &[NewEvent]) -> Result<u64, Error> {
        let ids: Vec<Uuid> = events.iter().map(|e| event_uuid(&e.id)).collect();
        let mut seen = self.stored_ids(events, &ids).await?;
        let fresh: Vec<(&NewEvent, Uuid)> = events
            .iter()
            .zip(ids)
            .filter(|(_, id)| seen.insert(*id))
            .collect();
        if fresh.is_empty() {
            return Ok(0);
        }
        let mut insert = self.client.insert::<insert::EventRow<'_>>("events").await?;
        for (e, id) in &fresh {
            insert.write(&insert::EventRow::new(e, *id)).await?;
        }
        insert.end().await?;
        Ok(fresh.len() as u64)
    }

    /// The ids of `events` that are already stored: looked up per project and per chunk
    /// of the batch, within the chunk's time span (so the primary key narrows the scan,
    /// and the id list stays far below ClickHouse's 128 KiB limit on a form field).
    async fn stored_ids(&self, events: &[NewEvent], ids: &[Uuid]) -> Result<HashSet<Uuid>, Error> {
        const CHUNK: usize = 1_000;
        let mut by_project: BTreeMap<&str, Vec<(i64, Uuid)>> = BTreeMap::new();
        for (e, id) in events.iter().zip(ids) {
            by_project
                .entry(&e.project_id)
                .or_default()
                .push((e.created_at, *id));
        }
        let mut stored = HashSet::new();
        for (project, rows) in by_project {
            // One count over the batch's whole time span first: a fresh import (or one of
            // new days) finds nothing there and skips the id lookups, one query per
            // thousand ids.
            let from = rows.iter().map(|(at, _)| *at).min().unwrap_or_default();
            let to = rows.iter().map(|(at, _)| *at).max().unwrap_or_default();
            let any: u8 = self
                .client
                .query(
                    "SELECT count() > 0 FROM events WHERE project_id = {project:String} \
                     AND created_at >= fromUnixTimestamp64Milli({from:Int64}) \
                     AND created_at <= fromUnixTimestamp64Milli({to:Int64})",
                )
                .param("project", project)
                .param("from", from)
                .param("to", to)
                .fetch_one()
                .await?;
            if any == 0 {
                continue;
            }
            for chunk in rows.chunks(CHUNK) {
                let from = chunk.iter().map(|(at, _)| *at).min().unwrap_or_default();
                let to = chunk.iter().map(|(at, _)| *at).max().unwrap_or_default();
                let ids: Vec<String> = chunk.iter().map(|(_, id)| id.to_string()).collect();
                let found: Vec<String> = self
                    .client
                    .query_raw(
                        "SELECT DISTINCT toString(id) FROM events \
                         WHERE project_id = {project:String} \
                         AND created_at >= fromUnixTimestamp64Milli({from:Int64}) \
                         AND created_at <= fromUnixTimestamp64Milli({to:Int64}) \
                         AND id IN (SELECT arrayJoin({ids:Array(UUID)}))",
                    )
                    .param("project", project)
                    .param("from", from)
                    .param("to", to)
                    .param("ids", &ids)
                    .fetch_all()
                    .await?;
                stored.extend(found.iter().filter_map(|s| Uuid::try_parse(s).ok()));
            }
        }
        Ok(stored)
    }

    /// Insert or replace profiles as one `INSERT`: the last row written for
    /// `(project_id, id)` is the one read (`profiles` is a ReplacingMergeTree read with
    /// `FINAL`).
    async fn insert_profiles(&self, profiles: &[NewProfile]) -> Result<(), Error> {
        if profiles.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<insert::ProfileRow<'_>>("profiles")
            .await?;
        for p in profiles {
            insert.write(&insert::ProfileRow::from(p)).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// Number of events stored for a project.
    async fn count_project_events(&self, project_id: &str) -> Result<u64, Error> {
        Ok(self
            .client
            .query_raw("SELECT count() FROM events WHERE project_id = {p:String}")
            .param("p", project_id)
            .fetch_one()
            .await?)
    }
}

#[async_trait]
impl Storage for ClickHouseStorage {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        let id = Uuid::new_v4().to_string();
        let mut cursor = self
            .statement(query, &id)
            .fetch_bytes("JSONCompactEachRow")
            .map_err(storage_error)?;
        let mut running = Running {
            client: self.client.clone(),
            id,
            finished: false,
        };
        let body = cursor.collect().await;
        running.finished = true;
        let body = body.map_err(storage_error)?;
        cells::rows(&body, &query.columns)
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        let (sender, rows) = row_channel();
        let (store, query) = (self.clone(), query.clone());
        tokio::spawn(async move {
            // Binary first; a header with a type the binary decoder does not read stops
            // that statement (killed, nothing sent yet) and the rows are read as JSON.
            let sent = match store.send_rows(&query, Body::binary(), &sender).await {
                Sent::Unreadable => store.send_rows(&query, Body::Json, &sender).await,
                sent => sent,
            };
            if sent == Sent::All {
                sender.finish().await;
            }
        });
        Ok(rows)
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.client
            .query_raw("SELECT 1")
            .fetch_one::<u8>()
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}

/// How a streamed statement's body is read.
enum Body {
    /// `RowBinaryWithNamesAndTypes`; the layout once its header was read.
    Binary(Option<binary::Layout>),
    /// `JSONCompactEachRow`: takes every type.
    Json,
}

impl Body {
    fn binary() -> Body {
        Body::Binary(None)
    }

    fn format(&self) -> &'static str {
        match self {
            Body::Binary(_) => "RowBinaryWithNamesAndTypes",
            Body::Json => "JSONCompactEachRow",
        }
    }

    /// Up to a chunk of whole rows from the start of `bytes` (`end`: no more bytes will
    /// come), and the bytes they took; no rows and 0 bytes when more must be read first.
    fn decode(
        &mut self,
        bytes: &[u8],
        end: bool,
        columns: &[CellType],
    ) -> Result<(Vec<Row>, usize), Stop> {
        match self {
            Body::Json => {
                // Lines end in '\n', which never occurs inside a UTF-8 sequence.
                let last = memchr::memchr_iter(b'\n', bytes).nth(ROWS_PER_CHUNK - 1);
                let upto = match last {
                    Some(at) => at + 1,
                    None if end => bytes.len(),
                    None => memchr::memrchr(b'\n', bytes).map_or(0, |at| at + 1),
                };
                let rows = cells::rows(&bytes[..upto], columns).map_err(Stop::Failed)?;
                Ok((rows, upto))
            }
            Body::Binary(Some(layout)) => {
                let (rows, used) = layout
                    .rows(bytes, columns, ROWS_PER_CHUNK)
                    .map_err(Stop::from)?;
                if end && rows.is_empty() && used < bytes.len() {
                    return Err(Stop::Failed(StorageError::Query(
                        "the result ended inside a row".into(),
                    )));
                }
                Ok((rows, used))
            }
            Body::Binary(layout) => match binary::Layout::new(bytes, columns) {
                Ok((read, used)) => {
                    *layout = Some(read);
                    Ok((Vec::new(), used))
                }
                Err(binary::Stop::Short) if !end => Ok((Vec::new(), 0)),
                Err(binary::Stop::Short) if bytes.is_empty() => Err(Stop::Failed(
                    StorageError::Query("the result has no header".into()),
                )),
                Err(e) => Err(Stop::from(e)),
            },
        }
    }
}

/// Why a body's reading stopped early.
enum Stop {
    /// The binary header names a type the binary decoder does not read.
    Unreadable,
    Failed(StorageError),
}

impl From<binary::Stop> for Stop {
    fn from(e: binary::Stop) -> Stop {
        match e {
            binary::Stop::Unsupported(_) => Stop::Unreadable,
            binary::Stop::Short => Stop::Failed(StorageError::Query(
                "the result ended inside its header".into(),
            )),
            binary::Stop::Bad(why) => Stop::Failed(StorageError::Query(why)),
        }
    }
}

/// How sending a statement's rows ended.
#[derive(Debug, PartialEq)]
enum Sent {
    /// Every row was sent; the stream can be finished.
    All,
    /// An error was sent, or the reader went away.
    Stopped,
    /// Nothing was sent: read the statement again as JSON.
    Unreadable,
}

impl ClickHouseStorage {
    /// Run a streamed statement and send its rows, decoded from `body`, as they arrive.
    async fn send_rows(&self, query: &Query, mut body: Body, sender: &RowSender) -> Sent {
        let id = Uuid::new_v4().to_string();
        let mut statement = self.statement(query, &id);
        if self.time_limited {
            // The reader bounds its wait for each chunk; a dropped stream kills the query.
            statement = statement.with_setting("max_execution_time", "0");
        }
        let mut cursor = match statement.fetch_bytes(body.format()) {
            Ok(cursor) => cursor,
            Err(e) => {
                sender.send(Err(storage_error(e))).await;
                return Sent::Stopped;
            }
        };
        // Dropped unfinished (an early return, or the task dropped with the stream), it
        // kills the query.
        let mut running = Running {
            client: self.client.clone(),
            id,
            finished: false,
        };
        // Bytes not decoded yet: at most the start of a row (or of the header).
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let end = match cursor.next().await {
                Ok(Some(bytes)) => {
                    pending.extend_from_slice(&bytes);
                    false
                }
                Ok(None) => true,
                Err(e) => {
                    running.finished = true;
                    sender.send(Err(storage_error(e))).await;
                    return Sent::Stopped;
                }
            };
            if end {
                running.finished = true;
            }
            let mut from = 0;
            loop {
                match body.decode(&pending[from..], end, &query.columns) {
                    Ok((rows, 0)) if rows.is_empty() => break,
                    Ok((rows, used)) => {
                        from += used;
                        if !sender.send(Ok(rows)).await {
                            return Sent::Stopped;
                        }
                    }
                    Err(Stop::Unreadable) => return Sent::Unreadable,
                    Err(Stop::Failed(e)) => {
                        sender.send(Err(e)).await;
                        return Sent::Stopped;
                    }
                }
                if from == pending.len() {
                    break;
                }
            }
            pending.drain(..from);
            if end {
                return Sent::All;
            }
        }
    }
}

/// An event query on the server. Dropped before its answer was read (the future of `fetch`
/// was dropped), it asks the server to kill it, without waiting for the answer.
struct Running {
    client: Client,
    id: String,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime left to send from: max_execution_time stops the query.
            return;
        };
        let (client, id) = (self.client.clone(), std::mem::take(&mut self.id));
        runtime.spawn(async move {
            // A failure leaves the query to max_execution_time, as before.
            let _ = client
                .query_raw("KILL QUERY WHERE query_id = {id:String} ASYNC")
                .param("id", id)
                .execute()
                .await;
        });
    }
}

/// Map a client error onto the storage errors the server turns into HTTP statuses.
pub(crate) fn storage_error(e: clickhouse::error::Error) -> StorageError {
    use clickhouse::error::Error as E;
    match &e {
        E::Network(_) => StorageError::Unavailable(e.to_string()),
        E::TimedOut => StorageError::Timeout,
        E::BadResponse(msg) => match exception_code(msg) {
            Some(TIMEOUT_EXCEEDED) => StorageError::Timeout,
            Some(TOO_MANY_SIMULTANEOUS_QUERIES) => StorageError::Unavailable(e.to_string()),
            Some(CANNOT_COMPILE_REGEXP) => StorageError::Rejected(e.to_string()),
            // A proxy in front of ClickHouse answering for it.
            None if ["502 ", "503 ", "504 "].iter().any(|s| msg.starts_with(s)) => {
                StorageError::Unavailable(e.to_string())
            }
            _ => StorageError::Query(e.to_string()),
        },
        _ => StorageError::Query(e.to_string()),
    }
}

/// The `N` of a `Code: N. DB::Exception: …` message.
fn exception_code(msg: &str) -> Option<u32> {
    let rest = &msg[msg.find("Code: ")? + 6..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// A ClickHouse identifier in backquotes.
fn identifier(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// The parts of a ClickHouse URL: credentials move out of the URL into the client.
#[derive(Debug, PartialEq, Eq)]
struct Endpoint {
    url: String,
    user: Option<String>,
    password: Option<String>,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint, Error> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(Error::Url("expected http://host:port".into()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" => {
                return Err(Error::Url(
                    "https is not built in; reach ClickHouse over http (e.g. through a local TLS proxy)"
                        .into(),
                ));
            }
            other => return Err(Error::Url(format!("unsupported scheme {other:?}"))),
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(Error::Url("no host".into()));
        }
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(percent_decode(user)?), Some(percent_decode(pass)?)),
                None => (Some(percent_decode(u)?), None),
            },
        };
        Ok(Endpoint {
            url: format!("{scheme}://{host}{tail}"),
            user,
            password,
        })
    }
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::Url("bad percent-encoding in the credentials".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::Url("credentials are not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_with_and_without_credentials() {
        let e = Endpoint::parse("http://127.0.0.1:8123").unwrap();
        assert_eq!(e.url, "http://127.0.0.1:8123");
        assert_eq!((e.user, e.password), (None, None));

        let e = Endpoint::parse("http://bob:p%40ss%3Aw@ch.local:8123/?x=1").unwrap();
        assert_eq!(e.url, "http://ch.local:8123/?x=1");
        assert_eq!(e.user.as_deref(), Some("bob"));
        assert_eq!(e.password.as_deref(), Some("p@ss:w"));

        assert!(matches!(
            Endpoint::parse("https://x:8443"),
            Err(Error::Url(_))
        ));
        assert!(matches!(Endpoint::parse("ch:8123"), Err(Error::Url(_))));
        assert!(matches!(
            Endpoint::parse("http://u:%zz@h"),
            Err(Error::Url(_))
        ));
    }

    #[test]
    fn exception_codes() {
        assert_eq!(
            exception_code("Code: 159. DB::Exception: Timeout exceeded"),
            Some(159)
        );
        assert_eq!(exception_code("503 Service Unavailable"), None);
        assert!(matches!(
            storage_error(clickhouse::error::Error::BadResponse(
                "Code: 159. DB::Exception: Timeout exceeded: elapsed 1 s".into()
            )),
            StorageError::Timeout
        ));
        assert!(matches!(
            storage_error(clickhouse::error::Error::BadResponse(
                "503 Service Unavailable".into()
            )),
            StorageError::Unavailable(_)
        ));
        assert!(matches!(
            storage_error(clickhouse::error::Error::BadResponse(
                "Code: 62. DB::Exception: Syntax error".into()
            )),
            StorageError::Query(_)
        ));
        assert!(matches!(
            storage_error(clickhouse::error::Error::BadResponse(
                "Code: 427. DB::Exception: OptimizedRegularExpression: cannot compile re2: \
                 \\pL{1000}, error: pattern too large - compile failed"
                    .into()
            )),
            StorageError::Rejected(_)
        ));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(identifier("openpanel"), "`openpanel`");
        assert_eq!(identifier("a`b\\c"), "`a\\`b\\\\c`");
    }
}
