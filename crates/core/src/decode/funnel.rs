//! `GET /export/funnel`: steps, the window and the group (§7), and the options of
//! docs/funnels.md (order, alternatives, per-step windows, exclusions, the range's bound,
//! the previous period, conversion over time).

use serde_json::{Map, Value};

use super::Limits;
use super::chart::decode_breakdowns;
use super::config::{display_name, event_name};
use super::filter::decode_filters;
use super::params::{Params, describe, parse_query, shown};
use crate::error::RequestError;
use crate::request::{
    Attribution, EventName, Exclusion, FunnelBreakdowns, FunnelGroup, FunnelOrder, FunnelRange,
    FunnelRequest, FunnelStep, StepMatch,
};
use crate::time::Interval;

/// At most this many alternatives in one step (`anyOf`).
pub const MAX_ALTERNATIVES: usize = 10;
/// At most this many histogram edges (`timeToConvertBins`).
pub const MAX_BIN_EDGES: usize = 20;
/// The server's histogram edges in seconds, of which those shorter than the funnel
/// window are used: 1 s, 10 s, 1 min, 5 min, 15 min, 1 h, 4 h, 12 h, 1 d, 3 d, 7 d, 30 d.
const DEFAULT_EDGES: [i64; 12] = [
    1, 10, 60, 300, 900, 3_600, 14_400, 43_200, 86_400, 259_200, 604_800, 2_592_000,
];
/// At most this many exclusions.
pub const MAX_EXCLUSIONS: usize = 10;
/// At most this many event conditions in one funnel: every step's alternatives plus the
/// exclusions. Each is one flag column the statement computes for every scanned event.
pub const MAX_FUNNEL_CONDITIONS: usize = 40;

/// Decode `GET /export/funnel` within the default [`Limits`].
pub fn decode_funnel(query: &str) -> Result<FunnelRequest, RequestError> {
    decode_funnel_with(query, Limits::default())
}

/// Hours as a decimal > 0 and at most 8760, in milliseconds; `None` (reported) otherwise.
/// Text is a plain decimal (`0.5`); a JSON number is any JSON number, in exponent form too
/// (`1e-6`, which is how a JSON encoder writes 0.000001).
fn hours(p: &mut Params, path: &str, v: &Value) -> Option<i64> {
    let (text, h) = match v {
        Value::String(s) => {
            let text = s.trim().to_string();
            let decimal = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            let h = text.parse::<f64>().ok().filter(|_| decimal);
            (text, h)
        }
        Value::Number(n) => (n.to_string(), n.as_f64()),
        other => {
            p.invalid(
                path,
                format!("expected hours as a decimal > 0, got {}", describe(other)),
            );
            return None;
        }
    };
    let h = h.filter(|h| *h > 0.0 && *h <= 8760.0);
    match h {
        Some(h) => Some(((h * 3_600_000.0).round() as i64).max(1)),
        None => {
            p.invalid(
                path,
                format!("expected hours as a decimal > 0 and <= 8760, got {text:?}"),
            );
            None
        }
    }
}

