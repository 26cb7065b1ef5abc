//! Running a request end to end over a [`Storage`]: compile, fetch, shape.
//!
//! This is the only place that sequences queries (the `all_time` lookup, the page and
//! its count, the profile and metadata follow-ups); it holds no SQL and no I/O of its
//! own beyond calling the storage.

use std::collections::HashMap;

use crate::compile::{self, Context};
use crate::error::{ParamError, RequestError};
use crate::request::{
    ChartRequest, EventsRequest, Filter, FilterValues, FunnelRequest, Operator, TimeSpec,
};
use crate::response::{ChartResponse, EventsResponse, FunnelResponse};
use crate::shape;
use crate::storage::{Storage, StorageError};

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
    let mut out = Vec::new();
    for (i, filters) in lists.enumerate() {
        for (j, f) in filters.iter().enumerate() {
            if let (Operator::Regex, FilterValues::Text(values)) = (f.operator, &f.values) {
                for k in 0..values.len() {
                    out.push(format!("{}filters[{j}].value[{k}]", prefix(i)));
                }
            }
        }
    }
    out
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
    let mut ctx = ctx.clone();
    if compile::needs_first_event(spec) {
        let q = compile::compile_first_event(&ctx.project_id, store.dialect());
        let rows = store.fetch(&q).await?;
        ctx.first_event = rows.first().and_then(|r| r.first()).and_then(|v| match v {
            crate::sql::Value::Int(ms) => Some(*ms),
            _ => None,
        });
    }
    Ok(ctx)
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

/// Answer a funnel request.
pub async fn funnel(
    store: &dyn Storage,
    req: &FunnelRequest,
    ctx: &Context,
) -> Result<FunnelResponse, ExecError> {
    let ctx = with_first_event(store, &req.time, ctx).await?;
    let plan = compile::compile_funnel(req, &ctx, store.dialect())?;
    let patterns = pattern_paths(
        |i| format!("events[{i}]."),
        req.steps.iter().map(|s| s.filters.as_slice()),
    );
    let rows = store
        .fetch(&plan.query)
        .await
        .map_err(|e| refused(e, &patterns))?;
    Ok(shape::shape_funnel(req, &rows))
}

/// Answer an events request. `meta_store` holds `event_meta` (the same storage except in
/// the ClickHouse + PostgreSQL shape).
pub async fn events(
    store: &dyn Storage,
    meta_store: &dyn Storage,
    req: &EventsRequest,
    ctx: &Context,
) -> Result<EventsResponse, ExecError> {
    let plan = compile::compile_events(req, ctx, store.dialect())?;
    let patterns = pattern_paths(|_| String::new(), std::iter::once(req.filters.as_slice()));
    let rows = store
        .fetch(&plan.page)
        .await
        .map_err(|e| refused(e, &patterns))?;
    let total = if rows.is_empty() && plan.page_number == 1 {
        0
    } else {
        let count = store
            .fetch(&plan.count)
            .await
            .map_err(|e| refused(e, &patterns))?;
        count
            .first()
            .and_then(|r| r.first())
            .map_or(0, |v| u64::try_from(v.as_i64()).unwrap_or(0))
    };
    let column = |field| plan.fields.iter().position(|f| *f == field);
    let distinct = |at: Option<usize>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(at) = at {
            for r in &rows {
                if let Some(crate::sql::Value::Text(t)) = r.get(at) {
                    if !t.is_empty() && !out.contains(t) {
                        out.push(t.clone());
                    }
                }
            }
        }
        out
    };
    let mut profiles = HashMap::new();
    if plan.profile {
        let ids = distinct(column(crate::event::EventField::ProfileId));
        if !ids.is_empty() {
            let q = compile::compile_profiles(&ctx.project_id, &ids, store.dialect());
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
        let names = distinct(column(crate::event::EventField::Name));
        if !names.is_empty() {
            let q = compile::compile_event_meta(&ctx.project_id, &names, meta_store.dialect());
            metas = meta_store
                .fetch(&q)
                .await?
                .into_iter()
                .filter_map(shape::shape_meta)
                .collect();
        }
    }
    Ok(shape::shape_events(&plan, rows, total, &profiles, &metas))
}
