//! Fields and filters (§4.4, §4.5) as SQL expressions, and which events a chart config or
//! a funnel step selects. Values and property keys are always parameters; `%`, `_` and
//! `\` stay literal because no operator uses LIKE.

use crate::request::{EventName, Field, Filter, FilterValues, Operator};
use crate::sql::ast::{Expr, Func, Op, Param, Params};

/// Whether a row is one of the events a chart config or a funnel step selects: its name
/// (any name for `*`) and every filter.
pub(crate) fn event_match(name: &EventName, filters: &[Filter], params: &mut Params) -> Expr {
    let mut parts = Vec::new();
    if let EventName::Named(n) = name {
        parts.push(Expr::Col("name").eq(params.text(n.clone())));
    }
    parts.extend(filters.iter().map(|f| filter_expr(f, params)));
    Expr::and(parts)
}

/// The names of chart configs or funnel steps, each once, in the order first written:
/// the name list that lets an index on (project_id, name, …) prune rows.
pub(crate) fn distinct_names<'a>(names: impl IntoIterator<Item = &'a EventName>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for n in names {
        let n = n.as_str();
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The text of a field: a string column, or a property (`''` when missing).
pub fn field_text(field: &Field, params: &mut Params) -> Expr {
    match field {
        Field::Column(c) => Expr::Col(c.sql()),
        Field::Property(key) => Expr::call(Func::Property, vec![params.text(key.clone())]),
        Field::HasProfile => identified(),
    }
}

/// `profile_id` non-empty and different from `device_id`.
fn identified() -> Expr {
    Expr::And(vec![
        Expr::Col("profile_id").op(Op::NotEq, Expr::Str("")),
        Expr::Col("profile_id").op(Op::NotEq, Expr::Col("device_id")),
    ])
}

/// One filter as a boolean expression.
pub fn filter_expr(f: &Filter, params: &mut Params) -> Expr {
    match (&f.field, &f.values) {
        (Field::HasProfile, FilterValues::Bools(values)) => Expr::or(
            values
                .iter()
                .map(|v| {
                    if *v {
                        identified()
                    } else {
                        identified().negate()
                    }
                })
                .collect(),
        ),
        (field, FilterValues::Numbers(values)) if field.is_numeric() => {
            numeric_column(field_text(field, params), f.operator, values, params)
        }
        // gt/gte/lt/lte on text with no value that is a number: nothing can match (and no
        // parameter is registered that the SQL would not use).
        (_, FilterValues::Numbers(values)) if values.is_empty() => Expr::or(Vec::new()),
        (field, FilterValues::Numbers(values)) => {
            // gt/gte/lt/lte on text: only values that are numbers compare.
            let x = field_text(field, params);
            let op = comparison(f.operator);
            Expr::or(
                values
                    .iter()
                    .map(|v| {
                        // CASE, not AND: engines may evaluate AND operands in any order,
                        // and a cast of non-numeric text must never run.
                        Expr::Case(
                            vec![(
                                Expr::call(Func::IsNumber, vec![x.clone()]),
                                Expr::call(Func::ToFloat, vec![x.clone()]),
                            )],
                            None,
                        )
                        .op(op, params.add(Param::Float(*v)))
                    })
                    .collect(),
            )
        }
        (field, FilterValues::None) => {
            let x = field_text(field, params);
            let negated = f.operator == Operator::IsNotNull;
            if field.is_numeric() {
                Expr::IsNull(Box::new(x), negated)
            } else {
                x.op(if negated { Op::NotEq } else { Op::Eq }, Expr::Str(""))
            }
        }
        (field, FilterValues::Text(values)) => {
            let x = field_text(field, params);
            let vals: Vec<Expr> = values.iter().map(|v| params.text(v.clone())).collect();
            text_filter(x, f.operator, vals)
        }
        (_, FilterValues::Bools(_)) => Expr::or(Vec::new()),
    }
}

fn text_filter(x: Expr, op: Operator, vals: Vec<Expr>) -> Expr {
    let each = |func: Func| -> Vec<Expr> {
        vals.iter()
            .map(|v| Expr::call(func, vec![x.clone(), v.clone()]))
            .collect()
    };
    match op {
        Operator::Is if vals.len() == 1 => x.eq(vals[0].clone()),
        Operator::Is => Expr::InList(Box::new(x), vals, false),
        Operator::IsNot if vals.len() == 1 => x.op(Op::NotEq, vals[0].clone()),
        Operator::IsNot => Expr::InList(Box::new(x), vals, true),
        Operator::Contains => Expr::or(each(Func::Contains)),
        Operator::DoesNotContain => {
            Expr::and(each(Func::Contains).into_iter().map(Expr::negate).collect())
        }
        Operator::StartsWith => Expr::or(each(Func::StartsWith)),
        Operator::EndsWith => Expr::or(each(Func::EndsWith)),
        Operator::Regex => Expr::or(each(Func::Regex)),
        // Numeric and null operators never reach here (decode gives them other values).
        Operator::IsNull
        | Operator::IsNotNull
        | Operator::Gt
        | Operator::Gte
        | Operator::Lt
        | Operator::Lte => Expr::or(Vec::new()),
    }
}

fn comparison(op: Operator) -> Op {
    match op {
        Operator::Gt => Op::Gt,
        Operator::Gte => Op::GtEq,
        Operator::Lt => Op::Lt,
        Operator::Lte => Op::LtEq,
        Operator::IsNot => Op::NotEq,
        _ => Op::Eq,
    }
}

fn numeric_column(x: Expr, op: Operator, values: &[f64], params: &mut Params) -> Expr {
    let vals: Vec<Expr> = values
        .iter()
        .map(|v| params.add(Param::Float(*v)))
        .collect();
    match op {
        Operator::Is => Expr::InList(Box::new(x), vals, false),
        // A NULL coordinate equals none of the values.
        Operator::IsNot => Expr::Or(vec![
            Expr::IsNull(Box::new(x.clone()), false),
            Expr::InList(Box::new(x), vals, true),
        ]),
        _ => {
            let op = comparison(op);
            Expr::or(vals.into_iter().map(|v| x.clone().op(op, v)).collect())
        }
    }
}
