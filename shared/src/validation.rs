//! The consensus rules, in two layers: checks that need only the transaction or block, and
//! checks against chain state. Each rule has its own error variant, so enumerating the variants
//! enumerates the rules (docs/PROTOCOL.md lists them with the same names).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::amount::Amount;
use crate::block::Block;
use crate::hash::{BlockHash, MerkleRoot, Txid};
use crate::keys::{KeyError, PublicKey, Signature};
use crate::network::Params;
use crate::pow::{BitsError, CompactTarget, hash_to_u256};
use crate::sigcache::{SigCache, SigKey};
use crate::transaction::{OutPoint, Transaction, TxIn};
use crate::utxo::{BlockUndo, Coin, UtxoOverlay, UtxoView};

/// A transaction rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("transaction version {0} is not 1")]
    UnsupportedVersion(u32),
    #[error("transaction has no inputs")]
    NoInputs,
    #[error("transaction has no outputs")]
    NoOutputs,
    #[error("transaction is {size} bytes, above the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("output {index} pays zero")]
    ZeroOutput { index: usize },
    #[error("the outputs add up to more than the maximum amount of money")]
    OutputsOverflow,
    #[error("input {index} spends {prevout} a second time")]
    DuplicateInput { index: usize, prevout: OutPoint },
    #[error("input {index} has the null outpoint outside a coinbase")]
    NullPrevout { index: usize },
    #[error("a coinbase is only valid as the first transaction of a block")]
    LooseCoinbase,
    #[error("input {index} spends {prevout}, which is not an unspent output")]
    MissingInput { index: usize, prevout: OutPoint },
    #[error(
        "input {index} spends a coinbase from height {coinbase_height} at height {spend_height}; \
         coinbase outputs mature after {maturity} blocks"
    )]
    ImmatureCoinbase {
        index: usize,
        coinbase_height: u32,
        spend_height: u32,
        maturity: u32,
    },
    #[error("input {index}'s public key does not hash to the address the output pays")]
    WrongKey { index: usize },
    #[error("input {index}'s public key is malformed: {reason}")]
    MalformedPublicKey { index: usize, reason: KeyError },
    #[error("input {index}'s signature is not two scalars in range")]
    MalformedSignature { index: usize },
    #[error("input {index}'s signature is high-S; only low-S signatures are valid")]
    HighS { index: usize },
    #[error("input {index}'s signature does not sign this transaction's txid under its key")]
    BadSignature { index: usize },
    #[error("the inputs add up to more than the maximum amount of money")]
    InputsOverflow,
    #[error("outputs ({outputs}) exceed inputs ({inputs})")]
    OutputsExceedInputs { inputs: Amount, outputs: Amount },
    #[error("transaction {0} is already known")]
    AlreadyKnown(Txid),
    #[error("input {index} spends {prevout}, already spent by mempool transaction {by}")]
    MempoolConflict {
        index: usize,
        prevout: OutPoint,
        by: Txid,
    },
}

impl TxError {
    /// A short stable name for the rule, for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::UnsupportedVersion(_) => "unsupported_version",
            TxError::NoInputs => "no_inputs",
            TxError::NoOutputs => "no_outputs",
            TxError::TooLarge { .. } => "tx_too_large",
            TxError::ZeroOutput { .. } => "zero_output",
            TxError::OutputsOverflow => "outputs_overflow",
            TxError::DuplicateInput { .. } => "duplicate_input",
            TxError::NullPrevout { .. } => "null_prevout",
            TxError::LooseCoinbase => "loose_coinbase",
            TxError::MissingInput { .. } => "missing_input",
            TxError::ImmatureCoinbase { .. } => "immature_coinbase",
            TxError::WrongKey { .. } => "wrong_key",
            TxError::MalformedPublicKey { .. } => "malformed_public_key",
            TxError::MalformedSignature { .. } => "malformed_signature",
            TxError::HighS { .. } => "high_s",
            TxError::BadSignature { .. } => "bad_signature",
            TxError::InputsOverflow => "inputs_overflow",
            TxError::OutputsExceedInputs { .. } => "outputs_exceed_inputs",
            TxError::AlreadyKnown(_) => "already_known",
            TxError::MempoolConflict { .. } => "mempool_conflict",
        }
    }
}

