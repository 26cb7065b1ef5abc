//! The `quarry` binary: parse the command line, set up logging, run.

use clap::Parser;

#[actix_web::main]
async fn main() {
    let cli = quarry_server::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,quarry_server=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = quarry_server::cli::run(cli).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
