//! The attacks of issue 12, replayed against real `mycoind` processes (`scripts/attack.sh`,
//! docs/BENCHMARKS.md, "Attacks"). A benchmark, never a test: each attack prints one row
//! (requests sent, refused with a 4xx, accepted, resident memory before → after, the `/healthz`
//! p99 during the attack against the same node idle, the target and whether it was met) and
//! the run exits 0 whatever the verdicts (non-zero only when the run itself breaks).
//!
//! Each attack starts a fresh `mycoind` (peer, keys, wallet and miner in one process, so that
//! its memory is the stack's) on regtest (the lying peer: on demo), with a known API token:
//!
//! 1. **Writes without a token**: `POST /keys`, `/wallet/addresses`, `/miner/start`, `/miner/stop`
//!    (`text/plain`, as a cross-site form post), `/peers` and `/mine`, half without a token and
//!    half with a wrong one. Target: all 401, and no key, peer, block or running miner more.
//! 2. **A foreign `Host`** (DNS rebinding): reads (`GET /chain`, `/peers`, `/keys`, `/wallet`)
//!    and writes with the right token (`POST /keys`, `/peers`, `/miner/stop`). Target: all 421
//!    or 403, no key more.
//! 3. **Fees.** (a) Transactions paying no fee, less than the minimum fee rate, or with a dust
//!    output. Target: all 422 `fee_too_low` / `dust`, the mempool empty. (b) A flood of valid
//!    paying transactions (60 outputs each, fee rates 1–40 units a byte) worth more bytes than
//!    the node's `--mempool-max-bytes`. Target: the pool's bytes (sampled) never above the cap,
//!    its minimum fee rate raised, resident memory up by at most 64 MiB.
//! 4. **Peer-book junk**: `POST /peers` (with the token) of junk URLs, then orphan blocks whose
//!    `X-Mycoin-Peer` names junk (first), against a node configured with a live peer; then a
//!    second live peer is added. Target: the book holds at most 64, the configured peer stays, the live one
//!    is added.
//! 5. **Big orphans**: blocks of ~0.9 MB (ten transactions of one-unit outputs, each under the
//!    100 kB limit), valid proof of work, unknown parents. Target: the orphan pool's bytes (`/metrics`, sampled) never above
//!    `--orphan-max-bytes`, memory up by at most 2 × the cap + 32 MiB.
//! 6. **Bad proof of work**: distinct blocks on the tip whose proof of work fails, more than the
//!    refused set holds. Target: all refused, memory up by at most 32 MiB.
//! 7. **A lying peer**: a miner and a follower on demo (the follower lists the miner); the
//!    follower's lag (miner's height − its height, sampled every 0.5 s) without a liar, then with
//!    a liar attached (`POST /peers`): a server in this example that claims a huge `total_work`
//!    on `GET /chain` and stalls (or answers garbage) on `POST /sync`. Target: median and p95 of
//!    the lag with the liar ≤ 2 × those without (each at least 1 block: the sampling's grain).
//! 8. Time warp: consensus, tested in the core (`shared/`); not replayed here.
//!
//! Settings (environment, defaults in brackets): `ATTACK_ONLY` (e.g. `1,2,7`; all), `ATTACK_NO_TOKEN`
//! [300 per endpoint], `ATTACK_HOST` [200 per request kind], `ATTACK_BAD_FEE` [500 per kind],
//! `ATTACK_FLOOD_TXS` [2000], `ATTACK_MEMPOOL_MAX_BYTES` [2 MiB], `ATTACK_JUNK_PEERS` [500],
//! `ATTACK_JUNK_ORPHANS` [200], `ATTACK_ORPHANS` [300], `ATTACK_ORPHAN_MAX_BYTES` [16 MiB],
//! `ATTACK_BAD_POW` [60000], `ATTACK_LAG_SECONDS` [60 per phase], `ATTACK_LAG_WARMUP` [15],
//! `ATTACK_LIAR` [`stall,garbage`], `ATTACK_CONNECTIONS` [8], `ATTACK_MAX_SECONDS` [180 per
//! attack's requests], `ATTACK_IDLE_REQUESTS` [200], `BENCH_LOG` [warn], `ATTACK_KEEP=1` (keep
//! the run's directory and logs).
//!
//! ```sh
//! cargo build --release -p mycoind -p mycoin-peer --example attack_bench
//! ATTACK_ONLY=1,2 target/release/examples/attack_bench
//! ```

