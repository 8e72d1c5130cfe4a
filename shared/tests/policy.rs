//! The relay policy (PROTOCOL.md §12.3) and the bounds on what strangers can make a node keep:
//! minimum fee rate, dust, the mempool's cap with eviction by fee rate and a rising minimum,
//! the orphan pool's bytes and the set of refused hashes.

mod common;

use common::*;
use mycoin_core::chain::MAX_REFUSED;
use mycoin_core::{
    Amount, BlockAccepted, BlockError, BlockHash, ChainError, FeeRate, Network, Policy,
    PolicyError, Transaction, TxRefused, Txid,
};

/// A chain with `coins` mature coinbases of key 0, run with `policy`.
async fn funded(coins: usize, policy: Policy) -> Fixture {
    let mut f = Fixture::with_policy(Network::Regtest.params(), policy).await;
    f.mine_empty(coins + 1).await;
    f
}

/// Key 0's coinbase of height `height` (one coin) to key 1, less `fee`: 167 bytes.
async fn paying(f: &Fixture, height: u32, fee: u64) -> Transaction {
    let tx = spend(
        &[f.coinbase_at(height).await],
        0,
        &[(100_000_000 - fee, pkh(1))],
    );
    assert_eq!(tx.size(), 167);
    tx
}

fn submit(f: &mut Fixture, tx: &Transaction) -> Result<Vec<Txid>, TxRefused> {
    f.chain
        .submit_transaction(tx.clone(), u64::from(f.now))
        .map(|admitted| admitted.evicted)
}

/// Refuses `tx` for `expected`, with the mempool as it was.
fn refused(f: &mut Fixture, tx: &Transaction, expected: PolicyError) {
    let before = f.state();
    assert_eq!(submit(f, tx), Err(TxRefused::Policy(expected)));
    assert_eq!(f.state(), before, "a refused transaction changed the state");
}

#[tokio::test]
async fn a_transaction_pays_the_minimum_relay_fee_rate() {
    let mut f = funded(2, Policy::default()).await;
    let cheap = paying(&f, 1, 166).await;
    refused(
        &mut f,
        &cheap,
        PolicyError::FeeTooLow {
            fee: Amount::from_units(166).unwrap(),
            size: 167,
            min_rate: FeeRate::per_byte(1),
            min_fee: 167,
        },
    );
    let enough = paying(&f, 1, 167).await;
    assert_eq!(submit(&mut f, &enough), Ok(vec![]));
    // A fee of zero too, though the transaction is valid: consensus would mine it.
    let free = paying(&f, 2, 0).await;
    assert!(matches!(
        submit(&mut f, &free),
        Err(TxRefused::Policy(PolicyError::FeeTooLow { .. }))
    ));
    assert!(f.chain.verify_transaction(&free).is_ok());
}

#[tokio::test]
async fn an_output_below_the_dust_limit_is_refused() {
    let mut f = funded(1, Policy::default()).await;
    let coin = f.coinbase_at(1).await;
    let dust = spend(&[coin], 0, &[(99_000_000, pkh(1)), (482, pkh(2))]);
    refused(
        &mut f,
        &dust,
        PolicyError::Dust {
            index: 1,
            amount: Amount::from_units(482).unwrap(),
            limit: Amount::from_units(483).unwrap(),
        },
    );
    let not_dust = spend(&[coin], 0, &[(99_000_000, pkh(1)), (483, pkh(2))]);
    assert_eq!(submit(&mut f, &not_dust), Ok(vec![]));
}

#[tokio::test]
async fn a_transaction_larger_than_the_whole_mempool_is_refused() {
    let policy = Policy {
        mempool_max_bytes: 166,
        ..Policy::default()
    };
    let mut f = funded(1, policy).await;
    let tx = paying(&f, 1, 10_000).await;
    refused(
        &mut f,
        &tx,
        PolicyError::TooLargeForMempool {
            size: 167,
            max: 166,
        },
    );
}

#[tokio::test]
async fn a_full_mempool_evicts_the_lowest_fee_rate_and_raises_its_minimum() {
    // Room for three transactions of 167 bytes.
    let policy = Policy {
        mempool_max_bytes: 3 * 167,
        ..Policy::default()
    };
    let mut f = funded(6, policy).await;
    let per_byte = |rate_thousandths: u64| rate_thousandths * 167 / 1000;
    let a = paying(&f, 1, per_byte(2000)).await;
    let b = paying(&f, 2, per_byte(5000)).await;
    let c = paying(&f, 3, per_byte(3000)).await;
    for tx in [&a, &b, &c] {
        assert_eq!(submit(&mut f, tx), Ok(vec![]));
    }
    assert_eq!(f.chain.mempool().bytes(), 3 * 167);
    assert_eq!(f.chain.min_fee_rate(u64::from(f.now)), FeeRate::per_byte(1));

    // 4 a byte: room is made by evicting the lowest rate, 2 a byte; the minimum becomes
    // 2 + 1 a byte.
    let d = paying(&f, 4, per_byte(4000)).await;
    assert_eq!(submit(&mut f, &d), Ok(vec![a.txid()]));
    assert!(!f.chain.mempool().contains(&a.txid()));
    assert_eq!(f.chain.mempool().bytes(), 3 * 167);
    assert_eq!(f.chain.min_fee_rate(u64::from(f.now)), FeeRate::per_byte(3));

    // Below the raised minimum: refused before anything is evicted.
    let e = paying(&f, 5, per_byte(2500)).await;
    refused(
        &mut f,
        &e,
        PolicyError::FeeTooLow {
            fee: Amount::from_units(417).unwrap(),
            size: 167,
            min_rate: FeeRate::per_byte(3),
            min_fee: 501,
        },
    );
    // At the minimum but no better than the cheapest pooled (3 a byte): the newcomer is the one
    // that does not fit.
    let f3 = paying(&f, 5, per_byte(3000)).await;
    refused(
        &mut f,
        &f3,
        PolicyError::MempoolFull {
            rate: FeeRate::per_byte(3),
        },
    );
    // Better than it: C goes, and the minimum rises again, to 3 + 1.
    let g = paying(&f, 6, per_byte(3500)).await;
    assert_eq!(submit(&mut f, &g), Ok(vec![c.txid()]));
    assert_eq!(f.chain.min_fee_rate(u64::from(f.now)), FeeRate::per_byte(4));
    let pooled: Vec<Txid> = f.chain.mempool().by_fee_rate().map(|e| e.txid).collect();
    assert_eq!(pooled, [b.txid(), d.txid(), g.txid()]);

    // The raised minimum halves every 12 hours while the pool stays full, and ends at the
    // minimum relay fee rate.
    let now = u64::from(f.now);
    let hours = |h: u64| now + h * 3600;
    assert_eq!(f.chain.min_fee_rate(hours(11)), FeeRate::per_byte(4));
    assert_eq!(f.chain.min_fee_rate(hours(12)), FeeRate::per_byte(2));
    assert_eq!(f.chain.min_fee_rate(hours(24)), FeeRate::per_byte(1));
    assert_eq!(f.chain.min_fee_rate(hours(48)), FeeRate::per_byte(1));
}