/// A block rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block version {0} is not 1")]
    UnsupportedVersion(u32),
    #[error("bits are not a usable target: {0}")]
    BitsOutOfRange(BitsError),
    #[error("bits {found} ask for less work than the network's limit {limit}")]
    BitsAboveLimit {
        found: CompactTarget,
        limit: CompactTarget,
    },
    #[error("block hash {hash} is above the target of its bits {bits}")]
    ProofOfWork {
        hash: BlockHash,
        bits: CompactTarget,
    },
    /// The bits differ from the retarget's, clamped to a factor 4 per window.
    #[error("bits are {found}, the retarget requires {expected}")]
    WrongBits {
        found: CompactTarget,
        expected: CompactTarget,
    },
    /// The time is more than 12 target spacings ahead of the node's clock.
    #[error("block time {time} is more than the allowed {max_ahead} s ahead of the clock ({now})")]
    TimeTooNew { time: u32, now: u32, max_ahead: u32 },
    #[error("block time {time} is not after the median time {median} of the previous blocks")]
    TimeTooOld { time: u32, median: u32 },
    #[error("block has no transactions")]
    NoTransactions,
    #[error("block is {size} bytes, above the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("the header's Merkle root {header} differs from the transactions' root {computed}")]
    MerkleMismatch {
        header: MerkleRoot,
        computed: MerkleRoot,
    },
    #[error("the transaction list repeats a transaction (Merkle mutation)")]
    MerkleMutated,
    #[error("transaction {0} appears twice in the block")]
    DuplicateTxid(Txid),
    #[error("the first transaction is not a coinbase")]
    FirstNotCoinbase,
    #[error("transaction {index} is a second coinbase")]
    ExtraCoinbase { index: usize },
    #[error("the coinbase claims height {found}, the block is at height {expected}")]
    BadCoinbaseHeight { found: u32, expected: u32 },
    #[error("the coinbase pays {paid}, more than reward plus fees ({allowed})")]
    CoinbaseTooLarge { paid: Amount, allowed: Amount },
    #[error("the coinbase's outputs add up to more than the maximum amount of money")]
    CoinbaseOverflow,
    #[error("{prevout} is spent twice in the block, by transactions {first} and {second}")]
    DoubleSpendInBlock {
        prevout: OutPoint,
        first: usize,
        second: usize,
    },
    #[error("transaction {index} spends {prevout}, created later in the same block")]
    SpendsLaterOutput { index: usize, prevout: OutPoint },
    #[error("the fees of the block add up to more than the maximum amount of money")]
    FeesOverflow,
    #[error("transaction {index}: {error}")]
    Transaction { index: usize, error: TxError },
    #[error("parent block {0} is invalid")]
    InvalidParent(BlockHash),
    #[error("block {0} was already found invalid")]
    KnownInvalid(BlockHash),
}

impl BlockError {
    /// Whether the failure condemns the block's hash itself. A body that does not match its
    /// header (Merkle mismatch or mutation) says nothing about the honest block with that hash,
    /// and a block from the future may be valid later; neither may be remembered as invalid.
    pub fn condemns_hash(&self) -> bool {
        !matches!(
            self,
            BlockError::MerkleMismatch { .. }
                | BlockError::MerkleMutated
                | BlockError::TimeTooNew { .. }
                | BlockError::KnownInvalid(_)
        )
    }

    /// A short stable name for the rule, for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            BlockError::UnsupportedVersion(_) => "unsupported_version",
            BlockError::BitsOutOfRange(_) => "bits_out_of_range",
            BlockError::BitsAboveLimit { .. } => "bits_above_limit",
            BlockError::ProofOfWork { .. } => "high_hash",
            BlockError::WrongBits { .. } => "wrong_bits",
            BlockError::TimeTooNew { .. } => "time_too_new",
            BlockError::TimeTooOld { .. } => "time_too_old",
            BlockError::NoTransactions => "no_transactions",
            BlockError::TooLarge { .. } => "block_too_large",
            BlockError::MerkleMismatch { .. } => "merkle_mismatch",
            BlockError::MerkleMutated => "merkle_mutated",
            BlockError::DuplicateTxid(_) => "duplicate_txid",
            BlockError::FirstNotCoinbase => "first_not_coinbase",
            BlockError::ExtraCoinbase { .. } => "extra_coinbase",
            BlockError::BadCoinbaseHeight { .. } => "bad_coinbase_height",
            BlockError::CoinbaseTooLarge { .. } => "coinbase_too_large",
            BlockError::CoinbaseOverflow => "coinbase_overflow",
            BlockError::DoubleSpendInBlock { .. } => "double_spend_in_block",
            BlockError::SpendsLaterOutput { .. } => "spends_later_output",
            BlockError::FeesOverflow => "fees_overflow",
            BlockError::Transaction { error, .. } => error.code(),
            BlockError::InvalidParent(_) => "invalid_parent",
            BlockError::KnownInvalid(_) => "known_invalid",
        }
    }
}

