//! `GET /export/funnel`: the level each entrant reaches, counted per level.
//!
//! Result columns: `level, entrants`. `reach[k]` is the number of entrants whose level is
//! at least `k`, summed in shaping.

use super::chart::BREAKDOWN_ALIASES;
use super::filter::{distinct_names, event_match};
use super::funnel_arrays::general_arrays;
use super::{Context, epoch_ms, resolve_window};
use crate::error::{ParamError, RequestError};
use crate::request::{
    Attribution, EventName, FunnelBreakdowns, FunnelOrder, FunnelRange, FunnelRequest,
};
use crate::sql::CellType;
use crate::sql::ast::{
    Agg, Body, Cte, Expr, Func, Item, Op, OrderBy, Params, Select, Source, Statement, TimeColumn,
    Win, WindowFunnel, WindowFunnelStep,
};
use crate::sql::dialect::{FunnelAggregate, FunnelStrategy};
use crate::sql::render::render;
use crate::sql::{Dialect, Query};
use crate::time::{self, BucketGrid, Window};

/// The compiled funnel request.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelPlan {
    /// The statement.
    pub query: Query,
    /// The window.
    pub window: Window,
    /// The entry buckets (`interval`).
    pub grid: Option<BucketGrid>,
    /// The previous period's window and statement (`previous=true`).
    pub previous: Option<(Window, Query)>,
    /// The time-to-convert statement (`timeToConvert`).
    pub time_to_convert: Option<Query>,
    /// The breakdowns statement (`breakdowns`).
    pub breakdowns: Option<Query>,
}

pub(super) const STEP_ALIASES: [&str; 20] = [
    "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15",
    "s16", "s17", "s18", "s19", "s20",
];
const RUNNING_ALIASES: [&str; 20] = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12", "m13", "m14", "m15",
    "m16", "m17", "m18", "m19", "m20",
];
pub(super) const CHAIN_ALIASES: [&str; 20] = [
    "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14", "c15",
    "c16", "c17", "c18", "c19", "c20",
];

/// `name = ?` for a step that requires an event name. It binds no new parameter: the
/// step's condition bound the name first, and equal values share a placeholder.
fn name_test(name: &EventName, params: &mut Params) -> Option<Expr> {
    match name {
        EventName::Named(n) => Some(Expr::Col("name").eq(params.text(n.clone()))),
        EventName::Any => None,
    }
}

fn is_true(e: &Expr) -> bool {
    matches!(e, Expr::And(v) if v.is_empty())
}

/// Compile a funnel request.
pub fn compile_funnel(
    req: &FunnelRequest,
    ctx: &Context,
    dialect: Dialect,
) -> Result<FunnelPlan, RequestError> {
    compile_funnel_with(req, ctx, dialect, dialect.rules().funnel_strategy())
}

/// [`compile_funnel`] with an explicit formulation, to compare them (benches): every
/// strategy gives the same levels. [`FunnelStrategy::WindowFunnel`] is an error for a
/// dialect without a funnel aggregate (all but ClickHouse). A request using any option
/// beyond §7 (docs/funnels.md) has one formulation, [`general`], whatever `strategy`.
pub fn compile_funnel_with(
    req: &FunnelRequest,
    ctx: &Context,
    dialect: Dialect,
    strategy: FunnelStrategy,
) -> Result<FunnelPlan, RequestError> {
    let window = resolve_window(&req.time, ctx)?;
    let grid = match req.interval {
        None => None,
        Some(interval) => Some(
            BucketGrid::new(interval, ctx.tz, window.start, window.end).map_err(|n| {
                ParamError::invalid(
                    "interval",
                    format!(
                        "the window needs {n} {} buckets; at most {} are allowed",
                        interval.as_str(),
                        time::MAX_BUCKETS
                    ),
                )
            })?,
        ),
    };
    let query = statement(req, ctx, dialect, strategy, &window, grid.as_ref())?;
    let time_to_convert = req.time_to_convert.as_deref().map(|edges| {
        let mut params = Params::default();
        let output = Output::TimeToConvert(edges);
        let stmt = general_in(dialect, req, ctx, &window, output, &mut params);
        let columns = vec![CellType::Int; 6 + edges.len()];
        render(dialect.rules(), &stmt, params, columns)
    });
    let breakdowns = req.breakdowns.as_ref().map(|bd| {
        let mut params = Params::default();
        let output = Output::Breakdowns(bd);
        let stmt = general_in(dialect, req, ctx, &window, output, &mut params);
        let mut columns = vec![CellType::Int];
        columns.extend(bd.fields.iter().map(|_| CellType::Text));
        columns.extend([CellType::Int; 4]);
        render(dialect.rules(), &stmt, params, columns)
    });
    let previous = if req.previous {
        let w = time::previous_window(&window, ctx.tz);
        let q = statement(req, ctx, dialect, strategy, &w, None)?;
        Some((w, q))
    } else {
        None
    };
    Ok(FunnelPlan {
        query,
        window,
        grid,
        previous,
        time_to_convert,
        breakdowns,
    })
}

/// The statement of one window.
fn statement(
    req: &FunnelRequest,
    ctx: &Context,
    dialect: Dialect,
    strategy: FunnelStrategy,
    window: &Window,
    grid: Option<&BucketGrid>,
) -> Result<Query, RequestError> {
    let mut params = Params::default();
    let group = req.group.column().sql();
    let n = req.steps.len().min(STEP_ALIASES.len());
    // With §7's chains, the engine's funnel aggregate finds the levels whatever else is
    // asked (alternatives, entry buckets: the earliest step-1 event). The running-max form
    // answers neither: it has no entry time, and it sorts only the entrants with a step-2
    // event, which alternatives make common, and then costs more than the general form
    // (1.6x on 1M events, docs/performance.md).
    let aggregate = strategy == FunnelStrategy::WindowFunnel;
    let alternatives = req.steps.iter().any(|s| s.matches.len() > 1);
    // With funnelRange=entry the chains are §7's over a scan a window longer, step 1 in
    // the range: the funnel aggregate finds them, and a second one, step 1 also at most a
    // window before now, tells whether a chain of the entrant's level is still open.
    let entry = req.range == FunnelRange::Entry;
    let plain_chains = req.has_plain_chains() || (aggregate && req.has_ordered_chains());
    if !plain_chains || (!aggregate && (alternatives || grid.is_some())) {
        let stmt = general_in(dialect, req, ctx, window, Output::Levels(grid), &mut params);
        let columns = vec![CellType::Int; 4];
        return Ok(render(dialect.rules(), &stmt, params, columns));
    }

    let mut filter = scanned(req, ctx, window, &mut params);
    let step_names = || {
        req.steps
            .iter()
            .flat_map(|s| s.matches.iter().map(|m| &m.name))
    };
    if step_names().all(|n| *n != EventName::Any) {
        let list: Vec<Expr> = distinct_names(step_names())
            .into_iter()
            .map(|n| params.text(n))
            .collect();
        filter.push(Expr::InList(Box::new(Expr::Col("name")), list, false));
    }
    let mut conds = step_conditions(req, n, &mut params);
    // Steps with filters narrow the scan further than the name list does.
    let has_filters = req
        .steps
        .iter()
        .any(|s| s.matches.iter().any(|m| !m.filters.is_empty()));
    if has_filters && !conds.iter().any(is_true) {
        filter.push(Expr::or(conds.clone()));
    }

    // funnelRange=entry: step 1 in the range; the open chains' step 1 also from a window
    // before now on.
    let mut open = None;
    if entry {
        let in_range = Expr::Col("created_at").op(Op::LtEq, params.ts(window.end));
        conds[0] = Expr::and(vec![conds[0].clone(), in_range]);
        let since = ctx.now.saturating_sub(req.window_ms);
        let late = Expr::Col("created_at").op(Op::GtEq, params.ts(since));
        open = Some(Expr::and(vec![conds[0].clone(), late]));
    }
    let stmt = match strategy {
        FunnelStrategy::WindowFunnel => {
            let Some(engine) = dialect.rules().funnel_aggregate() else {
                return Err(ParamError::invalid(
                    "strategy",
                    "the windowFunnel form needs an engine with a funnel aggregate (ClickHouse)",
                )
                .into());
            };
            window_funnel(engine, req, conds, open, filter, group, grid, &mut params)
        }
        FunnelStrategy::Chains => chains(conds, filter, group, req.window_ms, n, &mut params),
        FunnelStrategy::RunningMax => {
            running_max(conds, filter, group, req.window_ms, n, &mut params)
        }
    };
    let columns = vec![CellType::Int; if grid.is_some() || entry { 4 } else { 2 }];
    Ok(render(dialect.rules(), &stmt, params, columns))
}

