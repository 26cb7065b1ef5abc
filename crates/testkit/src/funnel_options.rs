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

/// An alternative or exclusion that also needs `properties.plan` to be `plan`.
fn mp(name: &'static str, plan: &'static str) -> Matcher {
    Matcher {
        name,
        plan: Some(plan),
    }
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
    if !spec.breakdowns.is_empty() {
        let list: Vec<Value> = spec
            .breakdowns
            .iter()
            .map(|b| json!({ "name": b }))
            .collect();
        qs.push_str(&format!(
            "&breakdowns={}",
            url_enc(&Value::Array(list).to_string())
        ));
    }
    if spec.strict {
        qs.push_str("&funnelOrder=strict");
    }
    if spec.any {
        qs.push_str("&funnelOrder=any");
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
    let groups = req.breakdowns.as_ref().map(|bd| {
        spec.group_rows(
            events,
            &plan.window,
            context.now,
            bd.attribution,
            bd.limit,
            bd.offset,
        )
    });
    let resp = quarry_core::shape::shape_funnel(
        &req,
        &plan,
        chrono_tz::UTC,
        &rows,
        previous.as_deref(),
        times.as_deref(),
        groups.as_deref(),
    );
    serde_json::to_value(resp).unwrap()
}

/// Ask `store` the funnel of `spec` with `extra` and compare with the reference's answer.
async fn agrees(store: &dyn Db, spec: &Spec, events: &[NewEvent], extra: &str, now: &str) {
    let qs = query(spec, extra);
    let want = expected(spec, events, &qs, now);
    let got = funnel(store, &qs, chrono_tz::UTC, now).await;
    assert_eq!(got, want, "{qs}");
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
            (vec![mp("b", "pro"), m("d"), m("c")], Some(hour / 4)),
            (vec![m("c")], None),
            (vec![m("a"), m("d")], Some(hour)),
        ],
        // The same event name twice.
        vec![
            (vec![m("a")], None),
            (vec![m("a")], Some(hour / 2)),
            (vec![m("b")], None),
        ],
        // Step windows at least the funnel window's (never failing): §7's chains.
        vec![
            (vec![m("a")], None),
            (vec![m("b")], Some(2 * hour)),
            (vec![m("c")], Some(2 * hour)),
        ],
    ];
    let exclusion_sets: Vec<Vec<(Matcher, usize, usize)>> = vec![
        vec![],
        vec![(m("x"), 1, 2)],
        vec![(m("x"), 2, 3), (mp("d", "free"), 1, 3)],
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
                        any: false,
                        entry,
                        exclusions: exclusions.clone(),
                        breakdowns: Vec::new(),
                    };
                    let extra = match (si + xi + usize::from(entry)) % 4 {
                        0 => "&interval=hour&timeToConvert=true",
                        1 => "&previous=true",
                        2 => "&interval=day&previous=true&timeToConvertBins=[1,60,600]",
                        _ => "&timeToConvertBins=%5B30%5D",
                    };
                    agrees(&store, &spec, &events, extra, now).await;
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 48);

    // funnelOrder=any: steps whose names are distinct (alternatives included), without
    // step windows, exclusions or time to convert, which it does not allow.
    let any_sets: Vec<Vec<(Vec<Matcher>, Option<i64>)>> = vec![
        vec![
            (vec![m("a")], None),
            (vec![m("b")], None),
            (vec![m("c")], None),
        ],
        vec![
            (vec![m("c")], None),
            (vec![mp("b", "pro"), m("d")], None),
            (vec![m("a")], None),
            (vec![m("x")], None),
        ],
    ];
    for (si, steps) in any_sets.iter().enumerate() {
        for entry in [false, true] {
            for profile in [false, true] {
                let spec = Spec {
                    steps: steps.clone(),
                    window_ms: if profile { 2 * hour } else { hour / 2 },
                    profile,
                    strict: false,
                    any: true,
                    entry,
                    exclusions: Vec::new(),
                    breakdowns: Vec::new(),
                };
                let extra = match (si + usize::from(entry) + usize::from(profile)) % 3 {
                    0 => "&interval=hour",
                    1 => "&previous=true",
                    _ => "&interval=day&previous=true",
                };
                agrees(&store, &spec, &events, extra, now).await;
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 56);

    // §7's chains with alternatives, entry buckets and time to convert: windowFunnel on
    // ClickHouse (the running max elsewhere without alternatives or buckets); steps whose
    // names are disjoint, and steps sharing a name (one event, two steps).
    let plain_sets: Vec<Vec<(Vec<Matcher>, Option<i64>)>> = vec![
        vec![
            (vec![m("a")], None),
            (vec![mp("b", "pro"), m("d")], None),
            (vec![m("c"), m("x")], None),
        ],
        vec![
            (vec![m("a"), m("b")], None),
            (vec![m("b"), m("c")], None),
            (vec![m("a")], None),
        ],
    ];
    for (si, steps) in plain_sets.iter().enumerate() {
        for profile in [false, true] {
            for extra in [
                "",
                "&previous=true",
                "&interval=hour&timeToConvertBins=[60]",
                "&interval=day&previous=true&timeToConvert=true",
            ] {
                let spec = Spec {
                    steps: steps.clone(),
                    window_ms: if profile { 2 * hour } else { hour / 2 },
                    profile,
                    strict: false,
                    any: false,
                    entry: false,
                    exclusions: Vec::new(),
                    breakdowns: Vec::new(),
                };
                let qs = query(&spec, extra);
                let req = quarry_core::decode::decode_funnel(&qs).unwrap();
                assert!(req.has_plain_chains(), "{si}: {qs}");
                agrees(&store, &spec, &events, extra, now).await;
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 72);

    // Breakdowns: every attribution, over ordered, strict, entry-bounded and any-order
    // funnels, with pages that leave an `Other` group (and one that shows everything).
    let attributions = ["first", "last", "2", "3"];
    let pages = ["&limit=2", "&limit=1&offset=1", "", "&limit=3&offset=2"];
    let fields: [Vec<&'static str>; 2] = [vec!["name"], vec!["properties.plan", "name"]];
    for (i, attribution) in attributions.iter().enumerate() {
        for (j, order) in ["ordered", "strict", "any"].into_iter().enumerate() {
            if order == "any" && *attribution != "first" {
                continue;
            }
            let steps = if order == "any" {
                any_sets[1].clone()
            } else {
                step_sets[(i + j) % 2].clone()
            };
            let spec = Spec {
                steps,
                window_ms: if (i + j) % 2 == 0 { 2 * hour } else { hour / 2 },
                profile: (i + j) % 3 == 0,
                strict: order == "strict",
                any: order == "any",
                entry: (i + j) % 2 == 1,
                exclusions: if j == 0 {
                    exclusion_sets[1].clone()
                } else {
                    Vec::new()
                },
                breakdowns: fields[(i + j) % 2].clone(),
            };
            let extra = format!(
                "&breakdownAttribution={attribution}{}",
                pages[(i + 3 * j) % pages.len()]
            );
            agrees(&store, &spec, &events, &extra, now).await;
            checked += 1;
        }
    }
    assert_eq!(checked, 72 + 9);
}

// ---- Hand-computed scenarios --------------------------------------------------------

/// An event of session `sid` at `at` (RFC 3339).
fn sev(sid: &str, i: usize, name: &str, at: &str) -> NewEvent {
    let mut e = ev(&format!("{sid}-{i}"), name, at);
    e.session_id = sid.into();
    e
}

/// A session doing `(name, HH:MM[:SS.mmm])` on 2024-04-15 UTC, in the order listed.
fn session(sid: &str, steps: &[(&str, &str)]) -> Vec<NewEvent> {
    steps
        .iter()
        .enumerate()
        .map(|(i, (name, t))| {
            let at = match t.len() {
                5 => format!("{DAY}T{t}:00.000Z"),
                _ => format!("{DAY}T{t}Z"),
            };
            sev(sid, i, name, &at)
        })
        .collect()
}

async fn store_with(b: &dyn Backend, sessions: Vec<Vec<NewEvent>>) -> Box<dyn Db> {
    let store = b.fresh().await;
    let rows: Vec<NewEvent> = sessions.into_iter().flatten().collect();
    store.insert_events(&rows).await.unwrap();
    store
}

/// A funnel over the UTC day 2024-04-15 with `extra` parameters, answered at `now`.
async fn run(store: &dyn Db, steps: Value, extra: &str, now: &str) -> Value {
    let qs = format!(
        "events={}&startDate={DAY}&endDate={DAY}{extra}",
        url_enc(&steps.to_string())
    );
    funnel(store, &qs, chrono_tz::UTC, now).await
}

const LATER: &str = "2024-05-01T00:00:00Z";

fn names(list: &[&str]) -> Value {
    Value::Array(list.iter().map(|n| json!({ "name": n })).collect())
}

/// Each step's `field`.
fn per_step(out: &Value, field: &str) -> Vec<Value> {
    out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[field].clone())
        .collect()
}

fn counts(out: &Value) -> Vec<Value> {
    per_step(out, "count")
}

/// Each breakdown group of a funnel answer: its values of `labels`, and its steps' counts.
fn breakdown_groups(out: &Value, labels: &[&str]) -> Vec<(Vec<String>, Vec<u64>)> {
    out["breakdowns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let values = labels
                .iter()
                .map(|l| g["breakdowns"][l].as_str().unwrap().to_string())
                .collect();
            let counts = counts(g).iter().map(|c| c.as_u64().unwrap()).collect();
            (values, counts)
        })
        .collect()
}

/// Ties at one millisecond. `ordered` needs each step strictly later than the previous;
/// `strict` also needs no other event of the entrant in the closed span between two
/// consecutive steps, so a step sharing its millisecond with another event cannot be
/// followed or follow.
///   s1: a 10:00, b 10:00 (tie), b 10:00:01 — ordered 2 (the later b); strict 1 (the tied b
///       lies in [10:00, 10:00:01])
///   s2: a, x, b — ordered 2; strict 1 (x between)
///   s3: a, b — 2 and 2
///   s4: a 10:00, a 10:00 (tie), b 10:01 — ordered 2; strict 1 (each a sees the other)
///   s5: a 10:00, b 10:00 — 1 and 1 (b is not later than a)
/// ordered: reach [5, 4]; strict: [5, 1].
pub async fn funnel_ties_in_ordered_and_strict_order(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            session(
                "s1",
                &[("a", "10:00"), ("b", "10:00"), ("b", "10:00:01.000")],
            ),
            session("s2", &[("a", "10:00"), ("x", "10:01"), ("b", "10:02")]),
            session("s3", &[("a", "10:00"), ("b", "10:01")]),
            session("s4", &[("a", "10:00"), ("a", "10:00"), ("b", "10:01")]),
            session("s5", &[("a", "10:00"), ("b", "10:00")]),
        ],
    )
    .await;
    let steps = names(&["a", "b"]);
    let ordered = run(&store, steps.clone(), "", LATER).await;
    assert_eq!(counts(&ordered), [json!(5), json!(4)]);
    let explicit = run(&store, steps.clone(), "&funnelOrder=ordered", LATER).await;
    assert_eq!(explicit, ordered);
    let strict = run(&store, steps, "&funnelOrder=strict", LATER).await;
    assert_eq!(counts(&strict), [json!(5), json!(1)]);
    assert_eq!(per_step(&strict, "percent"), [json!(100), json!(20)]);
    assert_eq!(per_step(&strict, "dropoffCount"), [json!(0), json!(4)]);
}