/// Rules that need only the transaction: version; at least one input and one output; size;
/// every output positive and their sum within the money supply; no input spent twice; the null
/// outpoint only in a coinbase (which has exactly one input).
pub fn check_transaction(tx: &Transaction, params: &Params) -> Result<(), TxError> {
    if tx.version != Transaction::VERSION {
        return Err(TxError::UnsupportedVersion(tx.version));
    }
    if tx.inputs.is_empty() {
        return Err(TxError::NoInputs);
    }
    if tx.outputs.is_empty() {
        return Err(TxError::NoOutputs);
    }
    let size = tx.size();
    if size > params.max_tx_size {
        return Err(TxError::TooLarge {
            size,
            max: params.max_tx_size,
        });
    }
    let coinbase = tx.is_coinbase();
    if !coinbase {
        if let Some(index) = tx.outputs.iter().position(|o| o.amount == Amount::ZERO) {
            return Err(TxError::ZeroOutput { index });
        }
        if let Some(index) = tx
            .inputs
            .iter()
            .position(|i| matches!(i, TxIn::Coinbase { .. }))
        {
            return Err(TxError::NullPrevout { index });
        }
    }
    Amount::checked_sum(tx.outputs.iter().map(|o| o.amount)).ok_or(TxError::OutputsOverflow)?;
    let mut seen = HashSet::with_capacity(tx.inputs.len());
    for (index, input) in tx.inputs.iter().enumerate() {
        if !seen.insert(input.prevout()) {
            return Err(TxError::DuplicateInput {
                index,
                prevout: input.prevout(),
            });
        }
    }
    Ok(())
}

/// Rules against the unspent outputs, for a transaction to be included at `spend_height`:
/// every input spends an unspent output, a coinbase output only once mature, with the key the
/// output pays to and a valid low-S signature over the txid; inputs cover outputs. Returns the
/// fee. A signature found in `cache` is not verified again. Expects [`check_transaction`] to
/// have passed, and `tx` not to be a coinbase.
pub fn check_tx_inputs(
    tx: &Transaction,
    spend_height: u32,
    view: &impl UtxoView,
    params: &Params,
    cache: &SigCache,
) -> Result<Amount, TxError> {
    check_tx_inputs_with(tx, spend_height, view, params, |check| {
        if cache.contains(&check.cache_key(cache)) {
            Ok(())
        } else {
            check.verify()
        }
    })
}

/// [`check_tx_inputs`] with the signature rule left to `check_signature`, called for each input
/// once the input's other rules have passed, in input order.
pub fn check_tx_inputs_with<'a>(
    tx: &'a Transaction,
    spend_height: u32,
    view: &impl UtxoView,
    params: &Params,
    mut check_signature: impl FnMut(SignatureCheck<'a>) -> Result<(), TxError>,
) -> Result<Amount, TxError> {
    let txid = tx.txid();
    let mut total = Amount::ZERO;
    for (index, input) in tx.inputs.iter().enumerate() {
        let (coin, signature) = check_spend(input, index, txid, view, spend_height, params)?;
        check_signature(signature)?;
        total = total
            .checked_add(coin.output.amount)
            .ok_or(TxError::InputsOverflow)?;
    }
    let outputs =
        Amount::checked_sum(tx.outputs.iter().map(|o| o.amount)).ok_or(TxError::OutputsOverflow)?;
    total
        .checked_sub(outputs)
        .ok_or(TxError::OutputsExceedInputs {
            inputs: total,
            outputs,
        })
}