/// `SELECT level, count(*) … WHERE level > 0 GROUP BY level`.
fn outer_count(from: Source, _params: &mut Params) -> Statement {
    let mut s = Select {
        from: Some(from),
        filter: vec![Expr::Col("level").op(Op::Gt, Expr::Int(0))],
        group_by: vec![Expr::Col("level")],
        order_by: vec![OrderBy::asc(Expr::Col("level"))],
        ..Select::default()
    };
    s.items.push(Item {
        expr: Expr::Col("level"),
        alias: None,
    });
    s.item(Expr::count_star(), "entrants");
    Statement::select(s)
}

/// One aggregate per entrant: the engine's funnel over the steps' conditions, each given
/// with its name test.
#[allow(clippy::too_many_arguments)]
fn window_funnel(
    engine: &'static dyn FunnelAggregate,
    req: &FunnelRequest,
    conds: Vec<Expr>,
    open: Option<Expr>,
    filter: Vec<Expr>,
    group: &'static str,
    grid: Option<&BucketGrid>,
    params: &mut Params,
) -> Statement {
    let entry = Expr::if_then(conds[0].clone(), epoch_ms("created_at"), Expr::Null);
    // A step's name test: any of its names; none when one of them is `*`.
    let steps: Vec<WindowFunnelStep> = req
        .steps
        .iter()
        .zip(conds)
        .map(|(s, condition)| WindowFunnelStep {
            name: s
                .matches
                .iter()
                .map(|m| name_test(&m.name, params))
                .collect::<Option<Vec<Expr>>>()
                .map(Expr::or),
            condition,
        })
        .collect();
    let exclusive = names_tell_groups(
        req.steps
            .iter()
            .map(|s| s.matches.iter().map(|m| &m.name).collect()),
    );
    let funnel = |steps: Vec<WindowFunnelStep>| {
        Expr::WindowFunnel(Box::new(WindowFunnel {
            engine,
            window_ms: req.window_ms,
            time: TimeColumn::required("created_at"),
            steps,
            exclusive,
        }))
    };
    let mut inner = Select {
        from: Some(Source::table("events")),
        filter,
        group_by: vec![Expr::Col(group)],
        ..Select::default()
    };
    // With funnelRange=entry, the level of the chains whose step 1 is at most a window
    // before now: the entrant's own level when one of its deepest chains is still open.
    let open = open.map(|first| {
        let mut late = steps.clone();
        late[0].condition = first;
        inner.item(funnel(late), "late");
        let n = req.steps.len() as i64;
        let level = || Expr::Col("level");
        let open = Expr::And(vec![
            level().op(Op::Lt, Expr::Int(n)),
            Expr::Col("late").op(Op::GtEq, level()),
        ]);
        Expr::if_then(open, Expr::Int(1), Expr::Int(0))
    });
    inner.item(funnel(steps), "level");
    if grid.is_none() && open.is_none() {
        return outer_count(Source::subquery(inner, "f"), params);
    }
    // Conversion over time: each entrant's entry bucket, as the general form's rows.
    let bucket = match grid {
        Some(grid) => {
            inner.item(Expr::agg(Agg::Min, entry), "entry");
            super::chart::exprs::bucket_expr(grid, Expr::Col("entry"), params)
        }
        None => Expr::Int(0),
    };
    let open = open.unwrap_or(Expr::Int(0));
    by_level_open_bucket(Source::subquery(inner, "f"), open, bucket)
}

/// `level, open, bucket, entrants`: the entrants of `per_entrant` (rows with `level`) at
/// level 1 or more, counted by level, `open` and `bucket` (expressions over its rows), in
/// one `SELECT` grouped by the aliases of its own select list. `per_entrant` has no
/// column named `open` or `bucket` (PostgreSQL would group by such a column first). On
/// ClickHouse each layer above a funnel's per-entrant aggregate costs time to plan and
/// run (docs/performance.md).
pub(super) fn by_level_open_bucket(per_entrant: Source, open: Expr, bucket: Expr) -> Statement {
    let cols = || vec![Expr::Col("level"), Expr::Col("open"), Expr::Col("bucket")];
    let mut out = Select {
        from: Some(per_entrant),
        filter: vec![Expr::Col("level").op(Op::Gt, Expr::Int(0))],
        group_by: cols(),
        order_by: cols().into_iter().map(OrderBy::asc).collect(),
        ..Select::default()
    };
    out.item(Expr::Col("level"), "level")
        .item(open, "open")
        .item(bucket, "bucket")
        .item(Expr::count_star(), "entrants");
    Statement::select(out)
}

/// The scanned events as `k` (the entrant), `t` (epoch ms) and a 0/1 flag per step.
///
/// `k` only partitions (its order is never seen), so it is compared by code point: a
/// PostgreSQL sort by a locale's collation costs far more than by bytes (11 % of the
/// whole funnel in C.UTF-8, docs/performance.md), and equality is the same either way.
fn step_events(conds: Vec<Expr>, filter: Vec<Expr>, group: &'static str) -> Select {
    let mut ev = Select {
        from: Some(Source::table("events")),
        filter,
        ..Select::default()
    };
    ev.item(Expr::call(Func::ByteOrder, vec![Expr::Col(group)]), "k")
        .item(epoch_ms("created_at"), "t");
    for (cond, alias) in conds.into_iter().zip(STEP_ALIASES) {
        ev.item(flag(cond), alias);
    }
    ev
}

/// Greedy chains: `c1` holds every distinct step-1 event per entrant; `c(k+1)` extends
/// each chain of `ck` with the earliest step-(k+1) event strictly after it and within the
/// window of the chain's first event. An entrant's level is its longest chain.
fn chains(
    conds: Vec<Expr>,
    filter: Vec<Expr>,
    group: &'static str,
    window_ms: i64,
    n: usize,
    params: &mut Params,
) -> Statement {
    let ev = step_events(conds, filter, group);
    let mut ctes = vec![Cte {
        name: "ev",
        body: Body::Select(Box::new(ev)),
    }];

    let mut c1 = Select {
        distinct: true,
        from: Some(Source::Named("ev")),
        filter: vec![Expr::Col("s1").eq(Expr::Int(1))],
        ..Select::default()
    };
    c1.item(Expr::Col("k"), "k")
        .item(Expr::Col("t"), "t0")
        .item(Expr::Col("t"), "t");
    ctes.push(Cte {
        name: "c1",
        body: Body::Select(Box::new(c1)),
    });

    let window = params.int(window_ms);
    for k in 1..n {
        let prev = CHAIN_ALIASES[k - 1];
        let on = Expr::And(vec![
            Expr::Qualified("ev", "k").eq(Expr::Qualified(prev, "k")),
            Expr::Qualified("ev", STEP_ALIASES[k]).eq(Expr::Int(1)),
            Expr::Qualified("ev", "t").op(Op::Gt, Expr::Qualified(prev, "t")),
            Expr::Qualified("ev", "t").op(
                Op::LtEq,
                Expr::Qualified(prev, "t0").op(Op::Add, window.clone()),
            ),
        ]);
        let mut step = Select {
            from: Some(Source::Join(
                Box::new(Source::Named(prev)),
                Box::new(Source::Named("ev")),
                on,
            )),
            group_by: vec![Expr::Qualified(prev, "k"), Expr::Qualified(prev, "t0")],
            ..Select::default()
        };
        step.item(Expr::Qualified(prev, "k"), "k")
            .item(Expr::Qualified(prev, "t0"), "t0")
            .item(Expr::agg(Agg::Min, Expr::Qualified("ev", "t")), "t");
        ctes.push(Cte {
            name: CHAIN_ALIASES[k],
            body: Body::Select(Box::new(step)),
        });
    }

    let levels: Vec<Select> = (0..n)
        .map(|k| {
            let mut s = Select {
                from: Some(Source::Named(CHAIN_ALIASES[k])),
                ..Select::default()
            };
            s.item(Expr::Col("k"), "k")
                .item(Expr::Int(k as i64 + 1), "level");
            s
        })
        .collect();
    let union = Statement {
        ctes: Vec::new(),
        body: Body::UnionAll(levels),
    };
    let mut per_entrant = Select {
        from: Some(Source::Subquery(Box::new(union), "l")),
        group_by: vec![Expr::Col("k")],
        ..Select::default()
    };
    per_entrant
        .item(Expr::Col("k"), "k")
        .item(Expr::agg(Agg::Max, Expr::Col("level")), "level");
    let mut out = outer_count(Source::subquery(per_entrant, "m"), params);
    out.ctes = ctes;
    out
}

