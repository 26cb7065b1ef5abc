//! The `quarry` binary: parse the command line, set up logging, run.

use clap::Parser;
use quarry_server::cli::LogFormat;

/// mimalloc (crates/alloc says why).
#[global_allocator]
static ALLOCATOR: quarry_alloc::MiMalloc = quarry_alloc::MiMalloc;

fn main() {
    quarry_alloc::configure();
    run();
}

#[actix_web::main]
async fn run() {
    let cli = quarry_server::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,quarry_server=info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.global.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
    if let Err(e) = quarry_server::cli::run(cli).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