/// `funnelOrder=any`: one distinct event per step, in any order, ties included, all within
/// the window (1 h) of each other.
///   s1: c 10:00, b 10:10, a 10:20           — any 3; ordered 1
///   s2: a 10:00, c 10:30                    — any 1 (no b); ordered 1
///   s3: b 10:00, a 10:00 (tie), c 11:00     — any 3 (span exactly 1 h); ordered 1
///   s4: b 09:00, a 10:00, c 10:30, b 11:30  — any 2 ({b 09:00, a}; every set with c
///                                             spans 90 min); ordered 1 (b 11:30 is 90
///                                             min after a)
///   s5: b 10:00                             — no step-1 event: not an entrant
/// any: reach [4, 3, 2]; ordered: [4, 0, 0].
pub async fn funnel_any_order(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            session("s1", &[("c", "10:00"), ("b", "10:10"), ("a", "10:20")]),
            session("s2", &[("a", "10:00"), ("c", "10:30")]),
            session("s3", &[("b", "10:00"), ("a", "10:00"), ("c", "11:00")]),
            session(
                "s4",
                &[
                    ("b", "09:00"),
                    ("a", "10:00"),
                    ("c", "10:30"),
                    ("b", "11:30"),
                ],
            ),
            session("s5", &[("b", "10:00")]),
        ],
    )
    .await;
    let steps = names(&["a", "b", "c"]);
    let any = run(
        &store,
        steps.clone(),
        "&funnelWindow=1&funnelOrder=any",
        LATER,
    )
    .await;
    assert_eq!(counts(&any), [json!(4), json!(3), json!(2)]);
    assert_eq!(
        per_step(&any, "percent"),
        [json!(100), json!(75), json!(50)]
    );
    let ordered = run(&store, steps, "&funnelWindow=1", LATER).await;
    assert_eq!(counts(&ordered), [json!(4), json!(0), json!(0)]);
}

