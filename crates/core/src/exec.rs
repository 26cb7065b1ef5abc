//! Running a request end to end over a [`Storage`]: compile, fetch, shape.
//!
//! This is the only place that sequences queries (the `all_time` lookup, the page and
//! its count, the profile and metadata follow-ups); it holds no SQL and no I/O of its
//! own beyond calling the storage.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::compile::{self, Context, EventsPlan, Paging, Span};
use crate::cursor::{self, Position};
use crate::error::{ParamError, RequestError};
use crate::event::EventField;
use crate::explain::{self, Explanation};
use crate::export::Layout;
use crate::request::{
    ChartRequest, EventsRequest, Filter, FilterValues, FunnelRequest, Operator, TimeSpec,
};
use crate::response::{ChartResponse, EventsResponse, FunnelResponse};
use crate::shape;
use crate::sql::{Query, Row, Value};
use crate::storage::{RowStream, Storage, StorageError};
use futures_util::StreamExt;

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The request is invalid (→ 400).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Storage failed (→ 503, 504 or 500).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The values a database may refuse: the request's regular expressions, by path.
fn pattern_paths<'a>(
    prefix: impl Fn(usize) -> String,
    lists: impl Iterator<Item = &'a [Filter]>,
) -> Vec<String> {
    prefixed_pattern_paths(lists.enumerate().map(|(i, f)| (prefix(i), f)))
}

/// [`pattern_paths`] of filter lists each with its own path prefix.
fn prefixed_pattern_paths<'a>(lists: impl Iterator<Item = (String, &'a [Filter])>) -> Vec<String> {
    let mut out = Vec::new();
    for (prefix, filters) in lists {
        for (j, f) in filters.iter().enumerate() {
            if let (Operator::Regex, FilterValues::Text(values)) = (f.operator, &f.values) {
                for k in 0..values.len() {
                    out.push(format!("{prefix}filters[{j}].value[{k}]"));
                }
            }
        }
    }
    out
}

/// The regular expressions of a funnel's steps, alternatives and exclusions, by path.
fn funnel_patterns(req: &FunnelRequest) -> Vec<String> {
    let steps = req.steps.iter().enumerate().flat_map(|(i, s)| {
        let single = s.matches.len() == 1;
        s.matches.iter().enumerate().map(move |(a, m)| {
            let prefix = if single {
                format!("events[{i}].")
            } else {
                format!("events[{i}].anyOf[{a}].")
            };
            (prefix, m.filters.as_slice())
        })
    });
    let exclusions = req
        .exclusions
        .iter()
        .enumerate()
        .map(|(i, x)| (format!("exclusions[{i}]."), x.matcher.filters.as_slice()));
    prefixed_pattern_paths(steps.chain(exclusions))
}

/// A value the engine refused ([`StorageError::Rejected`]: a regular expression its own
/// engine finds too complex) is the user's to fix: a 400 naming the request's patterns.
fn refused(e: StorageError, patterns: &[String]) -> ExecError {
    match e {
        StorageError::Rejected(_) if !patterns.is_empty() => ExecError::Request(RequestError {
            details: patterns
                .iter()
                .map(|p| {
                    ParamError::invalid(
                        p.clone(),
                        "the database cannot run this regular expression (too complex for its \
                         engine); simplify it",
                    )
                })
                .collect(),
        }),
        other => ExecError::Storage(other),
    }
}

async fn with_first_event(
    store: &dyn Storage,
    spec: &TimeSpec,
    ctx: &Context,
) -> Result<Context, StorageError> {
    Ok(first_event_lookup(store, spec, ctx).await?.0)
}

/// The context with `range=all`'s start looked up, and the lookup it ran, if any.
async fn first_event_lookup(
    store: &dyn Storage,
    spec: &TimeSpec,
    ctx: &Context,
) -> Result<(Context, Option<Query>), StorageError> {
    let mut ctx = ctx.clone();
    let mut ran = None;
    if compile::needs_first_event(spec) {
        let q = compile::compile_first_event(&ctx.project_id, store.dialect());
        let rows = store.fetch(&q).await?;
        ctx.first_event = rows.first().and_then(|r| r.first()).and_then(|v| match v {
            Value::Int(ms) => Some(*ms),
            _ => None,
        });
        ran = Some(q);
    }
    Ok((ctx, ran))
}

