//! A fresh node syncing a long chain from a peer, and the peer's memory (benchmarks (f) and (g)
//! of docs/BENCHMARKS.md).
//!
//! 1. Builds (or reuses from `target/sync-bench/`) a regtest chain of N blocks of 10 spending
//!    transactions each (1 input, 1 or 2 outputs, real k256 signatures), after 10 coinbase-only
//!    blocks that pay the first coins, by calling the core directly: `Chain::submit_block` on a
//!    `SqlStore` over a SQLite file, mining by trying nonces against the core's proof-of-work
//!    check. The chain is cached, keyed by N, as `chain.sqlite` plus `blocks.bin` (the blocks'
//!    canonical encodings, each after its length as a little-endian u32).
//! 2. Measures, in this process and while no peer runs, the baselines: the k256 verification of
//!    every signature of the chain on one core (`PublicKey::verify` on this thread, txids computed
//!    beforehand; wall clock and the thread's CPU time), and `Chain::submit_blocks` of the same
//!    blocks into a fresh SQLite store and into a `MemoryStore` (no HTTP).
//! 3. Starts a peer on an empty store (its memory is the floor), then a real `mycoin-peer`
//!    process serving a copy of the chain (the source); times fetching the whole chain from it
//!    with `POST /sync` batches of 500, decoded but not validated (the transfer alone); then
//!    starts a fresh `mycoin-peer` on an empty SQLite store with `--peer` naming the source, and
//!    times from its start until its `GET /chain` tip is the source's.
//! 4. Reads both processes' resident memory (`VmRSS`, its peak `VmHWM`, and `RssAnon`), CPU time
//!    and bytes written to storage from `/proc/<pid>/`, stops them (SIGTERM), and verifies the
//!    signatures a second time: the verification rate is that of both passes, so that a change
//!    of the machine's load during the run weighs on both sides of the ratio.
//!
//! ```sh
//! cargo build --release -p mycoin-peer --bin mycoin-peer --example sync_bench
//! target/release/examples/sync_bench [N, default 10000]
//! ```
//!
//! Prints one line of `key=value` fields on stdout; progress goes to stderr. The main ones:
//! `sync_blocks_per_s` (blocks ÷ seconds from the fresh peer's start to the source's tip),
//! `verify_blocks_per_s` (signature verifications per second ÷ 10), `sync_ratio_verify` (their
//! ratio, target ≥ 0.5), `sync_cpu_ratio_verify` (the same on CPU time: blocks per CPU second of
//! the fresh peer, all its threads, ÷ blocks per CPU second of the verification, which does not
//! move with the load of a shared machine), `inprocess_blocks_per_s` / `inprocess_mem_blocks_per_s`
//! (`Chain::submit_blocks` on SQLite / in memory), `rss_kib` and `hwm_kib` (the fresh peer at the
//! end, target ≤ 64 MiB), `source_rss_kib` (the serving peer).
//!
//! `MYCOIN_PEER_BIN` overrides the peer binary (default: `mycoin-peer` next to the `examples`
//! directory this runs from); `SYNC_INTERVAL_MS` passes `--sync-interval-ms` to the fresh peer
//! (default: the peer's own); `SYNC_BENCH_KEEP=1` keeps the run's directory and the peers' logs;
//! `SYNC_BENCH_LOG` sets the peers' `RUST_LOG` (default `warn`); `SYNC_BENCH_SKIP_BASELINES=1`
//! measures the sync alone (for a profiler).

use std::collections::VecDeque;
use std::io::{BufWriter, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mycoin_api::peer::{BlockView, ChainInfo, SyncRequest};
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Amount, Block, BlockAccepted, BlockHash, Chain, ChainStore, Database, Encode, MemoryStore,
    Network, OutPoint, PrivateKey, PubKeyHash, PublicKey, Signature, SqlStore, Transaction, TxIn,
    TxOut, Txid, deserialize,
};
use mycoin_peer::p2p::SYNC_BATCH;

const NETWORK: Network = Network::Regtest;
/// Spending transactions per block.
const TX_PER_BLOCK: usize = 10;
/// Coinbase-only blocks mined first, so that the first full block has ten mature coins.
const SETUP_BLOCKS: u32 = TX_PER_BLOCK as u32;
/// Keys the coins are paid to, round robin.
const KEYS: usize = 16;
/// Bump when the generated chain changes, so that an old cache is not reused.
const CACHE_VERSION: u32 = 2;
/// Blocks asked for per `POST /sync` in the transfer-only measurement (the peer's own batch).
const FETCH_BATCH: u32 = 500;