/// One pass per step over the entrants' events, sorted once by `(k, t)`.
///
/// For an event of step `j`, let `S_j` be the latest start (step-1 time) of a chain of
/// steps `1…j` with strictly increasing times that ends at this event and stays within the
/// window: `S_1 = t`, and `S_j = m_j` when `m_j >= t - window`, where `m_j` is the largest
/// `S_(j-1)` over the entrant's events strictly before `t` (a running max; the latest start
/// leaves the most room, so it is the only one that matters). An entrant reaches level
/// `j` when some event has an `S_j`: the same levels as [`chains`] and `windowFunnel`,
/// with one sort and `n - 1` linear window passes instead of `n - 1` self-joins.
///
/// Only entrants with both a step-1 and a step-2 event can go past level 1, and most
/// entrants of a real funnel have no step-2 event: the scanned rows are kept once (`e`),
/// one hash aggregate over them (`g`) says which entrants have which, and only the rows of
/// entrants with both are sorted and passed over; the others are at level 1 (with a
/// step-1 event) or 0. On the benchmark's funnel that leaves 0.75× its time
/// (docs/performance.md).
fn running_max(
    conds: Vec<Expr>,
    filter: Vec<Expr>,
    group: &'static str,
    window_ms: i64,
    n: usize,
    params: &mut Params,
) -> Statement {
    let ev = step_events(conds, filter, group);
    if n < 2 {
        let levels = running_levels(Source::subquery(ev, "e"), window_ms, n, params);
        return outer_count(Source::subquery(levels, "m"), params);
    }
    let step = |j: usize| Expr::Col(STEP_ALIASES[j]);
    let mut has = Select {
        from: Some(Source::Named("e")),
        group_by: vec![Expr::Col("k")],
        ..Select::default()
    };
    has.item(Expr::Col("k"), "k")
        .item(Expr::agg(Agg::Max, step(0)), "h1")
        .item(Expr::agg(Agg::Max, step(1)), "h2");
    let h = |name: &'static str, v: i64| Expr::Qualified("g", name).eq(Expr::Int(v));
    // The rows of entrants with a step-1 and a step-2 event.
    let mut both = Select {
        from: Some(Source::Named("e")),
        filter: vec![entrants_where(vec![h("h1", 1), h("h2", 1)])],
        ..Select::default()
    };
    both.item(Expr::Qualified("e", "k"), "k")
        .item(Expr::Qualified("e", "t"), "t");
    for alias in &STEP_ALIASES[..n] {
        both.item(Expr::Qualified("e", alias), alias);
    }
    let windowed = running_levels(Source::subquery(both, "b"), window_ms, n, params);
    let mut first_only = Select {
        from: Some(Source::Named("g")),
        filter: vec![h("h1", 1), h("h2", 0)],
        ..Select::default()
    };
    first_only
        .item(Expr::Qualified("g", "k"), "k")
        .item(Expr::Int(1), "level");
    let union = Statement {
        ctes: Vec::new(),
        body: Body::UnionAll(vec![first_only, windowed]),
    };
    let mut out = outer_count(Source::Subquery(Box::new(union), "m"), params);
    out.ctes = vec![
        Cte {
            name: "e",
            body: Body::Select(Box::new(ev)),
        },
        Cte {
            name: "g",
            body: Body::Select(Box::new(has)),
        },
    ];
    out
}

/// `k, level` of every entrant in `source` (rows `k, t, s1…sn`): the running-max passes
/// of [`running_max`].
fn running_levels(source: Source, window_ms: i64, n: usize, params: &mut Params) -> Select {
    let window = params.int(window_ms);
    let step = |j: usize| Expr::Col(STEP_ALIASES[j]).eq(Expr::Int(1));
    // Whether a row completes step `j + 1` (`j` from 0) on a level that computed `m_(j+1)`.
    let completes = |j: usize| -> Expr {
        if j == 0 {
            return step(0);
        }
        let m = Expr::Col(RUNNING_ALIASES[j]);
        let in_window = m.op(Op::GtEq, Expr::Col("t").op(Op::Sub, window.clone()));
        Expr::And(vec![step(j), in_window])
    };
    // Its `S_(j+1)`, else NULL.
    let start_of = |j: usize| -> Expr {
        let s = if j == 0 {
            Expr::Col("t")
        } else {
            Expr::Col(RUNNING_ALIASES[j])
        };
        Expr::if_then(completes(j), s, Expr::Null)
    };
    let mut source = source;
    for j in 1..n {
        let m = Expr::Window(
            Win::MaxBefore,
            Some(Box::new(start_of(j - 1))),
            vec![Expr::Col("k")],
            vec![OrderBy::asc(Expr::Col("t"))],
        );
        source = layer(source, CHAIN_ALIASES[j], vec![(m, RUNNING_ALIASES[j])]);
    }
    // A row's level: the deepest step it completes.
    let reached: Vec<(Expr, Expr)> = (0..n)
        .rev()
        .map(|j| (completes(j), Expr::Int(j as i64 + 1)))
        .collect();
    let mut per_entrant = Select {
        from: Some(source),
        group_by: vec![Expr::Col("k")],
        ..Select::default()
    };
    per_entrant.item(Expr::Col("k"), "k").item(
        Expr::agg(Agg::Max, Expr::Case(reached, Some(Box::new(Expr::Int(0))))),
        "level",
    );
    per_entrant
}

const EXCLUSION_ALIASES: [&str; 10] = ["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10"];
const SEGMENT_ALIASES: [&str; 10] = ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "g10"];
const CLEAN_ALIASES: [&str; 10] = ["z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z10"];
pub(super) const FIRST_ALIASES: [&str; 20] = [
    "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15",
    "f16", "f17", "f18", "f19", "f20",
];
pub(super) const BIN_ALIASES: [&str; 21] = [
    "h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11", "h12", "h13", "h14",
    "h15", "h16", "h17", "h18", "h19", "h20",
];
pub(super) const VALUE_ALIASES: [&str; 3] = ["v0", "v1", "v2"];
const SHOWN_ALIASES: [&str; 3] = ["u0", "u1", "u2"];
pub(super) const OPEN_ALIASES: [&str; 20] = [
    "o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9", "o10", "o11", "o12", "o13", "o14", "o15",
    "o16", "o17", "o18", "o19", "o20",
];

fn flag(cond: Expr) -> Expr {
    if is_true(&cond) {
        Expr::Int(1)
    } else {
        Expr::if_then(cond, Expr::Int(1), Expr::Int(0))
    }
}

