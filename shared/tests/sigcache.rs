//! The signature cache and the parallel signature checks of a block: a signature verified when
//! its transaction entered the mempool is not verified again in its block, the cache cannot be
//! made to vouch for anything but the exact (txid, key, signature) it verified, and a block's
//! signatures checked across the cores fail with the very error that checking in order gives.
//!
//! Verifications are counted by the cache's misses: each lookup that misses is followed by one
//! real verification, each hit replaces one.

mod common;

use std::collections::HashMap;

use common::*;
use mycoin_core::sigcache::{CacheStats, SigCache};
use mycoin_core::utxo::{Coin, UtxoOverlay};
use mycoin_core::validation::{BlockError, SignatureChecks, TxError, connect_block};
use mycoin_core::{
    Amount, Block, ChainError, Network, OutPoint, Params, Signature, Transaction, TxIn, TxOut, Txid,
};
use proptest::prelude::*;

fn regtest() -> Params {
    Network::Regtest.params()
}

/// A fixture with `n` mature coinbases of key 0 (heights 1..=n) to spend.
async fn funded(n: usize) -> Fixture {
    let mut f = Fixture::new(regtest()).await;
    f.mine_empty(n + 1).await;
    f
}

/// One-input transactions spending the coinbases of heights 1..=n, each with a fee of 1,000.
async fn pooled_candidates(f: &Fixture, n: u32) -> Vec<Transaction> {
    let mut txs = Vec::new();
    for height in 1..=n {
        let coin = f.coinbase_at(height).await;
        txs.push(spend(&[coin], 0, &[(99_999_000, pkh(height as u8))]));
    }
    txs
}

fn delta(after: CacheStats, before: CacheStats) -> (u64, u64) {
    (after.hits - before.hits, after.misses - before.misses)
}

fn signature_mut(tx: &mut Transaction, input: usize) -> &mut Signature {
    match &mut tx.inputs[input] {
        TxIn::Spend { signature, .. } => signature,
        TxIn::Coinbase { .. } => panic!("a coinbase input has no signature"),
    }
}

fn signature_of(tx: &Transaction, input: usize) -> Signature {
    match &tx.inputs[input] {
        TxIn::Spend { signature, .. } => *signature,
        TxIn::Coinbase { .. } => panic!("a coinbase input has no signature"),
    }
}

