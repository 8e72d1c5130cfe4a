//! Where each output went (Esplora's outspends), exactly, on every store: unspent, spent in a
//! block (found far down the address's history, past pages of other spends), spent in the
//! mempool, spent in the same block as it was made, coinbase outputs, the genesis block, and
//! after a reorganisation that sends the spender back to the mempool.

mod common;

use common::*;
use mycoin_core::store::ChainStore;
use mycoin_core::{
    Block, BlockAccepted, Database, MemoryStore, Network, OutPoint, Outspend, PubKeyHash, SqlStore,
    TxLocation, Txid, chain::SPENDER_PAGE,
};

async fn sql_store(url: &str) -> SqlStore {
    SqlStore::open(Database::connect(url).await.unwrap())
        .await
        .unwrap()
}

/// Mines a block on the tip holding `txs`, its reward paid to `pay_to`.
async fn mine_to<S: ChainStore>(
    f: &mut Fixture<S>,
    txs: Vec<mycoin_core::Transaction>,
    pay_to: PubKeyHash,
) -> Block {
    f.now += f.params.target_spacing;
    let block = f.block_on(f.chain.tip().hash, txs, 0, pay_to);
    let outcome = f.chain.submit_block(block.clone(), f.now).await.unwrap();
    assert!(
        matches!(outcome, BlockAccepted::NewTip { .. }),
        "{outcome:?}"
    );
    block
}

fn confirmed(block: &Block, height: u32, position: u32) -> TxLocation {
    TxLocation::Confirmed {
        block: block.block_hash(),
        height,
        position,
    }
}

async fn outspends<S: ChainStore>(f: &Fixture<S>, txid: &Txid) -> Option<Vec<Outspend>> {
    f.chain.outspends(f.chain.store(), txid).await.unwrap()
}

/// The spends of more than a page of transactions of key 1 lie between the output and its
/// spender.
const OTHER_SPENDS: u32 = SPENDER_PAGE as u32 + 6;

async fn outspends_are_exact<S: ChainStore>(store: S) {
    let mut f = Fixture::with_store(Network::Regtest.params(), store).await;
    let genesis = f.chain.block(&f.chain.hash_at(0).unwrap()).await.unwrap();
    let genesis_coinbase = genesis.unwrap().transactions[0].txid();
    assert_eq!(
        outspends(&f, &genesis_coinbase).await,
        Some(vec![Outspend::Unspent])
    );
    assert_eq!(outspends(&f, &Txid([7; 32])).await, None);

    // Height 1 pays key 0; heights 2.. pay key 1, enough coins for its other spends and one.
    let cb1 = mine_to(&mut f, vec![], pkh(0)).await.transactions[0].txid();
    for _ in 0..=OTHER_SPENDS {
        mine_to(&mut f, vec![], pkh(1)).await;
    }
    let coinbase_height = |i: u32| 2 + i;
    // A coinbase output nobody spent.
    assert_eq!(outspends(&f, &cb1).await, Some(vec![Outspend::Unspent]));

    // A spends the coinbase, paying key 1 and key 0; D spends A's second output in the same
    // block.
    let a = spend(
        &[OutPoint::new(cb1, 0)],
        0,
        &[(1_000, pkh(1)), (2_000, pkh(0))],
    );
    let d = spend(&[OutPoint::new(a.txid(), 1)], 0, &[(1_500, pkh(2))]);
    let (a_id, d_id) = (a.txid(), d.txid());
    let funding = mine_to(&mut f, vec![a, d], pkh(0)).await;
    let funding_height = f.chain.height();
    assert_eq!(
        outspends(&f, &cb1).await,
        Some(vec![Outspend::Spent {
            txid: a_id,
            vin: 0,
            location: confirmed(&funding, funding_height, 1),
        }])
    );

    // Key 1 spends its other coins, over two blocks.
    let mut others = Vec::new();
    for i in 0..OTHER_SPENDS {
        let coin = f.coinbase_at(coinbase_height(i)).await;
        others.push(spend(&[coin], 1, &[(1_000, pkh(3))]));
    }
    let second = others.split_off(others.len() / 2);
    mine_to(&mut f, others, pkh(0)).await;
    mine_to(&mut f, second, pkh(0)).await;
    let fork_parent = f.chain.tip().hash;

    // B spends one more coin of key 1 and A's first output (input 1), in the mempool.
    let last_coin = f.coinbase_at(coinbase_height(OTHER_SPENDS)).await;
    let b = spend(&[last_coin, OutPoint::new(a_id, 0)], 1, &[(3_000, pkh(4))]);
    let b_id = f.submit(b.clone()).unwrap();
    let d_spent = Outspend::Spent {
        txid: d_id,
        vin: 0,
        location: confirmed(&funding, funding_height, 2),
    };
    let b_pending = Outspend::Spent {
        txid: b_id,
        vin: 1,
        location: TxLocation::Mempool,
    };
    assert_eq!(
        outspends(&f, &a_id).await,
        Some(vec![b_pending.clone(), d_spent.clone()])
    );
    // A mempool transaction's outputs, and an output no one spent yet.
    assert_eq!(outspends(&f, &b_id).await, Some(vec![Outspend::Unspent]));
    assert_eq!(outspends(&f, &d_id).await, Some(vec![Outspend::Unspent]));

    // B confirmed: found past more than a page of key 1's other spends.
    let spending = mine_to(&mut f, vec![b], pkh(0)).await;
    let spending_height = f.chain.height();
    assert_eq!(
        outspends(&f, &a_id).await,
        Some(vec![
            Outspend::Spent {
                txid: b_id,
                vin: 1,
                location: confirmed(&spending, spending_height, 1),
            },
            d_spent.clone(),
        ])
    );

    // A branch with more work, without B, takes its block off: B is back in the mempool.
    f.now += f.params.target_spacing;
    let side1 = f.block_on(fork_parent, vec![], 0, pkh(5));
    f.chain.submit_block(side1.clone(), f.now).await.unwrap();
    f.now += f.params.target_spacing;
    let side2 = f.block_on(side1.block_hash(), vec![], 0, pkh(5));
    f.chain.submit_block(side2.clone(), f.now).await.unwrap();
    assert_eq!(f.chain.tip().hash, side2.block_hash());
    assert!(f.chain.mempool().contains(&b_id));
    assert_eq!(outspends(&f, &a_id).await, Some(vec![b_pending, d_spent]));
}

