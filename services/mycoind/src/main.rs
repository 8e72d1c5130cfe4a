//! `mycoind`: one user's services in one process, each on its own port, talking to each other
//! over HTTP exactly as they do when run apart (the book's mycoind.py, with `--mine`), and
//! the explorer's web pages over them.
//!
use std::io;

use clap::Parser;
use mycoin_web::{CommonArgs, ServiceKind, init_tracing};

/// Runs one mycoin user's stack: the peer, keys, wallet and miner services, and the explorer.
#[derive(Debug, Parser)]
#[command(name = "mycoind", version, about)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    peer: mycoin_peer::PeerArgs,
    /// Threads searching nonces [default: one per core].
    #[arg(long, env = "MYCOIN_MINER_THREADS", value_name = "N")]
    threads: Option<usize>,
    /// Start mining at once and keep mining (the book's mycoind.py).
    #[arg(long, env = "MYCOIN_MINE")]
    mine: bool,
    #[command(flatten)]
    search: mycoin_miner::configuration::SearchArgs,
}

#[actix_web::main]
async fn main() -> io::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    // 0700, its files 0600: also a directory left looser by an older version or by hand.
    mycoin_web::files::secure_data_dir(&cli.common.data_dir())?;

    // One after the other: each service runs its own migrations on the shared store.
    let peer =
        mycoin_peer::build(mycoin_peer::Settings::from_args(&cli.common, &cli.peer)?).await?;
    let keys = mycoin_keys::build(mycoin_keys::Settings::from_common(&cli.common)?)
        .await
        .map_err(io::Error::other)?;
    let wallet_cli = mycoin_wallet::Cli {
        common: cli.common.clone(),
    };
    let wallet = mycoin_wallet::build(mycoin_wallet::Settings::from_cli(&wallet_cli)?).await?;
    let miner_cli = mycoin_miner::configuration::Cli {
        common: cli.common.clone(),
        threads: cli.threads.map(|t| t.clamp(1, 1024) as u16),
        mine: cli.mine,
    };
    let miner_settings =
        mycoin_miner::Settings::from_cli(&miner_cli)?.with_backend(cli.search.backend);
    let miner = mycoin_miner::build(miner_settings).await?;
    let explorer =
        mycoin_explorer::build(mycoin_explorer::Settings::from_common(&cli.common)?).await?;
    tracing::info!(
        user = cli.common.user,
        network = cli.common.network.as_str(),
        peer = cli.common.port(ServiceKind::Peer),
        keys = cli.common.port(ServiceKind::Keys),
        wallet = cli.common.port(ServiceKind::Wallet),
        miner = cli.common.port(ServiceKind::Miner),
        explorer = cli.common.port(ServiceKind::Explorer),
        "mycoind is up"
    );
    tokio::try_join!(
        peer.run_until_stopped(),
        keys.run_until_stopped(),
        wallet.run_until_stopped(),
        miner.run_until_stopped(),
        explorer.run_until_stopped()
    )?;
    Ok(())
}