mod bench;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench::{
    Answers, Latencies, Memory, Request, Stack, get_json, idle_healthz, key, quantile,
    sample_healthz, send_each, setting, solve, spend_to,
};
use mycoin_api::miner::MinerStatus;
use mycoin_api::paths;
use mycoin_api::peer::{BlockTemplate, ChainInfo, MempoolView, PeerView, decode_hex, encode_hex};
use mycoin_core::{
    Address, Amount, Block, BlockHash, Encode, Header, Network, OutPoint, Transaction, TxOut,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "attack-bench-token-0123456789abcdef";
const MIB: f64 = 1024.0 * 1024.0;
/// Outputs of each fan-out transaction (one coinbase → this many coins to flood with).
const FAN_OUT: usize = 200;
/// Outputs of each transaction of the mempool flood (about 1.8 kB each).
const FLOOD_OUTPUTS: usize = 60;
/// The peer book's bound on main (`mycoin_peer::configuration::MAX_PEERS`).
const MAX_PEERS: usize = mycoin_peer::configuration::MAX_PEERS;

/// What the run shares: the HTTP client, the run's directory, and the settings.
struct Run {
    http: reqwest::Client,
    dir: tempfile::TempDir,
    idle_requests: u64,
    connections: usize,
    max_seconds: u64,
}

/// One row of the table, and a line of notes under it.
struct Row {
    attack: String,
    sent: String,
    refused: String,
    accepted: String,
    other: String,
    rss: String,
    healthz: String,
    target: &'static str,
    met: Option<bool>,
    notes: String,
}

/// An attack's requests and what the node did meanwhile.
#[derive(Default)]
struct Measured {
    answers: Answers,
    failures: u64,
    before: Option<Memory>,
    after: Option<Memory>,
    idle: Latencies,
    during: Latencies,
    /// The largest mempool bytes and orphan-pool bytes seen while sampling.
    max_mempool_bytes: u64,
    max_orphan_bytes: u64,
    seconds: f64,
}

impl Measured {
    /// `self`, then `later` on the same node: one measure of both.
    fn then(mut self, later: Measured) -> Measured {
        for (key, n) in later.answers {
            *self.answers.entry(key).or_default() += n;
        }
        self.failures += later.failures;
        self.after = later.after;
        self.during.merge(later.during);
        self.max_mempool_bytes = self.max_mempool_bytes.max(later.max_mempool_bytes);
        self.max_orphan_bytes = self.max_orphan_bytes.max(later.max_orphan_bytes);
        self.seconds += later.seconds;
        self
    }

    fn count(&self, keep: impl Fn(&(&'static str, u16, String)) -> bool) -> u64 {
        self.answers
            .iter()
            .filter(|(key, _)| keep(key))
            .map(|(_, n)| n)
            .sum()
    }
    fn sent(&self) -> u64 {
        self.count(|_| true) + self.failures
    }
    fn refused(&self) -> u64 {
        self.count(|(_, status, _)| (400..500).contains(status))
    }
    fn accepted(&self) -> u64 {
        self.count(|(_, status, _)| (200..300).contains(status))
    }
    fn other(&self) -> u64 {
        self.sent() - self.refused() - self.accepted()
    }
    fn rss(&self) -> String {
        match (self.before, self.after) {
            (Some(b), Some(a)) => format!(
                "{:.1} → {:.1}",
                b.rss as f64 / 1024.0,
                a.rss as f64 / 1024.0
            ),
            _ => "-".into(),
        }
    }
    fn growth_mib(&self) -> f64 {
        match (self.before, self.after) {
            (Some(b), Some(a)) => (a.rss as f64 - b.rss as f64) / 1024.0,
            _ => f64::NAN,
        }
    }
    fn healthz(&self) -> String {
        format!("{:.2} → {:.2}", self.idle.p99(), self.during.p99())
    }
    /// The answers, one `kind status code: n` each, for the notes.
    fn breakdown(&self) -> String {
        let mut parts: Vec<String> = self
            .answers
            .iter()
            .map(|((kind, status, code), n)| {
                let code = if code.is_empty() {
                    String::new()
                } else {
                    format!(" {code}")
                };
                format!("{kind} {status}{code}: {n}")
            })
            .collect();
        if self.failures > 0 {
            parts.push(format!("no answer: {}", self.failures));
        }
        parts.join("; ")
    }
    fn row(&self, attack: &str, target: &'static str, met: bool, notes: String) -> Row {
        Row {
            attack: attack.to_owned(),
            sent: self.sent().to_string(),
            refused: self.refused().to_string(),
            accepted: self.accepted().to_string(),
            other: self.other().to_string(),
            rss: self.rss(),
            healthz: self.healthz(),
            target,
            met: Some(met),
            notes,
        }
    }
}

impl Run {
    /// A fresh regtest (or demo) stack named `name`.
    async fn stack(&self, name: &'static str, network: &str, extra: &[String]) -> Stack {
        let dir = self.dir.path().join(name);
        Stack::start(&self.http, name, network, &dir, TOKEN, extra).await
    }

    /// The node idle (its `/healthz` p99 and memory), then `requests` made by `make` sent over
    /// the run's connections while `/healthz`, `GET /mempool` and `/metrics` are sampled.
    async fn attack(
        &self,
        stack: &Stack,
        count: usize,
        make: impl Fn(usize) -> Request + Send + Sync + 'static,
    ) -> Measured {
        let http = &self.http;
        let mut measured = Measured {
            idle: idle_healthz(http, stack.peer(), self.idle_requests).await,
            before: Some(stack.process.memory_kib()),
            ..Measured::default()
        };
        let stop_probe = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let probe = tokio::spawn(sample_healthz(
            http.clone(),
            stack.peer().to_owned(),
            stop_probe.clone(),
        ));
        let pools = tokio::spawn(sample_pools(
            http.clone(),
            stack.peer().to_owned(),
            stop_probe.clone(),
        ));
        let timer = {
            let (stop, limit) = (stop.clone(), Duration::from_secs(self.max_seconds));
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                stop.store(true, Ordering::Relaxed);
            })
        };
        let started = Instant::now();
        let (answers, failures) =
            send_each(http.clone(), count, self.connections, stop.clone(), make).await;
        measured.seconds = started.elapsed().as_secs_f64();
        timer.abort();
        if stop.load(Ordering::Relaxed) {
            eprintln!(
                "  stopped after {} s (ATTACK_MAX_SECONDS)",
                self.max_seconds
            );
        }
        // A moment for work the requests queued (relays, syncs with junk peers) to show.
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop_probe.store(true, Ordering::Relaxed);
        measured.during = probe.await.expect("the /healthz probe");
        (measured.max_mempool_bytes, measured.max_orphan_bytes) =
            pools.await.expect("the pool sampler");
        measured.after = Some(stack.process.memory_kib());
        measured.answers = answers;
        measured.failures = failures;
        eprintln!(
            "  {} requests in {:.2} s: {}",
            measured.sent(),
            measured.seconds,
            measured.breakdown()
        );
        measured
    }
}

impl Run {
    /// [`Run::attack`] on a node whose keys, peers, height and miner must not change, every
    /// answer `refused`: the row of attacks 1 and 2.
    async fn unchanged(
        &self,
        stack: &Stack,
        count: usize,
        make: impl Fn(usize) -> Request + Send + Sync + 'static,
        (attack, target): (&str, &'static str),
        refused: impl Fn(u16) -> bool,
    ) -> Row {
        let before = footprint(&self.http, stack).await;
        let measured = self.attack(stack, count, make).await;
        let after = footprint(&self.http, stack).await;
        let all_refused = measured.count(|(_, status, _)| refused(*status)) == measured.sent();
        measured.row(
            attack,
            target,
            all_refused && before == after,
            format!(
                "before {before:?}, after {after:?}; {}",
                measured.breakdown()
            ),
        )
    }
}

/// `/metrics` gauge whose name ends with `suffix` (e.g. `orphan_bytes`).
async fn metric(http: &reqwest::Client, base: &str, suffix: &str) -> Option<f64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.split_once(' ')?;
        let name = name.split('{').next()?;
        name.ends_with(suffix)
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// The largest mempool bytes (`GET /mempool`) and orphan-pool bytes (`/metrics`) seen, every
/// 100 ms until `stop`.
async fn sample_pools(http: reqwest::Client, base: String, stop: Arc<AtomicBool>) -> (u64, u64) {
    let (mut mempool, mut orphans) = (0u64, 0u64);
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if let Ok(response) = http
            .get(format!("{base}{}", paths::peer::MEMPOOL))
            .send()
            .await
            && let Ok(view) = response.json::<MempoolView>().await
        {
            mempool = mempool.max(view.bytes as u64);
        }
        if let Some(bytes) = metric(&http, &base, "orphan_bytes").await {
            orphans = orphans.max(bytes as u64);
        }
        if stopping {
            return (mempool, orphans);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn regtest_address(i: usize) -> String {
    Address::new(Network::Regtest, key(i).public_key().pubkey_hash()).to_string()
}

/// What an attack must not change: keys, peers, height, a running miner.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    keys: usize,
    peers: usize,
    height: u32,
    mining: bool,
}

async fn footprint(http: &reqwest::Client, stack: &Stack) -> Footprint {
    let keys: Vec<serde_json::Value> =
        get_json(http, &format!("{}{}", stack.keys, paths::keys::KEYS)).await;
    let peers: Vec<PeerView> =
        get_json(http, &format!("{}{}", stack.peer(), paths::peer::PEERS)).await;
    let chain: ChainInfo = get_json(http, &format!("{}{}", stack.peer(), paths::peer::CHAIN)).await;
    let miner: MinerStatus =
        get_json(http, &format!("{}{}", stack.miner, paths::miner::MINER)).await;
    Footprint {
        keys: keys.len(),
        peers: peers.len(),
        height: chain.height,
        mining: miner.running,
    }
}

/// 1: every write without a token, or with a wrong one.
async fn no_token(run: &Run) -> Row {
    let per_endpoint = setting("ATTACK_NO_TOKEN", 300);
    eprintln!("== 1: writes without a token ({per_endpoint} per endpoint) ==");
    let stack = run.stack("no-token", "regtest", &[]).await;
    // One key made with the token first, so that "nothing made" is not "nothing there".
    let made = run
        .http
        .post(format!("{}{}", stack.keys, paths::keys::KEYS))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("POST /keys");
    assert!(made.status().is_success(), "POST /keys: {}", made.status());
    let attacker = regtest_address(7);
    let (peer, keys, wallet, miner) = stack.urls();
    let make = move |n: usize| {
        let endpoint = n % 6;
        let request = match endpoint {
            0 => Request::post_empty("POST /keys", format!("{keys}{}", paths::keys::KEYS)),
            1 => Request::post_empty(
                "POST /wallet/addresses",
                format!("{wallet}{}", paths::wallet::ADDRESSES),
            ),
            2 => Request::post_json(
                "POST /miner/start",
                format!("{miner}{}", paths::miner::START),
                json!({ "address": attacker }).to_string(),
            ),
            3 => Request::post_text(
                "POST /miner/stop (text/plain)",
                format!("{miner}{}", paths::miner::STOP),
            ),
            4 => Request::post_json(
                "POST /peers",
                format!("{peer}{}", paths::peer::PEERS),
                json!({ "url": format!("http://127.0.0.1:{}", 1 + n % 60_000) }).to_string(),
            ),
            _ => Request::post_json(
                "POST /mine",
                format!("{miner}{}", paths::miner::MINE),
                json!({ "address": attacker }).to_string(),
            ),
        };
        // Every other round with a wrong token instead of none.
        if (n / 6) % 2 == 1 {
            request.with_header("authorization", "Bearer not-the-token")
        } else {
            request
        }
    };
    run.unchanged(
        &stack,
        (per_endpoint * 6) as usize,
        make,
        ("1 writes without a token", "all 401, nothing made"),
        |status| status == 401,
    )
    .await
}

/// 2: a foreign `Host` on reads, and on writes with the right token.
async fn foreign_host(run: &Run) -> Row {
    let per_kind = setting("ATTACK_HOST", 200);
    eprintln!("== 2: a foreign Host header ({per_kind} per request kind) ==");
    let stack = run.stack("host", "regtest", &[]).await;
    let (peer, keys, wallet, miner) = stack.urls();
    let make = move |n: usize| {
        let bearer = format!("Bearer {TOKEN}");
        let request = match n % 7 {
            0 => Request::get("GET /chain", format!("{peer}{}", paths::peer::CHAIN)),
            1 => Request::get("GET /peers", format!("{peer}{}", paths::peer::PEERS)),
            2 => Request::get("GET /keys", format!("{keys}{}", paths::keys::KEYS)),
            3 => Request::get("GET /wallet", format!("{wallet}{}", paths::wallet::WALLET)),
            4 => Request::post_empty("POST /keys +token", format!("{keys}{}", paths::keys::KEYS))
                .with_header("authorization", bearer),
            5 => Request::post_json(
                "POST /peers +token",
                format!("{peer}{}", paths::peer::PEERS),
                json!({ "url": "http://127.0.0.1:9" }).to_string(),
            )
            .with_header("authorization", bearer),
            _ => Request::post_text(
                "POST /miner/stop +token (text/plain)",
                format!("{miner}{}", paths::miner::STOP),
            )
            .with_header("authorization", bearer),
        };
        // A rebinding page's name, with and without the service's port.
        let port = request
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.split('/').next());
        let host = match (n / 7 % 2, port) {
            (0, Some(port)) => format!("attacker.example:{port}"),
            _ => "rebind.attacker.example".to_owned(),
        };
        request.with_header("host", host)
    };
    run.unchanged(
        &stack,
        (per_kind * 7) as usize,
        make,
        ("2 foreign Host", "all 421/403"),
        |status| status == 421 || status == 403,
    )
    .await
}

/// A mature coin of the attacker's key 0.
#[derive(Debug, Clone, Copy)]
struct Coin {
    outpoint: OutPoint,
    units: u64,
}

fn tx_body(tx: &Transaction) -> String {
    json!({ "hex": encode_hex(tx) }).to_string()
}

/// Pays `to` (to key 0) out of `coin`, at `rate_per_kb` (fee = ⌈rate × size / 1000⌉), the
/// rest split evenly over `outputs` outputs; `dust` adds one output of that many units.
fn pay(coin: Coin, outputs: usize, rate_per_kb: u64, dust: Option<u64>) -> Transaction {
    let owner = key(0);
    let hash = owner.public_key().pubkey_hash();
    let build = |fee: u64| {
        let extra = dust.unwrap_or(0);
        let each = (coin.units - fee - extra) / outputs as u64;
        let mut outs: Vec<TxOut> = (0..outputs)
            .map(|_| TxOut {
                amount: Amount::from_units(each).expect("an amount"),
                pubkey_hash: hash,
            })
            .collect();
        if let Some(units) = dust {
            outs.push(TxOut {
                amount: Amount::from_units(units).expect("an amount"),
                pubkey_hash: hash,
            });
        }
        spend_to(coin.outpoint, &owner, &owner, outs)
    };
    let size = build(0).to_bytes().len() as u64;
    build((rate_per_kb * size).div_ceil(1000))
}

/// Mines `blocks` blocks paying key 0 through the stack's miner (`POST /mine`).
async fn mine(run: &Run, stack: &Stack, blocks: usize) {
    for _ in 0..blocks {
        let response = run
            .http
            .post(format!("{}{}", stack.miner, paths::miner::MINE))
            .bearer_auth(TOKEN)
            .json(&json!({ "address": regtest_address(0) }))
            .send()
            .await
            .expect("POST /mine");
        assert!(
            response.status().is_success(),
            "POST /mine: {}",
            response.status()
        );
    }
}

async fn mempool(http: &reqwest::Client, stack: &Stack) -> MempoolView {
    get_json(http, &format!("{}{}", stack.peer(), paths::peer::MEMPOOL)).await
}

/// Coins for attack 3: `coinbases` coinbases of key 0 each fanned out to `FAN_OUT` outputs,
/// confirmed.
async fn fan_out(run: &Run, stack: &Stack, coinbases: usize) -> Vec<Coin> {
    // Maturity is 1 block on regtest: one more block, and one for the fan-outs.
    mine(run, stack, coinbases + 1).await;
    let utxos: Vec<mycoin_api::peer::UtxoView> = get_json(
        &run.http,
        &format!(
            "{}{}",
            stack.peer(),
            paths::peer::utxos_raw(&regtest_address(0))
        ),
    )
    .await;
    let mut coins = Vec::new();
    for utxo in utxos.iter().filter(|u| u.mature).take(coinbases) {
        let coin = Coin {
            outpoint: OutPoint::new(utxo.txid, utxo.vout),
            units: utxo.amount,
        };
        let tx = pay(coin, FAN_OUT, 2000, None);
        let response = run
            .http
            .post(format!("{}{}", stack.peer(), paths::peer::TRANSACTIONS))
            .header("content-type", "application/json")
            .body(tx_body(&tx))
            .send()
            .await
            .expect("POST /transactions");
        let status = response.status();
        assert!(
            status.is_success(),
            "fan-out: {status} {}",
            response.text().await.unwrap_or_default()
        );
        let txid = tx.txid();
        coins.extend(tx.outputs.iter().enumerate().map(|(vout, out)| Coin {
            outpoint: OutPoint::new(txid, vout as u32),
            units: out.amount.units(),
        }));
    }
    mine(run, stack, 1).await;
    let pool = mempool(&run.http, stack).await;
    assert_eq!(pool.count, 0, "the fan-outs were mined");
    coins
}

/// 3a and 3b: fees and dust refused; a flood beyond the mempool's cap.
async fn fees(run: &Run) -> Vec<Row> {
    let bad_per_kind = setting("ATTACK_BAD_FEE", 500);
    let flood_txs = setting("ATTACK_FLOOD_TXS", 2000);
    let cap = setting("ATTACK_MEMPOOL_MAX_BYTES", 2 << 20);
    eprintln!(
        "== 3: fees: {bad_per_kind} per bad kind; a flood of {flood_txs} paying transactions, cap {cap} bytes =="
    );
    let stack = run
        .stack(
            "fees",
            "regtest",
            &["--mempool-max-bytes".to_owned(), cap.to_string()],
        )
        .await;
    let started = Instant::now();
    let coins = Arc::new(fan_out(run, &stack, (flood_txs as usize).div_ceil(FAN_OUT).max(1)).await);
    eprintln!(
        "  {} coins ready in {:.1} s",
        coins.len(),
        started.elapsed().as_secs_f64()
    );

    // 3a: no fee, half the minimum rate (1 unit a byte = 1000 a kB), a dust output.
    let peer = stack.peer().to_owned();
    let bad = {
        let (coins, peer) = (coins.clone(), peer.clone());
        move |n: usize| {
            let coin = coins[n % coins.len()];
            let (kind, tx) = match n % 3 {
                0 => ("fee 0", pay(coin, 1, 0, None)),
                1 => ("fee 0.5/byte", pay(coin, 1, 500, None)),
                _ => ("dust output (100 units)", pay(coin, 1, 2000, Some(100))),
            };
            Request::post_json(
                kind,
                format!("{peer}{}", paths::peer::TRANSACTIONS),
                tx_body(&tx),
            )
        }
    };
    let measured = run.attack(&stack, (bad_per_kind * 3) as usize, bad).await;
    let pool = mempool(&run.http, &stack).await;
    let expected = measured.count(|(kind, status, code)| {
        *status == 422
            && match *kind {
                "dust output (100 units)" => code == "dust",
                _ => code == "fee_too_low",
            }
    });
    let row_a = measured.row(
        "3a fee 0 / low fee / dust",
        "all 422 fee_too_low/dust",
        expected == measured.sent() && pool.count == 0,
        format!(
            "mempool after: {} transactions; {}",
            pool.count,
            measured.breakdown()
        ),
    );

    // 3b: the flood, fee rates spread over 1..=40 units a byte.
    let rate_before = mempool(&run.http, &stack).await.min_fee_rate_per_kb;
    let flood = {
        let (coins, peer) = (coins.clone(), peer.clone());
        move |n: usize| {
            let coin = coins[n % coins.len()];
            let rate = 1000 * (1 + (n as u64 * 7919) % 40);
            let tx = pay(coin, FLOOD_OUTPUTS, rate, None);
            Request::post_json(
                "paying tx",
                format!("{peer}{}", paths::peer::TRANSACTIONS),
                tx_body(&tx),
            )
        }
    };
    let count = (flood_txs as usize).min(coins.len());
    let flood_bytes = count * pay(coins[0], FLOOD_OUTPUTS, 1000, None).to_bytes().len();
    let measured = run.attack(&stack, count, flood).await;
    let pool = mempool(&run.http, &stack).await;
    let max_bytes = measured.max_mempool_bytes.max(pool.bytes as u64);
    let growth = measured.growth_mib();
    let met = max_bytes <= cap && pool.min_fee_rate_per_kb > rate_before && growth <= 64.0;
    let row_b = measured.row(
        "3b flood > mempool cap",
        "bytes ≤ cap, rate up, +≤64 MiB",
        met,
        format!(
            "flood {:.2} MiB against a cap of {:.2} MiB; mempool bytes max {} (final {} in {} txs, max_bytes {}); min fee rate {} → {} per kB; RSS {:+.1} MiB; {}",
            flood_bytes as f64 / MIB,
            cap as f64 / MIB,
            max_bytes,
            pool.bytes,
            pool.count,
            pool.max_bytes,
            rate_before,
            pool.min_fee_rate_per_kb,
            growth,
            measured.breakdown()
        ),
    );
    vec![row_a, row_b]
}

/// `count` one-unit outputs paying key 0.
fn unit_outputs(count: usize) -> Vec<TxOut> {
    let hash = key(0).public_key().pubkey_hash();
    (0..count)
        .map(|_| TxOut {
            amount: Amount::from_units(1).expect("one unit"),
            pubkey_hash: hash,
        })
        .collect()
}

/// The body of a big orphan: a coinbase of 3,000 one-unit outputs, then `spends` transactions
/// of 3,300 one-unit outputs each (about 92 kB, under the 100 kB limit on a transaction),
/// each spending an output nobody has seen, signed by its key: about 0.9 MB with 9.
fn big_body(spends: usize) -> Vec<Transaction> {
    let owner = key(0);
    let mut transactions = vec![Transaction::coinbase(1, 0, unit_outputs(3_000))];
    for i in 0..spends {
        let mut missing = [0xb1u8; 32];
        missing[0] = i as u8;
        transactions.push(spend_to(
            OutPoint::new(mycoin_core::Txid(missing), 0),
            &owner,
            &owner,
            unit_outputs(3_300),
        ));
    }
    transactions
}

/// A block of `transactions` on `prev` (unknown to the node: an orphan), its proof of work
/// solved.
fn orphan(prev: BlockHash, transactions: Vec<Transaction>) -> Block {
    let params = Network::Regtest.params();
    let mut block = Block {
        header: Header {
            version: Header::VERSION,
            prev_hash: prev,
            merkle_root: Default::default(),
            time: bench::now(),
            bits: params.pow_limit,
            nonce: 0,
        },
        transactions,
    };
    block.header.merkle_root = block.compute_merkle_root().0;
    solve(&mut block, &params);
    block
}

/// A parent hash no node knows: `n` and a tag in its bytes.
fn unknown_parent(n: usize, tag: u8) -> BlockHash {
    let mut bytes = [tag; 32];
    bytes[..8].copy_from_slice(&(n as u64).to_le_bytes());
    BlockHash(bytes)
}

/// 4: junk in the peer book, by `POST /peers` and by orphan blocks' `X-Mycoin-Peer`.
async fn peer_junk(run: &Run) -> Row {
    let junk_peers = setting("ATTACK_JUNK_PEERS", 500);
    let junk_orphans = setting("ATTACK_JUNK_ORPHANS", 200);
    eprintln!("== 4: peer-book junk: {junk_peers} POST /peers, {junk_orphans} orphans ==");
    let configured = run.stack("configured-peer", "regtest", &[]).await;
    let stack = run
        .stack(
            "book",
            "regtest",
            &["--peer".to_owned(), configured.peer().to_owned()],
        )
        .await;
    let peer = stack.peer().to_owned();
    let orphans = {
        let peer = peer.clone();
        move |n: usize| {
            let coinbase = Transaction::coinbase(1000 + n as u32, 0, unit_outputs(1));
            let block = orphan(unknown_parent(n, 0x4a), vec![coinbase]);
            Request::post_json(
                "orphan with junk X-Mycoin-Peer",
                format!("{peer}{}", paths::peer::BLOCKS),
                json!({ "hex": encode_hex(&block) }).to_string(),
            )
            .with_header(
                "x-mycoin-peer",
                format!("http://198.51.100.{}:{}", n % 250 + 1, 9000 + n % 1000),
            )
        }
    };
    let by_header = run.attack(&stack, junk_orphans as usize, orphans).await;
    let book: Vec<PeerView> = get_json(&run.http, &format!("{peer}{}", paths::peer::PEERS)).await;
    let after_orphans = book.len();
    let posts = move |n: usize| {
        // Closed loopback ports (refused at once) and TEST-NET addresses (never answer).
        let url = if n.is_multiple_of(2) {
            format!("http://127.0.0.1:{}", 20_000 + n % 40_000)
        } else {
            format!("http://192.0.2.{}:{}", n % 250 + 1, 8001 + n % 1000)
        };
        Request::post_json(
            "POST /peers junk",
            format!("{peer}{}", paths::peer::PEERS),
            json!({ "url": url }).to_string(),
        )
        .with_header("authorization", format!("Bearer {TOKEN}"))
    };
    let measured = by_header.then(run.attack(&stack, junk_peers as usize, posts).await);
    let live = run.stack("live-peer", "regtest", &[]).await;
    let add = run
        .http
        .post(format!("{}{}", stack.peer(), paths::peer::PEERS))
        .bearer_auth(TOKEN)
        .json(&json!({ "url": live.peer() }))
        .send()
        .await
        .expect("POST /peers");
    let add_status = add.status().as_u16();
    let add_body = add.text().await.unwrap_or_default();
    let book: Vec<PeerView> = get_json(
        &run.http,
        &format!("{}{}", stack.peer(), paths::peer::PEERS),
    )
    .await;
    let has = |url: &str| book.iter().any(|p| p.url == url);
    let (kept, added) = (has(configured.peer()), has(live.peer()));
    let met = book.len() <= MAX_PEERS && kept && added;
    let add_code = serde_json::from_str::<serde_json::Value>(&add_body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    measured.row(
        "4 peer-book junk",
        "book ≤ 64, configured kept, live added",
        met,
        format!(
            "book {after_orphans} entries after the orphans, {} at the end (bound {MAX_PEERS}); configured peer kept: {kept}; live peer POST /peers {add_status} {add_code}, listed: {added}; {}",
            book.len(),
            measured.breakdown()
        ),
    )
}

/// 5: orphans of ~0.9 MB.
async fn big_orphans(run: &Run) -> Row {
    let count = setting("ATTACK_ORPHANS", 300);
    let cap = setting("ATTACK_ORPHAN_MAX_BYTES", 16 << 20);
    eprintln!("== 5: {count} orphan blocks of ~0.9 MB, --orphan-max-bytes {cap} ==");
    let stack = run
        .stack(
            "orphans",
            "regtest",
            &["--orphan-max-bytes".to_owned(), cap.to_string()],
        )
        .await;
    let body = Arc::new(big_body(9));
    let size = orphan(unknown_parent(0, 0x0b), body.to_vec())
        .to_bytes()
        .len();
    eprintln!("  each orphan: {size} bytes");
    let peer = stack.peer().to_owned();
    let make = move |n: usize| {
        let block = orphan(unknown_parent(n, 0x0b), body.to_vec());
        Request::post_json(
            "orphan 0.9 MB",
            format!("{peer}{}", paths::peer::BLOCKS),
            json!({ "hex": encode_hex(&block) }).to_string(),
        )
    };
    let measured = run.attack(&stack, count as usize, make).await;
    let orphan_bytes = metric(&run.http, stack.peer(), "orphan_bytes")
        .await
        .unwrap_or(f64::NAN);
    let growth = measured.growth_mib();
    let bound = 2.0 * cap as f64 / MIB + 32.0;
    let met = measured.max_orphan_bytes <= cap && growth <= bound;
    measured.row(
        "5 orphans of 0.9 MB",
        "orphan bytes ≤ cap, RSS +≤ 2×cap+32 MiB",
        met,
        format!(
            "{} MB sent; orphan_bytes max {} (final {orphan_bytes}), cap {cap}; RSS {growth:+.1} MiB (bound {bound:.0}); peak {:.1} MiB; {}",
            (size as u64 * measured.sent()) / 1_000_000,
            measured.max_orphan_bytes,
            measured.after.map_or(f64::NAN, |m| m.hwm as f64 / 1024.0),
            measured.breakdown()
        ),
    )
}

/// 6: blocks whose proof of work fails, all distinct.
async fn bad_pow(run: &Run) -> Row {
    let count = setting("ATTACK_BAD_POW", 60_000);
    eprintln!("== 6: {count} blocks with bad proof of work ==");
    let stack = run.stack("bad-pow", "regtest", &[]).await;
    let template: BlockTemplate = get_json(
        &run.http,
        &format!(
            "{}{}?address={}",
            stack.peer(),
            paths::peer::TEMPLATE,
            regtest_address(0)
        ),
    )
    .await;
    let template: Block = decode_hex(&template.hex).expect("a template block");
    let bodies: Arc<Vec<String>> = Arc::new(
        bench::bad_pow_blocks(&template, count)
            .iter()
            .map(|b| json!({ "hex": encode_hex(b) }).to_string())
            .collect(),
    );
    let peer = stack.peer().to_owned();
    let make = move |n: usize| {
        Request::post_json(
            "bad proof of work",
            format!("{peer}{}", paths::peer::BLOCKS),
            bodies[n].clone(),
        )
    };
    let measured = run.attack(&stack, count as usize, make).await;
    let growth = measured.growth_mib();
    let met = measured.refused() == measured.sent() && growth <= 32.0;
    measured.row(
        "6 bad proof of work",
        "all refused, RSS +≤ 32 MiB",
        met,
        format!("RSS {growth:+.1} MiB; {}", measured.breakdown()),
    )
}

/// How the liar answers `POST /sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiarMode {
    /// Never: holds the connection open.
    Stall,
    /// At once, with a body that is no list of blocks.
    Garbage,
}

/// The lying peer: a tiny HTTP/1.1 server on loopback. `GET /chain` claims the network and
/// genesis of `truth` with a huge work; `POST /sync` stalls or answers garbage; anything else
/// gets 404. Counts the requests it served; aborting the task closes it.
async fn liar(
    mode: LiarMode,
    truth: ChainInfo,
    served: Arc<AtomicU64>,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the liar");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let chain = json!({
        "network": truth.network,
        "genesis": truth.genesis,
        "height": 10_000_000,
        "tip": "00000000000000000000000000000000000000000000000000000000000000aa",
        "total_work": "1000000000000000000000000000000000000",
        "mempool_size": 0,
        "orphans": 0,
    })
    .to_string();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let (chain, served) = (chain.clone(), served.clone());
            connections.spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                // The head; the body (if any) is not read.
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                served.fetch_add(1, Ordering::Relaxed);
                let line = String::from_utf8_lossy(&request);
                let first = line.lines().next().unwrap_or_default().to_owned();
                let (status, body) = if first.starts_with("GET /chain ") {
                    ("200 OK", chain)
                } else if first.starts_with("POST /sync ") {
                    match mode {
                        LiarMode::Stall => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        LiarMode::Garbage => ("200 OK", r#"{"blocks":"no"}"#.to_owned()),
                    }
                } else {
                    (
                        "404 Not Found",
                        r#"{"error":"not_found","message":"no"}"#.to_owned(),
                    )
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
            while connections.try_join_next().is_some() {}
        }
    });
    (url, task)
}

