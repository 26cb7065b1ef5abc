//! Prints the AST as pretty SQL through a [`DialectRules`].
//!
//! Clauses go on their own lines and subqueries are indented, so snapshots read like
//! hand-written SQL. Expressions print on one line; every compound operand is
//! parenthesized, so precedence never differs between engines.

use super::CellType;
use super::ast::{
    Agg, Body, Cte, Expr, Func, Item, OrderBy, Params, Select, Source, Statement, Win,
};
use super::dialect::function;
use super::{DialectRules, Query};

/// The longest run of `AND`/`OR` operands printed flat (see [`Renderer::joined`]).
const FLAT_RUN: usize = 16;

/// Renders one statement.
pub struct Renderer<'a> {
    /// The dialect rules.
    pub d: &'a dyn DialectRules,
    /// The statement's parameters (for placeholder types).
    pub params: &'a Params,
    out: String,
    indent: usize,
}

impl std::fmt::Debug for Renderer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("dialect", &self.d.dialect())
            .finish()
    }
}

/// Render a statement into a [`Query`].
pub fn render(
    d: &dyn DialectRules,
    stmt: &Statement,
    params: Params,
    columns: Vec<CellType>,
) -> Query {
    let sql = {
        let mut r = Renderer {
            d,
            params: &params,
            out: String::with_capacity(1024),
            indent: 0,
        };
        r.statement(stmt);
        r.out
    };
    Query {
        sql,
        params: params.0,
        columns,
    }
}

