//! `GET /export/funnel` (§7) executed on every backend: 2 to 5 steps, both funnel groups,
//! strict ordering at millisecond precision, the conversion window measured from the
//! chain's first event, later chains reaching deeper, step filters, the time window,
//! project scoping, rounding and the zero case. Expected JSON is computed by hand.
use crate::*;
use quarry_core::event::NewEvent;
use serde_json::{Value, json};

const NOW: &str = "2024-05-01T00:00:00Z";
const DAY: &str = "2024-04-15";

/// An event of a session (no profile).
fn sev(id: &str, name: &str, at: &str, session: &str) -> NewEvent {
    let mut e = ev(id, name, at);
    e.session_id = session.into();
    e
}

/// An event at `HH:MM[:SS.mmm]` on 2024-04-15 UTC.
fn at(time: &str) -> String {
    match time.len() {
        5 => format!("{DAY}T{time}:00.000Z"),
        _ => format!("{DAY}T{time}Z"),
    }
}

/// A session doing `steps` (name, time) in that order of listing.
fn session(sid: &str, steps: &[(&str, &str)]) -> Vec<NewEvent> {
    steps
        .iter()
        .enumerate()
        .map(|(i, (name, t))| sev(&format!("{sid}-{i}"), name, &at(t), sid))
        .collect()
}

async fn store_with(b: &dyn Backend, rows: Vec<NewEvent>) -> Box<dyn Db> {
    let store = b.fresh().await;
    store.insert_events(&rows).await.unwrap();
    store
}

/// Run a funnel over the UTC day 2024-04-15 with extra parameters.
async fn run(store: &dyn Db, steps: Value, extra: &str) -> Value {
    let qs = format!(
        "events={}&startDate={DAY}&endDate={DAY}{extra}",
        url_enc(&steps.to_string())
    );
    funnel(store, &qs, chrono_tz::UTC, NOW).await
}

fn names(list: &[&str]) -> Value {
    Value::Array(list.iter().map(|n| json!({ "name": n })).collect())
}

/// One expected step: (name, displayName, count, percent, dropoffCount, dropoffPercent,
/// previousCount).
fn step(name: &str, display: &str, count: u64, pct: Value, dc: u64, dp: Value, prev: u64) -> Value {
    json!({
        "event": {"name": name, "displayName": display},
        "count": count, "percent": pct, "dropoffCount": dc, "dropoffPercent": dp,
        "previousCount": prev
    })
}

pub async fn two_steps_one_third(b: &dyn Backend) {
    let mut rows = session("s1", &[("a", "10:00"), ("b", "10:05")]);
    rows.extend(session("s2", &[("a", "10:00")]));
    // s3's b happens before its a: no second step.
    rows.extend(session("s3", &[("b", "09:00"), ("a", "10:00")]));
    let store = store_with(b, rows).await;
    let out = run(&store, names(&["a", "b"]), "").await;
    // 3 entrants, 1 reaches b: 1/3 → 33.33 %, dropoff 2 → 100 − 33.33… = 66.67 %.
    let expected = r#"{"totalSessions":3,"steps":[{"event":{"name":"a","displayName":"a"},"count":3,"percent":100,"dropoffCount":0,"dropoffPercent":0,"previousCount":3},{"event":{"name":"b","displayName":"b"},"count":1,"percent":33.33,"dropoffCount":2,"dropoffPercent":66.67,"previousCount":3}]}"#;
    assert_eq!(serde_json::to_string(&out).unwrap(), expected);
}

pub async fn three_steps_with_display_names(b: &dyn Backend) {
    let mut rows = session("s1", &[("a", "10:00"), ("b", "10:01"), ("c", "10:02")]);
    rows.extend(session("s2", &[("a", "10:00"), ("b", "10:01")]));
    for s in ["s3", "s4", "s5", "s6"] {
        rows.extend(session(s, &[("a", "10:00")]));
    }
    let store = store_with(b, rows).await;
    let steps = json!([
        {"name": "a", "displayName": "Landing"},
        {"name": "b"},
        {"name": "c", "displayName": "Bought"}
    ]);
    let out = run(&store, steps, "").await;
    // reach 6, 2, 1: 2/6 = 33.33 %, 1/6 = 16.67 %; dropoff 4 of 6 = 66.67 %, 1 of 2 = 50 %.
    assert_eq!(
        out,
        json!({"totalSessions": 6, "steps": [
            step("a", "Landing", 6, json!(100), 0, json!(0), 6),
            step("b", "b", 2, json!(33.33), 4, json!(66.67), 6),
            step("c", "Bought", 1, json!(16.67), 1, json!(50), 2),
        ]})
    );
}

