//! The SQL AST the compiler lowers requests into.
//!
//! Identifiers are `&'static str`: they can only come from this crate's whitelists, never
//! from user text. User values are [`Param`]s referenced by index.

use crate::sql::dialect::FunnelAggregate;
use crate::time::Ms;

/// A bound parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// A 64-bit integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// An instant in ms since the epoch (bound in each engine's timestamp type).
    Timestamp(Ms),
}

impl Param {
    /// How the parameter appears in snapshots.
    pub fn describe(&self) -> String {
        match self {
            Param::Text(s) => format!("Text({s:?})"),
            Param::Int(i) => format!("Int({i})"),
            Param::Float(f) => format!("Float({f:?})"),
            Param::Timestamp(ms) => {
                format!("Timestamp({} = {ms})", crate::time::format_utc_millis(*ms))
            }
        }
    }
}

/// The parameters of one statement, deduplicated: equal values share a placeholder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<Param>, Seen);

/// Where each distinct value already is in a [`Params`]: a request may bind a thousand
/// filter values, and scanning the list for each made registering them quadratic.
#[derive(Debug, Clone, Default)]
struct Seen(std::collections::HashMap<ParamKey, usize>);

/// Only the list matters to equality; the index follows from it.
impl PartialEq for Seen {
    fn eq(&self, _: &Seen) -> bool {
        true
    }
}

/// A parameter as a hash key: floats by their bits (`0.0` and `-0.0` are two values).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ParamKey {
    Text(String),
    Int(i64),
    Float(u64),
    Timestamp(Ms),
}

impl Param {
    fn key(&self) -> ParamKey {
        match self {
            Param::Text(s) => ParamKey::Text(s.clone()),
            Param::Int(i) => ParamKey::Int(*i),
            Param::Float(f) => ParamKey::Float(f.to_bits()),
            Param::Timestamp(ms) => ParamKey::Timestamp(*ms),
        }
    }
}

impl Params {
    /// Register a value and return the expression that refers to it.
    pub fn add(&mut self, p: Param) -> Expr {
        let key = p.key();
        if let Some(&i) = self.1.0.get(&key) {
            return Expr::Param(i);
        }
        self.0.push(p);
        self.1.0.insert(key, self.0.len() - 1);
        Expr::Param(self.0.len() - 1)
    }

    /// Shorthand for a text parameter.
    pub fn text(&mut self, s: impl Into<String>) -> Expr {
        self.add(Param::Text(s.into()))
    }

    /// Shorthand for an integer parameter.
    pub fn int(&mut self, i: i64) -> Expr {
        self.add(Param::Int(i))
    }

    /// Shorthand for a timestamp parameter.
    pub fn ts(&mut self, ms: Ms) -> Expr {
        self.add(Param::Timestamp(ms))
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Add,
    Sub,
    Mul,
}

impl Op {
    /// The operator's SQL spelling (the same in all three dialects).
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::NotEq => "<>",
            Op::Lt => "<",
            Op::LtEq => "<=",
            Op::Gt => ">",
            Op::GtEq => ">=",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
        }
    }
}

/// Functions whose spelling differs between engines; the dialect renders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `properties[key]` as text, `''` when missing. Args: key.
    Property,
    /// Integer division (operands ≥ 0). Args: a, b.
    IntDiv,
    /// `year * 12 + month - 1` of the UTC date of epoch-milliseconds. Args: ms.
    MonthNumber,
    /// Whether text matches `^-?[0-9]+(\.[0-9]+)?$`. Args: text.
    IsNumber,
    /// Text or integer to a float. Args: x.
    ToFloat,
    /// Case-sensitive substring test, no wildcards. Args: haystack, needle.
    Contains,
    /// Case-sensitive prefix test, no wildcards. Args: text, prefix.
    StartsWith,
    /// Case-sensitive suffix test, no wildcards. Args: text, suffix.
    EndsWith,
    /// RE2-style unanchored regex match. Args: text, pattern.
    Regex,
    /// An id column as text (ClickHouse stores UUIDs). Args: column.
    IdText,
    /// `coalesce(a, b)`.
    Coalesce,
    /// `nullif(a, b)`.
    NullIf,
    /// Division as floats, NULL when the divisor is 0. Args: a, b.
    FloatDiv,
    /// Text compared by code point (PostgreSQL needs `COLLATE "C"`). Args: x.
    ByteOrder,
    /// The day of a timestamp column as the events table's sort key spells it (ClickHouse:
    /// `toDate(created_at)` in OpenPanel's table). Monotonic in time inside ClickHouse's
    /// `Date` range, so ordering by it, then the time, is the time order there and lets the
    /// engine read in key order.
    /// Compiled only where [`DialectRules::sort_day_range`](crate::sql::DialectRules::sort_day_range)
    /// says so. Args: column.
    SortDay,
    /// Text whose byte order is the order of the tuple `(n, v0, v1, …)`, each `v`
    /// compared by code point: `n` zero-padded to 20 digits, then each value's UTF-8 bytes
    /// in hex followed by `.` (below every hex digit, so a value sorts before its
    /// extensions, as text does). `min` over it is the least tuple in one aggregate. Args:
    /// n (an integer >= 0), v0, v1, … (text, not NULL).
    OrderKey,
    /// Value `i` of an [`Func::OrderKey`] text, back as text (NULL for NULL). Args: key.
    OrderKeyValue(u8),
    /// An engine function called by its name, with the arguments as given: the array
    /// functions and lambdas of ClickHouse's array form of the funnel
    /// ([`DialectRules::funnel_arrays`](crate::sql::DialectRules::funnel_arrays)), compiled
    /// only for an engine that has them. The name is the compiler's constant.
    Engine(&'static str),
}

