//! A brute-force funnel (docs/funnels.md): every chain of every entrant enumerated, with
//! no window function, running max or engine in sight. The generated-data scenario of
//! `funnel_options` checks every backend against it for every combination of the options.
//!
//! It reads requests of a fixed vocabulary ([`Matcher`]: an event name and an optional
//! `properties.plan` value) so that matching needs no filter interpreter of its own.

use std::collections::BTreeMap;

use quarry_core::event::NewEvent;
use quarry_core::request::Attribution;
use quarry_core::sql::{Row, Value};
use quarry_core::time::{BucketGrid, Window};

/// Which events a step alternative or an exclusion matches.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: &'static str,
    /// `properties.plan` must equal this.
    pub plan: Option<&'static str>,
}

impl Matcher {
    fn matches(&self, e: &NewEvent) -> bool {
        e.name == self.name
            && self
                .plan
                .is_none_or(|p| e.properties.get("plan").map(String::as_str) == Some(p))
    }

    /// The request's JSON for this matcher.
    pub fn json(&self) -> serde_json::Value {
        match self.plan {
            None => serde_json::json!({ "name": self.name }),
            Some(p) => serde_json::json!({
                "name": self.name,
                "filters": [{"name": "properties.plan", "operator": "is", "value": [p]}]
            }),
        }
    }
}

/// A funnel request in the reference's vocabulary.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Per step, its alternatives, and its window from the previous step (ms).
    pub steps: Vec<(Vec<Matcher>, Option<i64>)>,
    pub window_ms: i64,
    pub profile: bool,
    pub strict: bool,
    /// `funnelOrder=any` (then `strict` is false, and there are no step windows or
    /// exclusions).
    pub any: bool,
    pub entry: bool,
    /// (matcher, from, to), steps 1-based.
    pub exclusions: Vec<(Matcher, usize, usize)>,
    /// Breakdown fields (`name`, `country`, `path`, `properties.<key>`).
    pub breakdowns: Vec<&'static str>,
}

/// Per step, the earliest completion in any chain: its time and the breakdown labels of
/// its event (the smallest labels among events of that millisecond).
type Firsts = Vec<Option<(i64, Vec<String>)>>;

/// What one entrant's events are in `window` (with the entry bound's extension).
struct Entrant<'a> {
    /// Sorted by time.
    events: Vec<&'a NewEvent>,
}

/// An event's breakdown label for `field` (`(not set)` when empty), as the SQL labels it.
fn label(e: &NewEvent, field: &str) -> String {
    let v = match field {
        "name" => e.name.clone(),
        "country" => e.country.clone(),
        "path" => e.path.clone(),
        _ => match field.strip_prefix("properties.") {
            Some(key) => e.properties.get(key).cloned().unwrap_or_default(),
            None => panic!("the reference has no breakdown field {field}"),
        },
    };
    if v.is_empty() { "(not set)".into() } else { v }
}

impl Spec {
    fn labels(&self, e: &NewEvent) -> Vec<String> {
        self.breakdowns.iter().map(|f| label(e, f)).collect()
    }

    fn step_matches(&self, q: usize, e: &NewEvent) -> bool {
        self.steps[q - 1].0.iter().any(|m| m.matches(e))
    }

    /// Whether `b` may follow `a` as step `q` (1-based, `q` >= 2) in a chain starting at
    /// `start` (ms).
    fn may_follow(&self, ent: &Entrant, start: i64, q: usize, a: &NewEvent, b: &NewEvent) -> bool {
        let (ta, tb) = (a.created_at, b.created_at);
        if tb <= ta || tb - start > self.window_ms || !self.step_matches(q, b) {
            return false;
        }
        if self.steps[q - 1].1.is_some_and(|w| tb - ta > w) {
            return false;
        }
        let between = |e: &&&NewEvent| e.created_at >= ta && e.created_at <= tb;
        if self.strict
            && ent
                .events
                .iter()
                .filter(between)
                .any(|e| !std::ptr::eq(*e, a) && !std::ptr::eq(*e, b))
        {
            return false;
        }
        for (m, from, to) in &self.exclusions {
            if *from < q && q <= *to && ent.events.iter().filter(between).any(|e| m.matches(e)) {
                return false;
            }
        }
        true
    }

