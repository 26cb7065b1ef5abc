//! `GET /export/charts` in one statement and one pass over the table.
//!
//! The reference implementation runs one query per event config and per period. Here
//! every row of both periods is read once: an `Expand` repeats a row once per config it
//! matches (a cross join with a constant table, or ClickHouse's `ARRAY JOIN`), then one
//! `GROUP BY` computes every config's segment. With breakdowns, window functions rank the
//! combinations of each config by their current-period total and keep the top
//! `limit + offset` in SQL. Bucket indexes are integer arithmetic over the timezone's
//! offset segments (see [`crate::time`]), identical on every engine.
//!
//! Result columns: `cfg, period, bucket, b0…bN, value, series`.

use super::{Context, epoch_ms, field_text, filter_expr, resolve_window};
use crate::error::{ParamError, RequestError};
use crate::request::{ChartRequest, EventConfig, EventName, Field, Segment};
use crate::sql::ast::{
    Agg, Body, Cte, Expr, From, Func, Item, Op, OrderBy, Params, Select, Statement, Win,
};
use crate::sql::dialect::{DistinctCounts, LatestEvent};
use crate::sql::render::render;
use crate::sql::{Dialect, Query};
use crate::storage::ColumnType;
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
}

impl ChartForms {
    /// The forms a dialect uses.
    pub fn of(dialect: Dialect) -> ChartForms {
        let rules = dialect.rules();
        ChartForms {
            distinct: rules.distinct_counts(),
            latest: rules.latest_event(),
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
    let mut params = Params::default();
    let stmt = lower(
        req,
        ctx,
        &window,
        &grid,
        previous.as_ref(),
        forms,
        &mut params,
    );
    let mut columns = vec![ColumnType::Int, ColumnType::Int, ColumnType::Int];
    columns.extend(req.breakdowns.iter().map(|b| {
        if b.field.is_numeric() {
            ColumnType::Float
        } else {
            ColumnType::Text
        }
    }));
    columns.extend([ColumnType::Float, ColumnType::Int]);
    let query = render(dialect.rules(), &stmt, params, columns);
    Ok(ChartPlan {
        query,
        window,
        grid,
        previous,
    })
}

/// The offset (or hour remainder) in force at `t`, as a CASE over the plan's segments.
fn offset_expr(t: &Expr, offsets: &[(i64, i64)], params: &mut Params) -> Option<Expr> {
    match offsets {
        [] => None,
        [(_, 0)] => None,
        [(_, off)] => Some(params.int(*off)),
        [first, rest @ ..] => {
            let whens = rest
                .iter()
                .rev()
                .map(|(from, off)| (t.clone().op(Op::GtEq, params.int(*from)), params.int(*off)))
                .collect();
            Some(Expr::Case(whens, Some(Box::new(params.int(first.1)))))
        }
    }
}

/// The bucket index of the time `t` (epoch ms) within one grid.
fn bucket_expr(grid: &BucketGrid, t: Expr, params: &mut Params) -> Expr {
    let plan = grid.plan();
    let local = match offset_expr(&t, &plan.offsets, params) {
        Some(off) => t.clone().op(Op::Add, off),
        None => t.clone(),
    };
    let div = |e: Expr, by: i64| Expr::call(Func::IntDiv, vec![e, Expr::Int(by)]);
    match plan.interval {
        Interval::Minute => div(local.op(Op::Sub, params.int(plan.origin)), 60_000),
        Interval::Hour => div(local.op(Op::Sub, params.int(plan.origin)), 3_600_000),
        Interval::Day => div(local.op(Op::Sub, params.int(plan.origin)), 86_400_000),
        Interval::Week => div(
            div(local.op(Op::Sub, params.int(plan.origin)), 86_400_000),
            7,
        ),
        Interval::Month => {
            Expr::call(Func::MonthNumber, vec![local]).op(Op::Sub, params.int(plan.origin))
        }
    }
}

/// A breakdown value: text fields as their label (empty or missing is `(not set)`),
/// numeric columns as the number itself (NULL is `(not set)`), labelled in Rust because no
/// engine prints floats as the shortest decimal the contract asks for (SQLite keeps 15
/// digits and switches to exponents).
fn label_expr(field: &Field, params: &mut Params) -> Expr {
    let x = field_text(field, params);
    if field.is_numeric() {
        Expr::call(Func::ToFloat, vec![x])
    } else {
        Expr::if_then(x.clone().eq(Expr::Str("")), Expr::Str("(not set)"), x)
    }
}

/// The numeric value a property segment aggregates; NULL when it is not a number.
fn property_value(field: &Field, params: &mut Params) -> Expr {
    let x = field_text(field, params);
    if field.is_numeric() {
        Expr::call(Func::ToFloat, vec![x])
    } else {
        Expr::Case(
            vec![(
                Expr::call(Func::IsNumber, vec![x.clone()]),
                Expr::call(Func::ToFloat, vec![x]),
            )],
            None,
        )
    }
}

/// Whether a row matches one config.
fn matches(cfg: &EventConfig, params: &mut Params) -> Expr {
    let mut parts = Vec::new();
    if let EventName::Named(n) = &cfg.name {
        parts.push(Expr::Col("name").eq(params.text(n.clone())));
    }
    parts.extend(cfg.filters.iter().map(|f| filter_expr(f, params)));
    Expr::and(parts)
}

fn nonempty(col: &'static str) -> Expr {
    Expr::Col(col).op(Op::NotEq, Expr::Str(""))
}

fn flag_sum(cond: Expr) -> Expr {
    Expr::agg(Agg::Sum, Expr::if_then(cond, Expr::Int(1), Expr::Int(0)))
}

fn zero_if_null(e: Expr) -> Expr {
    Expr::call(Func::Coalesce, vec![e, Expr::Int(0)])
}

/// How many rows of a group are a user's latest event (`one_event_per_user`).
fn latest_of_user() -> Expr {
    flag_sum(Expr::And(vec![
        Expr::Col("rn").eq(Expr::Int(1)),
        nonempty("profile_id"),
    ]))
}

/// The aggregate of one segment over a group.
fn segment_agg(segment: Segment) -> Expr {
    let distinct = |col| {
        Expr::agg(
            Agg::CountDistinct,
            Expr::call(Func::NullIf, vec![Expr::Col(col), Expr::Str("")]),
        )
    };
    match segment {
        Segment::Event => Expr::count_star(),
        Segment::User => distinct("profile_id"),
        Segment::Session => distinct("session_id"),
        Segment::UserAverage => zero_if_null(Expr::call(
            Func::FloatDiv,
            vec![flag_sum(nonempty("profile_id")), distinct("profile_id")],
        )),
        Segment::OneEventPerUser => latest_of_user(),
        Segment::PropertySum => zero_if_null(Expr::agg(Agg::Sum, Expr::Col("pv"))),
        Segment::PropertyAverage => zero_if_null(Expr::agg(Agg::Avg, Expr::Col("pv"))),
        Segment::PropertyMin => zero_if_null(Expr::agg(Agg::Min, Expr::Col("pv"))),
        Segment::PropertyMax => zero_if_null(Expr::agg(Agg::Max, Expr::Col("pv"))),
    }
}

/// The id whose distinct values a segment counts.
fn distinct_key(segment: Segment) -> Option<&'static str> {
    match segment {
        Segment::User | Segment::UserAverage => Some("profile_id"),
        Segment::Session => Some("session_id"),
        _ => None,
    }
}

/// The first level of a two-level grouping: the partial aggregates, by alias, that
/// [`combined_agg`] needs for these segments.
fn partial_aggs(segments: &[Segment]) -> Vec<(&'static str, Expr)> {
    let has = |pred: fn(Segment) -> bool| segments.iter().any(|s| pred(*s));
    let pv = || Expr::Col("pv");
    let mut out = Vec::new();
    if has(|s| matches!(s, Segment::Event | Segment::UserAverage)) {
        out.push(("n", Expr::count_star()));
    }
    if has(|s| s == Segment::OneEventPerUser) {
        out.push(("o", latest_of_user()));
    }
    if has(|s| matches!(s, Segment::PropertySum | Segment::PropertyAverage)) {
        out.push(("ps", Expr::agg(Agg::Sum, pv())));
    }
    if has(|s| s == Segment::PropertyAverage) {
        out.push(("pc", Expr::agg(Agg::Count, pv())));
    }
    if has(|s| s == Segment::PropertyMin) {
        out.push(("pmin", Expr::agg(Agg::Min, pv())));
    }
    if has(|s| s == Segment::PropertyMax) {
        out.push(("pmax", Expr::agg(Agg::Max, pv())));
    }
    out
}

/// The aggregate of one segment over the first level's groups: one group per distinct
/// id `dk` (NULL for segments that count no ids), so counting non-empty `dk` counts ids.
fn combined_agg(segment: Segment) -> Expr {
    let sum = |c| Expr::agg(Agg::Sum, Expr::Col(c));
    let ids = || {
        Expr::agg(
            Agg::Count,
            Expr::call(Func::NullIf, vec![Expr::Col("dk"), Expr::Str("")]),
        )
    };
    match segment {
        Segment::Event => sum("n"),
        Segment::User | Segment::Session => ids(),
        Segment::UserAverage => zero_if_null(Expr::call(
            Func::FloatDiv,
            vec![
                Expr::agg(
                    Agg::Sum,
                    Expr::if_then(nonempty("dk"), Expr::Col("n"), Expr::Int(0)),
                ),
                ids(),
            ],
        )),
        Segment::OneEventPerUser => sum("o"),
        Segment::PropertySum => zero_if_null(sum("ps")),
        Segment::PropertyAverage => {
            zero_if_null(Expr::call(Func::FloatDiv, vec![sum("ps"), sum("pc")]))
        }
        Segment::PropertyMin => zero_if_null(Expr::agg(Agg::Min, Expr::Col("pmin"))),
        Segment::PropertyMax => zero_if_null(Expr::agg(Agg::Max, Expr::Col("pmax"))),
    }
}

/// `CASE WHEN cfg = 0 THEN a WHEN cfg = 1 THEN b … END`, or the only value when all agree.
fn per_config(values: Vec<Expr>) -> Expr {
    let first = values.first().cloned().unwrap_or(Expr::Null);
    if values.iter().all(|v| *v == first) {
        return first;
    }
    let mut whens: Vec<(Vec<i64>, Expr)> = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        match whens.iter_mut().find(|(_, e)| *e == v) {
            Some((ids, _)) => ids.push(i as i64),
            None => whens.push((vec![i as i64], v)),
        }
    }
    let arms = whens
        .into_iter()
        .map(|(ids, v)| (cfg_in(&ids), v))
        .collect();
    Expr::Case(arms, None)
}