/// The rules for one input of transaction `txid` at `spend_height`: it spends an unspent
/// output, a coinbase output only once mature, with the key the output pays to and a valid
/// low-S signature over the txid. Returns the coin it spends.
pub fn check_input(
    input: &TxIn,
    index: usize,
    txid: &Txid,
    view: &impl UtxoView,
    spend_height: u32,
    params: &Params,
) -> Result<Coin, TxError> {
    check_input_with(input, index, txid, view, spend_height, params, |check| {
        check.verify()
    })
}

/// [`check_input`] with the signature rule left to `check_signature`.
pub fn check_input_with<'a>(
    input: &'a TxIn,
    index: usize,
    txid: &Txid,
    view: &impl UtxoView,
    spend_height: u32,
    params: &Params,
    check_signature: impl FnOnce(SignatureCheck<'a>) -> Result<(), TxError>,
) -> Result<Coin, TxError> {
    let (coin, signature) = check_spend(input, index, *txid, view, spend_height, params)?;
    check_signature(signature)?;
    Ok(coin)
}

/// The rules of [`check_input`] but the signature, which is returned to be checked: it is the
/// expensive one, and the only one that may be cached or run on another thread.
fn check_spend<'a>(
    input: &'a TxIn,
    index: usize,
    txid: Txid,
    view: &impl UtxoView,
    spend_height: u32,
    params: &Params,
) -> Result<(Coin, SignatureCheck<'a>), TxError> {
    let TxIn::Spend {
        prevout,
        public_key,
        signature,
    } = input
    else {
        return Err(TxError::NullPrevout { index });
    };
    let coin = view.coin(prevout).ok_or(TxError::MissingInput {
        index,
        prevout: *prevout,
    })?;
    if !coin.is_mature_at(spend_height, params.coinbase_maturity) {
        return Err(TxError::ImmatureCoinbase {
            index,
            coinbase_height: coin.height,
            spend_height,
            maturity: params.coinbase_maturity,
        });
    }
    if public_key.pubkey_hash() != coin.output.pubkey_hash {
        return Err(TxError::WrongKey { index });
    }
    let check = SignatureCheck {
        index,
        txid,
        public_key,
        signature,
    };
    Ok((coin, check))
}

/// The signature rule of one input, apart from the input's other rules: what it depends on is
/// only these bytes, never chain state, so it can be cached and run on any thread.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'a> {
    /// The input's position in its transaction, for the error.
    pub index: usize,
    /// What every input signs.
    pub txid: Txid,
    pub public_key: &'a PublicKey,
    pub signature: &'a Signature,
}

impl SignatureCheck<'_> {
    /// The rule: a well-formed key, and a low-S signature over the txid that verifies under it.
    pub fn verify(&self) -> Result<(), TxError> {
        self.public_key
            .verify(&self.txid.0, self.signature)
            .map_err(|e| self.error(e))
    }

    /// The rule's error for this input, from the key's verdict.
    fn error(&self, e: KeyError) -> TxError {
        let index = self.index;
        match e {
            KeyError::NotCompressed | KeyError::NotOnCurve => {
                TxError::MalformedPublicKey { index, reason: e }
            }
            KeyError::HighS => TxError::HighS { index },
            KeyError::MalformedSignature => TxError::MalformedSignature { index },
            _ => TxError::BadSignature { index },
        }
    }

    /// This signature's key in `cache`.
    pub fn cache_key(&self, cache: &SigCache) -> SigKey {
        cache.key(&self.txid, self.public_key, self.signature)
    }
}

/// Signature checks that verify each distinct (txid, key, signature) at most once: found in the
/// shared cache, or verified once and remembered here (and put in the cache when it holds). A
/// transaction repeating one input a thousand times costs one verification, not a thousand.
#[derive(Debug)]
pub struct SignatureMemo<'a> {
    cache: &'a SigCache,
    verdicts: HashMap<SigKey, Result<(), KeyError>>,
}

impl<'a> SignatureMemo<'a> {
    pub fn new(cache: &'a SigCache) -> Self {
        SignatureMemo {
            cache,
            verdicts: HashMap::new(),
        }
    }

    /// The signature rule of `check`, verified only when neither the cache nor this memo knows
    /// the answer.
    pub fn check(&mut self, check: SignatureCheck<'_>) -> Result<(), TxError> {
        let key = check.cache_key(self.cache);
        let verdict = match self.verdicts.get(&key) {
            Some(verdict) => verdict.clone(),
            None => {
                let verdict = if self.cache.contains(&key) {
                    Ok(())
                } else {
                    let verdict = check.public_key.verify(&check.txid.0, check.signature);
                    if verdict.is_ok() {
                        self.cache.insert(key);
                    }
                    verdict
                };
                self.verdicts.insert(key, verdict.clone());
                verdict
            }
        };
        verdict.map_err(|e| check.error(e))
    }
}

