//! Chain choice: most cumulative work, not most blocks.

mod common;

use common::*;
use mycoin_core::{BlockAccepted, Network};

/// On demo, blocks one second apart make the retarget raise the difficulty, blocks 100 s apart
/// keep it at the limit. A 3-block branch of hard blocks outweighs a 6-block branch of easy ones:
/// the node follows work, not length.
#[tokio::test]
async fn the_branch_with_more_work_wins_even_when_shorter() {
    let mut f = Fixture::new(Network::Demo.params()).await;
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
