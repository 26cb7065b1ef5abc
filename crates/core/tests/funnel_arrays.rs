//! ClickHouse's array funnel gathers each event as one `UInt64` (`time << bits | mask`)
//! only when the window's relative times and the mask fit in it together; otherwise as a
//! `(time, mask)` tuple. Both sort alike; the conformance suite checks the answers.

#![allow(clippy::unwrap_used)]

use chrono_tz::Tz;
use quarry_core::Dialect;
use quarry_core::compile::{Context, compile_funnel};
use quarry_core::decode::decode_funnel;
use quarry_core::time::parse_rfc3339;

fn clickhouse_sql(steps: usize, exclusions: usize, start: &str, end: &str) -> String {
    let events: Vec<String> = (0..steps)
        .map(|i| format!(r#"{{"name":"step_{i}"}}"#))
        .collect();
    let excluded: Vec<String> = (0..exclusions)
        .map(|i| format!(r#"{{"name":"never_{i}","from":1,"to":2}}"#))
        .collect();
    let query = format!(
        "events=[{}]&exclusions=[{}]&funnelOrder=strict&startDate={start}&endDate={end}",
        events.join(","),
        excluded.join(",")
    );
    let req = decode_funnel(&query).unwrap();
    let ctx = Context {
        project_id: "p".into(),
        tz: Tz::UTC,
        now: parse_rfc3339("2024-04-15T12:34:56.789Z").unwrap(),
        first_event: None,
    };
    compile_funnel(&req, &ctx, Dialect::ClickHouse)
        .unwrap()
        .query
        .sql
}

#[test]
fn events_are_packed_only_when_time_and_mask_fit() {
    // 3 steps and 1 exclusion over 30 days: 32 bits of time and 4 of mask.
    let short = clickhouse_sql(3, 1, "2024-03-01", "2024-03-30");
    assert!(
        short.contains("groupArray(bitShiftLeft(toUInt64("),
        "{short}"
    );
    assert!(!short.contains("groupArray(tuple("), "{short}");
    // 20 steps and 10 exclusions over two years: 36 bits of time and 30 of mask.
    let long = clickhouse_sql(20, 10, "2022-03-01", "2024-03-30");
    assert!(long.contains("groupArray(tuple("), "{long}");
    assert!(!long.contains("bitShiftLeft"), "{long}");
    // 20 steps and 10 exclusions over 30 days still fit (32 + 30 bits).
    let wide = clickhouse_sql(20, 10, "2024-03-01", "2024-03-30");
    assert!(wide.contains("groupArray(bitShiftLeft(toUInt64("), "{wide}");
}