pub async fn five_steps(b: &dyn Backend) {
    let mut rows = session(
        "s1",
        &[
            ("a", "10:00"),
            ("b", "10:01"),
            ("c", "10:02"),
            ("d", "10:03"),
            ("e", "10:04"),
        ],
    );
    rows.extend(session(
        "s2",
        &[("a", "10:00"), ("b", "10:01"), ("c", "10:02")],
    ));
    // s3 skips d: e does not count, level 3.
    rows.extend(session(
        "s3",
        &[
            ("a", "10:00"),
            ("b", "10:01"),
            ("c", "10:02"),
            ("e", "10:03"),
        ],
    ));
    // s4: b before a → level 1.
    rows.extend(session("s4", &[("b", "10:00"), ("a", "10:05")]));
    // s5 skips c: level 2.
    rows.extend(session(
        "s5",
        &[("a", "10:00"), ("b", "10:01"), ("d", "10:02")],
    ));
    let store = store_with(b, rows).await;
    let out = run(&store, names(&["a", "b", "c", "d", "e"]), "").await;
    // Levels 5,3,3,1,2 → reach 5,4,3,1,1; dropoff% 0, 20, 25, 100−33.33…=66.67, 0.
    assert_eq!(
        out,
        json!({"totalSessions": 5, "steps": [
            step("a", "a", 5, json!(100), 0, json!(0), 5),
            step("b", "b", 4, json!(80), 1, json!(20), 5),
            step("c", "c", 3, json!(60), 1, json!(25), 4),
            step("d", "d", 1, json!(20), 2, json!(66.67), 3),
            step("e", "e", 1, json!(20), 0, json!(0), 1),
        ]})
    );
}

fn pev(id: &str, name: &str, t: &str, session: &str, profile: &str) -> NewEvent {
    let mut e = sev(id, name, &at(t), session);
    e.profile_id = profile.into();
    e
}

pub async fn funnel_group_session_or_profile_two_steps(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            // u1: a in s1, b in s2.
            pev("e1", "a", "10:00", "s1", "u1"),
            pev("e2", "b", "10:10", "s2", "u1"),
            // u2 without a session: a then b.
            pev("e3", "a", "10:00", "", "u2"),
            pev("e4", "b", "10:05", "", "u2"),
            // s3 without a profile: a then b.
            pev("e5", "a", "10:00", "s3", ""),
            pev("e6", "b", "10:01", "s3", ""),
        ],
    )
    .await;
    // By session: s1 (level 1), s3 (level 2); the empty session of u2 is ignored → 2, 1.
    let by_session = json!({"totalSessions": 2, "steps": [
        step("a", "a", 2, json!(100), 0, json!(0), 2),
        step("b", "b", 1, json!(50), 1, json!(50), 2),
    ]});
    assert_eq!(run(&store, names(&["a", "b"]), "").await, by_session);
    assert_eq!(
        run(&store, names(&["a", "b"]), "&funnelGroup=session_id").await,
        by_session
    );
    // By profile: u1 (a then b across sessions), u2 → both level 2; the empty profile
    // of s3 is ignored.
    assert_eq!(
        run(&store, names(&["a", "b"]), "&funnelGroup=profile_id").await,
        json!({"totalSessions": 2, "steps": [
            step("a", "a", 2, json!(100), 0, json!(0), 2),
            step("b", "b", 2, json!(100), 0, json!(0), 2),
        ]})
    );
}