/// Decode `GET /export/funnel` within `limits`.
pub fn decode_funnel_with(query: &str, limits: Limits) -> Result<FunnelRequest, RequestError> {
    let mut p = parse_query(query, limits);
    let project_id = p.project_id();
    let mut steps = Vec::new();
    let mut list_name = "events";
    if let Some((name, items)) = p.event_list(2) {
        list_name = name;
        for (i, v) in items.iter().enumerate() {
            if let Some(step) = decode_step(v, &format!("{name}[{i}]"), i == 0, &mut p) {
                steps.push(step);
            }
        }
    }
    let time = p.time_spec();
    let window_ms = match p.get(&["funnelWindow"]) {
        None => 24 * 3_600_000,
        Some((_, v)) => hours(&mut p, "funnelWindow", &v).unwrap_or(0),
    };
    let group = match p.text(&["funnelGroup"]) {
        None => FunnelGroup::Session,
        Some((_, s)) => match s.as_str() {
            "session_id" | "sessionId" | "session" => FunnelGroup::Session,
            "profile_id" | "profileId" | "profile" => FunnelGroup::Profile,
            _ => {
                p.invalid(
                    "funnelGroup",
                    format!("unknown funnel group {s:?}; expected session_id or profile_id"),
                );
                FunnelGroup::Session
            }
        },
    };
    let order = p
        .choice(
            "funnelOrder",
            &[
                (FunnelOrder::Ordered, "ordered"),
                (FunnelOrder::Strict, "strict"),
                (FunnelOrder::Any, "any"),
            ],
            "funnel order",
        )
        .unwrap_or_default();
    let range = p
        .choice(
            "funnelRange",
            &[(FunnelRange::All, "all"), (FunnelRange::Entry, "entry")],
            "funnel range",
        )
        .unwrap_or_default();
    let exclusions = decode_exclusions(&mut p, steps.len());
    let previous = p.boolean("previous").unwrap_or(false);
    let interval = p.text(&["interval"]).and_then(|(_, s)| {
        let i = Interval::parse(&s);
        if i.is_none() {
            p.invalid(
                "interval",
                format!("unknown interval {s:?}; expected one of: minute, hour, day, week, month"),
            );
        }
        i
    });
    let time_to_convert = decode_time_to_convert(&mut p, window_ms);
    let breakdowns = decode_funnel_breakdowns(&mut p, steps.len(), order);
    if order == FunnelOrder::Any {
        let ttc = time_to_convert
            .as_ref()
            .map(|_| match p.get(&["timeToConvertBins"]) {
                Some((_, v)) if v != Value::String(String::new()) => "timeToConvertBins",
                _ => "timeToConvert",
            });
        any_order_rules(&mut p, list_name, &steps, &exclusions, ttc);
    }
    let conditions = steps.iter().map(|s| s.matches.len()).sum::<usize>() + exclusions.len();
    if conditions > MAX_FUNNEL_CONDITIONS {
        p.over_budget(
            "events",
            format!(
                "a funnel may have at most {MAX_FUNNEL_CONDITIONS} event conditions in all \
                 (every step's alternatives and the exclusions), got {conditions}"
            ),
        );
    }
    let timezone = p.timezone();
    let req = FunnelRequest {
        project_id,
        steps,
        time,
        timezone,
        window_ms,
        group,
        order,
        exclusions,
        range,
        previous,
        interval,
        time_to_convert,
        breakdowns,
    };
    p.finish(req)
}

/// An event name and its filters (a step, an alternative or an exclusion).
fn decode_match(obj: &Map<String, Value>, path: &str, p: &mut Params) -> Option<StepMatch> {
    let before = p.errors.len();
    let name = event_name(obj.get("name"), &format!("{path}.name"), &mut p.errors);
    let filters = decode_filters(obj.get("filters"), &format!("{path}.filters"), p);
    (p.errors.len() == before).then_some(StepMatch {
        name: name?,
        filters,
    })
}

fn object<'a>(
    v: &'a Value,
    path: &str,
    example: &str,
    p: &mut Params,
) -> Option<&'a Map<String, Value>> {
    let obj = v.as_object();
    if obj.is_none() {
        p.invalid(path, format!("expected {example}, got {}", describe(v)));
    }
    obj
}

