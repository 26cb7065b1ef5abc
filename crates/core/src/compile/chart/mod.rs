//! `GET /export/charts` in one statement.
//!
//! The reference implementation runs one query per event config and per period. Here
//! both periods are read in one statement: an `Expand` repeats a row once per config it
//! matches (a cross join with a constant table, or ClickHouse's `ARRAY JOIN`), or, where
//! the dialect prefers it and every config has its own event name, one scan per config
//! joined by `UNION ALL` ([`ConfigRows`]); then one `GROUP BY` computes every config's
//! segment. With breakdowns, window functions rank the combinations of each config by
//! their current-period total and keep the top `limit + offset` in SQL. Bucket indexes are integer arithmetic over the timezone's
//! offset segments (see [`crate::time`]), identical on every engine.
//!
//! Result columns: `cfg, period, bucket, b0…bN, value, series`.

pub(super) mod exprs;
mod latest;
mod lower;

use super::{Context, resolve_window};
use crate::error::{ParamError, RequestError};
use crate::request::ChartRequest;
use crate::sql::CellType;
use crate::sql::ast::Params;
use crate::sql::dialect::{ConfigAggregates, ConfigRows, DistinctCounts, LatestEvent};
use crate::sql::render::render;
use crate::sql::{Dialect, Query};
use crate::time::{self, BucketGrid, Interval, Window};

/// Breakdown column aliases (at most three breakdowns).
pub(crate) const BREAKDOWN_ALIASES: [&str; 3] = ["b0", "b1", "b2"];

/// The compiled chart request and what shaping needs to read its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPlan {
    /// The statement.
    pub query: Query,
    /// The current window.
    pub window: Window,
    /// Its buckets.
    pub grid: BucketGrid,
    /// The previous window and its buckets, when asked for.
    pub previous: Option<(Window, BucketGrid)>,
}

fn grid_for(interval: Interval, ctx: &Context, w: &Window) -> Result<BucketGrid, RequestError> {
    BucketGrid::new(interval, ctx.tz, w.start, w.end).map_err(|n| {
        ParamError::invalid(
            "interval",
            format!(
                "the window needs {n} {} buckets; at most {} are allowed per series",
                interval.as_str(),
                time::MAX_BUCKETS
            ),
        )
        .into()
    })
}

/// The points a chart may keep — event configs × the series each keeps in SQL × buckets,
/// both periods counted — within the request's budget: this bounds the rows read, the
/// series shaped and the response, whatever the data.
fn check_points(
    req: &ChartRequest,
    grid: &BucketGrid,
    previous: Option<&BucketGrid>,
) -> Result<(), RequestError> {
    let buckets = grid
        .len()
        .saturating_add(previous.map_or(0, BucketGrid::len));
    let per_config = if req.breakdowns.is_empty() {
        1
    } else {
        req.limit.saturating_add(req.offset)
    };
    let points = req
        .events
        .len()
        .saturating_mul(per_config)
        .saturating_mul(buckets);
    if points <= req.max_points {
        return Ok(());
    }
    // Named like the bucket limit: the window and interval decide the buckets, and the
    // message says how each factor counts.
    let series = if req.breakdowns.is_empty() {
        "one series each".to_string()
    } else {
        format!("{per_config} series each (limit + offset)")
    };
    Err(ParamError::invalid(
        "interval",
        format!(
            "this chart could keep {points} points ({} event configs × {series} × {buckets} \
             buckets, both periods); at most {} are allowed: lower limit or offset, or use a \
             coarser interval or a shorter range (see docs/limits.md)",
            req.events.len(),
            req.max_points
        ),
    )
    .into())
}

/// Compile a chart request.
pub fn compile_chart(
    req: &ChartRequest,
    ctx: &Context,
    dialect: Dialect,
) -> Result<ChartPlan, RequestError> {
    compile_chart_with(req, ctx, dialect, ChartForms::of(dialect))
}

/// The SQL forms a chart can take where engines differ in what is fast. Every choice gives
/// the same response; the rows differ only in that [`LatestEvent::MaxTime`] has no row for
/// a bucket where no user's latest event falls (value 0 in the other form), which shaping
/// fills with 0 like any empty bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartForms {
    /// How distinct ids are counted.
    pub distinct: DistinctCounts,
    /// How `one_event_per_user` finds the latest events.
    pub latest: LatestEvent,
    /// How each config's value is aggregated when configs differ.
    pub configs: ConfigAggregates,
    /// Where the rows of several configs come from.
    pub rows: ConfigRows,
}

impl ChartForms {
    /// The forms a dialect uses.
    pub fn of(dialect: Dialect) -> ChartForms {
        let rules = dialect.rules();
        ChartForms {
            distinct: rules.distinct_counts(),
            latest: rules.latest_event(),
            configs: rules.config_aggregates(),
            rows: rules.config_rows(),
        }
    }
}

/// [`compile_chart`] in explicit forms, to compare them (benches, tests).
pub fn compile_chart_with(
    req: &ChartRequest,
    ctx: &Context,
    dialect: Dialect,
    forms: ChartForms,
) -> Result<ChartPlan, RequestError> {
    let window = resolve_window(&req.time, ctx)?;
    let grid = grid_for(req.interval, ctx, &window)?;
    let previous = if req.previous {
        let pw = time::previous_window(&window, ctx.tz);
        let pg = grid_for(req.interval, ctx, &pw)?;
        Some((pw, pg))
    } else {
        None
    };
    check_points(req, &grid, previous.as_ref().map(|(_, g)| g))?;
    let mut params = Params::default();
    let stmt = lower::lower(
        req,
        ctx,
        &window,
        &grid,
        previous.as_ref(),
        forms,
        &mut params,
    );
    let mut columns = vec![CellType::Int, CellType::Int, CellType::Int];
    columns.extend(req.breakdowns.iter().map(|b| {
        if b.field.is_numeric() {
            CellType::Float
        } else {
            CellType::Text
        }
    }));
    columns.extend([CellType::Float, CellType::Int]);
    let query = render(dialect.rules(), &stmt, params, columns);
    Ok(ChartPlan {
        query,
        window,
        grid,
        previous,
    })
}