pub async fn funnel_group_four_steps(b: &dyn Backend) {
    let store = store_with(
        b,
        vec![
            // u1 spreads a, b, c, d over three sessions.
            pev("u1a", "a", "10:00", "s1", "u1"),
            pev("u1b", "b", "10:01", "s2", "u1"),
            pev("u1c", "c", "10:02", "s3", "u1"),
            pev("u1d", "d", "10:03", "s3", "u1"),
            // u2: a, b in s4.
            pev("u2a", "a", "10:00", "s4", "u2"),
            pev("u2b", "b", "10:01", "s4", "u2"),
            // anonymous s5: a, b, c, d.
            pev("x1", "a", "10:00", "s5", ""),
            pev("x2", "b", "10:01", "s5", ""),
            pev("x3", "c", "10:02", "s5", ""),
            pev("x4", "d", "10:03", "s5", ""),
            // u3 in s6: only c, d (never enters).
            pev("u3c", "c", "10:00", "s6", "u3"),
            pev("u3d", "d", "10:01", "s6", "u3"),
        ],
    )
    .await;
    let steps = names(&["a", "b", "c", "d"]);
    // Profiles: u1 level 4, u2 level 2 → reach 2, 2, 1, 1.
    assert_eq!(
        run(&store, steps.clone(), "&funnelGroup=profile_id").await,
        json!({"totalSessions": 2, "steps": [
            step("a", "a", 2, json!(100), 0, json!(0), 2),
            step("b", "b", 2, json!(100), 0, json!(0), 2),
            step("c", "c", 1, json!(50), 1, json!(50), 2),
            step("d", "d", 1, json!(50), 0, json!(0), 1),
        ]})
    );
    // Sessions: s1 level 1, s4 level 2, s5 level 4 (s2, s3, s6 never see a) → reach
    // 3, 2, 1, 1: 2/3 = 66.67 %, 1/3 = 33.33 %; dropoff 33.33 %, 50 %, 0.
    assert_eq!(
        run(&store, steps, "&funnelGroup=session_id").await,
        json!({"totalSessions": 3, "steps": [
            step("a", "a", 3, json!(100), 0, json!(0), 3),
            step("b", "b", 2, json!(66.67), 1, json!(33.33), 3),
            step("c", "c", 1, json!(33.33), 1, json!(50), 2),
            step("d", "d", 1, json!(33.33), 0, json!(0), 1),
        ]})
    );
}

pub async fn same_millisecond_does_not_advance(b: &dyn Backend) {
    let mut rows = session("s1", &[("a", "10:00:00.000"), ("b", "10:00:00.000")]);
    rows.extend(session(
        "s2",
        &[("a", "10:00:00.000"), ("b", "10:00:00.001")],
    ));
    rows.extend(session(
        "s3",
        &[("b", "10:00:00.000"), ("a", "10:00:00.000")],
    ));
    // The same event name for both steps: one event cannot serve twice, and a second
    // one in the same millisecond is not later.
    rows.extend(session(
        "q1",
        &[("r", "10:00:00.000"), ("r", "10:00:00.000")],
    ));
    rows.extend(session(
        "q2",
        &[("r", "10:00:00.000"), ("r", "10:00:00.001")],
    ));
    rows.extend(session("q3", &[("r", "10:00:00.000")]));
    let store = store_with(b, rows).await;
    // a→b: s1 and s3 tie (level 1), s2 is 1 ms later (level 2) → 3, 1.
    assert_eq!(
        run(&store, names(&["a", "b"]), "").await,
        json!({"totalSessions": 3, "steps": [
            step("a", "a", 3, json!(100), 0, json!(0), 3),
            step("b", "b", 1, json!(33.33), 2, json!(66.67), 3),
        ]})
    );
    // r→r: q1 tie (1), q2 +1 ms (2), q3 one event (1) → 3, 1.
    assert_eq!(
        run(&store, names(&["r", "r"]), "").await,
        json!({"totalSessions": 3, "steps": [
            step("r", "r", 3, json!(100), 0, json!(0), 3),
            step("r", "r", 1, json!(33.33), 2, json!(66.67), 3),
        ]})
    );
}

