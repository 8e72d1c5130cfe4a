//! `mycoin-explorer`: runs the explorer (web pages) of one user's stack.

use std::process::ExitCode;

use clap::Parser;
use mycoin_explorer::{Cli, Settings, build};

#[actix_web::main]
async fn main() -> ExitCode {
    mycoin_web::init_tracing();
    let cli = Cli::parse();
    let result = async {
        let app = build(Settings::from_cli(&cli)?).await?;
        app.run_until_stopped().await
    };
    match result.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("mycoin-explorer cannot run: {err}");
            ExitCode::FAILURE
        }
    }
}
