//! The peer service's request and response bodies.
//!
//! Amounts are integers in base units, hashes and txids are hex in display order, addresses
//! are Base58Check strings, and raw blocks and transactions are their canonical encoding
//! (mycoin-core `Encode`) in lowercase hex. The views are built from core types here
//! ([`BlockView::new`], [`TxView::new`]); raw hex is turned back into core types with
//! [`decode_hex`].

use mycoin_core::history::AddressStats;
use mycoin_core::transaction::TxIn;
use mycoin_core::{
    Address, Block, BlockHash, Decode, DecodeError, Encode, Header, MerkleNode, MerkleProof,
    Network, Transaction, TxOut, Txid, deserialize,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most blocks `GET /blocks` returns at once.
pub const MAX_BLOCKS_PER_REQUEST: u32 = 500;
/// Blocks `GET /blocks` returns when `count` is not given.
pub const DEFAULT_BLOCKS_PER_REQUEST: u32 = 100;

/// Why raw hex is not a block or transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum RawError {
    /// Not an even number of hex digits.
    Hex(hex::FromHexError),
    /// Hex, but not the canonical encoding of the expected value.
    Decode(DecodeError),
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawError::Hex(err) => write!(f, "not hex: {err}"),
            RawError::Decode(err) => write!(f, "not a canonical encoding: {err}"),
        }
    }
}

impl std::error::Error for RawError {}

/// Decodes a block or transaction from the hex of its canonical encoding.
///
/// ```
/// use mycoin_api::peer::{decode_hex, RawError};
/// use mycoin_core::{Encode, Network, Transaction};
///
/// let genesis = Network::Regtest.params().genesis_block();
/// let coinbase: Transaction = decode_hex(&hex::encode(genesis.transactions[0].to_bytes())).unwrap();
/// assert_eq!(coinbase, genesis.transactions[0]);
/// assert!(matches!(decode_hex::<Transaction>("zz"), Err(RawError::Hex(_))));
/// assert!(matches!(decode_hex::<Transaction>("00"), Err(RawError::Decode(_))));
/// ```
pub fn decode_hex<T: Decode>(raw: &str) -> Result<T, RawError> {
    let bytes = hex::decode(raw).map_err(RawError::Hex)?;
    deserialize(&bytes).map_err(RawError::Decode)
}

/// The canonical encoding of `value` in lowercase hex.
pub fn encode_hex(value: &impl Encode) -> String {
    hex::encode(value.to_bytes())
}

/// `GET /chain`: the node's view of its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChainInfo {
    /// `demo` or `regtest`.
    #[schema(example = "regtest")]
    pub network: String,
    /// Hash of the genesis block (height 0).
    #[schema(value_type = String)]
    pub genesis: BlockHash,
    /// Height of the active chain's tip.
    pub height: u32,
    /// Hash of the active chain's tip.
    #[schema(value_type = String)]
    pub tip: BlockHash,
    /// Total proof of work of the active chain (expected hashes), as a decimal string.
    #[schema(example = "4")]
    pub total_work: String,
    /// Transactions waiting in the mempool.
    pub mempool_size: usize,
    /// Blocks waiting for their parent.
    pub orphans: usize,
    /// Milliseconds since this node took `tip` (since it started, for the tip it opened with):
    /// a miner that learns of a new tip late knows how late.
    #[serde(default)]
    pub tip_age_ms: u64,
}

/// Query of `GET /chain`: without `wait_tip` the answer comes at once; with it, a long poll
/// that answers as soon as the tip is not `wait_tip`, or after `wait_ms` with the same tip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChainQuery {
    /// A block hash (64 hex digits): wait while it is the tip (anything else is refused, 400
    /// `invalid_hash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_tip: Option<String>,
    /// How long to wait at most, 0 to 30 000 milliseconds (default 10 000); above is refused
    /// (400 `invalid_query`). Without `wait_tip` it is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0, maximum = 30_000)]
    #[schema(minimum = 0, maximum = 30_000)]
    pub wait_ms: Option<u64>,
}