/// The follower's lag behind the miner, sampled every 0.5 s for `seconds`, and its `/healthz`.
async fn sample_lag(
    http: &reqwest::Client,
    miner: &Stack,
    follower: &Stack,
    seconds: u64,
) -> (Vec<f64>, Latencies) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(sample_healthz(
        http.clone(),
        follower.peer().to_owned(),
        stop.clone(),
    ));
    let mut lags = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let (m, f) = tokio::join!(miner.process.chain(http), follower.process.chain(http));
        if let (Some(m), Some(f)) = (m, f) {
            lags.push(f64::from(m.height.saturating_sub(f.height)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, Ordering::Relaxed);
    (lags, probe.await.expect("the /healthz probe"))
}

/// 7: a lying peer attached to an honest follower.
async fn lying_peer(run: &Run) -> Vec<Row> {
    let seconds = setting("ATTACK_LAG_SECONDS", 60);
    let warmup = setting("ATTACK_LAG_WARMUP", 15);
    let modes: Vec<LiarMode> = std::env::var("ATTACK_LIAR")
        .unwrap_or_else(|_| "stall,garbage".into())
        .split(',')
        .map(|m| match m.trim() {
            "stall" => LiarMode::Stall,
            "garbage" => LiarMode::Garbage,
            other => panic!("ATTACK_LIAR: {other} is neither stall nor garbage"),
        })
        .collect();
    eprintln!("== 7: a lying peer ({seconds} s a phase, {modes:?}) ==");
    let http = &run.http;
    let miner = run.stack("lag-miner", "demo", &["--mine".to_owned()]).await;
    let follower = run
        .stack(
            "lag-follower",
            "demo",
            &["--peer".to_owned(), miner.peer().to_owned()],
        )
        .await;
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let idle = idle_healthz(http, follower.peer(), run.idle_requests).await;
    let before = follower.process.memory_kib();
    eprintln!("  without a liar");
    let (base_lags, base_probe) = sample_lag(http, &miner, &follower, seconds).await;
    let (base_median, base_p95) = (quantile(&base_lags, 0.5), quantile(&base_lags, 0.95));
    eprintln!(
        "  lag median {base_median}, p95 {base_p95} ({} samples), /healthz p99 {:.2} ms",
        base_lags.len(),
        base_probe.p99()
    );
    let truth: ChainInfo = get_json(http, &format!("{}{}", miner.peer(), paths::peer::CHAIN)).await;
    let mut rows = Vec::new();
    for mode in modes {
        let served = Arc::new(AtomicU64::new(0));
        let (url, server) = liar(mode, truth.clone(), served.clone()).await;
        let attach = http
            .post(format!("{}{}", follower.peer(), paths::peer::PEERS))
            .bearer_auth(TOKEN)
            .json(&json!({ "url": url }))
            .send()
            .await
            .expect("POST /peers");
        let attach_status = attach.status().as_u16();
        eprintln!("  with a liar ({mode:?}) at {url}: POST /peers {attach_status}");
        let (lags, probe) = sample_lag(http, &miner, &follower, seconds).await;
        let after = follower.process.memory_kib();
        server.abort();
        let peers: Vec<PeerView> =
            get_json(http, &format!("{}{}", follower.peer(), paths::peer::PEERS)).await;
        let liar_view = peers.iter().find(|p| p.url == url);
        let (median, p95) = (quantile(&lags, 0.5), quantile(&lags, 0.95));
        let ratio_median = median / base_median.max(1.0);
        let ratio_p95 = p95 / base_p95.max(1.0);
        let met = ratio_median <= 2.0 && ratio_p95 <= 2.0;
        eprintln!("  lag median {median}, p95 {p95} ({} samples)", lags.len());
        rows.push(Row {
            attack: format!("7 lying peer ({})", format!("{mode:?}").to_lowercase()),
            sent: served.load(Ordering::Relaxed).to_string(),
            refused: "-".into(),
            accepted: "-".into(),
            other: "-".into(),
            rss: format!(
                "{:.1} → {:.1}",
                before.rss as f64 / 1024.0,
                after.rss as f64 / 1024.0
            ),
            healthz: format!("{:.2} → {:.2}", idle.p99(), probe.p99()),
            target: "lag ≤ 2 × no liar",
            met: Some(met),
            notes: format!(
                "follower's lag in blocks, median / p95: {base_median} / {base_p95} without a liar, {median} / {p95} with it (ratios {ratio_median:.1} / {ratio_p95:.1}, against at least 1 block); {} and {} samples of 0.5 s; miner at height {} at the end; 'sent' = requests the liar got; the follower listed it with penalty {:?}, banned until {:?}",
                base_lags.len(),
                lags.len(),
                miner
                    .process
                    .chain(http)
                    .await
                    .map_or(0, |c| c.height),
                liar_view.map(|p| p.penalty),
                liar_view.and_then(|p| p.banned_until),
            ),
        });
    }
    rows
}

/// 8: not replayed; the row says where it is tested.
fn time_warp() -> Row {
    Row {
        attack: "8 time warp".into(),
        sent: "-".into(),
        refused: "-".into(),
        accepted: "-".into(),
        other: "-".into(),
        rss: "-".into(),
        healthz: "-".into(),
        target: "not replayed (consensus test)",
        met: None,
        notes: "consensus, not policy: shared/tests/catalogue.rs \
                demo_time_warp_at_the_future_limit_is_held_by_the_clamp"
            .into(),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<26} {:>7} {:>7} {:>7} {:>5}  {:>15}  {:>17}  {:<40} met",
        "attack", "sent", "refused", "accepted", "other", "RSS MiB", "healthz p99 ms", "target"
    );
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "{:<26} {:>7} {:>7} {:>7} {:>5}  {:>15}  {:>17}  {:<40} {met}",
            row.attack,
            row.sent,
            row.refused,
            row.accepted,
            row.other,
            row.rss,
            row.healthz,
            row.target
        );
    }
    println!();
    for row in rows {
        if !row.notes.is_empty() {
            println!("{}: {}", row.attack, row.notes);
        }
    }
}