/// One step: an event config like a chart's without a segment, or `anyOf` alternatives,
/// with an optional `window` (hours from the previous step).
fn decode_step(v: &Value, path: &str, first: bool, p: &mut Params) -> Option<FunnelStep> {
    let obj = object(v, path, "a step object like {\"name\":\"sign_up\"}", p)?;
    let before = p.errors.len();
    let mut matches = Vec::new();
    match obj.get("anyOf") {
        None => matches.extend(decode_match(obj, path, p)),
        Some(alternatives) => {
            let any_path = format!("{path}.anyOf");
            for key in ["name", "filters"] {
                if obj.contains_key(key) {
                    p.invalid(
                        format!("{path}.{key}"),
                        "a step has either anyOf or name/filters, not both",
                    );
                }
            }
            match alternatives.as_array() {
                Some(items) if (1..=MAX_ALTERNATIVES).contains(&items.len()) => {
                    for (j, item) in items.iter().enumerate() {
                        let alt = format!("{any_path}[{j}]");
                        if let Some(o) =
                            object(item, &alt, "an event config like {\"name\":\"a\"}", p)
                        {
                            refuse_step_keys(o, &alt, "an alternative", p);
                            matches.extend(decode_match(o, &alt, p));
                        }
                    }
                }
                _ => p.invalid(
                    any_path,
                    format!(
                        "expected a JSON array of 1 to {MAX_ALTERNATIVES} event configs, got {}",
                        shown(alternatives)
                    ),
                ),
            }
        }
    }
    let window_ms = match obj.get("window") {
        None | Some(Value::Null) => None,
        Some(_) if first => {
            p.invalid(
                format!("{path}.window"),
                "the first step has no previous step for a window to follow; \
                 funnelWindow bounds the whole chain",
            );
            None
        }
        Some(w) => hours(p, &format!("{path}.window"), w),
    };
    if p.errors.len() != before || matches.is_empty() {
        return None;
    }
    let mut step = FunnelStep {
        matches,
        display_name: String::new(),
        window_ms,
    };
    let name = crate::request::EventName::Named(step.name());
    let shown = match &step.matches[..] {
        [one] => &one.name,
        _ => &name,
    };
    step.display_name = display_name(
        obj.get("displayName"),
        shown,
        &format!("{path}.displayName"),
        &mut p.errors,
    );
    (p.errors.len() == before).then_some(step)
}

/// A step's own keys (`window`, `anyOf`) where they would mean nothing (`what`: an
/// alternative, an exclusion): a 400 rather than a clause silently dropped (§4.2).
fn refuse_step_keys(obj: &Map<String, Value>, path: &str, what: &str, p: &mut Params) {
    for key in ["window", "anyOf"] {
        if obj.contains_key(key) {
            p.invalid(
                format!("{path}.{key}"),
                format!("{what} takes only name and filters; {key} belongs to a step"),
            );
        }
    }
}

/// `exclusions`: `[{"name", "filters"?, "from"?, "to"?}]`, steps 1-based, `from` < `to`,
/// by default the whole chain.
fn decode_exclusions(p: &mut Params, steps: usize) -> Vec<Exclusion> {
    let mut out = Vec::new();
    let items = match p.get(&["exclusions"]) {
        None => return out,
        Some((_, Value::String(s))) if s.is_empty() => return out,
        Some((_, Value::Array(items))) if items.len() <= MAX_EXCLUSIONS => items,
        Some((_, other)) => {
            p.invalid(
                "exclusions",
                format!(
                    "expected a JSON array of at most {MAX_EXCLUSIONS} exclusions like \
                     [{{\"name\":\"cancel\",\"from\":1,\"to\":2}}], got {}",
                    describe(&other)
                ),
            );
            return out;
        }
    };
    let last = steps.max(2);
    for (i, item) in items.iter().enumerate() {
        let path = format!("exclusions[{i}]");
        let Some(obj) = object(item, &path, "an exclusion like {\"name\":\"cancel\"}", p) else {
            continue;
        };
        let before = p.errors.len();
        refuse_step_keys(obj, &path, "an exclusion", p);
        let matcher = decode_match(obj, &path, p);
        let mut step = |key: &str, default: usize| -> usize {
            match obj.get(key) {
                None | Some(Value::Null) => default,
                Some(v) => match v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                {
                    Some(n) if n >= 1 && n as usize <= last => n as usize,
                    _ => {
                        p.invalid(
                            format!("{path}.{key}"),
                            format!("expected a step number from 1 to {last}, got {}", shown(v)),
                        );
                        default
                    }
                },
            }
        };
        let from = step("from", 1);
        let to = step("to", last);
        if from >= to {
            p.invalid(
                format!("{path}.to"),
                format!("expected a step after from ({from}), got {to}"),
            );
        }
        if let (Some(matcher), true) = (matcher, p.errors.len() == before) {
            // A repeat of an earlier exclusion excludes nothing more; each one costs the
            // statement a flag and, on PostgreSQL and SQLite, two window passes.
            let exclusion = Exclusion { matcher, from, to };
            if !out.contains(&exclusion) {
                out.push(exclusion);
            }
        }
    }
    out
}

