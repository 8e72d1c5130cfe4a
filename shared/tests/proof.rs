//! The light client's checks: Merkle inclusion proofs against headers, and a headers-only chain.

mod common;

use common::*;
use mycoin_core::proof::{
    HeaderChainError, MAX_PROOF_DEPTH, ProofError, merkle_proof, root_from_proof,
};
use mycoin_core::{
    Amount, Block, BlockHash, CompactTarget, Header, HeaderChain, MerkleNode, MerkleProof,
    MerkleRoot, Network, Transaction, TxOut, Wtxid, verify_merkle_proof,
};

/// `n` distinct coinbase transactions: real transactions, cheap to make.
fn transactions(n: usize) -> Vec<Transaction> {
    (0..n)
        .map(|i| {
            Transaction::coinbase(
                i as u32,
                0,
                vec![TxOut {
                    amount: Amount::from_units(1).unwrap(),
                    pubkey_hash: pkh(0),
                }],
            )
        })
        .collect()
}

/// A block of `transactions` whose header commits to them.
fn block_of(transactions: Vec<Transaction>) -> Block {
    let mut block = Block {
        header: Network::Regtest.params().genesis_block().header,
        transactions,
    };
    block.header.merkle_root = block.compute_merkle_root().0;
    block
}

/// For blocks of 1 to 300 transactions, the proof of every position leads to the root the core
/// computes for the block, and only from that position.
#[test]
fn every_position_of_blocks_of_1_to_300_transactions_proves_against_the_root() {
    let all = transactions(300);
    for n in 1..=300 {
        let block = block_of(all[..n].to_vec());
        let (root, mutated) = block.compute_merkle_root();
        assert!(!mutated);
        let wtxids = block.wtxids();
        let depth = (usize::BITS - (n - 1).leading_zeros()) as usize;
        for (position, leaf) in wtxids.iter().enumerate() {
            let proof = block.merkle_proof(position).unwrap();
            assert_eq!(proof.position as usize, position);
            assert_eq!(proof.siblings.len(), depth, "n = {n}");
            assert_eq!(
                root_from_proof(leaf, &proof),
                Ok(root),
                "n = {n}, {position}"
            );
            verify_merkle_proof(leaf, &proof, &block.header).unwrap();
            // The neighbour's leaf does not pass with this proof.
            let other = &wtxids[(position + 1) % n];
            if other != leaf {
                assert!(verify_merkle_proof(other, &proof, &block.header).is_err());
            }
        }
        assert_eq!(block.merkle_proof(n), None, "no leaf at {n}");
    }
}

/// Bitcoin's block 100,000: the proofs of its four transactions lead to the Merkle root of the
/// header Bitcoin published (its hash checked too), an oracle nobody here wrote.
#[test]
fn proofs_check_against_bitcoin_block_100000() {
    let leaf = |hex: &str| hex.parse::<Wtxid>().unwrap();
    let leaves = [
        leaf("8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87"),
        leaf("fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4"),
        leaf("6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4"),
        leaf("e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d"),
    ];
    let header = Header {
        version: 1,
        prev_hash: "000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250"
            .parse()
            .unwrap(),
        merkle_root: "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"
            .parse()
            .unwrap(),
        time: 1_293_623_863,
        bits: CompactTarget(0x1b04_864c),
        nonce: 274_148_111,
    };
    assert_eq!(
        header.block_hash().to_string(),
        "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"
    );
    for (position, leaf) in leaves.iter().enumerate() {
        let proof = merkle_proof(&leaves, position).unwrap();
        verify_merkle_proof(leaf, &proof, &header).unwrap();
    }
    // The third transaction's proof: the fourth, then the hash of the first two.
    let proof = merkle_proof(&leaves, 2).unwrap();
    assert_eq!(proof.siblings[0], MerkleNode(leaves[3].0));
}

/// Forged proofs are refused: one sibling bit flipped, a wrong position, a header from another
/// block, a position past the last leaf (the copy that pairs an odd level), a position too large
/// for the proof's depth, and a proof deeper than any block.
#[test]
fn forged_proofs_are_refused() {
    let block = block_of(transactions(5));
    let wtxids = block.wtxids();
    let leaf = &wtxids[2];
    let proof = block.merkle_proof(2).unwrap();
    verify_merkle_proof(leaf, &proof, &block.header).unwrap();

    for level in 0..proof.siblings.len() {
        let mut flipped = proof.clone();
        flipped.siblings[level].0[7] ^= 0x10;
        assert!(matches!(
            verify_merkle_proof(leaf, &flipped, &block.header),
            Err(ProofError::RootMismatch { .. })
        ));
    }
    for position in [0, 1, 3, 4] {
        let moved = MerkleProof {
            position,
            ..proof.clone()
        };
        assert!(verify_merkle_proof(leaf, &moved, &block.header).is_err());
    }
    let other = block_of(transactions(6));
    assert!(matches!(
        verify_merkle_proof(leaf, &proof, &other.header),
        Err(ProofError::RootMismatch { .. })
    ));
    let mut truncated = proof.clone();
    truncated.siblings.pop();
    assert!(verify_merkle_proof(leaf, &truncated, &block.header).is_err());

    // Leaf 4 of 5 is paired with its own copy; claiming it sits at 5 (the copy) is refused,
    // though the hashes would lead to the same root.
    let last = block.merkle_proof(4).unwrap();
    verify_merkle_proof(&wtxids[4], &last, &block.header).unwrap();
    let copy = MerkleProof {
        position: 5,
        ..last.clone()
    };
    assert_eq!(
        root_from_proof(&wtxids[4], &copy),
        Err(ProofError::PastTheLastLeaf {
            position: 5,
            level: 0
        })
    );
    let beyond = MerkleProof {
        position: 8,
        ..last.clone()
    };
    assert_eq!(
        root_from_proof(&wtxids[4], &beyond),
        Err(ProofError::PositionOutOfRange {
            position: 8,
            depth: 3
        })
    );
    let deep = MerkleProof {
        position: 0,
        siblings: vec![MerkleNode([1; 32]); MAX_PROOF_DEPTH + 1],
    };
    assert_eq!(
        root_from_proof(&wtxids[0], &deep),
        Err(ProofError::TooDeep {
            depth: MAX_PROOF_DEPTH + 1
        })
    );
    // A block of one transaction: the proof is empty, and the root is the leaf.
    let single = block_of(transactions(1));
    let proof = single.merkle_proof(0).unwrap();
    assert!(proof.siblings.is_empty());
    assert_eq!(
        root_from_proof(&single.wtxids()[0], &proof),
        Ok(MerkleRoot(single.wtxids()[0].0))
    );
}

