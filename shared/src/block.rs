//! Blocks: Bitcoin's 80-byte header, the Merkle tree, and the block itself.
//!
//! ```text
//! header = version:u32 prev_hash:[32] merkle_root:[32] time:u32 bits:u32 nonce:u32   (80 bytes)
//! block  = header  n_tx  transaction*
//! ```

use crate::encoding::{Decode, DecodeError, Encode, Reader, compact_size_len};
use crate::hash::{BlockHash, MerkleRoot, Wtxid, sha256d};
use crate::pow::CompactTarget;
use crate::transaction::Transaction;

/// A block header, laid out and hashed exactly as Bitcoin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub version: u32,
    pub prev_hash: BlockHash,
    pub merkle_root: MerkleRoot,
    pub time: u32,
    pub bits: CompactTarget,
    pub nonce: u32,
}

impl Header {
    pub const SIZE: usize = 80;
    /// The version mycoin's blocks carry.
    pub const VERSION: u32 = 1;

    /// The 80 bytes that are hashed.
    pub fn to_array(&self) -> [u8; 80] {
        let mut out = [0u8; 80];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_hash.0);
        out[36..68].copy_from_slice(&self.merkle_root.0);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.0.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    pub fn block_hash(&self) -> BlockHash {
        BlockHash(sha256d(&self.to_array()))
    }
}

impl Encode for Header {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_array());
    }
}

impl Decode for Header {
    const MIN_SIZE: usize = 80;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Header {
            version: reader.u32()?,
            prev_hash: BlockHash::decode(reader)?,
            merkle_root: MerkleRoot::decode(reader)?,
            time: reader.u32()?,
            bits: CompactTarget::decode(reader)?,
            nonce: reader.u32()?,
        })
    }
}

/// SHA-256d of two tree nodes concatenated (internal byte order): their parent.
pub(crate) fn hash_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut pair = [0u8; 64];
    pair[..32].copy_from_slice(left);
    pair[32..].copy_from_slice(right);
    sha256d(&pair)
}

/// The level above `level` (of more than one node): an odd level's last node is paired with
/// itself, Bitcoin's padding.
pub(crate) fn parent_level(mut level: Vec<[u8; 32]>) -> Vec<[u8; 32]> {
    if level.len() % 2 == 1 {
        level.push(*level.last().expect("non-empty"));
    }
    level
        .chunks_exact(2)
        .map(|p| hash_pair(&p[0], &p[1]))
        .collect()
}

/// Bitcoin's Merkle root over `leaves`, and whether the tree was "mutated": whether at some
/// level two equal hashes were paired. A mutated list (such as one whose last transactions are
/// repeated) has the same root as a shorter one, so such a block is invalid but says nothing
/// about the honest block with the same header (CVE-2012-2459).
pub fn merkle_root(leaves: &[[u8; 32]]) -> (MerkleRoot, bool) {
    if leaves.is_empty() {
        return (MerkleRoot::ZERO, false);
    }
    let mut level: Vec<[u8; 32]> = leaves.to_vec();
    let mut mutated = false;
    while level.len() > 1 {
        mutated |= level.chunks_exact(2).any(|p| p[0] == p[1]);
        level = parent_level(level);
    }
    (MerkleRoot(level[0]), mutated)
}

/// Every level of [`merkle_root`]'s tree over `leaves`, the leaves first and the root last
/// (nothing for no leaves): for drawing the tree. An odd level's last node is paired with itself,
/// as the root is computed.
pub fn merkle_levels(leaves: &[[u8; 32]]) -> Vec<Vec<[u8; 32]>> {
    if leaves.is_empty() {
        return Vec::new();
    }
    let mut levels = vec![leaves.to_vec()];
    while levels.last().is_some_and(|level| level.len() > 1) {
        let below = levels.last().expect("non-empty").clone();
        levels.push(parent_level(below));
    }
    levels
}

/// A block: a header and its transactions, the coinbase first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub header: Header,
    pub transactions: Vec<Transaction>,
}

impl Block {
    pub fn block_hash(&self) -> BlockHash {
        self.header.block_hash()
    }

    /// The Merkle root of the transactions' wtxids, and whether the list is mutated.
    pub fn compute_merkle_root(&self) -> (MerkleRoot, bool) {
        let leaves: Vec<[u8; 32]> = self.transactions.iter().map(|tx| tx.wtxid().0).collect();
        merkle_root(&leaves)
    }