/// `timeToConvert=true` (server bins) or `timeToConvertBins=[s, …]` (1 to 20 increasing
/// whole seconds > 0): the histogram's edges in ms.
fn decode_time_to_convert(p: &mut Params, window_ms: i64) -> Option<Vec<i64>> {
    let asked = p.boolean("timeToConvert");
    let bins = match p.get(&["timeToConvertBins"]) {
        None => None,
        Some((_, Value::String(s))) if s.is_empty() => None,
        Some((_, v)) => match bin_edges(&v) {
            Ok(edges) => Some(edges.into_iter().map(|s| s * 1_000).collect()),
            Err(why) => {
                p.invalid("timeToConvertBins", why);
                None
            }
        },
    };
    match (asked, bins) {
        (Some(false), Some(_)) => {
            p.invalid(
                "timeToConvertBins",
                "the bins ask for the time to convert, which timeToConvert=false declines",
            );
            None
        }
        (Some(false), None) => None,
        (_, Some(edges)) => Some(edges),
        (Some(true), None) => Some(
            DEFAULT_EDGES
                .iter()
                .map(|s| s * 1_000)
                .filter(|ms| *ms < window_ms)
                .collect(),
        ),
        (None, None) => None,
    }
}

/// The histogram edges of `timeToConvertBins`, in seconds, or why they are not.
fn bin_edges(v: &Value) -> Result<Vec<i64>, String> {
    let items = match v.as_array() {
        Some(items) if (1..=MAX_BIN_EDGES).contains(&items.len()) => items,
        _ => {
            return Err(format!(
                "expected a JSON array of 1 to {MAX_BIN_EDGES} increasing whole seconds \
                 from 1 to 31536000, like [60,300,3600], got {}",
                shown(v)
            ));
        }
    };
    let mut edges = Vec::with_capacity(items.len());
    for (i, x) in items.iter().enumerate() {
        let secs = x
            .as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .filter(|s| (1..=8_760 * 3_600).contains(s));
        let Some(secs) = secs else {
            return Err(format!(
                "item {i}: expected whole seconds from 1 to 31536000, got {}",
                shown(x)
            ));
        };
        if let Some(prev) = edges.last().filter(|p| **p >= secs) {
            return Err(format!(
                "item {i}: edges must increase, got {secs} after {prev}"
            ));
        }
        edges.push(secs);
    }
    Ok(edges)
}

