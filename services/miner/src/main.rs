//! `mycoin-miner`: runs the miner service of one user's stack.

use std::process::ExitCode;

use clap::Parser;
use mycoin_miner::configuration::Command;
use mycoin_miner::{Settings, build};

#[actix_web::main]
async fn main() -> ExitCode {
    mycoin_web::init_tracing();
    let command = Command::parse();
    let result = async {
        let app = build(Settings::from_command(&command)?).await?;
        app.run_until_stopped().await
    };
    match result.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("mycoin-miner cannot run: {err}");
            ExitCode::FAILURE
        }
    }
}
