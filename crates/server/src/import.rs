//! Newline-delimited JSON import (§9 `quarry import`): streams the input at constant
//! memory in batches, inside one transaction per file, so a malformed line (named by its
//! number) leaves nothing of that file behind.

use std::io::{BufRead, IsTerminal};

use indicatif::{ProgressBar, ProgressStyle};
use quarry_core::event::{NewEvent, NewProfile, flatten_properties};
use quarry_core::time::parse_rfc3339;
use quarry_sqlite::Connection as SqliteConnection;
use quarry_sqlite::SqliteStorage;
use serde_json::Value;

use crate::Error;

/// Rows per batch insert.
const BATCH: usize = 2_000;

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

/// Stream `reader` line by line, parse each non-blank line with `parse`, and hand batches
/// to `flush` inside one transaction that commits only when every line was good.
async fn import_lines<T>(
    store: &SqliteStorage,
    reader: impl BufRead,
    total_bytes: Option<u64>,
    parse: impl Fn(&Value) -> Result<T, String>,
    mut flush: impl AsyncFnMut(&mut SqliteConnection, &[T]) -> Result<u64, Error>,
) -> Result<ImportReport, Error> {
    let bar = progress(total_bytes);
    let mut tx = store
        .pool()
        .begin()
        .await
        .map_err(|e| Error::Storage(e.to_string()))?;
    let mut batch: Vec<T> = Vec::with_capacity(BATCH);
    let mut rows = 0u64;
    let mut stored = 0u64;
    for (i, line) in reader.lines().enumerate() {
        let number = i as u64 + 1;
        let mut line = line.map_err(|e| Error::Input(format!("line {number}: {e}")))?;
        if number == 1 && line.starts_with('\u{feff}') {
            // A byte-order mark is not part of the first line's JSON.
            line.drain(..'\u{feff}'.len_utf8());
        }
        bar.inc(line.len() as u64 + 1);
        let Some(value) = json_line(&line, number)? else {
            continue;
        };
        batch.push(parse(&value).map_err(|e| Error::Input(format!("line {number}: {e}")))?);
        rows += 1;
        if batch.len() >= BATCH {
            stored += flush(&mut tx, &batch).await?;
            batch.clear();
            bar.set_message(format!("{rows} rows"));
        }
    }
    stored += flush(&mut tx, &batch).await?;
    tx.commit()
        .await
        .map_err(|e| Error::Storage(e.to_string()))?;
    bar.finish_and_clear();
    Ok(ImportReport { rows, stored })
}

/// Import events from `reader` into `store` in one transaction. `project` applies to
/// lines without `projectId`; a line naming another project fails the import.
pub async fn import_events(
    store: &SqliteStorage,
    reader: impl BufRead,
    total_bytes: Option<u64>,
    project: Option<&str>,
) -> Result<ImportReport, Error> {
    let parse = |v: &Value| NewEvent::from_json(v, project);
    import_lines(store, reader, total_bytes, parse, async |conn, batch| {
        Ok(quarry_sqlite::insert_events(conn, batch).await?)
    })
    .await
}

/// Read one profile line: `{"id","projectId","firstName","lastName","email","avatar",
/// "isExternal","properties","createdAt"}`.
pub fn profile_from_json(v: &Value, project: Option<&str>) -> Result<NewProfile, String> {
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

/// Import profiles (insert or replace by project and id), in one transaction.
pub async fn import_profiles(
    store: &SqliteStorage,
    reader: impl BufRead,
    total_bytes: Option<u64>,
    project: Option<&str>,
) -> Result<ImportReport, Error> {
    let parse = |v: &Value| profile_from_json(v, project);
    import_lines(store, reader, total_bytes, parse, async |conn, batch| {
        for p in batch {
            quarry_sqlite::upsert_profile(conn, p).await?;
        }
        Ok(batch.len() as u64)
    })
    .await
}