pub(super) fn layer(
    source: Source,
    alias: &'static str,
    items: Vec<(Expr, &'static str)>,
) -> Source {
    let mut s = Select {
        items: vec![Item {
            expr: Expr::Star,
            alias: None,
        }],
        from: Some(source),
        ..Select::default()
    };
    for (e, a) in items {
        s.item(e, a);
    }
    Source::subquery(s, alias)
}

/// What a [`general`] statement returns.
#[derive(Clone, Copy)]
pub(super) enum Output<'a> {
    /// Entrants by level, open window and entry bucket.
    Levels(Option<&'a BucketGrid>),
    /// The time-to-convert distribution of every step, with these histogram edges (ms).
    TimeToConvert(&'a [i64]),
    /// Entrants by breakdown combination (ranked, `Other` as 0), level and open window.
    Breakdowns(&'a FunnelBreakdowns),
}

/// [`general`], or its array form where the engine has one and it applies
/// ([`general_arrays`]).
fn general_in(
    dialect: Dialect,
    req: &FunnelRequest,
    ctx: &Context,
    window: &Window,
    output: Output,
    params: &mut Params,
) -> Statement {
    if dialect.rules().funnel_arrays() {
        return general_arrays(req, ctx, window, output, params);
    }
    general(req, ctx, window, output, params)
}

/// The funnel of docs/funnels.md: the running-max passes of [`running_max`] generalized
/// to alternatives (a step's flag is any of its configs), per-step windows (each pass's
/// frame reaches back no further than the step's window), exclusions (a pass between two
/// steps an exclusion spans is partitioned by the number of exclusion events so far, so a
/// chain never crosses one, and an event sharing its millisecond with one cannot be used),
/// strict order (every event of the entrant is scanned; a step event must be alone at its
/// millisecond and the previous row), entry-bounded ranges (step 1 within the range, the
/// others up to a window after it) and, per entrant, its entry bucket and whether the
/// window of its deepest chain is still open at `now`.
///
/// Result columns: `level, open, bucket, entrants` for [`Output::Levels`]; for
/// [`Output::TimeToConvert`] see [`time_to_convert`].
fn general(
    req: &FunnelRequest,
    ctx: &Context,
    window: &Window,
    output: Output,
    params: &mut Params,
) -> Statement {
    let group = req.group.column().sql();
    let n = req.steps.len().min(STEP_ALIASES.len());
    let strict = req.order == FunnelOrder::Strict;
    let any = req.order == FunnelOrder::Any;
    let entry = req.range == FunnelRange::Entry;
    let exclusions = &req.exclusions[..req.exclusions.len().min(EXCLUSION_ALIASES.len())];
    let w = req.window_ms;
    let Scan {
        filter,
        step_conds,
        excl_conds,
    } = scan(req, ctx, window, params);
    let mut ev = step_events(step_conds, filter, group);
    for (cond, alias) in excl_conds.into_iter().zip(EXCLUSION_ALIASES) {
        ev.item(flag(cond), alias);
    }
    if let Output::Breakdowns(bd) = output {
        for (b, alias) in bd.fields.iter().zip(BREAKDOWN_ALIASES) {
            ev.item(super::chart::exprs::label_expr(&b.field, params), alias);
        }
    }
    let end_ms = entry.then(|| params.int(window.end));
    // With funnelRange=entry, the time since which a chain's window is still open at now
    // (pending entrants); bound only when it is used.
    let pending = entry && !matches!(output, Output::TimeToConvert(_));
    let since = if pending {
        params.int(ctx.now.saturating_sub(w))
    } else {
        Expr::Null
    };
    // What the entrants without a step-2 event need of their first step-1 event.
    let keep = match output {
        Output::Levels(grid) => Some(FirstEvent::Time(grid.is_some())),
        Output::Breakdowns(bd) => Some(FirstEvent::Values(breakdown_cols(bd))),
        Output::TimeToConvert(_) => None,
    };
    // Entrants without a step-2 event are at level 1 at most, and most entrants of a real
    // funnel have none: the scan is kept once (`e`), one aggregate (`g`) tells which
    // entrants have one, and only their rows go through the passes below; the others get
    // their level, entry and open flag (or, with breakdowns, their attributed event: the
    // least `(time, values…)` of their step-1 events, whatever the rule) from that same
    // aggregate ([`first_event`]). On every engine (SQLite too, since the rows are picked
    // with a semi-join) the split is faster (docs/performance.md).
    let split = n >= 2;
    let mut ctes = Vec::new();
    let mut source = if split {
        let mut cols = vec!["k", "t"];
        cols.extend(&STEP_ALIASES[..n]);
        cols.extend(&EXCLUSION_ALIASES[..exclusions.len()]);
        let mut has = Select {
            from: Some(Source::Named("e")),
            group_by: vec![Expr::Col("k")],
            ..Select::default()
        };
        has.item(Expr::Col("k"), "k")
            .item(Expr::agg(Agg::Max, Expr::Col(STEP_ALIASES[1])), "h2");
        if let Some(keep) = keep {
            if let FirstEvent::Values(b_cols) = keep {
                cols.extend(b_cols);
            }
            // A step-1 event (in the range with funnelRange=entry) completes step 1.
            let mut first = vec![Expr::Col(STEP_ALIASES[0]).eq(Expr::Int(1))];
            first.extend(end_ms.clone().map(|end| Expr::Col("t").op(Op::LtEq, end)));
            let since = entry.then_some(&since);
            first_event(
                &mut has,
                Expr::And(first),
                since,
                keep,
                window.start,
                params,
            );
        }
        ctes.push(Cte {
            name: "e",
            body: Body::Select(Box::new(ev)),
        });
        ctes.push(Cte {
            name: "g",
            body: Body::Select(Box::new(has)),
        });
        Source::subquery(rows_with_step_2(&cols), "e0")
    } else {
        Source::subquery(ev, "e0")
    };

    // Per row: how many events share its millisecond (strict), the previous row's time
    // (strict with step windows), and per exclusion the events so far (its segment) and
    // at this millisecond.
    let k = || Expr::Col("k");
    let by_t = || vec![OrderBy::asc(Expr::Col("t"))];
    let mut extra = Vec::new();
    if strict {
        extra.push((
            Expr::Window(
                Win::Sum,
                Some(Box::new(Expr::Int(1))),
                vec![k(), Expr::Col("t")],
                vec![],
            ),
            "u",
        ));
        if req.steps.iter().any(|s| req.step_window(s).is_some()) {
            extra.push((
                Expr::Window(
                    Win::MaxPrevRow,
                    Some(Box::new(Expr::Col("t"))),
                    vec![k()],
                    by_t(),
                ),
                "tp",
            ));
        }
    }
    for (i, _) in exclusions.iter().enumerate() {
        let x = || Some(Box::new(Expr::Col(EXCLUSION_ALIASES[i])));
        extra.push((
            Expr::Window(Win::Sum, x(), vec![k()], by_t()),
            SEGMENT_ALIASES[i],
        ));
        extra.push((
            Expr::Window(Win::Sum, x(), vec![k(), Expr::Col("t")], vec![]),
            CLEAN_ALIASES[i],
        ));
    }
    if !extra.is_empty() {
        source = layer(source, "e1", extra);
    }

    // Step q (1-based) follows step q - 1 under these exclusions.
    let covering = |q: usize| -> Vec<usize> {
        (0..exclusions.len())
            .filter(|&i| exclusions[i].from < q && q <= exclusions[i].to)
            .collect()
    };
    let clean = |q: usize| -> Vec<Expr> {
        covering(q)
            .into_iter()
            .map(|i| Expr::Col(CLEAN_ALIASES[i]).eq(Expr::Int(0)))
            .collect()
    };
    // The funnel window, bound once for every pass (the any-order form does not use it).
    let earliest = if any { Expr::Null } else { params.int(w) };
    // Whether a row is step q of a valid chain (given m_q from its pass), and that
    // chain's latest start.
    let completes = |q: usize, params: &mut Params| -> Expr {
        if any {
            return any_set(q, end_ms.as_ref());
        }
        let mut all = vec![Expr::Col(STEP_ALIASES[q - 1]).eq(Expr::Int(1))];
        if strict && q > 1 {
            all.push(Expr::Col("u").eq(Expr::Int(1)));
        }
        if q == 1 {
            if let Some(end) = &end_ms {
                all.push(Expr::Col("t").op(Op::LtEq, end.clone()));
            }
        } else {
            all.extend(clean(q));
            let m = Expr::Col(RUNNING_ALIASES[q - 1]);
            all.push(m.op(Op::GtEq, Expr::Col("t").op(Op::Sub, earliest.clone())));
            if let (true, Some(sw)) = (strict, req.step_window(&req.steps[q - 1])) {
                let tp = Expr::Col("tp").op(Op::GtEq, Expr::Col("t").op(Op::Sub, params.int(sw)));
                all.push(tp);
            }
        }
        Expr::And(all)
    };
    let start = |q: usize| -> Expr {
        if q == 1 || any {
            Expr::Col("t")
        } else {
            Expr::Col(RUNNING_ALIASES[q - 1])
        }
    };
    if any {
        // Per row and step: whether the step occurs within the window from this row on.
        let ahead = (1..=n)
            .map(|q| {
                let x = Some(Box::new(Expr::Col(STEP_ALIASES[q - 1])));
                let m = Expr::Window(Win::MaxAhead(w), x, vec![k()], by_t());
                (m, RUNNING_ALIASES[q - 1])
            })
            .collect();
        source = layer(source, "a", ahead);
    }
    for q in (2..=n).filter(|_| !any) {
        let mut feed = vec![completes(q - 1, params)];
        feed.extend(clean(q));
        if strict {
            feed.push(Expr::Col("u").eq(Expr::Int(1)));
        }
        let input = Expr::if_then(Expr::And(feed), start(q - 1), Expr::Null);
        let mut partition = vec![k()];
        partition.extend(
            covering(q)
                .into_iter()
                .map(|i| Expr::Col(SEGMENT_ALIASES[i])),
        );
        let frame = if strict {
            Win::MaxPrevRow
        } else {
            Win::MaxWithin(req.step_window(&req.steps[q - 1]).unwrap_or(w))
        };
        let m = Expr::Window(frame, Some(Box::new(input)), partition, by_t());
        source = layer(
            source,
            CHAIN_ALIASES[q - 1],
            vec![(m, RUNNING_ALIASES[q - 1])],
        );
    }

    // Whether a row completes step `q` of a chain whose window is still open at now
    // (pending entrants, funnelRange=entry).
    let open_q = |q: usize, params: &mut Params| -> Expr {
        Expr::And(vec![
            completes(q, params),
            start(q).op(Op::GtEq, since.clone()),
        ])
    };
    if let Output::Breakdowns(bd) = output {
        let steps = Steps {
            n,
            entry,
            completes: &completes,
            open: &open_q,
        };
        let (per_entrant, open) = breakdown_entrants(source, &steps, bd, params);
        let per_entrant = all_entrants(per_entrant, keep.filter(|_| split), n, entry);
        let mut stmt = rank_combinations(per_entrant, open, bd, params);
        stmt.ctes = ctes;
        return stmt;
    }

    // Per entrant: its level, entry time and, per level, whether a chain of that level
    // still has time to go further; or the first time it completed each step.
    let reached: Vec<(Expr, Expr)> = (1..=n)
        .rev()
        .map(|q| (completes(q, params), Expr::Int(q as i64)))
        .collect();
    let mut per_entrant = Select {
        from: Some(source),
        group_by: vec![k()],
        ..Select::default()
    };
    let grid = match output {
        Output::Levels(grid) => grid,
        Output::Breakdowns(_) => unreachable!("answered above"),
        Output::TimeToConvert(edges) => {
            for q in 1..=n {
                let at = Expr::if_then(completes(q, params), Expr::Col("t"), Expr::Null);
                per_entrant.item(Expr::agg(Agg::Min, at), FIRST_ALIASES[q - 1]);
            }
            let mut stmt = time_to_convert(per_entrant, n, edges, params);
            stmt.ctes.splice(0..0, ctes);
            return stmt;
        }
    };
    per_entrant.item(
        Expr::agg(Agg::Max, Expr::Case(reached, Some(Box::new(Expr::Int(0))))),
        "level",
    );
    if grid.is_some() {
        let first = Expr::if_then(completes(1, params), Expr::Col("t"), Expr::Null);
        per_entrant.item(Expr::agg(Agg::Min, first), "entry");
    }
    let open = open_at_level(&mut per_entrant, n, entry, &open_q, params);
    let per_entrant = all_entrants(per_entrant, keep.filter(|_| split), n, entry);
    let bucket = match grid {
        Some(g) => super::chart::exprs::bucket_expr(g, Expr::Col("entry"), params),
        None => Expr::Int(0),
    };
    let mut stmt = by_level_open_bucket(per_entrant, open, bucket);
    stmt.ctes = ctes;
    stmt
}

/// Each of the first `n` steps' condition: any of its configs (`anyOf`).
fn step_conditions(req: &FunnelRequest, n: usize, params: &mut Params) -> Vec<Expr> {
    req.steps[..n]
        .iter()
        .map(|s| {
            Expr::or(
                s.matches
                    .iter()
                    .map(|m| event_match(&m.name, &m.filters, params))
                    .collect(),
            )
        })
        .collect()
}

/// The project's events with a group key from the window's start to its end, or to a
/// funnel window after it with `funnelRange=entry` (docs/funnels.md, "Scanned events").
fn scanned(req: &FunnelRequest, ctx: &Context, window: &Window, params: &mut Params) -> Vec<Expr> {
    let scan_end = if req.range == FunnelRange::Entry {
        window.end.saturating_add(req.window_ms)
    } else {
        window.end
    };
    vec![
        Expr::Col("project_id").eq(params.text(ctx.project_id.clone())),
        Expr::Col("created_at").op(Op::GtEq, params.ts(window.start)),
        Expr::Col("created_at").op(Op::LtEq, params.ts(scan_end)),
        Expr::Col(req.group.column().sql()).op(Op::NotEq, Expr::Str("")),
    ]
}

/// The general form's scanned events: the filter of the scan and each step's and
/// exclusion's condition (docs/funnels.md, "Scanned events").
pub(super) struct Scan {
    pub filter: Vec<Expr>,
    pub step_conds: Vec<Expr>,
    pub excl_conds: Vec<Expr>,
}

/// [`Scan`] of a request over `window`: the project's events with a group key from the
/// window's start to its end (a funnel window later with `funnelRange=entry`); without
/// strict order, only those a step or an exclusion can match.
pub(super) fn scan(
    req: &FunnelRequest,
    ctx: &Context,
    window: &Window,
    params: &mut Params,
) -> Scan {
    let n = req.steps.len().min(STEP_ALIASES.len());
    let exclusions = &req.exclusions[..req.exclusions.len().min(EXCLUSION_ALIASES.len())];
    let mut filter = scanned(req, ctx, window, params);
    let matchers = || {
        req.steps[..n]
            .iter()
            .flat_map(|s| s.matches.iter())
            .chain(exclusions.iter().map(|x| &x.matcher))
    };
    let step_conds = step_conditions(req, n, params);
    let excl_conds: Vec<Expr> = exclusions
        .iter()
        .map(|x| event_match(&x.matcher.name, &x.matcher.filters, params))
        .collect();
    // Strict order sees every event of the entrant; otherwise only the matching ones.
    if req.order != FunnelOrder::Strict {
        if matchers().all(|m| m.name != EventName::Any) {
            let list: Vec<Expr> = distinct_names(matchers().map(|m| &m.name))
                .into_iter()
                .map(|n| params.text(n))
                .collect();
            filter.push(Expr::InList(Box::new(Expr::Col("name")), list, false));
        }
        let all: Vec<Expr> = step_conds.iter().chain(&excl_conds).cloned().collect();
        if matchers().any(|m| !m.filters.is_empty()) && !all.iter().any(is_true) {
            filter.push(Expr::or(all));
        }
    }
    Scan {
        filter,
        step_conds,
        excl_conds,
    }
}

/// The columns `cols` of the scanned rows (`e`) of the entrants that have a step-2 event,
/// by the per-entrant aggregate `g`.
fn rows_with_step_2(cols: &[&'static str]) -> Select {
    let mut s = Select {
        from: Some(Source::Named("e")),
        filter: vec![entrants_where(vec![
            Expr::Qualified("g", "h2").eq(Expr::Int(1)),
        ])],
        ..Select::default()
    };
    for c in cols {
        s.item(Expr::Qualified("e", c), c);
    }
    s
}

/// `e.k IN (SELECT g.k FROM g WHERE …)`: the scanned rows (`e`) of the entrants whose
/// per-entrant aggregate (`g`) meets `conds`. A semi-join rather than a join: SQLite
/// plans `e JOIN g` by building an index over every scanned row (0.8x the time with the
/// `IN`, docs/performance.md); PostgreSQL and ClickHouse run both alike.
fn entrants_where(conds: Vec<Expr>) -> Expr {
    let mut keys = Select {
        from: Some(Source::Named("g")),
        filter: conds,
        ..Select::default()
    };
    keys.item(Expr::Qualified("g", "k"), "k");
    Expr::InSubquery(
        Box::new(Expr::Qualified("e", "k")),
        Box::new(Statement::select(keys)),
    )
}

/// What [`breakdown_groups`] needs of the [`general`] statement's rows.
struct Steps<'a> {
    n: usize,
    /// `funnelRange=entry` (pending entrants are counted).
    entry: bool,
    /// Whether a row is step `q` of a valid chain.
    completes: &'a dyn Fn(usize, &mut Params) -> Expr,
    /// Whether a row is step `q` of a valid chain whose window is still open at now.
    open: &'a dyn Fn(usize, &mut Params) -> Expr,
}

/// The entrants of `source` (the [`general`] rows), each with its level, its attributed
/// values and what the returned open flag reads, for [`rank_combinations`]. An entrant's
/// values are those of one event, by `attribution`: the earliest completion of the
/// attributed step (the entry, the deepest step reached, or step N, or the deepest reached
/// before it), ties at one millisecond broken by the values' code points.
///
/// Columns: `level, v0…, o_1…` (the open flags with `funnelRange=entry`).
fn breakdown_entrants(
    source: Source,
    steps: &Steps<'_>,
    bd: &FunnelBreakdowns,
    params: &mut Params,
) -> (Select, Expr) {
    let n = steps.n;
    let k = || Expr::Col("k");
    let b_cols = breakdown_cols(bd);
    let attributed: Vec<usize> = match bd.attribution {
        Attribution::First => vec![1],
        Attribution::Last => (1..=n).collect(),
        Attribution::Step(s) => (1..=s.min(n)).collect(),
    };
    // Per row: the entrant's level and the first completion time of each step that may
    // be attributed.
    let reached: Vec<(Expr, Expr)> = (1..=n)
        .rev()
        .map(|q| ((steps.completes)(q, params), Expr::Int(q as i64)))
        .collect();
    let mut items = vec![(
        Expr::Window(
            Win::Max,
            Some(Box::new(Expr::Case(reached, Some(Box::new(Expr::Int(0)))))),
            vec![k()],
            vec![],
        ),
        "lvl",
    )];
    for &q in &attributed {
        let at = Expr::if_then((steps.completes)(q, params), Expr::Col("t"), Expr::Null);
        items.push((
            Expr::Window(Win::Min, Some(Box::new(at)), vec![k()], vec![]),
            FIRST_ALIASES[q - 1],
        ));
    }
    let source = layer(source, "w", items);
    // The attributed row(s): the first completion of the attributed step.
    let last = *attributed.last().unwrap_or(&1);
    let target = Expr::or(
        attributed
            .iter()
            .map(|&q| {
                let mut all = vec![
                    (steps.completes)(q, params),
                    Expr::Col("t").eq(Expr::Col(FIRST_ALIASES[q - 1])),
                ];
                if attributed.len() > 1 {
                    let op = if q == last { Op::GtEq } else { Op::Eq };
                    all.push(Expr::Col("lvl").op(op, Expr::Int(q as i64)));
                }
                Expr::And(all)
            })
            .collect(),
    );
    let source = layer(source, "r", vec![(flag(target), "tgt")]);
    let mut order = vec![OrderBy::desc(Expr::Col("tgt"))];
    order.extend(
        b_cols
            .iter()
            .map(|b| OrderBy::asc(Expr::call(Func::ByteOrder, vec![Expr::Col(b)]))),
    );
    let rn = Expr::Window(Win::RowNumber, None, vec![k()], order);
    let source = layer(source, "a", vec![(rn, "rn")]);

    let mut per_entrant = Select {
        from: Some(source),
        group_by: vec![k()],
        ..Select::default()
    };
    per_entrant.item(Expr::agg(Agg::Max, Expr::Col("lvl")), "level");
    // Aliases differ from the columns they are computed from: ClickHouse would read a
    // column named like an alias of its own SELECT as the alias.
    let v_cols = &VALUE_ALIASES[..b_cols.len()];
    for (b, v) in b_cols.iter().zip(v_cols) {
        let at = Expr::if_then(Expr::Col("rn").eq(Expr::Int(1)), Expr::Col(b), Expr::Null);
        per_entrant.item(Expr::agg(Agg::Max, at), v);
    }
    let open = open_at_level(&mut per_entrant, n, steps.entry, steps.open, params);
    (per_entrant, open)
}

/// What the split's aggregate keeps of an entrant's first step-1 event besides whether
/// there is one ([`first_event`]).
#[derive(Clone, Copy)]
enum FirstEvent<'a> {
    /// Its time when `true` (the entry, for entry buckets).
    Time(bool),
    /// Its values of these breakdown columns (the least `(time, values…)`).
    Values(&'a [&'static str]),
}

/// In the split's aggregate `has` (per entrant, over the scanned rows `e`): whether the
/// entrant completes step 1 (`h1`: a row meets `first`), what `keep` asks of the earliest
/// such row (its time `t1`, or its least `(time, values…)` as an [`Func::OrderKey`] `x`,
/// the time taken from `start`) and, with an open-window bound `since`
/// (`funnelRange=entry`), whether one of them is at or after it (`o1`). For an entrant
/// without a step-2 event these are its level, its entry, its attributed event under
/// every rule (its chains end at step 1) and its open flag, read by
/// [`first_event_entrants`] without a second pass over its rows.
fn first_event(
    has: &mut Select,
    first: Expr,
    since: Option<&Expr>,
    keep: FirstEvent<'_>,
    start: i64,
    params: &mut Params,
) {
    has.item(Expr::agg(Agg::Max, flag(first.clone())), "h1");
    let earliest = |e: Expr| Expr::agg(Agg::Min, Expr::if_then(first.clone(), e, Expr::Null));
    match keep {
        FirstEvent::Time(false) => {}
        FirstEvent::Time(true) => {
            has.item(earliest(Expr::Col("t")), "t1");
        }
        FirstEvent::Values(b_cols) => {
            // Relative to the window's start, so never negative.
            let mut key = vec![Expr::Col("t").op(Op::Sub, params.int(start))];
            key.extend(b_cols.iter().map(|b| Expr::Col(b)));
            has.item(earliest(Expr::call(Func::OrderKey, key)), "x");
        }
    }
    if let Some(since) = since {
        let open = Expr::And(vec![first, Expr::Col("t").op(Op::GtEq, since.clone())]);
        has.item(Expr::agg(Agg::Max, flag(open)), OPEN_ALIASES[0]);
    }
}

/// The entrants without a step-2 event, from the split's aggregate `g` ([`first_event`]),
/// with the columns of the entrants that go through the passes: `level`, the attributed
/// values `v0…` (breakdowns) or `entry` (entry buckets), and the open flags `o_1…` with
/// `funnelRange=entry`.
fn first_event_entrants(n: usize, entry: bool, keep: FirstEvent<'_>) -> Select {
    let mut low = Select {
        from: Some(Source::Named("g")),
        filter: vec![Expr::Qualified("g", "h2").eq(Expr::Int(0))],
        ..Select::default()
    };
    low.item(Expr::Qualified("g", "h1"), "level");
    match keep {
        FirstEvent::Time(false) => {}
        FirstEvent::Time(true) => {
            low.item(Expr::Qualified("g", "t1"), "entry");
        }
        FirstEvent::Values(b_cols) => {
            for (i, v) in VALUE_ALIASES[..b_cols.len()].iter().enumerate() {
                let value = Func::OrderKeyValue(i as u8);
                low.item(Expr::call(value, vec![Expr::Qualified("g", "x")]), v);
            }
        }
    }
    if entry {
        low.item(Expr::Qualified("g", OPEN_ALIASES[0]), OPEN_ALIASES[0]);
        for alias in &OPEN_ALIASES[1..n - 1] {
            low.item(Expr::Int(0), alias);
        }
    }
    low
}

/// The per-entrant rows `p`: those of the entrants that went through the passes and,
/// when the entrants were split (`keep`), those of the others from [`first_event_entrants`].
fn all_entrants(passed: Select, keep: Option<FirstEvent<'_>>, n: usize, entry: bool) -> Source {
    match keep {
        None => Source::subquery(passed, "p"),
        Some(keep) => {
            let union = Statement {
                ctes: Vec::new(),
                body: Body::UnionAll(vec![passed, first_event_entrants(n, entry, keep)]),
            };
            Source::Subquery(Box::new(union), "p")
        }
    }
}

/// The scanned rows' breakdown columns of `bd`.
fn breakdown_cols(bd: &FunnelBreakdowns) -> &'static [&'static str] {
    &BREAKDOWN_ALIASES[..bd.fields.len().min(BREAKDOWN_ALIASES.len())]
}

