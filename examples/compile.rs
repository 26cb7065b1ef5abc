//! Embedding the compiler without any database: decode a chart and a funnel request from
//! their query strings and print the SQL and parameters for every dialect.
//!
//! Run: `cargo run -p quarry-examples --example compile`

use quarry_core::compile::{Context, compile_chart, compile_funnel};
use quarry_core::decode::{decode_chart, decode_funnel};
use quarry_core::sql::Dialect;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // "Now" is an input: the same request and clock always compile to the same SQL.
    let ctx = Context {
        project_id: "my-project".into(),
        tz: chrono_tz::Europe::Stockholm,
        now: 1_713_184_496_789, // 2024-04-15T12:34:56.789Z
        first_event: None,
    };

    let chart = decode_chart(concat!(
        r#"events=[{"name":"screen_view","segment":"user","#,
        r#""filters":[{"name":"country","operator":"is","value":["SE","NO"]}]}]"#,
        r#"&breakdowns=[{"name":"browser"}]&range=7d&interval=day&previous=true"#,
    ))?;
    let funnel = decode_funnel(
        r#"events=[{"name":"session_start"},{"name":"sign_up"},{"name":"purchase"}]&range=30d&funnelWindow=12"#,
    )?;

    for dialect in Dialect::ALL {
        let plan = compile_chart(&chart, &ctx, dialect)?;
        println!("-- chart, {}\n{}", dialect.name(), plan.query.explain());
        let plan = compile_funnel(&funnel, &ctx, dialect)?;
        println!("-- funnel, {}\n{}", dialect.name(), plan.query.explain());
    }
    Ok(())
}
