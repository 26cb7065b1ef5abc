//! The dialect trait: shared SQL in default methods, differences in one file per engine.

pub mod clickhouse;
pub mod postgres;
pub mod sqlite;

use super::ast::{Agg, Expr, Func, Param, TimeColumn, WindowFunnel};
use super::render::Renderer;
use super::{CellType, Dialect};
use crate::time::Ms;

/// The statement that asks an engine for a plan: `prefix` goes before the statement,
/// which keeps its parameters; the answer has `columns`, one row per line of the plan, or
/// (`tree`) `(id, parent, _, detail)` rows of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanStatement {
    /// What goes before the statement.
    pub prefix: &'static str,
    /// The columns of the answer.
    pub columns: &'static [CellType],
    /// Whether the rows are a tree (SQLite's `EXPLAIN QUERY PLAN`).
    pub tree: bool,
}

/// How a funnel is computed (§7): both give the level of every entrant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunnelStrategy {
    /// The engine's funnel aggregate (ClickHouse's `windowFunnel` with `strict_increase`);
    /// refused for a dialect without one ([`DialectRules::funnel_aggregate`]).
    WindowFunnel,
    /// Greedy chains: for every step-1 event, the earliest next step within the window.
    /// One self-join per step: quadratic in an entrant's events (kept for comparison; see
    /// docs/performance.md).
    Chains,
    /// One sort of the entrants' events by time and one window pass per step: each
    /// step-k event carries the latest start of a chain of steps 1…k ending at it.
    RunningMax,
}

/// How a chart of several event configs (grouped by config) computes each config's value
/// when the configs' aggregates differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigAggregates {
    /// `CASE WHEN cfg = 0 THEN count() WHEN cfg = 1 THEN uniqExact(…) … END`: every
    /// aggregate is computed in every group, and the CASE picks one. Free where the
    /// engine evaluates only the chosen aggregate's input per row (SQLite, PostgreSQL).
    Shared,
    /// Each arm's aggregates filtered to its own configs (`uniqExactIf(…, cfg = 1)`):
    /// ClickHouse computes every aggregate of the CASE on every row of every group, so
    /// the unfiltered form hashes ids and sums values of rows that are never used.
    Filtered,
}

/// Where the rows of a chart of several event configs come from: every event once per
/// config it matches, tagged with the config's index `cfg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigRows {
    /// One scan whose rows are repeated per matching config (a cross join with a constant
    /// table; ClickHouse's `ARRAY JOIN`): the table is read once, and every row carries
    /// every config's columns.
    Expand,
    /// One scan per config, joined by `UNION ALL`, when each config has an event name of
    /// its own (otherwise [`ConfigRows::Expand`]): each reads only its config's rows (its
    /// name and filters in its own `WHERE`) and only the columns its segment needs.
    /// ClickHouse skips the `ARRAY JOIN` and its per-row arrays and, for configs that sum
    /// no property, the `properties` map (docs/performance.md).
    UnionAll,
}

/// How a chart counts distinct ids (`user`, `session`, `user_average` segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistinctCounts {
    /// `count(DISTINCT id)` per group (ClickHouse's `uniqExact`; SQLite).
    Direct,
    /// Two levels of grouping: by the keys and the id, then by the keys, counting groups.
    /// PostgreSQL then hashes instead of sorting every group's ids, which spills to disk
    /// on large windows (docs/performance.md).
    Grouped,
}

/// How `one_event_per_user` finds each user's latest event in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatestEvent {
    /// `row_number()` over (config, period, user) by time and id, descending: a sort of
    /// every scanned row. Needed with breakdowns (the latest event's labels count).
    RowNumber,
    /// Without breakdowns only the latest event's bucket counts, and that is the bucket of
    /// the user's greatest time: one hash aggregate by (config, period, user) gives it.
    MaxTime,
}

/// The pattern a text must match to count as a number (§4.5), as §4.5 writes it. Compiled
/// ClickHouse statements are sent with `query_raw`, so `?` is not a client-side bind slot
/// there; and ClickHouse's `match` runs this form several times faster than the same
/// pattern with `{0,1}` on the group (docs/performance.md).
pub const NUMBER_PATTERN: &str = r"^-?[0-9]+(\.[0-9]+)?$";

/// The digits [`Func::OrderKey`](crate::sql::ast::Func::OrderKey) pads its integer to: the
/// values start at character `ORDER_KEY_DIGITS + 1` (a `u64` has at most 20 digits).
pub const ORDER_KEY_DIGITS: usize = 20;

/// Rendering rules of one engine. Defaults are the SQL that SQLite and PostgreSQL share.
pub trait DialectRules: Sync {
    /// Which dialect this is.
    fn dialect(&self) -> Dialect;

    /// The placeholder of the 1-based parameter `n`.
    fn placeholder(&self, n: usize, p: &Param) -> String;

    /// How the funnel is computed.
    fn funnel_strategy(&self) -> FunnelStrategy {
        FunnelStrategy::RunningMax
    }