/// `cfg = i`, or `cfg IN (…)` for several configs.
fn cfg_in(ids: &[i64]) -> Expr {
    match ids {
        [one] => Expr::Col("cfg").eq(Expr::Int(*one)),
        _ => Expr::InList(
            Box::new(Expr::Col("cfg")),
            ids.iter().copied().map(Expr::Int).collect(),
            false,
        ),
    }
}

/// A select item without an alias.
fn plain(expr: Expr) -> Item {
    Item { expr, alias: None }
}

fn item(expr: Expr, alias: &'static str) -> Item {
    Item {
        expr,
        alias: Some(alias),
    }
}

fn star() -> Item {
    plain(Expr::Star)
}

/// Level 1b of [`LatestEvent::MaxTime`] (a chart without breakdowns).
struct Latest<'a> {
    /// The scan's columns after `cfg, period, bucket`.
    cols: &'a [&'static str],
    /// Each config's segment.
    segments: &'a [Segment],
    /// The current grid.
    grid: &'a BucketGrid,
    /// The previous period's grid.
    previous: Option<&'a BucketGrid>,
}

impl Latest<'_> {
    /// One row per (config, period, user) of the `one_event_per_user` configs, in the
    /// bucket of the user's greatest time, with `rn = 1`; the other configs' rows pass
    /// unchanged (`rn = 0`) through a `UNION ALL` over the scan as a CTE.
    fn rows(&self, scan: Select, params: &mut Params, ctes: &mut Vec<Cte>) -> From {
        let (latest_cfgs, other_cfgs): (Vec<i64>, Vec<i64>) = (0..self.segments.len() as i64)
            .partition(|i| self.segments[*i as usize] == Segment::OneEventPerUser);
        let base = if other_cfgs.is_empty() {
            From::subquery(scan, "s")
        } else {
            ctes.push(Cte {
                name: "s",
                body: Body::Select(Box::new(scan)),
            });
            From::Named("s")
        };
        let col = |c: &'static str| plain(Expr::Col(c));

        let mut per_user = Select {
            items: vec![col("cfg"), col("period"), col("profile_id")],
            from: Some(base.clone()),
            filter: vec![nonempty("profile_id")],
            group_by: vec![
                Expr::Col("cfg"),
                Expr::Col("period"),
                Expr::Col("profile_id"),
            ],
            ..Select::default()
        };
        per_user.item(Expr::agg(Agg::Max, Expr::Col("ts")), "lt");
        if !other_cfgs.is_empty() {
            per_user.filter.push(cfg_in(&latest_cfgs));
        }
        let lt = Expr::Col("lt");
        let bucket = match self.previous {
            Some(pgrid) => Expr::if_then(
                Expr::Col("period").eq(Expr::Int(0)),
                bucket_expr(self.grid, lt.clone(), params),
                bucket_expr(pgrid, lt, params),
            ),
            None => bucket_expr(self.grid, lt, params),
        };
        let mut latest = Select {
            items: vec![col("cfg"), col("period"), item(bucket, "bucket")],
            from: Some(From::subquery(per_user, "m")),
            ..Select::default()
        };
        for c in self.cols {
            let value = if *c == "profile_id" {
                Expr::Col(c)
            } else {
                Expr::Null
            };
            latest.item(value, c);
        }
        latest.item(Expr::Int(1), "rn");
        if other_cfgs.is_empty() {
            return From::subquery(latest, "l");
        }

        let mut rest = Select {
            items: vec![col("cfg"), col("period"), col("bucket")],
            from: Some(base),
            filter: vec![cfg_in(&other_cfgs)],
            ..Select::default()
        };
        rest.items.extend(self.cols.iter().map(|c| col(c)));
        rest.item(Expr::Int(0), "rn");
        From::Subquery(
            Box::new(Statement {
                ctes: Vec::new(),
                body: Body::UnionAll(vec![rest, latest]),
            }),
            "l",
        )
    }
}

