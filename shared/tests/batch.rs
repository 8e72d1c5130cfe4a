//! `Chain::submit_blocks`, the path of a peer's sync batch: a run of blocks checked in memory,
//! its signatures verified together, and written in one store transaction. It must end in
//! exactly the state `submit_block` one by one reaches, and fail exactly where it fails, on
//! every store.

mod common;

use common::*;
use mycoin_core::store::ChainStore;
use mycoin_core::validation::TxError;
use mycoin_core::{
    Block, BlockAccepted, BlockError, Chain, ChainError, CompactTarget, Database, MemoryStore,
    Network, OutPoint, SqlStore, Transaction, TxIn, Txid,
};

async fn sql_store(url: &str) -> SqlStore {
    SqlStore::open(Database::connect(url).await.unwrap())
        .await
        .unwrap()
}

/// A chain of 12 blocks after genesis, mined one by one: payments from coinbases, and a
/// payment spending an output created two blocks earlier (created and spent within a batch, it
/// never needs to reach the store's unspent outputs). Returns the blocks and the chain.
async fn reference() -> (Vec<Block>, Fixture) {
    let mut f = Fixture::new(Network::Regtest.params()).await;
    f.mine_empty(3).await;
    let mut previous: Option<Transaction> = None;
    for height in 1..=9 {
        let mut txs = vec![spend(
            &[f.coinbase_at(height).await],
            0,
            &[(60_000_000, pkh(1)), (40_000_000, pkh(0))],
        )];
        if let Some(earlier) = previous.take() {
            // Key 0's change of the payment two blocks back.
            txs.push(spend(
                &[OutPoint::new(earlier.txid(), 1)],
                0,
                &[(30_000_000, pkh(2)), (10_000_000, pkh(0))],
            ));
        }
        if height % 2 == 1 {
            previous = Some(txs[0].clone());
        }
        f.mine(txs).await;
    }
    let blocks = active_blocks(&f.chain).await.split_off(1);
    assert_eq!(blocks.len(), 12);
    (blocks, f)
}

/// Submits `blocks` as one batch into `chain`; returns the outcomes and the error.
async fn batch<S: ChainStore>(
    chain: &mut Chain<S>,
    blocks: &[Block],
    now: u32,
) -> (Vec<BlockAccepted>, Option<ChainError>) {
    chain.submit_blocks(blocks.to_vec(), now).await
}

/// The whole chain as one batch into `chain`: each block reported as the new tip, and tip,
/// unspent outputs and transaction index as one by one.
async fn a_batch_ends_where_one_by_one_does<S: ChainStore>(
    chain: &mut Chain<S>,
    blocks: &[Block],
    reference: &Fixture,
) {
    let (outcomes, error) = batch(chain, blocks, reference.now).await;
    assert!(error.is_none(), "{error:?}");
    let expected: Vec<BlockAccepted> = blocks
        .iter()
        .zip(1..)
        .map(|(block, height)| BlockAccepted::NewTip {
            tip: block.block_hash(),
            height,
            disconnected: 0,
            returned: Vec::new(),
        })
        .collect();
    assert_eq!(outcomes, expected);
    assert_eq!(chain.tip().hash, reference.chain.tip().hash);
    assert_eq!(chain.utxos(), reference.chain.utxos());
    assert_eq!(chain.utxos(), &rebuild_utxos(&active_blocks(chain).await));
    let paid = blocks[8].transactions[2].txid();
    assert!(chain.locate_transaction(&paid).await.unwrap().is_some());
}

/// The same on a SQL store, and the stored chain read back by a reopen.
async fn a_stored_batch_ends_where_one_by_one_does(url: &str) {
    let (blocks, reference) = reference().await;
    let mut chain = Chain::open(Network::Regtest.params(), sql_store(url).await)
        .await
        .unwrap();
    a_batch_ends_where_one_by_one_does(&mut chain, &blocks, &reference).await;
    drop(chain);
    let chain = Chain::open(Network::Regtest.params(), sql_store(url).await)
        .await
        .unwrap();
    assert_eq!(chain.tip().hash, reference.chain.tip().hash);
    assert_eq!(chain.utxos(), reference.chain.utxos());
    assert_eq!(
        active_blocks(&chain).await,
        active_blocks(&reference.chain).await
    );
}