/// Answer a chart request.
pub async fn chart(
    store: &dyn Storage,
    req: &ChartRequest,
    ctx: &Context,
) -> Result<ChartResponse, ExecError> {
    let ctx = with_first_event(store, &req.time, ctx).await?;
    let plan = compile::compile_chart(req, &ctx, store.dialect())?;
    let patterns = pattern_paths(
        |i| format!("events[{i}]."),
        req.events.iter().map(|c| c.filters.as_slice()),
    );
    let rows = store
        .fetch(&plan.query)
        .await
        .map_err(|e| refused(e, &patterns))?;
    Ok(shape::shape_chart(req, &plan, ctx.tz, &rows))
}

/// The statements of one funnel request that run at once.
pub const STATEMENTS_AT_ONCE: usize = 2;

/// Answer a funnel request.
pub async fn funnel(
    store: &dyn Storage,
    req: &FunnelRequest,
    ctx: &Context,
) -> Result<FunnelResponse, ExecError> {
    let ctx = with_first_event(store, &req.time, ctx).await?;
    let plan = compile::compile_funnel(req, &ctx, store.dialect())?;
    let patterns = funnel_patterns(req);
    // The statements are independent: each takes its own connection, so an engine that
    // runs queries side by side (PostgreSQL, SQLite's readers) answers in about the time
    // of the slowest rather than of all of them added up. At most
    // `STATEMENTS_AT_ONCE` run at once, so a client's requests in flight hold a bounded
    // number of connections (docs/limits.md).
    let queries = [
        Some(&plan.query),
        plan.previous.as_ref().map(|p| &p.1),
        plan.time_to_convert.as_ref(),
        plan.breakdowns.as_ref(),
    ];
    let asked = queries
        .into_iter()
        .enumerate()
        .filter_map(|(i, q)| q.map(|q| (i, q)));
    let mut running = futures_util::stream::iter(asked)
        .map(|(i, q)| async move { store.fetch(q).await.map(|rows| (i, rows)) })
        .buffer_unordered(STATEMENTS_AT_ONCE);
    let mut results: [Option<Vec<Row>>; 4] = Default::default();
    while let Some(done) = running.next().await {
        let (i, rows) = done.map_err(|e| refused(e, &patterns))?;
        results[i] = Some(rows);
    }
    let [rows, previous, times, groups] = results;
    let rows = rows.unwrap_or_default();
    let (previous, times, groups) = (previous.as_deref(), times.as_deref(), groups.as_deref());
    Ok(shape::shape_funnel(
        req, &plan, ctx.tz, &rows, previous, times, groups,
    ))
}

/// Answer an events request: §5's offset page, or a keyset page when it carries `cursor`.
/// `meta_store` holds `event_meta` (the same storage except in the ClickHouse + PostgreSQL
/// shape).
pub async fn events(
    store: &dyn Storage,
    meta_store: &dyn Storage,
    req: &EventsRequest,
    ctx: &Context,
) -> Result<EventsResponse, ExecError> {
    let plan = compile::compile_events(req, ctx, store.dialect())?;
    let patterns = pattern_paths(|_| String::new(), std::iter::once(req.filters.as_slice()));
    // The request's paging and fingerprint: a keyset page's plan is the last span's, with
    // what that span had left to read as its limit.
    let (paging, fingerprint) = (plan.paging.clone(), plan.fingerprint);
    let (plan, mut rows) = match &paging {
        Paging::Offset { .. } | Paging::All { .. } => {
            let rows = store
                .fetch(&plan.page)
                .await
                .map_err(|e| refused(e, &patterns))?;
            let rows = match &plan.key_order {
                None => rows,
                Some(key_order) => match key_order.page(rows) {
                    Some(rows) => rows,
                    // A time shared across the page's border: §5's statement decides.
                    None => store
                        .fetch(&key_order.exact)
                        .await
                        .map_err(|e| refused(e, &patterns))?,
                },
            };
            (plan, rows)
        }
        Paging::After { after, limit, .. } => {
            keyset_page(store, req, ctx, after.clone(), *limit, &patterns).await?
        }
    };
    let count = async || -> Result<u64, ExecError> {
        let rows = store
            .fetch(&plan.count)
            .await
            .map_err(|e| refused(e, &patterns))?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .map_or(0, |v| u64::try_from(v.as_i64()).unwrap_or(0)))
    };
    match paging {
        Paging::Offset { .. } | Paging::All { .. } => {
            let first = !matches!(paging, Paging::Offset { page, .. } if page > 1);
            let total = if rows.is_empty() && first {
                0
            } else {
                count().await?
            };
            let data = with_includes(store, meta_store, &plan, &ctx.project_id, rows).await?;
            Ok(shape::shape_page(&plan, data, total))
        }
        Paging::After { limit, .. } => {
            let next = next_position(&mut rows, limit)
                .zip(fingerprint)
                .map(|(at, fp)| cursor::encode(fp, &at));
            let total = if req.count {
                Some(count().await?)
            } else {
                None
            };
            let data = with_includes(store, meta_store, &plan, &ctx.project_id, rows).await?;
            Ok(shape::shape_cursor_page(data, next, total))
        }
    }
}

