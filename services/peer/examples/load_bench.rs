//! A node under load: readers, a syncing neighbour, a flood of bad and good input and a miner
//! at once, each measure against the same on the idle node of the same run (`scripts/load.sh`,
//! docs/BENCHMARKS.md). A benchmark, never a test: it prints figures and the targets they
//! meet or miss, and exits 0 either way (non-zero only when the run itself breaks).
//!
//! Real processes only, on loopback: the release `mycoin-peer` (the *source*, serving the cached
//! regtest chain of `bench::cached_chain`, N blocks × 10 signed transactions), `mycoin-keys`
//! (holding `LOAD_WALLET_KEYS` keys), `mycoin-wallet` and `mycoin-miner` on the source, and
//! fresh `mycoin-peer`s that sync from the source.
//!
//! 1. **Idle**: one client at a time measures `GET /healthz`, `GET /chain`,
//!    `GET /blocks/height/{h}`, `GET /addresses/{a}/utxos` (the chain's keys) on the source and
//!    `GET /wallet`; then a fresh peer syncs the chain from the idle source.
//! 2. **Index**: `GET /addresses/{a}/utxos` (an address with no coins, so that the answer's size
//!    is the same) and `GET /wallet` (the same keys) against a peer of 10 + N blocks ÷ the same
//!    against a peer of 10 + `INDEX_SMALL_BLOCKS` blocks (medians).
//! 3. **Load**: the miner starts on the source; a fresh peer syncs from it; meanwhile a client
//!    floods the source with `LOAD_JUNK` junk transactions (bad hex, not JSON, bad signatures,
//!    missing inputs, truncated), `LOAD_VALID` valid ones (spending the chain's outputs with the
//!    generator's keys) and `LOAD_BAD_POW` blocks whose proof of work fails; `LOAD_READERS`
//!    readers (the four reads, round robin by reader) and a `/healthz` probe run until the sync
//!    and the flood are done, or `LOAD_MAX_SECONDS`.
//!
//! Settings (environment): `LOAD_BLOCKS` (N, default 10000), `LOAD_JUNK` (20000), `LOAD_VALID`
//! (5000, at most the chain's spendable outputs), `LOAD_BAD_POW` (2000), `LOAD_READERS` (32),
//! `LOAD_WALLET_KEYS` (5000), `LOAD_MAX_SECONDS` (900), `LOAD_IDLE_REQUESTS` (200 of each quick
//! read), `LOAD_IDLE_WALLET` (5 wallet reads), `INDEX_SMALL_BLOCKS` (100), `LOAD_FLOODERS`
//! (concurrent flood connections, 8), `BENCH_LOG` (the services' `RUST_LOG`, default `warn`),
//! `LOAD_MIN_SECONDS` (30: a shorter load is stretched, readers and miner going on),
//! `LOAD_BENCH_KEEP=1` (keep the run's directory and logs).
//!
//! ```sh
//! cargo build --release -p mycoin-peer -p mycoin-keys -p mycoin-wallet -p mycoin-miner \
//!     --example load_bench
//! LOAD_BLOCKS=1000 target/release/examples/load_bench
//! ```

mod bench;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench::{
    KEYS, Latencies, NETWORK, Request, ServiceProcess, bad_pow_blocks, cached_chain, get_json, key,
    sample_healthz, send_all, setting, spend_to, timed_get,
};
use mycoin_api::keys::NewKey;
use mycoin_api::miner::MinerStatus;
use mycoin_api::paths;
use mycoin_api::peer::{BlockTemplate, ChainInfo, UtxoView, decode_hex, encode_hex};
use mycoin_core::{Address, Amount, Block, OutPoint, PrivateKey, Transaction, TxOut, Txid};
use serde_json::json;

/// The four reads of the load, and `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Read {
    Healthz,
    Chain,
    BlockAtHeight,
    Utxos,
    Wallet,
}

impl Read {
    const READERS: [Read; 4] = [Read::Chain, Read::BlockAtHeight, Read::Utxos, Read::Wallet];

    fn label(self) -> &'static str {
        match self {
            Read::Healthz => "GET /healthz",
            Read::Chain => "GET /chain",
            Read::BlockAtHeight => "GET /blocks/height/{h}",
            Read::Utxos => "GET /addresses/{a}/utxos",
            Read::Wallet => "GET /wallet",
        }
    }
}

