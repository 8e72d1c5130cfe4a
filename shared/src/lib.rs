//! mycoin-core: everything consensus, and everything the four services share.
//!
//! The modules follow one direction of dependency: the canonical [`encoding`]; the types built
//! on it ([`amount`], [`hash`], [`keys`], [`address`], [`transaction`], [`block`]); proof of work
//! and the [`network`] parameters; the light client's [`proof`] checks; the [`sigcache`] of signatures already verified; the
//! consensus checks in [`validation`]; the relay [`policy`], kept apart from them; the chain state ([`utxo`], [`mempool`], [`chain`]); and
//! the [`store`] that persists it. Nothing here knows about HTTP.

pub mod address;
pub mod amount;
pub mod block;
pub mod encoding;
pub mod hash;
pub mod keys;
pub mod network;
pub mod pow;
pub mod proof;
pub mod transaction;

pub use address::{Address, PubKeyHash};
pub use amount::{Amount, COIN, MAX_MONEY, ParseCoinsError};
pub use block::{Block, Header};
pub use encoding::{Decode, DecodeError, Encode, deserialize};
pub use hash::{BlockHash, MerkleNode, MerkleRoot, Txid, Wtxid};
pub use keys::{PrivateKey, PublicKey, Signature};
pub use network::{MAX_FUTURE_SPACINGS, MAX_RETARGET_FACTOR, Network, Params};
pub use pow::CompactTarget;
pub use proof::{HeaderChain, MerkleProof, ProofStep, proof_path, verify_merkle_proof};
pub use transaction::{OutPoint, Transaction, TxIn, TxOut};
pub mod chain;
pub mod history;
pub mod mempool;
pub mod policy;
pub mod sigcache;
pub mod store;
pub mod utxo;
pub mod validation;

pub use chain::{
    Admitted, BlockAccepted, Chain, ChainError, ChainState, ChainTip, Outspend, TipStatus,
    TxLocation, TxRefused, Verification,
};
pub use policy::{FeeRate, Policy, PolicyError};
pub use store::{ChainStore, Database, MemoryStore, SqlStore, StoreError, is_pool_timeout};
pub use utxo::UnspentOutputs;
pub use validation::{BlockError, TxError};
