//! `/metrics`: the server's counters in Prometheus' text format (version 0.0.4).
//!
//! Everything is counted in this process, per [`Metrics`] value (one per application),
//! with fixed label sets: routes are the app's own patterns (anything else is `other`),
//! statuses are three-digit codes, backends are the three dialects, limits the five kinds
//! of 429. So every map here is bounded however clients behave. docs/operations.md says
//! what each series means and what to alert on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quarry_core::storage::{PoolStatus, StorageError};

use crate::error::Throttle;

/// Upper bounds of the latency buckets, in seconds (`+Inf` is implied).
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// The routes requests are counted under; a request that matched none is `other`.
pub const ROUTES: [&str; 10] = [
    "/export/events",
    "/export/charts",
    "/export/funnel",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/",
    "/explorer/{file}",
    "other",
];

/// The label of a matched route pattern.
pub fn route_label(pattern: Option<&str>) -> &'static str {
    pattern
        .and_then(|p| ROUTES.iter().find(|r| **r == p))
        .copied()
        .unwrap_or("other")
}

/// A latency histogram: counts per bucket (not cumulative until rendered), sum, count.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// The kinds of 429, in [`Throttle`] order.
const THROTTLES: [(Throttle, &str); 5] = [
    (Throttle::Requests, "requests"),
    (Throttle::Failures, "failures"),
    (Throttle::Concurrency, "concurrency"),
    (Throttle::Verifications, "verifications"),
    (Throttle::Streams, "streams"),
];

/// How a query ended, as counted.
fn outcome(result: Result<(), &StorageError>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(StorageError::Timeout) => "timeout",
        Err(StorageError::Unavailable(_)) => "unavailable",
        Err(StorageError::Rejected(_)) => "rejected",
        Err(StorageError::Query(_)) => "error",
    }
}

/// The counters of one application.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered: one lock per request.
    http: Mutex<Http>,
    /// Query time by (backend, outcome).
    queries: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
    /// 429s by limit, in [`THROTTLES`] order.
    refused: [AtomicU64; 5],
    /// Rows sent by streamed exports.
    rows_streamed: AtomicU64,
    /// Requests being answered now.
    in_flight: AtomicU64,
}

/// A series with one value per pool: name, type, help, and the value.
type PoolSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&PoolStatus) -> String,
);