    /// The engine's funnel aggregate, if it has one: without it the compiler refuses
    /// [`FunnelStrategy::WindowFunnel`].
    fn funnel_aggregate(&self) -> Option<&'static dyn FunnelAggregate> {
        None
    }

    /// Whether the funnel options beyond §7 (docs/funnels.md) that need the general form
    /// run as arrays: each entrant's events gathered into one sorted array, and a pass of
    /// array functions per step instead of a window pass over the rows (ClickHouse, whose
    /// window passes re-sort the rows for each step).
    fn funnel_arrays(&self) -> bool {
        false
    }

    /// How `one_event_per_user` finds each user's latest event when a chart has no
    /// breakdowns (with breakdowns every form ranks the events).
    fn latest_event(&self) -> LatestEvent {
        LatestEvent::MaxTime
    }

    /// How a chart counts distinct users and sessions.
    fn distinct_counts(&self) -> DistinctCounts {
        DistinctCounts::Direct
    }

    /// Where the events table's sort key starts with the day of `created_at` after the
    /// project (OpenPanel's ClickHouse table), the times (ms) inside which that day orders
    /// like the time itself. An export page whose rows all lie inside then finds the time
    /// of its last row with a subquery ordered by exactly that key ([`Func::SortDay`], then
    /// the time), which the engine reads in order and stops, and sorts only the rows from
    /// there. `None`: the index is on the time itself.
    fn sort_day_range(&self) -> Option<std::ops::Range<Ms>> {
        None
    }

    /// Whether `WITH x AS MATERIALIZED (…)` is available (a CTE read twice is scanned once).
    fn materialize_ctes(&self) -> bool {
        true
    }

    /// How the engine is asked for a statement's plan (`explain=true`, crate::explain).
    fn plan_statement(&self) -> PlanStatement {
        PlanStatement {
            prefix: "EXPLAIN ",
            columns: &[CellType::Text],
            tree: false,
        }
    }

    /// Suffix of a deduplicated table read (ClickHouse `FINAL`).
    fn final_suffix(&self) -> &'static str {
        ""
    }

    /// A boolean constant.
    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "1 = 1" } else { "1 = 0" }
    }

    /// Render an [`ast::Source::Expand`](super::ast::Source::Expand) after its source; returns
    /// a condition for `WHERE`. Default: a cross join with a small constant table.
    fn expand(&self, r: &mut Renderer<'_>, matches: &[Expr], alias: &'static str) -> Option<Expr> {
        r.push(" CROSS JOIN (");
        for i in 0..matches.len() {
            if i > 0 {
                r.push(" UNION ALL ");
            }
            r.push(&format!("SELECT {i} AS {alias}"));
        }
        r.push(&format!(") AS {alias}_t"));
        Some(Expr::or(
            matches
                .iter()
                .enumerate()
                .map(|(i, m)| Expr::and(vec![Expr::Col(alias).eq(Expr::Int(i as i64)), m.clone()]))
                .collect(),
        ))
    }

    /// Render an aggregate.
    fn aggregate(&self, r: &mut Renderer<'_>, a: Agg, arg: Option<&Expr>) {
        let name = match a {
            Agg::Count | Agg::CountDistinct => "count",
            Agg::Sum => "sum",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Avg => "avg",
        };
        r.push(name);
        r.push("(");
        if a == Agg::CountDistinct {
            r.push("DISTINCT ");
        }
        match arg {
            Some(e) => r.expr(e),
            None => r.push("*"),
        }
        r.push(")");
    }

    /// Render an aggregate over the rows where `cond` holds: `agg(…) FILTER (WHERE cond)`.
    fn aggregate_if(&self, r: &mut Renderer<'_>, a: Agg, arg: Option<&Expr>, cond: &Expr) {
        self.aggregate(r, a, arg);
        r.push(" FILTER (WHERE ");
        r.expr(cond);
        r.push(")");
    }

    /// How a chart of several event configs computes each config's value.
    fn config_aggregates(&self) -> ConfigAggregates {
        ConfigAggregates::Shared
    }

    /// Where a chart of several event configs reads its rows from.
    fn config_rows(&self) -> ConfigRows {
        ConfigRows::Expand
    }

    /// A timestamp column as epoch milliseconds: each engine stores times differently.
    fn epoch_ms(&self, r: &mut Renderer<'_>, col: TimeColumn);

    /// Render a function call. Each dialect lists every [`Func`] (no catch-all arm), so a
    /// new function does not compile until every engine says how it is spelled.
    fn call(&self, r: &mut Renderer<'_>, f: Func, args: &[Expr]);
}

/// A dialect whose engine computes a funnel's level in one aggregate
/// ([`FunnelStrategy::WindowFunnel`]).
pub trait FunnelAggregate: DialectRules {
    /// Render the aggregate.
    fn window_funnel(&self, r: &mut Renderer<'_>, f: &WindowFunnel);
}

/// `name(args…)`, the spelling most functions share.
pub fn function(r: &mut Renderer<'_>, name: &str, args: &[Expr]) {
    r.push(name);
    r.push("(");
    r.args(args);
    r.push(")");
}

/// `a op b`, each operand parenthesized when compound.
pub fn infix(r: &mut Renderer<'_>, args: &[Expr], op: &str) {
    arg(r, args, 0);
    r.push(op);
    arg(r, args, 1);
}

/// [`Func::OrderKey`](crate::sql::ast::Func::OrderKey) in one engine's spelling: `padded`
/// wraps the integer (argument 0) as `padded.0 n padded.1`, `each` wraps every value, hex
/// and dot included, and `close` ends the whole.
pub fn order_key(
    r: &mut Renderer<'_>,
    args: &[Expr],
    padded: [&str; 2],
    each: [&str; 2],
    close: &str,
) {
    r.push(padded[0]);
    arg(r, args, 0);
    r.push(padded[1]);
    for i in 1..args.len() {
        r.push(each[0]);
        arg(r, args, i);
        r.push(each[1]);
    }
    r.push(close);
}

/// Print argument `i` as an operand (parenthesized when compound).
pub fn arg(r: &mut Renderer<'_>, args: &[Expr], i: usize) {
    match args.get(i) {
        Some(e) => r.operand(e),
        None => r.push("NULL"),
    }
}
