//! Lowering validated requests into SQL ASTs, then rendering them per dialect.
//!
//! Every statement is scoped with `project_id = <resolved project>`; nothing else decides
//! which project's rows are read. Strategies that differ between engines are chosen
//! through the dialect's named capabilities, never by testing which dialect it is.

mod chart;
mod events;
mod filter;
mod funnel;
mod funnel_arrays;

pub use chart::{ChartForms, ChartPlan, compile_chart, compile_chart_with};
pub use events::{
    EventsPlan, Paging, Span, compile_event_meta, compile_events, compile_events_page,
    compile_profiles, conditions_fingerprint, sort_day_spans,
};
pub use filter::{field_text, filter_expr};
pub use funnel::{FunnelPlan, compile_funnel, compile_funnel_with};

use chrono_tz::Tz;

use crate::error::{ParamError, RequestError};
use crate::request::TimeSpec;
use crate::sql::CellType;
use crate::sql::ast::{Expr, Params, Select, Statement, TimeColumn};
use crate::sql::render::render;
use crate::sql::{Dialect, Query};
use crate::time::{self, Ms, RangeName, Window};

/// What the compiler needs besides the request: the resolved project, the timezone in
/// force (the request's, else the project's), and "now", read once per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The project every statement is scoped to.
    pub project_id: String,
    /// The timezone of day, week and month boundaries.
    pub tz: Tz,
    /// The clock, in ms since the epoch.
    pub now: Ms,
    /// The project's first event, needed only by `range=all_time`.
    pub first_event: Option<Ms>,
}

/// Whether the time spec needs the project's first event (`all_time`) before compiling.
pub fn needs_first_event(spec: &TimeSpec) -> bool {
    matches!(spec, TimeSpec::Range(RangeName::AllTime))
}

/// `SELECT min(created_at)` of a project, for `all_time`. One column: Int (ms) or NULL.
pub fn compile_first_event(project_id: &str, dialect: Dialect) -> Query {
    let mut params = Params::default();
    let project = params.text(project_id);
    let select = Select {
        items: vec![crate::sql::ast::Item {
            expr: Expr::agg(crate::sql::ast::Agg::Min, epoch_ms("created_at")),
            alias: Some("first_event"),
        }],
        from: Some(crate::sql::ast::Source::table("events")),
        filter: vec![Expr::Col("project_id").eq(project)],
        ..Select::default()
    };
    render(
        dialect.rules(),
        &Statement::select(select),
        params,
        vec![CellType::Int],
    )
}

/// A timestamp column that always holds a time, as epoch milliseconds.
pub(crate) fn epoch_ms(column: &'static str) -> Expr {
    Expr::EpochMs(TimeColumn::required(column))
}

/// Resolve a chart or funnel time spec into a window (§6.1, §4.3).
pub fn resolve_window(spec: &TimeSpec, ctx: &Context) -> Result<Window, RequestError> {
    match spec {
        TimeSpec::Range(RangeName::Custom) => {
            Err(ParamError::missing("startDate", "range=custom requires startDate").into())
        }
        TimeSpec::Range(r) => time::range_window(*r, ctx.now, ctx.tz, ctx.first_event)
            .ok_or_else(|| ParamError::invalid("range", "unsupported range").into()),
        TimeSpec::Dates { start, end } => {
            let s = time::parse_instant(start, ctx.tz, false)
                .map_err(|e| ParamError::invalid("startDate", e.to_string()))?;
            let e = match end {
                Some(end) => time::parse_instant(end, ctx.tz, true)
                    .map_err(|e| ParamError::invalid("endDate", e.to_string()))?,
                None => ctx.now,
            };
            if s > e {
                let param = if end.is_some() {
                    "endDate"
                } else {
                    "startDate"
                };
                return Err(ParamError::invalid(
                    param,
                    "startDate must not be after endDate (or now, when endDate is absent)",
                )
                .into());
            }
            Ok(Window {
                start: s,
                end: e,
                previous_rule: time::PreviousRule::Rolling,
            })
        }
    }
}
