//! Compile-time benchmarks: how long the request → SQL compiler takes, per dialect.
//!
//! Run: `cargo bench -p quarry-benches --bench compile`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use quarry_core::compile::{Context, compile_chart, compile_funnel};
use quarry_core::decode::{decode_chart, decode_funnel};
use quarry_core::sql::Dialect;

const CHART: &str = concat!(
    r#"events=[{"name":"screen_view","filters":[{"name":"country","operator":"is","value":["SE","NO"]},"#,
    r#"{"name":"path","operator":"startsWith","value":["/docs"]}]},"#,
    r#"{"name":"sign_up","segment":"user","filters":[{"name":"utm_source","operator":"contains","value":["google"]}]},"#,
    r#"{"name":"purchase","segment":"property_sum","property":"properties.total","#,
    r#""filters":[{"name":"properties.total","operator":"gt","value":[10]}]}]"#,
    r#"&breakdowns=[{"name":"browser"}]&range=30d&interval=day&previous=true"#,
);

const FUNNEL: &str = concat!(
    r#"events=[{"name":"session_start"},{"name":"screen_view","filters":[{"name":"path","operator":"is","value":["/pricing"]}]},"#,
    r#"{"name":"sign_up"},{"name":"purchase"}]&range=30d&funnelWindow=24"#,
);

fn context() -> Context {
    Context {
        project_id: "bench-project".into(),
        tz: chrono_tz::Europe::Stockholm,
        now: 1_713_184_496_789,
        first_event: None,
    }
}

fn bench(c: &mut Criterion) {
    let ctx = context();
    let chart = decode_chart(CHART).expect("valid chart request");
    let funnel = decode_funnel(FUNNEL).expect("valid funnel request");
    for dialect in Dialect::ALL {
        c.bench_function(
            &format!("chart_3_events_filters_breakdown/{}", dialect.name()),
            |b| b.iter(|| compile_chart(black_box(&chart), black_box(&ctx), dialect)),
        );
        c.bench_function(&format!("funnel_4_steps/{}", dialect.name()), |b| {
            b.iter(|| compile_funnel(black_box(&funnel), black_box(&ctx), dialect))
        });
    }
    c.bench_function("decode_chart", |b| {
        b.iter(|| decode_chart(black_box(CHART)))
    });
    c.bench_function("qs_parse_chart", |b| {
        b.iter(|| quarry_core::qs::parse_lenient(black_box(CHART)))
    });
    c.bench_function("decode_and_compile_chart/sqlite", |b| {
        b.iter(|| {
            let req = decode_chart(black_box(CHART)).expect("valid");
            compile_chart(&req, &ctx, Dialect::Sqlite)
        })
    });
    c.bench_function("decode_and_compile_funnel/sqlite", |b| {
        b.iter(|| {
            let req = decode_funnel(black_box(FUNNEL)).expect("valid");
            compile_funnel(&req, &ctx, Dialect::Sqlite)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
