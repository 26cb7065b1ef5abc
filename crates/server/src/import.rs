//! Newline-delimited JSON import (§9 `quarry import`): streams the input at constant
//! memory in batches, so that a malformed line (named by its number) leaves nothing of that
//! file behind: one write unit per file where the store's units are atomic (SQLite,
//! PostgreSQL: a transaction); where they are not (ClickHouse), a first pass checks every
//! line before anything is inserted.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use quarry_core::event::{NewEvent, NewProfile, flatten_properties};
use quarry_core::time::parse_rfc3339;
use quarry_core::write::{LoadHint, WriteUnit};
use serde_json::Value;

use crate::Error;
use crate::backends::Databases;

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines that held a row.
    pub rows: u64,
    /// Rows stored (events whose id was already stored are skipped).
    pub stored: u64,
}

fn progress(total_bytes: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total_bytes {
        Some(n) => {
            let bar = ProgressBar::new(n);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta} left)")
            {
                bar.set_style(style);
            }
            bar
        }
        None => ProgressBar::new_spinner(),
    }
}

/// Read one JSON line (`None` for blank lines).
fn json_line(line: &str, number: u64) -> Result<Option<Value>, Error> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(trimmed)
        .map(Some)
        .map_err(|e| Error::Input(format!("line {number}: invalid JSON: {e}")))
}

/// Where an import reads from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// `-` is standard input, anything else a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::File(arg.into())
        }
    }

    /// The size in bytes of a file input.
    fn size(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File(path) => std::fs::metadata(path).ok().map(|m| m.len()),
        }
    }

    fn open(&self) -> Result<Box<dyn BufRead>, Error> {
        match self {
            Input::Stdin => Ok(Box::new(BufReader::new(std::io::stdin().lock()))),
            Input::File(path) => {
                let f = std::fs::File::open(path)
                    .map_err(|e| Error::Input(format!("cannot open {}: {e}", path.display())))?;
                Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
            }
        }
    }
}

/// Rows an import can write.
trait ImportRow: Sized + Sync {
    /// Whether these rows are events (a large load of them may defer index maintenance).
    const EVENTS: bool;

    /// Write one batch; returns the rows stored.
    #[allow(async_fn_in_trait)]
    async fn write(unit: &mut dyn WriteUnit, batch: &[Self]) -> Result<u64, Error>;
}

impl ImportRow for NewEvent {
    const EVENTS: bool = true;

    async fn write(unit: &mut dyn WriteUnit, batch: &[Self]) -> Result<u64, Error> {
        unit.insert_events(batch).await.map_err(Error::from)
    }
}

impl ImportRow for NewProfile {
    const EVENTS: bool = false;

    async fn write(unit: &mut dyn WriteUnit, batch: &[Self]) -> Result<u64, Error> {
        unit.upsert_profiles(batch).await.map_err(Error::from)?;
        Ok(batch.len() as u64)
    }
}

/// Write rows that need no checking (`quarry seed`): the profiles, then the events in
/// batches of `batch`, through the same writer as an import (one transaction on SQLite and
/// PostgreSQL); `on_batch` hears how many events each batch held.
pub(crate) async fn write_rows(
    db: &Databases,
    profiles: &[NewProfile],
    mut events: impl Iterator<Item = NewEvent>,
    batch: usize,
    mut on_batch: impl FnMut(usize),
) -> Result<(), Error> {
    let mut unit = db.begin().await?;
    NewProfile::write(unit.as_mut(), profiles).await?;
    loop {
        let rows: Vec<NewEvent> = events.by_ref().take(batch).collect();
        if rows.is_empty() {
            break;
        }
        NewEvent::write(unit.as_mut(), &rows).await?;
        on_batch(rows.len());
    }
    unit.commit().await.map_err(Error::from)?;
    Ok(())
}

/// Each non-blank line of `reader`, parsed, with its number; a bad line is an error naming it.
fn parsed_lines<T>(
    reader: impl BufRead,
    parse: impl Fn(&Value) -> Result<T, String>,
    mut on_line: impl FnMut(usize),
) -> impl Iterator<Item = Result<T, Error>> {
    reader.lines().enumerate().filter_map(move |(i, line)| {
        let number = i as u64 + 1;
        let mut line = match line {
            Ok(l) => l,
            Err(e) => return Some(Err(Error::Input(format!("line {number}: {e}")))),
        };
        if number == 1 && line.starts_with('\u{feff}') {
            // A byte-order mark is not part of the first line's JSON.
            line.drain(..'\u{feff}'.len_utf8());
        }
        on_line(line.len() + 1);
        match json_line(&line, number) {
            Ok(None) => None,
            Ok(Some(value)) => {
                Some(parse(&value).map_err(|e| Error::Input(format!("line {number}: {e}"))))
            }
            Err(e) => Some(Err(e)),
        }
    })
}

/// Copy standard input to a temporary file (ClickHouse imports read their input twice).
fn spool(input: &Input) -> Result<Option<tempfile::NamedTempFile>, Error> {
    if !matches!(input, Input::Stdin) {
        return Ok(None);
    }
    let mut file = tempfile::NamedTempFile::new()?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file)?;
    Ok(Some(file))
}

/// Batches parsed ahead of the writer: the parser waits when this many are queued.
const QUEUE: usize = 2;

