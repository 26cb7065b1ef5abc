//! ClickHouse: OpenPanel's tables (`created_at DateTime64(3)`, `properties Map(String,
//! String)`), server-side parameters `{pN:Type}`, `windowFunnel` and `ARRAY JOIN`.

use super::{FunnelStrategy, NUMBER_PATTERN, SqlDialect, arg, default_call};
use crate::sql::Dialect;
use crate::sql::ast::{Agg, Expr, Func, Op, Param};
use crate::sql::render::Renderer;

/// The ClickHouse rules.
#[derive(Debug, Clone, Copy)]
pub struct ClickHouse;

impl SqlDialect for ClickHouse {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    fn placeholder(&self, n: usize, p: &Param) -> String {
        match p {
            Param::Text(_) => format!("{{p{n}:String}}"),
            Param::Int(_) => format!("{{p{n}:Int64}}"),
            Param::Float(_) => format!("{{p{n}:Float64}}"),
            // Compared with DateTime64(3) columns, so the primary key still prunes.
            Param::Timestamp(_) => format!("fromUnixTimestamp64Milli({{p{n}:Int64}})"),
        }
    }

    fn funnel_strategy(&self) -> FunnelStrategy {
        FunnelStrategy::WindowFunnel
    }

    // ClickHouse inlines CTEs; the chart and funnel plans for it use none.
    fn materialize_ctes(&self) -> bool {
        false
    }

