//! Chain choice: most cumulative work, not most blocks.

mod common;

use common::*;
use mycoin_core::{BlockAccepted, Network};

/// On demo (started at the limit, for cheap blocks), blocks one second apart make the retarget
/// raise the difficulty, blocks 100 s apart keep it at the limit. A 3-block branch of hard blocks outweighs a 6-block branch of easy ones:
/// the node follows work, not length.
#[tokio::test]
async fn the_branch_with_more_work_wins_even_when_shorter() {
    let mut f = Fixture::new(demo_from_the_limit()).await;
    let genesis = f.chain.tip().hash;
    let t0 = f.params.genesis_time;

    let mut parent = genesis;
    for i in 1..=6 {
        f.now = t0 + 100 * i;
        let block = f.block_on(parent, vec![], 0, pkh(1));
        parent = block.block_hash();
        f.chain.submit_block(block, f.now).await.unwrap();
    }
    assert_eq!(f.chain.height(), 6);
    let long_work = f.chain.chain_work();

    let mut parent = genesis;
    let mut last = None;
    for i in 1..=3 {
        f.now = t0 + 600 + i;
        let mut block = f.block_on(parent, vec![], 0, pkh(2));
        block.header.time = t0 + i;
        block.header.nonce = 0;
        reseal(&mut block, &f.params);
        parent = block.block_hash();
        last = Some(f.chain.submit_block(block, f.now).await.unwrap());
    }
    assert!(
        matches!(
            last,
            Some(BlockAccepted::NewTip {
                height: 3,
                disconnected: 6,
                ..
            })
        ),
        "{last:?}"
    );
    assert_eq!(f.chain.tip().hash, parent);
    assert!(f.chain.chain_work() > long_work);
    assert!(
        f.chain.tip().header.bits != f.params.pow_limit,
        "the short branch retargeted"
    );
}

/// The locator walks back from the tip, densely then exponentially, and always ends at
/// genesis; the fork point of a locator from another branch is the last shared block.
#[tokio::test]
async fn locators_find_the_fork_point() {
    let mut f = Fixture::new(Network::Regtest.params()).await;
    f.mine_empty(40).await;
    let locator = f.chain.locator();
    assert_eq!(locator[0], f.chain.tip().hash);
    assert_eq!(*locator.last().unwrap(), f.params.genesis_hash());
    let heights: Vec<u32> = locator
        .iter()
        .map(|h| f.chain.entry(h).unwrap().height)
        .collect();
    assert_eq!(
        &heights[..11],
        &[40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 29]
    );
    assert!(heights.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(f.chain.find_fork(&locator), 40);

    // Another node that shares the first 25 blocks, then went its own way.
    let mut other = Fixture::new(Network::Regtest.params()).await;
    for height in 1..=25 {
        let hash = f.chain.hash_at(height).unwrap();
        let block = f.chain.block(&hash).await.unwrap().unwrap();
        other.chain.submit_block(block, f.now).await.unwrap();
    }
    other.now = f.now + 1;
    for _ in 0..10 {
        other.now += 1;
        let block = other.block_on(other.chain.tip().hash, vec![], 0, pkh(7));
        other.chain.submit_block(block, other.now).await.unwrap();
    }
    // The other's locator (35..26, then 24, 20, …) skips 25: its best shared entry is 24, a
    // common ancestor close to the fork; ours (…, 31, 29, 25, …) holds 25 itself.
    assert_eq!(f.chain.find_fork(&other.chain.locator()), 24);
    assert_eq!(other.chain.find_fork(&f.chain.locator()), 25);
    assert_eq!(f.chain.find_fork(&[mycoin_core::BlockHash([9; 32])]), 0);
}
