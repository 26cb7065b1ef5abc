//! The chart statement, level by level (the levels of [`super`]'s module doc): each level
//! is one method of [`Lowering`] that produces the next level's input.
//!
//! Parameters are numbered in the order they are registered, so [`lower`] runs the
//! levels in the order the statement reads them, and each level registers its parameters
//! in that order too: changing it renumbers every snapshot.

use super::exprs::{
    bucket_expr, combined_agg, distinct_key, item, label_expr, partial_aggs, per_config,
    per_config_agg, plain, property_value, segment_agg, star,
};
use super::latest::Latest;
use super::{BREAKDOWN_ALIASES, ChartForms};
use crate::compile::filter::{distinct_names, event_match};
use crate::compile::{Context, epoch_ms};
use crate::request::{ChartRequest, EventName, Segment};
use crate::sql::ast::{
    Body, Cte, Expr, Func, Item, Op, OrderBy, Params, Select, Source, Statement, Win,
};
use crate::sql::dialect::{ConfigRows, DistinctCounts, LatestEvent};
use crate::time::{BucketGrid, Window};

/// The statement, in the given forms.
pub(super) fn lower(
    req: &ChartRequest,
    ctx: &Context,
    window: &Window,
    grid: &BucketGrid,
    previous: Option<&(Window, BucketGrid)>,
    forms: ChartForms,
    params: &mut Params,
) -> Statement {
    let n_break = req.breakdowns.len().min(BREAKDOWN_ALIASES.len());
    let lowering = Lowering {
        req,
        ctx,
        window,
        grid,
        previous,
        forms,
        segments: req.events.iter().map(|e| e.segment).collect(),
        b_cols: BREAKDOWN_ALIASES[..n_break]
            .iter()
            .map(|a| Expr::Col(a))
            .collect(),
    };
    let (scan, cols) = lowering.scan(params);
    let (source, ctes) = lowering.latest_events(scan, &cols, params);
    let grouped = lowering.grouped(source);
    let mut stmt = if lowering.b_cols.is_empty() {
        lowering.without_breakdowns(grouped)
    } else {
        let totals = lowering.totals(grouped);
        let ranked = lowering.ranked(totals);
        Statement::select(lowering.top(ranked, params))
    };
    // Only level 1b's MaxTime form has CTEs, and it has no breakdowns.
    stmt.ctes = ctes;
    stmt
}

/// A config's condition as `WHERE` conjuncts: none for `*` without filters.
fn condition(cond: &Expr) -> Option<Expr> {
    match cond {
        Expr::And(v) if v.is_empty() => None,
        c => Some(c.clone()),
    }
}

/// Whether a segment reads `profile_id`.
fn counts_users(segment: Segment) -> bool {
    matches!(
        segment,
        Segment::User | Segment::UserAverage | Segment::OneEventPerUser
    )
}

/// What every level reads: the request, its windows and grids, the forms, and what
/// follows from them.
struct Lowering<'a> {
    req: &'a ChartRequest,
    ctx: &'a Context,
    window: &'a Window,
    grid: &'a BucketGrid,
    previous: Option<&'a (Window, BucketGrid)>,
    forms: ChartForms,
    /// Each config's segment.
    segments: Vec<Segment>,
    /// The breakdown columns `b0…`, one per breakdown kept.
    b_cols: Vec<Expr>,
}