/// Up to `limit + 1` rows after `after` in §5's order (the last only tells whether more
/// follow), read span by span ([`compile::sort_day_spans`]: one span except on ClickHouse,
/// where each span reads in the table's order). Returns the plan of the last span read
/// (every span's plan has the same columns) and the rows.
async fn keyset_page(
    store: &dyn Storage,
    req: &EventsRequest,
    ctx: &Context,
    after: Option<Position>,
    limit: u64,
    patterns: &[String],
) -> Result<(EventsPlan, Vec<Row>), ExecError> {
    let dialect = store.dialect();
    let wanted = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    // Spans newer than the position hold nothing after it; the last span, open towards
    // the past, is never one of them, so at least one span is read.
    let spans = compile::sort_day_spans(dialect).into_iter().filter(|span| {
        let newer = |at: &Position| span.from.is_some_and(|from| from > at.created_at);
        !after.as_ref().is_some_and(newer)
    });
    let mut rows: Vec<Row> = Vec::new();
    let mut read = None;
    for span in spans {
        let need = (wanted - rows.len()) as u64;
        let plan = compile::compile_events_page(
            req,
            ctx,
            dialect,
            Paging::After {
                after: after.clone(),
                limit: need - 1,
                span,
            },
        )?;
        let mut got = store
            .fetch(&plan.page)
            .await
            .map_err(|e| refused(e, patterns))?;
        rows.append(&mut got);
        read = Some(plan);
        if rows.len() >= wanted {
            break;
        }
    }
    let plan = read.ok_or_else(|| StorageError::Query("no span of the events to read".into()))?;
    Ok((plan, rows))
}

/// A keyset page fetches one row more than it sends: when that row is there, drop it and
/// return the position of the last row kept.
fn next_position(rows: &mut Vec<Row>, limit: u64) -> Option<Position> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().and_then(shape::row_position)
}

/// Shape page rows into Event objects, looking up the profiles and event metadata that
/// `includes` asks for (one query each per page).
async fn with_includes(
    store: &dyn Storage,
    meta_store: &dyn Storage,
    plan: &EventsPlan,
    project_id: &str,
    rows: Vec<Row>,
) -> Result<Vec<serde_json::Value>, ExecError> {
    let (profiles, metas) = includes(store, meta_store, plan, project_id, &rows).await?;
    Ok(shape::shape_rows(plan, rows, &profiles, &metas))
}

/// The profiles and event metadata `includes` asks for, for these rows (one query each).
async fn includes(
    store: &dyn Storage,
    meta_store: &dyn Storage,
    plan: &EventsPlan,
    project_id: &str,
    rows: &[Row],
) -> Result<(Lookup, Lookup), ExecError> {
    let distinct = |at: Option<usize>| -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out: Vec<String> = Vec::new();
        if let Some(at) = at {
            for r in rows {
                if let Some(Value::Text(t)) = r.get(at) {
                    if !t.is_empty() && seen.insert(t.as_str()) {
                        out.push(t.clone());
                    }
                }
            }
        }
        out
    };
    let mut profiles = HashMap::new();
    if plan.profile {
        let ids = distinct(plan.field_at(EventField::ProfileId));
        if !ids.is_empty() {
            let q = compile::compile_profiles(project_id, &ids, store.dialect());
            profiles = store
                .fetch(&q)
                .await?
                .into_iter()
                .filter_map(shape::shape_profile)
                .collect();
        }
    }
    let mut metas = HashMap::new();
    if plan.meta {
        let names = distinct(plan.field_at(EventField::Name));
        if !names.is_empty() {
            let q = compile::compile_event_meta(project_id, &names, meta_store.dialect());
            metas = meta_store
                .fetch(&q)
                .await?
                .into_iter()
                .filter_map(shape::shape_meta)
                .collect();
        }
    }
    Ok((profiles, metas))
}

