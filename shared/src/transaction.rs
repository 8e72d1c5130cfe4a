//! Transactions in the UTXO model.
//!
//! Encoding (all integers little-endian, counts as CompactSize):
//!
//! ```text
//! transaction = version:u32  n_in  input*  n_out  output*
//! input       = prev_txid:[32] prev_index:u32  ( public_key:[33] signature:[64]   -- a spend
//!                                               | height:u32 extra_nonce:u64 )    -- the coinbase,
//!                                                                                 -- whose outpoint is null
//! output      = amount:u64  pubkey_hash:[20]
//! ```
//!
//! The txid is SHA-256d of the same encoding with every signature left out, so it cannot be
//! changed without the signers; every input signs the txid. The wtxid hashes the whole encoding
//! and is what the Merkle tree commits to.

use crate::address::PubKeyHash;
use crate::amount::Amount;
use crate::encoding::{Decode, DecodeError, Encode, Reader, write_compact_size, write_vec};
use crate::hash::{Txid, Wtxid, sha256d};
use crate::keys::{PrivateKey, PublicKey, Signature};

/// A reference to one output of an earlier transaction.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct OutPoint {
    pub txid: Txid,
    pub index: u32,
}

impl OutPoint {
    /// The outpoint of a coinbase input: no transaction, index 2^32 - 1.
    pub const NULL: OutPoint = OutPoint {
        txid: Txid::ZERO,
        index: u32::MAX,
    };

    pub fn new(txid: Txid, index: u32) -> OutPoint {
        OutPoint { txid, index }
    }

    pub fn is_null(&self) -> bool {
        *self == OutPoint::NULL
    }
}

impl std::fmt::Display for OutPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.txid, self.index)
    }
}

impl Encode for OutPoint {
    fn encode(&self, out: &mut Vec<u8>) {
        self.txid.encode(out);
        self.index.encode(out);
    }
}

impl Decode for OutPoint {
    const MIN_SIZE: usize = 36;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OutPoint {
            txid: Txid::decode(reader)?,
            index: reader.u32()?,
        })
    }
}

/// A transaction input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TxIn {
    /// Spends `prevout`, which must pay to the hash of `public_key`; `signature` signs the txid.
    Spend {
        prevout: OutPoint,
        public_key: PublicKey,
        signature: Signature,
    },
    /// The coinbase's only input: creates the block reward. The height makes coinbase txids
    /// unique; the extra nonce gives miners more search space than the header's 32-bit nonce.
    Coinbase { height: u32, extra_nonce: u64 },
}

impl TxIn {
    /// The outpoint as encoded: the null outpoint for the coinbase.
    pub fn prevout(&self) -> OutPoint {
        match self {
            TxIn::Spend { prevout, .. } => *prevout,
            TxIn::Coinbase { .. } => OutPoint::NULL,
        }
    }

    fn encode_parts(&self, out: &mut Vec<u8>, with_signature: bool) {
        self.prevout().encode(out);
        match self {
            TxIn::Spend {
                public_key,
                signature,
                ..
            } => {
                public_key.encode(out);
                if with_signature {
                    signature.encode(out);
                }
            }
            TxIn::Coinbase {
                height,
                extra_nonce,
            } => {
                height.encode(out);
                extra_nonce.encode(out);
            }
        }
    }
}

impl Encode for TxIn {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_parts(out, true);
    }
}

impl Decode for TxIn {
    const MIN_SIZE: usize = 36 + 12;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let prevout = OutPoint::decode(reader)?;
        if prevout.is_null() {
            Ok(TxIn::Coinbase {
                height: reader.u32()?,
                extra_nonce: reader.u64()?,
            })
        } else {
            Ok(TxIn::Spend {
                prevout,
                public_key: PublicKey::decode(reader)?,
                signature: Signature::decode(reader)?,
            })
        }
    }
}

/// The bytes of a spend input: outpoint (36), public key (33), signature (64).
pub const SPEND_INPUT_SIZE: usize = 36 + 33 + 64;
/// The bytes of a coinbase input: the null outpoint (36) and the height data (12).
pub const COINBASE_INPUT_SIZE: usize = 36 + 12;
/// The bytes of an output: amount (8) and public key hash (20).
pub const OUTPUT_SIZE: usize = 8 + 20;

/// A transaction output: an amount payable to the holder of a key with this hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxOut {
    pub amount: Amount,
    pub pubkey_hash: PubKeyHash,
}

impl Encode for TxOut {
    fn encode(&self, out: &mut Vec<u8>) {
        self.amount.encode(out);
        self.pubkey_hash.encode(out);
    }
}

impl Decode for TxOut {
    const MIN_SIZE: usize = 28;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TxOut {
            amount: Amount::decode(reader)?,
            pubkey_hash: PubKeyHash::decode(reader)?,
        })
    }
}

/// A transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transaction {
    pub version: u32,
    pub inputs: Vec<TxIn>,
    pub outputs: Vec<TxOut>,
}

