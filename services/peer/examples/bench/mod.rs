//! What the peer's benchmark examples share (`sync_bench`, `load_bench`, `attack_bench`): the
//! cached regtest chain of N blocks × 10 signed transactions and its keys, mining and signing
//! helpers, the service processes (one service, or a whole `mycoind` stack) with their `/proc`
//! readings, settings from the environment, latencies and their percentiles, a `/healthz`
//! sampler, and a concurrent sender of many requests that counts the answers. Each example
//! includes this module (`mod bench;`) and uses a part of it.
#![allow(dead_code)] // Each example uses a part of the module.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufWriter, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mycoin_api::paths;
use mycoin_api::peer::ChainInfo;
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Amount, Block, BlockAccepted, Chain, ChainStore, Database, Encode, Network, OutPoint,
    PrivateKey, PubKeyHash, Signature, SqlStore, Transaction, TxIn, TxOut, deserialize,
};

pub const NETWORK: Network = Network::Regtest;
/// Spending transactions per block.
pub const TX_PER_BLOCK: usize = 10;
/// Coinbase-only blocks mined first, so that the first full block has ten mature coins.
pub const SETUP_BLOCKS: u32 = TX_PER_BLOCK as u32;
/// Keys the coins are paid to, round robin.
pub const KEYS: usize = 16;
/// Bump when the generated chain changes, so that an old cache is not reused.
pub const CACHE_VERSION: u32 = 2;
/// The generator's key `i` (the chain's coins are paid to keys 0..KEYS).
pub fn key(i: usize) -> PrivateKey {
    let mut bytes = [0x5au8; 32];
    bytes[31] = i as u8 + 1;
    PrivateKey::from_bytes(&bytes).expect("a valid scalar")
}

/// A coin the generator can spend.
pub struct Spendable {
    pub outpoint: OutPoint,
    pub units: u64,
    pub key: usize,
}

pub fn now() -> u32 {
    u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("before 2106")
}

/// `target/` of the build this example runs from (it runs from `target/<profile>/examples/`).
pub fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
}

/// The service binary `name` (`mycoin-peer`, `mycoin-keys`...) of the build this example runs
/// from (`target/<profile>/`); `MYCOIN_PEER_BIN` overrides the peer's.
pub fn binary(name: &str) -> PathBuf {
    if name == "mycoin-peer"
        && let Ok(bin) = std::env::var("MYCOIN_PEER_BIN")
    {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    let profile_dir = exe
        .ancestors()
        .nth(2)
        .expect("target/<profile>/examples/<exe>");
    profile_dir.join(name)
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

pub async fn sql_chain(path: &Path) -> Chain<SqlStore> {
    let db = Database::connect(&sqlite_url(path)).await.unwrap();
    let store = SqlStore::open(db).await.unwrap();
    Chain::open(NETWORK.params(), store).await.unwrap()
}

/// A setting from the environment, or its default.
pub fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a whole number")),
        Err(_) => default,
    }
}

/// Tries nonces until `block` meets its own proof of work (instant on regtest).
pub fn solve(block: &mut Block, params: &mycoin_core::Params) {
    while check_proof_of_work(block, params).is_err() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
}

/// `count` copies of `template`, each with another nonce at which its proof of work fails (on
/// regtest about one nonce in two passes, so each is tried).
pub fn bad_pow_blocks(template: &Block, count: u64) -> Vec<Block> {
    let params = NETWORK.params();
    let mut block = template.clone();
    let mut blocks = Vec::new();
    for _ in 0..count {
        block.header.nonce = block.header.nonce.wrapping_add(1);
        while check_proof_of_work(&block, &params).is_ok() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
        }
        blocks.push(block.clone());
    }
    blocks
}

/// A transaction spending `prevout` (paid to `owner`) to `outputs`, signed by `signer` (the
/// owner's key, or another for a bad signature).
pub fn spend_to(
    prevout: OutPoint,
    owner: &PrivateKey,
    signer: &PrivateKey,
    outputs: Vec<TxOut>,
) -> Transaction {
    let mut tx = Transaction {
        version: Transaction::VERSION,
        inputs: vec![TxIn::Spend {
            prevout,
            public_key: owner.public_key(),
            signature: Signature([0; 64]),
        }],
        outputs,
    };
    tx.sign_with(|_| Some(signer.clone()));
    tx
}

