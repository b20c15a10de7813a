//! The `netassist` binary: parses flags, sets up tracing, runs the library.

use std::process::ExitCode;

use clap::Parser;
use netassist::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    ExitCode::from(netassist::app::run(cli).await)
}