/// No input or output list may be longer than this in any encoding (a decoding cap well above
/// what the block size allows).
const MAX_LIST: usize = 1 << 20;

impl Transaction {
    /// The version every transaction carries today.
    pub const VERSION: u32 = 1;

    /// A coinbase for `height` paying `outputs`.
    pub fn coinbase(height: u32, extra_nonce: u64, outputs: Vec<TxOut>) -> Transaction {
        Transaction {
            version: Self::VERSION,
            inputs: vec![TxIn::Coinbase {
                height,
                extra_nonce,
            }],
            outputs,
        }
    }

    /// A coinbase has exactly one input, and that input is a coinbase input.
    pub fn is_coinbase(&self) -> bool {
        matches!(self.inputs.as_slice(), [TxIn::Coinbase { .. }])
    }

    /// The encoding without signatures, which the txid hashes.
    pub fn txid_preimage(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        self.version.encode(&mut out);
        write_compact_size(&mut out, self.inputs.len() as u64);
        for input in &self.inputs {
            input.encode_parts(&mut out, false);
        }
        write_vec(&mut out, &self.outputs);
        out
    }

    pub fn txid(&self) -> Txid {
        Txid(sha256d(&self.txid_preimage()))
    }

    pub fn wtxid(&self) -> Wtxid {
        Wtxid(sha256d(&self.to_bytes()))
    }

    /// The size of the complete encoding in bytes.
    pub fn size(&self) -> usize {
        let coinbase = self
            .inputs
            .iter()
            .filter(|i| matches!(i, TxIn::Coinbase { .. }))
            .count();
        Transaction::spend_size(self.inputs.len(), self.outputs.len())
            - coinbase * (SPEND_INPUT_SIZE - COINBASE_INPUT_SIZE)
    }

    /// The size of a transaction of `inputs` spend inputs and `outputs` outputs, signed or
    /// not: what a wallet needs to know to pay a fee rate before it signs.
    pub fn spend_size(inputs: usize, outputs: usize) -> usize {
        4 + crate::encoding::compact_size_len(inputs as u64)
            + SPEND_INPUT_SIZE * inputs
            + crate::encoding::compact_size_len(outputs as u64)
            + OUTPUT_SIZE * outputs
    }

    /// Signs every spend input whose key `key_for` knows. Since the txid leaves signatures
    /// out, the order of signing does not matter. Returns how many inputs were signed.
    pub fn sign_with(&mut self, key_for: impl Fn(&PublicKey) -> Option<PrivateKey>) -> usize {
        let txid = self.txid();
        let mut signed = 0;
        for input in &mut self.inputs {
            if let TxIn::Spend {
                public_key,
                signature,
                ..
            } = input
                && let Some(key) = key_for(public_key)
            {
                *signature = key.sign(&txid.0);
                signed += 1;
            }
        }
        signed
    }
}

impl Encode for Transaction {
    fn encode(&self, out: &mut Vec<u8>) {
        self.version.encode(out);
        write_vec(out, &self.inputs);
        write_vec(out, &self.outputs);
    }
}

impl Decode for Transaction {
    const MIN_SIZE: usize = 4 + 1 + 1;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Transaction {
            version: reader.u32()?,
            inputs: reader.vec(MAX_LIST)?,
            outputs: reader.vec(MAX_LIST)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::deserialize;

    fn sample() -> (Transaction, PrivateKey) {
        let key = PrivateKey::from_bytes(&[3u8; 32]).unwrap();
        let tx = Transaction {
            version: 1,
            inputs: vec![TxIn::Spend {
                prevout: OutPoint::new(Txid([9; 32]), 1),
                public_key: key.public_key(),
                signature: Signature([0; 64]),
            }],
            outputs: vec![TxOut {
                amount: Amount::ONE_COIN,
                pubkey_hash: PubKeyHash([5; 20]),
            }],
        };
        (tx, key)
    }

    #[test]
    fn the_txid_ignores_signatures_but_the_wtxid_does_not() {
        let (mut tx, key) = sample();
        let (txid, wtxid) = (tx.txid(), tx.wtxid());
        assert_eq!(
            tx.sign_with(|pk| (*pk == key.public_key()).then(|| key.clone())),
            1
        );
        assert_eq!(tx.txid(), txid);
        assert_ne!(tx.wtxid(), wtxid);
        assert_eq!(tx.size(), tx.to_bytes().len());
        assert_eq!(deserialize::<Transaction>(&tx.to_bytes()), Ok(tx));
    }

    #[test]
    fn coinbase_txids_differ_by_height() {
        let out = vec![TxOut {
            amount: Amount::ONE_COIN,
            pubkey_hash: PubKeyHash([1; 20]),
        }];
        let a = Transaction::coinbase(1, 0, out.clone());
        let b = Transaction::coinbase(2, 0, out);
        assert!(a.is_coinbase());
        assert_ne!(a.txid(), b.txid());
        assert_eq!(deserialize::<Transaction>(&a.to_bytes()), Ok(a));
    }
}