/// Where the reads go.
#[derive(Debug, Clone)]
struct Targets {
    peer: String,
    wallet: String,
    heights: u32,
    addresses: Vec<String>,
}

impl Targets {
    /// The URL of the `n`th request of kind `read`.
    fn url(&self, read: Read, n: usize) -> String {
        match read {
            Read::Healthz => format!("{}/healthz", self.peer),
            Read::Chain => format!("{}{}", self.peer, paths::peer::CHAIN),
            Read::BlockAtHeight => {
                // Spread over the chain (a multiplicative step, so that no cache is favoured).
                let h = (n as u64).wrapping_mul(7919) % u64::from(self.heights.max(1)) + 1;
                format!("{}{}", self.peer, paths::peer::block_at(h as u32))
            }
            Read::Utxos => format!(
                "{}{}",
                self.peer,
                paths::peer::utxos_raw(&self.addresses[n % self.addresses.len()])
            ),
            Read::Wallet => format!("{}{}", self.wallet, paths::wallet::WALLET),
        }
    }
}

/// `count` requests of `read`, one after another.
async fn sequential(
    http: &reqwest::Client,
    targets: &Targets,
    read: Read,
    count: u64,
) -> Latencies {
    let mut latencies = Latencies::default();
    for n in 0..count as usize {
        timed_get(http, &targets.url(read, n), &mut latencies).await;
    }
    latencies
}