/// The proof of work a header carries on its own: usable bits, no easier than the network's
/// limit, and a hash at or below their target.
pub fn check_proof_of_work(block: &Block, params: &Params) -> Result<(), BlockError> {
    let header = &block.header;
    let target = header.bits.target().map_err(BlockError::BitsOutOfRange)?;
    if target > params.pow_limit_target() {
        return Err(BlockError::BitsAboveLimit {
            found: header.bits,
            limit: params.pow_limit,
        });
    }
    let hash = header.block_hash();
    if hash_to_u256(&hash) > target {
        return Err(BlockError::ProofOfWork {
            hash,
            bits: header.bits,
        });
    }
    Ok(())
}

/// Rules that need only the block: version and proof of work; at least one transaction;
/// size; the Merkle root (and no mutation); the coinbase first and only first; every
/// transaction's own rules; no txid twice; no outpoint spent twice.
pub fn check_block(block: &Block, params: &Params) -> Result<(), BlockError> {
    if block.header.version != crate::block::Header::VERSION {
        return Err(BlockError::UnsupportedVersion(block.header.version));
    }
    check_proof_of_work(block, params)?;
    // The body must match the header before any verdict on the body may condemn the hash.
    let (computed, mutated) = block.compute_merkle_root();
    if computed != block.header.merkle_root {
        return Err(BlockError::MerkleMismatch {
            header: block.header.merkle_root,
            computed,
        });
    }
    if mutated {
        return Err(BlockError::MerkleMutated);
    }
    if block.transactions.is_empty() {
        return Err(BlockError::NoTransactions);
    }
    let size = block.size();
    if size > params.max_block_size {
        return Err(BlockError::TooLarge {
            size,
            max: params.max_block_size,
        });
    }
    if !block.transactions[0].is_coinbase() {
        return Err(BlockError::FirstNotCoinbase);
    }
    let mut txids = HashSet::with_capacity(block.transactions.len());
    let mut spent: HashMap<OutPoint, usize> = HashMap::new();
    for (index, tx) in block.transactions.iter().enumerate() {
        if index > 0 && tx.is_coinbase() {
            return Err(BlockError::ExtraCoinbase { index });
        }
        check_transaction(tx, params).map_err(|error| BlockError::Transaction { index, error })?;
        let txid = tx.txid();
        if !txids.insert(txid) {
            return Err(BlockError::DuplicateTxid(txid));
        }
        if index == 0 {
            continue;
        }
        for input in &tx.inputs {
            if let Some(first) = spent.insert(input.prevout(), index) {
                return Err(BlockError::DoubleSpendInBlock {
                    prevout: input.prevout(),
                    first,
                    second: index,
                });
            }
        }
    }
    Ok(())
}

/// What a header is checked against: facts about the chain it extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderContext {
    /// The height the block would have.
    pub height: u32,
    /// The bits the retarget requires.
    pub expected_bits: CompactTarget,
    /// The median time of the previous blocks.
    pub median_time_past: u32,
}

/// Rules against the chain the header extends:
///
/// - "The bits equal the retarget's ([`Params::next_bits`]), clamped to a factor 4 either way
///   per window": [`BlockError::WrongBits`];
/// - "the time is after the median of the previous blocks": [`BlockError::TimeTooOld`];
/// - "the time is at most 12 target spacings ahead of the node's clock"
///   ([`Params::max_future_block_time`]): [`BlockError::TimeTooNew`];
/// - "the coinbase claims the block's height": [`BlockError::BadCoinbaseHeight`].
pub fn contextual_check_block(
    block: &Block,
    context: &HeaderContext,
    params: &Params,
    now: u32,
) -> Result<(), BlockError> {
    let header = &block.header;
    if header.bits != context.expected_bits {
        return Err(BlockError::WrongBits {
            found: header.bits,
            expected: context.expected_bits,
        });
    }
    if header.time <= context.median_time_past {
        return Err(BlockError::TimeTooOld {
            time: header.time,
            median: context.median_time_past,
        });
    }
    let max_ahead = params.max_future_block_time();
    if u64::from(header.time) > u64::from(now) + u64::from(max_ahead) {
        return Err(BlockError::TimeTooNew {
            time: header.time,
            now,
            max_ahead,
        });
    }
    match block.coinbase_height() {
        Some(found) if found == context.height => Ok(()),
        Some(found) => Err(BlockError::BadCoinbaseHeight {
            found,
            expected: context.height,
        }),
        None => Err(BlockError::FirstNotCoinbase),
    }
}

