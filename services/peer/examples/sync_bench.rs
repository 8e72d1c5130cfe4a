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

mod bench;

use std::time::{Duration, Instant};

use bench::{
    NETWORK, PeerProcess, TX_PER_BLOCK, cached_chain, decode_all, now, read_blocks, sql_chain,
    thread_cpu_seconds, written_bytes,
};
use mycoin_api::paths;
use mycoin_api::peer::{BlockView, SyncRequest};
use mycoin_core::{
    Block, BlockAccepted, BlockHash, Chain, ChainStore, MemoryStore, PublicKey, Signature, TxIn,
    Txid, deserialize,
};
use mycoin_peer::p2p::SYNC_BATCH;

/// Blocks asked for per `POST /sync` in the transfer-only measurement (the peer's own batch).
const FETCH_BATCH: u32 = 500;

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
            .post(format!("{}{}", peer.base, paths::peer::SYNC))
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
