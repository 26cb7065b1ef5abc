//! ClickHouse: OpenPanel's tables (`created_at DateTime64(3)`, `properties Map(String,
//! String)`), server-side parameters `{pN:Type}`, `windowFunnel` and `ARRAY JOIN`.

use super::{FunnelStrategy, NUMBER_PATTERN, SqlDialect, arg, default_call};
use crate::sql::Dialect;
use crate::sql::ast::{Agg, Expr, Func, Param};
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
        r.push(name);
        r.push("(");
        if let Some(e) = arg {
            r.expr(e);
        }
        r.push(")");
    }

    fn call(&self, r: &mut Renderer<'_>, f: Func, args: &[Expr]) {
        match f {
            Func::Property => {
                r.push("properties[");
                r.args(&args[..1.min(args.len())]);
                r.push("]");
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
            // The window is a validated integer (ms), required by ClickHouse as a constant;
            // timestamps must be integers because windowFunnel rejects DateTime64.
            Func::WindowFunnel => {
                r.push("windowFunnel(");
                arg(r, args, 0);
                r.push(", 'strict_increase')(toUInt64(toUnixTimestamp64Milli(created_at))");
                for a in args.iter().skip(1) {
                    r.push(", ");
                    r.expr(a);
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