/// The entrants of `per_entrant` (rows with `level`, the attributed values `v0…` and
/// what `open` reads) by breakdown combination, level and open window. Combinations are
/// ranked by entrants (then by code points); those ranked in `offset + 1 ..= offset +
/// limit` are numbered 1.., every other one is group 0 (`Other`, its values empty).
///
/// Result columns: `grp, b0…, level, open, total (combinations), entrants`.
pub(super) fn rank_combinations(
    per_entrant: Source,
    open: Expr,
    bd: &FunnelBreakdowns,
    params: &mut Params,
) -> Statement {
    let v_cols = &VALUE_ALIASES[..breakdown_cols(bd).len()];
    let u_cols = &SHOWN_ALIASES[..v_cols.len()];
    let values = || v_cols.iter().map(|v| Expr::Col(v)).collect::<Vec<_>>();
    // Each entrant's level, open flag and values, then the entrants per combination,
    // level and open flag: a few rows per combination, which the ranking's windows sort
    // instead of one row per entrant.
    let mut entrants = Select {
        from: Some(per_entrant),
        filter: vec![Expr::Col("level").op(Op::Gt, Expr::Int(0))],
        ..Select::default()
    };
    entrants
        .item(Expr::Col("level"), "level")
        .item(open, "open");
    for v in v_cols {
        entrants.item(Expr::Col(v), v);
    }
    let mut keys = vec![Expr::Col("level"), Expr::Col("open")];
    keys.extend(values());
    let mut counted = Select {
        from: Some(Source::subquery(entrants, "c")),
        group_by: keys,
        ..Select::default()
    };
    counted
        .item(Expr::Col("level"), "level")
        .item(Expr::Col("open"), "open");
    for v in v_cols {
        counted.item(Expr::Col(v), v);
    }
    counted.item(Expr::count_star(), "n");
    // Each combination's entrants, then the combinations' ranks.
    let size = Expr::Window(Win::Sum, Some(Box::new(Expr::Col("n"))), values(), vec![]);
    let counted = layer(Source::subquery(counted, "n0"), "n1", vec![(size, "size")]);
    let mut order = vec![OrderBy::desc(Expr::Col("size"))];
    order.extend(
        v_cols
            .iter()
            .map(|v| OrderBy::asc(Expr::call(Func::ByteOrder, vec![Expr::Col(v)]))),
    );
    let rank = Expr::Window(Win::DenseRank, None, vec![], order);
    let ranked = layer(counted, "d", vec![(rank, "rk")]);
    let shown = Expr::And(vec![
        Expr::Col("rk").op(Op::Gt, params.int(bd.offset as i64)),
        Expr::Col("rk").op(Op::LtEq, params.int((bd.offset + bd.limit) as i64)),
    ]);
    let mut grouped = Select {
        from: Some(ranked),
        ..Select::default()
    };
    grouped.item(
        Expr::if_then(
            shown.clone(),
            Expr::Col("rk").op(Op::Sub, params.int(bd.offset as i64)),
            Expr::Int(0),
        ),
        "grp",
    );
    for (v, u) in v_cols.iter().zip(u_cols) {
        grouped.item(Expr::if_then(shown.clone(), Expr::Col(v), Expr::Str("")), u);
    }
    grouped
        .item(Expr::Col("level"), "level")
        .item(Expr::Col("open"), "open")
        .item(
            Expr::Window(Win::Max, Some(Box::new(Expr::Col("rk"))), vec![], vec![]),
            "total",
        )
        .item(Expr::Col("n"), "n");
    let mut keys = vec![Expr::Col("grp")];
    keys.extend(u_cols.iter().map(|u| Expr::Col(u)));
    keys.extend([Expr::Col("level"), Expr::Col("open")]);
    let mut out = Select {
        from: Some(Source::subquery(grouped, "e")),
        group_by: keys.clone(),
        order_by: [Expr::Col("grp"), Expr::Col("level"), Expr::Col("open")]
            .into_iter()
            .map(OrderBy::asc)
            .collect(),
        ..Select::default()
    };
    for key in keys {
        let Expr::Col(name) = key else { continue };
        out.item(Expr::Col(name), name);
    }
    out.item(Expr::agg(Agg::Max, Expr::Col("total")), "total")
        .item(Expr::agg(Agg::Sum, Expr::Col("n")), "entrants");
    Statement::select(out)
}

