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
//! 1. **Index** (the source quiet: no miner, no readers): `GET /addresses/{a}/utxos` (addresses
//!    with no coins, so that the answer's size is the same) and `GET /wallet` (the same keys)
//!    against the source, 10 + N blocks, and against a peer of 10 + `INDEX_SMALL_BLOCKS`
//!    blocks with its own wallet service, in alternating rounds; medians, large ÷ small.
//! 2. **Idle**: `LOAD_READERS` open-loop readers (the four reads, round robin by reader), each
//!    sending at the moments of a Poisson process of `LOAD_READER_RATE` a second
//!    (`LOAD_WALLET_RATE` for `GET /wallet`) whether or not its earlier requests have been
//!    answered, and `GET /healthz` every 20 ms, against the source alone for
//!    `LOAD_IDLE_SECONDS`. A latency runs from the request's scheduled moment, so that a
//!    stalled node (or a stalled load generator) shows. The CPU the readers cost is printed.
//!    Then a fresh peer syncs the chain from the source, nothing else running.
//! 3. **Load**: the miner starts on the source; a fresh peer syncs from it; meanwhile a client
//!    floods the source with `LOAD_JUNK` junk transactions (bad hex, not JSON, bad signatures,
//!    missing inputs, truncated), `LOAD_VALID` valid ones (spending the chain's outputs with the
//!    generator's keys) and `LOAD_BAD_POW` blocks whose proof of work fails; the same readers
//!    as in 2 run until the sync and the flood are done, or `LOAD_MAX_SECONDS`.
//!
//! Settings (environment): `LOAD_BLOCKS` (N, default 10000), `LOAD_JUNK` (20000), `LOAD_VALID`
//! (5000, at most the chain's spendable outputs), `LOAD_BAD_POW` (2000), `LOAD_READERS` (32),
//! `LOAD_READER_RATE` (5 requests a second per reader), `LOAD_WALLET_RATE` (0.2 a second per
//! `GET /wallet` reader), `LOAD_IDLE_SECONDS` (60), `LOAD_WALLET_KEYS` (5000),
//! `LOAD_MAX_SECONDS` (900), `LOAD_INDEX_ROUNDS` (10), `LOAD_INDEX_UTXOS` (20 look-ups a round
//! and peer), `LOAD_INDEX_WALLET` (2 a round and peer), `INDEX_SMALL_BLOCKS` (100),
//! `LOAD_FLOODERS` (concurrent flood connections, 8), `BENCH_LOG` (the services' `RUST_LOG`,
//! default `warn`), `LOAD_MIN_SECONDS` (30: a shorter load is stretched, readers and miner
//! going on), `LOAD_BENCH_KEEP=1` (keep the run's directory and logs).
//!
//! ```sh
//! cargo build --release -p mycoin-peer -p mycoin-keys -p mycoin-wallet -p mycoin-miner \
//!     --example load_bench
//! LOAD_BLOCKS=1000 target/release/examples/load_bench
//! ```

mod bench;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bench::{
    KEYS, Latencies, NETWORK, Request, ServiceProcess, bad_pow_blocks, cached_chain,
    cpu_seconds_of, get_json, key, send_all, setting, spend_to, timed_get,
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

/// `count` requests of `read`, one after another (the index benchmark's look-ups).
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

/// How a paced reader spaces the moments it sends at.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// A Poisson process of this many requests a second: independent users arriving.
    Poisson(f64),
    /// One request every this long (the `/healthz` probe).
    Every(Duration),
}

/// A small deterministic generator (SplitMix64) for the Poisson gaps: each reader has its own
/// seed, so that a run's schedule is the same in the idle and the load phase.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

impl Pace {
    /// The gap before the next send.
    fn gap(self, random: &mut SplitMix) -> Duration {
        match self {
            Pace::Poisson(rate) => Duration::from_secs_f64(-random.unit().ln() / rate),
            Pace::Every(every) => every,
        }
    }
}

/// What one kind of read got: latencies (from each request's *scheduled* moment to the end of
/// its answer), and the answers that were not 2xx by status and error code, and the requests
/// that got no answer by why.
#[derive(Debug, Default, Clone)]
struct Outcomes {
    latencies: Latencies,
    /// (status, the body's `error` code) of each 4xx and 5xx answer.
    errors: BTreeMap<(u16, String), u64>,
    /// Why requests got no answer (a timeout, a refused connection...).
    unanswered: BTreeMap<String, u64>,
}

