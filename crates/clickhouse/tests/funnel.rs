//! ClickHouse's funnel is `windowFunnel(…, 'strict_increase')`, not the chains the other
//! engines run; these are the cases where the two could part (§7): events of the same
//! millisecond, a step-1 event restarting a chain, one event matching two steps, the
//! window's inclusive end measured from the chain's first event. Levels are worked out
//! by hand; each case also runs on SQLite, which must agree. Then random data with many
//! ties is compared with SQLite byte for byte.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use quarry_core::event::NewEvent;
use serde_json::{Value, json};

const NOW: &str = "2024-05-01T00:00:00Z";
const DAY: &str = "2024-04-15";

/// An event of session `sid` (and profile `p-<sid>`) at `HH:MM:SS.mmm` on 2024-04-15.
fn at(sid: &str, name: &str, time: &str, n: usize) -> NewEvent {
    let mut e = ev(&format!("{sid}-{n}"), name, &format!("{DAY}T{time}Z"));
    e.session_id = sid.into();
    e.profile_id = format!("p-{sid}");
    e
}

/// Sessions given as (session, [(name, time)]).
fn sessions(list: &[(&str, &[(&str, &str)])]) -> Vec<NewEvent> {
    list.iter()
        .flat_map(|(sid, steps)| {
            steps
                .iter()
                .enumerate()
                .map(|(i, (name, time))| at(sid, name, time, i))
        })
        .collect()
}

fn steps(names: &[&str]) -> Value {
    Value::Array(names.iter().map(|n| json!({ "name": n })).collect())
}

fn qs(steps: &Value, extra: &str) -> String {
    format!(
        "events={}&startDate={DAY}&endDate={DAY}{extra}",
        url_enc(&steps.to_string())
    )
}