/// Breakdowns by `path`, whose value changes along the chain, under each attribution.
///   s1: a /x 10:00, b /y 10:01, c /z 10:02   level 3: first /x, last /z, step 2 /y
///   s2: a /x 10:00, b /z 10:01               level 2: first /x, last /z, step 2 /z
///   s3: a /y 10:00                           level 1: /y under every rule (step 2 falls
///                                            back to the deepest step reached)
///   s4: a /y 10:00, a /x 10:00 (tie)         level 1: /x (ties by code point)
///   s5: a /w 09:00, b /v 09:01               level 2: first /w, last /v, step 2 /v
/// first, limit 2: /x 3 entrants, then /w and /y with 1 each (ranked by code point): /x
/// and /w shown, /y in Other. last: /z 2, /v, /x, /y 1 each, all shown. step 2, limit 1
/// offset 1: /y 2 (s1, s3), /v, /x, /z: only /v shown, the other three are Other.
pub async fn funnel_breakdown_attribution(b: &dyn Backend) {
    let pev = |sid: &str, i: usize, name: &str, t: &str, path: &str| {
        let mut e = sev(sid, i, name, &format!("{DAY}T{t}:00.000Z"));
        e.path = path.into();
        e
    };
    let store = store_with(
        b,
        vec![
            vec![
                pev("s1", 0, "a", "10:00", "/x"),
                pev("s1", 1, "b", "10:01", "/y"),
                pev("s1", 2, "c", "10:02", "/z"),
            ],
            vec![
                pev("s2", 0, "a", "10:00", "/x"),
                pev("s2", 1, "b", "10:01", "/z"),
            ],
            vec![pev("s3", 0, "a", "10:00", "/y")],
            vec![
                pev("s4", 0, "a", "10:00", "/y"),
                pev("s4", 1, "a", "10:00", "/x"),
            ],
            vec![
                pev("s5", 0, "a", "09:00", "/w"),
                pev("s5", 1, "b", "09:01", "/v"),
            ],
        ],
    )
    .await;
    let by_path = format!("&breakdowns={}", url_enc(r#"[{"name":"path"}]"#));
    let steps = names(&["a", "b", "c"]);
    let group = |path: &str, reach: [u64; 3]| (vec![path.to_string()], reach.to_vec());
    let groups = |out: &Value| breakdown_groups(out, &["path"]);

    let first = run(&store, steps.clone(), &format!("{by_path}&limit=2"), LATER).await;
    assert_eq!(counts(&first), [json!(5), json!(3), json!(1)]);
    assert_eq!(
        groups(&first),
        [
            group("/x", [3, 2, 1]),
            group("/w", [1, 1, 0]),
            group("Other", [1, 0, 0])
        ]
    );
    assert_eq!(first["totalCombinations"], json!(3));
    assert_eq!(
        first["breakdowns"][2],
        json!({"breakdowns": {"path": "Other"}, "other": true, "combinations": 1,
               "totalSessions": 1, "steps": [
            {"event": {"name": "a", "displayName": "a"}, "count": 1, "percent": 100,
             "dropoffCount": 0, "dropoffPercent": 0, "previousCount": 1},
            {"event": {"name": "b", "displayName": "b"}, "count": 0, "percent": 0,
             "dropoffCount": 1, "dropoffPercent": 100, "previousCount": 1},
            {"event": {"name": "c", "displayName": "c"}, "count": 0, "percent": 0,
             "dropoffCount": 0, "dropoffPercent": 0, "previousCount": 0}
        ]})
    );
    assert_eq!(first["breakdowns"][0].get("other"), None);

    let last = run(
        &store,
        steps.clone(),
        &format!("{by_path}&breakdownAttribution=last"),
        LATER,
    )
    .await;
    assert_eq!(
        groups(&last),
        [
            group("/z", [2, 2, 1]),
            group("/v", [1, 1, 0]),
            group("/x", [1, 0, 0]),
            group("/y", [1, 0, 0])
        ]
    );
    assert_eq!(last["totalCombinations"], json!(4));

    let second = run(
        &store,
        steps.clone(),
        &format!("{by_path}&breakdownAttribution=2"),
        LATER,
    )
    .await;
    assert_eq!(
        groups(&second),
        [
            group("/y", [2, 1, 1]),
            group("/v", [1, 1, 0]),
            group("/x", [1, 0, 0]),
            group("/z", [1, 1, 0])
        ]
    );
    let second = run(
        &store,
        steps,
        &format!("{by_path}&breakdownAttribution=2&limit=1&offset=1"),
        LATER,
    )
    .await;
    assert_eq!(
        groups(&second),
        [group("/v", [1, 1, 0]), group("Other", [4, 2, 1])]
    );
    assert_eq!(second["breakdowns"][1]["combinations"], json!(3));
}

/// Attribution for entrants without a step-2 event (their chains end at step 1, so every
/// rule gives their earliest step-1 event), with two breakdowns, steps a → b:
///   s1: a (/y, SE) 10:00, a (/x, DE) 10:05   → (/y, SE): the earliest, not the least
///   s2: a (/a, z) and a (/a!, A), both 10:00 → (/a, z): the least pair at the tie,
///       compared value by value ("/a" before "/a!"), not as one joined text
///   s3: a (/q, SE) 10:00, b (/r, DE) 10:01   → (/q, SE) under `first`, (/r, DE) under
///       `last`
pub async fn funnel_breakdown_attribution_without_step_2(b: &dyn Backend) {
    let at = |sid: &str, i: usize, name: &str, t: &str, path: &str, country: &str| {
        let mut e = sev(sid, i, name, &format!("{DAY}T{t}:00.000Z"));
        e.path = path.into();
        e.country = country.into();
        e
    };
    let store = store_with(
        b,
        vec![
            vec![
                at("s1", 0, "a", "10:00", "/y", "SE"),
                at("s1", 1, "a", "10:05", "/x", "DE"),
            ],
            vec![
                at("s2", 0, "a", "10:00", "/a!", "A"),
                at("s2", 1, "a", "10:00", "/a", "z"),
            ],
            vec![
                at("s3", 0, "a", "10:00", "/q", "SE"),
                at("s3", 1, "b", "10:01", "/r", "DE"),
            ],
        ],
    )
    .await;
    let by = url_enc(r#"[{"name":"path"},{"name":"country"}]"#);
    let groups = |out: &Value| breakdown_groups(out, &["path", "country"]);
    let group = |path: &str, country: &str, counts: [u64; 2]| {
        (vec![path.to_string(), country.to_string()], counts.to_vec())
    };
    for rule in ["first", "last", "2"] {
        let out = run(
            &store,
            names(&["a", "b"]),
            &format!("&breakdowns={by}&breakdownAttribution={rule}"),
            LATER,
        )
        .await;
        let s3 = if rule == "first" {
            group("/q", "SE", [1, 1])
        } else {
            group("/r", "DE", [1, 1])
        };
        let mut expected = vec![group("/a", "z", [1, 0]), group("/y", "SE", [1, 0]), s3];
        expected.sort();
        assert_eq!(groups(&out), expected, "breakdownAttribution={rule}");
    }
}

/// Conversion over time on Stockholm's 23-hour day 2024-03-31 (02:00+01:00 jumps to
/// 03:00+02:00). Entry buckets are local:
///   s1: a 00:30+01 (= 03-30T23:30Z), b 00:40+01            → bucket 00:00, converted
///   s2: a 01:59+01 (= 00:59Z), b 03:01+02 (= 01:01Z, 2 min) → bucket 01:00, converted
///   s3: a 03:15+02 (= 01:15Z), no b                         → bucket 03:00
///   s4: a 23:30+02 (= 21:30Z), b 23:45+02                   → bucket 23:00, converted
/// Hourly: 23 points, the third being 03:00+02:00; daily: one point, 4 entrants, 3
/// converted, 75 %.
pub async fn funnel_conversion_over_time_on_a_dst_day(b: &dyn Backend) {
    let at = |sid: &str, i: usize, name: &str, t: &str| sev(sid, i, name, t);
    let store = store_with(
        b,
        vec![
            vec![
                at("s1", 0, "a", "2024-03-30T23:30:00Z"),
                at("s1", 1, "b", "2024-03-30T23:40:00Z"),
            ],
            vec![
                at("s2", 0, "a", "2024-03-31T00:59:00Z"),
                at("s2", 1, "b", "2024-03-31T01:01:00Z"),
            ],
            vec![at("s3", 0, "a", "2024-03-31T01:15:00Z")],
            vec![
                at("s4", 0, "a", "2024-03-31T21:30:00Z"),
                at("s4", 1, "b", "2024-03-31T21:45:00Z"),
            ],
        ],
    )
    .await;
    let qs = |interval: &str| {
        format!(
            "events={}&startDate=2024-03-31&endDate=2024-03-31&timezone=Europe/Stockholm&interval={interval}",
            url_enc(&names(&["a", "b"]).to_string())
        )
    };
    let hourly = funnel(&store, &qs("hour"), chrono_tz::UTC, LATER).await;
    let points = hourly["overTime"].as_array().unwrap();
    assert_eq!(points.len(), 23);
    let point = |date: &str, entrants: u64, converted: u64, rate: Value| json!({"date": date, "entrants": entrants, "converted": converted, "rate": rate});
    assert_eq!(
        points[0],
        point("2024-03-31T00:00:00+01:00", 1, 1, json!(100))
    );
    assert_eq!(
        points[1],
        point("2024-03-31T01:00:00+01:00", 1, 1, json!(100))
    );
    assert_eq!(
        points[2],
        point("2024-03-31T03:00:00+02:00", 1, 0, json!(0))
    );
    assert_eq!(
        points[3],
        point("2024-03-31T04:00:00+02:00", 0, 0, json!(0))
    );
    assert_eq!(
        points[22],
        point("2024-03-31T23:00:00+02:00", 1, 1, json!(100))
    );
    let entrants: u64 = points.iter().map(|p| p["entrants"].as_u64().unwrap()).sum();
    assert_eq!(entrants, 4);
    assert_eq!(counts(&hourly), [json!(4), json!(3)]);
    let daily = funnel(&store, &qs("day"), chrono_tz::UTC, LATER).await;
    assert_eq!(
        daily["overTime"],
        json!([point("2024-03-31T00:00:00+01:00", 4, 3, json!(75))])
    );
}

/// An entrant with several chains: the level is the longest chain; time to convert takes
/// each step's earliest completion over all chains. Window 1 h.
///   s1: a 10:00, b 10:10, a 11:00, b 11:05, c 11:20 — a(10:00)…c is 80 min, too long;
///       a(11:00) b(11:05) c(11:20) fits: level 3. F(1) 10:00, F(2) 10:10, F(3) 11:20.
///   s2: a 10:00, b 10:30 — level 2, F(2) − F(1) = 30 min.
/// Step 2: [600, 1800] s — average 1200, median (1st of 2) 600, p90 (2nd) 1800.
/// Step 3: [4200] s (11:20 − 10:10).
pub async fn funnel_entrant_with_several_chains(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            session(
                "s1",
                &[
                    ("a", "10:00"),
                    ("b", "10:10"),
                    ("a", "11:00"),
                    ("b", "11:05"),
                    ("c", "11:20"),
                ],
            ),
            session("s2", &[("a", "10:00"), ("b", "10:30")]),
        ],
    )
    .await;
    let out = run(
        &store,
        names(&["a", "b", "c"]),
        "&funnelWindow=1&timeToConvertBins=[900]",
        LATER,
    )
    .await;
    assert_eq!(counts(&out), [json!(2), json!(2), json!(1)]);
    let ttc = per_step(&out, "timeToConvert");
    assert_eq!(ttc[0], Value::Null);
    assert_eq!(
        ttc[1],
        json!({"average": 1200, "median": 600, "p90": 1800, "histogram": [
            {"from": 0, "to": 900, "count": 1},
            {"from": 900, "to": null, "count": 1}
        ]})
    );
    assert_eq!(
        ttc[2],
        json!({"average": 4200, "median": 4200, "p90": 4200, "histogram": [
            {"from": 0, "to": 900, "count": 0},
            {"from": 900, "to": null, "count": 1}
        ]})
    );
}

/// Percentiles by nearest rank over an odd count, and over a step nobody reached.
///   s1..s3: a then b after 60 s, 120 s and 601.5 s; s4: a only.
/// Step 2 over [60, 120, 601.5]: average 260.5, median (2nd of 3) 120, p90 (3rd) 601.5.
/// Step 3: nobody — every statistic null, the histogram all zero. Server bins under a
/// 1-hour window: 1 s, 10 s, 1 min, 5 min, 15 min.
pub async fn funnel_time_to_convert_odd_count_and_empty_step(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            session("s1", &[("a", "10:00"), ("b", "10:01")]),
            session("s2", &[("a", "10:00"), ("b", "10:02")]),
            session("s3", &[("a", "10:00"), ("b", "10:10:01.500")]),
            session("s4", &[("a", "10:00")]),
        ],
    )
    .await;
    let out = run(
        &store,
        names(&["a", "b", "c"]),
        "&funnelWindow=1&timeToConvert=true",
        LATER,
    )
    .await;
    let ttc = per_step(&out, "timeToConvert");
    let bins = |counts: [u64; 6]| {
        let edges = [0, 1, 10, 60, 300, 900];
        let mut out = Vec::new();
        for i in 0..6 {
            let to = edges.get(i + 1).map_or(Value::Null, |e| json!(e));
            out.push(json!({"from": edges[i], "to": to, "count": counts[i]}));
        }
        Value::Array(out)
    };
    assert_eq!(
        ttc[1],
        json!({"average": 260.5, "median": 120, "p90": 601.5, "histogram": bins([0, 0, 0, 2, 1, 0])})
    );
    assert_eq!(
        ttc[2],
        json!({"average": null, "median": null, "p90": null, "histogram": bins([0; 6])})
    );
}

