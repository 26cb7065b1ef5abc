//! `GET /export/funnel`: the level each entrant reaches, counted per level.
//!
//! Result columns: `level, entrants`. `reach[k]` is the number of entrants whose level is
//! at least `k`, summed in shaping.

use super::{Context, epoch_ms, filter_expr, resolve_window};
use crate::error::RequestError;
use crate::request::{EventName, FunnelRequest, FunnelStep};
use crate::sql::ast::{
    Agg, Body, Cte, Expr, From, Func, Item, Op, OrderBy, Params, Select, Statement, Win,
};
use crate::sql::dialect::FunnelStrategy;
use crate::sql::render::render;
use crate::sql::{Dialect, Query};
use crate::storage::ColumnType;
use crate::time::Window;

/// The compiled funnel request.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelPlan {
    /// The statement.
    pub query: Query,
    /// The window.
    pub window: Window,
}

const STEP_ALIASES: [&str; 20] = [
    "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15",
    "s16", "s17", "s18", "s19", "s20",
];
const RUNNING_ALIASES: [&str; 20] = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12", "m13", "m14", "m15",
    "m16", "m17", "m18", "m19", "m20",
];
const CHAIN_ALIASES: [&str; 20] = [
    "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14", "c15",
    "c16", "c17", "c18", "c19", "c20",
];

fn step_match(step: &FunnelStep, params: &mut Params) -> Expr {
    let mut parts = Vec::new();
    if let EventName::Named(n) = &step.name {
        parts.push(Expr::Col("name").eq(params.text(n.clone())));
    }
    parts.extend(step.filters.iter().map(|f| filter_expr(f, params)));
    Expr::and(parts)
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
/// strategy gives the same levels; [`FunnelStrategy::WindowFunnel`] runs on ClickHouse only.
pub fn compile_funnel_with(
    req: &FunnelRequest,
    ctx: &Context,
    dialect: Dialect,
    strategy: FunnelStrategy,
) -> Result<FunnelPlan, RequestError> {
    let window = resolve_window(&req.time, ctx)?;
    let mut params = Params::default();
    let group = req.group.column().sql();
    let n = req.steps.len().min(STEP_ALIASES.len());

    let mut filter = vec![
        Expr::Col("project_id").eq(params.text(ctx.project_id.clone())),
        Expr::Col("created_at").op(Op::GtEq, params.ts(window.start)),
        Expr::Col("created_at").op(Op::LtEq, params.ts(window.end)),
        Expr::Col(group).op(Op::NotEq, Expr::Str("")),
    ];
    if req.steps.iter().all(|s| s.name != EventName::Any) {
        let mut names: Vec<String> = Vec::new();
        for s in &req.steps {
            let name = s.name.as_str().to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let list: Vec<Expr> = names.into_iter().map(|n| params.text(n)).collect();
        filter.push(Expr::InList(Box::new(Expr::Col("name")), list, false));
    }
    let conds: Vec<Expr> = req.steps[..n]
        .iter()
        .map(|s| step_match(s, &mut params))
        .collect();
    // Steps with filters narrow the scan further than the name list does.
    let has_filters = req.steps.iter().any(|s| !s.filters.is_empty());
    if has_filters && !conds.iter().any(is_true) {
        filter.push(Expr::or(conds.clone()));
    }

    let stmt = match strategy {
        FunnelStrategy::WindowFunnel => {
            let mut args = vec![Expr::Int(req.window_ms)];
            args.extend(conds);
            let mut inner = Select {
                from: Some(From::table("events")),
                filter,
                group_by: vec![Expr::Col(group)],
                ..Select::default()
            };
            inner.item(Expr::call(Func::WindowFunnel, args), "level");
            outer_count(From::subquery(inner, "f"), &mut params)
        }
        FunnelStrategy::Chains => chains(conds, filter, group, req.window_ms, n, &mut params),
        FunnelStrategy::RunningMax => {
            running_max(conds, filter, group, req.window_ms, n, &mut params)
        }
    };
    let columns = vec![ColumnType::Int, ColumnType::Int];
    Ok(FunnelPlan {
        query: render(dialect.rules(), &stmt, params, columns),
        window,
    })
}

/// `SELECT level, count(*) … WHERE level > 0 GROUP BY level`.
fn outer_count(from: From, _params: &mut Params) -> Statement {
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

/// The scanned events as `k` (the entrant), `t` (epoch ms) and a 0/1 flag per step.
fn step_events(conds: Vec<Expr>, filter: Vec<Expr>, group: &'static str) -> Select {
    let mut ev = Select {
        from: Some(From::table("events")),
        filter,
        ..Select::default()
    };
    ev.item(Expr::Col(group), "k")
        .item(epoch_ms("created_at"), "t");
    for (cond, alias) in conds.into_iter().zip(STEP_ALIASES) {
        let flag = if is_true(&cond) {
            Expr::Int(1)
        } else {
            Expr::if_then(cond, Expr::Int(1), Expr::Int(0))
        };
        ev.item(flag, alias);
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
        from: Some(From::Named("ev")),
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
            from: Some(From::Join(
                Box::new(From::Named(prev)),
                Box::new(From::Named("ev")),
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
                from: Some(From::Named(CHAIN_ALIASES[k])),
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
        from: Some(From::Subquery(Box::new(union), "l")),
        group_by: vec![Expr::Col("k")],
        ..Select::default()
    };
    per_entrant
        .item(Expr::Col("k"), "k")
        .item(Expr::agg(Agg::Max, Expr::Col("level")), "level");
    let mut out = outer_count(From::subquery(per_entrant, "m"), params);
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
fn running_max(
    conds: Vec<Expr>,
    filter: Vec<Expr>,
    group: &'static str,
    window_ms: i64,
    n: usize,
    params: &mut Params,
) -> Statement {
    let ev = step_events(conds, filter, group);
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
    let mut source = From::subquery(ev, "e");
    for j in 1..n {
        let m = Expr::Window(
            Win::MaxBefore,
            Some(Box::new(start_of(j - 1))),
            vec![Expr::Col("k")],
            vec![OrderBy::asc(Expr::Col("t"))],
        );
        let mut level = Select {
            items: vec![Item {
                expr: Expr::Star,
                alias: None,
            }],
            from: Some(source),
            ..Select::default()
        };
        level.item(m, RUNNING_ALIASES[j]);
        source = From::subquery(level, CHAIN_ALIASES[j]);
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
    outer_count(From::subquery(per_entrant, "m"), params)
}
