//! The three ways a block reaches the active chain — one by one (`submit_block`), in a sync
//! batch (`submit_blocks`) and by a reorganisation onto a branch with more work — share one
//! connect path, so they must leave identical state: tip, active chain, unspent outputs (and
//! their address index), mempool, and what the store holds after a reopen. A property test
//! over random two-branch block trees, on memory, SQLite and PostgreSQL.

mod common;

use common::*;
use mycoin_core::store::ChainStore;
use mycoin_core::{
    Block, BlockHash, Chain, Database, MemoryStore, Network, OutPoint, Params, SqlStore, Txid,
};
use proptest::prelude::*;

/// A random tree: a common trunk, then two branches from its tip; every block after the first
/// pays half of the previous block's coinbase on its own branch to key 1 (so branches spend
/// different outputs, and a reorganisation returns payments to the mempool or drops them).
#[derive(Debug, Clone)]
struct Tree {
    trunk: usize,
    first: usize,
    second: usize,
    /// Whether the block at each position of the second branch carries a payment.
    pays: Vec<bool>,
}

fn arb_tree() -> impl Strategy<Value = Tree> {
    (1usize..4, 1usize..5, 1usize..7)
        .prop_flat_map(|(trunk, first, second)| {
            (
                Just(trunk),
                Just(first),
                Just(second),
                proptest::collection::vec(any::<bool>(), second),
            )
        })
        .prop_map(|(trunk, first, second, pays)| Tree {
            trunk,
            first,
            second,
            pays,
        })
}

/// The blocks of `tree`, trunk first, then the first branch, then the second, built on a
/// memory chain that accepts all of them (the second branch as a side chain, or a reorg).
async fn build(tree: &Tree) -> (Vec<Block>, Vec<Block>, Vec<Block>, u32) {
    let mut f = Fixture::new(Network::Regtest.params()).await;
    let mut trunk = Vec::new();
    for _ in 0..tree.trunk {
        let txs = match trunk.last() {
            Some(previous) => vec![pay_from(previous)],
            None => vec![],
        };
        trunk.push(f.mine(txs).await);
    }
    let fork = f.chain.tip().hash;
    let last = trunk
        .last()
        .cloned()
        .expect("a trunk of one block at least");
    let first = branch(&mut f, fork, last.clone(), tree.first, &[]).await;
    let second = branch(&mut f, fork, last, tree.second, &tree.pays).await;
    (trunk, first, second, f.now)
}

/// `n` blocks on `parent`, each entered in the builder's tree (for the next one's header
/// context); the block at position i pays from the previous one's coinbase when `pays[i]`
/// (or `pays` is too short).
async fn branch(
    f: &mut Fixture,
    parent: BlockHash,
    previous: Block,
    n: usize,
    pays: &[bool],
) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let (mut parent, mut previous) = (parent, previous);
    for i in 0..n {
        f.now += f.params.target_spacing;
        let txs = if pays.get(i).copied().unwrap_or(true) {
            vec![pay_from(&previous)]
        } else {
            vec![]
        };
        let block = f.block_on(parent, txs, 0, pkh((i % 3) as u8));
        f.chain.submit_block(block.clone(), f.now).await.unwrap();
        parent = block.block_hash();
        previous = block.clone();
        blocks.push(block);
    }
    blocks
}

/// A payment of half of `block`'s coinbase (which pays key 0 on the trunk and keys 0..3 on
/// the branches) to key 1. A coinbase not paying key 0 is spent with its own key.
fn pay_from(block: &Block) -> mycoin_core::Transaction {
    let coinbase = &block.transactions[0];
    let owner = (0..3u8)
        .find(|i| pkh(*i) == coinbase.outputs[0].pubkey_hash)
        .expect("blocks pay keys 0 to 2");
    let amount = coinbase.outputs[0].amount.units();
    spend(
        &[OutPoint::new(coinbase.txid(), 0)],
        owner,
        &[(amount / 2, pkh(1)), (amount / 2, pkh(owner))],
    )
}

/// Everything that must agree between the paths.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    tip: BlockHash,
    active: Vec<BlockHash>,
    utxos: std::collections::BTreeMap<OutPoint, mycoin_core::utxo::Coin>,
    by_address: Vec<Vec<(OutPoint, mycoin_core::utxo::Coin)>>,
    mempool: Vec<Txid>,
}