/// With `funnelRange=entry`: per level `q < n`, whether the entrant has a chain of that
/// level still open at now (`o_q`, an aggregate of `per_entrant` over `open(q)`), and the
/// entrant's flag at its own `level`; `0` otherwise.
fn open_at_level(
    per_entrant: &mut Select,
    n: usize,
    entry: bool,
    open: &dyn Fn(usize, &mut Params) -> Expr,
    params: &mut Params,
) -> Expr {
    if !entry {
        return Expr::Int(0);
    }
    for q in 1..n {
        let o = open(q, params);
        per_entrant.item(Expr::agg(Agg::Max, flag(o)), OPEN_ALIASES[q - 1]);
    }
    open_by_level(n)
}

/// `o_level`: the entrant's open flag at its own level (`0` at the last step), from the
/// per-level columns `o_q`.
pub(super) fn open_by_level(n: usize) -> Expr {
    let whens = (1..n)
        .map(|q| {
            (
                Expr::Col("level").eq(Expr::Int(q as i64)),
                Expr::Col(OPEN_ALIASES[q - 1]),
            )
        })
        .collect();
    Expr::Case(whens, Some(Box::new(Expr::Int(0))))
}

/// `funnelOrder=any`: whether the row starts a set of steps `1..=q`: it is one of them
/// (an event is at most one step: no name is in two steps), each occurs within the window
/// from it on (`m_j`, [`Win::MaxAhead`]), and with `funnelRange=entry` it is in the range.
/// The earliest event of any such set is such a row, so the level is the largest `q` of
/// any row.
fn any_set(q: usize, end_ms: Option<&Expr>) -> Expr {
    let mut all: Vec<Expr> = RUNNING_ALIASES[..q]
        .iter()
        .map(|m| Expr::Col(m).eq(Expr::Int(1)))
        .collect();
    all.push(Expr::or(
        STEP_ALIASES[..q]
            .iter()
            .map(|s| Expr::Col(s).eq(Expr::Int(1)))
            .collect(),
    ));
    if let Some(end) = end_ms {
        all.push(Expr::Col("t").op(Op::LtEq, end.clone()));
    }
    Expr::And(all)
}