/// Exclusions include their edges: an excluded event at the same millisecond as either
/// step of the span disqualifies the chain; one just outside does not; a later clean chain
/// still counts; a chain that stops at `from` is not affected.
///   s1: a 10:00, x 10:00, b 10:05             [a,b] x 1→2: 1   [a,b,c] x 2→3: 2
///   s2: a 10:00, x 10:05, b 10:05                             1                 2
///   s3: x 09:59, a 10:00, b 10:05, x 10:06                    2                 2
///   s4: a 10:00, x 10:02, a 10:03, b 10:05                    2 (from the 2nd a) 2
///   s5: a 10:00, b 10:01, x 10:02, c 10:03                    2                 2 (x between b and c)
///   s6: a 10:00, b 10:01, c 10:03, x 10:03                    2                 2 (x at c's millisecond)
///   s7: a 10:00, b 10:01, c 10:03                             2                 3
pub async fn funnel_exclusions_at_the_chain_edges(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            session("s1", &[("a", "10:00"), ("x", "10:00"), ("b", "10:05")]),
            session("s2", &[("a", "10:00"), ("x", "10:05"), ("b", "10:05")]),
            session(
                "s3",
                &[
                    ("x", "09:59"),
                    ("a", "10:00"),
                    ("b", "10:05"),
                    ("x", "10:06"),
                ],
            ),
            session(
                "s4",
                &[
                    ("a", "10:00"),
                    ("x", "10:02"),
                    ("a", "10:03"),
                    ("b", "10:05"),
                ],
            ),
            session(
                "s5",
                &[
                    ("a", "10:00"),
                    ("b", "10:01"),
                    ("x", "10:02"),
                    ("c", "10:03"),
                ],
            ),
            session(
                "s6",
                &[
                    ("a", "10:00"),
                    ("b", "10:01"),
                    ("c", "10:03"),
                    ("x", "10:03"),
                ],
            ),
            session("s7", &[("a", "10:00"), ("b", "10:01"), ("c", "10:03")]),
        ],
    )
    .await;
    let two = run(
        &store,
        names(&["a", "b"]),
        &format!(
            "&exclusions={}",
            url_enc(r#"[{"name":"x","from":1,"to":2}]"#)
        ),
        LATER,
    )
    .await;
    assert_eq!(counts(&two), [json!(7), json!(5)]);
    let three = run(
        &store,
        names(&["a", "b", "c"]),
        &format!(
            "&exclusions={}",
            url_enc(r#"[{"name":"x","from":2,"to":3}]"#)
        ),
        LATER,
    )
    .await;
    assert_eq!(counts(&three), [json!(7), json!(7), json!(1)]);
    // The default span is the whole funnel: s1–s6 all see an x inside [a, last step].
    let whole = run(
        &store,
        names(&["a", "b", "c"]),
        &format!("&exclusions={}", url_enc(r#"[{"name":"x"}]"#)),
        LATER,
    )
    .await;
    // s1 1, s2 1, s3 2, s4 2, s5 2, s6 2, s7 3.
    assert_eq!(counts(&whole), [json!(7), json!(5), json!(1)]);
}

/// Eight steps and two exclusions (ten step and exclusion codes: more than a byte's bits
/// on ClickHouse), each exclusion spanning every transition:
///   s1: a … h, one a minute from 10:00          level 8
///   s2: a … d, x at 10:03:30, then e … h         level 4 (x between d and e)
///   s3: a, y at 10:00:30, b … h                  level 1 (y between a and b)
///   s4: x at 09:59, then a … h                   level 8 (x before the chain)
pub async fn funnel_many_steps_with_exclusions(b: &dyn Backend) {
    let steps = ["a", "b", "c", "d", "e", "f", "g", "h"];
    // Step i at 10:0i, or a minute later from step `late` on.
    let chain = |sid: &str, extra: (&str, &str), late: usize| {
        let mut at: Vec<(String, String)> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    s.to_string(),
                    format!("10:{:02}", i + usize::from(i >= late)),
                )
            })
            .collect();
        if !extra.0.is_empty() {
            at.push((extra.0.to_string(), extra.1.to_string()));
        }
        let refs: Vec<(&str, &str)> = at.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        session(sid, &refs)
    };
    let store = store_with(
        b,
        vec![
            chain("s1", ("", ""), 8),
            chain("s2", ("x", "10:03:30.000"), 4),
            chain("s3", ("y", "10:00:30.000"), 8),
            chain("s4", ("x", "09:59"), 8),
        ],
    )
    .await;
    let excluded = url_enc(r#"[{"name":"x","from":1,"to":8},{"name":"y","from":1,"to":8}]"#);
    let out = run(
        &store,
        names(&steps),
        &format!("&exclusions={excluded}"),
        LATER,
    )
    .await;
    let expected: Vec<Value> = [4, 3, 3, 3, 2, 2, 2, 2].iter().map(|n| json!(n)).collect();
    assert_eq!(counts(&out), expected);
}

/// Alternatives that match several steps: one event never serves twice in a chain.
/// Steps a, (b or a), c.
///   s1: a 10:00, a 10:01, c 10:02 — the second a is step 2: level 3
///   s2: a 10:00, c 10:01         — the a cannot also be step 2: level 1
///   s3: b 10:00, a 10:01         — b cannot be step 1: level 1
///   s4: a 10:00, b 10:01         — level 2
pub async fn funnel_alternatives_matching_several_steps(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            session("s1", &[("a", "10:00"), ("a", "10:01"), ("c", "10:02")]),
            session("s2", &[("a", "10:00"), ("c", "10:01")]),
            session("s3", &[("b", "10:00"), ("a", "10:01")]),
            session("s4", &[("a", "10:00"), ("b", "10:01")]),
        ],
    )
    .await;
    let steps = json!([
        {"name": "a"},
        {"anyOf": [{"name": "b"}, {"name": "a"}]},
        {"name": "c", "displayName": "Done"}
    ]);
    let out = run(&store, steps, "", LATER).await;
    assert_eq!(counts(&out), [json!(4), json!(2), json!(1)]);
    assert_eq!(
        out["steps"][1]["event"],
        json!({"name": "b or a", "displayName": "b or a"})
    );
    assert_eq!(
        per_step(&out, "dropoffCount"),
        [json!(0), json!(2), json!(1)]
    );
}