/// Profiles by id, or event metadata by name, as JSON.
type Lookup = HashMap<String, serde_json::Value>;

/// One batch of a walk: rows in the plan's layout and what `includes` looked up for them.
/// Encoders read it row by row ([`Batch::visit`]) without building an object per row;
/// [`Batch::into_objects`] gives the JSON page's Event objects.
#[derive(Debug)]
pub struct Batch {
    plan: Arc<EventsPlan>,
    rows: Vec<Row>,
    profiles: Lookup,
    metas: Lookup,
}

impl Batch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch has no rows (a walk never returns one).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The Event objects, as the JSON page writes them.
    pub fn into_objects(self) -> Vec<serde_json::Value> {
        shape::shape_rows(&self.plan, self.rows, &self.profiles, &self.metas)
    }

    /// Each row's fields in the Event object's order, as `Some((key, field))`, then `None`
    /// after each row.
    pub fn visit(self, mut visit: impl FnMut(Option<(&str, shape::FieldOut<'_>)>)) {
        let names = shape::column_names(&self.plan);
        for row in self.rows {
            shape::visit_row(
                &self.plan,
                &names,
                row,
                &self.profiles,
                &self.metas,
                |k, v| {
                    visit(Some((k, v)));
                },
            );
            visit(None);
        }
    }
}

/// Every row an events request matches, in §5's order: the streamed export (`format=`)
/// and `quarry export`. The rows come from one query per span
/// ([`compile::sort_day_spans`]: one span except on ClickHouse), read as the database
/// sends them ([`Storage::stream`]) and handed out in batches, each with what `includes`
/// looked up for it. Memory is about one batch whatever the export's size, and the caller
/// decides when the next batch is read: a slow caller slows the query. Dropping the walk
/// stops its query.
pub struct EventsWalk {
    req: EventsRequest,
    ctx: Context,
    batch: usize,
    patterns: Vec<String>,
    /// The plan of every span's rows (they differ only in their conditions), shared
    /// with each batch.
    plan: Arc<EventsPlan>,
    /// The spans not started yet, newest first.
    spans: std::vec::IntoIter<Span>,
    /// The rows of the span being read.
    reading: Option<Box<dyn RowStream>>,
    /// Rows read past the last batch.
    carry: Vec<Row>,
}

impl std::fmt::Debug for EventsWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsWalk")
            .field("req", &self.req)
            .field("batch", &self.batch)
            .field("spans_left", &self.spans.len())
            .field("reading", &self.reading.is_some())
            .finish_non_exhaustive()
    }
}

impl EventsWalk {
    /// Rows per batch when the caller has no reason to choose: small enough that the
    /// batches a streamed export holds at once (one read, one encoded, one written) stay a
    /// few MiB, large enough that per-batch work is negligible.
    pub const BATCH: u64 = 2_000;

    /// Check the request (a 400 comes before anything is sent) and start before the first
    /// row.
    pub fn new(
        req: EventsRequest,
        ctx: Context,
        dialect: crate::sql::Dialect,
        batch: u64,
    ) -> Result<EventsWalk, RequestError> {
        let spans = compile::sort_day_spans(dialect);
        let plan = compile::compile_events_page(
            &req,
            &ctx,
            dialect,
            Paging::All {
                span: Span::default(),
            },
        )?;
        let patterns = pattern_paths(|_| String::new(), std::iter::once(req.filters.as_slice()));
        Ok(EventsWalk {
            req,
            ctx,
            batch: usize::try_from(batch.max(1)).unwrap_or(usize::MAX),
            patterns,
            plan: Arc::new(plan),
            spans: spans.into_iter(),
            reading: None,
            carry: Vec::new(),
        })
    }

    /// The columns of every row.
    pub fn layout(&self) -> Layout {
        Layout {
            columns: self.plan.columns.clone(),
            profile: self.plan.profile,
            meta: self.plan.meta,
        }
    }