/// A step-1 event in the same millisecond as a step-2 event does not cut the chain that
/// step 2 extends: s1 a 10:00:00.000, then a and b both at 10:00:00.005 (stored a first)
/// → a(0) → b(5) is level 2; the new start at 5 reaches only level 1 (b is not later).
/// s2 has only the tie (a, b at 10:00:00.005) → level 1. Reach a 2, b 1.
pub async fn a_new_start_in_the_same_millisecond_keeps_the_older_chain(b: &dyn Backend) {
    let mut rows = session(
        "s1",
        &[
            ("a", "10:00:00.000"),
            ("a", "10:00:00.005"),
            ("b", "10:00:00.005"),
        ],
    );
    rows.extend(session(
        "s2",
        &[("a", "10:00:00.005"), ("b", "10:00:00.005")],
    ));
    let store = store_with(b, rows).await;
    assert_eq!(
        run(&store, names(&["a", "b"]), "").await,
        json!({"totalSessions": 2, "steps": [
            step("a", "a", 2, json!(100), 0, json!(0), 2),
            step("b", "b", 1, json!(50), 1, json!(50), 2),
        ]})
    );
}

async fn window_store(b: &dyn Backend) -> Box<dyn Db> {
    let mut rows = session("s1", &[("a", "10:00"), ("b", "11:00:00.000")]);
    rows.extend(session("s2", &[("a", "10:00"), ("b", "11:00:00.001")]));
    rows.extend(session(
        "s3",
        &[("a", "10:00"), ("b", "10:30"), ("c", "11:00:00.001")],
    ));
    rows.extend(session(
        "s4",
        &[("a", "10:00"), ("b", "10:59"), ("c", "11:00:00.000")],
    ));
    store_with(b, rows).await
}

pub async fn funnel_window_one_hour_boundary(b: &dyn Backend) {
    let store = window_store(b).await;
    // 1 h from the FIRST event (10:00): 11:00:00.000 counts, 11:00:00.001 does not —
    // even when it is within an hour of the previous step (s3's c).
    // Levels s1 2, s2 1, s3 2, s4 3 → reach 4, 3, 1.
    assert_eq!(
        run(&store, names(&["a", "b", "c"]), "&funnelWindow=1").await,
        json!({"totalSessions": 4, "steps": [
            step("a", "a", 4, json!(100), 0, json!(0), 4),
            step("b", "b", 3, json!(75), 1, json!(25), 4),
            step("c", "c", 1, json!(25), 2, json!(66.67), 3),
        ]})
    );
}

pub async fn funnel_window_decimal_and_default(b: &dyn Backend) {
    let store = window_store(b).await;
    // 0.5 h = 30 min: only s3's b at exactly 10:30 counts → levels 1, 1, 2, 1 → 4, 1, 0.
    assert_eq!(
        run(&store, names(&["a", "b", "c"]), "&funnelWindow=0.5").await,
        json!({"totalSessions": 4, "steps": [
            step("a", "a", 4, json!(100), 0, json!(0), 4),
            step("b", "b", 1, json!(25), 3, json!(75), 4),
            step("c", "c", 0, json!(0), 1, json!(100), 1),
        ]})
    );
    // Default 24 h: everything within → levels 2, 2, 3, 3 → 4, 4, 2.
    assert_eq!(
        run(&store, names(&["a", "b", "c"]), "").await,
        json!({"totalSessions": 4, "steps": [
            step("a", "a", 4, json!(100), 0, json!(0), 4),
            step("b", "b", 4, json!(100), 0, json!(0), 4),
            step("c", "c", 2, json!(50), 2, json!(50), 4),
        ]})
    );
}