/// The time to convert to each step `q >= 2`: per entrant that completed it, the time
/// from the first completion of step `q - 1` to the first completion of step `q` (ms), then
/// per step the count, the sum, the values at the nearest ranks `ceil(n / 2)` and
/// `ceil(9n / 10)`, and the count in each histogram bin (`[0, e0)`, `[e0, e1)`, …,
/// `[e_last, ∞)`).
///
/// Result columns: `step, entrants, total, median, p90, h0…h(edges)` (ClickHouse's
/// arrays form has its own, `funnel_arrays`).
fn time_to_convert(per_entrant: Select, n: usize, edges: &[i64], params: &mut Params) -> Statement {
    let per_step = || -> Vec<Select> {
        (2..=n)
            .map(|q| {
                let (at, before) = (FIRST_ALIASES[q - 1], FIRST_ALIASES[q - 2]);
                let mut s = Select {
                    from: Some(Source::Named("p")),
                    filter: vec![Expr::IsNull(Box::new(Expr::Col(at)), true)],
                    ..Select::default()
                };
                s.item(Expr::Int(q as i64), "step")
                    .item(Expr::Col(at).op(Op::Sub, Expr::Col(before)), "d");
                s
            })
            .collect()
    };
    let step = || vec![Expr::Col("step")];
    let mut ranked = Select {
        items: vec![Item {
            expr: Expr::Star,
            alias: None,
        }],
        from: Some(Source::Subquery(
            Box::new(Statement {
                ctes: Vec::new(),
                body: Body::UnionAll(per_step()),
            }),
            "dd",
        )),
        ..Select::default()
    };
    ranked
        .item(
            Expr::Window(
                Win::RowNumber,
                None,
                step(),
                vec![OrderBy::asc(Expr::Col("d"))],
            ),
            "rn",
        )
        .item(
            Expr::Window(Win::Sum, Some(Box::new(Expr::Int(1))), step(), vec![]),
            "cnt",
        )
        .item(
            Expr::Window(Win::Sum, Some(Box::new(Expr::Col("d"))), step(), vec![]),
            "total",
        );
    let at_rank = |rank: Expr| {
        Expr::agg(
            Agg::Max,
            Expr::if_then(Expr::Col("rn").eq(rank), Expr::Col("d"), Expr::Null),
        )
    };
    let cnt = || Expr::Col("cnt");
    let (median, p90) = nearest_ranks(cnt);
    let keys = || vec![Expr::Col("step"), Expr::Col("cnt"), Expr::Col("total")];
    let mut out = Select {
        from: Some(Source::subquery(ranked, "r")),
        group_by: keys(),
        order_by: vec![OrderBy::asc(Expr::Col("step"))],
        ..Select::default()
    };
    out.item(Expr::Col("step"), "step")
        .item(cnt(), "entrants")
        .item(Expr::Col("total"), "total")
        .item(at_rank(median), "median")
        .item(at_rank(p90), "p90");
    for (b, &alias) in BIN_ALIASES.iter().enumerate().take(edges.len() + 1) {
        let within = in_bin(Expr::Col("d"), edges, b, params);
        let count = Expr::agg(Agg::Sum, Expr::if_then(within, Expr::Int(1), Expr::Int(0)));
        out.item(count, alias);
    }
    let mut stmt = Statement::select(out);
    stmt.ctes = vec![Cte {
        name: "p",
        body: Body::Select(Box::new(per_entrant)),
    }];
    stmt
}