fn key(i: usize) -> PrivateKey {
    let mut bytes = [0x5au8; 32];
    bytes[31] = i as u8 + 1;
    PrivateKey::from_bytes(&bytes).expect("a valid scalar")
}

/// A coin the generator can spend.
struct Spendable {
    outpoint: OutPoint,
    units: u64,
    key: usize,
}

fn now() -> u32 {
    u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("before 2106")
}

/// `target/` of the build this example runs from (it runs from `target/<profile>/examples/`).
fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
}

fn peer_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("MYCOIN_PEER_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    let profile_dir = exe
        .ancestors()
        .nth(2)
        .expect("target/<profile>/examples/<exe>");
    profile_dir.join("mycoin-peer")
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

async fn sql_chain(path: &Path) -> Chain<SqlStore> {
    let db = Database::connect(&sqlite_url(path)).await.unwrap();
    let store = SqlStore::open(db).await.unwrap();
    Chain::open(NETWORK.params(), store).await.unwrap()
}

/// Mines `transactions` (the coinbase first) on the tip of `chain`.
fn mine_on<S: ChainStore>(chain: &Chain<S>, transactions: Vec<Transaction>) -> Block {
    let params = chain.params();
    let tip = chain.tip();
    let context = chain.header_context(&tip.hash).expect("the tip is known");
    let mut block = Block {
        header: mycoin_core::Header {
            version: mycoin_core::Header::VERSION,
            prev_hash: tip.hash,
            merkle_root: Default::default(),
            // One second a block from genesis: always after the median of the last blocks.
            time: params.genesis_time + context.height,
            bits: context.expected_bits,
            nonce: 0,
        },
        transactions,
    };
    block.header.merkle_root = block.compute_merkle_root().0;
    while check_proof_of_work(&block, params).is_err() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
    block
}

/// Builds the chain into `dir` (`chain.sqlite`, `blocks.bin`).
async fn generate(dir: &Path, full_blocks: u32) {
    let params = NETWORK.params();
    assert!(
        u64::from(params.genesis_time) + u64::from(full_blocks + SETUP_BLOCKS)
            <= u64::from(now()) + u64::from(params.max_future_block_time()),
        "the chain's block times would lie in the future"
    );
    let keys: Vec<PrivateKey> = (0..KEYS).map(key).collect();
    let hashes: Vec<PubKeyHash> = keys.iter().map(|k| k.public_key().pubkey_hash()).collect();
    let mut chain = sql_chain(&dir.join("chain.sqlite")).await;
    let mut out = BufWriter::new(std::fs::File::create(dir.join("blocks.bin")).unwrap());
    let mut pool: VecDeque<Spendable> = VecDeque::new();
    let mut next_key = 0usize;
    let started = Instant::now();
    for n in 0..SETUP_BLOCKS + full_blocks {
        let height = chain.height() + 1;
        let mut transactions = Vec::with_capacity(TX_PER_BLOCK + 1);
        let mut created = Vec::new();
        if n >= SETUP_BLOCKS {
            for j in 0..TX_PER_BLOCK {
                let coin = pool.pop_front().expect("enough mature coins");
                let mut pays = |units: u64| {
                    let k = next_key % KEYS;
                    next_key += 1;
                    (units, k)
                };
                // Even positions split the coin in two, odd ones move it whole: 1-2 outputs.
                let outputs = if j % 2 == 0 && coin.units >= 2 {
                    vec![pays(coin.units / 2), pays(coin.units - coin.units / 2)]
                } else {
                    vec![pays(coin.units)]
                };
                let signer = &keys[coin.key];
                let mut tx = Transaction {
                    version: Transaction::VERSION,
                    inputs: vec![TxIn::Spend {
                        prevout: coin.outpoint,
                        public_key: signer.public_key(),
                        signature: Signature([0; 64]),
                    }],
                    outputs: outputs
                        .iter()
                        .map(|&(units, k)| TxOut {
                            amount: Amount::from_units(units).unwrap(),
                            pubkey_hash: hashes[k],
                        })
                        .collect(),
                };
                assert_eq!(tx.sign_with(|_| Some(signer.clone())), 1);
                let txid = tx.txid();
                created.extend(
                    outputs
                        .iter()
                        .enumerate()
                        .map(|(vout, &(units, k))| Spendable {
                            outpoint: OutPoint::new(txid, vout as u32),
                            units,
                            key: k,
                        }),
                );
                transactions.push(tx);
            }
        }
        // No fees: the coinbase pays the subsidy alone (zero once it has halved away).
        let subsidy = params.block_subsidy(height);
        let payee = height as usize % KEYS;
        let coinbase = Transaction::coinbase(
            height,
            0,
            vec![TxOut {
                amount: subsidy,
                pubkey_hash: hashes[payee],
            }],
        );
        if subsidy > Amount::ZERO {
            created.push(Spendable {
                outpoint: OutPoint::new(coinbase.txid(), 0),
                units: subsidy.units(),
                key: payee,
            });
        }
        transactions.insert(0, coinbase);
        let block = mine_on(&chain, transactions);
        let bytes = block.to_bytes();
        out.write_all(&(bytes.len() as u32).to_le_bytes()).unwrap();
        out.write_all(&bytes).unwrap();
        let accepted = chain.submit_block(block, now()).await.unwrap();
        assert!(
            matches!(accepted, BlockAccepted::NewTip { .. }),
            "{accepted:?}"
        );
        pool.extend(created);
        if height % 1000 == 0 {
            eprintln!(
                "  generated {height} blocks ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    out.flush().unwrap();
    let pool_handle = chain.store().database().pool().clone();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool_handle)
        .await
        .unwrap();
    drop(chain);
    pool_handle.close().await;
}

/// The cached chain of `full_blocks` full blocks, generated first when missing.
async fn cached_chain(full_blocks: u32) -> PathBuf {
    let root = target_dir().join("sync-bench");
    let dir = root.join(format!(
        "chain-v{CACHE_VERSION}-{full_blocks}x{TX_PER_BLOCK}"
    ));
    if dir.join("blocks.bin").exists() && dir.join("chain.sqlite").exists() {
        eprintln!("== chain: cached in {} ==", dir.display());
        return dir;
    }
    std::fs::create_dir_all(&root).unwrap();
    let building = tempfile::tempdir_in(&root).unwrap();
    eprintln!(
        "== chain: generating {} blocks ({full_blocks} of {TX_PER_BLOCK} transactions) ==",
        full_blocks + SETUP_BLOCKS
    );
    let started = Instant::now();
    generate(building.path(), full_blocks).await;
    eprintln!("  generated in {:.1} s", started.elapsed().as_secs_f64());
    let built = building.keep();
    std::fs::rename(&built, &dir).unwrap();
    dir
}

fn read_blocks(dir: &Path) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(dir.join("blocks.bin"))
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let mut blocks = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        let (block, tail) = tail.split_at(len);
        blocks.push(block.to_vec());
        rest = tail;
    }
    blocks
}

fn decode_all(raw: &[Vec<u8>]) -> Vec<Block> {
    raw.iter().map(|b| deserialize(b).unwrap()).collect()
}

/// CPU seconds (user + system) this thread has used: `/proc/thread-self/stat`.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    cpu_seconds_of(&stat)
}

