//! Query strings into validated requests (§4.1, §5, §6, §7).
//!
//! Decoding is total: every input either yields a request or a [`RequestError`] that
//! names each offending parameter by its path (`events[1].filters[0].operator`) and says
//! what was expected. Unknown parameters are ignored; known ones are never silently
//! dropped.
//!
//! [`RequestError`]: crate::error::RequestError
//!
//! One file per thing decoded: `params` reads typed values out of the query string,
//! `budgets` counts what the filters spend, `filter` decodes fields and filters, `config`
//! the event name and display name of chart configs and funnel steps, and `chart`,
//! `funnel` and `events` the three endpoints.

mod budgets;
mod chart;
mod config;
mod events;
mod filter;
mod funnel;
mod params;

pub use chart::{decode_chart, decode_chart_with};
pub use events::{decode_events, include_names};
pub use filter::{is_number_text, parse_field};
pub use funnel::{decode_funnel, decode_funnel_with};

pub use params::parameters_read;
use params::parse_query;

/// Limits that come from configuration rather than from the request: the page size and
/// the budgets that bound the work and memory one request can ask for. Every default is
/// far above what an honest request needs (docs/limits.md lists them with their settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest events page (default 50, configurable up to 10 000).
    pub max_page_size: u64,
    /// Filters in one request, every config and step together.
    pub max_filters: usize,
    /// Filter values in one request, every filter together (plus the `event` names of
    /// `/export/events`): each becomes a comparison the database evaluates per row.
    pub max_values: usize,
    /// Bytes of those values together.
    pub max_value_bytes: usize,
    /// Regular expressions in one request.
    pub max_patterns: usize,
    /// Bytes of one regular expression as written.
    pub max_pattern_bytes: usize,
    /// Compiled size of one regular expression (the `regex` crate's size limit, which
    /// stops compiling as soon as it is exceeded, so the check itself stays cheap).
    pub max_pattern_size: usize,
    /// `limit + offset` of a chart: the series each event config keeps in SQL.
    pub max_chart_series: usize,
    /// Points a chart may keep: event configs × the series each keeps × buckets, both
    /// periods counted. Bounds the rows read, the series shaped and the response.
    pub max_chart_points: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page_size: 50,
            max_filters: 200,
            max_values: 1_000,
            max_value_bytes: 32 * 1024,
            max_patterns: 16,
            max_pattern_bytes: 1_024,
            // `^.{0,255}$` needs about 1 MiB (`.` is any Unicode scalar but a newline).
            max_pattern_size: 1024 * 1024,
            max_chart_series: 10_000,
            max_chart_points: 1_000_000,
        }
    }
}

/// Most event configs a chart or funnel may have.
pub const MAX_EVENTS: usize = 20;
/// Most breakdowns of a chart.
pub const MAX_BREAKDOWNS: usize = 3;
/// Longest `projectId` and `profileId` (bytes): ids are short, and a project id is a cache
/// key.
pub const MAX_ID_BYTES: usize = 256;
/// Most entries in an error's `details`: a request with more problems than this is
/// answered with the first ones (its size is already bounded by the URL).
pub const MAX_DETAILS: usize = 100;

/// `explain` (`true` or `false`, default false): whether a request asks for the SQL it
/// compiles to and the engine's plan instead of its answer. Any endpoint reads it.
pub fn decode_explain(query: &str) -> Result<bool, crate::error::RequestError> {
    let mut p = parse_query(query, Limits::default());
    let explain = p.boolean("explain").unwrap_or(false);
    p.finish(explain)
}

/// The top-level query parameters an endpoint (`events`, `charts`, `funnel`) reads,
/// `explain` included, in the order it reads them: found by decoding a request, since
/// every decoder reads each of its parameters whatever the request holds.
pub fn parameters(endpoint: &str) -> Vec<&'static str> {
    let every = "explain=true";
    let mut names = match endpoint {
        "events" => parameters_read(|| {
            let _ = decode_events(every, Limits::default());
        }),
        "charts" => parameters_read(|| {
            let _ = decode_chart(every);
        }),
        "funnel" => parameters_read(|| {
            let _ = decode_funnel(every);
        }),
        _ => return Vec::new(),
    };
    names.extend(parameters_read(|| {
        let _ = decode_explain(every);
    }));
    names
}

/// The project a query string asks for (`projectId`, else `project_id`), if any, when the
/// rest of it may not decode: the server names `projectId is required` beside the other
/// problems of a request (§4.2).
pub fn requested_project(query: &str) -> Option<String> {
    parse_query(query, Limits::default()).project_id()
}

#[cfg(test)]
mod parameter_list_tests {
    /// The surface of the API: a parameter added or dropped is a change of the OpenAPI
    /// document too (crates/server/tests/openapi.rs compares them).
    #[test]
    fn each_endpoint_lists_what_it_reads() {
        let all = |ep| super::parameters(ep).join(" ");
        assert_eq!(
            all("events"),
            "projectId project_id event start end page limit includes filters profileId \
             timezone fields cursor count format explain"
        );
        assert_eq!(
            all("charts"),
            "projectId project_id events series breakdowns interval range startDate endDate \
             previous chartType metric limit offset timezone explain"
        );
        assert_eq!(
            all("funnel"),
            "projectId project_id events series range startDate endDate funnelWindow \
             funnelGroup funnelOrder funnelRange exclusions previous interval timeToConvert \
             timeToConvertBins breakdowns breakdownAttribution limit offset timezone explain"
        );
        assert!(super::parameters("nothing").is_empty());
    }
}