#[tokio::test]
async fn outspends_are_exact_in_memory_on_sqlite_and_on_postgres() {
    outspends_are_exact(MemoryStore::default()).await;
    let (_dir, url) = fresh_sqlite_url();
    outspends_are_exact(sql_store(&url).await).await;
    match fresh_postgres_url().await {
        Some(url) => outspends_are_exact(sql_store(&url).await).await,
        None => eprintln!("MYCOIN_TEST_DATABASE_URL is not set: PostgreSQL case skipped"),
    }
}

/// Pages of any size, each after the last row of the one before, return exactly the address's
/// spending rows, oldest first.
async fn spending_pages<S: ChainStore>(store: S) {
    let mut f = Fixture::with_store(Network::Regtest.params(), store).await;
    for _ in 0..6 {
        mine_to(&mut f, vec![], pkh(1)).await;
    }
    for height in 1..=4 {
        let coin = f.coinbase_at(height).await;
        let outputs = [(1_000, pkh(2)), (2_000, pkh(1))];
        mine_to(&mut f, vec![spend(&[coin], 1, &outputs)], pkh(1)).await;
    }
    let store = f.chain.store();
    let mut all = store
        .address_history(&pkh(1), None, usize::MAX)
        .await
        .unwrap();
    all.reverse();
    all.retain(|row| row.effect.sent > 0);
    assert_eq!(all.len(), 4);
    for limit in [1, 3, 64] {
        let mut seen = Vec::new();
        let mut after = (0, 0);
        loop {
            let page = store.spending_history(&pkh(1), after, limit).await.unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = (last.height, last.position);
            seen.extend(page);
        }
        assert_eq!(seen, all, "pages of {limit}");
    }
    // From a height on: the rows after it only; an address that never spent has none.
    let from = store.spending_history(&pkh(1), (8, 0), 10).await.unwrap();
    assert_eq!(from, all[1..]);
    assert!(
        store
            .spending_history(&pkh(2), (0, 0), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn spending_rows_page_in_order_in_memory_on_sqlite_and_on_postgres() {
    spending_pages(MemoryStore::default()).await;
    let (_dir, url) = fresh_sqlite_url();
    spending_pages(sql_store(&url).await).await;
    match fresh_postgres_url().await {
        Some(url) => spending_pages(sql_store(&url).await).await,
        None => eprintln!("MYCOIN_TEST_DATABASE_URL is not set: PostgreSQL case skipped"),
    }
}