/// A demo chain mined through retargets (blocks a second apart raise the difficulty, 100 s
/// apart lower it) checks as a headers-only chain; its headers taken apart and forged do not.
#[tokio::test]
async fn a_header_chain_checks_links_work_retarget_and_time() {
    let params = demo_from_the_limit();
    let mut f = Fixture::new(params.clone()).await;
    let t0 = params.genesis_time;
    for i in 1..=36u32 {
        f.now = t0 + if i < 20 { i } else { 20 + 100 * (i - 19) };
        let block = f.block_with(vec![], 0);
        f.chain.submit_block(block, f.now).await.unwrap();
    }
    let blocks = active_blocks(&f.chain).await;
    let headers: Vec<Header> = blocks.iter().map(|b| b.header).collect();
    let bits: std::collections::HashSet<CompactTarget> = headers.iter().map(|h| h.bits).collect();
    assert!(bits.len() > 3, "the difficulty moved: {bits:?}");

    let mut light = HeaderChain::new(params.clone());
    light.extend(0, &headers[..20]).unwrap();
    assert_eq!(light.height(), 19);
    light.extend(20, &headers[20..]).unwrap();
    assert_eq!(light.height(), 36);
    assert_eq!(light.tip(), f.chain.tip().hash);
    // Asking again from an earlier height changes nothing.
    light.extend(10, &headers[10..30]).unwrap();
    assert_eq!(light.height(), 36);

    // Forgeries, each refused with nothing changed.
    let at = 25usize;
    let check = |forged: Vec<Header>| {
        let mut fresh = HeaderChain::new(params.clone());
        let error = fresh.extend(0, &forged).unwrap_err();
        assert_eq!(fresh.height(), 0, "{error}");
        error
    };
    let mut broken = headers.clone();
    broken.remove(at);
    assert!(matches!(
        check(broken),
        HeaderChainError::BrokenLink { height: 25, .. }
    ));
    let resolve = |header: &mut Header| {
        let mut block = Block {
            header: *header,
            transactions: vec![],
        };
        solve(&mut block, &params);
        *header = block.header;
    };
    let mut easy = headers[..=at].to_vec();
    easy[at].bits = params.pow_limit;
    resolve(&mut easy[at]);
    assert!(matches!(
        check(easy),
        HeaderChainError::WrongBits { height: 25, .. }
    ));
    let mut unsolved = headers[..=at].to_vec();
    while unsolved[at]
        .bits
        .target()
        .is_ok_and(|t| mycoin_core::pow::hash_to_u256(&unsolved[at].block_hash()) <= t)
    {
        unsolved[at].nonce += 1;
    }
    assert!(matches!(
        check(unsolved),
        HeaderChainError::ProofOfWork { height: 25, .. }
    ));
    let mut early = headers[..=at].to_vec();
    early[at].time = headers[at - 6].time;
    resolve(&mut early[at]);
    assert!(matches!(
        check(early),
        HeaderChainError::TimeTooOld { height: 25, .. }
    ));
    let other_network: Vec<Header> = vec![Network::Regtest.params().genesis_block().header];
    assert_eq!(
        check(other_network),
        HeaderChainError::WrongGenesis { height: 0 }
    );
    let mut gap = HeaderChain::new(params.clone());
    assert!(gap.extend(5, &headers[5..10]).is_err());
    assert_eq!(gap.tip(), params.genesis_hash());
    assert_eq!(light.hash(36), Some(f.chain.tip().hash));
    assert_eq!(light.hash(37), None::<BlockHash>);
}

/// After a reorganisation the node answers from the fork: the light chain takes the new branch.
#[tokio::test]
async fn a_header_chain_follows_a_reorganisation() {
    let params = Network::Regtest.params();
    let mut f = Fixture::new(params.clone()).await;
    f.mine_empty(5).await;
    let mut light = HeaderChain::new(params.clone());
    let headers: Vec<Header> = active_blocks(&f.chain)
        .await
        .iter()
        .map(|b| b.header)
        .collect();
    light.extend(0, &headers).unwrap();

    // A longer branch from height 3.
    let fork = f.chain.hash_at(3).unwrap();
    let mut parent = fork;
    let mut branch = Vec::new();
    for i in 0..4 {
        f.now += 1 + i;
        let block = f.block_on(parent, vec![], 0, pkh(7));
        parent = block.block_hash();
        branch.push(block.header);
        f.chain.submit_block(block, f.now).await.unwrap();
    }
    assert_eq!(f.chain.tip().hash, parent);
    light.extend(4, &branch).unwrap();
    assert_eq!(light.height(), 7);
    assert_eq!(light.tip(), parent);
    assert_eq!(light.hash(3), Some(fork));
}
