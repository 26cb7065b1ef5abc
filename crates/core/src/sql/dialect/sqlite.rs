//! SQLite: timestamps are INTEGER epoch milliseconds, properties a JSON object in TEXT.

use super::{
    DialectRules, NUMBER_PATTERN, ORDER_KEY_DIGITS, PlanStatement, arg, function, infix, order_key,
};
use crate::sql::ast::{Expr, Func, Param, TimeColumn};
use crate::sql::render::Renderer;
use crate::sql::{CellType, Dialect};

/// The SQLite rules.
#[derive(Debug, Clone, Copy)]
pub struct Sqlite;

impl DialectRules for Sqlite {
    fn plan_statement(&self) -> PlanStatement {
        PlanStatement {
            prefix: "EXPLAIN QUERY PLAN ",
            columns: &[CellType::Int, CellType::Int, CellType::Int, CellType::Text],
            tree: true,
        }
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    // Numbered placeholders let one value be referenced several times.
    fn placeholder(&self, n: usize, _p: &Param) -> String {
        format!("?{n}")
    }

    // Times are stored as epoch milliseconds already.
    fn epoch_ms(&self, r: &mut Renderer<'_>, col: TimeColumn) {
        r.push(col.name);
    }

    fn call(&self, r: &mut Renderer<'_>, f: Func, args: &[Expr]) {
        match f {
            // Printed by the renderer itself; here for completeness.
            Func::Engine(name) => function(r, name, args),
            // json_each compares keys exactly; JSON paths cannot express every key
            // (dots, quotes), and the key must stay a bound value.
            Func::Property => {
                r.push("coalesce((SELECT j.value FROM json_each(properties) AS j WHERE j.key = ");
                r.args(&args[..1.min(args.len())]);
                r.push("), '')");
            }
            // INTEGER / INTEGER truncates.
            Func::IntDiv => infix(r, args, " / "),
            Func::MonthNumber => {
                r.push("(CAST(strftime('%Y', ");
                arg(r, args, 0);
                r.push(" / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', ");
                arg(r, args, 0);
                r.push(" / 1000, 'unixepoch') AS INTEGER) - 1)");
            }
            // REGEXP is the regex crate (registered by sqlx), which accepts RE2 syntax.
            Func::IsNumber => {
                arg(r, args, 0);
                r.push(&format!(" REGEXP '{NUMBER_PATTERN}'"));
            }
            Func::Regex => infix(r, args, " REGEXP "),
            Func::ToFloat => {
                r.push("CAST(");
                r.args(&args[..1.min(args.len())]);
                r.push(" AS REAL)");
            }
            // LIKE is case-insensitive in SQLite and treats % and _ as wildcards.
            Func::Contains => {
                function(r, "instr", args);
                r.push(" > 0");
            }
            Func::StartsWith => {
                r.push("substr(");
                arg(r, args, 0);
                r.push(", 1, length(");
                arg(r, args, 1);
                r.push(")) = ");
                arg(r, args, 1);
            }
            // substr(x, -0) is the whole string, so an empty suffix needs its own case.
            Func::EndsWith => {
                r.push("(length(");
                arg(r, args, 1);
                r.push(") = 0 OR substr(");
                arg(r, args, 0);
                r.push(", -length(");
                arg(r, args, 1);
                r.push(")) = ");
                arg(r, args, 1);
                r.push(")");
            }
            Func::Coalesce => function(r, "coalesce", args),
            Func::NullIf => function(r, "nullif", args),
            Func::FloatDiv => {
                r.push("CAST(");
                arg(r, args, 0);
                r.push(" AS REAL) / nullif(");
                arg(r, args, 1);
                r.push(", 0)");
            }
            // Ids are stored as text, and text compares by bytes (the BINARY collation).
            // SortDay is never compiled here (the index is on `created_at`): the time orders.
            Func::IdText | Func::ByteOrder | Func::SortDay => arg(r, args, 0),
            Func::OrderKey => order_key(
                r,
                args,
                [&format!("(printf('%0{ORDER_KEY_DIGITS}d', "), ")"],
                [" || hex(", ") || '.'"],
                ")",
            ),
            Func::OrderKeyValue(i) => {
                r.push("CAST(unhex(substr(");
                key_rest(r, args, i);
                r.push(", 1, instr(");
                key_rest(r, args, i);
                r.push(", '.') - 1)) AS TEXT)");
            }
        }
    }
}

/// The text of an [`Func::OrderKey`] from value `i` on: SQLite has no `split_part`, so
/// the text after the first dot, `i` times over (args: key).
fn key_rest(r: &mut Renderer<'_>, args: &[Expr], i: u8) {
    if i == 0 {
        r.push("substr(");
        arg(r, args, 0);
        r.push(&format!(", {})", ORDER_KEY_DIGITS + 1));
        return;
    }
    r.push("substr(");
    key_rest(r, args, i - 1);
    r.push(", instr(");
    key_rest(r, args, i - 1);
    r.push(", '.') + 1)");
}