pub async fn later_chain_start_reaches_deeper(b: &dyn Backend) {
    // s1: the 10:00 chain gets a→b but c (12:20) is past 11:00; the 12:00 chain reaches c.
    let mut rows = session(
        "s1",
        &[
            ("a", "10:00"),
            ("b", "10:30"),
            ("a", "12:00"),
            ("b", "12:10"),
            ("c", "12:20"),
        ],
    );
    // s2: b at 11:20 is past the 10:00 chain's window but inside the 10:50 chain's.
    rows.extend(session(
        "s2",
        &[
            ("a", "10:00"),
            ("a", "10:50"),
            ("b", "11:20"),
            ("c", "11:30"),
        ],
    ));
    // s3: c without b → level 1.
    rows.extend(session("s3", &[("a", "10:00"), ("c", "10:10")]));
    // s4: the first c precedes b; the second follows it → level 3.
    rows.extend(session(
        "s4",
        &[
            ("a", "10:00"),
            ("c", "10:10"),
            ("b", "10:20"),
            ("c", "10:30"),
        ],
    ));
    let store = store_with(b, rows).await;
    // Levels 3, 3, 1, 3 → reach 4, 3, 3.
    assert_eq!(
        run(&store, names(&["a", "b", "c"]), "&funnelWindow=1").await,
        json!({"totalSessions": 4, "steps": [
            step("a", "a", 4, json!(100), 0, json!(0), 4),
            step("b", "b", 3, json!(75), 1, json!(25), 4),
            step("c", "c", 3, json!(75), 0, json!(0), 3),
        ]})
    );
}

pub async fn step_filters(b: &dyn Backend) {
    let mk = |id: &str, name: &str, t: &str, s: &str, country: &str, plan: &str| {
        let mut e = sev(id, name, &at(t), s);
        e.country = country.into();
        if !plan.is_empty() {
            e.properties = props(&[("plan", plan)]);
        }
        e
    };
    let store = store_with(
        b,
        vec![
            // s1: a in SE, b on the free plan → level 1.
            mk("1a", "a", "10:00", "s1", "SE", ""),
            mk("1b", "b", "10:01", "s1", "", "free"),
            // s2: a in SE, b pro → 2.
            mk("2a", "a", "10:00", "s2", "SE", ""),
            mk("2b", "b", "10:01", "s2", "", "pro"),
            // s3: a in DE fails step 1 → not an entrant.
            mk("3a", "a", "10:00", "s3", "DE", ""),
            mk("3b", "b", "10:01", "s3", "", "pro"),
            // s4: a SE, b free, b pro → 2.
            mk("4a", "a", "10:00", "s4", "SE", ""),
            mk("4b", "b", "10:01", "s4", "", "free"),
            mk("4c", "b", "10:02", "s4", "", "pro"),
            // s5: a DE, b pro, a SE (after b) → only the SE a counts, no b after it → 1.
            mk("5a", "a", "10:00", "s5", "DE", ""),
            mk("5b", "b", "10:05", "s5", "", "pro"),
            mk("5c", "a", "10:10", "s5", "SE", ""),
        ],
    )
    .await;
    let steps = json!([
        {"name": "a", "filters": [{"name": "country", "operator": "is", "value": ["SE"]}]},
        {"name": "b", "filters": [{"name": "properties.plan", "operator": "is", "value": ["pro"]}]}
    ]);
    // Entrants s1, s2, s4, s5; reaching b: s2, s4 → 4, 2.
    assert_eq!(
        run(&store, steps, "").await,
        json!({"totalSessions": 4, "steps": [
            step("a", "a", 4, json!(100), 0, json!(0), 4),
            step("b", "b", 2, json!(50), 2, json!(50), 4),
        ]})
    );
}

async fn edges_store(b: &dyn Backend) -> Box<dyn Db> {
    let mut other = sev("o1", "a", "2024-04-10T12:00:00.000Z", "s9");
    other.project_id = "other".into();
    // Another project's b in session s2 (inside the window) must not complete s2's chain.
    let mut other_b = sev("o2", "b", "2024-04-10T23:59:30.000Z", "s2");
    other_b.project_id = "other".into();
    store_with(
        b,
        vec![
            sev("1a", "a", "2024-04-09T23:59:59.999Z", "s1"),
            sev("1b", "b", "2024-04-10T00:10:00.000Z", "s1"),
            sev("2a", "a", "2024-04-10T23:59:00.000Z", "s2"),
            sev("2b", "b", "2024-04-11T00:00:00.000Z", "s2"),
            sev("3a", "a", "2024-04-10T00:00:00.000Z", "s3"),
            sev("3b", "b", "2024-04-10T23:59:59.999Z", "s3"),
            sev("5a", "a", "2024-04-10T22:30:00.000Z", "s5"),
            sev("5b", "b", "2024-04-10T22:40:00.000Z", "s5"),
            other,
            other_b,
        ],
    )
    .await
}