/// User + system CPU seconds from the text of a `/proc/.../stat` file.
fn cpu_seconds_of(stat: &str) -> f64 {
    // The fields after the command name, which is in parentheses.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

/// One pass of the verification baseline.
#[derive(Debug, Clone, Copy)]
struct VerifyPass {
    signatures: usize,
    wall_s: f64,
    cpu_s: f64,
}

/// Every signature of the chain checked with the core's k256 verification (`PublicKey::verify`:
/// key parse, signature parse, low-S check, verification), on this thread.
fn verify_all(blocks: &[Block]) -> VerifyPass {
    let checks: Vec<(PublicKey, Txid, Signature)> = blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .flat_map(|tx| {
            let txid = tx.txid();
            tx.inputs.iter().filter_map(move |input| match input {
                TxIn::Spend {
                    public_key,
                    signature,
                    ..
                } => Some((*public_key, txid, *signature)),
                TxIn::Coinbase { .. } => None,
            })
        })
        .collect();
    let (started, cpu) = (Instant::now(), thread_cpu_seconds());
    for (public_key, txid, signature) in &checks {
        public_key.verify(&txid.0, signature).unwrap();
    }
    VerifyPass {
        signatures: checks.len(),
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: thread_cpu_seconds() - cpu,
    }
}

/// `Chain::submit_blocks` of every block into `chain`, in slices of the sync's size; returns
/// the seconds taken.
async fn submit_all<S: ChainStore>(chain: &mut Chain<S>, blocks: Vec<Block>) -> f64 {
    let now = now();
    let started = Instant::now();
    let mut blocks = blocks.into_iter().peekable();
    while blocks.peek().is_some() {
        let slice: Vec<Block> = blocks.by_ref().take(SYNC_BATCH as usize).collect();
        let count = slice.len();
        let (accepted, error) = chain.submit_blocks(slice, now).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(accepted.len(), count);
        assert!(
            accepted
                .iter()
                .all(|a| matches!(a, BlockAccepted::NewTip { .. })),
            "{accepted:?}"
        );
    }
    started.elapsed().as_secs_f64()
}

/// Bytes `pid` (or this process) caused to be written to storage so far: `write_bytes` of
/// `/proc/<pid>/io`.
fn written_bytes(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/io"),
        None => "/proc/self/io".to_owned(),
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("write_bytes: "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// `VmRSS`: resident now.
    rss: u64,
    /// `VmHWM`: the peak of `VmRSS`.
    hwm: u64,
    /// `RssAnon`: the part of `VmRSS` that is heap and stacks (not the mapped binary).
    anon: u64,
}

/// A `mycoin-peer` process of this run.
struct PeerProcess {
    name: &'static str,
    child: Child,
    base: String,
    log: PathBuf,
}

impl PeerProcess {
    fn start(name: &'static str, data_dir: &Path, extra: &[String]) -> PeerProcess {
        let port = free_port();
        let log = data_dir.with_extension("log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(peer_binary())
            .args(["--network", "regtest", "--bind", "127.0.0.1", "--peer-port"])
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("SYNC_BENCH_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", peer_binary().display()));
        PeerProcess {
            name,
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn fail(&mut self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let _ = self.child.kill();
        panic!(
            "{} peer: {why}; last lines of its log:\n{}",
            self.name,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    async fn chain(&self, http: &reqwest::Client) -> Option<ChainInfo> {
        let response = http.get(format!("{}/chain", self.base)).send().await.ok()?;
        response.json().await.ok()
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> ChainInfo {
        let started = Instant::now();
        loop {
            if let Some(info) = self.chain(http).await {
                return info;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("exited with {status}"));
            }
            if started.elapsed() > Duration::from_secs(120) {
                self.fail("not answering GET /chain after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Resident memory from `/proc/<pid>/status`, in KiB.
    fn memory_kib(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Memory {
            rss: field("VmRSS:"),
            hwm: field("VmHWM:"),
            anon: field("RssAnon:"),
        }
    }

    /// User + system CPU seconds of all its threads so far.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap())
    }
}

impl Drop for PeerProcess {
    /// Stops the process: SIGTERM (actix shuts down gracefully), then SIGKILL after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fetches the whole chain from `peer` with `POST /sync`, decoding every block but validating
/// nothing. Returns (blocks, seconds, answer bytes).
async fn fetch_all(
    http: &reqwest::Client,
    peer: &PeerProcess,
    genesis: BlockHash,
) -> (usize, f64, usize) {
    let started = Instant::now();
    let mut locator = vec![genesis];
    let (mut blocks, mut bytes) = (0usize, 0usize);
    loop {
        let body = http
            .post(format!("{}/sync", peer.base))
            .json(&SyncRequest {
                locator: locator.clone(),
                count: Some(FETCH_BATCH),
            })
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bytes += body.len();
        let views: Vec<BlockView> = serde_json::from_slice(&body).unwrap();
        let Some(last) = views.last() else { break };
        for view in &views {
            view.block().unwrap();
        }
        blocks += views.len();
        locator.insert(0, last.hash);
    }
    (blocks, started.elapsed().as_secs_f64(), bytes)
}

#[tokio::main]
async fn main() {
    let full_blocks: u32 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("N is a number of blocks"))
        .unwrap_or(10_000);
    let chain_dir = cached_chain(full_blocks).await;
    let raw = read_blocks(&chain_dir);
    let total_blocks = raw.len();
    let tip = deserialize::<Block>(raw.last().unwrap())
        .unwrap()
        .block_hash();
    let block_bytes: usize = raw.iter().map(Vec::len).sum();

    // SYNC_BENCH_SKIP_BASELINES=1 (diagnosis only, e.g. under a profiler) skips them.
    let baselines = std::env::var_os("SYNC_BENCH_SKIP_BASELINES").is_none();
    let run = tempfile::tempdir().unwrap();
    let (mut inprocess_s, mut memory_s) = (f64::NAN, f64::NAN);
    let mut inprocess_written = 0u64;
    let mut verify_passes = Vec::new();
    let verify_pass = |passes: &mut Vec<VerifyPass>, when: &str| {
        eprintln!("== baseline ({when}): k256 verification of the chain's signatures, one core ==");
        let pass = verify_all(&decode_all(&raw));
        assert_eq!(pass.signatures, full_blocks as usize * TX_PER_BLOCK);
        eprintln!(
            "  {} signatures in {:.2} s ({:.2} s of CPU)",
            pass.signatures, pass.wall_s, pass.cpu_s
        );
        passes.push(pass);
    };
    if baselines {
        verify_pass(&mut verify_passes, "before");

        eprintln!("== baseline: Chain::submit_blocks in process, fresh SQLite store ==");
        let mut chain = sql_chain(&run.path().join("inprocess.sqlite")).await;
        let written = written_bytes(None);
        inprocess_s = submit_all(&mut chain, decode_all(&raw)).await;
        inprocess_written = written_bytes(None) - written;
        assert_eq!(chain.tip().hash, tip);
        drop(chain);
        eprintln!("  {total_blocks} blocks in {inprocess_s:.2} s");

        eprintln!("== baseline: Chain::submit_blocks in process, MemoryStore ==");
        let mut chain = Chain::open(NETWORK.params(), MemoryStore::default())
            .await
            .unwrap();
        memory_s = submit_all(&mut chain, decode_all(&raw)).await;
        assert_eq!(chain.tip().hash, tip);
        drop(chain);
        eprintln!("  {total_blocks} blocks in {memory_s:.2} s");
    }
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // The resident memory of a peer with an empty chain, for comparison.
    let empty = {
        let mut empty = PeerProcess::start("empty", &run.path().join("empty"), &[]);
        empty.wait_ready(&http).await;
        empty.memory_kib()
    };
    let source_dir = run.path().join("source");
    std::fs::create_dir_all(&source_dir).unwrap();
    std::fs::copy(
        chain_dir.join("chain.sqlite"),
        source_dir.join("mycoin.sqlite"),
    )
    .unwrap();
    eprintln!("== source peer: serving the chain ==");
    let mut source = PeerProcess::start("source", &source_dir, &[]);
    let source_info = source.wait_ready(&http).await;
    assert_eq!(
        source_info.tip, tip,
        "the source serves the generated chain"
    );
    assert_eq!(source_info.height as usize, total_blocks);
    let source_start = source.memory_kib();

    eprintln!("== transfer only: POST /sync batches of {FETCH_BATCH}, decoded, not validated ==");
    let (fetched, fetch_s, answer_bytes) = fetch_all(&http, &source, source_info.genesis).await;
    assert_eq!(fetched, total_blocks);
    eprintln!(
        "  {fetched} blocks in {fetch_s:.2} s, {:.1} MiB of answers",
        answer_bytes as f64 / 1048576.0
    );

    eprintln!("== sync: a fresh peer with --peer {} ==", source.base);
    let source_cpu_before = source.cpu_seconds();
    let mut extra = vec!["--peer".to_owned(), source.base.clone()];
    if let Ok(ms) = std::env::var("SYNC_INTERVAL_MS") {
        extra.extend(["--sync-interval-ms".to_owned(), ms]);
    }
    let fresh_dir = run.path().join("fresh");
    let started = Instant::now();
    let mut fresh = PeerProcess::start("fresh", &fresh_dir, &extra);
    let mut last_report = Instant::now();
    let mut last_height = 0;
    let mut last_progress = Instant::now();
    let sync_s = loop {
        if let Some(info) = fresh.chain(&http).await {
            if info.tip == tip {
                break started.elapsed().as_secs_f64();
            }
            if info.height != last_height {
                last_height = info.height;
                last_progress = Instant::now();
            }
            if last_report.elapsed() > Duration::from_secs(5) {
                let rss = fresh.memory_kib().rss;
                eprintln!(
                    "  {:>5.1} s: height {}, VmRSS {} KiB",
                    started.elapsed().as_secs_f64(),
                    info.height,
                    rss
                );
                last_report = Instant::now();
            }
        }
        if let Ok(Some(status)) = fresh.child.try_wait() {
            fresh.fail(&format!("exited with {status}"));
        }
        if last_progress.elapsed() > Duration::from_secs(300) {
            fresh.fail("no progress for 300 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let memory = fresh.memory_kib();
    let source_memory = source.memory_kib();
    let fresh_cpu_s = fresh.cpu_seconds();
    let fresh_written = written_bytes(Some(fresh.pid()));
    let source_cpu_s = source.cpu_seconds() - source_cpu_before;
    eprintln!(
        "  {total_blocks} blocks in {sync_s:.2} s; fresh peer VmRSS {} KiB, VmHWM {} KiB",
        memory.rss, memory.hwm
    );
    if std::env::var_os("SYNC_BENCH_KEEP").is_some() {
        eprintln!("  kept {}", run.keep().display());
    }
    drop(fresh);
    drop(source);
    if baselines {
        verify_pass(&mut verify_passes, "after");
    }
    // The rate over both passes (the machine's load may change during the run).
    let rate = |f: fn(&VerifyPass) -> f64| {
        let signatures: usize = verify_passes.iter().map(|p| p.signatures).sum();
        let seconds: f64 = verify_passes.iter().map(f).sum();
        signatures as f64 / seconds
    };
    let verify_sigs_per_s = rate(|p| p.wall_s);
    let verify_blocks_per_s = verify_sigs_per_s / TX_PER_BLOCK as f64;
    let verify_cpu_blocks_per_s = rate(|p| p.cpu_s) / TX_PER_BLOCK as f64;
    let pass_rate = |i: usize| {
        verify_passes.get(i).map_or(f64::NAN, |p| {
            p.signatures as f64 / p.wall_s / TX_PER_BLOCK as f64
        })
    };

    let sync_blocks_per_s = total_blocks as f64 / sync_s;
    let inprocess_blocks_per_s = total_blocks as f64 / inprocess_s;
    let fields = [
        ("sync_blocks", total_blocks.to_string()),
        ("sync_full_blocks", full_blocks.to_string()),
        ("sync_seconds", format!("{sync_s:.3}")),
        ("sync_blocks_per_s", format!("{sync_blocks_per_s:.1}")),
        ("verify_sigs_per_s", format!("{verify_sigs_per_s:.1}")),
        ("verify_blocks_per_s", format!("{verify_blocks_per_s:.1}")),
        ("verify_before_blocks_per_s", format!("{:.1}", pass_rate(0))),
        ("verify_after_blocks_per_s", format!("{:.1}", pass_rate(1))),
        (
            "verify_cpu_blocks_per_s",
            format!("{verify_cpu_blocks_per_s:.1}"),
        ),
        (
            "sync_cpu_blocks_per_s",
            format!("{:.1}", total_blocks as f64 / fresh_cpu_s),
        ),
        (
            "inprocess_blocks_per_s",
            format!("{inprocess_blocks_per_s:.1}"),
        ),
        (
            "inprocess_mem_blocks_per_s",
            format!("{:.1}", total_blocks as f64 / memory_s),
        ),
        (
            "fetch_blocks_per_s",
            format!("{:.1}", fetched as f64 / fetch_s),
        ),
        (
            "sync_answer_bytes_per_block",
            format!("{:.0}", answer_bytes as f64 / fetched as f64),
        ),
        (
            "block_bytes_per_block",
            format!("{:.0}", block_bytes as f64 / total_blocks as f64),
        ),
        ("rss_kib", memory.rss.to_string()),
        ("hwm_kib", memory.hwm.to_string()),
        ("rss_anon_kib", memory.anon.to_string()),
        ("empty_rss_kib", empty.rss.to_string()),
        ("source_start_rss_kib", source_start.rss.to_string()),
        ("source_rss_kib", source_memory.rss.to_string()),
        ("source_hwm_kib", source_memory.hwm.to_string()),
        ("fresh_cpu_s", format!("{fresh_cpu_s:.2}")),
        (
            "fresh_written_kib_per_block",
            format!("{:.1}", fresh_written as f64 / 1024.0 / total_blocks as f64),
        ),
        (
            "inprocess_written_kib_per_block",
            format!(
                "{:.1}",
                inprocess_written as f64 / 1024.0 / total_blocks as f64
            ),
        ),
        ("source_cpu_s", format!("{source_cpu_s:.2}")),
        (
            "sync_ratio_verify",
            format!("{:.3}", sync_blocks_per_s / verify_blocks_per_s),
        ),
        (
            "sync_cpu_ratio_verify",
            format!(
                "{:.3}",
                total_blocks as f64 / fresh_cpu_s / verify_cpu_blocks_per_s
            ),
        ),
        (
            "sync_ratio_inprocess",
            format!("{:.3}", sync_blocks_per_s / inprocess_blocks_per_s),
        ),
    ];
    let line: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("{}", line.join(" "));
}