async fn expect_block_error(f: &mut Fixture, block: Block, expected: BlockError) {
    let before = f.state();
    match f.chain.submit_block(block, f.now).await {
        Err(ChainError::Invalid(e)) => assert_eq!(e, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
    assert_eq!(f.state(), before, "a rejected block changed the state");
}

#[tokio::test]
async fn a_block_of_pooled_transactions_connects_without_verifying_them_again() {
    let mut f = funded(5).await;
    let txs = pooled_candidates(&f, 5).await;
    for tx in &txs {
        f.submit(tx.clone()).unwrap();
    }
    let before = f.chain.sigcache().stats();
    assert_eq!(before.entries, 5);

    f.mine(txs).await;

    let after = f.chain.sigcache().stats();
    assert_eq!(delta(after, before), (5, 0), "five hits, no verification");
    assert_eq!(after.entries, 0, "confirmed signatures leave the cache");
    assert!(f.chain.mempool().is_empty());
}

#[tokio::test]
async fn a_block_of_unseen_transactions_verifies_every_signature_and_caches_none() {
    let mut f = funded(3).await;
    let txs = pooled_candidates(&f, 3).await;
    let before = f.chain.sigcache().stats();

    f.mine(txs).await;

    let after = f.chain.sigcache().stats();
    assert_eq!(delta(after, before), (0, 3), "three verifications");
    assert_eq!(after.insertions, before.insertions);
    assert_eq!(after.entries, 0);
}

#[tokio::test]
async fn checking_a_transaction_without_submitting_it_caches_nothing() {
    let f = funded(1).await;
    let tx = pooled_candidates(&f, 1).await.remove(0);
    assert!(f.chain.verify_transaction(&tx).is_ok());
    assert!(f.chain.check_transaction(&tx).is_ok());
    assert_eq!(f.chain.sigcache().stats().entries, 0);
}

/// The txid leaves the signatures out: a copy of a pooled transaction with another signature
/// has the same txid, yet its cached twin must not vouch for it.
#[tokio::test]
async fn a_cached_signature_does_not_vouch_for_another_signature_under_the_same_txid() {
    let mut f = funded(1).await;
    let honest = pooled_candidates(&f, 1).await.remove(0);
    f.submit(honest.clone()).unwrap();

    // Key 0's valid signature, but over another message.
    let mut forged = honest.clone();
    *signature_mut(&mut forged, 0) = key(0).sign(&[7; 32]);
    assert_eq!(forged.txid(), honest.txid());
    let block = f.block_with(vec![forged.clone()], 0);
    let expected = BlockError::Transaction {
        index: 1,
        error: TxError::BadSignature { index: 0 },
    };
    expect_block_error(&mut f, block, expected).await;

    // A flipped bit of the cached signature.
    let mut flipped = honest.clone();
    signature_mut(&mut flipped, 0).0[31] ^= 1;
    // (Another body, so another block hash than the block just condemned.)
    let block = f.block_with(vec![flipped], 0);
    let expected = BlockError::Transaction {
        index: 1,
        error: TxError::BadSignature { index: 0 },
    };
    expect_block_error(&mut f, block, expected).await;

    // The honest transaction still confirms, from the cache.
    let before = f.chain.sigcache().stats();
    f.mine(vec![honest]).await;
    assert_eq!(delta(f.chain.sigcache().stats(), before), (1, 0));
}

/// The cached (key, signature) pair of one transaction copied into another transaction (another
/// txid) spending the same coin: the pair signs the first txid only.
#[tokio::test]
async fn a_cached_signature_does_not_vouch_for_another_txid() {
    let mut f = funded(1).await;
    let honest = pooled_candidates(&f, 1).await.remove(0);
    f.submit(honest.clone()).unwrap();

    let mut other = spend(&[f.coinbase_at(1).await], 0, &[(99_000_000, pkh(9))]);
    *signature_mut(&mut other, 0) = signature_of(&honest, 0);
    assert_ne!(other.txid(), honest.txid());
    let block = f.block_with(vec![other], 0);
    let expected = BlockError::Transaction {
        index: 1,
        error: TxError::BadSignature { index: 0 },
    };
    let before = f.chain.sigcache().stats();
    expect_block_error(&mut f, block, expected).await;
    assert_eq!(delta(f.chain.sigcache().stats(), before), (0, 1));
}

#[tokio::test]
async fn a_pooled_transaction_whose_entry_was_evicted_is_verified_in_its_block() {
    let mut f = funded(10).await;
    // One bucket of four: ten transactions push six entries out.
    f.chain.set_sigcache(SigCache::new(4));
    let txs = pooled_candidates(&f, 10).await;
    for tx in &txs {
        f.submit(tx.clone()).unwrap();
    }
    let before = f.chain.sigcache().stats();
    assert_eq!((before.entries, before.evictions), (4, 6));

    f.mine(txs).await;

    assert_eq!(delta(f.chain.sigcache().stats(), before), (4, 6));
    assert_eq!(f.chain.sigcache().stats().entries, 0);
    assert!(f.chain.mempool().is_empty());
}

/// A block confirming a pooled transaction is reorganised away: the transaction returns to the
/// mempool, is checked and cached again, and confirms on the new branch from the cache.
#[tokio::test]
async fn a_transaction_returned_by_a_reorganisation_is_cached_again() {
    let mut f = funded(1).await;
    let tx = pooled_candidates(&f, 1).await.remove(0);
    f.submit(tx.clone()).unwrap();
    let fork = f.chain.tip().hash;
    f.mine(vec![tx.clone()]).await;
    assert_eq!(f.chain.sigcache().stats().entries, 0);

    // A longer branch without it, from the block before.
    let mut parent = fork;
    for _ in 0..2 {
        f.now += 1;
        let block = f.block_on(parent, vec![], 0, pkh(5));
        parent = block.block_hash();
        f.chain.submit_block(block, f.now).await.unwrap();
    }
    assert_eq!(f.chain.tip().hash, parent);
    assert!(f.chain.mempool().contains(&tx.txid()));
    assert_eq!(f.chain.sigcache().stats().entries, 1);

    let before = f.chain.sigcache().stats();
    f.mine(vec![tx]).await;
    assert_eq!(delta(f.chain.sigcache().stats(), before), (1, 0));
    assert!(f.chain.mempool().is_empty());
}

// ---- the parallel checks report the sequential error ----------------------------------------

/// What goes wrong with one input of the block built by [`faulty_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The lowest bit of r flipped: a valid-looking signature that does not verify.
    BadSignature,
    /// s replaced by n - s.
    HighS,
    /// r = 0.
    MalformedSignature,
    /// The input spends an output that does not exist (a rule checked in order, not a
    /// signature).
    MissingInput,
}

impl Fault {
    fn error(self, index: usize, prevout: OutPoint) -> TxError {
        match self {
            Fault::BadSignature => TxError::BadSignature { index },
            Fault::HighS => TxError::HighS { index },
            Fault::MalformedSignature => TxError::MalformedSignature { index },
            Fault::MissingInput => TxError::MissingInput { index, prevout },
        }
    }
}

fn arb_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => Just(Fault::BadSignature),
        1 => Just(Fault::HighS),
        1 => Just(Fault::MalformedSignature),
        2 => Just(Fault::MissingInput),
    ]
}

