//! The chain state on real stores: a SQLite file and a real PostgreSQL server. The same
//! scenarios run on both, and on the in-memory store.

mod common;

use common::*;
use mycoin_core::store::{ChainStore, ChainUpdate};
use mycoin_core::{BlockAccepted, Chain, Database, MemoryStore, Network, OutPoint, SqlStore};

async fn sql_store(url: &str) -> SqlStore {
    SqlStore::open(Database::connect(url).await.unwrap())
        .await
        .unwrap()
}

/// Mines, pays, reorganises; returns the fixture for further checks.
async fn scenario<S: ChainStore>(store: S) -> Fixture<S> {
    let mut f = Fixture::with_store(Network::Regtest.params(), store).await;
    f.mine_empty(3).await;
    let pay = spend(
        &[f.coinbase_at(1).await],
        0,
        &[(60_000_000, pkh(1)), (40_000_000, pkh(0))],
    );
    f.submit(pay.clone()).unwrap();
    let fork = f.chain.tip().hash;
    let a = f.mine(vec![pay.clone()]).await;
    // A heavier branch from the fork without the payment: the payment returns to the mempool.
    f.now += 1;
    let b1 = f.block_on(fork, vec![], 0, pkh(2));
    assert_eq!(
        f.chain.submit_block(b1.clone(), f.now).await.unwrap(),
        BlockAccepted::SideChain
    );
    f.now += 1;
    let b2 = f.block_on(b1.block_hash(), vec![], 0, pkh(2));
    let outcome = f.chain.submit_block(b2, f.now).await.unwrap();
    assert!(matches!(
        outcome,
        BlockAccepted::NewTip {
            disconnected: 1,
            height: 5,
            ..
        }
    ));
    // The payment left the chain with its block and is back in the mempool: the outcome says
    // so, for the peer to relay it again.
    let BlockAccepted::NewTip { returned, .. } = &outcome else {
        unreachable!()
    };
    assert_eq!(returned, &vec![pay.txid()]);
    assert!(!f.chain.is_active(&a.block_hash()));
    assert!(f.chain.mempool().contains(&pay.txid()));
    let expected = rebuild_utxos(&active_blocks(&f.chain).await);
    assert_eq!(f.chain.utxos(), &expected);
    assert_eq!(f.chain.utxo_total(), f.chain.subsidy_issued());
    f
}

async fn reopen_keeps_everything(url: &str) {
    let f = scenario(sql_store(url).await).await;
    let before = (
        f.chain.tip().hash,
        f.chain.height(),
        f.chain.utxos().clone(),
    );
    drop(f);
    let chain = Chain::open(Network::Regtest.params(), sql_store(url).await)
        .await
        .unwrap();
    assert_eq!(
        (chain.tip().hash, chain.height(), chain.utxos().clone()),
        before
    );
    assert_eq!(chain.utxos(), &rebuild_utxos(&active_blocks(&chain).await));
}

/// A commit that fails half-way leaves the stored chain exactly as it was.
async fn a_failed_commit_changes_nothing(url: &str) {
    let f = scenario(sql_store(url).await).await;
    let before = (
        f.chain.tip().hash,
        f.chain.height(),
        f.chain.utxos().clone(),
    );
    let tip = f.chain.tip().hash;
    // Deletes the active chain above genesis, spends a coin, then inserts two blocks at the
    // same height: the second insert violates the primary key after all the other writes.
    let spent = *f.chain.utxos().keys().next().unwrap();
    let update = ChainUpdate {
        fork_height: 0,
        connected: vec![(tip, 1, Default::default()), (tip, 1, Default::default())],
        spent: vec![spent],
        ..Default::default()
    };
    assert!(f.chain.store().commit(&[], &update).await.is_err());
    drop(f);
    let chain = Chain::open(Network::Regtest.params(), sql_store(url).await)
        .await
        .unwrap();
    assert_eq!(
        (chain.tip().hash, chain.height(), chain.utxos().clone()),
        before
    );
}

#[tokio::test]
async fn memory_store_scenario() {
    scenario(MemoryStore::default()).await;
}

#[tokio::test]
async fn sqlite_reopen_keeps_tip_and_utxos() {
    let (_dir, url) = fresh_sqlite_url();
    reopen_keeps_everything(&url).await;
}

#[tokio::test]
async fn sqlite_failed_commit_changes_nothing() {
    let (_dir, url) = fresh_sqlite_url();
    a_failed_commit_changes_nothing(&url).await;
}

#[tokio::test]
async fn sqlite_uses_wal() {
    let (dir, url) = fresh_sqlite_url();
    let _store = sql_store(&url).await;
    assert!(
        dir.path().join("chain.sqlite-wal").exists(),
        "SQLite runs in WAL mode"
    );
}

#[tokio::test]
async fn postgres_reopen_keeps_tip_and_utxos() {
    let Some(url) = fresh_postgres_url().await else {
        eprintln!(
            "skipped: MYCOIN_TEST_DATABASE_URL is not set (the README's test command sets it)"
        );
        return;
    };
    reopen_keeps_everything(&url).await;
}

#[tokio::test]
async fn postgres_failed_commit_changes_nothing() {
    let Some(url) = fresh_postgres_url().await else {
        eprintln!(
            "skipped: MYCOIN_TEST_DATABASE_URL is not set (the README's test command sets it)"
        );
        return;
    };
    a_failed_commit_changes_nothing(&url).await;
}

#[tokio::test]
async fn a_store_of_another_network_is_refused() {
    let (_dir, url) = fresh_sqlite_url();
    drop(
        Chain::open(Network::Regtest.params(), sql_store(&url).await)
            .await
            .unwrap(),
    );
    let err = Chain::open(Network::Demo.params(), sql_store(&url).await)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another network"), "{err}");
}

#[tokio::test]
async fn transaction_lookup_follows_the_active_chain() {
    let (_dir, url) = fresh_sqlite_url();
    let mut f = Fixture::with_store(Network::Regtest.params(), sql_store(&url).await).await;
    f.mine_empty(2).await;
    let pay = spend(&[f.coinbase_at(1).await], 0, &[(100_000_000, pkh(1))]);
    f.submit(pay.clone()).unwrap();
    assert_eq!(
        f.chain.locate_transaction(&pay.txid()).await.unwrap(),
        Some(mycoin_core::TxLocation::Mempool)
    );
    let block = f.mine(vec![pay.clone()]).await;
    assert_eq!(
        f.chain.locate_transaction(&pay.txid()).await.unwrap(),
        Some(mycoin_core::TxLocation::Confirmed {
            block: block.block_hash(),
            height: 3,
            position: 1
        })
    );
    let _ = OutPoint::NULL;
}