/// `funnelOrder=any` (docs/funnels.md): every step names its events, no event name is in
/// two steps (so an event is at most one step), and the options defined by the steps'
/// order (per-step windows, exclusions, time to convert) are not given.
fn any_order_rules(
    p: &mut Params,
    list: &str,
    steps: &[FunnelStep],
    exclusions: &[Exclusion],
    time_to_convert: Option<&str>,
) {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let path = format!("{list}[{i}]");
        if step.window_ms.is_some() {
            p.invalid(
                format!("{path}.window"),
                "a step window needs an order; not allowed with funnelOrder=any",
            );
        }
        for m in &step.matches {
            match &m.name {
                EventName::Any => p.invalid(
                    path.clone(),
                    "funnelOrder=any needs named events (\"*\" would match every step)",
                ),
                EventName::Named(n) => match seen.iter().find(|(s, _)| s == n) {
                    Some((_, j)) if *j != i => p.invalid(
                        path.clone(),
                        format!(
                            "funnelOrder=any needs each event name in one step only; \
                             {n:?} is also in step {}",
                            j + 1
                        ),
                    ),
                    Some(_) => {}
                    None => seen.push((n, i)),
                },
            }
        }
    }
    if !exclusions.is_empty() {
        p.invalid(
            "exclusions",
            "exclusions lie between ordered steps; not allowed with funnelOrder=any",
        );
    }
    if let Some(param) = time_to_convert {
        p.invalid(
            param,
            "time to convert follows the steps' order; not allowed with funnelOrder=any",
        );
    }
}

/// Most breakdown combinations a funnel shows (`limit`); the rest are `Other`.
pub const MAX_FUNNEL_GROUPS: usize = 100;

/// `breakdowns` (text fields, as charts'), `breakdownAttribution` (`first`, `last` or a
/// step number), `limit` (1 to 100, default 10) and `offset`; the last three only with
/// breakdowns.
fn decode_funnel_breakdowns(
    p: &mut Params,
    steps: usize,
    order: FunnelOrder,
) -> Option<FunnelBreakdowns> {
    let fields = decode_breakdowns(p);
    for (i, b) in fields.iter().enumerate() {
        if b.field.is_numeric() {
            p.invalid(
                format!("breakdowns[{i}].name"),
                format!(
                    "funnel breakdowns take text fields; {:?} is a number",
                    b.label
                ),
            );
        }
    }
    // An invalid value is reported here alone (not also as given without breakdowns).
    let attribution = p.text(&["breakdownAttribution"]).and_then(|(_, s)| {
        let step = s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=steps.max(2)).contains(n));
        match (s.as_str(), step) {
            ("first", _) | (_, Some(1)) => Some(Attribution::First),
            ("last", _) => Some(Attribution::Last),
            (_, Some(n)) => Some(Attribution::Step(n)),
            _ => {
                p.invalid(
                    "breakdownAttribution",
                    format!(
                        "expected first, last or a step number from 1 to {}, got {s:?}",
                        steps.max(2)
                    ),
                );
                None
            }
        }
    });
    let limit = match p.integer("limit") {
        None => None,
        Some((l, _)) if (1..=MAX_FUNNEL_GROUPS as i64).contains(&l) => Some(l as usize),
        Some((_, l)) => {
            p.invalid(
                "limit",
                format!("expected 1 to {MAX_FUNNEL_GROUPS}, got {l}"),
            );
            None
        }
    };
    let offset = match p.integer("offset") {
        None => None,
        Some((o, _)) if (0..=1_000_000).contains(&o) => Some(o as usize),
        Some((_, o)) => {
            p.invalid("offset", format!("expected 0 to 1000000, got {o}"));
            None
        }
    };
    if fields.is_empty() {
        // Not silently ignored: these shape breakdowns only.
        for (given, name) in [
            (attribution.is_some(), "breakdownAttribution"),
            (limit.is_some(), "limit"),
            (offset.is_some(), "offset"),
        ] {
            if given {
                p.invalid(
                    name,
                    "applies to funnel breakdowns only; give breakdowns too",
                );
            }
        }
        return None;
    }
    let attribution = attribution.unwrap_or_default();
    if order == FunnelOrder::Any && attribution != Attribution::First {
        p.invalid(
            "breakdownAttribution",
            "steps in any order have no step events to attribute to but the entry; \
             only first is allowed with funnelOrder=any",
        );
    }
    Some(FunnelBreakdowns {
        fields,
        attribution,
        limit: limit.unwrap_or(10),
        offset: offset.unwrap_or(0),
    })
}