/// Mines `transactions` (the coinbase first) on the tip of `chain`.
pub fn mine_on<S: ChainStore>(chain: &Chain<S>, transactions: Vec<Transaction>) -> Block {
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
    solve(&mut block, params);
    block
}

/// Builds the chain into `dir` (`chain.sqlite`, `blocks.bin`).
pub async fn generate(dir: &Path, full_blocks: u32) {
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
                let tx = spend_to(
                    coin.outpoint,
                    signer,
                    signer,
                    outputs
                        .iter()
                        .map(|&(units, k)| TxOut {
                            amount: Amount::from_units(units).unwrap(),
                            pubkey_hash: hashes[k],
                        })
                        .collect(),
                );
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
pub async fn cached_chain(full_blocks: u32) -> PathBuf {
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

pub fn read_blocks(dir: &Path) -> Vec<Vec<u8>> {
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

pub fn decode_all(raw: &[Vec<u8>]) -> Vec<Block> {
    raw.iter().map(|b| deserialize(b).unwrap()).collect()
}

/// CPU seconds (user + system) this thread has used: `/proc/thread-self/stat`.
pub fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    cpu_seconds_of(&stat)
}

/// User + system CPU seconds from the text of a `/proc/.../stat` file.
pub fn cpu_seconds_of(stat: &str) -> f64 {
    // The fields after the command name, which is in parentheses.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

/// Bytes `pid` (or this process) caused to be written to storage so far: `write_bytes` of
/// `/proc/<pid>/io`.
pub fn written_bytes(pid: Option<u32>) -> u64 {
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss: u64,
    /// `VmHWM`: the peak of `VmRSS`.
    pub hwm: u64,
    /// `RssAnon`: the part of `VmRSS` that is heap and stacks (not the mapped binary).
    pub anon: u64,
}

/// A service process of this run (`mycoin-peer`, `mycoin-keys`, `mycoin-wallet` or
/// `mycoin-miner`) on a free loopback port, its log in `<data_dir>.log`. Dropping it stops it.
pub struct ServiceProcess {
    pub name: &'static str,
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

/// The peers of sync_bench.
pub type PeerProcess = ServiceProcess;

/// The peers' and services' `RUST_LOG`: `BENCH_LOG` (or the older `SYNC_BENCH_LOG`), else `warn`.
fn log_filter() -> String {
    std::env::var("BENCH_LOG")
        .or_else(|_| std::env::var("SYNC_BENCH_LOG"))
        .unwrap_or_else(|_| "warn".into())
}

impl ServiceProcess {
    /// A regtest `mycoin-peer` with its data in `data_dir`, and `extra` arguments.
    pub fn start(name: &'static str, data_dir: &Path, extra: &[String]) -> ServiceProcess {
        Self::start_binary(name, "mycoin-peer", "--peer-port", data_dir, extra)
    }

    /// A regtest service from `binary`, listening on the port given by `port_flag`.
    pub fn start_binary(
        name: &'static str,
        binary_name: &str,
        port_flag: &str,
        data_dir: &Path,
        extra: &[String],
    ) -> ServiceProcess {
        let port = free_port();
        Self::spawn(
            name,
            binary_name,
            "regtest",
            &[(port_flag, port)],
            data_dir,
            extra,
        )
    }

    /// `binary_name` on `network`, bound to 127.0.0.1, with a port flag for each of `ports`
    /// (the first is the one `base` names), its data in `data_dir`, its log in
    /// `<data_dir>.log`.
    pub fn spawn(
        name: &'static str,
        binary_name: &str,
        network: &str,
        ports: &[(&str, u16)],
        data_dir: &Path,
        extra: &[String],
    ) -> ServiceProcess {
        let log = data_dir.with_extension("log");
        let log_file = std::fs::File::create(&log).unwrap();
        let program = binary(binary_name);
        let mut command = Command::new(&program);
        command.args(["--network", network, "--bind", "127.0.0.1"]);
        for (flag, port) in ports {
            command.arg(flag).arg(port.to_string());
        }
        let child = command
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", log_filter())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        ServiceProcess {
            name,
            child,
            base: format!("http://127.0.0.1:{}", ports[0].1),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn fail(&mut self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let _ = self.child.kill();
        panic!(
            "{}: {why}; last lines of its log:\n{}",
            self.name,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    pub async fn chain(&self, http: &reqwest::Client) -> Option<ChainInfo> {
        let response = http
            .get(format!("{}{}", self.base, paths::peer::CHAIN))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// Waits until a peer answers `GET /chain`.
    pub async fn wait_ready(&mut self, http: &reqwest::Client) -> ChainInfo {
        let started = Instant::now();
        loop {
            if let Some(info) = self.chain(http).await {
                return info;
            }
            self.check_alive(started, "GET /chain");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until any service answers `GET /healthz` with 200.
    pub async fn wait_healthy(&mut self, http: &reqwest::Client) {
        let started = Instant::now();
        loop {
            let answer = http.get(format!("{}/healthz", self.base)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            self.check_alive(started, "GET /healthz");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn check_alive(&mut self, started: Instant, what: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.fail(&format!("exited with {status}"));
        }
        if started.elapsed() > Duration::from_secs(120) {
            self.fail(&format!("not answering {what} after 120 s"));
        }
    }

    /// Resident memory from `/proc/<pid>/status`, in KiB.
    pub fn memory_kib(&self) -> Memory {
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
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap())
    }
}

impl Drop for ServiceProcess {
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

/// One user's whole stack: a `mycoind` process (peer, keys, wallet and miner services in one
/// process, so that its memory is the stack's), on free ports, with a known API token and one
/// miner thread. `process.base` is the peer service.
pub struct Stack {
    pub process: ServiceProcess,
    pub keys: String,
    pub wallet: String,
    pub miner: String,
    pub token: String,
}

impl Stack {
    /// Starts `mycoind` on `network` (`demo` or `regtest`) with its data in `data_dir` and
    /// `extra` arguments (`--peer`, policy flags, `--mine`...), and waits until its four
    /// services answer `/healthz`.
    pub async fn start(
        http: &reqwest::Client,
        name: &'static str,
        network: &str,
        data_dir: &Path,
        token: &str,
        extra: &[String],
    ) -> Stack {
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let mut args = vec![
            "--api-token".to_owned(),
            token.to_owned(),
            "--threads".to_owned(),
            "1".to_owned(),
        ];
        args.extend_from_slice(extra);
        let process = ServiceProcess::spawn(
            name,
            "mycoind",
            network,
            &[
                ("--peer-port", ports[0]),
                ("--keys-port", ports[1]),
                ("--wallet-port", ports[2]),
                ("--miner-port", ports[3]),
            ],
            data_dir,
            &args,
        );
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let mut stack = Stack {
            process,
            keys: url(ports[1]),
            wallet: url(ports[2]),
            miner: url(ports[3]),
            token: token.to_owned(),
        };
        stack.process.wait_healthy(http).await;
        for base in [&stack.keys, &stack.wallet, &stack.miner] {
            let started = Instant::now();
            loop {
                let answer = http.get(format!("{base}/healthz")).send().await;
                if answer.is_ok_and(|r| r.status().is_success()) {
                    break;
                }
                stack.process.check_alive(started, "GET /healthz");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        stack
    }

    /// The peer service's URL.
    pub fn peer(&self) -> &str {
        &self.process.base
    }

    /// The URLs of its peer, keys, wallet and miner services.
    pub fn urls(&self) -> (String, String, String, String) {
        (
            self.peer().to_owned(),
            self.keys.clone(),
            self.wallet.clone(),
            self.miner.clone(),
        )
    }
}

/// Latencies in milliseconds, and how many answers were 4xx, 5xx or no answer at all.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    pub ms: Vec<f64>,
    pub server_errors: u64,
    pub client_errors: u64,
    pub failures: u64,
}

impl Latencies {
    pub fn merge(&mut self, other: Latencies) {
        self.ms.extend(other.ms);
        self.server_errors += other.server_errors;
        self.client_errors += other.client_errors;
        self.failures += other.failures;
    }

    pub fn quantile(&self, q: f64) -> f64 {
        quantile(&self.ms, q)
    }

    pub fn p99(&self) -> f64 {
        self.quantile(0.99)
    }

    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

/// The `q` quantile of `values` (nearest rank), NaN when there are none.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One timed GET; the status is recorded, the body read and dropped.
pub async fn timed_get(http: &reqwest::Client, url: &str, into: &mut Latencies) {
    let started = Instant::now();
    match http.get(url).send().await {
        Ok(response) => {
            let status = response.status();
            let body = response.bytes().await;
            if status.is_server_error() {
                into.server_errors += 1;
            } else if status.is_client_error() {
                into.client_errors += 1;
            }
            if body.is_err() {
                into.failures += 1;
            } else {
                into.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        Err(_) => into.failures += 1,
    }
}

/// `GET {base}/healthz` every 20 ms until `stop`: the probe that runs beside a load or attack.
pub async fn sample_healthz(
    http: reqwest::Client,
    base: String,
    stop: Arc<AtomicBool>,
) -> Latencies {
    let url = format!("{base}/healthz");
    let mut latencies = Latencies::default();
    while !stop.load(Ordering::Relaxed) {
        timed_get(&http, &url, &mut latencies).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies
}

/// `count` sequential `GET {base}/healthz`: the idle baseline of the probe.
pub async fn idle_healthz(http: &reqwest::Client, base: &str, count: u64) -> Latencies {
    let url = format!("{base}/healthz");
    let mut latencies = Latencies::default();
    for _ in 0..count {
        timed_get(http, &url, &mut latencies).await;
    }
    latencies
}

/// A GET whose answer must be a success with a JSON body of `T`.
pub async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &str) -> T {
    let response = http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "GET {url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("GET {url}: {err}: {text}"))
}

/// One request of a flood or an attack.
#[derive(Debug, Clone)]
pub struct Request {
    /// What it tries, for the counts.
    pub kind: &'static str,
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    /// The body and its content type.
    pub body: Option<(&'static str, String)>,
}

impl Request {
    /// A POST of `body` as `application/json`, without a token.
    pub fn post_json(kind: &'static str, url: String, body: String) -> Request {
        Request {
            kind,
            method: reqwest::Method::POST,
            url,
            headers: Vec::new(),
            body: Some(("application/json", body)),
        }
    }

    /// A POST without a body (`content-length: 0`).
    pub fn post_empty(kind: &'static str, url: String) -> Request {
        Request {
            kind,
            method: reqwest::Method::POST,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A POST as a cross-site HTML form can send it without a preflight: `text/plain`.
    pub fn post_text(kind: &'static str, url: String) -> Request {
        Request {
            kind,
            method: reqwest::Method::POST,
            url,
            headers: Vec::new(),
            body: Some(("text/plain", "x=1".to_owned())),
        }
    }

    /// A GET.
    pub fn get(kind: &'static str, url: String) -> Request {
        Request {
            kind,
            method: reqwest::Method::GET,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// The same with a header more.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }
}

/// Answers by (kind, status, the error body's `error` code for a 4xx or 5xx, else "").
pub type Answers = BTreeMap<(&'static str, u16, String), u64>;

/// Sends `requests` over `connections` concurrent connections, each request once, until done
/// or `stop`. Returns the answers and the number of requests that got none.
pub async fn send_all(
    http: reqwest::Client,
    requests: Arc<Vec<Request>>,
    connections: usize,
    stop: Arc<AtomicBool>,
) -> (Answers, u64) {
    let count = requests.len();
    send_each(http, count, connections, stop, move |n| requests[n].clone()).await
}

/// Sends `count` requests, the `n`th made by `make(n)` when its turn comes (so that big bodies
/// are never all in memory at once), over `connections` concurrent connections, until done or
/// `stop`. Returns the answers and the number of requests that got none.
pub async fn send_each(
    http: reqwest::Client,
    count: usize,
    connections: usize,
    stop: Arc<AtomicBool>,
    make: impl Fn(usize) -> Request + Send + Sync + 'static,
) -> (Answers, u64) {
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (http, make, next, stop) = (http.clone(), make.clone(), next.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Answers::new();
            let mut failures = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let request = make(n);
                let mut builder = http.request(request.method.clone(), &request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(*name, value);
                }
                if let Some((content_type, body)) = request.body {
                    builder = builder.header("content-type", content_type).body(body);
                }
                match builder.send().await {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.bytes().await.unwrap_or_default();
                        let code = if status.is_client_error() || status.is_server_error() {
                            serde_json::from_slice::<serde_json::Value>(&body)
                                .ok()
                                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                                .unwrap_or_default()
                        } else {
                            String::new()
                        };
                        *answers
                            .entry((request.kind, status.as_u16(), code))
                            .or_default() += 1;
                    }
                    Err(_) => failures += 1,
                }
            }
            (answers, failures)
        }));
    }
    let mut answers = Answers::new();
    let mut failures = 0;
    for task in tasks {
        let (part, failed) = task.await.expect("a sending task");
        for (key, count) in part {
            *answers.entry(key).or_default() += count;
        }
        failures += failed;
    }
    (answers, failures)
}
