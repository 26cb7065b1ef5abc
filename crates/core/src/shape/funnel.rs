use chrono_tz::Tz;

use super::comparison;
use crate::compile::FunnelPlan;
use crate::format::{Num, round2};
use crate::request::{FunnelRange, FunnelRequest};
use crate::response::{
    Bin, EventRef, FunnelBreakdownGroup, FunnelPoint, FunnelResponse, FunnelStepResult,
    StepPrevious, TimeToConvert,
};
use crate::sql::{Row, Value};
use crate::time::format_seconds;

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round2(part as f64 / whole as f64 * 100.0)
    }
}

/// One funnel row, whichever statement produced it: `level, entrants` (§7's statement)
/// or `level, open, bucket, entrants` (docs/funnels.md).
struct Tally {
    level: usize,
    open: bool,
    bucket: i64,
    entrants: u64,
}

fn tallies(rows: &[Row], n: usize) -> impl Iterator<Item = Tally> + '_ {
    rows.iter().map(move |row| {
        let int = |i: usize| row.get(i).map_or(0, |v| v.as_i64());
        let general = row.len() == 4;
        Tally {
            level: usize::try_from(int(0)).unwrap_or(0).min(n),
            open: general && int(1) == 1,
            bucket: if general { int(2) } else { 0 },
            entrants: u64::try_from(int(if general { 3 } else { 1 })).unwrap_or(0),
        }
    })
}

/// `reach[k]` (entrants whose level is at least `k`, from 1) and, per level, the
/// entrants at exactly that level whose window is still open.
fn reach_of(rows: &[Row], n: usize) -> (Vec<u64>, Vec<u64>) {
    let mut at_level = vec![0u64; n + 1];
    let mut open = vec![0u64; n + 1];
    for t in tallies(rows, n) {
        at_level[t.level] += t.entrants;
        if t.open {
            open[t.level] += t.entrants;
        }
    }
    let mut reach = vec![0u64; n + 2];
    for k in (1..=n).rev() {
        reach[k] = reach[k + 1] + at_level[k];
    }
    (reach, open)
}

/// Shape the funnel rows of the window (and of the previous period) into the response
/// (§7, docs/funnels.md).
pub fn shape_funnel(
    req: &FunnelRequest,
    plan: &FunnelPlan,
    tz: Tz,
    rows: &[Row],
    previous: Option<&[Row]>,
    time_to_convert: Option<&[Row]>,
    groups: Option<&[Row]>,
) -> FunnelResponse {
    let n = req.steps.len();
    let (reach, open) = reach_of(rows, n);
    let prev = previous.map(|rows| reach_of(rows, n).0);
    let total = reach[1];
    let mut steps = group_steps(req, &reach, &open);
    for (i, step) in steps.iter_mut().enumerate() {
        let k = i + 1;
        step.previous = prev.as_ref().map(|p| StepPrevious {
            count: comparison(step.count as f64, p[k] as f64),
            percent: comparison(step.percent.0, percent(p[k], p[1])),
        });
        step.time_to_convert = match (&req.time_to_convert, time_to_convert) {
            (Some(edges), Some(rows)) if k > 1 => Some(convert_times(edges, rows, k)),
            _ => None,
        };
    }
    let over_time = plan.grid.as_ref().map(|grid| {
        let mut entrants = vec![0u64; grid.len()];
        let mut converted = vec![0u64; grid.len()];
        for t in tallies(rows, n) {
            let Some(b) = usize::try_from(t.bucket).ok().filter(|b| *b < grid.len()) else {
                continue;
            };
            entrants[b] += t.entrants;
            if t.level == n {
                converted[b] += t.entrants;
            }
        }
        (0..grid.len())
            .map(|b| FunnelPoint {
                date: format_seconds(grid.start_of(b), tz),
                entrants: entrants[b],
                converted: converted[b],
                rate: Num(percent(converted[b], entrants[b])),
            })
            .collect()
    });
    let (breakdowns, total_combinations) = match groups {
        Some(rows) => {
            let (groups, total) = breakdown_groups(req, rows);
            (Some(groups), Some(total))
        }
        None => (None, None),
    };
    FunnelResponse {
        total_sessions: total,
        steps,
        over_time,
        breakdowns,
        total_combinations,
    }
}

