//! Nonce search throughput: `search::search` called directly over a fixed nonce range with an
//! impossible target (so every nonce of the range is hashed), on one thread and on one thread
//! per core; and, as the ceiling this implementation can reach, the `sha2` crate's own
//! `compress256` at two compressions per nonce.
//!
//! Run with `cargo bench -p mycoin-miner --bench nonces`; `scripts/bench.sh` reads the
//! estimates criterion writes under `target/criterion/` and turns them into ratios.

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mycoin_core::Network;
use mycoin_miner::search::{Outcome, Target, default_threads, search};
use sha2::block_api::compress256;

/// Nonces per iteration: 2^21, about a quarter of a second on one SHA-NI core.
const RANGE: u64 = 1 << 21;

/// Compressions per iteration of the `compress256` ceiling (two per nonce).
const BLOCKS: usize = 1 << 16;

fn nonce_search(c: &mut Criterion) {
    let header = Network::Regtest.params().genesis_block().header;
    // Only an all-zero hash meets a zero target: in practice, never.
    let impossible = Target::from_le_bytes([0; 32]);
    let stop = AtomicBool::new(false);

    let mut group = c.benchmark_group("nonce_search");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(RANGE));
    let cores = default_threads();
    for (name, threads) in [("one_thread", 1), ("all_cores", cores)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome = search(
                    black_box(&header),
                    impossible,
                    0..RANGE,
                    threads,
                    &stop,
                    &[],
                );
                assert_eq!(outcome, Outcome::Exhausted);
            })
        });
    }
    group.finish();

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