/// `count` of every step, on both backends (which must agree byte for byte).
async fn reach(t: &Twins, steps: &Value, extra: &str) -> Vec<u64> {
    let out = t
        .same_json(Kind::Funnel, &qs(steps, extra), chrono_tz::UTC, NOW)
        .await;
    out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_later_step_one_at_the_same_millisecond_does_not_break_the_chain() {
    // s1: a@0 starts a chain; a@5 and b@5 share a millisecond; c@6. The chain
    // a@0 → b@5 → c@6 is strictly increasing: level 3. (windowFunnel as such sees a@5
    // first, restarts, and stops at level 1.)
    // s2: a@0, b@0 only: b is not strictly later, level 1.
    // s3: a@0, b@9.999 s, a@9.999 s, c@10 s: a@0 → b → c, level 3.
    let t = twins(
        sessions(&[
            (
                "s1",
                &[
                    ("a", "10:00:00.000"),
                    ("a", "10:00:00.005"),
                    ("b", "10:00:00.005"),
                    ("c", "10:00:00.006"),
                ],
            ),
            ("s2", &[("a", "10:00:00.000"), ("b", "10:00:00.000")]),
            (
                "s3",
                &[
                    ("a", "10:00:00.000"),
                    ("b", "10:00:09.999"),
                    ("a", "10:00:09.999"),
                    ("c", "10:00:10.000"),
                ],
            ),
        ]),
        vec![],
    )
    .await;
    assert_eq!(reach(&t, &steps(&["a", "b", "c"]), "").await, vec![3, 2, 2]);
}

#[tokio::test]
async fn one_event_cannot_be_two_steps_but_two_events_can() {
    // Repeated step names: [a, a] needs two a events at different milliseconds.
    // s1: a, a one ms apart → 2. s2: a, a at the same ms → 1. s3: one a → 1.
    // [a, a, a] on s4 (a@0, a@0, a@1) → 2.
    let t = twins(
        sessions(&[
            ("s1", &[("a", "10:00:00.000"), ("a", "10:00:00.001")]),
            ("s2", &[("a", "10:00:00.000"), ("a", "10:00:00.000")]),
            ("s3", &[("a", "10:00:00.000")]),
            (
                "s4",
                &[
                    ("a", "11:00:00.000"),
                    ("a", "11:00:00.000"),
                    ("a", "11:00:00.001"),
                ],
            ),
        ]),
        vec![],
    )
    .await;
    assert_eq!(reach(&t, &steps(&["a", "a"]), "").await, vec![4, 2]);
    assert_eq!(reach(&t, &steps(&["a", "a", "a"]), "").await, vec![4, 2, 0]);
    // Overlapping filters: step 2 is a with a path; one such event cannot be both steps.
    let filtered = json!([
        {"name": "a"},
        {"name": "a", "filters": [{"name": "path", "operator": "is", "value": [""]}]}
    ]);
    assert_eq!(reach(&t, &filtered, "").await, vec![4, 2]);
}

#[tokio::test]
async fn the_window_ends_inclusively_one_window_after_the_first_step() {
    // funnelWindow=1 (hour), measured from the chain's first event.
    // s1: b exactly 1 h after a → 2. s2: b 1 h + 1 ms after a → 1.
    // s3: a, b at +30 min, c at +1 h + 1 ms → 2 (c is late for the chain's start).
    // s4: a@10:00, a@10:30, b@11:15, c@11:30 → the chain from a@10:30 reaches c: 3.
    let t = twins(
        sessions(&[
            ("s1", &[("a", "10:00:00.000"), ("b", "11:00:00.000")]),
            ("s2", &[("a", "10:00:00.000"), ("b", "11:00:00.001")]),
            (
                "s3",
                &[
                    ("a", "10:00:00.000"),
                    ("b", "10:30:00.000"),
                    ("c", "11:00:00.001"),
                ],
            ),
            (
                "s4",
                &[
                    ("a", "10:00:00.000"),
                    ("a", "10:30:00.000"),
                    ("b", "11:15:00.000"),
                    ("c", "11:30:00.000"),
                ],
            ),
        ]),
        vec![],
    )
    .await;
    assert_eq!(
        reach(&t, &steps(&["a", "b", "c"]), "&funnelWindow=1").await,
        vec![4, 3, 1]
    );
    // A decimal window: 0.5 h. s1, s2: b too late; s3: b at +30 min exactly, c late;
    // s4: b 45 min after a@10:30 — too late.
    assert_eq!(
        reach(&t, &steps(&["a", "b", "c"]), "&funnelWindow=0.5").await,
        vec![4, 1, 0]
    );
}

#[tokio::test]
async fn both_groupings() {
    // Profile p1 spans two sessions: a in sA, b in sB. By session neither converts; by
    // profile p1 does. Session sC has no profile: ignored by profile_id.
    let mut rows = vec![
        at("sA", "a", "10:00:00.000", 0),
        at("sB", "b", "10:10:00.000", 0),
        at("sC", "a", "10:00:00.000", 0),
        at("sC", "b", "10:00:00.001", 1),
    ];
    rows[0].profile_id = "p1".into();
    rows[1].profile_id = "p1".into();
    rows[2].profile_id = String::new();
    rows[3].profile_id = String::new();
    let t = twins(rows, vec![]).await;
    let s = steps(&["a", "b"]);
    assert_eq!(reach(&t, &s, "&funnelGroup=session_id").await, vec![2, 1]);
    assert_eq!(reach(&t, &s, "&funnelGroup=profile_id").await, vec![1, 1]);
}

/// A small deterministic generator (no dependency needed).
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

#[tokio::test]
async fn random_funnels_with_many_ties_agree_with_sqlite() {
    let mut rng = Lcg(20240415);
    let names = ["a", "b", "c"];
    let mut rows = Vec::new();
    for s in 0..150 {
        let sid = format!("r{s}");
        for i in 0..(1 + rng.next(7)) as usize {
            let name = names[rng.next(3) as usize];
            // Seconds 0–11 of a minute, often on the same millisecond.
            let ms = rng.next(12) * 1000 + [0, 0, 1, 500][rng.next(4) as usize];
            let time = format!("10:00:{:02}.{:03}", ms / 1000, ms % 1000);
            let mut e = at(&sid, name, &time, i);
            e.profile_id = format!("p{}", s % 40);
            e.path = ["/", "/x"][rng.next(2) as usize].into();
            rows.push(e);
        }
    }
    let t = twins(rows, vec![]).await;
    for case in 0..40 {
        let n = 2 + rng.next(3) as usize;
        let list: Vec<Value> = (0..n)
            .map(|_| {
                let name = names[rng.next(3) as usize];
                if rng.next(4) == 0 {
                    json!({"name": name, "filters": [{"name": "path", "operator": "is", "value": ["/x"]}]})
                } else {
                    json!({ "name": name })
                }
            })
            .collect();
        // Windows of 3.6 s, 5.4 s, 9 s (exact in ms) and the default 24 h.
        let window = [
            "&funnelWindow=0.001",
            "&funnelWindow=0.0015",
            "&funnelWindow=0.0025",
            "",
        ][rng.next(4) as usize];
        let group = ["", "&funnelGroup=profile_id"][rng.next(2) as usize];
        let q = qs(&Value::Array(list), &format!("{window}{group}"));
        let out = t.same(Kind::Funnel, &q, chrono_tz::UTC, NOW).await;
        assert!(out.starts_with("{\"totalSessions\""), "case {case}: {out}");
    }
}