/// A timestamp column, with what an engine must know of its type to convert it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeColumn {
    /// The column (a whitelisted identifier).
    pub name: &'static str,
    /// Whether it may be NULL (an event's `imported_at`).
    pub nullable: bool,
}

impl TimeColumn {
    /// A column that always holds a time.
    pub fn required(name: &'static str) -> Self {
        TimeColumn {
            name,
            nullable: false,
        }
    }

    /// A column that may be NULL.
    pub fn nullable(name: &'static str) -> Self {
        TimeColumn {
            name,
            nullable: true,
        }
    }
}

/// An engine's funnel aggregate (ClickHouse's `windowFunnel`): the level of the funnel
/// one entrant's events reach (§7). It holds the engine that renders it, which the compiler
/// got from [`DialectRules::funnel_aggregate`](crate::sql::DialectRules::funnel_aggregate):
/// a dialect without one cannot be asked to render it.
#[derive(Clone)]
pub struct WindowFunnel {
    /// The engine that renders the aggregate.
    pub engine: &'static dyn FunnelAggregate,
    /// The conversion window in milliseconds (a validated constant).
    pub window_ms: i64,
    /// The time of each event.
    pub time: TimeColumn,
    /// The steps, in order.
    pub steps: Vec<WindowFunnelStep>,
    /// Whether an event is at most one step (every step names its events, and no name is
    /// in two steps): an engine may then tell the step from the name alone.
    pub exclusive: bool,
}

/// The engine is compared by dialect: two nodes are equal when they render alike.
impl PartialEq for WindowFunnel {
    fn eq(&self, other: &WindowFunnel) -> bool {
        self.engine.dialect() == other.engine.dialect()
            && self.window_ms == other.window_ms
            && self.time == other.time
            && self.steps == other.steps
            && self.exclusive == other.exclusive
    }
}

impl std::fmt::Debug for WindowFunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowFunnel")
            .field("engine", &self.engine.dialect())
            .field("window_ms", &self.window_ms)
            .field("time", &self.time)
            .field("steps", &self.steps)
            .field("exclusive", &self.exclusive)
            .finish()
    }
}

/// One step of a [`WindowFunnel`].
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFunnelStep {
    /// The test of the event name the step requires (`name = ?`); `None` when any event
    /// can be the step. Given apart from the condition so that an engine can tell from it
    /// which step an event can be.
    pub name: Option<Expr>,
    /// Whether an event is the step: the name test and the step's filters.
    pub condition: Expr,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// `count(*)` without argument, `count(x)` with one.
    Count,
    /// Exact count of distinct non-NULL values.
    CountDistinct,
    Sum,
    Min,
    Max,
    Avg,
}

/// Window functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Win {
    RowNumber,
    DenseRank,
    Sum,
    Max,
    Min,
    /// `max(x)` over the partition's rows whose (integer) ORDER BY key is strictly smaller
    /// than the current row's: `RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING`.
    MaxBefore,
    /// `max(x)` over the rows whose ORDER BY key is at least `n` smaller and strictly
    /// smaller than the current row's: `RANGE BETWEEN n PRECEDING AND 1 PRECEDING`.
    MaxWithin(i64),
    /// `max(x)` over the previous row alone: `ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING`.
    MaxPrevRow,
    /// `max(x)` over the rows whose ORDER BY key is at least the current row's and at
    /// most `n` greater: `RANGE BETWEEN CURRENT ROW AND n FOLLOWING`.
    MaxAhead(i64),
}