    /// The next batch (the batch size, less only at the end); `None` after the last.
    pub async fn next(
        &mut self,
        store: &dyn Storage,
        meta_store: &dyn Storage,
    ) -> Result<Option<Batch>, ExecError> {
        let mut rows = std::mem::take(&mut self.carry);
        while rows.len() < self.batch {
            if self.reading.is_none() {
                let Some(span) = self.spans.next() else {
                    break;
                };
                let paging = Paging::All { span };
                let plan =
                    compile::compile_events_page(&self.req, &self.ctx, store.dialect(), paging)?;
                let stream = store
                    .stream(&plan.page)
                    .await
                    .map_err(|e| refused(e, &self.patterns))?;
                self.reading = Some(stream);
            }
            let Some(stream) = self.reading.as_mut() else {
                break;
            };
            match stream
                .next()
                .await
                .map_err(|e| refused(e, &self.patterns))?
            {
                Some(mut chunk) if rows.is_empty() => {
                    std::mem::swap(&mut rows, &mut chunk);
                    rows.reserve(self.batch.saturating_sub(rows.len()));
                }
                Some(mut chunk) => rows.append(&mut chunk),
                None => self.reading = None,
            }
        }
        if rows.len() > self.batch {
            self.carry = rows.split_off(self.batch);
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let plan = Arc::clone(&self.plan);
        let (profiles, metas) =
            includes(store, meta_store, &plan, &self.ctx.project_id, &rows).await?;
        Ok(Some(Batch {
            plan,
            rows,
            profiles,
            metas,
        }))
    }
}

/// Each statement with its parameters and the engine's plan of it (`explain=true`);
/// nothing but the plans runs.
async fn explain_all(
    store: &dyn Storage,
    statements: Vec<(&'static str, Query)>,
) -> Result<Explanation, ExecError> {
    let dialect = store.dialect();
    let mut out = Vec::with_capacity(statements.len());
    for (purpose, query) in statements {
        let rows = store.fetch(&explain::plan_query(&query, dialect)).await?;
        out.push(explain::Statement {
            purpose,
            plan: explain::plan_text(&rows, dialect),
            params: query.params.iter().map(Into::into).collect(),
            sql: query.sql,
        });
    }
    Ok(Explanation {
        dialect: dialect.name(),
        statements: out,
    })
}

/// What a chart or funnel request runs, and how: `range=all_time` looks up the project's
/// first event first, as the request would, since the statement depends on it.
async fn explain_timed(
    store: &dyn Storage,
    time: &TimeSpec,
    ctx: &Context,
    compile: impl FnOnce(&Context) -> Result<Vec<(&'static str, Query)>, RequestError>,
) -> Result<Explanation, ExecError> {
    let (ctx, lookup) = first_event_lookup(store, time, ctx).await?;
    let queries = compile(&ctx)?;
    let first = lookup.map(|q| ("first_event", q));
    explain_all(store, first.into_iter().chain(queries).collect()).await
}

/// What a chart request runs, and how (`explain=true`).
pub async fn explain_chart(
    store: &dyn Storage,
    req: &ChartRequest,
    ctx: &Context,
) -> Result<Explanation, ExecError> {
    let dialect = store.dialect();
    explain_timed(store, &req.time, ctx, |ctx| {
        Ok(vec![(
            "chart",
            compile::compile_chart(req, ctx, dialect)?.query,
        )])
    })
    .await
}

/// What a funnel request runs, and how (`explain=true`).
pub async fn explain_funnel(
    store: &dyn Storage,
    req: &FunnelRequest,
    ctx: &Context,
) -> Result<Explanation, ExecError> {
    let dialect = store.dialect();
    explain_timed(store, &req.time, ctx, |ctx| {
        let plan = compile::compile_funnel(req, ctx, dialect)?;
        let previous = plan.previous.map(|(_, q)| ("funnel_previous", q));
        let times = plan.time_to_convert.map(|q| ("time_to_convert", q));
        let groups = plan.breakdowns.map(|q| ("funnel_breakdowns", q));
        Ok(std::iter::once(("funnel", plan.query))
            .chain(previous)
            .chain(times)
            .chain(groups)
            .collect())
    })
    .await
}

/// What an events request runs, and how (`explain=true`): its page (a keyset page's first
/// span) and its count. The profile and metadata lookups that follow a page depend on its
/// rows and are not shown.
pub async fn explain_events(
    store: &dyn Storage,
    req: &EventsRequest,
    ctx: &Context,
) -> Result<Explanation, ExecError> {
    let plan = compile::compile_events(req, ctx, store.dialect())?;
    let mut queries = vec![("page", plan.page)];
    if let Some(key_order) = plan.key_order {
        queries.push(("page_exact", key_order.exact));
    }
    queries.push(("count", plan.count));
    explain_all(store, queries).await
}
