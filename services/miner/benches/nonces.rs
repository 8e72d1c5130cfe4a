//! Nonce search throughput: `search::search_with(Backend::detect(), ..)` (what `search` does)
//! called directly over a fixed nonce range with an
//! impossible target (so every nonce of the range is hashed), on one thread and on one thread
//! per core, with the backend chosen the way the miner chooses it (each one this CPU runs timed
//! for a fraction of a second, [`search::fastest`]); and, as same-run baselines:
//!
//! - `backend/<name>_one_thread`, `backend/<name>_all_cores`: the same two searches with each
//!   backend this CPU runs (`portable`, `sha_ni`, `avx2`, `avx512`);
//! - `nonce_search_cpu/*`: the chosen backend's two searches, and each backend's one-thread
//!   search (`<name>_one_thread`), timed in **CPU time** of the process (user +
//!   system, from `/proc/self/stat`, Linux only) rather than wall-clock time: on a machine
//!   shared with other work, nonces per CPU-second is what stays comparable, and all cores ÷
//!   one thread in CPU time shows what the split costs (1.0 = nothing);
//! - `sha_ni_scan/*` (x86-64 with SHA-NI): the SHA-NI scan alone, one nonce at a time against
//!   interleaved (what the interleaving brings);
//! - `sha2_compress256/two_per_nonce`: the `sha2` crate's own `compress256` at two compressions
//!   per nonce.
//!
//! Run with `cargo bench -p mycoin-miner --bench nonces`; `scripts/bench.sh` reads the
//! estimates criterion writes under `target/criterion/` and turns them into ratios. The
//! chosen backend and the start-up measurement's rates are printed, and written as
//! `key=value` lines to the file `MYCOIN_BENCH_CHOSEN` names, when set.

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mycoin_core::{Header, Network};
use mycoin_miner::search::{
    self, Backend, Outcome, Priority, Target, default_threads, search_with,
};
use sha2::block_api::compress256;

/// Nonces per iteration: 2^21, a few tenths of a second on one core.
const RANGE: u64 = 1 << 21;

/// Compressions per iteration of the `compress256` ceiling (two per nonce).
const BLOCKS: usize = 1 << 16;

/// The process's CPU time so far (user + system, all threads, finished ones included), or
/// `None` where `/proc/self/stat` cannot be read. Its unit is the clock tick, 1/100 s.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses: state is the
    // first, utime the 12th and stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Searches nonces `0..RANGE` of `header` with `backend` on `threads` threads; every nonce is
/// hashed.
fn exhaust(backend: Backend, header: &Header, threads: usize) {
    // Only an all-zero hash meets a zero target: in practice, never.
    let impossible = Target::from_le_bytes([0; 32]);
    let stop = AtomicBool::new(false);
    let outcome = search_with(
        backend,
        Priority::Normal,
        header,
        impossible,
        0..RANGE,
        threads,
        &stop,
        &[],
    );
    assert_eq!(outcome, Outcome::Exhausted);
}

fn nonce_search(c: &mut Criterion) {
    let header = Network::Regtest.params().genesis_block().header;
    let cores = default_threads();
    let measured = search::fastest();
    let chosen = measured.chosen;
    let mut report = format!("chosen={chosen}\n");
    for (backend, rate) in &measured.rates {
        report += &format!("measured_{backend}={rate:.0}\n");
    }
    eprint!("{report}");
    if let Ok(path) = std::env::var("MYCOIN_BENCH_CHOSEN") {
        std::fs::write(path, &report).expect("MYCOIN_BENCH_CHOSEN names a writable file");
    }
    let searches = [("one_thread", chosen, 1), ("all_cores", chosen, cores)];

    let mut group = c.benchmark_group("nonce_search");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(RANGE));
    for (name, backend, threads) in searches {
        group.bench_function(name, |b| {
            b.iter(|| exhaust(backend, black_box(&header), threads))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("backend");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(RANGE));
    for backend in Backend::available() {
        for (suffix, threads) in [("one_thread", 1), ("all_cores", cores)] {
            group.bench_function(format!("{backend}_{suffix}"), |b| {
                b.iter(|| exhaust(backend, black_box(&header), threads))
            });
        }
    }
    group.finish();

    if cpu_time().is_some() {
        let mut group = c.benchmark_group("nonce_search_cpu");
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            // Long samples: the CPU clock ticks 100 times a second.
            .measurement_time(Duration::from_secs(6))
            .throughput(Throughput::Elements(RANGE));
        // Each backend on one thread too: the ratios between backends on a loaded machine.
        let per_backend = Backend::available()
            .into_iter()
            .map(|backend| (format!("{backend}_one_thread"), backend, 1));
        let searches = searches
            .map(|(name, backend, threads)| (name.to_owned(), backend, threads))
            .into_iter()
            .chain(per_backend);
        for (name, backend, threads) in searches {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let start = cpu_time().unwrap_or_default();
                    for _ in 0..iters {
                        exhaust(backend, black_box(&header), threads);
                    }
                    cpu_time().unwrap_or_default().saturating_sub(start)
                })
            });
        }
        group.finish();
    }

    #[cfg(target_arch = "x86_64")]
    if let Some(sha_ni) = mycoin_miner::sha_ni::ShaNi::new(&header) {
        let mut group = c.benchmark_group("sha_ni_scan");
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(RANGE));
        // A zero limit: only a hash whose top 32 bits are zero is a candidate.
        group.bench_function("one_lane", |b| {
            b.iter(|| sha_ni.scan_one_lane(black_box(0..RANGE), 0))
        });
        group.bench_function("interleaved", |b| {
            b.iter(|| sha_ni.scan(black_box(0..RANGE), 0))
        });
        group.finish();
    }

    let mut group = c.benchmark_group("sha2_compress256");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        // Two compressions per nonce: the figure is in nonces.
        .throughput(Throughput::Elements((BLOCKS / 2) as u64));
    let blocks = vec![[0x5au8; 64]; BLOCKS];
    group.bench_function("two_per_nonce", |b| {
        b.iter(|| {
            let mut state = [0u32; 8];
            compress256(&mut state, black_box(&blocks));
            state
        })
    });
    group.finish();
}

criterion_group!(benches, nonce_search);
criterion_main!(benches);
