//! The live miner service's hash rate (the last step of benchmark (a) in docs/BENCHMARKS.md).
//!
//! Builds a demo-network stack in this process as `mycoind` does (the peer service on a
//! temporary SQLite file, the keys service, and the miner service with its default settings:
//! one search thread per core, the backend chosen by measurement at start, mining from the
//! start), lets the difficulty settle for `WARMUP` seconds, then reads `GET /miner` once a
//! second for `SAMPLES` seconds: each answer's `hash_rate` is the service's nonces over the
//! last second, counting the gaps between templates, submissions and validation.
//!
//! ```sh
//! cargo run --release -p mycoin-miner --example live_rate -- [WARMUP, default 30] [SAMPLES, default 15]
//! ```
//!
//! Prints one line: `live_backend=<name> live_rate=<median nonces/s> live_min=.. live_max=..
//! live_blocks=<blocks found> live_height=<tip height>`.

use std::time::Duration;

use mycoin_api::miner::MinerStatus;
use mycoin_api::paths;
use mycoin_api::peer::ChainInfo;
use mycoin_core::Network;
use mycoin_web::ApiToken;

const NETWORK: Network = Network::Demo;

async fn get<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: String) -> T {
    let response = http.get(&url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|arg| arg.parse::<u64>().unwrap());
    let warmup = args.next().unwrap_or(30);
    let samples = args.next().unwrap_or(15).max(1);

    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("peer.sqlite").display()
    );
    let peer = mycoin_peer::build(mycoin_peer::Settings::new(NETWORK, "127.0.0.1", 0, url))
        .await
        .expect("the peer service starts");
    let peer_url = format!("http://127.0.0.1:{}", peer.port());
    tokio::spawn(peer.run_until_stopped());

    let token = ApiToken::generate().unwrap();
    let keys = mycoin_keys::build(mycoin_keys::Settings::new(
        NETWORK,
        dir.path().join("keys"),
        0,
        token.clone(),
    ))
    .await
    .expect("the keys service starts");
    let keys_url = format!("http://127.0.0.1:{}", keys.port());
    tokio::spawn(keys.run_until_stopped());

    let settings = mycoin_miner::Settings::new(NETWORK, 0, peer_url.clone(), keys_url)
        .with_api_token(token)
        .with_mine_on_start(true);
    let miner = mycoin_miner::build(settings)
        .await
        .expect("the miner service starts");
    let miner_url = format!("http://127.0.0.1:{}", miner.port());
    tokio::spawn(miner.run_until_stopped());

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let mut rates = Vec::new();
    let mut status: MinerStatus = get(&http, format!("{miner_url}{}", paths::miner::MINER)).await;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    for _ in 0..samples {
        ticker.tick().await;
        status = get(&http, format!("{miner_url}{}", paths::miner::MINER)).await;
        eprintln!(
            "GET /miner: hash_rate {:.0}, blocks_found {}",
            status.hash_rate, status.blocks_found
        );
        rates.push(status.hash_rate);
    }
    assert!(status.running, "{status:?}");
    let chain: ChainInfo = get(&http, format!("{peer_url}{}", paths::peer::CHAIN)).await;
    rates.sort_by(f64::total_cmp);
    let backend = serde_json::to_value(status.backend).unwrap();
    println!(
        "live_backend={} live_rate={:.0} live_min={:.0} live_max={:.0} live_blocks={} live_height={}",
        backend.as_str().unwrap_or("?"),
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1],
        status.blocks_found,
        chain.height,
    );
}
