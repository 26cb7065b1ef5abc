//! Chart rows into the chart response (§6.3): series per config and breakdown
//! combination, their metrics, and the page of series returned.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde_json::Map;

use super::comparison;
use crate::compile::ChartPlan;
use crate::format::{Num, decimal_text, round2, series_id, uniquify};
use crate::request::{ChartRequest, Metric};
use crate::response::{
    ChartMeta, ChartResponse, EventRef, Metrics, Point, PreviousMetrics, Series,
};
use crate::sql::{Row, Value};
use crate::time::{format_millis, format_seconds};

/// The four metrics of a list of bucket values (§6.3), rounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stats {
    sum: f64,
    average: f64,
    min: f64,
    max: f64,
}

fn stats(values: &[f64]) -> Stats {
    if values.is_empty() {
        return Stats::default();
    }
    let sum: f64 = values.iter().sum();
    let nonzero: Vec<f64> = values.iter().copied().filter(|v| *v != 0.0).collect();
    let average = if nonzero.is_empty() {
        0.0
    } else {
        nonzero.iter().sum::<f64>() / nonzero.len() as f64
    };
    Stats {
        sum: round2(sum),
        average: round2(average),
        min: round2(values.iter().copied().fold(f64::INFINITY, f64::min)),
        max: round2(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    }
}

fn metrics(cur: Stats, prev: Option<Stats>) -> Metrics {
    Metrics {
        sum: Num(cur.sum),
        average: Num(cur.average),
        min: Num(cur.min),
        max: Num(cur.max),
        previous: prev.map(|p| PreviousMetrics {
            sum: comparison(cur.sum, p.sum),
            average: comparison(cur.average, p.average),
            min: comparison(cur.min, p.min),
            max: comparison(cur.max, p.max),
        }),
    }
}

fn pick(s: &Stats, m: Metric) -> f64 {
    match m {
        Metric::Sum => s.sum,
        Metric::Average => s.average,
        Metric::Min => s.min,
        Metric::Max => s.max,
    }
}

/// A breakdown cell as its label: numbers in their shortest decimal form, NULL and empty
/// text as `(not set)`.
fn label(v: &Value) -> String {
    match v {
        Value::Null => "(not set)".into(),
        Value::Float(f) => decimal_text(*f),
        Value::Int(i) => i.to_string(),
        Value::Text(t) if t.is_empty() => "(not set)".into(),
        Value::Text(t) => t.clone(),
        Value::Map(_) => "(not set)".into(),
    }
}

/// One series before sorting.
struct Draft {
    names: Vec<String>,
    cfg: usize,
    labels: Vec<String>,
    current: Vec<f64>,
    previous: Option<Vec<f64>>,
}

impl Draft {
    /// An empty series of config `cfg` with these breakdown labels: `len` zero buckets, and
    /// `prev_len` for the previous period when there is one.
    fn new(
        req: &ChartRequest,
        cfg: usize,
        labels: Vec<String>,
        len: usize,
        prev_len: Option<usize>,
    ) -> Draft {
        let mut names = vec![req.events[cfg].display_name.clone()];
        names.extend(labels.iter().cloned());
        Draft {
            names,
            cfg,
            labels,
            current: vec![0.0; len],
            previous: prev_len.map(|n| vec![0.0; n]),
        }
    }
}

/// A series with its metrics, before the page is cut.
type Measured = (Stats, Option<Stats>, Draft);

/// Shape rows `cfg, period, bucket, b0…, value, series` into the chart response.
pub fn shape_chart(req: &ChartRequest, plan: &ChartPlan, tz: Tz, rows: &[Row]) -> ChartResponse {
    let (drafts, total_series) = collect_drafts(req, plan, rows);
    // Round and measure every kept series, sort, and only then build the points of the
    // `limit` series returned: the others never cost more than their bucket values.
    let ranked = measure_and_sort(req, drafts);
    // Every series shares the grid's dates: format them once.
    let dates: Vec<String> = (0..plan.grid.len())
        .map(|i| format_seconds(plan.grid.start_of(i), tz))
        .collect();
    let mut series: Vec<Series> = ranked
        .into_iter()
        .skip(req.offset)
        .take(req.limit)
        .map(|measured| build_series(req, measured, &dates))
        .collect();
    let mut ids: Vec<String> = series.iter().map(|s| series_id(&s.names)).collect();
    uniquify(&mut ids);
    for (s, id) in series.iter_mut().zip(ids) {
        s.id = id;
    }
    ChartResponse {
        metrics: overall_metrics(&series, plan.previous.is_some()),
        series,
        meta: ChartMeta {
            start_date: format_millis(plan.window.start, tz),
            end_date: format_millis(plan.window.end, tz),
            interval: req.interval.as_str(),
            timezone: tz.name().to_string(),
            total_series,
        },
    }
}

/// Every series the rows hold (every config's, without breakdowns, even with no rows),
/// with their bucket values summed; and the number of series the statement counted.
fn collect_drafts(req: &ChartRequest, plan: &ChartPlan, rows: &[Row]) -> (Vec<Draft>, u64) {
    let n_break = req.breakdowns.len();
    let len = plan.grid.len();
    let prev_len = plan.previous.as_ref().map(|(_, g)| g.len());
    let mut drafts: Vec<Draft> = Vec::new();
    let mut index: BTreeMap<(usize, Vec<String>), usize> = BTreeMap::new();
    if n_break == 0 {
        for cfg in 0..req.events.len() {
            index.insert((cfg, Vec::new()), drafts.len());
            drafts.push(Draft::new(req, cfg, Vec::new(), len, prev_len));
        }
    }
    let mut series_per_cfg = vec![0u64; req.events.len()];
    for row in rows {
        // Rows come from the compiled statement; a short one would be a backend bug, and
        // it is skipped rather than allowed to panic.
        if row.len() < 5 + n_break {
            continue;
        }
        let cfg = usize::try_from(row[0].as_i64()).unwrap_or(usize::MAX);
        if cfg >= req.events.len() {
            continue;
        }
        let period = row[1].as_i64();
        let bucket = row[2].as_i64();
        let labels: Vec<String> = row[3..3 + n_break].iter().map(label).collect();
        let value = row[3 + n_break].as_f64();
        let series = u64::try_from(row[4 + n_break].as_i64()).unwrap_or(0);
        series_per_cfg[cfg] = series_per_cfg[cfg].max(series);
        let key = (cfg, labels);
        let at = match index.get(&key) {
            Some(at) => *at,
            None => {
                let at = drafts.len();
                drafts.push(Draft::new(req, cfg, key.1.clone(), len, prev_len));
                index.insert(key, at);
                at
            }
        };
        let draft = &mut drafts[at];
        let target = if period == 0 {
            Some(&mut draft.current)
        } else {
            draft.previous.as_mut()
        };
        if let Some(slot) =
            target.and_then(|v| usize::try_from(bucket).ok().and_then(|b| v.get_mut(b)))
        {
            *slot += value;
        }
    }
    let total_series = if n_break == 0 {
        req.events.len() as u64
    } else {
        series_per_cfg.iter().sum()
    };
    (drafts, total_series)
}

/// Every series rounded and measured, sorted by the request's metric, then by names.
fn measure_and_sort(req: &ChartRequest, drafts: Vec<Draft>) -> Vec<Measured> {
    let integral = |cfg: usize| req.events[cfg].segment.is_integral();
    let sort_metric = req.sort_metric();
    let mut ranked: Vec<Measured> = drafts
        .into_iter()
        .map(|mut d| {
            let round = |v: &mut f64| {
                *v = if integral(d.cfg) {
                    v.round()
                } else {
                    round2(*v)
                };
            };
            d.current.iter_mut().for_each(round);
            if let Some(p) = d.previous.as_mut() {
                p.iter_mut().for_each(round);
            }
            let cur_stats = stats(&d.current);
            let prev_stats = d.previous.as_deref().map(stats);
            (cur_stats, prev_stats, d)
        })
        .collect();
    ranked.sort_by(|(a, _, da), (b, _, db)| {
        pick(b, sort_metric)
            .total_cmp(&pick(a, sort_metric))
            .then_with(|| da.names.cmp(&db.names))
    });
    ranked
}

/// One series of the response, its points dated from `dates`; its id is set later, once
/// every returned series is known.
fn build_series(
    req: &ChartRequest,
    (cur_stats, prev_stats, d): Measured,
    dates: &[String],
) -> Series {
    let data = d
        .current
        .iter()
        .enumerate()
        .map(|(i, v)| Point {
            date: dates.get(i).cloned().unwrap_or_default(),
            count: Num(*v),
            previous: d
                .previous
                .as_ref()
                .and_then(|p| p.get(i))
                .map(|p| comparison(*v, *p)),
        })
        .collect();
    let mut breakdowns = Map::new();
    for (b, label) in req.breakdowns.iter().zip(&d.labels) {
        breakdowns.insert(b.label.clone(), serde_json::Value::String(label.clone()));
    }
    let cfg = &req.events[d.cfg];
    Series {
        id: String::new(),
        names: d.names,
        event: EventRef {
            name: cfg.name.as_str().to_string(),
            display_name: cfg.display_name.clone(),
        },
        breakdowns,
        metrics: metrics(cur_stats, prev_stats),
        data,
    }
}

/// The response's own metrics, over the returned series' metrics (and their previous
/// period's, when there is one).
fn overall_metrics(series: &[Series], previous: bool) -> Metrics {
    let top = |f: &dyn Fn(&Metrics) -> Stats| -> Stats {
        let all: Vec<Stats> = series.iter().map(|s| f(&s.metrics)).collect();
        if all.is_empty() {
            return Stats::default();
        }
        let nonzero: Vec<f64> = all
            .iter()
            .map(|s| s.average)
            .filter(|a| *a != 0.0)
            .collect();
        Stats {
            sum: round2(all.iter().map(|s| s.sum).sum()),
            average: if nonzero.is_empty() {
                0.0
            } else {
                round2(nonzero.iter().sum::<f64>() / nonzero.len() as f64)
            },
            min: all.iter().map(|s| s.min).fold(f64::INFINITY, f64::min),
            max: all.iter().map(|s| s.max).fold(f64::NEG_INFINITY, f64::max),
        }
    };
    let cur_top = top(&|m: &Metrics| Stats {
        sum: m.sum.0,
        average: m.average.0,
        min: m.min.0,
        max: m.max.0,
    });
    let prev_top = previous.then(|| {
        top(&|m: &Metrics| match &m.previous {
            Some(p) => Stats {
                sum: p.sum.value.0,
                average: p.average.value.0,
                min: p.min.value.0,
                max: p.max.value.0,
            },
            None => Stats::default(),
        })
    });
    metrics(cur_top, prev_top)
}