/// The status of a leaf of the block tree, in Bitcoin Core's `getchaintips` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChainTipStatus {
    /// The active chain's tip.
    Active,
    /// Off the active chain, but connected once before a reorganisation (since the node
    /// started): every transaction up to it was checked.
    ValidFork,
    /// Off the active chain: headers, proof of work and bodies checked; the transactions are
    /// checked only if the branch ever connects.
    ValidHeaders,
}

impl From<mycoin_core::TipStatus> for ChainTipStatus {
    fn from(status: mycoin_core::TipStatus) -> Self {
        match status {
            mycoin_core::TipStatus::Active => ChainTipStatus::Active,
            mycoin_core::TipStatus::ValidFork => ChainTipStatus::ValidFork,
            mycoin_core::TipStatus::ValidHeaders => ChainTipStatus::ValidHeaders,
        }
    }
}

/// One leaf of the block tree: an entry of `GET /chain/tips` (Bitcoin Core's `getchaintips`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChainTipView {
    /// The tip's height.
    pub height: u32,
    /// The tip's hash.
    #[schema(value_type = String)]
    pub hash: BlockHash,
    /// Blocks from the fork point with the active chain up to this tip; 0 for the active tip.
    pub branchlen: u32,
    /// `active`, `valid-fork` or `valid-headers`.
    pub status: ChainTipStatus,
}

impl From<mycoin_core::ChainTip> for ChainTipView {
    fn from(tip: mycoin_core::ChainTip) -> Self {
        ChainTipView {
            height: tip.height,
            hash: tip.hash,
            branchlen: tip.branch_len,
            status: tip.status.into(),
        }
    }
}

/// Query of `GET /chain/tips`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChainTipsQuery {
    /// Only the tips at this height or above (default 0: all). Not a height (a number from 0
    /// to 4294967295) is refused, 400 `invalid_query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_height: Option<u32>,
}

/// The 80-byte header of a block, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeaderView {
    /// Block version (1).
    pub version: u32,
    /// Hash of the parent block.
    #[schema(value_type = String)]
    pub prev_hash: BlockHash,
    /// Merkle root of the transactions (leaves: sha256d of each complete transaction).
    #[schema(value_type = String)]
    pub merkle_root: String,
    /// Unix time in seconds.
    pub time: u32,
    /// Target in compact form, 8 hex digits.
    #[schema(example = "207fffff")]
    pub bits: String,
    /// The nonce that solves the proof of work.
    pub nonce: u32,
}

impl From<&Header> for HeaderView {
    fn from(header: &Header) -> Self {
        HeaderView {
            version: header.version,
            prev_hash: header.prev_hash,
            merkle_root: header.merkle_root.to_string(),
            time: header.time,
            bits: header.bits.to_string(),
            nonce: header.nonce,
        }
    }
}

/// The input of a coinbase: the block height and an extra nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CoinbaseInput {
    /// Height of the block the coinbase belongs to.
    pub height: u32,
    /// Free value the miner may vary.
    pub extra_nonce: u64,
}

/// One input of a transaction: a spend of an earlier output, or a coinbase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TxInputView {
    /// Spends output `vout` of transaction `txid`.
    Spend {
        /// Txid of the transaction whose output is spent.
        #[schema(value_type = String)]
        txid: Txid,
        /// Index of the output spent.
        vout: u32,
        /// Compressed SEC1 public key, 66 hex digits.
        public_key: String,
        /// Signature r‖s over the txid, 128 hex digits.
        signature: String,
    },
    /// The coinbase input of a block's first transaction.
    Coinbase {
        /// The block height and extra nonce.
        coinbase: CoinbaseInput,
    },
}

/// One output: an amount paid to an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxOutputView {
    /// Amount in base units (10^8 per coin).
    pub amount: u64,
    /// Base58Check address paid.
    pub address: String,
}

