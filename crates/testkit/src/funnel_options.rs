//! The funnel options of docs/funnels.md on every backend: order modes, alternatives,
//! per-step windows, exclusions, entry-bounded ranges with pending entrants, the previous
//! period and conversion over time. Hand-computed scenarios, and generated data checked
//! against the brute-force reference of `funnel_reference` for every combination.
use crate::funnel_reference::{Matcher, Spec};
use crate::*;
use quarry_core::event::NewEvent;
use serde_json::{Value, json};

const DAY: &str = "2024-04-15";

fn m(name: &'static str) -> Matcher {
    Matcher { name, plan: None }
}

/// A tiny deterministic generator (64-bit LCG), so every run sees the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Sessions of 2 to 9 events over the names a–d and x, many sharing a millisecond, some
/// with a `plan`.
fn generated() -> Vec<NewEvent> {
    let mut rng = Lcg(20_261_205);
    let names = ["a", "b", "c", "d", "x", "a", "b", "c"];
    let mut out = Vec::new();
    for s in 0..60 {
        let day_start = ms(&format!("{DAY}T00:00:00Z"));
        // A third of the sessions start near the end of the day (entry-bounded windows
        // and pending entrants), some on the day before (the previous period), the rest
        // anywhere in the day.
        let base = if s % 3 == 0 {
            day_start + 22 * 3_600_000 + rng.next(180) as i64 * 60_000
        } else if s % 5 == 0 {
            day_start - 86_400_000 + rng.next(24) as i64 * 3_600_000
        } else {
            day_start + rng.next(24 * 60) as i64 * 60_000
        };
        let count = 2 + rng.next(8);
        let mut t = base;
        for i in 0..count {
            // 0, 1 s or up to 50 min later: ties and near ties are common.
            t += match rng.next(4) {
                0 => 0,
                1 => 1_000,
                _ => rng.next(50) as i64 * 60_000,
            };
            let mut e = ev(
                &format!("g{s}-{i}"),
                names[rng.next(8) as usize],
                "2024-01-01T00:00:00Z",
            );
            e.created_at = t;
            e.session_id = format!("s{s}");
            e.profile_id = format!("p{}", s % 13);
            if rng.next(2) == 0 {
                let plan = if rng.next(2) == 0 { "pro" } else { "free" };
                e.properties = [("plan".to_string(), plan.to_string())].into();
            }
            out.push(e);
        }
    }
    out
}

/// The query string of a spec, with `extra` parameters.
fn query(spec: &Spec, extra: &str) -> String {
    let steps: Vec<Value> = spec
        .steps
        .iter()
        .map(|(alts, window)| {
            let mut step = if alts.len() == 1 {
                alts[0].json()
            } else {
                json!({ "anyOf": alts.iter().map(Matcher::json).collect::<Vec<_>>() })
            };
            if let Some(w) = window {
                step["window"] = json!(*w as f64 / 3_600_000.0);
            }
            step
        })
        .collect();
    let mut qs = format!(
        "events={}&startDate={DAY}&endDate={DAY}&funnelWindow={}{extra}",
        url_enc(&Value::Array(steps).to_string()),
        spec.window_ms as f64 / 3_600_000.0
    );
    if spec.profile {
        qs.push_str("&funnelGroup=profile_id");
    }
    if spec.strict {
        qs.push_str("&funnelOrder=strict");
    }
    if spec.entry {
        qs.push_str("&funnelRange=entry");
    }
    if !spec.exclusions.is_empty() {
        let list: Vec<Value> = spec
            .exclusions
            .iter()
            .map(|(x, from, to)| {
                let mut v = x.json();
                v["from"] = json!(from);
                v["to"] = json!(to);
                v
            })
            .collect();
        qs.push_str(&format!(
            "&exclusions={}",
            url_enc(&Value::Array(list).to_string())
        ));
    }
    qs
}

/// What the reference says the response to `qs` is.
fn expected(spec: &Spec, events: &[NewEvent], qs: &str, now: &str) -> Value {
    let req = quarry_core::decode::decode_funnel(qs).unwrap();
    let context = ctx(chrono_tz::UTC, now);
    let plan =
        quarry_core::compile::compile_funnel(&req, &context, quarry_core::Dialect::Sqlite).unwrap();
    let rows = spec.rows(events, &plan.window, plan.grid.as_ref(), context.now);
    let previous = plan
        .previous
        .as_ref()
        .map(|(w, _)| spec.rows(events, w, None, context.now));
    let times = req
        .time_to_convert
        .as_ref()
        .map(|edges| spec.time_rows(events, &plan.window, edges, context.now));
    let resp = quarry_core::shape::shape_funnel(
        &req,
        &plan,
        chrono_tz::UTC,
        &rows,
        previous.as_deref(),
        times.as_deref(),
    );
    serde_json::to_value(resp).unwrap()
}

pub async fn generated_data_agrees_with_the_brute_force_reference(b: &dyn Backend) {
    let events = generated();
    let store = b.fresh().await;
    store.insert_events(&events).await.unwrap();
    let now = "2024-04-16T01:30:00Z";
    let hour = 3_600_000;
    let step_sets: Vec<Vec<(Vec<Matcher>, Option<i64>)>> = vec![
        vec![
            (vec![m("a")], None),
            (vec![m("b")], None),
            (vec![m("c")], None),
        ],
        // Alternatives (one with a filter, one matching another step too) and a step
        // window.
        vec![
            (vec![m("a")], None),
            (
                vec![
                    Matcher {
                        name: "b",
                        plan: Some("pro"),
                    },
                    m("d"),
                    m("c"),
                ],
                Some(hour / 4),
            ),
            (vec![m("c")], None),
            (vec![m("a"), m("d")], Some(hour)),
        ],
        // The same event name twice.
        vec![
            (vec![m("a")], None),
            (vec![m("a")], Some(hour / 2)),
            (vec![m("b")], None),
        ],
    ];
    let exclusion_sets: Vec<Vec<(Matcher, usize, usize)>> = vec![
        vec![],
        vec![(m("x"), 1, 2)],
        vec![
            (m("x"), 2, 3),
            (
                Matcher {
                    name: "d",
                    plan: Some("free"),
                },
                1,
                3,
            ),
        ],
    ];
    let mut checked = 0;
    for (si, steps) in step_sets.iter().enumerate() {
        for (xi, exclusions) in exclusion_sets.iter().enumerate() {
            for strict in [false, true] {
                for entry in [false, true] {
                    let spec = Spec {
                        steps: steps.clone(),
                        window_ms: if (si + xi) % 2 == 0 {
                            2 * hour
                        } else {
                            hour / 2
                        },
                        profile: (si + xi + usize::from(strict)) % 3 == 0,
                        strict,
                        entry,
                        exclusions: exclusions.clone(),
                    };
                    let extra = match (si + xi + usize::from(entry)) % 4 {
                        0 => "&interval=hour&timeToConvert=true",
                        1 => "&previous=true",
                        2 => "&interval=day&previous=true&timeToConvertBins=[1,60,600]",
                        _ => "&timeToConvertBins=%5B30%5D",
                    };
                    let qs = query(&spec, extra);
                    let want = expected(&spec, &events, &qs, now);
                    let got = funnel(&store, &qs, chrono_tz::UTC, now).await;
                    assert_eq!(got, want, "{qs}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 36);
}
