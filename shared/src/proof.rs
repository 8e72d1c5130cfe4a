//! What a light client checks without a node of its own: that a transaction is in a block (a
//! Merkle inclusion proof against the block's header), and that a run of headers is a chain
//! (links, proof of work, the retarget, median time past). The proof is Bitcoin's
//! (`gettxoutproof` carries the same hashes; Esplora's `merkle-proof` is this shape); see
//! PROTOCOL.md §6.4.

use crate::block::{Header, hash_pair, parent_level};
use crate::hash::{BlockHash, MerkleNode, MerkleRoot, Wtxid};
use crate::network::Params;
use crate::pow::{CompactTarget, hash_to_u256};

/// The largest tree a proof may climb: 2^24 leaves, far more transactions than a block holds.
pub const MAX_PROOF_DEPTH: usize = 24;

/// The path from a leaf to the root: the leaf's position among the block's transactions and
/// the sibling of each node on the way up, the leaf's sibling first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleProof {
    pub position: u32,
    pub siblings: Vec<MerkleNode>,
}

/// Why a proof does not show what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof climbs {depth} levels; no block's tree is deeper than {MAX_PROOF_DEPTH}")]
    TooDeep { depth: usize },
    #[error("position {position} does not fit a tree of {depth} levels")]
    PositionOutOfRange { position: u32, depth: usize },
    #[error(
        "at level {level} the node is its own left sibling: a copy made to pair the last node, \
         so position {position} is past the block's last transaction"
    )]
    PastTheLastLeaf { position: u32, level: usize },
    #[error("the proof leads to root {found}, but the header commits to {expected}")]
    RootMismatch {
        found: MerkleRoot,
        expected: MerkleRoot,
    },
}

/// The proof for the leaf at `position` of `leaves` (a block's wtxids, in order), or `None`
/// when there is no such leaf. The tree is [`crate::block::merkle_root`]'s: an odd level pairs
/// its last node with itself.
pub fn merkle_proof(leaves: &[Wtxid], position: usize) -> Option<MerkleProof> {
    if position >= leaves.len() {
        return None;
    }
    let mut level: Vec<[u8; 32]> = leaves.iter().map(|leaf| leaf.0).collect();
    let mut index = position;
    let mut siblings = Vec::new();
    while level.len() > 1 {
        // The padding copy, when `index` is an odd level's last node, is the node itself.
        siblings.push(MerkleNode(*level.get(index ^ 1).unwrap_or(&level[index])));
        level = parent_level(level);
        index /= 2;
    }
    Some(MerkleProof {
        position: u32::try_from(position).ok()?,
        siblings,
    })
}

/// The root that `leaf` at `proof.position` leads to, climbing `proof.siblings`.
///
/// Refused: a proof deeper than [`MAX_PROOF_DEPTH`]; a position with bits above the proof's
/// depth (two positions would name one leaf); and a node on the right whose left sibling is
/// itself (the copy that pairs an odd level's last node: the position is past the last leaf).
/// In an honest block the last rule never fires, since a block with two equal sibling nodes is
/// "mutated" and invalid (PROTOCOL.md §6.3), so each transaction has exactly one valid proof.
pub fn root_from_proof(leaf: &Wtxid, proof: &MerkleProof) -> Result<MerkleRoot, ProofError> {
    proof_path(leaf, proof).map(|(_, root)| root)
}

/// One level of a proof's climb: the node reached so far, its sibling from the proof, and
/// whether the node is the right one of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofStep {
    pub node: MerkleNode,
    pub sibling: MerkleNode,
    pub node_on_the_right: bool,
}

/// The climb of [`root_from_proof`], level by level (for showing the path), and the root it
/// leads to; refused for the same reasons.
pub fn proof_path(
    leaf: &Wtxid,
    proof: &MerkleProof,
) -> Result<(Vec<ProofStep>, MerkleRoot), ProofError> {
    let depth = proof.siblings.len();
    if depth > MAX_PROOF_DEPTH {
        return Err(ProofError::TooDeep { depth });
    }
    if u64::from(proof.position) >> depth != 0 {
        return Err(ProofError::PositionOutOfRange {
            position: proof.position,
            depth,
        });
    }
    let mut node = leaf.0;
    let mut steps = Vec::with_capacity(depth);
    for (level, sibling) in proof.siblings.iter().enumerate() {
        let on_the_right = (proof.position >> level) & 1 == 1;
        steps.push(ProofStep {
            node: MerkleNode(node),
            sibling: *sibling,
            node_on_the_right: on_the_right,
        });
        node = if on_the_right {
            if sibling.0 == node {
                return Err(ProofError::PastTheLastLeaf {
                    position: proof.position,
                    level,
                });
            }
            hash_pair(&sibling.0, &node)
        } else {
            hash_pair(&node, &sibling.0)
        };
    }
    Ok((steps, MerkleRoot(node)))
}

/// Checks that `proof` puts the transaction whose wtxid is `leaf` in the block of `header`.
///
/// Leaves are wtxids, the hashes of whole transactions signatures included, so a proof shows the
/// exact bytes that were mined. No mycoin transaction is 64 bytes long (the shortest, a
/// coinbase, is 82), so no inner node of the tree can pass for a leaf.
pub fn verify_merkle_proof(
    leaf: &Wtxid,
    proof: &MerkleProof,
    header: &Header,
) -> Result<(), ProofError> {
    let found = root_from_proof(leaf, proof)?;
    if found != header.merkle_root {
        return Err(ProofError::RootMismatch {
            found,
            expected: header.merkle_root,
        });
    }
    Ok(())
}

