use clap::Parser;
use mycoin_peer::Cli;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    mycoin_web::init_tracing();
    let settings = Cli::parse().settings()?;
    mycoin_peer::build(settings)
        .await?
        .run_until_stopped()
        .await
}