    fn final_suffix(&self) -> &'static str {
        " FINAL"
    }

    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "true" } else { "false" }
    }

    // One pass over the table: each row is repeated once per config it matches.
    fn expand(&self, r: &mut Renderer<'_>, matches: &[Expr], alias: &'static str) -> Option<Expr> {
        r.push(" ARRAY JOIN arrayFilter((i, m) -> m, [");
        for i in 0..matches.len() {
            if i > 0 {
                r.push(", ");
            }
            r.push(&i.to_string());
        }
        r.push("], [");
        for (i, m) in matches.iter().enumerate() {
            if i > 0 {
                r.push(", ");
            }
            r.push("toUInt8(");
            r.expr(m);
            r.push(")");
        }
        r.push(&format!("]) AS {alias}"));
        None
    }

    fn aggregate(&self, r: &mut Renderer<'_>, a: Agg, arg: Option<&Expr>) {
        let name = match a {
            Agg::Count => "count",
            Agg::CountDistinct => "uniqExact",
            Agg::Sum => "sum",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Avg => "avg",
        };
        // Float64, not UInt64: ClickHouse 25+ types a CASE mixing UInt64 and Float64
        // branches (a chart's per-config values) as a Variant, which sum() rejects. Sums
        // convert their argument, as they are also rendered as window functions.
        let count = matches!(a, Agg::Count | Agg::CountDistinct);
        if count {
            r.push("toFloat64(");
        }
        r.push(name);
        r.push("(");
        match arg {
            Some(e) if a == Agg::Sum => {
                r.push("toFloat64(");
                r.expr(e);
                r.push(")");
            }
            Some(e) => r.expr(e),
            None => {}
        }
        r.push(")");
        if count {
            r.push(")");
        }
    }

    fn call(&self, r: &mut Renderer<'_>, f: Func, args: &[Expr]) {
        match f {
            Func::Property => {
                r.push("properties[");
                r.args(&args[..1.min(args.len())]);
                r.push("]");
            }
            // OpenPanel's imported_at is Nullable(DateTime), which toUnixTimestamp64Milli rejects.
            Func::EpochMs if matches!(args, [Expr::Col("imported_at")]) => {
                r.push("toUnixTimestamp64Milli(toDateTime64(imported_at, 3))");
            }
            Func::EpochMs => {
                r.push("toUnixTimestamp64Milli(");
                r.args(args);
                r.push(")");
            }
            Func::IntDiv => {
                r.push("intDiv(");
                r.args(args);
                r.push(")");
            }
            Func::MonthNumber => {
                r.push("(toYear(toDateTime(intDiv(");
                arg(r, args, 0);
                r.push(", 1000), 'UTC')) * 12 + toMonth(toDateTime(intDiv(");
                arg(r, args, 0);
                r.push(", 1000), 'UTC')) - 1)");
            }
            // windowFunnel orders events of one millisecond by step, so an equal-time step-1
            // event restarts the chain before step 2 can extend it, and one event cannot be
            // two steps (repeated names). So events are timed ms * 32 + (31 - step): deeper
            // steps first within a millisecond, equal milliseconds still not strictly
            // increasing, the window (a validated constant) scaled by 32; at most 20 steps
            // keep the offset below 32. When every step names a different event, an event
            // is at most one step and `multiIf` on the name gives its step. Otherwise each
            // (event, step its name matches) is a row of its own (ARRAY JOIN, as identical
            // arrayJoin calls, which ClickHouse runs once; sqlparser, the snapshot oracle,
            // cannot read an inline alias): 1.4x the time of the multiIf form on 1M events.
            Func::WindowFunnel => {
                let steps = args.get(1..).unwrap_or_default();
                let names: Option<Vec<&Expr>> = steps.iter().map(step_name).collect();
                let exclusive = names
                    .as_ref()
                    .is_some_and(|ns| ns.iter().enumerate().all(|(i, n)| !ns[..i].contains(n)));
                let join = |r: &mut Renderer<'_>| {
                    r.push("arrayJoin(arrayFilter((i, m) -> m, [");
                    for i in 0..steps.len() {
                        if i > 0 {
                            r.push(", ");
                        }
                        r.push(&i.to_string());
                    }
                    r.push("], [");
                    for (i, step) in steps.iter().enumerate() {
                        if i > 0 {
                            r.push(", ");
                        }
                        r.push("toUInt8(");
                        match step_name(step) {
                            Some(name) => r.expr(name),
                            None => r.push(self.bool_literal(true)),
                        }
                        r.push(")");
                    }
                    r.push("]))");
                };
                r.push("windowFunnel(");
                match args.first() {
                    Some(Expr::Int(ms)) => r.push(&ms.saturating_mul(32).to_string()),
                    _ => {
                        arg(r, args, 0);
                        r.push(" * 32");
                    }
                }
                r.push(", 'strict_increase')(");
                r.push("toUInt64(toUnixTimestamp64Milli(created_at) * 32 + (31 - ");
                match names.as_deref() {
                    Some([rest @ .., _last]) if exclusive && !rest.is_empty() => {
                        r.push("multiIf(");
                        for (i, name) in rest.iter().enumerate() {
                            r.expr(name);
                            r.push(&format!(", {i}, "));
                        }
                        r.push(&format!("{})", rest.len()));
                    }
                    _ if exclusive => r.push("0"),
                    _ => join(r),
                }
                r.push("))");
                for (i, step) in steps.iter().enumerate() {
                    r.push(", ");
                    if exclusive {
                        r.operand(step);
                        continue;
                    }
                    r.push("(");
                    join(r);
                    r.push(&format!(" = {i})"));
                    if step_name(step) != Some(step) {
                        r.push(" AND ");
                        r.operand(step);
                    }
                }
                r.push(")");
            }
            Func::IsNumber => {
                r.push("match(");
                r.args(&args[..1.min(args.len())]);
                r.push(&format!(", '{}')", NUMBER_PATTERN.replace('\\', "\\\\")));
            }
            Func::Regex => {
                r.push("match(");
                r.args(args);
                r.push(")");
            }
            Func::ToFloat => {
                r.push("toFloat64(");
                r.args(args);
                r.push(")");
            }
            Func::Contains => {
                r.push("position(");
                r.args(args);
                r.push(") > 0");
            }
            Func::StartsWith => {
                r.push("startsWith(");
                r.args(args);
                r.push(")");
            }
            Func::EndsWith => {
                r.push("endsWith(");
                r.args(args);
                r.push(")");
            }
            Func::IdText => {
                r.push("toString(");
                r.args(args);
                r.push(")");
            }
            Func::FloatDiv => {
                arg(r, args, 0);
                r.push(" / nullIf(");
                arg(r, args, 1);
                r.push(", 0)");
            }
            _ => default_call(r, f, args),
        }
    }
}

/// The `name = …` part of a funnel step's condition, if it has one.
fn step_name(cond: &Expr) -> Option<&Expr> {
    let is_name = |e: &Expr| matches!(e, Expr::Binary(l, Op::Eq, _) if **l == Expr::Col("name"));
    match cond {
        e if is_name(e) => Some(e),
        Expr::And(parts) => parts.first().filter(|p| is_name(p)),
        _ => None,
    }
}