impl TxOutputView {
    /// The view of `output` with its address on `network`.
    pub fn new(output: &TxOut, network: Network) -> Self {
        TxOutputView {
            amount: output.amount.units(),
            address: Address::new(network, output.pubkey_hash).to_string(),
        }
    }
}

/// A transaction, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxView {
    /// sha256d of the encoding without signatures: how outputs are referenced.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// sha256d of the complete encoding: the transaction's Merkle leaf.
    #[schema(value_type = String)]
    pub wtxid: String,
    /// Size of the canonical encoding in bytes.
    pub size: usize,
    /// Whether this is a coinbase.
    pub coinbase: bool,
    /// The inputs, in order.
    pub inputs: Vec<TxInputView>,
    /// The outputs, in order (`vout` is the index).
    pub outputs: Vec<TxOutputView>,
}

impl TxView {
    /// The view of `tx`, with addresses on `network`.
    pub fn new(tx: &Transaction, network: Network) -> Self {
        TxView {
            txid: tx.txid(),
            wtxid: tx.wtxid().to_string(),
            size: tx.size(),
            coinbase: tx.is_coinbase(),
            inputs: tx
                .inputs
                .iter()
                .map(|input| match input {
                    TxIn::Spend {
                        prevout,
                        public_key,
                        signature,
                    } => TxInputView::Spend {
                        txid: prevout.txid,
                        vout: prevout.index,
                        public_key: public_key.to_string(),
                        signature: signature.to_string(),
                    },
                    TxIn::Coinbase {
                        height,
                        extra_nonce,
                    } => TxInputView::Coinbase {
                        coinbase: CoinbaseInput {
                            height: *height,
                            extra_nonce: *extra_nonce,
                        },
                    },
                })
                .collect(),
            outputs: tx
                .outputs
                .iter()
                .map(|output| TxOutputView::new(output, network))
                .collect(),
        }
    }
}

/// A block, decoded, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockView {
    /// The block hash.
    #[schema(value_type = String)]
    pub hash: BlockHash,
    /// Height in the block tree (genesis is 0).
    pub height: u32,
    /// Blocks on top of it in the active chain, itself included; 0 when not in the active chain.
    pub confirmations: u32,
    /// Whether the block is part of the active chain.
    pub in_active_chain: bool,
    /// The header.
    pub header: HeaderView,
    /// Size of the canonical encoding in bytes.
    pub size: usize,
    /// The transactions, the coinbase first.
    pub transactions: Vec<TxView>,
    /// The canonical encoding of the whole block, in hex.
    pub hex: String,
}

impl BlockView {
    /// The view of `block` at `height`; `tip_height` is the active chain's height when the
    /// block is in the active chain, `None` otherwise.
    pub fn new(block: &Block, height: u32, tip_height: Option<u32>, network: Network) -> Self {
        BlockView {
            hash: block.block_hash(),
            height,
            confirmations: tip_height
                .map(|tip| tip.saturating_sub(height).saturating_add(1))
                .unwrap_or(0),
            in_active_chain: tip_height.is_some(),
            header: HeaderView::from(&block.header),
            size: block.size(),
            transactions: block
                .transactions
                .iter()
                .map(|tx| TxView::new(tx, network))
                .collect(),
            hex: encode_hex(block),
        }
    }

    /// The block itself, decoded from [`BlockView::hex`].
    pub fn block(&self) -> Result<Block, RawError> {
        decode_hex(&self.hex)
    }
}

/// Query of `GET /blocks`: a range of the active chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BlocksQuery {
    /// First height (default 0), 0 to 4 294 967 295; a larger value is refused (400
    /// `invalid_query`), a height above the tip gives no blocks.
    #[serde(default)]
    #[param(minimum = 0, maximum = 4_294_967_295_u64)]
    #[schema(minimum = 0, maximum = 4_294_967_295_u64)]
    pub from: u32,
    /// How many blocks, 0 to 500 (default 100); above 500 is refused (400 `invalid_query`).
    /// Fewer come back at the tip.
    #[param(minimum = 0, maximum = 500)]
    #[schema(minimum = 0, maximum = 500)]
    pub count: Option<u32>,
}