impl Renderer<'_> {
    /// Append raw SQL text (from the compiler or the dialect, never from users).
    pub fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn newline(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    fn statement(&mut self, s: &Statement) {
        if !s.ctes.is_empty() {
            self.push("WITH");
            for (i, cte) in s.ctes.iter().enumerate() {
                if i > 0 {
                    self.push(",");
                }
                self.indent += 1;
                self.newline();
                self.cte(cte);
                self.indent -= 1;
            }
            self.newline();
        }
        self.body(&s.body);
    }

    fn cte(&mut self, cte: &Cte) {
        self.push(cte.name);
        self.push(if self.d.materialize_ctes() {
            " AS MATERIALIZED ("
        } else {
            " AS ("
        });
        self.indent += 1;
        self.newline();
        self.body(&cte.body);
        self.indent -= 1;
        self.newline();
        self.push(")");
    }

    fn body(&mut self, b: &Body) {
        match b {
            Body::Select(s) => self.select(s),
            Body::UnionAll(parts) => {
                for (i, s) in parts.iter().enumerate() {
                    if i > 0 {
                        self.newline();
                        self.push("UNION ALL");
                        self.newline();
                    }
                    self.select(s);
                }
            }
        }
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.indent += 1;
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.push(",");
            }
            self.newline();
            each(self, it);
        }
        self.indent -= 1;
    }

    fn select(&mut self, s: &Select) {
        self.push(if s.distinct {
            "SELECT DISTINCT"
        } else {
            "SELECT"
        });
        self.list(&s.items, |r, it: &Item| {
            r.expr(&it.expr);
            if let Some(a) = it.alias {
                r.push(" AS ");
                r.push(a);
            }
        });
        let mut filter: Vec<&Expr> = Vec::new();
        let extra;
        if let Some(from) = &s.from {
            self.newline();
            self.push("FROM ");
            extra = self.from(from);
            filter.extend(extra.iter());
        }
        filter.extend(s.filter.iter());
        // Top-level conjuncts go one per line; nested conjunctions are flattened into them,
        // except long ones (a negative filter of many values), which stay balanced.
        let mut conjuncts: Vec<&Expr> = Vec::new();
        while let Some(f) = filter.pop() {
            match f {
                Expr::And(parts) if !parts.is_empty() && parts.len() <= FLAT_RUN => {
                    filter.extend(parts.iter());
                }
                other => conjuncts.push(other),
            }
        }
        conjuncts.reverse();
        if !conjuncts.is_empty() {
            self.newline();
            self.push("WHERE");
            self.indent += 1;
            for (i, f) in conjuncts.iter().enumerate() {
                self.newline();
                if i > 0 {
                    self.push("AND ");
                }
                if matches!(f, Expr::Or(_) | Expr::And(_)) {
                    self.operand(f);
                } else {
                    self.expr(f);
                }
            }
            self.indent -= 1;
        }
        if !s.group_by.is_empty() {
            self.newline();
            self.push("GROUP BY");
            self.list(&s.group_by, |r, e| r.expr(e));
        }
        if !s.order_by.is_empty() {
            self.newline();
            self.push("ORDER BY");
            self.list(&s.order_by, |r, o| r.order_by(o));
        }
        if let Some(l) = &s.limit {
            self.newline();
            self.push("LIMIT ");
            self.expr(l);
        }
        if let Some(o) = &s.offset {
            self.newline();
            self.push("OFFSET ");
            self.expr(o);
        }
    }

    fn order_by(&mut self, o: &OrderBy) {
        self.expr(&o.expr);
        self.push(if o.desc { " DESC" } else { " ASC" });
    }

    /// Print a FROM item; returns conditions the dialect needs added to `WHERE`.
    fn from(&mut self, f: &Source) -> Option<Expr> {
        match f {
            Source::Table { name, final_ } => {
                self.push(name);
                if *final_ {
                    self.push(self.d.final_suffix());
                }
                None
            }
            Source::Named(n) => {
                self.push(n);
                None
            }
            Source::Subquery(stmt, alias) => {
                self.nested(stmt);
                self.push(" AS ");
                self.push(alias);
                None
            }
            Source::Join(left, right, on) => {
                let a = self.from(left);
                self.newline();
                self.push("JOIN ");
                let b = self.from(right);
                self.push(" ON ");
                self.operand(on);
                match (a, b) {
                    (None, None) => None,
                    (Some(x), None) | (None, Some(x)) => Some(x),
                    (Some(x), Some(y)) => Some(Expr::And(vec![x, y])),
                }
            }
            Source::Expand {
                source,
                matches,
                alias,
            } => {
                let inner = self.from(source);
                let extra = self.d.expand(self, matches, alias);
                match (inner, extra) {
                    (None, None) => None,
                    (Some(x), None) | (None, Some(x)) => Some(x),
                    (Some(x), Some(y)) => Some(Expr::And(vec![x, y])),
                }
            }
        }
    }

    /// A statement inside another, in parentheses on lines of its own.
    fn nested(&mut self, stmt: &Statement) {
        self.push("(");
        self.indent += 1;
        self.newline();
        self.statement(stmt);
        self.indent -= 1;
        self.newline();
        self.push(")");
    }

    /// Print an expression, parenthesized when it is compound.
    pub fn operand(&mut self, e: &Expr) {
        let compound = matches!(
            e,
            Expr::Binary(..)
                | Expr::And(_)
                | Expr::Or(_)
                | Expr::Not(_)
                | Expr::IsNull(..)
                | Expr::InList(..)
                | Expr::InSubquery(..)
                | Expr::Between(..)
        );
        if compound {
            self.push("(");
            self.expr(e);
            self.push(")");
        } else {
            self.expr(e);
        }
    }

    /// Print a comma-separated argument list.
    pub fn args(&mut self, args: &[Expr]) {
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(a);
        }
    }

    /// Operands joined by `sep`. Engines parse `a OR b OR c …` into a left-deep tree, one
    /// level per operand, and SQLite refuses a tree deeper than 1 000 levels; so a long
    /// list (a filter with hundreds of values) is printed as parenthesized halves, and its
    /// depth grows with the logarithm of its length instead.
    fn joined(&mut self, parts: &[Expr], sep: &str) {
        if parts.len() <= FLAT_RUN {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    self.push(sep);
                }
                self.operand(p);
            }
            return;
        }
        let (left, right) = parts.split_at(parts.len() / 2);
        for (i, half) in [left, right].into_iter().enumerate() {
            if i > 0 {
                self.push(sep);
            }
            self.push("(");
            self.joined(half, sep);
            self.push(")");
        }
    }

    /// Print an expression.
    pub fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Col(c) => self.push(c),
            Expr::Qualified(t, c) => {
                self.push(t);
                self.push(".");
                self.push(c);
            }
            Expr::Param(i) => {
                let p = self.params.0.get(*i).cloned();
                if let Some(p) = p {
                    let text = self.d.placeholder(*i + 1, &p);
                    self.push(&text);
                }
            }
            Expr::Int(i) => self.push(&i.to_string()),
            Expr::Str(s) => {
                self.push("'");
                self.push(&s.replace('\'', "''"));
                self.push("'");
            }
            Expr::Null => self.push("NULL"),
            Expr::Star => self.push("*"),
            Expr::Binary(a, op, b) => {
                self.operand(a);
                self.push(" ");
                self.push(op.sql());
                self.push(" ");
                self.operand(b);
            }
            Expr::And(parts) | Expr::Or(parts) if parts.is_empty() => {
                let truth = matches!(e, Expr::And(_));
                self.push(self.d.bool_literal(truth));
            }
            Expr::And(parts) | Expr::Or(parts) => {
                let sep = if matches!(e, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                self.joined(parts, sep);
            }
            Expr::Not(x) => {
                self.push("NOT ");
                self.operand(x);
            }
            Expr::IsNull(x, negated) => {
                self.operand(x);
                self.push(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::InList(x, items, negated) => {
                self.operand(x);
                self.push(if *negated { " NOT IN (" } else { " IN (" });
                self.args(items);
                self.push(")");
            }
            Expr::Subquery(stmt) => self.nested(stmt),
            Expr::InSubquery(x, stmt) => {
                self.operand(x);
                self.push(" IN ");
                self.nested(stmt);
            }
            Expr::Between(x, lo, hi) => {
                self.operand(x);
                self.push(" BETWEEN ");
                self.operand(lo);
                self.push(" AND ");
                self.operand(hi);
            }
            Expr::Case(whens, else_) => {
                self.push("CASE");
                for (w, t) in whens {
                    self.push(" WHEN ");
                    self.expr(w);
                    self.push(" THEN ");
                    self.expr(t);
                }
                if let Some(x) = else_ {
                    self.push(" ELSE ");
                    self.expr(x);
                }
                self.push(" END");
            }
            Expr::Call(Func::Engine(name), args) => function(self, name, args),
            Expr::Call(f, args) => self.d.call(self, *f, args),
            Expr::Lambda(params, body) => {
                self.push("(");
                self.push(&params.join(", "));
                self.push(") -> ");
                self.operand(body);
            }
            Expr::EpochMs(col) => self.d.epoch_ms(self, *col),
            Expr::Agg(a, arg) => self.d.aggregate(self, *a, arg.as_deref()),
            Expr::AggIf(a, arg, cond) => self.d.aggregate_if(self, *a, arg.as_deref(), cond),
            Expr::WindowFunnel(f) => f.engine.window_funnel(self, f),
            Expr::Window(w, arg, partition, order) => {
                match w {
                    Win::RowNumber => self.push("row_number()"),
                    Win::DenseRank => self.push("dense_rank()"),
                    Win::Sum
                    | Win::Max
                    | Win::Min
                    | Win::MaxBefore
                    | Win::MaxWithin(_)
                    | Win::MaxPrevRow
                    | Win::MaxAhead(_) => {
                        let agg = match w {
                            Win::Sum => Agg::Sum,
                            Win::Min => Agg::Min,
                            _ => Agg::Max,
                        };
                        self.d.aggregate(self, agg, arg.as_deref());
                    }
                }
                self.push(" OVER (");
                if !partition.is_empty() {
                    self.push("PARTITION BY ");
                    self.args(partition);
                }
                if !order.is_empty() {
                    if !partition.is_empty() {
                        self.push(" ");
                    }
                    self.push("ORDER BY ");
                    for (i, o) in order.iter().enumerate() {
                        if i > 0 {
                            self.push(", ");
                        }
                        self.order_by(o);
                    }
                }
                match w {
                    Win::MaxBefore => {
                        self.push(" RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING");
                    }
                    // The width is a number the compiler chose (a window in ms), never
                    // user text: engines take frame offsets as literals only.
                    Win::MaxWithin(n) => {
                        self.push(&format!(" RANGE BETWEEN {n} PRECEDING AND 1 PRECEDING"));
                    }
                    Win::MaxPrevRow => self.push(" ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING"),
                    Win::MaxAhead(n) => {
                        self.push(&format!(" RANGE BETWEEN CURRENT ROW AND {n} FOLLOWING"));
                    }
                    _ => {}
                }
                self.push(")");
            }
        }
    }
}
