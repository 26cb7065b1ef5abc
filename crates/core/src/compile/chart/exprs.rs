//! The expressions and aggregates a chart statement is built from: bucket indexes,
//! breakdown labels, property values and each segment's aggregate.

use crate::compile::field_text;
use crate::request::{Field, Segment};
use crate::sql::ast::{Agg, Expr, Func, Item, Op, Params};
use crate::sql::dialect::ConfigAggregates;
use crate::time::{BucketGrid, Interval};

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
pub(crate) fn bucket_expr(grid: &BucketGrid, t: Expr, params: &mut Params) -> Expr {
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
pub(crate) fn label_expr(field: &Field, params: &mut Params) -> Expr {
    let x = field_text(field, params);
    if field.is_numeric() {
        Expr::call(Func::ToFloat, vec![x])
    } else {
        Expr::if_then(x.clone().eq(Expr::Str("")), Expr::Str("(not set)"), x)
    }
}

/// The numeric value a property segment aggregates; NULL when it is not a number.
pub(super) fn property_value(field: &Field, params: &mut Params) -> Expr {
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

pub(super) fn nonempty(col: &'static str) -> Expr {
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
pub(super) fn segment_agg(segment: Segment) -> Expr {
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
pub(super) fn distinct_key(segment: Segment) -> Option<&'static str> {
    match segment {
        Segment::User | Segment::UserAverage => Some("profile_id"),
        Segment::Session => Some("session_id"),
        _ => None,
    }
}

/// The first level of a two-level grouping: the partial aggregates, by alias, that
/// [`combined_agg`] needs for these segments.
pub(super) fn partial_aggs(segments: &[Segment]) -> Vec<(&'static str, Expr)> {
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
pub(super) fn combined_agg(segment: Segment) -> Expr {
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

/// [`per_config`] of aggregates: in [`ConfigAggregates::Filtered`] form each arm's
/// aggregates count only the rows of the arm's configs.
pub(super) fn per_config_agg(values: Vec<Expr>, form: ConfigAggregates) -> Expr {
    match (per_config(values), form) {
        (Expr::Case(arms, else_), ConfigAggregates::Filtered) => Expr::Case(
            arms.into_iter()
                .map(|(cond, value)| {
                    let value = value.filtered(&cond);
                    (cond, value)
                })
                .collect(),
            else_,
        ),
        (value, _) => value,
    }
}

/// `CASE WHEN cfg = 0 THEN a WHEN cfg = 1 THEN b … END`, or the only value when all agree.
pub(super) fn per_config(values: Vec<Expr>) -> Expr {
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
pub(super) fn cfg_in(ids: &[i64]) -> Expr {
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
pub(super) fn plain(expr: Expr) -> Item {
    Item { expr, alias: None }
}

pub(super) fn item(expr: Expr, alias: &'static str) -> Item {
    Item {
        expr,
        alias: Some(alias),
    }
}

pub(super) fn star() -> Item {
    plain(Expr::Star)
}