/// Body of `POST /blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBlockRequest {
    /// The canonical encoding of the solved block, in hex.
    pub hex: String,
}

/// What became of a submitted block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockStatus {
    /// The block extended the active chain (or caused a reorganisation onto it).
    NewTip,
    /// Valid and stored, but the active chain has at least as much work.
    SideChain,
    /// Its parent is unknown: it waits for it.
    Orphan,
    /// The block was already known.
    Duplicate,
}

/// Answer of `POST /blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubmitBlockResponse {
    /// The block hash.
    #[schema(value_type = String)]
    pub hash: BlockHash,
    /// What became of it.
    pub status: BlockStatus,
    /// Its own height, when it is in the block tree (not for orphans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The active chain's tip after it, when that is another block: the block connected
    /// orphans that were waiting for it, which went further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip: Option<TipView>,
}

/// A block of the active chain by hash and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TipView {
    #[schema(value_type = String)]
    pub hash: BlockHash,
    pub height: u32,
}

/// Query of `GET /blocks/template`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// Address the coinbase pays (reward plus fees).
    pub address: String,
}

/// Answer of `GET /blocks/template`: a block to solve on the current tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockTemplate {
    /// Height the block will have.
    pub height: u32,
    /// Hash of the current tip, its parent.
    #[schema(value_type = String)]
    pub prev_hash: BlockHash,
    /// Target in compact form, 8 hex digits.
    #[schema(example = "207fffff")]
    pub bits: String,
    /// The header's time.
    pub time: u32,
    /// What the coinbase pays: subsidy plus fees, in base units.
    pub reward: u64,
    /// Fees of the included transactions, in base units.
    pub fees: u64,
    /// Number of transactions in the block, the coinbase included.
    pub transactions: usize,
    /// The canonical encoding of the unsolved block (nonce 0), in hex: vary the nonce (bytes
    /// 76..80 of the header) until the hash meets the target, then `POST /blocks`.
    pub hex: String,
}

/// Body of `POST /transactions` and `POST /transactions/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionRequest {
    /// The canonical encoding of the signed transaction, in hex.
    pub hex: String,
}

/// Answer of `POST /transactions`: the transaction is in the mempool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubmitTransactionResponse {
    /// The transaction's id.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Its fee (inputs − outputs), in base units.
    pub fee: u64,
}

/// A consensus rule a transaction or input breaks: the rule's code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleViolation {
    /// The rule's stable code, e.g. `bad_signature`, `missing_input`.
    pub error: String,
    /// What was wrong.
    pub message: String,
}

/// The verdict on one input of a verified transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputVerdict {
    /// Index of the input.
    pub index: usize,
    /// The output it spends, `txid:vout`.
    pub prevout: String,
    /// Address of the spent output, when it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Amount of the spent output, when it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
    /// Whether the input, on its own, spends an unspent mature output with a valid signature.
    pub valid: bool,
    /// The rule the input breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RuleViolation>,
}

/// Answer of `POST /transactions/verify`: the verdict, without submitting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    /// The transaction's id.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Whether `POST /transactions` would accept it now.
    pub valid: bool,
    /// Its fee in base units, when valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<u64>,
    /// The first rule it breaks, when invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RuleViolation>,
    /// One verdict per input.
    pub inputs: Vec<InputVerdict>,
}

/// Where a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// Waiting in the mempool.
    Mempool,
    /// In a block of the active chain.
    Confirmed,
}

/// The status of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxStatus {
    /// `mempool` or `confirmed`.
    pub state: TxState,
    /// The block holding it, when confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub block_hash: Option<BlockHash>,
    /// That block's height, when confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Blocks on top of it, that block included, when confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u32>,
}

