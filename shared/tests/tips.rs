//! The block tree's tips (Bitcoin Core's `getchaintips`): after a fork, after a
//! reorganisation, after a restart, and after any sequence of blocks on any branch (against
//! tips worked out here from the blocks themselves).

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use mycoin_core::{Block, BlockHash, Chain, ChainTip, Database, Network, SqlStore, TipStatus};
use proptest::prelude::*;

fn tip(hash: BlockHash, height: u32, branch_len: u32, status: TipStatus) -> ChainTip {
    ChainTip {
        hash,
        height,
        branch_len,
        status,
    }
}

/// Submits a solved block on `parent`, at the fixture's clock advanced one spacing.
async fn block_on<S: mycoin_core::ChainStore>(f: &mut Fixture<S>, parent: BlockHash) -> Block {
    f.now += f.params.target_spacing;
    let block = f.block_on(parent, vec![], 0, pkh(0));
    f.chain.submit_block(block.clone(), f.now).await.unwrap();
    block
}

#[tokio::test]
async fn tips_after_a_fork_and_after_a_reorganisation() {
    let mut f = Fixture::new(Network::Regtest.params()).await;
    f.mine_empty(5).await;
    let genesis = f.chain.hash_at(0).unwrap();
    let at = |f: &Fixture, h| f.chain.hash_at(h).unwrap();
    let a5 = at(&f, 5);
    assert_eq!(f.chain.tips(0), vec![tip(a5, 5, 0, TipStatus::Active)]);

    // A stale block on height 1, and a branch of two from height 3: as much work as the tip,
    // which keeps its place (the first seen wins).
    let (a1, a3) = (at(&f, 1), at(&f, 3));
    let stale = block_on(&mut f, a1).await.block_hash();
    let b4 = block_on(&mut f, a3).await.block_hash();
    let b5 = block_on(&mut f, b4).await.block_hash();
    assert_eq!(f.chain.tip().hash, a5);
    assert_eq!(
        f.chain.tips(0),
        vec![
            tip(a5, 5, 0, TipStatus::Active),
            tip(b5, 5, 2, TipStatus::ValidHeaders),
            tip(stale, 2, 1, TipStatus::ValidHeaders),
        ]
    );
    assert_eq!(
        f.chain.tips(3),
        vec![
            tip(a5, 5, 0, TipStatus::Active),
            tip(b5, 5, 2, TipStatus::ValidHeaders),
        ]
    );
    assert!(f.chain.tips(6).is_empty());

    // One block more on the branch: the chain reorganises onto it, and the old tip's branch
    // was connected once (Core's valid-fork).
    let b6 = block_on(&mut f, b5).await.block_hash();
    assert_eq!(f.chain.tip().hash, b6);
    assert_eq!(
        f.chain.tips(0),
        vec![
            tip(b6, 6, 0, TipStatus::Active),
            tip(a5, 5, 2, TipStatus::ValidFork),
            tip(stale, 2, 1, TipStatus::ValidHeaders),
        ]
    );
    // A block on the old branch: its tip now is a block never connected.
    let a6 = block_on(&mut f, a5).await.block_hash();
    assert_eq!(f.chain.tip().hash, b6);
    assert_eq!(
        f.chain.tips(4)[1..],
        [tip(a6, 6, 3, TipStatus::ValidHeaders)]
    );
    // Nothing but the genesis block: a tree of one leaf.
    let g = Fixture::new(Network::Regtest.params()).await;
    assert_eq!(g.chain.tips(0), vec![tip(genesis, 0, 0, TipStatus::Active)]);
}