/// Requests answered.
#[derive(Debug, Clone, Default)]
struct Http {
    /// Counts by (route, status).
    requests: BTreeMap<(&'static str, u16), u64>,
    /// Latency by route.
    latency: BTreeMap<&'static str, Histogram>,
}

/// What `/metrics` reads from elsewhere when it renders.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Each backend's pool of event queries: (backend, its status).
    pub pools: Vec<(&'static str, PoolStatus)>,
    /// Authentication cache: (hits, misses).
    pub auth_cache: (u64, u64),
}

impl Metrics {
    /// A request began; the returned guard counts it as in flight until dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// A request answered with `status` after `elapsed`.
    pub fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut http) = self.http.lock() {
            *http.requests.entry((route, status)).or_default() += 1;
            http.latency
                .entry(route)
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    /// A query on `backend` ended after `elapsed`.
    pub fn query(
        &self,
        backend: &'static str,
        result: Result<(), &StorageError>,
        elapsed: Duration,
    ) {
        if let Ok(mut m) = self.queries.lock() {
            m.entry((backend, outcome(result)))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    /// A request refused by `throttle` (429).
    pub fn refused(&self, throttle: Throttle) {
        if let Some(i) = THROTTLES.iter().position(|(t, _)| *t == throttle) {
            self.refused[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Rows a streamed export sent.
    pub fn rows_streamed(&self, rows: u64) {
        self.rows_streamed.fetch_add(rows, Ordering::Relaxed);
    }

    /// Everything, in the text format.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };

        family(
            &mut out,
            "quarry_http_requests_total",
            "counter",
            "Requests answered, by route and status.",
        );
        // A copy, so requests are not held up while the text is written.
        let http = self.http.lock().map(|h| h.clone()).unwrap_or_default();
        for ((route, status), n) in &http.requests {
            let _ = writeln!(
                out,
                "quarry_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        family(
            &mut out,
            "quarry_http_request_duration_seconds",
            "histogram",
            "Time to answer a request (to the first byte of a streamed body), by route.",
        );
        for (route, h) in &http.latency {
            let labels = format!("route=\"{route}\"");
            h.render(&mut out, "quarry_http_request_duration_seconds", &labels);
        }
        family(
            &mut out,
            "quarry_http_requests_in_flight",
            "gauge",
            "Requests being answered now.",
        );
        let _ = writeln!(
            out,
            "quarry_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );

        family(
            &mut out,
            "quarry_query_duration_seconds",
            "histogram",
            "Time of a database query (a streamed one: until its first rows), by backend and outcome (ok, timeout, unavailable, rejected, error).",
        );
        if let Ok(m) = self.queries.lock() {
            for ((backend, outcome), h) in m.iter() {
                let labels = format!("backend=\"{backend}\",outcome=\"{outcome}\"");
                h.render(&mut out, "quarry_query_duration_seconds", &labels);
            }
        }

        family(
            &mut out,
            "quarry_rate_limited_total",
            "counter",
            "Requests refused with 429, by the limit they met.",
        );
        for ((_, name), n) in THROTTLES.iter().zip(&self.refused) {
            let _ = writeln!(
                out,
                "quarry_rate_limited_total{{limit=\"{name}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }

        family(
            &mut out,
            "quarry_rows_streamed_total",
            "counter",
            "Rows sent by streamed exports (NDJSON, CSV, Parquet).",
        );
        let _ = writeln!(
            out,
            "quarry_rows_streamed_total {}",
            self.rows_streamed.load(Ordering::Relaxed)
        );

        let (hits, misses) = gauges.auth_cache;
        family(
            &mut out,
            "quarry_auth_cache_total",
            "counter",
            "Secret checks answered from the cache (hit) or by running scrypt (miss).",
        );
        let _ = writeln!(out, "quarry_auth_cache_total{{result=\"hit\"}} {hits}");
        let _ = writeln!(out, "quarry_auth_cache_total{{result=\"miss\"}} {misses}");

        family(
            &mut out,
            "quarry_db_pool_connections",
            "gauge",
            "Connections of the event-query pool, by state (idle, in_use) and the pool's maximum (max).",
        );
        for (backend, p) in &gauges.pools {
            let in_use = p.size.saturating_sub(p.idle);
            for (state, n) in [("idle", p.idle), ("in_use", in_use), ("max", p.max)] {
                let _ = writeln!(
                    out,
                    "quarry_db_pool_connections{{backend=\"{backend}\",state=\"{state}\"}} {n}"
                );
            }
        }
        // One series per backend each; values as Prometheus reads them.
        let per_pool: [PoolSeries; 3] = [
            (
                "quarry_db_pool_waiting",
                "gauge",
                "Queries waiting for a connection now.",
                |p| p.waiting.to_string(),
            ),
            (
                "quarry_db_pool_acquired_total",
                "counter",
                "Connections handed to queries.",
                |p| p.acquired.to_string(),
            ),
            (
                "quarry_db_pool_wait_seconds_total",
                "counter",
                "Seconds queries waited for connections, in all.",
                |p| p.wait_seconds.to_string(),
            ),
        ];
        for (name, kind, help, value) in per_pool {
            family(&mut out, name, kind, help);
            for (backend, p) in &gauges.pools {
                let _ = writeln!(out, "{name}{{backend=\"{backend}\"}} {}", value(p));
            }
        }
        out
    }
}

/// A request in flight ([`Metrics::begin`]).
#[derive(Debug)]
pub struct InFlight(Arc<Metrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_bounded() {
        let m = Metrics::default();
        m.request(
            route_label(Some("/export/charts")),
            200,
            Duration::from_millis(3),
        );
        m.request(
            route_label(Some("/export/charts")),
            200,
            Duration::from_millis(40),
        );
        m.request(
            route_label(Some("/not/a/route/{x}")),
            404,
            Duration::from_millis(1),
        );
        m.refused(Throttle::Streams);
        let text = m.render(&Gauges::default());
        assert!(
            text.contains(
                "quarry_http_requests_total{route=\"/export/charts\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("quarry_http_requests_total{route=\"other\",status=\"404\"} 1\n"),
            "{text}"
        );
        assert!(text.contains(
            "quarry_http_request_duration_seconds_bucket{route=\"/export/charts\",le=\"0.001\"} 0\n"
        ));
        assert!(text.contains(
            "quarry_http_request_duration_seconds_bucket{route=\"/export/charts\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains(
            "quarry_http_request_duration_seconds_bucket{route=\"/export/charts\",le=\"0.05\"} 2\n"
        ));
        assert!(text.contains(
            "quarry_http_request_duration_seconds_bucket{route=\"/export/charts\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("quarry_rate_limited_total{limit=\"streams\"} 1\n"));
        assert!(text.contains("quarry_rate_limited_total{limit=\"requests\"} 0\n"));
    }
}
