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
fn json_line(line: &str) -> Result<Option<Value>, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(trimmed)
        .map(Some)
        .map_err(|e| format!("invalid JSON: {e}"))
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
    on_line: impl FnMut(usize),
) -> impl Iterator<Item = Result<T, Error>> {
    numbered_lines(reader, 1, parse, on_line)
        .map(|row| row.map_err(|(number, e)| Error::Input(format!("line {number}: {e}"))))
}

/// [`parsed_lines`] numbered from `first`, a bad line as its number and what is wrong.
fn numbered_lines<T>(
    reader: impl BufRead,
    first: u64,
    parse: impl Fn(&Value) -> Result<T, String>,
    mut on_line: impl FnMut(usize),
) -> impl Iterator<Item = Result<T, (u64, String)>> {
    reader.lines().enumerate().filter_map(move |(i, line)| {
        let number = first + i as u64;
        let mut line = match line {
            Ok(l) => l,
            Err(e) => return Some(Err((number, e.to_string()))),
        };
        if number == 1 && line.starts_with('\u{feff}') {
            // A byte-order mark is not part of the first line's JSON.
            line.drain(..'\u{feff}'.len_utf8());
        }
        on_line(line.len() + 1);
        match json_line(&line) {
            Ok(None) => None,
            Ok(Some(value)) => Some(parse(&value).map_err(|e| (number, e))),
            Err(e) => Some(Err((number, e))),
        }
    })
}

/// Check every line of the file at `path` before anything is written, on up to
/// [`CHECKERS`] threads at once, each reading a range of whole lines; the error of the
/// first bad line, numbered in the file, as the single-threaded [`parsed_lines`] gives it.
fn check_lines<T>(
    path: &std::path::Path,
    threads: usize,
    parse: impl Fn(&Value) -> Result<T, String> + Sync,
) -> Result<(), Error> {
    let cannot = |e: std::io::Error| Error::Input(format!("cannot open {}: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    let threads = threads.max(1) as u64;
    // Range starts: just after a line break at or past each k/threads of the file.
    let mut starts = vec![0u64];
    for k in 1..threads {
        let at = line_start_after(path, size * k / threads).map_err(cannot)?;
        if at > *starts.last().unwrap_or(&0) && at < size {
            starts.push(at);
        }
    }
    let ranges: Vec<(u64, u64)> = starts
        .iter()
        .zip(starts.iter().skip(1).chain([&size]))
        .map(|(a, b)| (*a, *b))
        .collect();
    // The first range with a bad line so far: a range after it stops, since its line
    // count is no longer needed (the ranges before it must still finish, to number it).
    let failed = std::sync::atomic::AtomicUsize::new(usize::MAX);
    // Each range: its line count, or its first bad line (numbered from the range's start).
    let checked: Vec<Result<u64, (u64, String)>> = std::thread::scope(|scope| {
        let (parse, failed) = (&parse, &failed);
        let workers: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(index, &(from, to))| {
                scope.spawn(move || -> Result<u64, (u64, String)> {
                    use std::io::{Read as _, Seek as _};
                    use std::sync::atomic::Ordering;
                    let mut file = std::fs::File::open(path).map_err(|e| (1, e.to_string()))?;
                    file.seek(std::io::SeekFrom::Start(from))
                        .map_err(|e| (1, e.to_string()))?;
                    let reader = BufReader::with_capacity(1 << 20, file.take(to - from));
                    let lines = std::cell::Cell::new(0u64);
                    // Only the file's first line may start with a byte-order mark.
                    let first = if from == 0 { 1 } else { 2 };
                    let count = |_| lines.set(lines.get() + 1);
                    for row in numbered_lines(reader, first, parse, count) {
                        if let Err((n, e)) = row {
                            failed.fetch_min(index, Ordering::Relaxed);
                            return Err((n + 1 - first, e));
                        }
                        if lines.get() % 1024 == 0 && failed.load(Ordering::Relaxed) < index {
                            // Not needed: an earlier range has the first bad line.
                            return Ok(lines.get());
                        }
                    }
                    Ok(lines.get())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err((1, "the check failed".into())))
            })
            .collect()
    });
    let mut before = 0u64;
    for range in checked {
        match range {
            Ok(lines) => before += lines,
            Err((n, e)) => {
                return Err(Error::Input(format!("line {}: {e}", before + n)));
            }
        }
    }
    Ok(())
}

/// Threads checking a ClickHouse import at most.
const CHECKERS: usize = 4;

/// The offset just after the first line break at or after `at` (the file's size if none).
fn line_start_after(path: &std::path::Path, at: u64) -> std::io::Result<u64> {
    use std::io::Seek as _;
    let mut file = std::fs::File::open(path)?;
    file.seek(std::io::SeekFrom::Start(at))?;
    let mut reader = BufReader::new(file);
    let mut skipped = Vec::new();
    let n = reader.read_until(b'\n', &mut skipped)?;
    Ok(at + n as u64)
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
    parse: impl Fn(&Value) -> Result<T, String> + Clone + Send + Sync + 'static,
) -> Result<ImportReport, Error> {
    let check_first = !db.atomic_writes();
    let spooled = if check_first { spool(input)? } else { None };
    let input = match &spooled {
        Some(file) => Input::File(file.path().to_path_buf()),
        None => input.clone(),
    };
    if check_first {
        match &input {
            Input::File(path) => {
                let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
                check_lines(path, cores.min(CHECKERS), parse.clone())?;
            }
            Input::Stdin => {
                for row in parsed_lines(input.open()?, parse.clone(), |_| {}) {
                    row?;
                }
            }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A line is bad when it is not an object with `"ok": true`.
    fn ok_line(v: &Value) -> Result<(), String> {
        match v.get("ok") {
            Some(Value::Bool(true)) => Ok(()),
            _ => Err("not ok".to_string()),
        }
    }

    fn check(text: &str, threads: usize) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.ndjson");
        std::fs::write(&path, text).unwrap();
        check_lines(&path, threads, ok_line).map_err(|e| e.to_string())
    }

    /// The file checked in ranges names the same first bad line as one pass over it:
    /// whatever the number of ranges, with blank lines, CRLF, a byte-order mark, no final
    /// line break, and bad lines in several ranges.
    #[test]
    fn ranges_name_the_first_bad_line_as_one_pass_does() {
        let mut lines: Vec<String> = (0..997)
            .map(|i| match i % 7 {
                0 => String::new(),
                1 => "{\"ok\": true}\r".into(),
                _ => format!("{{\"ok\": true, \"n\": {i}}}"),
            })
            .collect();
        lines[0] = "\u{feff}{\"ok\": true}".into();
        let good = lines.join("\n");
        for threads in 1..=5 {
            assert_eq!(check(&good, threads), Ok(()), "{threads}");
        }
        for bad in [[2, 996], [600, 900], [995, 996], [997, 997]] {
            let mut with = lines.clone();
            for line in bad {
                with[line - 1] = if line % 2 == 0 {
                    "{\"ok\":".into()
                } else {
                    "{}".into()
                };
            }
            let text = with.join("\n");
            let one_pass = parsed_lines(text.as_bytes(), ok_line, |_| {})
                .find_map(Result::err)
                .unwrap()
                .to_string();
            assert!(
                one_pass.contains(&format!("line {}: ", bad[0])),
                "{one_pass}"
            );
            for threads in 1..=5 {
                assert_eq!(
                    check(&text, threads),
                    Err(one_pass.clone()),
                    "{bad:?} {threads}"
                );
            }
        }
    }
}