impl Outcomes {
    fn merge(&mut self, other: Outcomes) {
        self.latencies.merge(other.latencies);
        for (key, count) in other.errors {
            *self.errors.entry(key).or_default() += count;
        }
        for (key, count) in other.unanswered {
            *self.unanswered.entry(key).or_default() += count;
        }
    }
}

/// Requests a reader may have waiting for their answers at once; past this, its next request
/// goes out when one answers (its latency still counted from its scheduled moment).
const MAX_IN_FLIGHT: usize = 64;
/// How long the requests in flight are given when the readers stop.
const GRACE: Duration = Duration::from_secs(30);

/// GET `url`, timed from `scheduled` (so that a request the node kept waiting, or that the
/// reader could not send on time, counts all its delay: no coordinated omission).
async fn scheduled_get(
    http: &reqwest::Client,
    url: &str,
    scheduled: Instant,
    into: &Mutex<Outcomes>,
) {
    let answer = match http.get(url).send().await {
        Ok(response) => {
            let status = response.status();
            response.bytes().await.map(|body| (status, body))
        }
        Err(err) => Err(err),
    };
    let elapsed_ms = scheduled.elapsed().as_secs_f64() * 1000.0;
    let mut outcomes = into.lock().expect("the outcomes");
    match answer {
        Ok((status, body)) => {
            outcomes.latencies.ms.push(elapsed_ms);
            if status.is_client_error() || status.is_server_error() {
                if status.is_server_error() {
                    outcomes.latencies.server_errors += 1;
                } else {
                    outcomes.latencies.client_errors += 1;
                }
                let code = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                    .unwrap_or_default();
                *outcomes.errors.entry((status.as_u16(), code)).or_default() += 1;
            }
        }
        Err(err) => {
            outcomes.latencies.failures += 1;
            let why = if err.is_timeout() {
                "client timeout (120 s)".to_owned()
            } else if err.is_connect() {
                "cannot connect".to_owned()
            } else {
                // The innermost cause says most (a reset or closed connection...), not the URL.
                let mut cause: &dyn std::error::Error = &err;
                while let Some(inner) = cause.source() {
                    cause = inner;
                }
                cause.to_string()
            };
            *outcomes.unanswered.entry(why).or_default() += 1;
        }
    }
}