/// Stream the input line by line, parse each non-blank line with `parse`, and write it in
/// batches that are kept only when every line was good: inside one unit where the store's
/// units are atomic (SQLite, PostgreSQL); otherwise (ClickHouse) after a first pass has
/// checked every line.
///
/// A thread of the blocking pool reads and parses while the database writes the batch
/// before (two cores busy instead of one; at most [`QUEUE`] batches wait between them).
/// A bad line stops both: the parser sends its error in place of the next batch; a write
/// error drops the queue, and the parser stops at its next batch.
async fn import_lines<T: ImportRow + Send + 'static>(
    db: &Databases,
    input: &Input,
    parse: impl Fn(&Value) -> Result<T, String> + Clone + Send + 'static,
) -> Result<ImportReport, Error> {
    let check_first = !db.atomic_writes();
    let spooled = if check_first { spool(input)? } else { None };
    let input = match &spooled {
        Some(file) => Input::File(file.path().to_path_buf()),
        None => input.clone(),
    };
    if check_first {
        let reader = input.open()?;
        for row in parsed_lines(reader, parse.clone(), |_| {}) {
            row?;
        }
    }
    let total_bytes = input.size();
    let bar = progress(total_bytes);
    let mut unit = if T::EVENTS {
        db.begin_load(LoadHint {
            input_bytes: total_bytes,
        })
        .await?
    } else {
        db.begin().await?
    };
    let size = unit.batch_rows();
    let (batches, mut queue) = tokio::sync::mpsc::channel::<Result<Vec<T>, Error>>(QUEUE);
    let parser_bar = bar.clone();
    tokio::task::spawn_blocking(move || {
        // Standard input's lock cannot cross threads: the input is opened here.
        let reader = match input.open() {
            Ok(reader) => reader,
            Err(e) => {
                let _ = batches.blocking_send(Err(e));
                return;
            }
        };
        let mut batch: Vec<T> = Vec::with_capacity(size);
        for row in parsed_lines(reader, parse, |n| parser_bar.inc(n as u64)) {
            let full = match row {
                Ok(row) => {
                    batch.push(row);
                    batch.len() >= size
                }
                Err(e) => {
                    let _ = batches.blocking_send(Err(e));
                    return;
                }
            };
            if full
                && batches
                    .blocking_send(Ok(std::mem::take(&mut batch)))
                    .is_err()
            {
                return; // The writer has stopped.
            }
        }
        if !batch.is_empty() {
            let _ = batches.blocking_send(Ok(batch));
        }
    });
    let mut rows = 0u64;
    let mut stored = 0u64;
    while let Some(batch) = queue.recv().await {
        let batch = batch?;
        rows += batch.len() as u64;
        stored += T::write(unit.as_mut(), &batch).await?;
        bar.set_message(format!("{rows} rows"));
    }
    stored -= unit.commit().await.map_err(Error::from)?;
    bar.finish_and_clear();
    Ok(ImportReport { rows, stored })
}

/// Import events into the configured event store, all or nothing. `project` applies to
/// lines without `projectId`; a line naming another project fails the import.
pub async fn import_events(
    db: &Databases,
    input: &Input,
    project: Option<&str>,
) -> Result<ImportReport, Error> {
    let project = project.map(str::to_owned);
    import_lines(db, input, move |v: &Value| {
        NewEvent::from_json(v, project.as_deref())
    })
    .await
}

/// Read one profile line: `{"id","projectId","firstName","lastName","email","avatar",
/// "isExternal","properties","createdAt"}`.
pub fn profile_from_json(v: &Value, project: Option<&str>) -> Result<NewProfile, String> {
    quarry_core::event::refuse_nul(v)?;
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let text = |k: &str| -> Result<String, String> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other @ (Value::Number(_) | Value::Bool(_))) => Ok(other.to_string()),
            Some(_) => Err(format!("{k}: expected a string")),
        }
    };
    let id = text("id")?;
    if id.is_empty() {
        return Err("id: missing".into());
    }
    let project_id = quarry_core::event::line_project(&text("projectId")?, project)?;

    let is_external = match obj.get("isExternal") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("isExternal: expected a boolean".into()),
    };
    let created_at = match obj.get("createdAt") {
        Some(Value::String(s)) => {
            parse_rfc3339(s).ok_or("createdAt: expected an RFC 3339 timestamp")?
        }
        Some(Value::Number(n)) => n.as_i64().ok_or("createdAt: expected milliseconds")?,
        None | Some(Value::Null) => 0,
        Some(_) => return Err("createdAt: expected a timestamp".into()),
    };
    Ok(NewProfile {
        id,
        project_id,
        is_external,
        first_name: text("firstName")?,
        last_name: text("lastName")?,
        email: text("email")?,
        avatar: text("avatar")?,
        properties: obj
            .get("properties")
            .map(flatten_properties)
            .unwrap_or_default(),
        created_at,
    })
}

/// Import profiles (insert or replace by project and id), all or nothing.
pub async fn import_profiles(
    db: &Databases,
    input: &Input,
    project: Option<&str>,
) -> Result<ImportReport, Error> {
    let project = project.map(str::to_owned);
    import_lines(db, input, move |v: &Value| {
        profile_from_json(v, project.as_deref())
    })
    .await
}