/// Why a run of headers is not a chain of this network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderChainError {
    #[error("header {height} is not this network's genesis block")]
    WrongGenesis { height: u32 },
    #[error("header {height} names parent {found}, but the header before it is {expected}")]
    BrokenLink {
        height: u32,
        found: BlockHash,
        expected: BlockHash,
    },
    #[error("header {height}'s bits {found} are not the retarget's {expected}")]
    WrongBits {
        height: u32,
        found: CompactTarget,
        expected: CompactTarget,
    },
    #[error("header {height}'s hash {hash} is above its target")]
    ProofOfWork { height: u32, hash: BlockHash },
    #[error("header {height}'s time {time} is not after the median time past {median}")]
    TimeTooOld { height: u32, time: u32, median: u32 },
}

/// A chain of headers from the genesis block, checked as a full node checks them, without the
/// transactions: each links to the one before, carries the bits the retarget requires, meets
/// its target, and is dated after the median time past. (A header's time ahead of the clock and
/// the blocks' contents are left to full nodes.)
#[derive(Debug, Clone)]
pub struct HeaderChain {
    params: Params,
    headers: Vec<(BlockHash, Header)>,
}

impl HeaderChain {
    /// The chain of the genesis block alone.
    pub fn new(params: Params) -> HeaderChain {
        let genesis = params.genesis_block().header;
        HeaderChain {
            headers: vec![(genesis.block_hash(), genesis)],
            params,
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The height of the last header.
    pub fn height(&self) -> u32 {
        (self.headers.len() - 1) as u32
    }

    pub fn tip(&self) -> BlockHash {
        self.headers.last().expect("genesis").0
    }

    /// The header at `height`, if the chain reaches it.
    pub fn header(&self, height: u32) -> Option<&Header> {
        self.headers.get(height as usize).map(|(_, header)| header)
    }

    /// The hash of the header at `height`.
    pub fn hash(&self, height: u32) -> Option<BlockHash> {
        self.headers.get(height as usize).map(|(hash, _)| *hash)
    }

    /// Checks `headers`, the chain's next ones from `from` on (which may be at or below the tip:
    /// a node that reorganised answers from the fork), and adopts them. Headers equal to those
    /// held are passed over; the first that differs replaces the chain above its parent. Nothing
    /// changes when one fails.
    pub fn extend(&mut self, from: u32, headers: &[Header]) -> Result<(), HeaderChainError> {
        if from == 0 {
            if let Some(first) = headers.first()
                && first.block_hash() != self.headers[0].0
            {
                return Err(HeaderChainError::WrongGenesis { height: 0 });
            }
            return self.extend(1, headers.get(1..).unwrap_or_default());
        }
        let held = self.headers.len() as u32;
        if from > held {
            return Err(HeaderChainError::BrokenLink {
                height: from,
                found: headers.first().map(|h| h.prev_hash).unwrap_or_default(),
                expected: self.tip(),
            });
        }
        let mut candidate: Vec<(BlockHash, Header)> = self.headers[..from as usize].to_vec();
        for (height, header) in (from..).zip(headers) {
            self.check_next(&candidate, height, header)?;
            candidate.push((header.block_hash(), *header));
        }
        // A run that ends below the chain held, and agrees with it, changes nothing.
        let agrees = candidate.len() <= self.headers.len()
            && candidate.iter().zip(&self.headers).all(|(a, b)| a.0 == b.0);
        if !agrees {
            self.headers = candidate;
        }
        Ok(())
    }

    /// Checks `header` at `height` on top of `chain`.
    fn check_next(
        &self,
        chain: &[(BlockHash, Header)],
        height: u32,
        header: &Header,
    ) -> Result<(), HeaderChainError> {
        let (parent, _) = chain.last().expect("genesis");
        if header.prev_hash != *parent {
            return Err(HeaderChainError::BrokenLink {
                height,
                found: header.prev_hash,
                expected: *parent,
            });
        }
        let params = &self.params;
        let window_len = params.retarget_window as usize + 1;
        let window: Vec<(u32, CompactTarget)> = chain[chain.len().saturating_sub(window_len)..]
            .iter()
            .map(|(_, h)| (h.time, h.bits))
            .collect();
        let expected = params.next_bits(&window);
        if header.bits != expected {
            return Err(HeaderChainError::WrongBits {
                height,
                found: header.bits,
                expected,
            });
        }
        let hash = header.block_hash();
        let meets = header
            .bits
            .target()
            .is_ok_and(|target| hash_to_u256(&hash) <= target);
        if !meets {
            return Err(HeaderChainError::ProofOfWork { height, hash });
        }
        let mut times: Vec<u32> = chain[chain.len().saturating_sub(params.median_time_span)..]
            .iter()
            .map(|(_, h)| h.time)
            .collect();
        times.sort_unstable();
        let median = times[times.len() / 2];
        if header.time <= median {
            return Err(HeaderChainError::TimeTooOld {
                height,
                time: header.time,
                median,
            });
        }
        Ok(())
    }
}
