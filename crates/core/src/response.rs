//! The JSON of §5–§7, field for field and in the contract's key order.

use serde::Serialize;
use serde_json::Value;

use crate::format::Num;

/// `GET /export/events` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventsResponse {
    /// Paging information.
    pub meta: EventsMeta,
    /// The events, each an object with the requested fields in order.
    pub data: Vec<Value>,
}

/// Paging information of an events page: §5's pages, or a keyset page's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EventsMeta {
    /// `{"count", "totalCount", "pages", "current"}`.
    Pages(PageMeta),
    /// `{"count", "next"}`, plus `totalCount` when asked for.
    Cursor(CursorMeta),
}

/// A keyset page's paging information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorMeta {
    /// Items in `data`.
    pub count: u64,
    /// The token of the next page; `null` after the last.
    pub next: Option<String>,
    /// All rows matching the same filters (with `count=true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

/// §5's paging information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    /// Items in `data`.
    pub count: u64,
    /// All rows matching the same filters.
    pub total_count: u64,
    /// `ceil(totalCount / page size)`.
    pub pages: u64,
    /// The page.
    pub current: u64,
}

/// `{"name", "displayName"}` of a series or funnel step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRef {
    /// The event name as requested (`*` for all events).
    pub name: String,
    /// The display name.
    pub display_name: String,
}

/// A comparison with the previous period (§6.4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The previous value.
    pub value: Num,
    /// Percent change, 1 decimal; `null` when the previous value is 0.
    pub diff: Option<Num>,
    /// `positive`, `negative` or `neutral`.
    pub state: &'static str,
}

/// Previous-period comparisons of the four metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviousMetrics {
    pub sum: Comparison,
    pub average: Comparison,
    pub min: Comparison,
    pub max: Comparison,
}

/// `metrics` of a series or of the whole response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub sum: Num,
    pub average: Num,
    pub min: Num,
    pub max: Num,
    /// Present with `previous=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousMetrics>,
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Bucket start, RFC 3339 with the timezone's offset.
    pub date: String,
    /// The bucket's value.
    pub count: Num,
    /// The previous period's point at the same index, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Comparison>,
}

/// One series (§6.3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub id: String,
    pub names: Vec<String>,
    pub event: EventRef,
    /// Breakdown values keyed by the field as the request wrote it.
    pub breakdowns: serde_json::Map<String, Value>,
    pub metrics: Metrics,
    pub data: Vec<Point>,
}

/// `meta` of a chart response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMeta {
    /// Window start, RFC 3339 with milliseconds.
    pub start_date: String,
    /// Window end (inclusive), RFC 3339 with milliseconds.
    pub end_date: String,
    pub interval: &'static str,
    pub timezone: String,
    /// Series before `offset`/`limit`.
    pub total_series: u64,
}

/// `GET /export/charts` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartResponse {
    pub series: Vec<Series>,
    pub metrics: Metrics,
    pub meta: ChartMeta,
}

/// One funnel step of the response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunnelStepResult {
    pub event: EventRef,
    pub count: u64,
    pub percent: Num,
    pub dropoff_count: u64,
    pub dropoff_percent: Num,
    pub previous_count: u64,
    /// With `funnelRange=entry`: of `dropoffCount`, the entrants whose deepest chain's
    /// window is still open at "now" (they may yet reach this step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_count: Option<u64>,
    /// With `previous=true`: the step in the previous period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<StepPrevious>,
    /// With `timeToConvert`, on every step after the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_convert: Option<TimeToConvert>,
}

/// How long entrants took to reach a step from the previous one, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeToConvert {
    /// Mean, 2 decimals; `null` when no entrant reached the step.
    pub average: Option<Num>,
    /// Nearest-rank median (the `ceil(n/2)`-th smallest), 2 decimals; `null` likewise.
    pub median: Option<Num>,
    /// Nearest-rank 90th percentile (the `ceil(9n/10)`-th smallest); `null` likewise.
    pub p90: Option<Num>,
    /// Entrants per bin, every bin present.
    pub histogram: Vec<Bin>,
}

/// One histogram bin: `[from, to)` seconds (`to` is `null` for the last bin).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    pub from: Num,
    pub to: Option<Num>,
    pub count: u64,
}

/// A funnel step's count and percent in the previous period (§6.4's comparisons).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepPrevious {
    pub count: Comparison,
    pub percent: Comparison,
}

/// One entry bucket of a funnel's conversion over time (`interval`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelPoint {
    /// Bucket start, RFC 3339 with the timezone's offset.
    pub date: String,
    /// Entrants whose first step-1 event is in the bucket.
    pub entrants: u64,
    /// Of those, the entrants who reached the last step.
    pub converted: u64,
    /// converted / entrants × 100, 2 decimals, 0 without entrants.
    pub rate: Num,
}

/// `GET /export/funnel` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunnelResponse {
    pub total_sessions: u64,
    pub steps: Vec<FunnelStepResult>,
    /// With `interval`: conversion by entry bucket, every bucket of the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_time: Option<Vec<FunnelPoint>>,
    /// With `breakdowns`: the shown combinations, then `Other` when some are not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdowns: Option<Vec<FunnelBreakdownGroup>>,
    /// With `breakdowns`: how many combinations the entrants have in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_combinations: Option<u64>,
}

/// One breakdown combination of a funnel (or `Other`, every combination not shown).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunnelBreakdownGroup {
    /// Each breakdown's value (`Other` for the rest).
    pub breakdowns: serde_json::Map<String, serde_json::Value>,
    /// Present (true) on the `Other` group only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub other: bool,
    /// The `Other` group's number of combinations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub combinations: Option<u64>,
    pub total_sessions: u64,
    pub steps: Vec<FunnelStepResult>,
}