/// The tips survive a restart, but what the node knew of branches connected once does not:
/// they are valid-headers after it (nothing more is claimed than is known).
async fn tips_after_restart(url: &str) {
    let open = || async {
        let store = SqlStore::open(Database::connect(url).await.unwrap())
            .await
            .unwrap();
        Fixture::with_store(Network::Regtest.params(), store).await
    };
    let mut f = open().await;
    f.mine_empty(3).await;
    let a3 = f.chain.tip().hash;
    let a1 = f.chain.hash_at(1).unwrap();
    let b2 = block_on(&mut f, a1).await.block_hash();
    let b3 = block_on(&mut f, b2).await.block_hash();
    let b4 = block_on(&mut f, b3).await.block_hash();
    let before = f.chain.tips(0);
    assert_eq!(
        before,
        vec![
            tip(b4, 4, 0, TipStatus::Active),
            tip(a3, 3, 2, TipStatus::ValidFork)
        ]
    );
    drop(f);
    let f = open().await;
    assert_eq!(
        f.chain.tips(0),
        vec![
            tip(b4, 4, 0, TipStatus::Active),
            tip(a3, 3, 2, TipStatus::ValidHeaders)
        ]
    );
}

#[tokio::test]
async fn tips_survive_a_restart_on_sqlite_and_postgres() {
    let (_dir, url) = fresh_sqlite_url();
    tips_after_restart(&url).await;
    match fresh_postgres_url().await {
        Some(url) => tips_after_restart(&url).await,
        None => eprintln!("MYCOIN_TEST_DATABASE_URL is not set: PostgreSQL case skipped"),
    }
}

/// The tips worked out from the blocks alone: the blocks of the tree with no child in it; the
/// branch length by walking parents to the active chain; valid-fork for a block that was on the
/// active chain once (seen after some submission).
fn expected_tips(
    chain: &Chain<mycoin_core::MemoryStore>,
    blocks: &HashMap<BlockHash, Block>,
    ever_active: &HashSet<BlockHash>,
) -> Vec<ChainTip> {
    let in_tree: Vec<BlockHash> = std::iter::once(chain.hash_at(0).unwrap())
        .chain(blocks.keys().copied())
        .filter(|h| chain.entry(h).is_some())
        .collect();
    let parents: HashSet<BlockHash> = in_tree
        .iter()
        .filter_map(|h| blocks.get(h).map(|b| b.header.prev_hash))
        .collect();
    let mut tips: Vec<ChainTip> = in_tree
        .iter()
        .filter(|h| !parents.contains(h))
        .map(|&hash| {
            let height = chain.entry(&hash).unwrap().height;
            let mut cursor = hash;
            let mut branch_len = 0;
            while !chain.is_active(&cursor) {
                cursor = blocks[&cursor].header.prev_hash;
                branch_len += 1;
            }
            let status = if hash == chain.tip().hash {
                TipStatus::Active
            } else if ever_active.contains(&hash) {
                TipStatus::ValidFork
            } else {
                TipStatus::ValidHeaders
            };
            tip(hash, height, branch_len, status)
        })
        .collect();
    tips.sort_by(|a, b| {
        b.height
            .cmp(&a.height)
            .then(a.status.cmp(&b.status))
            .then(a.hash.0.cmp(&b.hash.0))
    });
    tips
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Blocks on random parents among all blocks so far: after each, the chain's tips are the
    /// tips worked out from the blocks, and every `min_height` filters them by height.
    #[test]
    fn tips_always_match_the_tree(parents in proptest::collection::vec(any::<usize>(), 1..24)) {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let mut f = Fixture::new(Network::Regtest.params()).await;
            let mut order = vec![f.chain.hash_at(0).unwrap()];
            let mut blocks = HashMap::new();
            let mut ever_active = HashSet::new();
            for pick in parents {
                let parent = order[pick % order.len()];
                let block = block_on(&mut f, parent).await;
                let hash = block.block_hash();
                blocks.insert(hash, block);
                order.push(hash);
                for h in 1..=f.chain.height() {
                    ever_active.insert(f.chain.hash_at(h).unwrap());
                }
                let tips = f.chain.tips(0);
                assert_eq!(tips, expected_tips(&f.chain, &blocks, &ever_active));
                assert_eq!(tips.iter().filter(|t| t.status == TipStatus::Active).count(), 1);
                for min in [1, f.chain.height() / 2, f.chain.height()] {
                    let above: Vec<ChainTip> =
                        tips.iter().filter(|t| t.height >= min).copied().collect();
                    assert_eq!(f.chain.tips(min), above);
                }
            }
        });
    }
}