/// An open-loop reader: requests of `read` sent at the moments of `pace`, whether or not the
/// earlier ones have been answered, until `stop`; then the requests in flight are given
/// [`GRACE`] (those still without an answer are counted so).
async fn paced_reader(
    http: reqwest::Client,
    targets: Arc<Targets>,
    read: Read,
    pace: Pace,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> (Read, Outcomes) {
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut random = SplitMix(seed);
    // The readers start spread over one gap, not all at once.
    let mut next = tokio::time::Instant::now() + pace.gap(&mut random);
    let mut n = seed as usize;
    loop {
        // Wake at least every 100 ms to see `stop` (a wallet reader's gaps are seconds long).
        while tokio::time::Instant::now() < next && !stop.load(Ordering::Relaxed) {
            let wake = tokio::time::Instant::now() + Duration::from_millis(100);
            tokio::time::sleep_until(next.min(wake)).await;
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let scheduled = next.into_std();
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (http, url, outcomes) = (http.clone(), targets.url(read, n), outcomes.clone());
        tokio::spawn(async move {
            scheduled_get(&http, &url, scheduled, &outcomes).await;
            drop(permit);
        });
        n += 1;
        next += pace.gap(&mut random);
    }
    let all = u32::try_from(MAX_IN_FLIGHT).expect("a small number");
    let abandoned = match tokio::time::timeout(GRACE, in_flight.acquire_many(all)).await {
        Ok(_) => 0,
        Err(_) => MAX_IN_FLIGHT - in_flight.available_permits(),
    };
    let mut result = outcomes.lock().expect("the outcomes").clone();
    if abandoned > 0 {
        result.latencies.failures += abandoned as u64;
        *result
            .unanswered
            .entry(format!(
                "no answer {} s after the readers stopped",
                GRACE.as_secs()
            ))
            .or_default() += abandoned as u64;
    }
    (read, result)
}

/// The paces of the load's readers: [`Read::READERS`] round robin, the wallet's at
/// `wallet_rate`, the others at `rate` (each a second), and the `/healthz` probe every 20 ms.
fn reader_paces(readers: usize, rate: f64, wallet_rate: f64) -> Vec<(Read, Pace)> {
    let mut paces: Vec<(Read, Pace)> = (0..readers)
        .map(|r| {
            let read = Read::READERS[r % Read::READERS.len()];
            let rate = if read == Read::Wallet {
                wallet_rate
            } else {
                rate
            };
            (read, Pace::Poisson(rate))
        })
        .collect();
    paces.push((Read::Healthz, Pace::Every(Duration::from_millis(20))));
    paces
}

/// Starts the paced readers of `paces` against `targets`; each stops at `stop`.
fn start_readers(
    http: &reqwest::Client,
    targets: &Arc<Targets>,
    paces: &[(Read, Pace)],
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(Read, Outcomes)>> {
    paces
        .iter()
        .enumerate()
        .map(|(r, &(read, pace))| {
            tokio::spawn(paced_reader(
                http.clone(),
                targets.clone(),
                read,
                pace,
                r as u64 * 1000 + 1,
                stop.clone(),
            ))
        })
        .collect()
}

/// Waits for the readers (each gives its requests in flight [`GRACE`]), their outcomes by read.
async fn collect_readers(
    tasks: Vec<tokio::task::JoinHandle<(Read, Outcomes)>>,
) -> BTreeMap<Read, Outcomes> {
    let mut by_read: BTreeMap<Read, Outcomes> = BTreeMap::new();
    for task in tasks {
        let (read, outcomes) = task.await.expect("a reader");
        by_read.entry(read).or_default().merge(outcomes);
    }
    by_read
}

/// Prints the answers that were not 2xx, and the requests without one, by read and status.
fn report_errors(phase: &str, by_read: &BTreeMap<Read, Outcomes>) {
    for (read, outcomes) in by_read {
        for ((status, code), count) in &outcomes.errors {
            eprintln!(
                "  {phase}: {} answered {status} {code} × {count}",
                read.label()
            );
        }
        for (why, count) in &outcomes.unanswered {
            eprintln!(
                "  {phase}: {} got no answer ({why}) × {count}",
                read.label()
            );
        }
    }
}

/// CPU time of the whole machine from `/proc/stat`: (busy, total) in ticks, all cores.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .expect("the cpu line")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    // idle and iowait are the 4th and 5th.
    let idle = fields[3] + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// CPU seconds (user + system) of this process, all its threads: the load generator.
fn own_cpu_seconds() -> f64 {
    cpu_seconds_of(&std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat"))
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
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

/// Requests a second of each reader of `GET /chain`, `/blocks/height/{h}` and
/// `/addresses/{a}/utxos` (`LOAD_READER_RATE`).
const DEFAULT_READER_RATE: f64 = 5.0;
/// Requests a second of each `GET /wallet` reader (`LOAD_WALLET_RATE`).
const DEFAULT_WALLET_RATE: f64 = 0.2;

/// A rate (requests a second, > 0) from the environment, or its default.
fn rate_setting(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(value) => match value.trim().parse::<f64>() {
            Ok(rate) if rate > 0.0 && rate.is_finite() => rate,
            _ => panic!("{name}={value} is not a positive number"),
        },
        Err(_) => default,
    }
}

/// The share of all cores that was busy between two [`machine_ticks`] readings, in percent.
fn busy_share(before: (u64, u64), after: (u64, u64)) -> f64 {
    let busy = after.0.saturating_sub(before.0) as f64;
    let total = after.1.saturating_sub(before.1).max(1) as f64;
    busy / total * 100.0
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
    let reader_rate = rate_setting("LOAD_READER_RATE", DEFAULT_READER_RATE);
    let wallet_rate = rate_setting("LOAD_WALLET_RATE", DEFAULT_WALLET_RATE);
    let idle_seconds = setting("LOAD_IDLE_SECONDS", 60).max(1);
    let index_rounds = setting("LOAD_INDEX_ROUNDS", 10).max(1);
    let index_utxos = setting("LOAD_INDEX_UTXOS", 20).max(1);
    let index_wallet = setting("LOAD_INDEX_WALLET", 2).max(1);
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
        // As the services' own clients: an idle connection is dropped before the server's
        // keep-alive closes it, so that a request never races that close.
        .pool_idle_timeout(mycoin_web::client::POOL_IDLE_TIMEOUT)
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

    // The index first, while the source is quiet: the miner has not started, and nothing
    // polls the source that does not poll the small peer too (each has one wallet service,
    // over the same keys service, and nothing else).
    eprintln!(
        "== index: {height} blocks against 10 + {small_blocks}, {index_rounds} alternating rounds =="
    );
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
    let ((big_utxos, big_wallet), (small_utxos, small_wallet)) = {
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
        let sides = [
            index_targets(&source.base, &wallet.base),
            index_targets(&small.base, &small_wallet.base),
        ];
        // One round of each, not counted: connections opened, caches warm on both sides.
        for side in &sides {
            sequential(&http, side, Read::Utxos, index_utxos).await;
            sequential(&http, side, Read::Wallet, 1).await;
        }
        let mut measured = [
            (Latencies::default(), Latencies::default()),
            (Latencies::default(), Latencies::default()),
        ];
        for _ in 0..index_rounds {
            for (side, (utxos, wallet)) in sides.iter().zip(measured.iter_mut()) {
                utxos.merge(sequential(&http, side, Read::Utxos, index_utxos).await);
                wallet.merge(sequential(&http, side, Read::Wallet, index_wallet).await);
            }
        }
        let [big, small] = measured;
        (big, small)
    };
    eprintln!(
        "  utxos median {} vs {}, wallet median {} vs {} (large vs small)",
        ms(big_utxos.median()),
        ms(small_utxos.median()),
        ms(big_wallet.median()),
        ms(small_wallet.median())
    );

    let targets = Arc::new(Targets {
        peer: source.base.clone(),
        wallet: wallet.base.clone(),
        heights: height,
        addresses: chain_addresses.clone(),
    });
    let paces = reader_paces(readers, reader_rate, wallet_rate);

    eprintln!(
        "== idle: {readers} paced readers ({reader_rate}/s each, the wallet's {wallet_rate}/s) \
         and /healthz every 20 ms, {idle_seconds} s, on the source alone =="
    );
    let stop_idle = Arc::new(AtomicBool::new(false));
    let cpu_before = (
        source.cpu_seconds(),
        wallet.cpu_seconds(),
        keys.cpu_seconds(),
        own_cpu_seconds(),
        machine_ticks(),
    );
    let idle_started = Instant::now();
    let idle_tasks = start_readers(&http, &targets, &paces, &stop_idle);
    tokio::time::sleep(Duration::from_secs(idle_seconds)).await;
    stop_idle.store(true, Ordering::Relaxed);
    let idle_elapsed = idle_started.elapsed().as_secs_f64();
    let cpu_after = (
        source.cpu_seconds(),
        wallet.cpu_seconds(),
        keys.cpu_seconds(),
        own_cpu_seconds(),
        machine_ticks(),
    );
    let idle = collect_readers(idle_tasks).await;
    let share = |before: f64, after: f64| (after - before) / (idle_elapsed * cores()) * 100.0;
    let (peer_share, wallet_share, keys_share, driver_share) = (
        share(cpu_before.0, cpu_after.0),
        share(cpu_before.1, cpu_after.1),
        share(cpu_before.2, cpu_after.2),
        share(cpu_before.3, cpu_after.3),
    );
    let readers_share = peer_share + wallet_share + keys_share + driver_share;
    let machine_share = busy_share(cpu_before.4, cpu_after.4);
    eprintln!(
        "  the readers' load cost {readers_share:.0}% of the machine's {} cores (source peer \
         {peer_share:.0}%, wallet {wallet_share:.0}%, keys {keys_share:.0}%, load generator \
         {driver_share:.0}%); the machine was {machine_share:.0}% busy (anything else running \
         included)",
        cores()
    );
    for (read, outcomes) in &idle {
        eprintln!(
            "  {}: {} answers, median {}, p99 {}",
            read.label(),
            outcomes.latencies.ms.len(),
            ms(outcomes.latencies.median()),
            ms(outcomes.latencies.p99())
        );
    }
    report_errors("idle", &idle);

    eprintln!("== idle: a fresh peer syncs {height} blocks, nothing else running ==");
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

    eprintln!(
        "== load: sync + flood of {} items + the same {readers} readers + miner ==",
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
    let load_machine_before = machine_ticks();
    let load_driver_before = own_cpu_seconds();
    let deadline = load_started + Duration::from_secs(max_seconds);
    let stop_readers = Arc::new(AtomicBool::new(false));
    let stop_flood = Arc::new(AtomicBool::new(false));
    let miner_samples = tokio::spawn(sample_miner(
        http.clone(),
        miner.base.clone(),
        load_started,
        stop_readers.clone(),
    ));
    let reader_tasks = start_readers(&http, &targets, &paces, &stop_readers);
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
    let load_machine_share = busy_share(load_machine_before, machine_ticks());
    let load_driver_share = (own_cpu_seconds() - load_driver_before) / (load_s * cores()) * 100.0;
    let under_load = collect_readers(reader_tasks).await;
    let samples = miner_samples.await.expect("the miner sampler");
    let thirds = blocks_by_third(&samples, load_s);
    let source_hwm = source.memory_kib().hwm;
    let fresh_hwm = load_fresh.memory_kib().hwm;
    let final_chain: Option<ChainInfo> = source.chain(&http).await;
    eprintln!(
        "  load ran {load_s:.1} s; the source is at height {:?}; the machine was \
         {load_machine_share:.0}% busy, the load generator {load_driver_share:.0}% of it",
        final_chain.map(|c| c.height)
    );
    eprintln!("  flood answers (kind, status, code, count), {flood_failures} without an answer:");
    for ((kind, status, code), count) in &flood_answers {
        eprintln!("    {kind:<26} {status} {code:<16} {count}");
    }
    report_errors("load", &under_load);
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
        let idle = idle.get(&read).cloned().unwrap_or_default().latencies;
        let load = under_load.get(&read).cloned().unwrap_or_default().latencies;
        let ratio = load.p99() / idle.p99();
        rows.push(Row {
            measure: format!(
                "{} p99 ({} idle, {} load)",
                read.label(),
                idle.ms.len(),
                load.ms.len()
            ),
            idle: ms(idle.p99()),
            load: ms(load.p99()),
            ratio,
            target: "≤ 5",
            met: Some(ratio <= 5.0),
        });
    }
    let rate = |s: Option<f64>| s.map_or(f64::NAN, |s| f64::from(height) / s);
    let sync_ratio = rate(load_sync_s) / rate(idle_sync_s);
    rows.push(Row {
        measure: format!("sync of {height} blocks (blocks/s; idle: no load)"),
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
    let reader_errors = |by_read: &BTreeMap<Read, Outcomes>| {
        by_read
            .values()
            .map(|o| (o.latencies.server_errors, o.latencies.failures))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    };
    let (idle_5xx, idle_unanswered) = reader_errors(&idle);
    let (load_5xx, load_unanswered) = reader_errors(&under_load);
    let flood_5xx: u64 = flood_answers
        .iter()
        .filter(|((_, status, _), _)| *status >= 500)
        .map(|(_, count)| count)
        .sum();
    let server_errors = idle_5xx + load_5xx + flood_5xx;
    let no_answer = idle_unanswered + load_unanswered + flood_failures;
    rows.push(Row {
        measure: "5xx answers / requests without an answer".into(),
        idle: format!("{idle_5xx} / {idle_unanswered}"),
        load: format!(
            "{} / {}",
            load_5xx + flood_5xx,
            load_unanswered + flood_failures
        ),
        ratio: f64::NAN,
        target: "0",
        met: Some(server_errors == 0 && no_answer == 0),
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
        "idle = the same {readers} open-loop readers ({reader_rate}/s each, GET /wallet's \
         {wallet_rate}/s; Poisson, latency from the scheduled send) and GET /healthz every 20 ms \
         on the source for {idle_seconds} s, with no sync, flood or miner (they cost \
         {readers_share:.0}% of the {} cores); load = the same readers with the sync, flood and \
         miner; the sync's idle is the same sync with nothing else running; index rows: \
         large ÷ small peer, alternating rounds, source quiet",
        cores()
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
