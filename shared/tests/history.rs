//! The address history index on real stores (a SQLite file, a real PostgreSQL): after any
//! sequence of blocks, forks and reorganisations it holds exactly what an index built afresh
//! from the active chain holds; paging returns every transaction once; a chain stored before
//! the index existed is indexed when opened.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::*;
use mycoin_core::history::{AddressStats, AddressTx, Effect};
use mycoin_core::store::ChainStore;
use mycoin_core::{
    Block, BlockHash, Chain, Database, Network, OutPoint, Policy, PubKeyHash, SqlStore, TxIn, TxOut,
};
use proptest::prelude::*;

/// The keys the random chains pay and spend between.
const KEYS: u8 = 4;

async fn sql_store(url: &str) -> SqlStore {
    SqlStore::open(Database::connect(url).await.unwrap())
        .await
        .unwrap()
}

/// The index built afresh from the active chain's blocks (genesis first), by following every
/// output from the block that creates it to the one that spends it: independent of the undo
/// data and of the store's own bookkeeping.
fn expected_index(active: &[Block]) -> BTreeMap<PubKeyHash, Vec<AddressTx>> {
    let mut outputs: HashMap<OutPoint, TxOut> = HashMap::new();
    let mut index: BTreeMap<PubKeyHash, Vec<AddressTx>> = BTreeMap::new();
    for (height, block) in active.iter().enumerate().skip(1) {
        for (position, tx) in block.transactions.iter().enumerate() {
            let txid = tx.txid();
            let mut effects: BTreeMap<PubKeyHash, AddressTx> = BTreeMap::new();
            let blank = |pubkey_hash| AddressTx {
                pubkey_hash,
                height: height as u32,
                position: position as u32,
                txid,
                effect: Effect::default(),
                fee: 0,
            };
            let (mut paid_in, mut paid_out) = (0, 0);
            for input in &tx.inputs {
                if let TxIn::Spend { prevout, .. } = input {
                    let output = outputs.remove(prevout).expect("spends a known output");
                    let pkh = output.pubkey_hash;
                    let row = effects.entry(pkh).or_insert_with(|| blank(pkh));
                    row.effect.sent += output.amount.units();
                    row.effect.spent += 1;
                    paid_in += output.amount.units();
                }
            }
            for (vout, output) in tx.outputs.iter().enumerate() {
                outputs.insert(OutPoint::new(txid, vout as u32), *output);
                let pkh = output.pubkey_hash;
                let row = effects.entry(pkh).or_insert_with(|| blank(pkh));
                row.effect.received += output.amount.units();
                row.effect.funded += 1;
                paid_out += output.amount.units();
            }
            let fee = if tx.is_coinbase() {
                0
            } else {
                paid_in - paid_out
            };
            for row in effects.into_values() {
                index
                    .entry(row.pubkey_hash)
                    .or_default()
                    .push(AddressTx { fee, ..row });
            }
        }
    }
    for rows in index.values_mut() {
        rows.reverse(); // newest first
    }
    index
}

/// Checks the store's index of every key against [`expected_index`] of the active chain.
async fn assert_index_is_fresh<S: ChainStore>(chain: &Chain<S>) {
    let active = active_blocks(chain).await;
    let expected = expected_index(&active);
    for i in 0..KEYS {
        let rows = chain
            .store()
            .address_history(&pkh(i), None, usize::MAX)
            .await
            .unwrap();
        let want = expected.get(&pkh(i)).cloned().unwrap_or_default();
        assert_eq!(rows, want, "history of key {i} at tip {}", chain.tip().hash);
        let mut stats = AddressStats::default();
        want.iter().for_each(|row| stats.add(&row.effect));
        assert_eq!(chain.store().address_stats(&pkh(i)).await.unwrap(), stats);
    }
}

/// Builds blocks on randomly chosen known blocks (so forks and reorganisations of any depth
/// follow), each paying between the keys from coins of its own branch, and checks the index
/// after every step.
async fn random_chain<S: ChainStore>(store: S, ops: Vec<(usize, usize, u8)>) {
    let mut f = Fixture::with_store(Network::Regtest.params(), store).await;
    let genesis = f.params.genesis_block();
    let mut blocks: HashMap<BlockHash, Block> = HashMap::from([(genesis.block_hash(), genesis)]);
    let mut known = vec![f.chain.tip().hash];
    let owner = |pkh_: &PubKeyHash| (0..KEYS).find(|i| pkh(*i) == *pkh_);
    for (choice, spends, to) in ops {
        let parent = known[choice % known.len()];
        let branch = branch_to(&blocks, parent);
        let mut coins: Vec<(OutPoint, u64, u8)> = rebuild_utxos(&branch)
            .iter()
            .filter(|(_, c)| c.is_mature_at(branch.len() as u32, f.params.coinbase_maturity))
            .filter_map(|(o, c)| Some((*o, c.output.amount.units(), owner(&c.output.pubkey_hash)?)))
            .collect();
        coins.sort();
        // Each spend pays part of one coin to key `to` and the rest, less a fee, back.
        let txs = coins
            .iter()
            .filter(|(_, units, _)| *units >= 1_000)
            .take(spends)
            .map(|(o, units, from)| {
                let paid = units / 3;
                spend(
                    &[*o],
                    *from,
                    &[(paid, pkh(to % KEYS)), (units - paid - 100, pkh(*from))],
                )
            })
            .collect::<Vec<_>>();
        let fees = 100 * txs.len() as u64;
        f.now += 1;
        let block = f.block_on(parent, txs, fees, pkh(to % KEYS));
        let hash = block.block_hash();
        f.chain.submit_block(block.clone(), f.now).await.unwrap();
        blocks.insert(hash, block);
        known.push(hash);
        assert_index_is_fresh(&f.chain).await;
    }
}

