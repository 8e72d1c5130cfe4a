//! `mycoin-keys`: runs the keys service of one user's stack.

use std::process::ExitCode;

use clap::Parser;
use mycoin_keys::{Cli, Settings, build};

#[actix_web::main]
async fn main() -> ExitCode {
    mycoin_web::init_tracing();
    let cli = Cli::parse();
    let result = async {
        let app = build(Settings::from_common(&cli.common)?).await?;
        app.run_until_stopped().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    match result.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("mycoin-keys cannot run: {err}");
            ExitCode::FAILURE
        }
    }
}