    /// The deepest chain from `at` (step `q` of a chain starting at `start`), noting in
    /// `firsts` the earliest time each step is completed by any chain walked.
    fn deepest(
        &self,
        ent: &Entrant,
        start: i64,
        q: usize,
        at: &NewEvent,
        firsts: &mut [Option<(i64, Vec<String>)>],
    ) -> usize {
        let here = (at.created_at, self.labels(at));
        if firsts[q - 1].as_ref().is_none_or(|f| here < *f) {
            firsts[q - 1] = Some(here);
        }
        if q == self.steps.len() {
            return q;
        }
        let mut deepest = q;
        for b in &ent.events {
            if self.may_follow(ent, start, q + 1, at, b) {
                deepest = deepest.max(self.deepest(ent, start, q + 1, b, firsts));
            }
        }
        deepest
    }

    /// `funnelOrder=any`: the largest `L` such that some `L` distinct events match steps
    /// `1..=L` (one each, in any order) within the window of each other, the earliest at
    /// or before `end` with `funnelRange=entry`; and whether a set of that size has its
    /// window open at `now`. Every selection is enumerated.
    fn any_level(&self, ent: &Entrant, end: i64, now: i64) -> (usize, bool) {
        fn pick<'a>(
            spec: &Spec,
            ent: &Entrant<'a>,
            q: usize,
            len: usize,
            chosen: &mut Vec<&'a NewEvent>,
            found: &mut Vec<i64>,
        ) {
            if q > len {
                let lo = chosen.iter().map(|e| e.created_at).min().unwrap();
                let hi = chosen.iter().map(|e| e.created_at).max().unwrap();
                if hi - lo <= spec.window_ms {
                    found.push(lo);
                }
                return;
            }
            for e in &ent.events {
                if spec.step_matches(q, e) && !chosen.iter().any(|c| std::ptr::eq(*c, *e)) {
                    chosen.push(e);
                    pick(spec, ent, q + 1, len, chosen, found);
                    chosen.pop();
                }
            }
        }
        for len in (1..=self.steps.len()).rev() {
            let mut starts = Vec::new();
            pick(self, ent, 1, len, &mut Vec::new(), &mut starts);
            starts.retain(|lo| !self.entry || *lo <= end);
            if !starts.is_empty() {
                let open = starts.iter().any(|lo| lo + self.window_ms >= now);
                return (len, open);
            }
        }
        (0, false)
    }

    /// Per entrant with a step-1 event: its entry time, level, whether a chain of that
    /// level is still open at `now`, and the first completion time of each step.
    #[allow(clippy::type_complexity)]
    fn entrants(
        &self,
        events: &[NewEvent],
        window: &Window,
        now: i64,
    ) -> Vec<(i64, usize, bool, Firsts)> {
        let scan_end = if self.entry {
            window.end + self.window_ms
        } else {
            window.end
        };
        let mut entrants: BTreeMap<&str, Vec<&NewEvent>> = BTreeMap::new();
        for e in events {
            let key = if self.profile {
                &e.profile_id
            } else {
                &e.session_id
            };
            if e.project_id == "proj"
                && !key.is_empty()
                && e.created_at >= window.start
                && e.created_at <= scan_end
            {
                entrants.entry(key).or_default().push(e);
            }
        }
        let mut out = Vec::new();
        for (_, mut evs) in entrants {
            evs.sort_by_key(|e| e.created_at);
            let ent = Entrant { events: evs };
            let firsts: Vec<&NewEvent> = ent
                .events
                .iter()
                .copied()
                .filter(|e| self.step_matches(1, e) && e.created_at <= window.end)
                .collect();
            let Some(entry) = firsts.iter().map(|e| e.created_at).min() else {
                continue;
            };
            if self.any {
                let (level, open) = self.any_level(&ent, window.end, now);
                let open = self.entry && level < self.steps.len() && open;
                let first = firsts.iter().map(|e| (e.created_at, self.labels(e))).min();
                out.push((entry, level, open, vec![first]));
                continue;
            }
            let mut reached = vec![None; self.steps.len()];
            let depths: Vec<(i64, usize)> = firsts
                .iter()
                .map(|e| {
                    let d = self.deepest(&ent, e.created_at, 1, e, &mut reached);
                    (e.created_at, d)
                })
                .collect();
            let level = depths.iter().map(|d| d.1).max().unwrap_or(0);
            let open = self.entry
                && level < self.steps.len()
                && depths
                    .iter()
                    .any(|(s, d)| *d == level && s + self.window_ms >= now);
            out.push((entry, level, open, reached));
        }
        out
    }

    /// The rows `step, entrants, total, median, p90, h0…` of the time-to-convert
    /// statement: durations from each step's first completion to the next's, sorted,
    /// read at nearest ranks.
    pub fn time_rows(
        &self,
        events: &[NewEvent],
        window: &Window,
        edges: &[i64],
        now: i64,
    ) -> Vec<Row> {
        let entrants = self.entrants(events, window, now);
        let mut rows = Vec::new();
        for q in 2..=self.steps.len() {
            let mut d: Vec<i64> = entrants
                .iter()
                .filter_map(|(_, _, _, f)| Some(f[q - 1].as_ref()?.0 - f[q - 2].as_ref()?.0))
                .collect();
            if d.is_empty() {
                continue;
            }
            d.sort_unstable();
            let n = d.len();
            let mut row = vec![
                Value::Int(q as i64),
                Value::Int(n as i64),
                Value::Int(d.iter().sum()),
                Value::Int(d[n.div_ceil(2) - 1]),
                Value::Int(d[(9 * n).div_ceil(10) - 1]),
            ];
            for b in 0..=edges.len() {
                let lo = if b == 0 { i64::MIN } else { edges[b - 1] };
                let hi = edges.get(b).copied().unwrap_or(i64::MAX);
                row.push(Value::Int(
                    d.iter().filter(|x| **x >= lo && **x < hi).count() as i64,
                ));
            }
            rows.push(row);
        }
        rows
    }

    /// The rows `level, open, bucket, entrants` the general funnel statement returns for
    /// `window`, computed by enumeration.
    pub fn rows(
        &self,
        events: &[NewEvent],
        window: &Window,
        grid: Option<&BucketGrid>,
        now: i64,
    ) -> Vec<Row> {
        let mut tally: BTreeMap<(i64, i64, i64), i64> = BTreeMap::new();
        for (entry, level, open, _) in self.entrants(events, window, now) {
            let bucket = grid.map_or(0, |g| g.index_of(entry));
            *tally
                .entry((level as i64, i64::from(open), bucket))
                .or_default() += 1;
        }
        tally
            .into_iter()
            .map(|((l, o, b), n)| vec![Value::Int(l), Value::Int(o), Value::Int(b), Value::Int(n)])
            .collect()
    }

    /// The rows `grp, u…, level, open, total, entrants` of the breakdowns statement:
    /// each entrant's labels by `attribution`, combinations ranked by entrants then
    /// labels, those outside `offset + 1 ..= offset + limit` merged as group 0.
    pub fn group_rows(
        &self,
        events: &[NewEvent],
        window: &Window,
        now: i64,
        attribution: Attribution,
        limit: usize,
        offset: usize,
    ) -> Vec<Row> {
        let n = self.steps.len();
        let mut per: Vec<(Vec<String>, usize, bool)> = Vec::new();
        for (_, level, open, firsts) in self.entrants(events, window, now) {
            if level == 0 {
                continue;
            }
            let q = match attribution {
                Attribution::First => 1,
                Attribution::Last => level,
                Attribution::Step(s) => s.min(level).min(n),
            };
            let labels = firsts[q - 1]
                .clone()
                .expect("the attributed step was completed")
                .1;
            per.push((labels, level, open));
        }
        let mut sizes: BTreeMap<Vec<String>, usize> = BTreeMap::new();
        for (labels, _, _) in &per {
            *sizes.entry(labels.clone()).or_default() += 1;
        }
        let mut ranked: Vec<(usize, Vec<String>)> =
            sizes.into_iter().map(|(l, c)| (c, l)).collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let total = ranked.len() as i64;
        let rank: BTreeMap<Vec<String>, usize> = ranked
            .into_iter()
            .enumerate()
            .map(|(i, (_, l))| (l, i + 1))
            .collect();
        let mut tally: BTreeMap<(i64, Vec<String>, i64, i64), i64> = BTreeMap::new();
        for (labels, level, open) in per {
            let rk = rank[&labels];
            let (grp, shown) = if rk > offset && rk <= offset + limit {
                ((rk - offset) as i64, labels)
            } else {
                (0, vec![String::new(); self.breakdowns.len()])
            };
            *tally
                .entry((grp, shown, level as i64, i64::from(open)))
                .or_default() += 1;
        }
        tally
            .into_iter()
            .map(|((grp, shown, level, open), c)| {
                let mut row = vec![Value::Int(grp)];
                row.extend(shown.into_iter().map(Value::Text));
                row.extend([
                    Value::Int(level),
                    Value::Int(open),
                    Value::Int(total),
                    Value::Int(c),
                ]);
                row
            })
            .collect()
    }
}