#[tokio::test]
async fn memory_a_batch_ends_where_one_by_one_does() {
    let (blocks, reference) = reference().await;
    let mut chain = Chain::open(Network::Regtest.params(), MemoryStore::default())
        .await
        .unwrap();
    a_batch_ends_where_one_by_one_does(&mut chain, &blocks, &reference).await;
}

#[tokio::test]
async fn sqlite_a_batch_ends_where_one_by_one_does() {
    let (_dir, url) = fresh_sqlite_url();
    a_stored_batch_ends_where_one_by_one_does(&url).await;
}

#[tokio::test]
async fn postgres_a_batch_ends_where_one_by_one_does() {
    let Some(url) = fresh_postgres_url().await else {
        eprintln!(
            "skipped: MYCOIN_TEST_DATABASE_URL is not set (the README's test command sets it)"
        );
        return;
    };
    a_stored_batch_ends_where_one_by_one_does(&url).await;
}

/// `blocks` with block `k` broken by `spoil` and solved again; the blocks after it still name
/// the original as their parent.
fn spoiled(blocks: &[Block], k: usize, spoil: impl FnOnce(&mut Block)) -> Vec<Block> {
    let mut blocks = blocks.to_vec();
    spoil(&mut blocks[k]);
    reseal(&mut blocks[k], &Network::Regtest.params());
    blocks
}

/// A batch with an invalid block: the blocks before it are kept (and stored), the error is the
/// one `submit_block` gives that block after them, the block is known invalid, and nothing after
/// it is taken. After a restart the block is still refused as known invalid when it `proved`
/// its work (valid at the chain's difficulty), and checked again (same error) otherwise.
async fn a_bad_block_ends_the_batch_where_one_by_one_ends(
    url: &str,
    bad: Vec<Block>,
    k: usize,
    proved: bool,
) {
    let (_, reference) = reference().await;
    let mut one_by_one = Fixture::new(Network::Regtest.params()).await;
    for block in &bad[..k] {
        one_by_one
            .chain
            .submit_block(block.clone(), reference.now)
            .await
            .unwrap();
    }
    let expected = one_by_one
        .chain
        .submit_block(bad[k].clone(), reference.now)
        .await
        .unwrap_err();

    let mut chain = Chain::open(Network::Regtest.params(), sql_store(url).await)
        .await
        .unwrap();
    let (outcomes, error) = batch(&mut chain, &bad, reference.now).await;
    assert_eq!(outcomes.len(), k);
    let error = error.expect("the bad block is refused");
    assert_eq!(error.to_string(), expected.to_string());
    assert_eq!(chain.tip().hash, bad[k - 1].block_hash());
    assert_eq!(chain.utxos(), one_by_one.chain.utxos());
    assert!(chain.is_invalid(&bad[k].block_hash()));
    assert!(chain.entry(&bad[k + 1].block_hash()).is_none());
    drop(chain);
    let chain = Chain::open(Network::Regtest.params(), sql_store(url).await)
        .await
        .unwrap();
    assert_eq!(chain.tip().hash, bad[k - 1].block_hash());
    assert_eq!(chain.utxos(), one_by_one.chain.utxos());
    // Condemned in the batch, never stored: still refused after the restart.
    let mut chain = chain;
    assert_eq!(chain.is_invalid(&bad[k].block_hash()), proved);
    let again = chain
        .submit_block(bad[k].clone(), reference.now)
        .await
        .unwrap_err();
    if proved {
        let known = BlockError::KnownInvalid(bad[k].block_hash());
        assert_eq!(again.to_string(), ChainError::from(known).to_string());
    } else {
        assert_eq!(again.to_string(), expected.to_string());
    }
}