impl Lowering<'_> {
    /// Whether some config's segment satisfies `pred`.
    fn needs(&self, pred: fn(Segment) -> bool) -> bool {
        self.segments.iter().any(|s| pred(*s))
    }

    /// Whether level 1b finds the latest events with [`LatestEvent::MaxTime`] (only
    /// without breakdowns).
    fn max_time(&self) -> bool {
        self.needs(|s| s == Segment::OneEventPerUser)
            && self.b_cols.is_empty()
            && self.forms.latest == LatestEvent::MaxTime
    }

    /// Level 1: the rows of every config, one per event and config it matches, with
    /// `cfg, period, bucket`, the breakdown labels and the values segments aggregate; and
    /// the names of the value columns, which level 1b carries through. With several
    /// configs the rows come from one scan repeated per config ([`ConfigRows::Expand`])
    /// or from one scan per config ([`ConfigRows::UnionAll`], see [`Self::union_of_scans`]).
    fn scan(&self, params: &mut Params) -> (Select, Vec<&'static str>) {
        let req = self.req;
        let union = self.union_of_scans();
        let (mut filter, cur_start) = self.scan_filter(!union, params);
        let mut scan = Select::default();
        let conds: Vec<Expr> = req
            .events
            .iter()
            .map(|e| event_match(&e.name, &e.filters, params))
            .collect();
        let base = Source::table("events");
        if conds.len() == 1 {
            scan.from = Some(base);
            scan.item(Expr::Int(0), "cfg");
            filter.extend(condition(&conds[0]));
        } else if union {
            scan.from = Some(base);
            scan.item(Expr::Col("cfg"), "cfg");
        } else {
            scan.from = Some(Source::Expand {
                source: Box::new(base),
                matches: conds.clone(),
                alias: "cfg",
            });
            scan.items.push(plain(Expr::Col("cfg")));
        }
        scan.filter = filter;
        let created = Expr::Col("created_at");
        match self.previous {
            Some((_, pgrid)) => {
                let cur = bucket_expr(self.grid, epoch_ms("created_at"), params);
                let prev = bucket_expr(pgrid, epoch_ms("created_at"), params);
                let is_current = created.op(Op::GtEq, cur_start);
                scan.item(
                    Expr::if_then(is_current.clone(), Expr::Int(0), Expr::Int(1)),
                    "period",
                );
                scan.item(Expr::if_then(is_current, cur, prev), "bucket");
            }
            None => {
                scan.item(Expr::Int(0), "period");
                let cur = bucket_expr(self.grid, epoch_ms("created_at"), params);
                scan.item(cur, "bucket");
            }
        }
        for (b, alias) in req.breakdowns.iter().zip(BREAKDOWN_ALIASES) {
            let label = label_expr(&b.field, params);
            scan.item(label, alias);
        }
        let (cols, values) = self.scan_values(&mut scan, params);
        if union {
            scan = self.per_config_scans(scan, &conds, &values);
        }
        (scan, cols)
    }

    /// [`ConfigRows::UnionAll`], where it applies: several configs, each of its own event
    /// name. Configs that share a name keep one scan repeated per config: a scan per
    /// config (or per name, repeated) reads the same rows again, which costs more than the
    /// `ARRAY JOIN` saves (docs/performance.md).
    fn union_of_scans(&self) -> bool {
        let events = &self.req.events;
        self.forms.rows == ConfigRows::UnionAll
            && events.len() > 1
            && events
                .iter()
                .enumerate()
                .all(|(k, e)| events[..k].iter().all(|o| o.name != e.name))
    }

    /// [`ConfigRows::UnionAll`]: `scan` once per config, each with `cfg` its index, its
    /// config's condition added to the `WHERE`, its own property value as `pv`, and the
    /// ids its segment does not count replaced by `''` (so they are not read).
    fn per_config_scans(&self, scan: Select, conds: &[Expr], values: &[Expr]) -> Select {
        let branches = conds
            .iter()
            .enumerate()
            .map(|(k, cond)| {
                let segment = self.segments[k];
                let mut branch = scan.clone();
                for it in &mut branch.items {
                    match it.alias {
                        Some("cfg") => it.expr = Expr::Int(k as i64),
                        Some("pv") => it.expr = values[k].clone(),
                        Some("profile_id") if !counts_users(segment) => it.expr = Expr::Str(""),
                        Some("session_id") if segment != Segment::Session => {
                            it.expr = Expr::Str("")
                        }
                        _ => {}
                    }
                }
                branch.filter.extend(condition(cond));
                branch
            })
            .collect();
        Select {
            items: vec![star()],
            from: Some(Source::Subquery(
                Box::new(Statement {
                    ctes: Vec::new(),
                    body: Body::UnionAll(branches),
                }),
                "u",
            )),
            ..Select::default()
        }
    }

    /// Level 1's conditions before the configs' own: the project, the time range of the
    /// periods and (with `names`) the configs' names; and the current window's start,
    /// which tells the periods apart.
    fn scan_filter(&self, names: bool, params: &mut Params) -> (Vec<Expr>, Expr) {
        let window = self.window;
        let project = params.text(self.ctx.project_id.clone());
        let cur_start = params.ts(window.start);
        let mut filter = vec![Expr::Col("project_id").eq(project)];
        let created = Expr::Col("created_at");
        match self.previous {
            Some((pw, _)) => {
                let prev_start = params.ts(pw.start);
                let cur_end = params.ts(window.end);
                filter.push(created.clone().op(Op::GtEq, prev_start));
                filter.push(created.clone().op(Op::LtEq, cur_end));
                // The previous window of a period-to-date ends before the current one starts.
                if pw.end + 1 < window.start {
                    let prev_end = params.ts(pw.end);
                    filter.push(Expr::Or(vec![
                        created.clone().op(Op::GtEq, cur_start.clone()),
                        created.op(Op::LtEq, prev_end),
                    ]));
                }
            }
            None => {
                let cur_end = params.ts(window.end);
                filter.push(created.clone().op(Op::GtEq, cur_start.clone()));
                filter.push(created.op(Op::LtEq, cur_end));
            }
        }
        if names {
            filter.extend(self.name_filter(params));
        }
        (filter, cur_start)
    }

    /// `name IN (…)` over the configs' names, when there are several configs and none is
    /// `*`: it lets an index on (project_id, name, …) prune rows before the per-config
    /// conditions run; a single config's condition has it.
    fn name_filter(&self, params: &mut Params) -> Option<Expr> {
        let events = &self.req.events;
        if events.len() <= 1 || events.iter().any(|e| e.name == EventName::Any) {
            return None;
        }
        let list: Vec<Expr> = distinct_names(events.iter().map(|e| &e.name))
            .into_iter()
            .map(|n| params.text(n))
            .collect();
        Some(match list.as_slice() {
            [one] => Expr::Col("name").eq(one.clone()),
            _ => Expr::InList(Box::new(Expr::Col("name")), list, false),
        })
    }

    /// The columns segments aggregate, after level 1's keys and labels: `profile_id`,
    /// `session_id` and `pv`, whose names it returns with each config's property value
    /// (NULL for configs without one; empty when no config has one), then `ts` (and
    /// `event_id`) for `one_event_per_user`.
    fn scan_values(
        &self,
        scan: &mut Select,
        params: &mut Params,
    ) -> (Vec<&'static str>, Vec<Expr>) {
        let mut cols: Vec<&'static str> = Vec::new();
        let mut pv = Vec::new();
        if self.needs(counts_users) {
            scan.item(Expr::Col("profile_id"), "profile_id");
            cols.push("profile_id");
        }
        if self.needs(|s| s == Segment::Session) {
            scan.item(Expr::Col("session_id"), "session_id");
            cols.push("session_id");
        }
        if self.needs(Segment::needs_property) {
            let values: Vec<Expr> = self
                .req
                .events
                .iter()
                .map(|e| match (&e.property, e.segment.needs_property()) {
                    (Some(f), true) => property_value(f, params),
                    _ => Expr::Null,
                })
                .collect();
            scan.item(per_config(values.clone()), "pv");
            cols.push("pv");
            pv = values;
        }
        if self.needs(|s| s == Segment::OneEventPerUser) {
            scan.item(epoch_ms("created_at"), "ts");
            if !self.max_time() {
                scan.item(Expr::call(Func::IdText, vec![Expr::Col("id")]), "event_id");
            }
        }
        (cols, pv)
    }

    /// Level 1b: for `one_event_per_user`, each user's latest matching event per config
    /// and period (`rn = 1`). Produces the rows level 2 groups and the CTEs they need.
    fn latest_events(
        &self,
        scan: Select,
        cols: &[&'static str],
        params: &mut Params,
    ) -> (Source, Vec<Cte>) {
        let mut ctes = Vec::new();
        let source = if self.max_time() {
            let latest = Latest {
                cols,
                segments: &self.segments,
                grid: self.grid,
                previous: self.previous.map(|(_, g)| g),
                constant: &self.constant_keys(),
            };
            latest.rows(scan, params, &mut ctes)
        } else if self.needs(|s| s == Segment::OneEventPerUser) {
            let rn = Expr::Window(
                Win::RowNumber,
                None,
                vec![
                    Expr::Col("cfg"),
                    Expr::Col("period"),
                    Expr::Col("profile_id"),
                ],
                vec![
                    OrderBy::desc(Expr::Col("ts")),
                    OrderBy::desc(Expr::Col("event_id")),
                ],
            );
            let ranked = Select {
                items: vec![star(), item(rn, "rn")],
                from: Some(Source::subquery(scan, "s")),
                ..Select::default()
            };
            Source::subquery(ranked, "l")
        } else {
            Source::subquery(scan, "s")
        };
        (source, ctes)
    }

    /// Level 2's keys: `cfg, period, bucket` and the breakdown columns.
    fn keys(&self) -> Vec<Expr> {
        let mut keys = vec![Expr::Col("cfg"), Expr::Col("period"), Expr::Col("bucket")];
        keys.extend(self.b_cols.iter().cloned());
        keys
    }

    /// The keys that are the constant 0: a single config's `cfg` and a request without a
    /// previous period's `period`. They are selected as such, not grouped by (hashing
    /// constant keys is measurable on ClickHouse, docs/performance.md).
    fn constant_keys(&self) -> Vec<&'static str> {
        let mut constant: Vec<&'static str> = Vec::new();
        if self.req.events.len() == 1 {
            constant.push("cfg");
        }
        if self.previous.is_none() {
            constant.push("period");
        }
        constant
    }

    /// The keys level 2 groups by: all but the constant ones.
    fn group_by(&self) -> Vec<Expr> {
        let constant = self.constant_keys();
        let is_constant = |k: &Expr| matches!(k, Expr::Col(c) if constant.contains(c));
        self.keys()
            .into_iter()
            .filter(|k| !is_constant(k))
            .collect()
    }

    /// The order of the rows: by the keys grouped by.
    fn order(&self) -> Vec<OrderBy> {
        self.group_by().into_iter().map(OrderBy::asc).collect()
    }

    /// Level 2's key items, a constant key as `0 AS key`.
    fn grouped_items(&self) -> Vec<Item> {
        let constant = self.constant_keys();
        self.keys()
            .iter()
            .map(|k| match k {
                Expr::Col(c) if constant.contains(c) => item(Expr::Int(0), c),
                _ => plain(k.clone()),
            })
            .collect()
    }

    /// Level 2: one `value` per config, period, bucket and combination.
    fn grouped(&self, source: Source) -> Select {
        let segments = &self.segments;
        let (source, value) = if self.forms.distinct == DistinctCounts::Grouped
            && segments.iter().any(|s| distinct_key(*s).is_some())
        {
            let value = per_config_agg(
                segments.iter().map(|s| combined_agg(*s)).collect(),
                self.forms.configs,
            );
            (self.by_distinct_id(source), value)
        } else {
            let value = per_config_agg(
                segments.iter().map(|s| segment_agg(*s)).collect(),
                self.forms.configs,
            );
            (source, value)
        };
        let mut grouped = Select {
            items: self.grouped_items(),
            from: Some(source),
            group_by: self.group_by(),
            ..Select::default()
        };
        grouped.item(value, "value");
        grouped
    }

    /// Level 2a, for [`DistinctCounts::Grouped`]: one group per distinct id `dk`, with the
    /// partial aggregates, so that level 2 counts groups.
    fn by_distinct_id(&self, source: Source) -> Source {
        let dk = per_config(
            self.segments
                .iter()
                .map(|s| distinct_key(*s).map_or(Expr::Null, Expr::Col))
                .collect(),
        );
        let mut by_id = Select {
            items: self.grouped_items(),
            from: Some(source),
            group_by: self.group_by(),
            ..Select::default()
        };
        by_id.group_by.push(dk.clone());
        by_id.item(dk, "dk");
        for (alias, agg) in partial_aggs(&self.segments) {
            by_id.item(agg, alias);
        }
        Source::subquery(by_id, "d")
    }

    /// The statement without breakdowns: level 2 with `series` (the number of configs),
    /// in order.
    fn without_breakdowns(&self, mut grouped: Select) -> Statement {
        grouped.item(Expr::Int(self.req.events.len() as i64), "series");
        grouped.order_by = self.order();
        Statement::select(grouped)
    }

    /// Level 3: each combination's current-period `total`, and whether it is `present`
    /// in the current period.
    fn totals(&self, grouped: Select) -> Select {
        let mut combo = vec![Expr::Col("cfg")];
        combo.extend(self.b_cols.iter().cloned());
        let is_current = Expr::Col("period").eq(Expr::Int(0));
        let total = Expr::Window(
            Win::Sum,
            Some(Box::new(Expr::if_then(
                is_current.clone(),
                Expr::Col("value"),
                Expr::Int(0),
            ))),
            combo.clone(),
            Vec::new(),
        );
        let present = Expr::Window(
            Win::Max,
            Some(Box::new(Expr::if_then(
                is_current,
                Expr::Int(1),
                Expr::Int(0),
            ))),
            combo,
            Vec::new(),
        );
        Select {
            items: vec![star(), item(total, "total"), item(present, "present")],
            from: Some(Source::subquery(grouped, "g")),
            ..Select::default()
        }
    }

    /// Level 4: the present combinations ranked (`rnk`) by total, ties by their labels in
    /// code-point order.
    fn ranked(&self, totals: Select) -> Select {
        let mut rank_order = vec![OrderBy::desc(Expr::Col("total"))];
        for (b, col) in self.req.breakdowns.iter().zip(&self.b_cols) {
            if b.field.is_numeric() {
                // `(not set)` sorts before any number's text; numbers tie-break by value
                // (docs/decisions.md), then shaping orders the kept series by their labels.
                let unset = Expr::if_then(
                    Expr::IsNull(Box::new(col.clone()), false),
                    Expr::Int(0),
                    Expr::Int(1),
                );
                rank_order.push(OrderBy::asc(unset));
                rank_order.push(OrderBy::asc(col.clone()));
            } else {
                rank_order.push(OrderBy::asc(Expr::call(Func::ByteOrder, vec![col.clone()])));
            }
        }
        let rank = Expr::Window(Win::DenseRank, None, vec![Expr::Col("cfg")], rank_order);
        Select {
            items: vec![star(), item(rank, "rnk")],
            from: Some(Source::subquery(totals, "t")),
            filter: vec![Expr::Col("present").eq(Expr::Int(1))],
            ..Select::default()
        }
    }

    /// Level 5: every combination counted (`series`), the top `limit + offset` of each
    /// config kept, in order.
    fn top(&self, ranked: Select, params: &mut Params) -> Select {
        let series = Expr::Window(
            Win::Max,
            Some(Box::new(Expr::Col("rnk"))),
            vec![Expr::Col("cfg")],
            Vec::new(),
        );
        let counted = Select {
            items: vec![star(), item(series, "series")],
            from: Some(Source::subquery(ranked, "r")),
            ..Select::default()
        };
        let req = self.req;
        let keep = i64::try_from(req.limit.saturating_add(req.offset)).unwrap_or(i64::MAX);
        let mut out_items: Vec<Item> = self.keys().into_iter().map(plain).collect();
        out_items.push(plain(Expr::Col("value")));
        out_items.push(plain(Expr::Col("series")));
        Select {
            items: out_items,
            from: Some(Source::subquery(counted, "c")),
            filter: vec![Expr::Col("rnk").op(Op::LtEq, params.int(keep))],
            order_by: self.order(),
            ..Select::default()
        }
    }
}
