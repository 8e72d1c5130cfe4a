//! The explorer's render time against the chain's length, measured in one run:
//!
//! the time a real explorer takes to answer `GET` of a block page and of an address page (over
//! HTTP, through a real peer service on SQLite) in a chain of 10,000 blocks ÷ the same in a
//! chain of 100 blocks. The block is the same shape in both (height 50, one coinbase) and the
//! address has the same 100 coinbase outputs in both (it is paid blocks 1 to 100; the other
//! blocks pay 16 other keys), so only the chain's length differs. A page built from indexes
//! stays near 1 (target ≤ 2); one that scanned the chain would grow 100×.
//!
//! Rounds alternate between the two chains (five rounds of 40 requests per page, after a
//! warm-up); the medians of all requests are compared.
//!
//! ```sh
//! cargo run --release -p mycoin-explorer --example render_bench   # RENDER_BENCH_BLOCKS=2000 for a quick run
//! ```

use std::time::{Duration, Instant};

use mycoin_api::paths;
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{Address, BlockHash, Chain, Database, Network, PrivateKey, PubKeyHash, SqlStore};

const NETWORK: Network = Network::Regtest;
/// Blocks of the small chain, and those paying the measured address in both.
const SMALL: u32 = 100;
const ROUNDS: usize = 5;
const PER_ROUND: usize = 40;

fn key(i: u8) -> PrivateKey {
    let mut bytes = [0x4du8; 32];
    bytes[31] = i + 1;
    PrivateKey::from_bytes(&bytes).unwrap()
}

fn pkh(i: u8) -> PubKeyHash {
    key(i).public_key().pubkey_hash()
}

/// A chain of `blocks` coinbase-only blocks into a SQLite file in `dir`: blocks 1 to 100 pay
/// key 0, the others keys 1 to 16. Returns its database URL and the hash at height 50.
async fn build_chain(dir: &std::path::Path, blocks: u32) -> (String, BlockHash) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("chain.sqlite").display());
    let params = NETWORK.params();
    let store = SqlStore::open(Database::connect(&url).await.unwrap())
        .await
        .unwrap();
    let mut chain = Chain::open(params.clone(), store).await.unwrap();
    let started = Instant::now();
    for height in 1..=blocks {
        let pay_to = if height <= SMALL {
            pkh(0)
        } else {
            pkh(1 + (height % 16) as u8)
        };
        let now = params.genesis_time + height;
        let mut block = chain.block_template(pay_to, now, u64::from(height));
        while check_proof_of_work(&block, &params).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
        }
        chain.submit_block(block, now).await.unwrap();
    }
    eprintln!(
        "   built {blocks} blocks in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let at_50 = chain.hash_at(50).unwrap();
    (url, at_50)
}

/// A peer service on `database_url` and an explorer over it (whose keys, wallet and miner
/// services are absent: the block and address pages do not need them). Returns the
/// explorer's base URL.
async fn serve(database_url: String) -> String {
    let peer = mycoin_peer::build(mycoin_peer::Settings::new(
        NETWORK,
        "127.0.0.1",
        0,
        database_url,
    ))
    .await
    .unwrap();
    let peer_url = format!("http://127.0.0.1:{}", peer.port());
    tokio::spawn(peer.run_until_stopped());
    let absent = "http://127.0.0.1:9";
    let explorer = mycoin_explorer::build(mycoin_explorer::Settings::new(
        NETWORK, 0, &peer_url, absent, absent, absent,
    ))
    .await
    .unwrap();
    let url = format!("http://127.0.0.1:{}", explorer.port());
    tokio::spawn(explorer.run_until_stopped());
    url
}

/// The times of `count` sequential requests of `url`, each checked to answer 200.
async fn time(http: &reqwest::Client, url: &str, count: usize, into: &mut Vec<Duration>) {
    for _ in 0..count {
        let started = Instant::now();
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let body = response.bytes().await.unwrap();
        into.push(started.elapsed());
        assert!(body.len() > 1_000, "{url}: a whole page");
    }
}

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1_000.0
}

#[tokio::main]
async fn main() {
    let large: u32 = std::env::var("RENDER_BENCH_BLOCKS")
        .ok()
        .map(|v| v.parse().expect("a number of blocks"))
        .unwrap_or(10_000);
    let address = Address::new(NETWORK, pkh(0));
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    eprintln!("== building the chains ({SMALL} and {large} blocks)");
    let (small_db, small_block) = build_chain(dirs[0].path(), SMALL).await;
    let (large_db, large_block) = build_chain(dirs[1].path(), large).await;
    let small = serve(small_db).await;
    let large_url = serve(large_db).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let pages = |base: &str, block: &BlockHash| {
        [
            ("block", format!("{base}{}", paths::explorer::block(block))),
            (
                "address",
                format!("{base}{}", paths::explorer::address(&address)),
            ),
        ]
    };
    let small_pages = pages(&small, &small_block);
    let large_pages = pages(&large_url, &large_block);
    // Warm-up: connections, caches.
    let mut ignored = Vec::new();
    for (_, url) in small_pages.iter().chain(&large_pages) {
        time(&http, url, 10, &mut ignored).await;
    }
    println!("page     {SMALL:>8} blocks (ms)  {large:>8} blocks (ms)  ratio  target");
    for index in 0..2 {
        let (mut at_small, mut at_large) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            time(&http, &small_pages[index].1, PER_ROUND, &mut at_small).await;
            time(&http, &large_pages[index].1, PER_ROUND, &mut at_large).await;
        }
        let (s, l) = (median(&mut at_small), median(&mut at_large));
        let ratio = l / s;
        println!(
            "{:<8} {s:>21.3}  {l:>21.3}  {ratio:>5.2}  ≤ 2 {}",
            small_pages[index].0,
            if ratio <= 2.0 { "ok" } else { "MISSED" }
        );
    }
}