#[tokio::test]
async fn a_signature_that_fails_ends_the_batch_at_its_block() {
    let (blocks, reference) = reference().await;
    // Block 8's second payment carries the signature of another transaction's input: well
    // formed, low S, but not over this txid. The txid (and so the Merkle root) leaves
    // signatures out, so only the signature rule can catch it.
    let other = blocks[5].transactions[1].inputs[0].clone();
    let bad = spoiled(&blocks, 8, |block| {
        let (
            TxIn::Spend { signature, .. },
            TxIn::Spend {
                signature: theirs, ..
            },
        ) = (&mut block.transactions[2].inputs[0], other)
        else {
            panic!("spends");
        };
        *signature = theirs;
    });
    let (_dir, url) = fresh_sqlite_url();
    a_bad_block_ends_the_batch_where_one_by_one_ends(&url, bad.clone(), 8, true).await;
    if let Some(url) = fresh_postgres_url().await {
        a_bad_block_ends_the_batch_where_one_by_one_ends(&url, bad.clone(), 8, true).await;
    }
    let mut chain = Chain::open(Network::Regtest.params(), MemoryStore::default())
        .await
        .unwrap();
    let (_, error) = batch(&mut chain, &bad, reference.now).await;
    assert!(
        matches!(
            error,
            Some(ChainError::Invalid(BlockError::Transaction {
                index: 2,
                error: TxError::BadSignature { index: 0 }
            }))
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_missing_input_ends_the_batch_at_its_block() {
    let (blocks, _) = reference().await;
    let bad = spoiled(&blocks, 5, |block| {
        block
            .transactions
            .push(spend(&[OutPoint::new(Txid([9; 32]), 0)], 0, &[(1, pkh(3))]));
    });
    let (_dir, url) = fresh_sqlite_url();
    a_bad_block_ends_the_batch_where_one_by_one_ends(&url, bad, 5, true).await;
}

#[tokio::test]
async fn a_bad_header_ends_the_batch_at_its_block() {
    let (blocks, _) = reference().await;
    // Difficulty other than the chain's: the contextual header check, before any input.
    let bad = spoiled(&blocks, 4, |block| {
        block.header.bits = CompactTarget(block.header.bits.0 - 1)
    });
    let (_dir, url) = fresh_sqlite_url();
    // Its work is not the chain's: it is not written down (each row must cost real work).
    a_bad_block_ends_the_batch_where_one_by_one_ends(&url, bad, 4, false).await;
}

#[tokio::test]
async fn known_and_unconnected_blocks_get_their_own_outcomes() {
    let (blocks, reference) = reference().await;
    let mut chain = Chain::open(Network::Regtest.params(), MemoryStore::default())
        .await
        .unwrap();
    let (_, error) = batch(&mut chain, &blocks[..4], reference.now).await;
    assert!(error.is_none());
    // Two known blocks, then the rest: the known ones are duplicates, the rest a run.
    let (outcomes, error) = batch(&mut chain, &blocks[2..], reference.now).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        outcomes[..2],
        [BlockAccepted::Duplicate, BlockAccepted::Duplicate]
    );
    assert!(outcomes[2..].iter().all(|o| matches!(
        o,
        BlockAccepted::NewTip {
            disconnected: 0,
            ..
        }
    )));
    assert_eq!(chain.tip().hash, reference.chain.tip().hash);

    // A batch whose first block does not connect: an orphan, and the next one waits too.
    let mut other = Chain::open(Network::Regtest.params(), MemoryStore::default())
        .await
        .unwrap();
    let (outcomes, error) = batch(&mut other, &blocks[1..3], reference.now).await;
    assert!(error.is_none());
    assert_eq!(
        outcomes,
        [
            BlockAccepted::Orphan {
                parent: blocks[0].block_hash()
            },
            BlockAccepted::Orphan {
                parent: blocks[1].block_hash()
            },
        ]
    );
    // The missing block arrives: the orphans follow it, and its outcome names the last.
    let (outcomes, _) = batch(&mut other, &blocks[..1], reference.now).await;
    assert_eq!(
        outcomes,
        [BlockAccepted::NewTip {
            tip: blocks[2].block_hash(),
            height: 3,
            disconnected: 0,
            returned: Vec::new(),
        }]
    );
}