/// Where one output of a transaction went: an entry of `GET /transactions/{txid}/outspends`
/// (Esplora's `outspend`). `{"spent": false}`, or the spender and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutspendView {
    /// Whether a transaction of the active chain or of the mempool spends the output.
    pub spent: bool,
    /// The spending transaction, when spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub txid: Option<Txid>,
    /// Its input that spends the output, when spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vin: Option<u32>,
    /// Where the spending transaction is, when spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TxStatus>,
}

impl OutspendView {
    /// An output no transaction spends.
    pub fn unspent() -> Self {
        OutspendView {
            spent: false,
            txid: None,
            vin: None,
            status: None,
        }
    }
}

impl TxStatus {
    /// The status of a transaction at `location`, with `tip_height` the active chain's.
    pub fn at(location: &mycoin_core::TxLocation, tip_height: u32) -> Self {
        match *location {
            mycoin_core::TxLocation::Mempool => TxStatus {
                state: TxState::Mempool,
                block_hash: None,
                height: None,
                confirmations: None,
            },
            mycoin_core::TxLocation::Confirmed { block, height, .. } => TxStatus {
                state: TxState::Confirmed,
                block_hash: Some(block),
                height: Some(height),
                confirmations: Some(tip_height.saturating_sub(height).saturating_add(1)),
            },
        }
    }
}

/// Answer of `GET /transactions/{txid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransactionInfo {
    /// The transaction's id.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Where it is.
    pub status: TxStatus,
    /// The transaction, decoded.
    pub transaction: TxView,
    /// Its canonical encoding, in hex.
    pub hex: String,
}

/// Answer of `GET /transactions/{txid}/merkle-proof`: Esplora's shape (`block_height`,
/// `merkle`, `pos`) with the block's hash. Check it with [`mycoin_core::verify_merkle_proof`]
/// against the block's header, itself checked as part of a [`mycoin_core::HeaderChain`]
/// (PROTOCOL.md §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MerkleProofView {
    /// The active chain's block holding the transaction.
    #[schema(value_type = String)]
    pub block_hash: BlockHash,
    /// Its height.
    pub block_height: u32,
    /// The transaction's position in the block (the coinbase is 0).
    pub pos: u32,
    /// The sibling of each node from the leaf (the transaction's wtxid) up to the root, the
    /// leaf's sibling first; hashes in display order, as txids are shown.
    #[schema(value_type = Vec<String>)]
    pub merkle: Vec<MerkleNode>,
}

impl MerkleProofView {
    /// The proof, for [`mycoin_core::verify_merkle_proof`].
    pub fn proof(&self) -> MerkleProof {
        MerkleProof {
            position: self.pos,
            siblings: self.merkle.clone(),
        }
    }
}

/// Most headers `GET /headers` returns at once.
pub const MAX_HEADERS_PER_REQUEST: u32 = 2_000;

/// Query of `GET /headers`: a range of the active chain's headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeadersQuery {
    /// First height (default 0), 0 to 4 294 967 295; a height above the tip gives none.
    #[serde(default)]
    #[param(minimum = 0, maximum = 4_294_967_295_u64)]
    #[schema(minimum = 0, maximum = 4_294_967_295_u64)]
    pub from: u32,
    /// How many headers, 1 to 2,000 (default 2,000); outside that range is refused (400
    /// `invalid_query`). Fewer come back at the tip.
    #[param(minimum = 1, maximum = 2000)]
    #[schema(minimum = 1, maximum = 2000)]
    pub count: Option<u32>,
}

/// Totals of an address's transactions, confirmed or in the mempool (Esplora's `chain_stats`
/// and `mempool_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressStatsView {
    /// Outputs paying the address, and their sum in base units.
    pub funded_txo_count: u64,
    pub funded_txo_sum: u64,
    /// Of the address's outputs, those spent, and their sum.
    pub spent_txo_count: u64,
    pub spent_txo_sum: u64,
    /// Transactions touching the address.
    pub tx_count: u64,
}