/// Starts a fresh peer syncing from `source`, and waits until it holds `height` blocks.
/// Returns the seconds from its start, and the process (to read its memory).
async fn sync_fresh(
    http: &reqwest::Client,
    dir: &Path,
    name: &'static str,
    source: &str,
    height: u32,
    deadline: Instant,
) -> (Option<f64>, ServiceProcess) {
    let started = Instant::now();
    let mut fresh = ServiceProcess::start(name, dir, &["--peer".to_owned(), source.to_owned()]);
    let mut last_report = Instant::now();
    loop {
        if let Some(info) = fresh.chain(http).await {
            if info.height >= height {
                return (Some(started.elapsed().as_secs_f64()), fresh);
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "  {name}: {:>5.0} s, height {} of {height}",
                    started.elapsed().as_secs_f64(),
                    info.height
                );
                last_report = Instant::now();
            }
        }
        if let Ok(Some(status)) = fresh.child.try_wait() {
            fresh.fail(&format!("exited with {status}"));
        }
        if Instant::now() > deadline {
            eprintln!("  {name}: not synced before the deadline");
            return (None, fresh);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The fee of the flood's transactions: 6 units a byte for their 167 bytes, above the default
/// minimum relay fee rate (1 a byte; docs/PROTOCOL.md §12.3), so that a valid one is kept.
const FEE: u64 = 1000;

/// A transaction spending `prevout` (worth `units`, paid to `owner`) back to `owner` less
/// [`FEE`] (none when the coin is too small to pay it and stay above dust), signed by `signer`
/// (the owner's key, or another for a bad signature).
fn spend(prevout: OutPoint, units: u64, owner: &PrivateKey, signer: &PrivateKey) -> Transaction {
    let fee = if units >= FEE + 1000 { FEE } else { 0 };
    let output = TxOut {
        amount: Amount::from_units(units - fee).expect("an amount of the chain"),
        pubkey_hash: owner.public_key().pubkey_hash(),
    };
    spend_to(prevout, owner, signer, vec![output])
}

/// The flood's requests, interleaved: junk transactions, valid ones and bad blocks.
fn flood_items(
    base: &str,
    coins: &[(UtxoView, usize)],
    template: &Block,
    junk: u64,
    valid: u64,
    bad_pow: u64,
) -> Vec<Request> {
    let keys: Vec<PrivateKey> = (0..KEYS).map(key).collect();
    let tx_body = |tx: &Transaction| json!({ "hex": encode_hex(tx) }).to_string();
    let (valid_coins, junk_coins) = coins.split_at((valid as usize).min(coins.len()));
    let valid_items: Vec<Request> = valid_coins
        .iter()
        .map(|(utxo, k)| {
            Request::post_json(
                "valid tx",
                format!("{base}{}", paths::peer::TRANSACTIONS),
                tx_body(&spend(
                    OutPoint::new(utxo.txid, utxo.vout),
                    utxo.amount,
                    &keys[*k],
                    &keys[*k],
                )),
            )
        })
        .collect();
    let mut junk_items = Vec::new();
    for n in 0..junk as usize {
        // Coins for the bad signatures: those not spent by the valid transactions, else any.
        let pool = if junk_coins.is_empty() {
            coins
        } else {
            junk_coins
        };
        let (utxo, k) = &pool[n % pool.len()];
        let owner = &keys[*k];
        let outpoint = OutPoint::new(utxo.txid, utxo.vout);
        let item = match n % 5 {
            0 => Request::post_json(
                "junk: bad hex",
                format!("{base}{}", paths::peer::TRANSACTIONS),
                json!({ "hex": format!("zz{n:x}") }).to_string(),
            ),
            1 => Request::post_json(
                "junk: not JSON",
                format!("{base}{}", paths::peer::TRANSACTIONS),
                format!("{{\"hex\": {n}"),
            ),
            2 => Request::post_json(
                "junk: bad signature",
                format!("{base}{}", paths::peer::TRANSACTIONS),
                tx_body(&spend(outpoint, utxo.amount, owner, &keys[(*k + 1) % KEYS])),
            ),
            3 => {
                let mut missing = [0u8; 32];
                missing[..8].copy_from_slice(&(n as u64).to_le_bytes());
                missing[31] = 0xee;
                Request::post_json(
                    "junk: missing input",
                    format!("{base}{}", paths::peer::TRANSACTIONS),
                    tx_body(&spend(OutPoint::new(Txid(missing), 0), 1000, owner, owner)),
                )
            }
            _ => {
                let hex = encode_hex(&spend(outpoint, utxo.amount, owner, owner));
                Request::post_json(
                    "junk: truncated",
                    format!("{base}{}", paths::peer::TRANSACTIONS),
                    json!({ "hex": hex[..hex.len() / 2] }).to_string(),
                )
            }
        };
        junk_items.push(item);
    }
    let bad_items: Vec<Request> = bad_pow_blocks(template, bad_pow)
        .iter()
        .map(|block| {
            Request::post_json(
                "block: bad proof of work",
                format!("{base}{}", paths::peer::BLOCKS),
                json!({ "hex": encode_hex(block) }).to_string(),
            )
        })
        .collect();
    // Interleave the three streams evenly: each item at its relative place in its stream.
    let mut placed: Vec<(f64, Request)> = Vec::new();
    for stream in [valid_items, junk_items, bad_items] {
        let len = stream.len() as f64;
        placed.extend(
            stream
                .into_iter()
                .enumerate()
                .map(|(i, item)| ((i as f64 + 0.5) / len, item)),
        );
    }
    placed.sort_by(|a, b| a.0.total_cmp(&b.0));
    placed.into_iter().map(|(_, item)| item).collect()
}

/// A reader: requests of `read`, one after another, until `stop` (at most `limit`).
async fn reader(
    http: reqwest::Client,
    targets: Arc<Targets>,
    read: Read,
    offset: usize,
    limit: usize,
    stop: Arc<AtomicBool>,
) -> (Read, Latencies) {
    let mut latencies = Latencies::default();
    let mut n = offset;
    while !stop.load(Ordering::Relaxed) && n < offset + limit {
        timed_get(&http, &targets.url(read, n), &mut latencies).await;
        n += 1;
    }
    (read, latencies)
}

/// The miner's `blocks_found`, when it answers.
async fn blocks_found(http: &reqwest::Client, miner: &str) -> Option<u64> {
    let response = http
        .get(format!("{miner}{}", paths::miner::MINER))
        .send()
        .await
        .ok()?;
    let status: MinerStatus = response.json().await.ok()?;
    Some(status.blocks_found)
}

/// The miner's blocks found, sampled every half second: (seconds since `started`, count).
async fn sample_miner(
    http: reqwest::Client,
    miner: String,
    started: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<(f64, u64)> {
    let mut samples = Vec::new();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if let Some(found) = blocks_found(&http, &miner).await {
            samples.push((started.elapsed().as_secs_f64(), found));
        }
        if stopping {
            return samples;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Blocks found in each third of `[0, end]`, from the samples.
fn blocks_by_third(samples: &[(f64, u64)], end: f64) -> [u64; 3] {
    let at = |t: f64| {
        samples
            .iter()
            .take_while(|(when, _)| *when <= t)
            .last()
            .or(samples.first())
            .map_or(0, |(_, count)| *count)
    };
    let marks = [0.0, end / 3.0, 2.0 * end / 3.0, f64::INFINITY];
    [0, 1, 2].map(|i| at(marks[i + 1]).saturating_sub(at(marks[i])))
}

/// A wallet service on `peer`, over the keys service `keys`.
fn start_wallet(
    dir: &Path,
    name: &'static str,
    peer: &str,
    keys: &str,
    token: &str,
) -> ServiceProcess {
    // The wallet creates its SQLite file, not its directory.
    std::fs::create_dir_all(dir).expect("the wallet's data directory");
    ServiceProcess::start_binary(
        name,
        "mycoin-wallet",
        "--wallet-port",
        dir,
        &[
            "--peer-url".into(),
            peer.into(),
            "--keys-url".into(),
            keys.into(),
            "--api-token".into(),
            token.into(),
        ],
    )
}

/// One line of the table.
struct Row {
    measure: String,
    idle: String,
    load: String,
    ratio: f64,
    target: &'static str,
    met: Option<bool>,
}

fn ms(value: f64) -> String {
    format!("{value:.2} ms")
}

#[tokio::main]
async fn main() {
    let full_blocks = setting("LOAD_BLOCKS", 10_000) as u32;
    let junk = setting("LOAD_JUNK", 20_000);
    let valid = setting("LOAD_VALID", 5_000);
    let bad_pow = setting("LOAD_BAD_POW", 2_000);
    let readers = setting("LOAD_READERS", 32) as usize;
    let wallet_keys = setting("LOAD_WALLET_KEYS", 5_000);
    let max_seconds = setting("LOAD_MAX_SECONDS", 900);
    let idle_requests = setting("LOAD_IDLE_REQUESTS", 200);
    let idle_wallet = setting("LOAD_IDLE_WALLET", 5).max(1);
    let small_blocks = setting("INDEX_SMALL_BLOCKS", 100) as u32;
    let flooders = setting("LOAD_FLOODERS", 8).max(1) as usize;
    let min_seconds = setting("LOAD_MIN_SECONDS", 30);
    let token = "load-bench-token-0123456789abcdef";

    let chain_dir = cached_chain(full_blocks).await;
    let small_dir = cached_chain(small_blocks).await;
    let run = tempfile::tempdir().expect("a temporary directory");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("an HTTP client");

    let copy_chain = |from: &Path, name: &str| {
        let dir = run.path().join(name);
        std::fs::create_dir_all(&dir).expect("a data directory");
        std::fs::copy(from.join("chain.sqlite"), dir.join("mycoin.sqlite")).expect("a copy");
        dir
    };
    eprintln!("== services: source peer, keys, wallet, miner ==");
    let mut source = ServiceProcess::start("source", &copy_chain(&chain_dir, "source"), &[]);
    let source_info: ChainInfo = source.wait_ready(&http).await;
    let height = source_info.height;
    let token_args = vec!["--api-token".to_owned(), token.to_owned()];
    let mut keys = ServiceProcess::start_binary(
        "keys",
        "mycoin-keys",
        "--keys-port",
        &run.path().join("keys"),
        &token_args,
    );
    keys.wait_healthy(&http).await;
    let mut wallet = start_wallet(
        &run.path().join("wallet"),
        "wallet",
        &source.base,
        &keys.base,
        token,
    );
    wallet.wait_healthy(&http).await;
    let mut miner = ServiceProcess::start_binary(
        "miner",
        "mycoin-miner",
        "--miner-port",
        &run.path().join("miner"),
        &[
            "--peer-url".into(),
            source.base.clone(),
            "--keys-url".into(),
            keys.base.clone(),
            "--threads".into(),
            "1".into(),
            "--api-token".into(),
            token.into(),
        ],
    );
    miner.wait_healthy(&http).await;

    eprintln!("== wallet: {wallet_keys} keys ==");
    let started = Instant::now();
    let made = Arc::new(AtomicU64::new(0));
    let mut makers = Vec::new();
    for _ in 0..4 {
        let (http, base, made) = (http.clone(), keys.base.clone(), made.clone());
        makers.push(tokio::spawn(async move {
            let mut addresses = Vec::new();
            while made.fetch_add(1, Ordering::Relaxed) < wallet_keys {
                let response = http
                    .post(format!("{base}{}", paths::keys::KEYS))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("POST /keys");
                assert!(
                    response.status().is_success(),
                    "POST /keys: {}",
                    response.status()
                );
                let key: NewKey = response.json().await.expect("a new key");
                addresses.push(key.address.to_string());
            }
            addresses
        }));
    }
    let mut wallet_addresses = Vec::new();
    for maker in makers {
        wallet_addresses.extend(maker.await.expect("a key maker"));
    }
    eprintln!(
        "  {} keys in {:.1} s",
        wallet_addresses.len(),
        started.elapsed().as_secs_f64()
    );

    // The chain's keys, and their coins (for the valid transactions).
    let chain_addresses: Vec<String> = (0..KEYS)
        .map(|k| Address::new(NETWORK, key(k).public_key().pubkey_hash()).to_string())
        .collect();
    let mut coins: Vec<(UtxoView, usize)> = Vec::new();
    for (k, address) in chain_addresses.iter().enumerate() {
        let utxos: Vec<UtxoView> = get_json(
            &http,
            &format!("{}{}", source.base, paths::peer::utxos_raw(address)),
        )
        .await;
        coins.extend(utxos.into_iter().filter(|u| u.mature).map(|u| (u, k)));
    }
    // Round robin over the keys, so that every key has some spent.
    coins.sort_by_key(|(u, k)| (u.height, *k));
    eprintln!("  {} spendable outputs of the chain's keys", coins.len());
    let miner_address = wallet_addresses
        .first()
        .cloned()
        .unwrap_or_else(|| chain_addresses[0].clone());
    let template: BlockTemplate = get_json(
        &http,
        &format!(
            "{}{}?address={miner_address}",
            source.base,
            paths::peer::TEMPLATE
        ),
    )
    .await;
    let template: Block = decode_hex(&template.hex).expect("a template block");

    let targets = Targets {
        peer: source.base.clone(),
        wallet: wallet.base.clone(),
        heights: height,
        addresses: chain_addresses.clone(),
    };

    eprintln!("== idle: one client at a time ==");
    let mut idle = BTreeMap::new();
    for read in [
        Read::Healthz,
        Read::Chain,
        Read::BlockAtHeight,
        Read::Utxos,
        Read::Wallet,
    ] {
        let count = if read == Read::Wallet {
            idle_wallet
        } else {
            idle_requests
        };
        let started = Instant::now();
        let latencies = sequential(&http, &targets, read, count).await;
        eprintln!(
            "  {}: {count} in {:.1} s, p99 {}",
            read.label(),
            started.elapsed().as_secs_f64(),
            ms(latencies.p99())
        );
        idle.insert(read, latencies);
    }

    eprintln!("== idle: a fresh peer syncs {height} blocks ==");
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    let (idle_sync_s, idle_fresh) = sync_fresh(
        &http,
        &run.path().join("fresh-idle"),
        "fresh-idle",
        &source.base,
        height,
        deadline,
    )
    .await;
    let idle_fresh_hwm = idle_fresh.memory_kib().hwm;
    drop(idle_fresh);
    eprintln!("  {idle_sync_s:?} s");

    eprintln!("== index: {height} blocks against 10 + {small_blocks} ==");
    let empty_addresses: Vec<String> = wallet_addresses.iter().skip(1).take(16).cloned().collect();
    let empty_addresses = if empty_addresses.is_empty() {
        vec![Address::new(NETWORK, mycoin_core::PubKeyHash([7; 20])).to_string()]
    } else {
        empty_addresses
    };
    let index_targets = |peer: &str, wallet: &str| Targets {
        peer: peer.to_owned(),
        wallet: wallet.to_owned(),
        heights: 1,
        addresses: empty_addresses.clone(),
    };
    let big = index_targets(&source.base, &wallet.base);
    let big_utxos = sequential(&http, &big, Read::Utxos, idle_requests).await;
    let big_wallet = sequential(&http, &big, Read::Wallet, idle_wallet).await;
    let (small_utxos, small_wallet) = {
        let mut small = ServiceProcess::start("small", &copy_chain(&small_dir, "small"), &[]);
        small.wait_ready(&http).await;
        let mut small_wallet = start_wallet(
            &run.path().join("wallet-small"),
            "wallet-small",
            &small.base,
            &keys.base,
            token,
        );
        small_wallet.wait_healthy(&http).await;
        let targets = index_targets(&small.base, &small_wallet.base);
        (
            sequential(&http, &targets, Read::Utxos, idle_requests).await,
            sequential(&http, &targets, Read::Wallet, idle_wallet).await,
        )
    };
    eprintln!(
        "  utxos median {} vs {}, wallet median {} vs {}",
        ms(big_utxos.median()),
        ms(small_utxos.median()),
        ms(big_wallet.median()),
        ms(small_wallet.median())
    );

    eprintln!(
        "== load: sync + flood of {} items + {readers} readers + miner ==",
        junk + valid.min(coins.len() as u64) + bad_pow
    );
    let items = Arc::new(flood_items(
        &source.base,
        &coins,
        &template,
        junk,
        valid,
        bad_pow,
    ));
    let start = http
        .post(format!("{}{}", miner.base, paths::miner::START))
        .bearer_auth(token)
        .json(&json!({ "address": miner_address }))
        .send()
        .await
        .expect("POST /miner/start");
    assert!(
        start.status().is_success(),
        "POST /miner/start: {}",
        start.status()
    );

    let load_started = Instant::now();
    let deadline = load_started + Duration::from_secs(max_seconds);
    let stop_readers = Arc::new(AtomicBool::new(false));
    let stop_flood = Arc::new(AtomicBool::new(false));
    let miner_samples = tokio::spawn(sample_miner(
        http.clone(),
        miner.base.clone(),
        load_started,
        stop_readers.clone(),
    ));
    let targets = Arc::new(targets);
    let mut reader_tasks = Vec::new();
    for r in 0..readers {
        let read = Read::READERS[r % Read::READERS.len()];
        reader_tasks.push(tokio::spawn(reader(
            http.clone(),
            targets.clone(),
            read,
            r * 1000,
            1_000_000,
            stop_readers.clone(),
        )));
    }
    let probe = (http.clone(), source.base.clone(), stop_readers.clone());
    reader_tasks.push(tokio::spawn(async move {
        (
            Read::Healthz,
            sample_healthz(probe.0, probe.1, probe.2).await,
        )
    }));
    let flood_task = tokio::spawn(send_all(
        http.clone(),
        items.clone(),
        flooders,
        stop_flood.clone(),
    ));
    let (load_sync_s, load_fresh) = sync_fresh(
        &http,
        &run.path().join("fresh-load"),
        "fresh-load",
        &source.base,
        height,
        deadline,
    )
    .await;
    eprintln!("  sync under load: {load_sync_s:?} s");
    // The flood runs to its end (or the deadline); the readers as long as either runs.
    while !flood_task.is_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_flood.store(true, Ordering::Relaxed);
    let (flood_answers, flood_failures) = flood_task.await.expect("the flood");
    // A short load is stretched, so that its thirds mean something for the miner.
    while load_started.elapsed() < Duration::from_secs(min_seconds) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let load_s = load_started.elapsed().as_secs_f64();
    stop_readers.store(true, Ordering::Relaxed);
    let mut under_load: BTreeMap<Read, Latencies> = BTreeMap::new();
    for task in reader_tasks {
        // A reader in the middle of a slow request is abandoned after a grace period.
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok((read, latencies))) => under_load.entry(read).or_default().merge(latencies),
            _ => eprintln!("  a reader did not finish its last request in 30 s"),
        }
    }
    let samples = miner_samples.await.expect("the miner sampler");
    let thirds = blocks_by_third(&samples, load_s);
    let source_hwm = source.memory_kib().hwm;
    let fresh_hwm = load_fresh.memory_kib().hwm;
    let final_chain: Option<ChainInfo> = source.chain(&http).await;
    eprintln!(
        "  load ran {load_s:.1} s; the source is at height {:?}",
        final_chain.map(|c| c.height)
    );
    eprintln!("  flood answers (kind, status, code, count), {flood_failures} without an answer:");
    for ((kind, status, code), count) in &flood_answers {
        eprintln!("    {kind:<26} {status} {code:<16} {count}");
    }
    for (read, latencies) in idle.iter().chain(&under_load) {
        if latencies.client_errors > 0 {
            eprintln!(
                "  {}: {} answers were 4xx",
                read.label(),
                latencies.client_errors
            );
        }
    }
    drop(load_fresh);

    if std::env::var_os("LOAD_BENCH_KEEP").is_some() {
        eprintln!("  kept {}", run.keep().display());
    }

    // The table.
    let mut rows = Vec::new();
    for read in [
        Read::Healthz,
        Read::Chain,
        Read::BlockAtHeight,
        Read::Utxos,
        Read::Wallet,
    ] {
        let (idle_p99, load) = (
            idle[&read].p99(),
            under_load.get(&read).cloned().unwrap_or_default(),
        );
        let ratio = load.p99() / idle_p99;
        rows.push(Row {
            measure: format!("{} p99 ({} under load)", read.label(), load.ms.len()),
            idle: ms(idle_p99),
            load: ms(load.p99()),
            ratio,
            target: "≤ 5",
            met: Some(ratio <= 5.0),
        });
    }
    let rate = |s: Option<f64>| s.map_or(f64::NAN, |s| f64::from(height) / s);
    let sync_ratio = rate(load_sync_s) / rate(idle_sync_s);
    rows.push(Row {
        measure: format!("sync of {height} blocks (blocks/s)"),
        idle: format!("{:.1}", rate(idle_sync_s)),
        load: format!("{:.1}", rate(load_sync_s)),
        ratio: sync_ratio,
        target: "≥ 0.7",
        met: Some(sync_ratio >= 0.7),
    });
    rows.push(Row {
        measure: "blocks the miner found, by third of the load".into(),
        idle: "-".into(),
        load: format!("{} / {} / {}", thirds[0], thirds[1], thirds[2]),
        ratio: f64::NAN,
        target: "> 0 each",
        met: Some(thirds.iter().all(|&n| n > 0)),
    });
    let server_errors: u64 = under_load.values().map(|l| l.server_errors).sum::<u64>()
        + flood_answers
            .iter()
            .filter(|((_, status, _), _)| *status >= 500)
            .map(|(_, count)| count)
            .sum::<u64>()
        + idle.values().map(|l| l.server_errors).sum::<u64>();
    let no_answer: u64 = under_load.values().map(|l| l.failures).sum::<u64>() + flood_failures;
    rows.push(Row {
        measure: format!("5xx answers (and {no_answer} requests without an answer)"),
        idle: "-".into(),
        load: server_errors.to_string(),
        ratio: f64::NAN,
        target: "0",
        met: Some(server_errors == 0),
    });
    for (name, hwm) in [
        ("source peer", source_hwm),
        ("fresh peer (load)", fresh_hwm),
        ("fresh peer (idle sync)", idle_fresh_hwm),
    ] {
        let mib = hwm as f64 / 1024.0;
        rows.push(Row {
            measure: format!("peak resident memory (VmHWM), {name}"),
            idle: "-".into(),
            load: format!("{mib:.1} MiB"),
            ratio: f64::NAN,
            target: "≤ 128 MiB",
            met: Some(mib <= 128.0),
        });
    }
    for (name, big, small) in [
        (
            "index: GET /addresses/{a}/utxos median",
            &big_utxos,
            &small_utxos,
        ),
        ("index: GET /wallet median", &big_wallet, &small_wallet),
    ] {
        let ratio = big.median() / small.median();
        rows.push(Row {
            measure: format!("{name}, {height} ÷ {} blocks", small_blocks + 10),
            idle: ms(small.median()),
            load: ms(big.median()),
            ratio,
            target: "≤ 2",
            met: Some(ratio <= 2.0),
        });
    }

    println!(
        "load benchmark: {height} blocks × 10 tx, {} wallet keys, {readers} readers, flood of {} items, load {load_s:.0} s",
        wallet_addresses.len(),
        items.len()
    );
    println!(
        "{:<58} {:>12} {:>14} {:>8}  {:<10} met",
        "measure", "idle / small", "load / large", "ratio", "target"
    );
    for row in rows {
        let ratio = if row.ratio.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.2}", row.ratio)
        };
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "{:<58} {:>12} {:>14} {:>8}  {:<10} {met}",
            row.measure, row.idle, row.load, ratio, row.target
        );
    }
    drop(miner);
    drop(wallet);
    drop(keys);
    drop(source);
}