pub async fn events_outside_the_time_window_are_ignored(b: &dyn Backend) {
    let store = edges_store(b).await;
    let qs = |extra: &str| {
        format!(
            "events={}&startDate=2024-04-10&endDate=2024-04-10{extra}",
            url_enc(&names(&["a", "b"]).to_string())
        )
    };
    // UTC day [04-10T00:00:00.000Z, 23:59:59.999Z]: s1's a is 1 ms early (out), s2's b
    // is 1 ms late (level 1; the other project's b at 23:59:30 does not count), s3 both
    // ends inclusive (2), s5 (2); project "other"'s s9 never enters → 3, 2.
    assert_eq!(
        funnel(&store, &qs(""), chrono_tz::UTC, NOW).await,
        json!({"totalSessions": 3, "steps": [
            step("a", "a", 3, json!(100), 0, json!(0), 3),
            step("b", "b", 2, json!(66.67), 1, json!(33.33), 3),
        ]})
    );
    // Stockholm day = [04-09T22:00Z, 04-10T21:59:59.999Z]: s1 2, s2 out, s3 1 (b late),
    // s5 out → 2, 1.
    assert_eq!(
        funnel(
            &store,
            &qs("&timezone=Europe/Stockholm"),
            chrono_tz::UTC,
            NOW
        )
        .await,
        json!({"totalSessions": 2, "steps": [
            step("a", "a", 2, json!(100), 0, json!(0), 2),
            step("b", "b", 1, json!(50), 1, json!(50), 2),
        ]})
    );
    // range=today with now = 04-10T12:00Z: [00:00, 12:00] → only s3's a → 1, 0.
    let today = format!(
        "events={}&range=today",
        url_enc(&names(&["a", "b"]).to_string())
    );
    assert_eq!(
        funnel(&store, &today, chrono_tz::UTC, "2024-04-10T12:00:00Z").await,
        json!({"totalSessions": 1, "steps": [
            step("a", "a", 1, json!(100), 0, json!(0), 1),
            step("b", "b", 0, json!(0), 1, json!(100), 1),
        ]})
    );
}

pub async fn zero_entrants_are_all_zeros(b: &dyn Backend) {
    // No events at all, and then only later steps: never null, never NaN.
    let zeros = json!({"totalSessions": 0, "steps": [
        step("a", "a", 0, json!(0), 0, json!(0), 0),
        step("b", "b", 0, json!(0), 0, json!(0), 0),
        step("c", "c", 0, json!(0), 0, json!(0), 0),
    ]});
    let store = b.fresh().await;
    assert_eq!(run(&store, names(&["a", "b", "c"]), "").await, zeros);
    store
        .insert_events(&session("s1", &[("b", "10:00"), ("c", "10:01")]))
        .await
        .unwrap();
    let out = run(&store, names(&["a", "b", "c"]), "").await;
    assert_eq!(out, zeros);
    assert_eq!(
        serde_json::to_string(&out["steps"][2]).unwrap(),
        r#"{"event":{"name":"c","displayName":"c"},"count":0,"percent":0,"dropoffCount":0,"dropoffPercent":0,"previousCount":0}"#
    );
}

pub async fn rounding_of_halves(b: &dyn Backend) {
    // 32 entrants, 1 converts: 1/32 = 3.125 % → 3.13; dropoff 96.875 % → 96.88 (halves
    // away from zero).
    let mut rows = session("s00", &[("a", "10:00"), ("b", "10:01")]);
    for i in 1..32 {
        rows.extend(session(&format!("s{i:02}"), &[("a", "10:00")]));
    }
    let store = store_with(b, rows).await;
    assert_eq!(
        run(&store, names(&["a", "b"]), "").await,
        json!({"totalSessions": 32, "steps": [
            step("a", "a", 32, json!(100), 0, json!(0), 32),
            step("b", "b", 1, json!(3.13), 31, json!(96.88), 32),
        ]})
    );
}