/// Entry-bounded windows and entrants still inside the window at "now". Window 2 h, the
/// day 2024-04-15, now 2024-04-16T00:30Z.
///   s1: a 23:00, b 00:10 next day — level 2 with funnelRange=entry, 1 with all
///   s2: a 23:30, nothing — its window runs to 01:30 ≥ now: pending
///   s3: a 10:00, nothing — window elapsed: not pending
///   s4: b 23:50 only — not an entrant
///   s5: a 00:20 next day, b 00:25 — enters after the range: not an entrant
/// entry: reach [3, 1], step 2 dropoff 2 of which pending 1; all: reach [3, 0].
pub async fn funnel_entry_range_and_pending_entrants(b: &dyn Backend) {
    let at = |sid: &str, i: usize, name: &str, t: &str| sev(sid, i, name, t);
    let store = store_with(
        b,
        vec![
            vec![
                at("s1", 0, "a", "2024-04-15T23:00:00Z"),
                at("s1", 1, "b", "2024-04-16T00:10:00Z"),
            ],
            vec![at("s2", 0, "a", "2024-04-15T23:30:00Z")],
            vec![at("s3", 0, "a", "2024-04-15T10:00:00Z")],
            vec![at("s4", 0, "b", "2024-04-15T23:50:00Z")],
            vec![
                at("s5", 0, "a", "2024-04-16T00:20:00Z"),
                at("s5", 1, "b", "2024-04-16T00:25:00Z"),
            ],
        ],
    )
    .await;
    let now = "2024-04-16T00:30:00Z";
    let entry = run(
        &store,
        names(&["a", "b"]),
        "&funnelWindow=2&funnelRange=entry",
        now,
    )
    .await;
    assert_eq!(
        entry,
        json!({"totalSessions": 3, "steps": [
            {"event": {"name": "a", "displayName": "a"}, "count": 3, "percent": 100,
             "dropoffCount": 0, "dropoffPercent": 0, "previousCount": 3, "pendingCount": 0},
            {"event": {"name": "b", "displayName": "b"}, "count": 1, "percent": 33.33,
             "dropoffCount": 2, "dropoffPercent": 66.67, "previousCount": 3, "pendingCount": 1}
        ]})
    );
    let all = run(&store, names(&["a", "b"]), "&funnelWindow=2", now).await;
    assert_eq!(counts(&all), [json!(3), json!(0)]);
    assert_eq!(all["steps"][1].get("pendingCount"), None);
}