/// The statement, in the given forms.
fn lower(
    req: &ChartRequest,
    ctx: &Context,
    window: &Window,
    grid: &BucketGrid,
    previous: Option<&(Window, BucketGrid)>,
    forms: ChartForms,
    params: &mut Params,
) -> Statement {
    let n_break = req.breakdowns.len().min(BREAKDOWN_ALIASES.len());
    let b_cols: Vec<Expr> = BREAKDOWN_ALIASES[..n_break]
        .iter()
        .map(|a| Expr::Col(a))
        .collect();
    let segments: Vec<Segment> = req.events.iter().map(|e| e.segment).collect();
    let needs = |pred: fn(Segment) -> bool| segments.iter().any(|s| pred(*s));

    // Level 1: one pass over the table.
    let project = params.text(ctx.project_id.clone());
    let cur_start = params.ts(window.start);
    let mut scan = Select::default();
    let mut filter = vec![Expr::Col("project_id").eq(project)];
    let created = Expr::Col("created_at");
    match previous {
        Some((pw, _)) => {
            let prev_start = params.ts(pw.start);
            let cur_end = params.ts(window.end);
            filter.push(created.clone().op(Op::GtEq, prev_start));
            filter.push(created.clone().op(Op::LtEq, cur_end));
            // The previous window of a period-to-date ends before the current one starts.
            if pw.end + 1 < window.start {
                let prev_end = params.ts(pw.end);
                filter.push(Expr::Or(vec![
                    created.clone().op(Op::GtEq, cur_start.clone()),
                    created.clone().op(Op::LtEq, prev_end),
                ]));
            }
        }
        None => {
            let cur_end = params.ts(window.end);
            filter.push(created.clone().op(Op::GtEq, cur_start.clone()));
            filter.push(created.clone().op(Op::LtEq, cur_end));
        }
    }
    // With several configs, the name list lets an index on (project_id, name, …) prune
    // rows before the per-config conditions run; a single config's condition has it.
    if req.events.len() > 1 && req.events.iter().all(|e| e.name != EventName::Any) {
        let mut names: Vec<&str> = req.events.iter().map(|e| e.name.as_str()).collect();
        names.dedup();
        let mut uniq: Vec<&str> = Vec::new();
        for n in names {
            if !uniq.contains(&n) {
                uniq.push(n);
            }
        }
        let list: Vec<Expr> = uniq.into_iter().map(|n| params.text(n)).collect();
        filter.push(match list.as_slice() {
            [one] => Expr::Col("name").eq(one.clone()),
            _ => Expr::InList(Box::new(Expr::Col("name")), list, false),
        });
    }
    let conds: Vec<Expr> = req.events.iter().map(|e| matches(e, params)).collect();
    let base = From::table("events");
    if conds.len() == 1 {
        scan.from = Some(base);
        scan.item(Expr::Int(0), "cfg");
        if !matches!(&conds[0], Expr::And(v) if v.is_empty()) {
            filter.push(conds[0].clone());
        }
    } else {
        scan.from = Some(From::Expand {
            source: Box::new(base),
            matches: conds,
            alias: "cfg",
        });
        scan.items.push(plain(Expr::Col("cfg")));
    }
    scan.filter = filter;
    match previous {
        Some((_, pgrid)) => {
            let cur = bucket_expr(grid, epoch_ms("created_at"), params);
            let prev = bucket_expr(pgrid, epoch_ms("created_at"), params);
            let is_current = created.clone().op(Op::GtEq, cur_start);
            scan.item(
                Expr::if_then(is_current.clone(), Expr::Int(0), Expr::Int(1)),
                "period",
            );
            scan.item(Expr::if_then(is_current, cur, prev), "bucket");
        }
        None => {
            scan.item(Expr::Int(0), "period");
            let cur = bucket_expr(grid, epoch_ms("created_at"), params);
            scan.item(cur, "bucket");
        }
    }
    for (b, alias) in req.breakdowns.iter().zip(BREAKDOWN_ALIASES) {
        let label = label_expr(&b.field, params);
        scan.item(label, alias);
    }
    // The columns after the keys, for level 1b's union.
    let mut cols: Vec<&'static str> = Vec::new();
    if needs(|s| {
        matches!(
            s,
            Segment::User | Segment::UserAverage | Segment::OneEventPerUser
        )
    }) {
        scan.item(Expr::Col("profile_id"), "profile_id");
        cols.push("profile_id");
    }
    if needs(|s| s == Segment::Session) {
        scan.item(Expr::Col("session_id"), "session_id");
        cols.push("session_id");
    }
    if needs(Segment::needs_property) {
        let values: Vec<Expr> = req
            .events
            .iter()
            .map(|e| match (&e.property, e.segment.needs_property()) {
                (Some(f), true) => property_value(f, params),
                _ => Expr::Null,
            })
            .collect();
        scan.item(per_config(values), "pv");
        cols.push("pv");
    }
    let oepu = needs(|s| s == Segment::OneEventPerUser);
    let max_time = oepu && n_break == 0 && forms.latest == LatestEvent::MaxTime;
    if oepu {
        scan.item(epoch_ms("created_at"), "ts");
        if !max_time {
            scan.item(Expr::call(Func::IdText, vec![Expr::Col("id")]), "event_id");
        }
    }

    // Level 1b: each user's latest matching event per config and period.
    let mut ctes = Vec::new();
    let mut source = if max_time {
        let latest = Latest {
            cols: &cols,
            segments: &segments,
            grid,
            previous: previous.map(|(_, g)| g),
        };
        latest.rows(scan, params, &mut ctes)
    } else if oepu {
        let rn = Expr::Window(
            Win::RowNumber,
            None,
            vec![
                Expr::Col("cfg"),
                Expr::Col("period"),
                Expr::Col("profile_id"),
            ],
            vec![
                OrderBy::desc(Expr::Col("ts")),
                OrderBy::desc(Expr::Col("event_id")),
            ],
        );
        let ranked = Select {
            items: vec![star(), item(rn, "rn")],
            from: Some(From::subquery(scan, "s")),
            ..Select::default()
        };
        From::subquery(ranked, "l")
    } else {
        From::subquery(scan, "s")
    };

    // Level 2: one value per config, period, bucket and combination.
    let mut keys = vec![Expr::Col("cfg"), Expr::Col("period"), Expr::Col("bucket")];
    keys.extend(b_cols.iter().cloned());
    let key_items = |keys: &[Expr]| -> Vec<Item> { keys.iter().cloned().map(plain).collect() };
    // A single config's `cfg` and a request without a previous period's `period` are the
    // constant 0: selected as such, not grouped by (hashing constant keys is measurable
    // on ClickHouse, docs/performance.md).
    let mut constant: Vec<&'static str> = Vec::new();
    if req.events.len() == 1 {
        constant.push("cfg");
    }
    if previous.is_none() {
        constant.push("period");
    }
    let is_constant = |k: &Expr| matches!(k, Expr::Col(c) if constant.contains(c));
    let grouped_items = |keys: &[Expr]| -> Vec<Item> {
        keys.iter()
            .map(|k| match k {
                Expr::Col(c) if constant.contains(c) => item(Expr::Int(0), c),
                _ => plain(k.clone()),
            })
            .collect()
    };
    let group_by: Vec<Expr> = keys.iter().filter(|k| !is_constant(k)).cloned().collect();
    let value = if forms.distinct == DistinctCounts::Grouped
        && segments.iter().any(|s| distinct_key(*s).is_some())
    {
        // Level 2a: one group per distinct id, so that level 2 counts groups.
        let dk = per_config(
            segments
                .iter()
                .map(|s| distinct_key(*s).map_or(Expr::Null, Expr::Col))
                .collect(),
        );
        let mut by_id = Select {
            items: grouped_items(&keys),
            from: Some(source),
            group_by: group_by.clone(),
            ..Select::default()
        };
        by_id.group_by.push(dk.clone());
        by_id.item(dk, "dk");
        for (alias, agg) in partial_aggs(&segments) {
            by_id.item(agg, alias);
        }
        source = From::subquery(by_id, "d");
        per_config(segments.iter().map(|s| combined_agg(*s)).collect())
    } else {
        per_config(segments.iter().map(|s| segment_agg(*s)).collect())
    };
    let mut grouped = Select {
        items: grouped_items(&keys),
        from: Some(source),
        group_by: group_by.clone(),
        ..Select::default()
    };
    grouped.item(value, "value");

    let order: Vec<OrderBy> = group_by.iter().cloned().map(OrderBy::asc).collect();
    let mut out_items = key_items(&keys);
    out_items.push(plain(Expr::Col("value")));

    if n_break == 0 {
        grouped.item(Expr::Int(req.events.len() as i64), "series");
        grouped.order_by = order;
        let mut stmt = Statement::select(grouped);
        stmt.ctes = ctes;
        return stmt;
    }

    // Level 3: each combination's current-period total, and whether it exists now.
    let mut combo = vec![Expr::Col("cfg")];
    combo.extend(b_cols.iter().cloned());
    let is_current = Expr::Col("period").eq(Expr::Int(0));
    let total = Expr::Window(
        Win::Sum,
        Some(Box::new(Expr::if_then(
            is_current.clone(),
            Expr::Col("value"),
            Expr::Int(0),
        ))),
        combo.clone(),
        Vec::new(),
    );
    let present = Expr::Window(
        Win::Max,
        Some(Box::new(Expr::if_then(
            is_current,
            Expr::Int(1),
            Expr::Int(0),
        ))),
        combo,
        Vec::new(),
    );
    let totals = Select {
        items: vec![star(), item(total, "total"), item(present, "present")],
        from: Some(From::subquery(grouped, "g")),
        ..Select::default()
    };

    // Level 4: rank combinations by total, ties by their labels in code-point order.
    let mut rank_order = vec![OrderBy::desc(Expr::Col("total"))];
    for (b, col) in req.breakdowns.iter().zip(&b_cols) {
        if b.field.is_numeric() {
            // `(not set)` sorts before any number's text; numbers tie-break by value
            // (docs/decisions.md), then shaping orders the kept series by their labels.
            let unset = Expr::if_then(
                Expr::IsNull(Box::new(col.clone()), false),
                Expr::Int(0),
                Expr::Int(1),
            );
            rank_order.push(OrderBy::asc(unset));
            rank_order.push(OrderBy::asc(col.clone()));
        } else {
            rank_order.push(OrderBy::asc(Expr::call(Func::ByteOrder, vec![col.clone()])));
        }
    }
    let rank = Expr::Window(Win::DenseRank, None, vec![Expr::Col("cfg")], rank_order);
    let ranked = Select {
        items: vec![star(), item(rank, "rnk")],
        from: Some(From::subquery(totals, "t")),
        filter: vec![Expr::Col("present").eq(Expr::Int(1))],
        ..Select::default()
    };

    // Level 5: count every combination, keep the top `limit + offset` of each config.
    let series = Expr::Window(
        Win::Max,
        Some(Box::new(Expr::Col("rnk"))),
        vec![Expr::Col("cfg")],
        Vec::new(),
    );
    let counted = Select {
        items: vec![star(), item(series, "series")],
        from: Some(From::subquery(ranked, "r")),
        ..Select::default()
    };
    let keep = i64::try_from(req.limit.saturating_add(req.offset)).unwrap_or(i64::MAX);
    out_items.push(plain(Expr::Col("series")));
    let top = Select {
        items: out_items,
        from: Some(From::subquery(counted, "c")),
        filter: vec![Expr::Col("rnk").op(Op::LtEq, params.int(keep))],
        order_by: order,
        ..Select::default()
    };
    Statement::select(top)
}
