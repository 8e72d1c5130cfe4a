//! The nonce search on its own: no HTTP.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{Block, CompactTarget, Network};
use mycoin_miner::search::{NONCE_SPACE, Outcome, Target, search, split_range};

/// A regtest block whose target needs the hash's top byte to be zero: ~256 tries.
fn easy_block() -> Block {
    let mut block = Network::Regtest.params().genesis_block();
    block.header.bits = CompactTarget(0x1f00_ffff);
    block.header.nonce = 0;
    block
}

#[test]
fn finds_a_nonce_that_passes_the_proof_of_work_check() {
    let mut block = easy_block();
    let target = Target::from_bits(block.header.bits).unwrap();
    let (stop, attempts, total) = (AtomicBool::new(false), AtomicU64::new(0), AtomicU64::new(0));
    let outcome = search(
        &block.header,
        target,
        NONCE_SPACE,
        2,
        &stop,
        &[&attempts, &total],
    );
    let Outcome::Found { nonce, hash } = outcome else {
        panic!("no nonce found: {outcome:?}");
    };
    block.header.nonce = nonce;
    assert_eq!(block.block_hash(), hash);
    check_proof_of_work(&block, &Network::Regtest.params()).unwrap();
    assert!(attempts.load(Ordering::Relaxed) > 0);
    assert_eq!(
        attempts.load(Ordering::Relaxed),
        total.load(Ordering::Relaxed)
    );

    // The nonce before it in a one-thread search does not meet the target.
    let one_thread = search(&block.header, target, 0..(1 << 32), 1, &stop, &[]);
    let Outcome::Found { nonce: first, .. } = one_thread else {
        panic!("no nonce found: {one_thread:?}");
    };
    let mut earlier = block.clone();
    for nonce in 0..first {
        earlier.header.nonce = nonce;
        assert!(check_proof_of_work(&earlier, &Network::Regtest.params()).is_err());
    }
}

#[test]
fn the_found_nonce_lies_in_the_range_searched() {
    let block = easy_block();
    let target = Target::from_bits(block.header.bits).unwrap();
    let stop = AtomicBool::new(false);
    let range = 1_000_000..1_200_000;
    match search(&block.header, target, range.clone(), 3, &stop, &[]) {
        Outcome::Found { nonce, .. } => assert!(range.contains(&u64::from(nonce)), "{nonce}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_impossible_target_exhausts_the_range_after_hashing_each_nonce_once() {
    let block = easy_block();
    let (stop, attempts) = (AtomicBool::new(false), AtomicU64::new(0));
    let impossible = Target::from_le_bytes([0; 32]);
    let outcome = search(
        &block.header,
        impossible,
        5_000..25_000,
        3,
        &stop,
        &[&attempts],
    );
    assert_eq!(outcome, Outcome::Exhausted);
    assert_eq!(attempts.load(Ordering::Relaxed), 20_000);
}

#[test]
fn the_stop_flag_ends_the_search() {
    let block = easy_block();
    let impossible = Target::from_le_bytes([0; 32]);

    let raised = AtomicBool::new(true);
    assert_eq!(
        search(&block.header, impossible, NONCE_SPACE, 2, &raised, &[]),
        Outcome::Stopped
    );

    let (stop, attempts) = (AtomicBool::new(false), AtomicU64::new(0));
    let outcome = std::thread::scope(|scope| {
        let searching = scope.spawn(|| {
            search(
                &block.header,
                impossible,
                NONCE_SPACE,
                2,
                &stop,
                &[&attempts],
            )
        });
        std::thread::sleep(Duration::from_millis(150));
        stop.store(true, Ordering::Relaxed);
        searching.join().unwrap()
    });
    assert_eq!(outcome, Outcome::Stopped);
    let hashed = attempts.load(Ordering::Relaxed);
    assert!(hashed > 0 && hashed < NONCE_SPACE.end, "{hashed}");
}

#[test]
fn ranges_split_into_disjoint_contiguous_parts() {
    for (range, parts) in [
        (NONCE_SPACE, 1),
        (NONCE_SPACE, 3),
        (NONCE_SPACE, 16),
        (0..10, 4),
        (7..10, 8),
        (100..101, 2),
        (5..1_000_003, 7),
    ] {
        let split = split_range(range.clone(), parts);
        assert!(
            !split.is_empty() && split.len() <= parts,
            "{range:?} {parts}"
        );
        assert_eq!(split.first().unwrap().start, range.start);
        assert_eq!(split.last().unwrap().end, range.end);
        for pair in split.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{split:?}");
        }
        assert!(split.iter().all(|part| !part.is_empty()));
        let sizes: Vec<u64> = split.iter().map(|part| part.end - part.start).collect();
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "{sizes:?}");
    }
    assert!(split_range(5..5, 4).is_empty());
    assert_eq!(split_range(0..10, 0), vec![0..10]);
}