/// One `ORDER BY` term.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// The sort key.
    pub expr: Expr,
    /// Descending when true.
    pub desc: bool,
}

impl OrderBy {
    /// Ascending.
    pub fn asc(expr: Expr) -> Self {
        OrderBy { expr, desc: false }
    }

    /// Descending.
    pub fn desc(expr: Expr) -> Self {
        OrderBy { expr, desc: true }
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A whitelisted column.
    Col(&'static str),
    /// `alias.column`.
    Qualified(&'static str, &'static str),
    /// A bound parameter by index into [`Params`].
    Param(usize),
    /// An integer constant from the compiler itself (never user input).
    Int(i64),
    /// A text constant from the compiler itself (never user input).
    Str(&'static str),
    /// NULL.
    Null,
    /// `*`.
    Star,
    /// `a op b`.
    Binary(Box<Expr>, Op, Box<Expr>),
    /// Conjunction (empty = true).
    And(Vec<Expr>),
    /// Disjunction (empty = false).
    Or(Vec<Expr>),
    /// `NOT (e)`.
    Not(Box<Expr>),
    /// `e IS NULL` (`IS NOT NULL` when the flag is set).
    IsNull(Box<Expr>, bool),
    /// `e IN (…)` (`NOT IN` when the flag is set).
    InList(Box<Expr>, Vec<Expr>, bool),
    /// `CASE WHEN … THEN … ELSE … END`.
    Case(Vec<(Expr, Expr)>, Option<Box<Expr>>),
    /// A dialect-rendered function.
    Call(Func, Vec<Expr>),
    /// A timestamp column as epoch milliseconds (NULL stays NULL).
    EpochMs(TimeColumn),
    /// An aggregate; `None` argument means `count(*)`.
    Agg(Agg, Option<Box<Expr>>),
    /// An aggregate over the rows where the condition holds (ClickHouse `-If`, SQL
    /// `FILTER (WHERE …)`).
    AggIf(Agg, Option<Box<Expr>>, Box<Expr>),
    /// An engine's funnel aggregate.
    WindowFunnel(Box<WindowFunnel>),
    /// A window function.
    Window(Win, Option<Box<Expr>>, Vec<Expr>, Vec<OrderBy>),
    /// `a BETWEEN lo AND hi`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A scalar subquery: a statement of one row and one column, as a value.
    Subquery(Box<Statement>),
    /// `a IN (SELECT …)`: whether `a` is among the one-column statement's values.
    InSubquery(Box<Expr>, Box<Statement>),
    /// `(a, b) -> body`: a lambda of an engine's array function ([`Func::Engine`]); its
    /// parameters are the compiler's names, read in `body` as [`Expr::Col`].
    Lambda(Vec<&'static str>, Box<Expr>),
}

impl Expr {
    /// `self op other`.
    pub fn op(self, op: Op, other: Expr) -> Expr {
        Expr::Binary(Box::new(self), op, Box::new(other))
    }

    /// `self = other`.
    pub fn eq(self, other: Expr) -> Expr {
        self.op(Op::Eq, other)
    }

    /// A call.
    pub fn call(f: Func, args: Vec<Expr>) -> Expr {
        Expr::Call(f, args)
    }

    /// An engine function by name ([`Func::Engine`]).
    pub fn engine(name: &'static str, args: Vec<Expr>) -> Expr {
        Expr::Call(Func::Engine(name), args)
    }

    /// `(params) -> body` ([`Expr::Lambda`]).
    pub fn lambda(params: &[&'static str], body: Expr) -> Expr {
        Expr::Lambda(params.to_vec(), Box::new(body))
    }

    /// `NOT self`.
    pub fn negate(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    /// An aggregate over one argument.
    pub fn agg(a: Agg, e: Expr) -> Expr {
        Expr::Agg(a, Some(Box::new(e)))
    }

    /// This expression with each of its aggregates taken only over the rows where `cond`
    /// holds. Aggregates already filtered, and window functions, are left as they are.
    pub fn filtered(self, cond: &Expr) -> Expr {
        let f = |e: Expr| e.filtered(cond);
        let fb = |e: Box<Expr>| Box::new(e.filtered(cond));
        match self {
            Expr::Agg(a, arg) => Expr::AggIf(a, arg, Box::new(cond.clone())),
            Expr::Binary(a, op, b) => Expr::Binary(fb(a), op, fb(b)),
            Expr::And(items) => Expr::And(items.into_iter().map(f).collect()),
            Expr::Or(items) => Expr::Or(items.into_iter().map(f).collect()),
            Expr::Not(e) => Expr::Not(fb(e)),
            Expr::IsNull(e, not) => Expr::IsNull(fb(e), not),
            Expr::InList(e, list, not) => {
                Expr::InList(fb(e), list.into_iter().map(f).collect(), not)
            }
            Expr::InSubquery(e, stmt) => Expr::InSubquery(fb(e), stmt),
            Expr::Case(arms, else_) => Expr::Case(
                arms.into_iter().map(|(w, t)| (f(w), f(t))).collect(),
                else_.map(fb),
            ),
            Expr::Call(func, args) => Expr::Call(func, args.into_iter().map(f).collect()),
            Expr::Between(e, lo, hi) => Expr::Between(fb(e), fb(lo), fb(hi)),
            other => other,
        }
    }

    /// `count(*)`.
    pub fn count_star() -> Expr {
        Expr::Agg(Agg::Count, None)
    }

    /// `CASE WHEN cond THEN then ELSE else_ END`.
    pub fn if_then(cond: Expr, then: Expr, else_: Expr) -> Expr {
        Expr::Case(vec![(cond, then)], Some(Box::new(else_)))
    }

    /// Conjunction, flattening trivial cases.
    pub fn and(mut parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        }
    }

    /// Disjunction, flattening trivial cases.
    pub fn or(mut parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        }
    }
}

/// A select-list item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The expression.
    pub expr: Expr,
    /// Its alias.
    pub alias: Option<&'static str>,
}

/// The `FROM` clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A base table (ClickHouse reads ReplacingMergeTree tables with `FINAL` when `final_`).
    Table {
        /// Table name.
        name: &'static str,
        /// Whether the table must be read deduplicated.
        final_: bool,
    },
    /// A named CTE or table alias reference.
    Named(&'static str),
    /// `(subquery) AS alias`.
    Subquery(Box<Statement>, &'static str),
    /// `left JOIN right ON cond`.
    Join(Box<Source>, Box<Source>, Expr),
    /// Repeat every row of `source` once per matching config: the column `alias` holds
    /// the index `i` of each config whose condition `matches[i]` holds.
    Expand {
        /// The rows to repeat.
        source: Box<Source>,
        /// One condition per config.
        matches: Vec<Expr>,
        /// Name of the index column.
        alias: &'static str,
    },
}

/// One `SELECT`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// The select list.
    pub items: Vec<Item>,
    /// The `FROM` clause.
    pub from: Option<Source>,
    /// The `WHERE` conjuncts.
    pub filter: Vec<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<Expr>,
    /// `ORDER BY`.
    pub order_by: Vec<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<Expr>,
    /// `OFFSET`.
    pub offset: Option<Expr>,
}

impl Select {
    /// Add a select item with an alias.
    pub fn item(&mut self, expr: Expr, alias: &'static str) -> &mut Self {
        self.items.push(Item {
            expr,
            alias: Some(alias),
        });
        self
    }
}

/// A common table expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    /// Its name.
    pub name: &'static str,
    /// The query.
    pub body: Body,
}

/// The body of a statement: one select or a `UNION ALL` of several.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// One select.
    Select(Box<Select>),
    /// `UNION ALL` of selects.
    UnionAll(Vec<Select>),
}

/// A full statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `WITH` clauses; materialized where the dialect can.
    pub ctes: Vec<Cte>,
    /// The main body.
    pub body: Body,
}

impl Source {
    /// A base table.
    pub fn table(name: &'static str) -> Source {
        Source::Table {
            name,
            final_: false,
        }
    }

    /// A subquery.
    pub fn subquery(s: Select, alias: &'static str) -> Source {
        Source::Subquery(Box::new(Statement::select(s)), alias)
    }
}

impl Statement {
    /// A statement of one select.
    pub fn select(s: Select) -> Statement {
        Statement {
            ctes: Vec::new(),
            body: Body::Select(Box::new(s)),
        }
    }
}