impl From<AddressStats> for AddressStatsView {
    fn from(stats: AddressStats) -> Self {
        AddressStatsView {
            funded_txo_count: stats.funded_txo_count,
            funded_txo_sum: stats.funded_txo_sum,
            spent_txo_count: stats.spent_txo_count,
            spent_txo_sum: stats.spent_txo_sum,
            tx_count: stats.tx_count,
        }
    }
}

/// Answer of `GET /addresses/{address}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressInfo {
    pub address: String,
    /// Its transactions in the active chain.
    pub chain_stats: AddressStatsView,
    /// Its transactions in the mempool.
    pub mempool_stats: AddressStatsView,
}

/// One transaction of an address's history, with what it did to the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressTxView {
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Where it is, with its confirmations.
    pub status: TxStatus,
    /// What its outputs pay the address, in base units.
    pub received: u64,
    /// What its inputs take from the address (the coins they spend).
    pub sent: u64,
    /// `received - sent`: the change of the address's balance.
    pub net: i64,
    /// The transaction's fee (0 for a coinbase).
    pub fee: u64,
}

/// Transactions `GET /addresses/{address}/transactions` returns when `limit` is not given.
pub const DEFAULT_ADDRESS_TXS_PER_REQUEST: u32 = 25;
/// Most transactions it returns at once.
pub const MAX_ADDRESS_TXS_PER_REQUEST: u32 = 100;

/// Query of `GET /addresses/{address}/transactions`: a page of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddressTxsQuery {
    /// The last txid of the previous page: this page starts after it (Esplora's paging).
    pub after_txid: Option<String>,
    /// How many transactions, 1 to 100 (default 25); outside that range is refused (400
    /// `invalid_query`).
    #[param(minimum = 1, maximum = 100)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// One transaction of the mempool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MempoolEntryView {
    /// The transaction's id.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Its fee in base units.
    pub fee: u64,
    /// Its size in bytes.
    pub size: usize,
}

/// Answer of `GET /mempool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MempoolView {
    /// Number of transactions.
    pub count: usize,
    /// The sum of their sizes, in bytes.
    #[serde(default)]
    pub bytes: usize,
    /// The pool's cap in bytes (the peer's `--mempool-max-bytes`).
    #[serde(default)]
    pub max_bytes: usize,
    /// The fee rate a transaction must pay to enter now, in base units per 1,000 bytes: the
    /// minimum relay fee rate, or more while a full pool's raised minimum lasts.
    #[serde(default)]
    pub min_fee_rate_per_kb: u64,
    /// The transactions, best fee rate first.
    pub transactions: Vec<MempoolEntryView>,
}

/// An unspent output of the active chain paying an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UtxoView {
    /// Txid of the transaction that created it.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Its index in that transaction.
    pub vout: u32,
    /// Amount in base units.
    pub amount: u64,
    /// Height of the block that created it.
    pub height: u32,
    /// Whether it is a coinbase output.
    pub coinbase: bool,
    /// Whether it may be spent in the next block (coinbase outputs must mature first).
    pub mature: bool,
    /// Whether a mempool transaction already spends it.
    pub spent_in_mempool: bool,
}

/// Answer of `GET /addresses/{address}/balance`, in base units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    /// The address.
    pub address: String,
    /// Spendable unspent outputs of the active chain (mature), mempool spends not deducted.
    pub confirmed: u64,
    /// Coinbase outputs that have not matured yet.
    pub immature: u64,
    /// What mempool transactions pay to the address.
    pub pending_in: u64,
    /// What mempool transactions spend from the address's confirmed outputs.
    pub pending_out: u64,
}

/// Most addresses one `POST /addresses/utxos` asks about.
pub const MAX_ADDRESSES_PER_REQUEST: usize = 10_000;

/// Body of `POST /addresses/utxos`: the addresses of a wallet, at most
/// [`MAX_ADDRESSES_PER_REQUEST`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressesRequest {
    /// Base58Check addresses of this node's network.
    pub addresses: Vec<String>,
}