/// From how many signatures left to verify (not found in the cache) [`connect_block`] spreads
/// them over the cores. Below it, waking the other threads costs more than it saves.
pub const PARALLEL_FROM: usize = 16;

/// How [`connect_block`] checks signatures: one found in `cache` is not verified again, and when
/// at least `parallel_from` are left to verify they are verified across the cores.
#[derive(Debug, Clone, Copy)]
pub struct SignatureChecks<'a> {
    pub cache: &'a SigCache,
    pub parallel_from: usize,
}

impl<'a> SignatureChecks<'a> {
    /// Checks with `cache`, in parallel from [`PARALLEL_FROM`] signatures on.
    pub fn new(cache: &'a SigCache) -> Self {
        SignatureChecks {
            cache,
            parallel_from: PARALLEL_FROM,
        }
    }

    /// The first failing signature in block order (transaction, then input), as a block error.
    fn first_failure(&self, pending: &[(usize, SignatureCheck<'_>)]) -> Option<BlockError> {
        let failure = |(index, check): &(usize, SignatureCheck<'_>)| {
            check.verify().err().map(|error| BlockError::Transaction {
                index: *index,
                error,
            })
        };
        if pending.len() >= self.parallel_from {
            // `find_map_first` returns the lowest position that fails, whatever thread found
            // it first: the verdict does not depend on scheduling.
            pending.par_iter().find_map_first(failure)
        } else {
            pending.iter().find_map(failure)
        }
    }
}

/// Verifies the input signatures of `blocks` across the cores and records in `cache` those that
/// hold. A signature depends on nothing but its own bytes, so the signatures of a run of blocks
/// about to connect one after the other can be checked together, on every core, rather than
/// ten per block on one, and before the chain's writer sees the blocks; [`connect_block`] then
/// finds them in the cache, and reports any that failed where it belongs. Only blocks with their
/// proof of work are looked at, up to the first without it; signatures already cached are not
/// verified again.
pub fn verify_signatures_into(cache: &SigCache, blocks: &[Block], params: &Params) {
    let transactions: Vec<&Transaction> = blocks
        .iter()
        .take_while(|block| check_proof_of_work(block, params).is_ok())
        .flat_map(|block| &block.transactions)
        .collect();
    verify_transaction_signatures_into(cache, &transactions);
}

/// Verifies the input signatures of `transactions` not yet in `cache`, across the cores, and
/// records in `cache` those that hold (see [`verify_signatures_into`]). Whether each
/// transaction is valid is for the chain to say; this only saves it the expensive part.
pub fn verify_transaction_signatures_into(cache: &SigCache, transactions: &[&Transaction]) {
    let checks: Vec<(SigKey, SignatureCheck<'_>)> = transactions
        .iter()
        .flat_map(|tx| signature_checks(tx))
        .map(|check| (check.cache_key(cache), check))
        .filter(|(key, _)| !cache.contains(key))
        .collect();
    checks
        .par_iter()
        .filter(|(_, check)| check.verify().is_ok())
        .for_each(|(key, _)| cache.insert(*key));
}

/// The signature check of each spending input of `tx`.
fn signature_checks(tx: &Transaction) -> impl Iterator<Item = SignatureCheck<'_>> {
    let txid = tx.txid();
    tx.inputs
        .iter()
        .enumerate()
        .filter_map(move |(index, input)| match input {
            TxIn::Spend {
                public_key,
                signature,
                ..
            } => Some(SignatureCheck {
                index,
                txid,
                public_key,
                signature,
            }),
            TxIn::Coinbase { .. } => None,
        })
}

/// Connects a block checked by [`check_block`] at `height` onto `view`: every transaction's
/// inputs against the outputs before it, and a coinbase paying at most reward plus fees.
/// Returns the undo data. On error `view` may hold part of the block: drop it.
///
/// The outputs must be looked up and spent in block order (a transaction may spend an earlier
/// one's outputs), but signatures depend on nothing else: the ordered pass leaves each one it
/// does not find in the cache for later, and they are then verified together. Every signature
/// left for later precedes the point where the pass stopped, so the lowest one that fails, else
/// the pass's own error, is exactly the error that checking everything in order would meet
/// first.
pub fn connect_block<B: UtxoView + ?Sized>(
    block: &Block,
    height: u32,
    view: &mut UtxoOverlay<'_, B>,
    params: &Params,
    signatures: SignatureChecks<'_>,
) -> Result<BlockUndo, BlockError> {
    let mut pending = Vec::new();
    let connected = connect_block_deferring(block, height, view, params, |index, check| {
        if !signatures
            .cache
            .contains(&check.cache_key(signatures.cache))
        {
            pending.push((index, check));
        }
    });
    match signatures.first_failure(&pending) {
        Some(error) => Err(error),
        None => connected,
    }
}

/// [`connect_block`]'s ordered pass: every rule but the signatures, which go to `defer` with
/// their transaction's position.
fn connect_block_deferring<'a, B: UtxoView + ?Sized>(
    block: &'a Block,
    height: u32,
    view: &mut UtxoOverlay<'_, B>,
    params: &Params,
    mut defer: impl FnMut(usize, SignatureCheck<'a>),
) -> Result<BlockUndo, BlockError> {
    let positions: HashMap<Txid, usize> = block
        .transactions
        .iter()
        .enumerate()
        .map(|(i, tx)| (tx.txid(), i))
        .collect();
    let mut undo = BlockUndo::default();
    let mut fees = Amount::ZERO;
    for (index, tx) in block.transactions.iter().enumerate().skip(1) {
        for input in &tx.inputs {
            let prevout = input.prevout();
            if view.coin(&prevout).is_none()
                && positions.get(&prevout.txid).is_some_and(|&p| p >= index)
            {
                return Err(BlockError::SpendsLaterOutput { index, prevout });
            }
        }
        let fee = check_tx_inputs_with(tx, height, view, params, |check| {
            defer(index, check);
            Ok(())
        })
        .map_err(|error| BlockError::Transaction { index, error })?;
        fees = fees.checked_add(fee).ok_or(BlockError::FeesOverflow)?;
        for input in &tx.inputs {
            let coin = view
                .spend(&input.prevout())
                .expect("checked by check_tx_inputs");
            undo.spent.push(coin);
        }
        add_outputs(view, tx, height);
    }
    let coinbase = &block.transactions[0];
    let paid = Amount::checked_sum(coinbase.outputs.iter().map(|o| o.amount))
        .ok_or(BlockError::CoinbaseOverflow)?;
    let allowed = params
        .block_subsidy(height)
        .checked_add(fees)
        .ok_or(BlockError::FeesOverflow)?;
    if paid > allowed {
        return Err(BlockError::CoinbaseTooLarge { paid, allowed });
    }
    add_outputs(view, coinbase, height);
    Ok(undo)
}

fn add_outputs<B: UtxoView + ?Sized>(view: &mut UtxoOverlay<'_, B>, tx: &Transaction, height: u32) {
    let txid = tx.txid();
    let is_coinbase = tx.is_coinbase();
    for (i, output) in tx.outputs.iter().enumerate() {
        view.add(
            OutPoint::new(txid, i as u32),
            Coin {
                output: *output,
                height,
                is_coinbase,
            },
        );
    }
}

/// Undoes [`connect_block`]: removes the block's outputs and restores what it spent.
pub fn disconnect_block<B: UtxoView + ?Sized>(
    block: &Block,
    undo: &BlockUndo,
    view: &mut UtxoOverlay<'_, B>,
) {
    let mut restored = undo.spent.iter().rev();
    for tx in block.transactions.iter().rev() {
        let txid = tx.txid();
        for index in 0..tx.outputs.len() {
            view.spend(&OutPoint::new(txid, index as u32));
        }
        if tx.is_coinbase() {
            continue;
        }
        for input in tx.inputs.iter().rev() {
            if let Some(coin) = restored.next() {
                view.add(input.prevout(), *coin);
            }
        }
    }
}