/// The previous period of 2024-04-15 (§6.4) is 2024-04-14, same length, ending 1 ms before.
///   04-14: four entrants, one converts (25 %); 04-15: two entrants, one converts (50 %).
/// Step 1: count 2 vs 4 → −50 %, negative; percent 100 vs 100 → 0, neutral.
/// Step 2: count 1 vs 1 → 0, neutral; percent 50 vs 25 → +100 %, positive.
pub async fn funnel_previous_period_values(b: &dyn Backend) {
    let at = |sid: &str, i: usize, name: &str, t: &str| sev(sid, i, name, t);
    let mut sessions = vec![
        vec![
            at("p1", 0, "a", "2024-04-14T10:00:00Z"),
            at("p1", 1, "b", "2024-04-14T10:05:00Z"),
        ],
        vec![
            at("c1", 0, "a", "2024-04-15T10:00:00Z"),
            at("c1", 1, "b", "2024-04-15T10:05:00Z"),
        ],
        vec![at("c2", 0, "a", "2024-04-15T00:00:00Z")],
    ];
    for s in ["p2", "p3", "p4"] {
        sessions.push(vec![at(s, 0, "a", "2024-04-14T23:59:59.999Z")]);
    }
    let store = store_with(b, sessions).await;
    let out = run(&store, names(&["a", "b"]), "&previous=true", LATER).await;
    let cmp = |value: Value, diff: Value, state: &str| json!({"value": value, "diff": diff, "state": state});
    assert_eq!(counts(&out), [json!(2), json!(1)]);
    assert_eq!(
        per_step(&out, "previous"),
        [
            json!({"count": cmp(json!(4), json!(-50), "negative"),
                   "percent": cmp(json!(100), json!(0), "neutral")}),
            json!({"count": cmp(json!(1), json!(0), "neutral"),
                   "percent": cmp(json!(25), json!(100), "positive")}),
        ]
    );
}
