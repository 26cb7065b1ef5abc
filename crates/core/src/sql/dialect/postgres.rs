//! PostgreSQL: `created_at timestamptz`, properties JSONB, `$n` placeholders.

use super::{
    DialectRules, DistinctCounts, NUMBER_PATTERN, ORDER_KEY_DIGITS, arg, function, infix, order_key,
};
use crate::sql::Dialect;
use crate::sql::ast::{Expr, Func, Param, TimeColumn};
use crate::sql::render::Renderer;

/// The PostgreSQL rules.
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

impl DialectRules for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    // Typed placeholders: the text of a query never depends on inference from context.
    fn placeholder(&self, n: usize, p: &Param) -> String {
        match p {
            Param::Text(_) => format!("${n}::text"),
            Param::Int(_) => format!("${n}::bigint"),
            Param::Float(_) => format!("${n}::double precision"),
            // Bound as epoch ms (i64): integer arithmetic is exact where `to_timestamp(ms / 1000.0)` is not.
            Param::Timestamp(_) => {
                format!("(TIMESTAMPTZ 'epoch' + ${n}::bigint * INTERVAL '1 millisecond')")
            }
        }
    }

    fn distinct_counts(&self) -> DistinctCounts {
        DistinctCounts::Grouped
    }

    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "TRUE" } else { "FALSE" }
    }

    // Double precision, not extract's numeric: faster, and exact once rounded for ms values.
    fn epoch_ms(&self, r: &mut Renderer<'_>, col: TimeColumn) {
        r.push("(date_part('epoch', ");
        r.push(col.name);
        r.push(") * 1000)::bigint");
    }

    fn call(&self, r: &mut Renderer<'_>, f: Func, args: &[Expr]) {
        match f {
            // Printed by the renderer itself; here for completeness.
            Func::Engine(name) => function(r, name, args),
            Func::Property => {
                r.push("coalesce(properties ->> ");
                arg(r, args, 0);
                r.push(", '')");
            }
            // bigint / bigint truncates.
            Func::IntDiv => infix(r, args, " / "),
            // A no-op on text ids; makes a uuid id (an OpenPanel catalog) compare and sort as text.
            Func::IdText => {
                arg(r, args, 0);
                r.push("::text");
            }
            Func::MonthNumber => {
                r.push("(extract(year FROM to_timestamp(");
                arg(r, args, 0);
                r.push(
                    " / 1000) AT TIME ZONE 'UTC')::bigint * 12 + extract(month FROM to_timestamp(",
                );
                arg(r, args, 0);
                r.push(" / 1000) AT TIME ZONE 'UTC')::bigint - 1)");
            }
            Func::IsNumber => {
                arg(r, args, 0);
                r.push(&format!(" ~ '{NUMBER_PATTERN}'"));
            }
            Func::Regex => infix(r, args, " ~ "),
            Func::ToFloat => {
                arg(r, args, 0);
                r.push("::double precision");
            }
            Func::Contains => {
                function(r, "strpos", args);
                r.push(" > 0");
            }
            Func::StartsWith => function(r, "starts_with", args),
            Func::EndsWith => {
                r.push("right(");
                arg(r, args, 0);
                r.push(", length(");
                arg(r, args, 1);
                r.push(")) = ");
                arg(r, args, 1);
            }
            Func::Coalesce => function(r, "coalesce", args),
            Func::NullIf => function(r, "nullif", args),
            Func::FloatDiv => {
                arg(r, args, 0);
                r.push("::double precision / nullif(");
                arg(r, args, 1);
                r.push(", 0)");
            }
            // Never compiled here (the index is on `created_at` itself): the time orders.
            Func::SortDay => arg(r, args, 0),
            // Ranking ties are broken by code point, not by the database's locale.
            Func::ByteOrder => {
                arg(r, args, 0);
                r.push(" COLLATE \"C\"");
            }
            // Compared by bytes whatever the database's locale.
            Func::OrderKey => order_key(
                r,
                args,
                [
                    "(lpad(CAST(",
                    &format!(" AS text), {ORDER_KEY_DIGITS}, '0')"),
                ],
                [" || encode(convert_to(", ", 'UTF8'), 'hex') || '.'"],
                ") COLLATE \"C\"",
            ),
            Func::OrderKeyValue(i) => {
                r.push("convert_from(decode(split_part(substr(");
                arg(r, args, 0);
                r.push(&format!(
                    ", {}), '.', {}), 'hex'), 'UTF8')",
                    ORDER_KEY_DIGITS + 1,
                    u32::from(i) + 1
                ));
            }
        }
    }
}