/// The steps of one breakdown group: §7's fields and `pendingCount`, from its reach.
fn group_steps(req: &FunnelRequest, reach: &[u64], open: &[u64]) -> Vec<FunnelStepResult> {
    let total = reach[1];
    req.steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let k = i + 1;
            let count = reach[k];
            let previous_count = if k == 1 { total } else { reach[k - 1] };
            FunnelStepResult {
                event: EventRef {
                    name: step.name(),
                    display_name: step.display_name.clone(),
                },
                count,
                percent: Num(percent(count, total)),
                dropoff_count: previous_count - count,
                dropoff_percent: Num(if previous_count == 0 {
                    0.0
                } else {
                    round2(100.0 - count as f64 / previous_count as f64 * 100.0)
                }),
                previous_count,
                pending_count: (req.range == FunnelRange::Entry)
                    .then(|| if k == 1 { 0 } else { open[k - 1] }),
                previous: None,
                time_to_convert: None,
            }
        })
        .collect()
}

/// The breakdown groups from the rows `grp, v…, level, open, total, entrants` (group 0 is
/// `Other`), in rank order with `Other` last; and the number of combinations in all.
fn breakdown_groups(req: &FunnelRequest, rows: &[Row]) -> (Vec<FunnelBreakdownGroup>, u64) {
    let Some(bd) = &req.breakdowns else {
        return (Vec::new(), 0);
    };
    let n = req.steps.len();
    let nb = bd.fields.len();
    // grp → (values, rows of that group as `level, open, bucket, entrants`).
    let mut by_group: std::collections::BTreeMap<i64, (Vec<String>, Vec<Row>)> = Default::default();
    let mut combinations = 0u64;
    for row in rows {
        let int = |i: usize| row.get(i).map_or(0, |v| v.as_i64());
        let grp = int(0);
        let values = (1..=nb)
            .map(|i| match row.get(i) {
                Some(Value::Text(t)) if !t.is_empty() => t.clone(),
                _ => "(not set)".to_string(),
            })
            .collect();
        combinations = combinations.max(u64::try_from(int(nb + 3)).unwrap_or(0));
        let tally = vec![
            Value::Int(int(nb + 1)),
            Value::Int(int(nb + 2)),
            Value::Int(0),
            Value::Int(int(nb + 4)),
        ];
        by_group
            .entry(grp)
            .or_insert_with(|| (values, Vec::new()))
            .1
            .push(tally);
    }
    let shown = by_group.keys().filter(|g| **g > 0).count() as u64;
    let mut out = Vec::new();
    let mut other = None;
    for (grp, (values, tallies)) in by_group {
        let (reach, open) = reach_of(&tallies, n);
        let mut labels = serde_json::Map::new();
        for (b, v) in bd.fields.iter().zip(values) {
            let v = if grp == 0 { "Other".to_string() } else { v };
            labels.insert(b.label.clone(), serde_json::Value::String(v));
        }
        let group = FunnelBreakdownGroup {
            breakdowns: labels,
            other: grp == 0,
            combinations: (grp == 0).then(|| combinations.saturating_sub(shown)),
            total_sessions: reach[1],
            steps: group_steps(req, &reach, &open),
        };
        if grp == 0 {
            other = Some(group);
        } else {
            out.push(group);
        }
    }
    out.extend(other);
    (out, combinations)
}

/// Seconds of `ms`, 2 decimals.
fn seconds(ms: f64) -> Num {
    Num(round2(ms / 1_000.0))
}

/// Step `k`'s time to convert from the rows `step, entrants, total, median, p90, h0…`.
fn convert_times(edges: &[i64], rows: &[Row], k: usize) -> TimeToConvert {
    let row = rows
        .iter()
        .find(|r| r.first().is_some_and(|v| v.as_i64() == k as i64));
    let int = |i: usize| row.and_then(|r| r.get(i)).map_or(0, |v| v.as_i64());
    let entrants = int(1);
    let stat = |v: f64| (entrants > 0).then(|| seconds(v));
    let histogram = (0..=edges.len())
        .map(|b| Bin {
            from: Num(if b == 0 {
                0.0
            } else {
                (edges[b - 1] / 1_000) as f64
            }),
            to: edges.get(b).map(|e| Num((e / 1_000) as f64)),
            count: u64::try_from(int(5 + b)).unwrap_or(0),
        })
        .collect();
    TimeToConvert {
        average: stat(int(2) as f64 / entrants.max(1) as f64),
        median: stat(int(3) as f64),
        p90: stat(int(4) as f64),
        histogram,
    }
}