#[tokio::main]
async fn main() {
    let only: Option<Vec<String>> = std::env::var("ATTACK_ONLY").ok().map(|list| {
        list.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let chosen = |n: &str| only.as_ref().is_none_or(|list| list.iter().any(|s| s == n));
    let run = Run {
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client"),
        dir: tempfile::tempdir().expect("a temporary directory"),
        idle_requests: setting("ATTACK_IDLE_REQUESTS", 200),
        connections: setting("ATTACK_CONNECTIONS", 8) as usize,
        max_seconds: setting("ATTACK_MAX_SECONDS", 180),
    };
    let started = Instant::now();
    let mut rows = Vec::new();
    for attack in ["1", "2", "3", "4", "5", "6", "7", "8"] {
        if !chosen(attack) {
            continue;
        }
        rows.extend(match attack {
            "1" => vec![no_token(&run).await],
            "2" => vec![foreign_host(&run).await],
            "3" => fees(&run).await,
            "4" => vec![peer_junk(&run).await],
            "5" => vec![big_orphans(&run).await],
            "6" => vec![bad_pow(&run).await],
            "7" => lying_peer(&run).await,
            _ => vec![time_warp()],
        });
    }
    if std::env::var_os("ATTACK_KEEP").is_some() {
        let dir = run.dir.keep();
        eprintln!("  kept {}", dir.display());
    }
    println!(
        "attack benchmark: {} rows in {:.0} s; RSS of the whole mycoind (4 services), /healthz of its peer service",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    print_table(&rows);
}
