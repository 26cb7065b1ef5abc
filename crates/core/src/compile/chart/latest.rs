//! Level 1b in the [`LatestEvent::MaxTime`] form: each user's latest event found with
//! `max(ts)` rather than a window function.
//!
//! [`LatestEvent::MaxTime`]: crate::sql::dialect::LatestEvent::MaxTime

use super::exprs::{bucket_expr, cfg_in, item, nonempty, plain};
use crate::request::Segment;
use crate::sql::ast::{Agg, Body, Cte, Expr, Params, Select, Source, Statement};
use crate::time::BucketGrid;

/// Level 1b of [`LatestEvent::MaxTime`] (a chart without breakdowns).
///
/// [`LatestEvent::MaxTime`]: crate::sql::dialect::LatestEvent::MaxTime
pub(super) struct Latest<'a> {
    /// The scan's columns after `cfg, period, bucket`.
    pub(super) cols: &'a [&'static str],
    /// Each config's segment.
    pub(super) segments: &'a [Segment],
    /// The current grid.
    pub(super) grid: &'a BucketGrid,
    /// The previous period's grid.
    pub(super) previous: Option<&'a BucketGrid>,
    /// The keys that are the constant 0 (`cfg` of a single config, `period` without a
    /// previous period).
    pub(super) constant: &'a [&'static str],
}

impl Latest<'_> {
    /// One row per (config, period, user) of the `one_event_per_user` configs, in the
    /// bucket of the user's greatest time, with `rn = 1`; the other configs' rows pass
    /// unchanged (`rn = 0`) through a `UNION ALL` over the scan as a CTE.
    pub(super) fn rows(&self, scan: Select, params: &mut Params, ctes: &mut Vec<Cte>) -> Source {
        let (latest_cfgs, other_cfgs): (Vec<i64>, Vec<i64>) = (0..self.segments.len() as i64)
            .partition(|i| self.segments[*i as usize] == Segment::OneEventPerUser);
        let base = if other_cfgs.is_empty() {
            Source::subquery(scan, "s")
        } else {
            ctes.push(Cte {
                name: "s",
                body: Body::Select(Box::new(scan)),
            });
            Source::Named("s")
        };
        let col = |c: &'static str| plain(Expr::Col(c));

        // Grouped by the user alone when the other keys are constants: SQLite then reads
        // the users in the order of an index on (project, name, profile, time) instead of
        // sorting the rows (docs/performance.md, "SQLite: the latest event per profile").
        let mut per_user = Select {
            from: Some(base.clone()),
            filter: vec![nonempty("profile_id")],
            ..Select::default()
        };
        for key in ["cfg", "period", "profile_id"] {
            if self.constant.contains(&key) {
                per_user.item(Expr::Int(0), key);
            } else {
                per_user.items.push(col(key));
                per_user.group_by.push(Expr::Col(key));
            }
        }
        per_user.item(Expr::agg(Agg::Max, Expr::Col("ts")), "lt");
        if !other_cfgs.is_empty() {
            per_user.filter.push(cfg_in(&latest_cfgs));
        }
        let lt = Expr::Col("lt");
        let bucket = match self.previous {
            Some(pgrid) => Expr::if_then(
                Expr::Col("period").eq(Expr::Int(0)),
                bucket_expr(self.grid, lt.clone(), params),
                bucket_expr(pgrid, lt, params),
            ),
            None => bucket_expr(self.grid, lt, params),
        };
        let mut latest = Select {
            items: vec![col("cfg"), col("period"), item(bucket, "bucket")],
            from: Some(Source::subquery(per_user, "m")),
            ..Select::default()
        };
        for c in self.cols {
            let value = if *c == "profile_id" {
                Expr::Col(c)
            } else {
                Expr::Null
            };
            latest.item(value, c);
        }
        latest.item(Expr::Int(1), "rn");
        if other_cfgs.is_empty() {
            return Source::subquery(latest, "l");
        }

        let mut rest = Select {
            items: vec![col("cfg"), col("period"), col("bucket")],
            from: Some(base),
            filter: vec![cfg_in(&other_cfgs)],
            ..Select::default()
        };
        rest.items.extend(self.cols.iter().map(|c| col(c)));
        rest.item(Expr::Int(0), "rn");
        Source::Subquery(
            Box::new(Statement {
                ctes: Vec::new(),
                body: Body::UnionAll(vec![rest, latest]),
            }),
            "l",
        )
    }
}
