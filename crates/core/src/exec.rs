//! Running a request end to end over a [`Storage`]: compile, fetch, shape.
//!
//! This is the only place that sequences queries (the `all_time` lookup, the page and
//! its count, the profile and metadata follow-ups); it holds no SQL and no I/O of its
//! own beyond calling the storage.

use std::collections::HashMap;

use crate::compile::{self, Context};
use crate::error::RequestError;
use crate::request::{ChartRequest, EventsRequest, FunnelRequest, TimeSpec};
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
            crate::storage::Value::Int(ms) => Some(*ms),
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
    let rows = store.fetch(&plan.query).await?;
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
    let rows = store.fetch(&plan.query).await?;
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
    let rows = store.fetch(&plan.page).await?;
    let total = if rows.is_empty() && plan.page_number == 1 {
        0
    } else {
        let count = store.fetch(&plan.count).await?;
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
                if let Some(crate::storage::Value::Text(t)) = r.get(at) {
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
