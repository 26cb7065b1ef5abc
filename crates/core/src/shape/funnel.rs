use crate::format::{Num, round2};
use crate::request::FunnelRequest;
use crate::response::{EventRef, FunnelResponse, FunnelStepResult};
use crate::sql::Row;

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round2(part as f64 / whole as f64 * 100.0)
    }
}

/// Shape `level, entrants` rows into the funnel response (§7).
pub fn shape_funnel(req: &FunnelRequest, rows: &[Row]) -> FunnelResponse {
    let n = req.steps.len();
    let mut at_level = vec![0u64; n + 1];
    for row in rows {
        let level = usize::try_from(row.first().map_or(0, |v| v.as_i64()))
            .unwrap_or(0)
            .min(n);
        let count = u64::try_from(row.get(1).map_or(0, |v| v.as_i64())).unwrap_or(0);
        at_level[level] += count;
    }
    // reach[k] = entrants whose level is at least k (k from 1).
    let mut reach = vec![0u64; n + 2];
    for k in (1..=n).rev() {
        reach[k] = reach[k + 1] + at_level[k];
    }
    let total = reach[1];
    let steps = req
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let k = i + 1;
            let count = reach[k];
            let previous = if k == 1 { total } else { reach[k - 1] };
            FunnelStepResult {
                event: EventRef {
                    name: step.name.as_str().to_string(),
                    display_name: step.display_name.clone(),
                },
                count,
                percent: Num(percent(count, total)),
                dropoff_count: previous - count,
                dropoff_percent: Num(if previous == 0 {
                    0.0
                } else {
                    round2(100.0 - count as f64 / previous as f64 * 100.0)
                }),
                previous_count: previous,
            }
        })
        .collect();
    FunnelResponse {
        total_sessions: total,
        steps,
    }
}