/// The nearest ranks of the median and the 90th percentile among `n` values (1-based):
/// `ceil(n / 2)` and `ceil(9n / 10)`.
pub(super) fn nearest_ranks(n: impl Fn() -> Expr) -> (Expr, Expr) {
    let div = |e: Expr, by: i64| Expr::call(Func::IntDiv, vec![e, Expr::Int(by)]);
    (
        div(n().op(Op::Add, Expr::Int(1)), 2),
        div(n().op(Op::Mul, Expr::Int(9)).op(Op::Add, Expr::Int(9)), 10),
    )
}

/// Whether every group (a step's or an exclusion's event names) names its events and no
/// name is in two groups (one group may repeat a name): an event's name then tells its
/// group, so an event is at most one of them.
pub(super) fn names_tell_groups<'a>(groups: impl IntoIterator<Item = Vec<&'a EventName>>) -> bool {
    let mut seen: Vec<&EventName> = Vec::new();
    for names in groups {
        if names
            .iter()
            .any(|n| **n == EventName::Any || seen.contains(n))
        {
            return false;
        }
        seen.extend(names);
    }
    true
}

/// Whether the duration `d` is in histogram bin `b` of `edges` (`[0, e0)`, `[e0, e1)`, …,
/// `[e_last, ∞)`).
pub(super) fn in_bin(d: Expr, edges: &[i64], b: usize, params: &mut Params) -> Expr {
    let mut within = Vec::new();
    if b > 0 {
        within.push(d.clone().op(Op::GtEq, params.int(edges[b - 1])));
    }
    if b < edges.len() {
        within.push(d.op(Op::Lt, params.int(edges[b])));
    }
    Expr::And(within)
}

#[cfg(test)]
mod tests {
    use super::{Context, compile_funnel_with};
    use crate::decode::decode_funnel;
    use crate::sql::Dialect;
    use crate::sql::dialect::FunnelStrategy;

    #[test]
    fn window_funnel_form_is_refused_without_a_funnel_aggregate() {
        let req = decode_funnel(r#"events=[{"name":"a"},{"name":"b"}]&range=30d"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let ctx = Context {
            project_id: "p".into(),
            tz: chrono_tz::UTC,
            now: 1_713_184_496_789,
            first_event: None,
        };
        let form = |d| compile_funnel_with(&req, &ctx, d, FunnelStrategy::WindowFunnel);
        let sql = form(Dialect::ClickHouse).map(|p| p.query.sql);
        assert!(sql.is_ok_and(|s| s.contains("windowFunnel(")));
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            let err = form(d).err().map(|e| e.details[0].param.clone());
            assert_eq!(err.as_deref(), Some("strategy"), "{d:?}");
        }
    }

    /// Alternatives keep §7's statement where it is the engine's aggregate, and take the
    /// general form (one RANGE pass per step) where §7's is the running max.
    #[test]
    fn alternatives_keep_window_funnel_only() {
        let req = decode_funnel(
            r#"events=[{"name":"a"},{"anyOf":[{"name":"b"},{"name":"c"}]}]&range=30d"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ctx = Context {
            project_id: "p".into(),
            tz: chrono_tz::UTC,
            now: 1_713_184_496_789,
            first_event: None,
        };
        let sql = |d| super::compile_funnel(&req, &ctx, d).map(|p| p.query.sql);
        let ch = sql(Dialect::ClickHouse).unwrap_or_default();
        assert!(ch.contains("windowFunnel("), "{ch}");
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            let general = sql(d).unwrap_or_default();
            assert!(
                general.contains("RANGE BETWEEN 86400000 PRECEDING"),
                "{general}"
            );
        }
    }
    /// A step window at least the funnel window's can never fail, so the request compiles
    /// to the statements of the same request without it, on every engine (on ClickHouse,
    /// `windowFunnel` rather than the arrays); a shorter one still binds.
    #[test]
    fn step_windows_as_long_as_the_funnel_window_change_nothing() {
        let ctx = Context {
            project_id: "p".into(),
            tz: chrono_tz::UTC,
            now: 1_713_184_496_789,
            first_event: None,
        };
        let compiled = |events: &str, extra: &str, d| {
            let req = decode_funnel(&format!("events={events}&range=30d&funnelWindow=2{extra}"))
                .unwrap_or_else(|e| panic!("{e}"));
            let plan = super::compile_funnel(&req, &ctx, d).unwrap_or_else(|e| panic!("{e}"));
            format!("{plan:?}")
        };
        let plain = r#"[{"name":"a"},{"name":"b"},{"name":"c"}]"#;
        let long = r#"[{"name":"a"},{"name":"b","window":2},{"name":"c","window":24}]"#;
        let short = r#"[{"name":"a"},{"name":"b","window":1.5},{"name":"c"}]"#;
        for d in [Dialect::ClickHouse, Dialect::Postgres, Dialect::Sqlite] {
            for extra in [
                "",
                "&funnelOrder=strict",
                "&funnelRange=entry&timeToConvert=true",
            ] {
                let base = compiled(plain, extra, d);
                assert_eq!(compiled(long, extra, d), base, "{d:?} {extra}");
                assert_ne!(compiled(short, extra, d), base, "{d:?} {extra}");
            }
        }
    }
}