fn outcome<S>(chain: &Chain<S>) -> Outcome {
    let mut mempool: Vec<Txid> = chain.mempool().iter().map(|e| e.txid).collect();
    mempool.sort();
    Outcome {
        tip: chain.tip().hash,
        active: (0..=chain.height())
            .filter_map(|h| chain.hash_at(h))
            .collect(),
        utxos: chain.utxos().iter().map(|(o, c)| (*o, *c)).collect(),
        by_address: (0..4u8).map(|i| chain.utxos_for(&pkh(i))).collect(),
        mempool,
    }
}

/// How the blocks are handed to the chain.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// Every block by `submit_block`, in order.
    OneByOne,
    /// The trunk and first branch as one batch, the second branch as another.
    Batches,
    /// Everything in one batch: the second branch's first block leaves the tip, the rest
    /// follows through the reorganisation.
    OneBatch,
}

async fn submit<S: ChainStore>(
    chain: &mut Chain<S>,
    path: Path,
    (trunk, first, second): (&[Block], &[Block], &[Block]),
    now: u32,
) {
    let all: Vec<Block> = trunk.iter().chain(first).chain(second).cloned().collect();
    match path {
        Path::OneByOne => {
            for block in all {
                chain.submit_block(block, now).await.unwrap();
            }
        }
        Path::Batches => {
            let head: Vec<Block> = trunk.iter().chain(first).cloned().collect();
            let (_, error) = chain.submit_blocks(head, now).await;
            assert!(error.is_none(), "{error:?}");
            let (_, error) = chain.submit_blocks(second.to_vec(), now).await;
            assert!(error.is_none(), "{error:?}");
        }
        Path::OneBatch => {
            let (_, error) = chain.submit_blocks(all, now).await;
            assert!(error.is_none(), "{error:?}");
        }
    }
}

async fn sql(url: &str) -> SqlStore {
    SqlStore::open(Database::connect(url).await.unwrap())
        .await
        .unwrap()
}

/// Runs every path on fresh stores made by `store`, and checks each against the first (and,
/// for SQL stores, against a reopen).
async fn all_paths_agree(tree: &Tree, backend: Backend) {
    let params: Params = Network::Regtest.params();
    let (trunk, first, second, now) = build(tree).await;
    let blocks = (&trunk[..], &first[..], &second[..]);
    let mut reference: Option<Outcome> = None;
    for path in [Path::OneByOne, Path::Batches, Path::OneBatch] {
        let got = match backend {
            Backend::Memory => {
                let mut chain = Chain::open(params.clone(), MemoryStore::default())
                    .await
                    .unwrap();
                submit(&mut chain, path, blocks, now).await;
                outcome(&chain)
            }
            Backend::Sqlite | Backend::Postgres => {
                let (_dir, url) = fresh_sqlite_url();
                let url = match backend {
                    Backend::Postgres => match fresh_postgres_url().await {
                        Some(url) => url,
                        None => return,
                    },
                    _ => url,
                };
                let mut chain = Chain::open(params.clone(), sql(&url).await).await.unwrap();
                submit(&mut chain, path, blocks, now).await;
                let got = outcome(&chain);
                drop(chain);
                let reopened = Chain::open(params.clone(), sql(&url).await).await.unwrap();
                let stored = outcome(&reopened);
                // The mempool lives in memory only.
                assert_eq!(
                    (
                        &stored.tip,
                        &stored.active,
                        &stored.utxos,
                        &stored.by_address
                    ),
                    (&got.tip, &got.active, &got.utxos, &got.by_address),
                    "{path:?} on {backend:?}: the store disagrees with memory after a reopen"
                );
                got
            }
        };
        match &reference {
            None => reference = Some(got),
            Some(expected) => assert_eq!(&got, expected, "{path:?} on {backend:?}"),
        }
    }
    let reference = reference.expect("three paths ran");
    // The branch with more blocks (more work on regtest) wins; on a tie the first seen.
    let winner = if tree.second > tree.first {
        &second
    } else {
        &first
    };
    assert_eq!(reference.tip, winner.last().unwrap().block_hash());
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Memory,
    Sqlite,
    Postgres,
}

fn run(tree: &Tree, backend: Backend) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(all_paths_agree(tree, backend));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn memory_single_batch_and_reorg_connects_agree(tree in arb_tree()) {
        run(&tree, Backend::Memory);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_single_batch_and_reorg_connects_agree(tree in arb_tree()) {
        run(&tree, Backend::Sqlite);
    }

    #[test]
    fn postgres_single_batch_and_reorg_connects_agree(tree in arb_tree()) {
        if std::env::var("MYCOIN_TEST_DATABASE_URL").is_err() {
            eprintln!("skipped: MYCOIN_TEST_DATABASE_URL is not set (scripts/test.sh sets it)");
            return Ok(());
        }
        run(&tree, Backend::Postgres);
    }
}