/// One address's part of the answer of `POST /addresses/utxos`: what
/// `GET /addresses/{a}/utxos` and `GET /addresses/{a}/balance` answer, from one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressUtxos {
    pub address: String,
    /// Its unspent outputs, oldest first.
    pub utxos: Vec<UtxoView>,
    /// Its balance.
    pub balance: Balance,
    /// Whether a transaction of the active chain paid it or spent from it (its address history
    /// is not empty): a wallet's unused keys are those with neither this nor anything pending.
    pub used: bool,
}

/// Where a peer in the book came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PeerSource {
    /// Named in the configuration (`--peer`, `MYCOIN_PEERS`): never evicted nor dropped.
    Configured,
    /// Learnt at run time, from `POST /peers` or the `X-Mycoin-Peer` header of a relayed
    /// block: evicted when the book needs room, dropped when dead.
    #[default]
    Learnt,
}

/// A peer: another user's peer service, and what this node last learnt of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerView {
    /// Base URL of its peer service, e.g. `http://127.0.0.1:8002`.
    pub url: String,
    /// Whether the peer was named in the configuration or learnt at run time.
    #[serde(default)]
    pub source: PeerSource,
    /// The tip it last announced (`GET /chain`), when it was ever reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub tip: Option<BlockHash>,
    /// The height of that tip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The total work of its active chain, as a decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_work: Option<String>,
    /// When it last answered, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contact: Option<u64>,
    /// Penalty points for misbehaviour (invalid blocks, false tips, stalls, another network);
    /// past the threshold the peer is ignored for a while.
    #[serde(default)]
    pub penalty: u32,
    /// Until when (Unix seconds) the peer is ignored, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned_until: Option<u64>,
    /// Sync attempts that failed in a row (unreachable, too slow, or misbehaving); 0 after a
    /// success. A learnt peer with 10 failures in a row spanning at least 600 s is dropped.
    #[serde(default)]
    pub failures: u32,
    /// While the peer backs off after a failure: when (Unix seconds) it is tried again. The
    /// wait starts at 1 s and doubles with each failure in a row, up to 300 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<u64>,
    /// The last offence it was penalised for, e.g. `stall`, `false_tip`, `bad_answer`,
    /// `invalid_block`, `wrong_network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_offence: Option<String>,
}

impl PeerView {
    /// A peer from `source`, never contacted.
    pub fn new(url: impl Into<String>, source: PeerSource) -> Self {
        PeerView {
            url: url.into(),
            source,
            tip: None,
            height: None,
            total_work: None,
            last_contact: None,
            penalty: 0,
            banned_until: None,
            failures: 0,
            retry_at: None,
            last_offence: None,
        }
    }
}

/// The header a node sets on `POST /blocks` and `POST /transactions` when relaying to a peer:
/// the base URL of its own peer service, so that the receiver can fetch a block's missing
/// ancestors from it (it does so only from peers it knows).
pub const PEER_HEADER: &str = "X-Mycoin-Peer";

/// Most hashes a block locator may hold in `POST /sync` (a locator of a billion blocks has
/// about 40).
pub const MAX_LOCATOR_HASHES: usize = 64;

/// Body of `POST /sync`: what a syncing node has, to find the fork point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Block hashes of the asker's active chain, its tip first, going back with steps that
    /// double, ending at genesis (at most 64). The first one on the answering node's active
    /// chain is the fork point.
    #[schema(value_type = Vec<String>, max_items = 64)]
    pub locator: Vec<BlockHash>,
    /// How many blocks to return, 0 to 500 (default 100); above 500 is refused (400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 500)]
    pub count: Option<u32>,
}

/// Body of `POST /peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPeerRequest {
    /// Base URL of the peer service, `http://HOST:PORT`.
    #[schema(example = "http://127.0.0.1:8002")]
    pub url: String,
}