#[tokio::test]
async fn of_equal_fee_rates_the_newest_is_evicted_first() {
    let policy = Policy {
        mempool_max_bytes: 3 * 167,
        ..Policy::default()
    };
    let mut f = funded(4, policy).await;
    let older = paying(&f, 1, 334).await;
    let newer = paying(&f, 2, 334).await;
    let best = paying(&f, 3, 835).await;
    for tx in [&older, &newer, &best] {
        submit(&mut f, tx).unwrap();
    }
    let next = paying(&f, 4, 668).await;
    assert_eq!(submit(&mut f, &next), Ok(vec![newer.txid()]));
    assert!(f.chain.mempool().contains(&older.txid()));
}

#[tokio::test]
async fn the_orphan_pool_is_bounded_in_bytes_and_drops_the_oldest_first() {
    let probe = funded(0, Policy::default()).await;
    let size = probe.block_with(vec![], 0).size();
    let policy = Policy {
        orphan_max_bytes: 3 * size + size / 2,
        ..Policy::default()
    };
    let mut f = funded(0, policy).await;
    let template = f.block_with(vec![], 0);
    let mut orphans = Vec::new();
    for i in 0..5u32 {
        let mut orphan = template.clone();
        orphan.header.prev_hash = BlockHash([0x77; 32]);
        orphan.header.time += i;
        solve(&mut orphan, &f.params);
        assert_eq!(orphan.size(), size);
        let outcome = f.chain.submit_block(orphan.clone(), f.now).await.unwrap();
        assert!(matches!(outcome, BlockAccepted::Orphan { .. }));
        orphans.push(orphan);
        assert!(f.chain.orphan_bytes() <= policy.orphan_max_bytes);
    }
    assert_eq!(f.chain.orphan_count(), 3);
    assert_eq!(f.chain.orphan_bytes(), 3 * size);
    assert_eq!(f.chain.snapshot().orphan_bytes(), 3 * size);
    // The two oldest went: the first, submitted again, is kept again as the newest, and the
    // oldest kept now goes.
    let again = f
        .chain
        .submit_block(orphans[0].clone(), f.now)
        .await
        .unwrap();
    assert!(matches!(again, BlockAccepted::Orphan { .. }));
    assert_eq!(f.chain.orphan_count(), 3);

    // A block larger than the whole pool is not kept at all.
    let tiny = Policy {
        orphan_max_bytes: size - 1,
        ..Policy::default()
    };
    let mut f = funded(0, tiny).await;
    let outcome = f
        .chain
        .submit_block(orphans[1].clone(), f.now)
        .await
        .unwrap();
    assert!(matches!(outcome, BlockAccepted::Orphan { .. }));
    assert_eq!((f.chain.orphan_count(), f.chain.orphan_bytes()), (0, 0));
}

#[tokio::test]
async fn the_refused_set_forgets_the_least_recently_refused() {
    let mut f = funded(0, Policy::default()).await;
    let template = f.block_with(vec![], 0);
    let bad = |i: u32| {
        let mut block = template.clone();
        block.header.time = block.header.time.wrapping_add(i);
        unsolve(&mut block, &Network::Regtest.params());
        block
    };
    let refuse = async |f: &mut Fixture, block| match f.chain.submit_block(block, f.now).await {
        Err(ChainError::Invalid(error)) => error,
        other => panic!("a block without proof of work: {other:?}"),
    };
    for i in 0..MAX_REFUSED as u32 {
        let error = refuse(&mut f, bad(i)).await;
        assert!(matches!(error, BlockError::ProofOfWork { .. }), "{error:?}");
    }
    assert_eq!(f.chain.refused_count(), MAX_REFUSED);
    // Refusing the oldest again makes it the most recent; one more forgets the second oldest.
    let first = bad(0);
    assert_eq!(
        refuse(&mut f, first.clone()).await,
        BlockError::KnownInvalid(first.block_hash())
    );
    refuse(&mut f, bad(MAX_REFUSED as u32)).await;
    assert_eq!(f.chain.refused_count(), MAX_REFUSED);
    assert_eq!(
        refuse(&mut f, first.clone()).await,
        BlockError::KnownInvalid(first.block_hash())
    );
    let second = refuse(&mut f, bad(1)).await;
    assert!(
        matches!(second, BlockError::ProofOfWork { .. }),
        "{second:?}"
    );
}