fn ops() -> impl Strategy<Value = Vec<(usize, usize, u8)>> {
    proptest::collection::vec((any::<usize>(), 0usize..3, any::<u8>()), 1..20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn on_sqlite_the_index_always_equals_a_fresh_one_of_the_active_chain(ops in ops()) {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let (_dir, url) = fresh_sqlite_url();
            random_chain(sql_store(&url).await, ops).await;
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn on_postgres_the_index_always_equals_a_fresh_one_of_the_active_chain(ops in ops()) {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let Some(url) = fresh_postgres_url().await else {
                eprintln!("MYCOIN_TEST_DATABASE_URL is not set: PostgreSQL case skipped");
                return;
            };
            random_chain(sql_store(&url).await, ops).await;
        });
    }
}

/// Pages of any size, each starting after the last of the one before, return every
/// transaction of the address exactly once, newest first; the used addresses are those with a
/// transaction.
async fn paging_returns_each_once<S: ChainStore>(store: S) {
    let mut f = Fixture::with_store(Network::Regtest.params(), store).await;
    // Key 1 receives one coinbase in every block, and spends some.
    for height in 1..=30u32 {
        let mut txs = vec![];
        if height > f.params.coinbase_maturity + 1 && height % 3 == 0 {
            let coin = f.coinbase_at(height - f.params.coinbase_maturity - 1).await;
            txs.push(spend(
                &[coin],
                1,
                &[(50_000_000, pkh(2)), (49_999_000, pkh(1))],
            ));
        }
        let fees = 1_000 * txs.len() as u64;
        f.now += f.params.target_spacing;
        let block = f.block_on(f.chain.tip().hash, txs, fees, pkh(1));
        f.chain.submit_block(block, f.now).await.unwrap();
    }
    let store = f.chain.store();
    let all = store
        .address_history(&pkh(1), None, usize::MAX)
        .await
        .unwrap();
    assert!(all.len() > 30, "{}", all.len());
    assert!(
        all.windows(2)
            .all(|w| (w[0].height, w[0].position) > (w[1].height, w[1].position))
    );
    for limit in [1, 2, 7, 25, 100] {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store.address_history(&pkh(1), before, limit).await.unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            before = Some((last.height, last.position));
            seen.extend(page);
        }
        assert_eq!(seen, all, "pages of {limit}");
    }
    // Which keys have a transaction, asked all at once: key 3 never had one.
    let asked = [pkh(3), pkh(1), pkh(2), pkh(3)];
    assert_eq!(
        store.used_addresses(&asked).await.unwrap(),
        HashSet::from([pkh(1), pkh(2)])
    );
    assert!(store.used_addresses(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn paging_returns_every_transaction_once_on_sqlite_and_postgres() {
    let (_dir, url) = fresh_sqlite_url();
    paging_returns_each_once(sql_store(&url).await).await;
    match fresh_postgres_url().await {
        Some(url) => paging_returns_each_once(sql_store(&url).await).await,
        None => eprintln!("MYCOIN_TEST_DATABASE_URL is not set: PostgreSQL case skipped"),
    }
}

/// A chain stored before the index existed (its rows deleted here), or whose indexing was cut
/// short, is indexed when the node opens it, and ends as a fresh index of the chain.
async fn an_unindexed_chain_is_indexed_on_open(url: &str) {
    let mut f = Fixture::with_store(Network::Regtest.params(), sql_store(url).await).await;
    f.mine_empty(3).await;
    let coin = f.coinbase_at(1).await;
    f.mine(vec![spend(
        &[coin],
        0,
        &[(70_000_000, pkh(1)), (29_000_000, pkh(0))],
    )])
    .await;
    f.mine_empty(2).await;
    let tip = f.chain.tip().hash;
    drop(f);

    for cut in [
        [
            "DELETE FROM chain_address_txs",
            "DELETE FROM chain_history_height",
        ],
        [
            "DELETE FROM chain_address_txs WHERE height > 3",
            "UPDATE chain_history_height SET height = 3",
        ],
    ] {
        let db = Database::connect(url).await.unwrap();
        for sql in cut {
            sqlx::query(sql).execute(db.pool()).await.unwrap();
        }
        let store = SqlStore::open(db).await.unwrap();
        assert!(store.history_height().await.unwrap() < Some(6));
        let chain = Chain::open_with(Network::Regtest.params(), Policy::permissive(), store)
            .await
            .unwrap();
        assert_eq!(chain.tip().hash, tip);
        assert_eq!(chain.store().history_height().await.unwrap(), Some(6));
        assert_index_is_fresh(&chain).await;
    }
}

#[tokio::test]
async fn a_chain_stored_before_the_index_is_indexed_when_opened() {
    let (_dir, url) = fresh_sqlite_url();
    an_unindexed_chain_is_indexed_on_open(&url).await;
    match fresh_postgres_url().await {
        Some(url) => an_unindexed_chain_is_indexed_on_open(&url).await,
        None => eprintln!("MYCOIN_TEST_DATABASE_URL is not set: PostgreSQL case skipped"),
    }
}
