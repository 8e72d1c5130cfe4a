//! `mycoin proof TXID`: checks, with the core's light-client code, that a transaction is in a
//! block of the peer's chain, without trusting the peer: the headers from genesis must form a
//! valid chain of the network ([`HeaderChain`]: links, proof of work, retarget), the proof's
//! block must be the header that chain holds at the proof's height, the transaction's bytes
//! must hash to the txid asked, and the Merkle proof must lead from their wtxid to the header's
//! Merkle root.

use mycoin_api::peer::{MerkleProofView, RawError, decode_hex};
use mycoin_core::hash::MerkleRoot;
use mycoin_core::proof::{HeaderChainError, ProofError};
use mycoin_core::{
    BlockHash, Header, HeaderChain, Network, ProofStep, Transaction, Txid, Wtxid, proof_path,
    verify_merkle_proof,
};
use serde::Serialize;

/// A proof that checked: the path from the transaction's wtxid to its block's Merkle root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedProof {
    pub txid: Txid,
    pub wtxid: Wtxid,
    pub block_hash: BlockHash,
    pub height: u32,
    pub position: u32,
    pub merkle_root: MerkleRoot,
    /// Headers checked as a chain, genesis included.
    pub headers_checked: u32,
    /// Each level of the climb, from the leaf up.
    pub path: Vec<PathStep>,
}

/// One level of the climb.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    pub level: usize,
    pub node: String,
    pub sibling: String,
    /// `left` or `right`: where the node sits in the pair hashed.
    pub side: &'static str,
}

impl From<(usize, ProofStep)> for PathStep {
    fn from((level, step): (usize, ProofStep)) -> Self {
        PathStep {
            level,
            node: step.node.to_string(),
            sibling: step.sibling.to_string(),
            side: if step.node_on_the_right {
                "right"
            } else {
                "left"
            },
        }
    }
}

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProofCheckError {
    #[error("the peer's headers are not a valid chain of the {network} network: {source}")]
    Headers {
        network: &'static str,
        source: HeaderChainError,
    },
    #[error(
        "the proof names block {claimed} at height {height}, but the checked header chain has {held} there"
    )]
    NotInChain {
        height: u32,
        claimed: BlockHash,
        held: String,
    },
    #[error("the transaction's bytes are not a transaction: {0}")]
    BadTransaction(RawError),
    #[error("the peer answered transaction {got} for {asked}")]
    WrongTransaction { asked: Txid, got: Txid },
    #[error("the Merkle proof does not check: {0}")]
    Proof(ProofError),
}

/// Checks the proof of `txid` given the transaction's hex, the proof and the headers of the
/// active chain from genesis (at least up to the proof's height).
pub fn check_proof(
    network: Network,
    txid: &Txid,
    tx_hex: &str,
    proof: &MerkleProofView,
    headers: &[Header],
) -> Result<CheckedProof, ProofCheckError> {
    let mut chain = HeaderChain::new(network.params());
    chain
        .extend(0, headers)
        .map_err(|source| ProofCheckError::Headers {
            network: network.name(),
            source,
        })?;
    let height = proof.block_height;
    let header = match (chain.header(height), chain.hash(height)) {
        (Some(header), Some(hash)) if hash == proof.block_hash => header,
        (_, held) => {
            return Err(ProofCheckError::NotInChain {
                height,
                claimed: proof.block_hash,
                held: held.map_or_else(|| "no header".to_owned(), |hash| hash.to_string()),
            });
        }
    };
    let tx: Transaction = decode_hex(tx_hex).map_err(ProofCheckError::BadTransaction)?;
    if tx.txid() != *txid {
        return Err(ProofCheckError::WrongTransaction {
            asked: *txid,
            got: tx.txid(),
        });
    }
    let wtxid = tx.wtxid();
    let merkle = proof.proof();
    verify_merkle_proof(&wtxid, &merkle, header).map_err(ProofCheckError::Proof)?;
    let (steps, root) = proof_path(&wtxid, &merkle).map_err(ProofCheckError::Proof)?;
    Ok(CheckedProof {
        txid: *txid,
        wtxid,
        block_hash: proof.block_hash,
        height,
        position: proof.pos,
        merkle_root: root,
        headers_checked: chain.height() + 1,
        path: steps.into_iter().enumerate().map(PathStep::from).collect(),
    })
}
