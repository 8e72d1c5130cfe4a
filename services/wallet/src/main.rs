//! `mycoin-wallet`: runs the wallet service of one user's stack.

use std::process::ExitCode;

use clap::Parser;
use mycoin_wallet::{Cli, Settings, build};

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
            tracing::error!("mycoin-wallet cannot run: {err}");
            ExitCode::FAILURE
        }
    }
}