/// n - s for a 32-byte big-endian s, with n the order of secp256k1.
fn negate_s(s: &[u8]) -> [u8; 32] {
    let n =
        hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap();
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

const COIN_UNITS: u64 = 1_000;

/// Unspent outputs for a test block: coin `i` pays key `i % 8`, at height 0, not a coinbase.
fn coins(n: usize) -> HashMap<OutPoint, Coin> {
    (0..n)
        .map(|i| {
            let outpoint = OutPoint::new(Txid([0xc0; 32]), i as u32);
            let coin = Coin {
                output: TxOut {
                    amount: Amount::from_units(COIN_UNITS).unwrap(),
                    pubkey_hash: pkh(i as u8 % 8),
                },
                height: 0,
                is_coinbase: false,
            };
            (outpoint, coin)
        })
        .collect()
}

/// A block at height 1 whose transaction `t` (1-based) has `shape[t - 1]` inputs, each spending
/// a coin of [`coins`], with `faults` applied at (transaction, input); `coinbase_overpays` makes
/// the coinbase claim one unit too many (a rule checked after every transaction). Returns the
/// block and the error that checking it in order meets first, if any.
fn faulty_block(
    params: &Params,
    shape: &[usize],
    faults: &HashMap<(usize, usize), Fault>,
    coinbase_overpays: bool,
) -> (Block, Option<BlockError>) {
    let subsidy = params.block_subsidy(1).units();
    let reward = subsidy + u64::from(coinbase_overpays);
    let mut transactions = vec![Transaction::coinbase(
        1,
        0,
        vec![TxOut {
            amount: Amount::from_units(reward).unwrap(),
            pubkey_hash: pkh(0),
        }],
    )];
    let mut first_error = None;
    let mut next_coin = 0u32;
    for (t, &inputs) in shape.iter().enumerate() {
        let index = t + 1;
        let mut tx = Transaction {
            version: 1,
            inputs: Vec::new(),
            outputs: vec![TxOut {
                amount: Amount::from_units(COIN_UNITS * inputs as u64).unwrap(),
                pubkey_hash: pkh(9),
            }],
        };
        let mut owners = Vec::new();
        for i in 0..inputs {
            let coin = next_coin;
            next_coin += 1;
            let mut prevout = OutPoint::new(Txid([0xc0; 32]), coin);
            if faults.get(&(index, i)) == Some(&Fault::MissingInput) {
                prevout = OutPoint::new(Txid([0xee; 32]), coin);
            }
            owners.push(key(coin as u8 % 8));
            tx.inputs.push(TxIn::Spend {
                prevout,
                public_key: key(coin as u8 % 8).public_key(),
                signature: Signature([0; 64]),
            });
        }
        let txid = tx.txid();
        for (i, owner) in owners.iter().enumerate() {
            let signature = signature_mut(&mut tx, i);
            *signature = owner.sign(&txid.0);
            match faults.get(&(index, i)) {
                Some(Fault::BadSignature) => signature.0[31] ^= 1,
                Some(Fault::HighS) => {
                    let high = negate_s(&signature.0[32..]);
                    signature.0[32..].copy_from_slice(&high);
                }
                Some(Fault::MalformedSignature) => signature.0[..32].fill(0),
                Some(Fault::MissingInput) | None => {}
            }
            if first_error.is_none()
                && let Some(fault) = faults.get(&(index, i))
            {
                first_error = Some(BlockError::Transaction {
                    index,
                    error: fault.error(i, tx.inputs[i].prevout()),
                });
            }
        }
        transactions.push(tx);
    }
    if first_error.is_none() && coinbase_overpays {
        first_error = Some(BlockError::CoinbaseTooLarge {
            paid: Amount::from_units(reward).unwrap(),
            allowed: Amount::from_units(subsidy).unwrap(),
        });
    }
    let mut block = Block {
        header: mycoin_core::Header {
            version: 1,
            prev_hash: params.genesis_hash(),
            merkle_root: Default::default(),
            time: params.genesis_time + 1,
            bits: params.pow_limit,
            nonce: 0,
        },
        transactions,
    };
    block.header.merkle_root = block.compute_merkle_root().0;
    (block, first_error)
}

fn connect_with(
    block: &Block,
    base: &HashMap<OutPoint, Coin>,
    params: &Params,
    signatures: SignatureChecks<'_>,
) -> Result<(), BlockError> {
    let mut view = UtxoOverlay::new(base);
    connect_block(block, 1, &mut view, params, signatures).map(|_| ())
}

/// A block with faults at chosen positions; returns (shape, faults, coinbase_overpays).
fn arb_faulty_shape() -> impl Strategy<Value = (Vec<usize>, HashMap<(usize, usize), Fault>, bool)> {
    prop::collection::vec(1usize..=3, 1..=24).prop_flat_map(|shape| {
        let positions: Vec<(usize, usize)> = shape
            .iter()
            .enumerate()
            .flat_map(|(t, &n)| (0..n).map(move |i| (t + 1, i)))
            .collect();
        let count = positions.len();
        (
            Just(shape),
            prop::collection::vec((0..count, arb_fault()), 0..=3),
            any::<bool>(),
        )
            .prop_map(move |(shape, picks, overpays)| {
                let faults = picks
                    .into_iter()
                    .map(|(p, fault)| (positions[p], fault))
                    .collect();
                (shape, faults, overpays)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Sequential, always parallel, and the default threshold all report the first fault in
    /// block order (or the coinbase rule after them, or nothing), whatever the faults' positions.
    #[test]
    fn parallel_checks_report_the_error_of_the_sequential_order(
        (shape, faults, overpays) in arb_faulty_shape()
    ) {
        let params = regtest();
        let inputs: usize = shape.iter().sum();
        let base = coins(inputs);
        let (block, expected) = faulty_block(&params, &shape, &faults, overpays);
        let cold = SigCache::new(0);
        for parallel_from in [usize::MAX, 0, SignatureChecks::new(&cold).parallel_from] {
            let signatures = SignatureChecks { cache: &cold, parallel_from };
            let outcome = connect_with(&block, &base, &params, signatures);
            prop_assert_eq!(outcome.err(), expected.clone(), "parallel_from {}", parallel_from);
        }
    }
}

/// A bad signature at each position of a 40-input block, alone and followed by a later fault:
/// the parallel checks name exactly that input.
#[test]
fn a_bad_signature_at_every_position_is_reported_where_it_is() {
    let params = regtest();
    let shape = vec![2; 20];
    let base = coins(40);
    let cold = SigCache::new(0);
    for t in 1..=20 {
        for i in 0..2 {
            let expected = Some(BlockError::Transaction {
                index: t,
                error: TxError::BadSignature { index: i },
            });
            for later in [None, Some(Fault::MissingInput), Some(Fault::HighS)] {
                let mut faults = HashMap::from([((t, i), Fault::BadSignature)]);
                if let Some(fault) = later {
                    if (t, i) == (20, 1) {
                        continue;
                    }
                    faults.insert((20, 1), fault);
                }
                let (block, first) = faulty_block(&params, &shape, &faults, true);
                assert_eq!(first, expected);
                for parallel_from in [0, usize::MAX] {
                    let signatures = SignatureChecks {
                        cache: &cold,
                        parallel_from,
                    };
                    assert_eq!(
                        connect_with(&block, &base, &params, signatures).err(),
                        expected,
                        "fault at ({t}, {i}), later {later:?}, parallel_from {parallel_from}"
                    );
                }
            }
        }
    }
}

/// A valid block connects the same way whichever path checks its signatures, and a warm cache
/// replaces every verification.
#[test]
fn a_valid_block_connects_alike_sequentially_in_parallel_and_from_the_cache() {
    let params = regtest();
    let shape = vec![1, 3, 2, 1, 1, 2, 3, 1, 1, 2];
    let base = coins(shape.iter().sum());
    let (block, expected) = faulty_block(&params, &shape, &HashMap::new(), false);
    assert_eq!(expected, None);
    // Salted keys land in random buckets: with room for 1,024, an eviction among these 17 is
    // very unlikely, and counted when it happens.
    let warm = SigCache::new(1024);
    for tx in &block.transactions {
        warm.insert_transaction(tx);
    }
    let evicted = warm.stats().evictions;
    let cold = SigCache::new(0);
    let mut undos = Vec::new();
    for signatures in [
        SignatureChecks {
            cache: &cold,
            parallel_from: usize::MAX,
        },
        SignatureChecks {
            cache: &cold,
            parallel_from: 0,
        },
        SignatureChecks::new(&warm),
    ] {
        let mut view = UtxoOverlay::new(&base);
        undos.push(connect_block(&block, 1, &mut view, &params, signatures).unwrap());
    }
    assert!(undos.windows(2).all(|w| w[0] == w[1]));
    let signatures = shape.iter().sum::<usize>() as u64;
    assert_eq!(
        (warm.stats().hits, warm.stats().misses),
        (signatures - evicted, evicted)
    );
}

/// verify.py's report (`verify_in_detail`: the verdict and each input's) verifies each distinct
/// signature once: a transaction repeating one input 300 times costs one verification, and a
/// second report costs none (the signature is cached). A forged signature repeated is also
/// verified once, and never cached.
#[tokio::test]
async fn a_detailed_verification_verifies_each_distinct_signature_once() {
    let f = funded(2).await;
    let coin = f.coinbase_at(1).await;
    let mut repeated = spend(&[coin; 300], 0, &[(1_000, pkh(1))]);
    let signature = signature_of(&repeated, 0);
    for input in 1..300 {
        *signature_mut(&mut repeated, input) = signature;
    }
    let before = f.chain.sigcache().stats();
    let report = f.chain.verify_in_detail(&repeated);
    // One cache lookup missed, then the memo answered the other 299.
    assert_eq!(delta(f.chain.sigcache().stats(), before), (0, 1));
    assert!(
        matches!(report.verdict, Err(TxError::DuplicateInput { .. })),
        "{report:?}"
    );
    assert_eq!(report.inputs.len(), 300);
    assert!(
        report.inputs.iter().all(Result::is_ok),
        "each input alone is valid"
    );
    let before = f.chain.sigcache().stats();
    f.chain.verify_in_detail(&repeated);
    assert_eq!(delta(f.chain.sigcache().stats(), before), (1, 0));

    let mut forged = spend(&[coin; 50], 0, &[(1_000, pkh(1))]);
    let mut bad = signature_of(&forged, 0);
    bad.0[10] ^= 1;
    for input in 0..50 {
        *signature_mut(&mut forged, input) = bad;
    }
    let before = f.chain.sigcache().stats();
    let report = f.chain.verify_in_detail(&forged);
    assert_eq!(delta(f.chain.sigcache().stats(), before), (0, 1));
    assert!(report.inputs.iter().all(|r| r.is_err()));
    assert_eq!(f.chain.sigcache().stats().entries, before.entries);
}
