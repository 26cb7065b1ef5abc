//! `quarry export`: a streamed export written to a file or standard output, through the
//! same decoding, keyset walk and encoder as `GET /export/events?format=…`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};
use quarry_core::compile::Context;
use quarry_core::decode::{self, Limits};
use quarry_core::exec::{EventsWalk, ExecError};
use quarry_core::export::Encoder;
use quarry_core::request::{ExportFormat, Format};

use crate::Error;
use crate::backends::Databases;
use crate::error::ApiError;
use crate::stream::Producer;

/// What to export, and where.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The project (a `projectId` in the query must name the same one).
    pub project: &'a str,
    /// The query string of `GET /export/events`.
    pub query: &'a str,
    /// The format when the query names none.
    pub format: ExportFormat,
    /// A file to write, or standard output.
    pub output: Option<&'a Path>,
}

fn failed(e: ExecError) -> Error {
    match e {
        ExecError::Request(e) => Error::Input(format!("invalid request: {e}")),
        ExecError::Storage(e) => Error::Storage(e.to_string()),
    }
}

/// Write every matching event; returns how many.
pub async fn export(
    settings: &crate::settings::Settings,
    store: &Databases,
    target: Target<'_>,
) -> Result<u64, Error> {
    let limits = Limits {
        max_page_size: settings.max_page_size,
        ..settings.limits.request
    };
    let req = decode::decode_events(target.query, limits)
        .map_err(|e| Error::Input(format!("invalid request: {e}")))?;
    if req
        .project_id
        .as_deref()
        .is_some_and(|p| p != target.project)
    {
        return Err(Error::Input(
            "the query's projectId differs from --project".into(),
        ));
    }
    let project = store
        .project(target.project)
        .await?
        .ok_or_else(|| Error::Input(format!("no project {:?}", target.project)))?;
    let format = match req.format {
        Some(Format::Stream(f)) => f,
        _ => target.format,
    };
    let ctx = Context {
        project_id: project.id,
        tz: req
            .timezone
            .or_else(|| project.timezone.as_deref().and_then(|t| t.parse().ok()))
            .unwrap_or(Tz::UTC),
        now: chrono::Utc::now().timestamp_millis(),
        first_event: None,
    };
    let backends = store.backends(crate::app::system_clock());
    let walk = EventsWalk::new(req, ctx, backends.store.dialect(), EventsWalk::BATCH)
        .map_err(|e| failed(e.into()))?;
    let encoder =
        Encoder::new(format, &walk.layout()).map_err(|e| Error::Storage(e.to_string()))?;
    let mut out: Box<dyn Write> = match target.output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = progress();
    // The server's pipeline, with no timeout: the batch after the one being encoded is
    // read meanwhile.
    let mut producer = Producer::new(walk, encoder, backends, None);
    out.write_all(&producer.start().map_err(api_failed)?)?;
    while let Some(chunk) = producer.read().await.map_err(api_failed)? {
        out.write_all(&chunk)?;
        bar.set_position(producer.rows());
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(producer.rows())
}

/// An export's failure as the command line reports it.
fn api_failed(e: ApiError) -> Error {
    match e {
        ApiError::Request(e) => Error::Input(format!("invalid request: {e}")),
        other => Error::Storage(other.to_string()),
    }
}

/// Rows written so far, on a terminal only.
fn progress() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {human_pos} events {per_sec}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