    /// The inclusion proof of the transaction at `position`.
    pub fn merkle_proof(&self, position: usize) -> Option<crate::proof::MerkleProof> {
        crate::proof::merkle_proof(&self.wtxids(), position)
    }

    pub fn wtxids(&self) -> Vec<Wtxid> {
        self.transactions.iter().map(Transaction::wtxid).collect()
    }

    /// The size of the block's encoding in bytes.
    pub fn size(&self) -> usize {
        Header::SIZE
            + compact_size_len(self.transactions.len() as u64)
            + self
                .transactions
                .iter()
                .map(Transaction::size)
                .sum::<usize>()
    }

    /// The height the coinbase claims, if the first transaction is a coinbase.
    pub fn coinbase_height(&self) -> Option<u32> {
        match self.transactions.first()?.inputs.as_slice() {
            [crate::transaction::TxIn::Coinbase { height, .. }] => Some(*height),
            _ => None,
        }
    }
}

impl Encode for Block {
    fn encode(&self, out: &mut Vec<u8>) {
        self.header.encode(out);
        crate::encoding::write_vec(out, &self.transactions);
    }
}

impl Decode for Block {
    const MIN_SIZE: usize = 81;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Block {
            header: Header::decode(reader)?,
            transactions: reader.vec(1 << 20)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::deserialize;

    fn h(display_hex: &str) -> [u8; 32] {
        let mut bytes: [u8; 32] = hex::decode(display_hex).unwrap().try_into().unwrap();
        bytes.reverse();
        bytes
    }

    #[test]
    fn merkle_levels_climb_to_the_root_pairing_an_odd_last_node_with_itself() {
        assert!(merkle_levels(&[]).is_empty());
        for count in 1..=9u8 {
            let leaves: Vec<[u8; 32]> = (0..count).map(|i| [i; 32]).collect();
            let levels = merkle_levels(&leaves);
            assert_eq!(levels[0], leaves);
            assert_eq!(levels.last().unwrap(), &vec![merkle_root(&leaves).0.0]);
            for pair in levels.windows(2) {
                assert_eq!(pair[1].len(), pair[0].len().div_ceil(2));
                // The last parent: of the last two nodes, or of an odd last node with itself.
                let last = pair[0].len() - 1;
                let left = pair[0][last - last % 2];
                assert_eq!(*pair[1].last().unwrap(), hash_pair(&left, &pair[0][last]));
            }
        }
    }

    /// Bitcoin's genesis header, fed to mycoin's header code, hashes to Bitcoin's genesis hash.
    #[test]
    fn bitcoin_genesis_header_hashes_to_bitcoins_genesis_hash() {
        let raw = hex::decode(
            "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd\
             7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
        )
        .unwrap();
        let header: Header = deserialize(&raw).unwrap();
        assert_eq!(header.time, 1_231_006_505);
        assert_eq!(header.bits, CompactTarget(0x1d00_ffff));
        assert_eq!(header.nonce, 2_083_236_893);
        assert_eq!(
            header.merkle_root.to_string(),
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
        );
        assert_eq!(
            header.block_hash().to_string(),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
        assert_eq!(header.to_array().to_vec(), raw);
    }

    /// Bitcoin block 100,000: four transactions, its published Merkle root and header hash.
    #[test]
    fn bitcoin_block_100000_merkle_root_and_hash() {
        let txids = [
            "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
            "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
            "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
            "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
        ];
        let leaves: Vec<[u8; 32]> = txids.iter().map(|t| h(t)).collect();
        let (root, mutated) = merkle_root(&leaves);
        assert!(!mutated);
        assert_eq!(
            root.to_string(),
            "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"
        );
        let header = Header {
            version: 1,
            prev_hash: BlockHash(h(
                "000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250",
            )),
            merkle_root: root,
            time: 1_293_623_863,
            bits: CompactTarget(0x1b04_864c),
            nonce: 274_148_111,
        };
        assert_eq!(
            header.block_hash().to_string(),
            "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"
        );
    }

    #[test]
    fn repeating_the_last_leaves_is_detected_as_mutation() {
        let leaves: Vec<[u8; 32]> = (0u8..3).map(|i| [i; 32]).collect();
        let (root, mutated) = merkle_root(&leaves);
        assert!(!mutated);
        let mut tampered = leaves.clone();
        tampered.push(leaves[2]);
        let (same_root, mutated) = merkle_root(&tampered);
        assert_eq!(
            root, same_root,
            "Bitcoin's odd-leaf duplication gives the same root"
        );
        assert!(mutated);
    }
}
