//! SHA-256d and the 32-byte hash newtypes.
//!
//! Hashes are kept in the byte order SHA-256 produces (the order they take inside encodings)
//! and shown byte-reversed in hex, as Bitcoin shows them. That reversal is defined once, here.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::encoding::{Decode, DecodeError, Encode, Reader};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 applied twice, Bitcoin's hash for headers, transactions and Merkle nodes.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    sha256(&sha256(data))
}

/// Error parsing a hash from its display hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hex digits")]
pub struct ParseHashError;

macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The all-zero hash.
            pub const ZERO: Self = $name([0; 32]);

            /// The bytes in internal (SHA-256 output) order.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The hash of `data` under SHA-256d.
            pub fn hash(data: &[u8]) -> Self {
                $name(sha256d(data))
            }
        }

        impl fmt::Display for $name {
            /// Byte-reversed hex, as Bitcoin displays hashes.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut reversed = self.0;
                reversed.reverse();
                f.write_str(&hex::encode(reversed))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseHashError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseHashError)?;
                bytes.reverse();
                Ok($name(bytes))
            }
        }

        impl Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0);
            }
        }

        impl Decode for $name {
            const MIN_SIZE: usize = 32;
            fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($name(reader.array()?))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hash_newtype!(
    /// A transaction's id: SHA-256d of its encoding without signatures. Outputs are referenced
    /// by it, and every input signs it.
    Txid
);
hash_newtype!(
    /// SHA-256d of a transaction's complete encoding, signatures included: the Merkle leaves.
    Wtxid
);
hash_newtype!(
    /// SHA-256d of an 80-byte block header.
    BlockHash
);
hash_newtype!(
    /// A node of a block's Merkle tree below the root: a leaf (a wtxid) or the hash of a pair,
    /// as an inclusion proof lists them.
    MerkleNode
);
hash_newtype!(
    /// A Merkle tree node; the root sits in the header.
    MerkleRoot
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_byte_reversed_and_parses_back() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0x01;
        bytes[31] = 0xff;
        let hash = BlockHash(bytes);
        let shown = hash.to_string();
        assert!(shown.starts_with("ff") && shown.ends_with("01"));
        assert_eq!(shown.parse::<BlockHash>(), Ok(hash));
        assert_eq!("xyz".parse::<BlockHash>(), Err(ParseHashError));
        assert_eq!("00".parse::<BlockHash>(), Err(ParseHashError));
    }

    #[test]
    fn sha256d_of_empty_input() {
        // A published value: SHA-256d("") = 5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456.
        assert_eq!(
            hex::encode(sha256d(b"")),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
    }
}
