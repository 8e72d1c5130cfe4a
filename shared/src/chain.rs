//! The chain state: the block tree, the active chain with most work, its unspent outputs, the
//! mempool, and the orphan pool; and the logic that moves them together.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Deref;
use std::sync::Arc;

use ruint::aliases::U256;

use crate::address::PubKeyHash;
use crate::amount::Amount;
use crate::block::{Block, Header};
use crate::hash::{BlockHash, Txid};
use crate::history::{Effect, address_history, effects};
use crate::mempool::{Mempool, MempoolEntry};
use crate::network::Params;
use crate::policy::{FeeRate, Policy, PolicyError, cmp_fee_rate};
use crate::pow::work_for_target;
use crate::sigcache::SigCache;
use crate::store::{BlockEntry, ChainStore, ChainUpdate, StoreError};
use crate::transaction::{OutPoint, Transaction, TxIn, TxOut};
use crate::utxo::{Coin, UnspentOutputs, UtxoOverlay};
use crate::validation::{
    self, BlockError, HeaderContext, SignatureCheck, SignatureChecks, SignatureMemo, TxError,
    check_block, check_transaction, check_tx_inputs_with, connect_block, contextual_check_block,
    disconnect_block,
};

/// Why a block was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Invalid(#[from] BlockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What became of a submitted block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockAccepted {
    /// Already in the block tree.
    Duplicate,
    /// Its parent is unknown; it waits in the orphan pool.
    Orphan { parent: BlockHash },
    /// Valid and stored, but the active chain has at least as much work.
    SideChain,
    /// The active chain changed: its tip is now `tip` at `height`, after disconnecting
    /// `disconnected` blocks, whose transactions `returned` are back in the mempool (for peers
    /// that dropped them with those blocks).
    NewTip {
        tip: BlockHash,
        height: u32,
        disconnected: usize,
        returned: Vec<Txid>,
    },
}

/// What a move of the active chain undid: the blocks that left it, and those of their
/// transactions that went back to the mempool.
#[derive(Debug, Default)]
struct Undone {
    blocks: usize,
    returned: Vec<Txid>,
}

impl Undone {
    fn add(&mut self, other: Undone) {
        self.blocks += other.blocks;
        self.returned.extend(other.returned);
    }
}

/// Where a transaction is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxLocation {
    Mempool,
    Confirmed {
        block: BlockHash,
        height: u32,
        position: u32,
    },
}

/// What a leaf of the block tree is to this node: Bitcoin Core's `getchaintips` statuses, those
/// that apply to a tree that keeps only blocks whose header and body passed their checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TipStatus {
    /// The active chain's tip (Core's `active`).
    Active,
    /// Off the active chain, but its tip block was connected once, before a reorganisation
    /// took it off: every transaction up to it was checked then (Core's `valid-fork`). Known
    /// only of reorganisations since the node started.
    ValidFork,
    /// Off the active chain: headers, proof of work and bodies checked, transactions to be
    /// checked only if the branch ever connects (Core's `valid-headers`).
    ValidHeaders,
}

impl TipStatus {
    /// Core's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            TipStatus::Active => "active",
            TipStatus::ValidFork => "valid-fork",
            TipStatus::ValidHeaders => "valid-headers",
        }
    }
}

/// A leaf of the block tree (a row of Bitcoin Core's `getchaintips`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainTip {
    pub hash: BlockHash,
    pub height: u32,
    /// Blocks from the fork point with the active chain up to this tip (0 for the active tip).
    pub branch_len: u32,
    pub status: TipStatus,
}

/// Where an output went (Esplora's `outspend`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outspend {
    /// Not spent: in the unspent outputs (or an output of the mempool, or of the genesis block,
    /// which is never spendable), and no mempool transaction spends it.
    Unspent,
    /// Spent by input `vin` of transaction `txid`, which is where `location` says.
    Spent {
        txid: Txid,
        vin: u32,
        location: TxLocation,
    },
}

/// Rows of an address's history read at once when looking for the spender of an output.
pub const SPENDER_PAGE: usize = 64;
/// Blocks read at once when looking for the spender of an output.
const SPENDER_BLOCKS_PER_READ: usize = 8;

/// The book's verify.py on one transaction: the verdict on the whole (its fee, or the first rule
/// it breaks) and each input's own verdict (the coin it spends, or the rule it breaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verdict: Result<Amount, TxError>,
    pub inputs: Vec<Result<Coin, TxError>>,
}

/// How a check decides one signature rule.
type SignatureRule<'r> = dyn for<'t> FnMut(SignatureCheck<'t>) -> Result<(), TxError> + 'r;

/// The signature rule with `cache`: a signature found there is not verified again.
fn cached(cache: &SigCache) -> impl for<'t> FnMut(SignatureCheck<'t>) -> Result<(), TxError> + '_ {
    move |check| {
        if cache.contains(&check.cache_key(cache)) {
            Ok(())
        } else {
            check.verify()
        }
    }
}

/// Blocks whose parent has not arrived, bounded in bytes: the oldest is dropped first.
#[derive(Debug)]
struct OrphanPool {
    blocks: HashMap<BlockHash, (Block, usize)>,
    /// The orphans waiting for each parent.
    children: HashMap<BlockHash, Vec<BlockHash>>,
    order: VecDeque<BlockHash>,
    bytes: usize,
    max_bytes: usize,
}

impl OrphanPool {
    fn new(max_bytes: usize) -> OrphanPool {
        OrphanPool {
            blocks: HashMap::new(),
            children: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    fn contains(&self, hash: &BlockHash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Keeps `block` (unless it alone is above the cap), dropping the oldest orphans until the
    /// pool is within its cap.
    fn insert(&mut self, hash: BlockHash, block: Block) {
        let size = block.size();
        if size > self.max_bytes || self.blocks.contains_key(&hash) {
            return;
        }
        self.children
            .entry(block.header.prev_hash)
            .or_default()
            .push(hash);
        self.blocks.insert(hash, (block, size));
        self.order.push_back(hash);
        self.bytes += size;
        while self.bytes > self.max_bytes {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.remove(&old);
        }
    }

    fn remove(&mut self, hash: &BlockHash) -> Option<Block> {
        let (block, size) = self.blocks.remove(hash)?;
        self.bytes -= size;
        let parent = block.header.prev_hash;
        if let Some(siblings) = self.children.get_mut(&parent) {
            siblings.retain(|h| h != hash);
            if siblings.is_empty() {
                self.children.remove(&parent);
            }
        }
        Some(block)
    }

    fn take_children(&mut self, parent: &BlockHash) -> Vec<Block> {
        let children = self.children.remove(parent).unwrap_or_default();
        self.order.retain(|h| !children.contains(h));
        children
            .iter()
            .filter_map(|h| {
                let (block, size) = self.blocks.remove(h)?;
                self.bytes -= size;
                Some(block)
            })
            .collect()
    }
}

/// How many refused block hashes are remembered at most.
pub const MAX_REFUSED: usize = 50_000;

/// The hashes of blocks known to be invalid, so that they are refused without a second look.
/// Bounded: the least recently refused is forgotten first (a forgotten block is simply checked
/// again). Those with valid proof of work are also kept in the store, for good.
#[derive(Debug)]
struct Refused(lru::LruCache<BlockHash, ()>);

impl Refused {
    fn new(capacity: usize) -> Refused {
        let capacity = std::num::NonZeroUsize::new(capacity.max(1)).expect("at least one");
        Refused(lru::LruCache::new(capacity))
    }

    /// Whether `hash` was refused, without counting as a use.
    fn contains(&self, hash: &BlockHash) -> bool {
        self.0.contains(hash)
    }

    /// Whether `hash` was refused, counting as a use (it is then forgotten last).
    fn refuses(&mut self, hash: &BlockHash) -> bool {
        self.0.get(hash).is_some()
    }

    fn insert(&mut self, hash: BlockHash) {
        self.0.put(hash, ());
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// One node's view of the chain, kept in memory and written through to a [`ChainStore`].
///
/// What readers need lives in its [`ChainState`], which the chain dereferences to: a reader
/// that holds the chain reads it directly, and a writer that owns it hands readers
/// [`Chain::snapshot`]s instead, so that they never wait for a change to finish.
#[derive(Debug)]
pub struct Chain<S> {
    state: ChainState,
    store: S,
    invalid: Refused,
    orphans: OrphanPool,
    /// The node's clock at the latest change, Unix seconds: when a mempool trimmed during a
    /// reorganisation raised its minimum fee rate.
    clock: u64,
    /// Order in which blocks entered the tree: among leaves of equal work, the first seen wins.
    arrival: HashMap<BlockHash, u64>,
}

/// The chain as readers see it: the block tree's index, the active chain, its unspent outputs
/// (with their index by address), the mempool and the signature cache.
///
/// Every collection in it is persistent, so a clone costs O(1) and is an immutable snapshot:
/// the writer publishes one after each change, and a reader answers from the one it took,
/// however long it takes and whatever the writer does meanwhile.
#[derive(Debug, Clone)]
pub struct ChainState {
    params: Params,
    policy: Policy,
    index: imbl::HashMap<BlockHash, BlockEntry>,
    active: imbl::Vector<BlockHash>,
    /// Blocks of the tree with no child: the candidates for the best chain, and the tips of
    /// [`ChainState::tips`].
    leaves: imbl::HashSet<BlockHash>,
    /// Blocks that a reorganisation took off the active chain since this node started: their
    /// transactions were checked when they connected (a branch ending in one is a "valid fork").
    once_connected: imbl::HashSet<BlockHash>,
    utxos: UnspentOutputs,
    mempool: Mempool,
    /// Signatures verified once (when their transaction entered the mempool, or before their
    /// block reached the writer), so that they are not verified again. Shared, not copied.
    sigcache: Arc<SigCache>,
    /// Blocks waiting for their parent, and their bytes, when the snapshot was taken.
    orphan_count: usize,
    orphan_bytes: usize,
}

impl<S> Deref for Chain<S> {
    type Target = ChainState;

    fn deref(&self) -> &ChainState {
        &self.state
    }
}

impl<S: ChainStore> Chain<S> {
    /// Loads the chain from `store`, or starts it at the genesis block, with the default
    /// [`Policy`].
    pub async fn open(params: Params, store: S) -> Result<Chain<S>, ChainError> {
        Chain::open_with(params, Policy::default(), store).await
    }

    /// Loads the chain from `store`, or starts it at the genesis block, with `policy`.
    pub async fn open_with(
        params: Params,
        policy: Policy,
        store: S,
    ) -> Result<Chain<S>, ChainError> {
        let snapshot = store.load().await?;
        let mut invalid = Refused::new(MAX_REFUSED);
        for hash in snapshot.invalid {
            invalid.insert(hash);
        }
        let mut chain = Chain {
            state: ChainState {
                params,
                policy,
                index: imbl::HashMap::new(),
                active: snapshot.active.into_iter().collect(),
                leaves: imbl::HashSet::new(),
                once_connected: imbl::HashSet::new(),
                utxos: snapshot.utxos.into_iter().collect(),
                mempool: Mempool::default(),
                sigcache: Arc::new(SigCache::default()),
                orphan_count: 0,
                orphan_bytes: 0,
            },
            store,
            invalid,
            orphans: OrphanPool::new(policy.orphan_max_bytes),
            clock: 0,
            arrival: HashMap::new(),
        };
        let mut entries = snapshot.entries;
        entries.sort_by_key(|e| e.height);
        for entry in entries {
            chain.arrival.insert(entry.hash, chain.arrival.len() as u64);
            chain.state.index.insert(entry.hash, entry);
        }
        if chain.state.active.is_empty() {
            let genesis = chain.state.params.genesis_block();
            let entry = BlockEntry {
                hash: genesis.block_hash(),
                header: genesis.header,
                height: 0,
                chain_work: work_for_target(chain.state.params.genesis_target()),
            };
            // The genesis block's outputs are not spendable: it connects with no coins.
            let update = ChainUpdate {
                connected: vec![(entry.hash, 0, Default::default())],
                ..Default::default()
            };
            chain.store.commit(&[(entry, genesis)], &update).await?;
            chain.arrival.insert(entry.hash, 0);
            chain.state.index.insert(entry.hash, entry);
            chain.state.active.push_back(entry.hash);
        } else if chain.state.active[0] != chain.state.params.genesis_hash() {
            return Err(StoreError::Corrupt(format!(
                "the store holds a chain of another network (genesis {})",
                chain.state.active[0]
            ))
            .into());
        }
        chain.recompute_leaves();
        // Before the chain moves: a move only indexes the blocks it connects.
        chain.index_history().await?;
        // A crash between storing a block and committing the chain update leaves a stored
        // block with more work off the active chain: move onto it now.
        if chain.best_leaf() != chain.tip().hash {
            chain.activate_best_chain(None).await?;
        }
        Ok(chain)
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn is_invalid(&self, hash: &BlockHash) -> bool {
        self.invalid.contains(hash)
    }

    /// Replaces the signature cache (another capacity, or cold statistics). What the old one
    /// held is forgotten: signatures are then verified again, nothing else changes.
    pub fn set_sigcache(&mut self, cache: SigCache) {
        self.state.sigcache = Arc::new(cache);
    }

    /// Blocks waiting for their parent now.
    pub fn orphan_count(&self) -> usize {
        self.orphans.blocks.len()
    }

    /// The bytes of the blocks waiting for their parent now.
    pub fn orphan_bytes(&self) -> usize {
        self.orphans.bytes
    }

    /// How many hashes of invalid blocks are remembered now (at most [`MAX_REFUSED`]).
    pub fn refused_count(&self) -> usize {
        self.invalid.len()
    }

    /// What readers see now: an immutable snapshot, taken in O(1).
    pub fn snapshot(&self) -> ChainState {
        let mut state = self.state.clone();
        state.orphan_count = self.orphans.blocks.len();
        state.orphan_bytes = self.orphans.bytes;
        state
    }

    /// A stored block by hash.
    pub async fn block(&self, hash: &BlockHash) -> Result<Option<Block>, StoreError> {
        self.store.block(hash).await
    }

    /// Where a transaction is: in the mempool, or in a block of the active chain.
    pub async fn locate_transaction(&self, txid: &Txid) -> Result<Option<TxLocation>, StoreError> {
        self.state.locate_transaction(&self.store, txid).await
    }

    /// Validates and stores a block, reorganising onto it when its chain has the most work.
    /// `now` is the node's clock in Unix seconds. On any error, tip, unspent outputs and
    /// mempool are as they were.
    pub async fn submit_block(
        &mut self,
        block: Block,
        now: u32,
    ) -> Result<BlockAccepted, ChainError> {
        let hash = block.block_hash();
        if self.state.index.contains_key(&hash) {
            return Ok(BlockAccepted::Duplicate);
        }
        self.clock = self.clock.max(u64::from(now));
        if self.invalid.refuses(&hash) {
            return Err(BlockError::KnownInvalid(hash).into());
        }
        let parent = block.header.prev_hash;
        if self.orphans.contains(&hash) {
            return Ok(BlockAccepted::Orphan { parent });
        }
        if let Err(e) = check_block(&block, &self.state.params) {
            if e.condemns_hash() {
                let proven = self.proves_work(&block);
                self.condemn(hash, proven).await;
            }
            return Err(e.into());
        }
        if self.invalid.refuses(&parent) {
            self.invalid.insert(hash);
            return Err(BlockError::InvalidParent(parent).into());
        }
        if !self.state.index.contains_key(&parent) {
            self.orphans.insert(hash, block);
            return Ok(BlockAccepted::Orphan { parent });
        }
        let old_tip = self.tip().hash;
        let mut undone = self.accept_with_parent(block, now).await?;
        undone.add(self.adopt_orphans(vec![hash], now).await?);
        Ok(self.outcome(old_tip, undone))
    }

    /// Submits blocks in order, each with the outcome [`Chain::submit_block`] would give it,
    /// but a run of blocks that extends the tip — a peer's sync batch — is checked in memory
    /// and written to the store in one transaction. Stops at the first error and returns it
    /// with the outcomes before it: those blocks stay accepted.
    pub async fn submit_blocks(
        &mut self,
        blocks: Vec<Block>,
        now: u32,
    ) -> (Vec<BlockAccepted>, Option<ChainError>) {
        self.clock = self.clock.max(u64::from(now));
        let mut outcomes = Vec::with_capacity(blocks.len());
        let mut queue = VecDeque::from(blocks);
        while !queue.is_empty() {
            let run = self.tip_extension_len(&queue);
            let error = if run == 0 {
                let block = queue.pop_front().expect("the queue is not empty");
                match self.submit_block(block, now).await {
                    Ok(outcome) => {
                        outcomes.push(outcome);
                        None
                    }
                    Err(e) => Some(e),
                }
            } else {
                let run = queue.drain(..run).collect();
                let (accepted, error) = self.extend_tip(run, now).await;
                outcomes.extend(accepted);
                error
            };
            if error.is_some() {
                return (outcomes, error);
            }
        }
        (outcomes, None)
    }

    /// How many blocks at the front of `blocks` are new and each the child of the one before,
    /// the first a child of the tip.
    fn tip_extension_len(&self, blocks: &VecDeque<Block>) -> usize {
        let mut parent = self.tip().hash;
        blocks
            .iter()
            .take_while(|block| {
                let hash = block.block_hash();
                let fits = block.header.prev_hash == parent
                    && !self.state.index.contains_key(&hash)
                    && !self.invalid.contains(&hash)
                    && !self.orphans.contains(&hash);
                parent = hash;
                fits
            })
            .count()
    }

    /// Connects `run` (see [`Chain::tip_extension_len`]) on top of the tip in memory, then
    /// stores its blocks and the chain update in one commit. A block that fails ends the run:
    /// the blocks before it are kept, as if submitted one by one.
    async fn extend_tip(
        &mut self,
        run: Vec<Block>,
        now: u32,
    ) -> (Vec<BlockAccepted>, Option<ChainError>) {
        let fork_height = self.height();
        if run.len() > 1 {
            validation::verify_signatures_into(&self.state.sigcache, &run, &self.state.params);
        }
        let mut overlay = UtxoOverlay::new(&self.state.utxos);
        let mut stored: Vec<(BlockEntry, Block)> = Vec::with_capacity(run.len());
        let mut connected = Vec::with_capacity(run.len());
        let mut error = None;
        // A block that failed with its proof of work real: remembered in the store too.
        let mut proven_bad = None;
        for block in run {
            let hash = block.block_hash();
            let checked = check_block(&block, &self.state.params)
                .and_then(|()| self.check_child(hash, &block, now));
            let entry = match checked {
                Ok(entry) => entry,
                Err(e) => {
                    if e.condemns_hash() {
                        self.invalid.insert(hash);
                        proven_bad = self.proves_work(&block).then_some(hash);
                    }
                    error = Some(e);
                    break;
                }
            };
            match self.state.connect(&entry, &block, &mut overlay) {
                Ok(undo) => connected.push(undo),
                Err(e) => {
                    self.invalid.insert(hash);
                    proven_bad = Some(hash);
                    error = Some(e);
                    break;
                }
            }
            // In the tree already, for the next block's header context.
            self.state.index.insert(hash, entry);
            stored.push((entry, block));
        }
        let error = error.map(ChainError::from);
        if stored.is_empty() {
            drop(overlay);
            if let Some(hash) = proven_bad {
                self.condemn(hash, true).await;
            }
            return (Vec::new(), error);
        }
        if error.is_some() {
            // The overlay holds part of the failed block: connect the blocks kept again (their
            // signatures are cached now).
            overlay = UtxoOverlay::new(&self.state.utxos);
            connected.clear();
            for (entry, block) in &stored {
                let undo = self
                    .state
                    .connect(entry, block, &mut overlay)
                    .expect("the block connected a moment ago on the same outputs");
                connected.push(undo);
            }
        }
        let (spent, created) = overlay.into_changes();
        if let Some(hash) = proven_bad {
            self.condemn(hash, true).await;
        }
        let update = ChainUpdate {
            fork_height,
            disconnected: Vec::new(),
            connected,
            spent,
            created,
            history: Vec::new(),
            unindexed: Vec::new(),
        };
        // Nothing was disconnected, so nothing returns to the mempool.
        if let Err(e) = self.commit_move(&stored, update, &[], &[]).await {
            for (entry, _) in &stored {
                self.state.index.remove(&entry.hash);
            }
            return (Vec::new(), Some(e.into()));
        }
        let mut accepted: Vec<BlockAccepted> = stored
            .iter()
            .map(|(entry, _)| BlockAccepted::NewTip {
                tip: entry.hash,
                height: entry.height,
                disconnected: 0,
                returned: Vec::new(),
            })
            .collect();
        let hashes = stored.iter().map(|(entry, _)| entry.hash).collect();
        // Orphans waiting for one of the run follow it now, as they would one by one.
        let old_tip = self.tip().hash;
        match self.adopt_orphans(hashes, now).await {
            Ok(undone) => {
                if self.tip().hash != old_tip
                    && let Some(last) = accepted.last_mut()
                {
                    *last = self.outcome(old_tip, undone);
                }
                (accepted, error)
            }
            Err(e) => (accepted, Some(e)),
        }
    }

    /// A block's outcome from the tip before it and what was undone since.
    fn outcome(&self, old_tip: BlockHash, undone: Undone) -> BlockAccepted {
        let tip = self.tip();
        if tip.hash == old_tip {
            BlockAccepted::SideChain
        } else {
            BlockAccepted::NewTip {
                tip: tip.hash,
                height: tip.height,
                disconnected: undone.blocks,
                returned: undone.returned,
            }
        }
    }

    /// Accepts the orphans waiting for any block of `queue`, and theirs in turn. Returns what
    /// was undone on the way.
    async fn adopt_orphans(
        &mut self,
        mut queue: Vec<BlockHash>,
        now: u32,
    ) -> Result<Undone, ChainError> {
        let mut undone = Undone::default();
        while let Some(parent) = queue.pop() {
            for orphan in self.orphans.take_children(&parent) {
                let child = orphan.block_hash();
                match Box::pin(self.accept_with_parent(orphan, now)).await {
                    Ok(d) => {
                        undone.add(d);
                        queue.push(child);
                    }
                    Err(ChainError::Store(e)) => return Err(e.into()),
                    Err(ChainError::Invalid(e)) => {
                        tracing::info!(block = %child, error = %e, "orphan block rejected");
                    }
                }
            }
        }
        Ok(undone)
    }

    /// Checks a block whose parent is in the tree against that parent, stores it, and moves
    /// to the best chain. Returns what was undone.
    async fn accept_with_parent(&mut self, block: Block, now: u32) -> Result<Undone, ChainError> {
        let hash = block.block_hash();
        let parent = block.header.prev_hash;
        if self.invalid.refuses(&parent) {
            self.invalid.insert(hash);
            return Err(BlockError::InvalidParent(parent).into());
        }
        let entry = match self.check_child(hash, &block, now) {
            Ok(entry) => entry,
            Err(e) => {
                if e.condemns_hash() {
                    let proven = self.proves_work(&block);
                    self.condemn(hash, proven).await;
                }
                return Err(e.into());
            }
        };
        self.store.put_block(&entry, &block).await?;
        self.add_to_tree(entry);
        self.activate_best_chain(Some((hash, block))).await
    }

    /// Whether `block`'s proof of work is real: valid, at the difficulty the chain it extends
    /// requires. Only such a block is remembered in the store as invalid: an attacker pays that
    /// work for every row.
    fn proves_work(&self, block: &Block) -> bool {
        validation::check_proof_of_work(block, &self.state.params).is_ok()
            && self
                .header_context(&block.header.prev_hash)
                .is_some_and(|context| context.expected_bits == block.header.bits)
    }

    /// Refuses `hash` from now on; in the store too, across restarts, when the block proved
    /// its work. A store that fails here costs only a second look after a restart.
    async fn condemn(&mut self, hash: BlockHash, proven_work: bool) {
        self.invalid.insert(hash);
        if proven_work && let Err(error) = self.store.mark_invalid(&hash).await {
            tracing::warn!(block = %hash, %error, "could not store that the block is invalid");
        }
    }

    /// The header rules of `block` (hash `hash`) against its parent, which is in the tree, at
    /// the node's clock `now`; its tree entry when they hold. Every block enters the tree here:
    /// one by one, in a sync batch, or as a side branch.
    fn check_child(
        &self,
        hash: BlockHash,
        block: &Block,
        now: u32,
    ) -> Result<BlockEntry, BlockError> {
        let parent = &self.state.index[&block.header.prev_hash];
        let context = self
            .header_context(&parent.hash)
            .expect("the parent is in the tree");
        contextual_check_block(block, &context, &self.state.params, now)?;
        let target = block
            .header
            .bits
            .target()
            .map_err(BlockError::BitsOutOfRange)?;
        Ok(BlockEntry {
            hash,
            header: block.header,
            height: context.height,
            chain_work: parent.chain_work.saturating_add(work_for_target(target)),
        })
    }

    /// Stores `new_blocks` (entries and blocks not stored yet) and `update` in one commit, then
    /// brings the state in memory to it: the one place where the active chain moves, whether
    /// by one block, a sync batch or a reorganisation. `disconnected` are the blocks `update`
    /// takes off the active chain (whose transactions may return to the mempool); the blocks
    /// it connects are `new_blocks` followed by `stored_blocks`. Returns the disconnected
    /// blocks' transactions that went back to the mempool. The address history of the
    /// connected blocks is added to `update` here, so that it is written in the same commit.
    async fn commit_move(
        &mut self,
        new_blocks: &[(BlockEntry, Block)],
        mut update: ChainUpdate,
        disconnected: &[(BlockHash, Block)],
        stored_blocks: &[Block],
    ) -> Result<Vec<Txid>, StoreError> {
        let connected: Vec<&Block> = new_blocks
            .iter()
            .map(|(_, block)| block)
            .chain(stored_blocks)
            .collect();
        if self.store.keeps_history() {
            update.history = connected
                .iter()
                .zip(&update.connected)
                .flat_map(|(block, (_, height, undo))| address_history(block, *height, undo))
                .collect();
        }
        self.store.commit(new_blocks, &update).await?;
        for (entry, _) in new_blocks {
            self.add_to_tree(*entry);
        }
        Ok(self.applied(&update, disconnected, &connected))
    }

    /// Indexes the address history of the active chain's blocks above the index's highest (a
    /// chain stored before the index existed, or an indexing cut short), in batches of blocks,
    /// each batch committed on its own.
    async fn index_history(&mut self) -> Result<(), StoreError> {
        const BATCH: usize = 500;
        if !self.store.keeps_history() {
            return Ok(());
        }
        let tip = self.height();
        let from = self.store.history_height().await?.map_or(1, |h| h + 1);
        if from > tip {
            return Ok(());
        }
        tracing::info!(
            from,
            tip,
            "indexing the address history of the stored chain"
        );
        let hashes: Vec<BlockHash> = (from..=tip).filter_map(|h| self.hash_at(h)).collect();
        for chunk in hashes.chunks(BATCH) {
            let blocks = self.store.blocks(chunk).await?;
            let mut rows = Vec::new();
            for (hash, block) in chunk.iter().zip(blocks) {
                let block = block.ok_or_else(|| missing("block", hash))?;
                let undo = self
                    .store
                    .undo(hash)
                    .await?
                    .ok_or_else(|| missing("undo data", hash))?;
                rows.extend(address_history(
                    &block,
                    self.state.index[hash].height,
                    &undo,
                ));
            }
            let done = chunk
                .last()
                .map_or(tip, |hash| self.state.index[hash].height);
            self.store.index_history(&rows, done).await?;
            tracing::info!(height = done, tip, "address history indexed");
        }
        Ok(())
    }

    /// Enters a stored block in the tree: a new leaf in place of its parent.
    fn add_to_tree(&mut self, entry: BlockEntry) {
        self.arrival.insert(entry.hash, self.arrival.len() as u64);
        self.state.index.insert(entry.hash, entry);
        self.state.leaves.remove(&entry.header.prev_hash);
        self.state.leaves.insert(entry.hash);
    }

    fn recompute_leaves(&mut self) {
        let parents: HashSet<BlockHash> = self
            .index
            .values()
            .filter(|e| e.height > 0)
            .map(|e| e.header.prev_hash)
            .collect();
        self.state.leaves = self
            .index
            .keys()
            .filter(|h| !parents.contains(*h))
            .copied()
            .collect();
    }

    /// The block with the most work among the tree's leaves. The current tip wins ties, then
    /// the leaf seen first.
    fn best_leaf(&self) -> BlockHash {
        let tip = self.tip();
        let mut best = (tip.chain_work, 0u64, tip.hash);
        for leaf in &self.leaves {
            let entry = &self.state.index[leaf];
            let seen = self.arrival.get(leaf).copied().unwrap_or(u64::MAX);
            if entry.chain_work > best.0
                || (entry.chain_work == best.0 && seen < best.1 && best.2 != tip.hash)
            {
                best = (entry.chain_work, seen, entry.hash);
            }
        }
        best.2
    }

    /// Moves the active chain to the leaf with the most work, trying each candidate until one
    /// connects completely. `fresh` is the block just stored (saves reading it back).
    async fn activate_best_chain(
        &mut self,
        mut fresh: Option<(BlockHash, Block)>,
    ) -> Result<Undone, ChainError> {
        let fresh_hash = fresh.as_ref().map(|(h, _)| *h);
        let mut first_error = None;
        loop {
            let best = self.best_leaf();
            if best == self.tip().hash {
                return match first_error {
                    Some(e) => Err(ChainError::Invalid(e)),
                    None => Ok(Undone::default()),
                };
            }
            match self.reorganise_to(best, &mut fresh).await? {
                Ok(undone) => return Ok(undone),
                Err((bad, error)) => {
                    tracing::info!(block = %bad, %error, "block failed to connect");
                    self.invalidate(bad).await?;
                    if fresh_hash.is_some_and(|f| f == bad || self.descends_from(&f, &bad)) {
                        first_error.get_or_insert(error);
                    }
                }
            }
        }
    }

    fn descends_from(&self, hash: &BlockHash, ancestor: &BlockHash) -> bool {
        let Some(anc) = self.state.index.get(ancestor) else {
            return self.invalid.contains(ancestor) && self.invalid.contains(hash);
        };
        let mut next = self.state.index.get(hash);
        while let Some(entry) = next {
            if entry.height <= anc.height {
                return entry.hash == *ancestor;
            }
            next = self.state.index.get(&entry.header.prev_hash);
        }
        false
    }

    /// Marks `bad` and everything built on it invalid and drops them from the tree.
    async fn invalidate(&mut self, bad: BlockHash) -> Result<(), StoreError> {
        let doomed: Vec<BlockHash> = self
            .index
            .keys()
            .filter(|h| self.descends_from(h, &bad))
            .copied()
            .collect();
        for hash in doomed {
            self.store.mark_invalid(&hash).await?;
            self.state.index.remove(&hash);
            self.state.once_connected.remove(&hash);
            self.arrival.remove(&hash);
            self.invalid.insert(hash);
        }
        self.recompute_leaves();
        Ok(())
    }

    /// Tries to make `target` the tip: disconnects back to the fork, connects the branch, and
    /// commits only if every block connects. The inner error names the block that failed.
    async fn reorganise_to(
        &mut self,
        target: BlockHash,
        fresh: &mut Option<(BlockHash, Block)>,
    ) -> Result<Result<Undone, (BlockHash, BlockError)>, StoreError> {
        // The branch from the fork (exclusive) up to the target, lowest first.
        let mut branch = Vec::new();
        let mut cursor = self.state.index[&target];
        while !self.is_active(&cursor.hash) {
            branch.push(cursor);
            cursor = self.state.index[&cursor.header.prev_hash];
        }
        branch.reverse();
        let fork_height = cursor.height;

        let mut overlay = UtxoOverlay::new(&self.state.utxos);
        let mut disconnected_blocks = Vec::new();
        let mut unindexed = Vec::new();
        for height in (fork_height + 1..=self.height()).rev() {
            let hash = self.state.active[height as usize];
            let block = self
                .store
                .block(&hash)
                .await?
                .ok_or_else(|| missing("block", &hash))?;
            let undo = self
                .store
                .undo(&hash)
                .await?
                .ok_or_else(|| missing("undo data", &hash))?;
            disconnect_block(&block, &undo, &mut overlay);
            if self.store.keeps_history() {
                unindexed.extend(address_history(&block, height, &undo));
            }
            disconnected_blocks.push((hash, block));
        }
        let mut connected = Vec::new();
        let mut connected_blocks = Vec::new();
        for entry in &branch {
            let block = match fresh.take() {
                Some((hash, block)) if hash == entry.hash => block,
                other => {
                    *fresh = other;
                    self.store
                        .block(&entry.hash)
                        .await?
                        .ok_or_else(|| missing("block", &entry.hash))?
                }
            };
            match self.state.connect(entry, &block, &mut overlay) {
                Ok(undo) => connected.push(undo),
                Err(e) => return Ok(Err((entry.hash, e))),
            }
            connected_blocks.push(block);
        }
        let (spent, created) = overlay.into_changes();
        let update = ChainUpdate {
            fork_height,
            disconnected: disconnected_blocks.iter().map(|(h, _)| *h).collect(),
            connected,
            spent,
            created,
            history: Vec::new(),
            unindexed,
        };
        let returned = self
            .commit_move(&[], update, &disconnected_blocks, &connected_blocks)
            .await?;
        Ok(Ok(Undone {
            blocks: disconnected_blocks.len(),
            returned,
        }))
    }

    /// Brings the state in memory to a committed `update` and its blocks. Returns the
    /// transactions of the disconnected blocks that went back to the mempool.
    fn applied(
        &mut self,
        update: &ChainUpdate,
        disconnected_blocks: &[(BlockHash, Block)],
        connected_blocks: &[&Block],
    ) -> Vec<Txid> {
        for outpoint in &update.spent {
            self.state.utxos.remove(outpoint);
        }
        self.state.utxos.extend(update.created.iter().copied());
        self.state
            .once_connected
            .extend(update.disconnected.iter().copied());
        self.state.active.truncate(update.fork_height as usize + 1);
        self.state
            .active
            .extend(update.connected.iter().map(|(h, _, _)| *h));
        // Confirmed signatures are not checked again; a transaction that a reorganisation
        // returns to the mempool is checked, and cached, anew.
        for tx in connected_blocks.iter().flat_map(|b| &b.transactions) {
            self.state.sigcache.remove_transaction(tx);
        }
        self.update_mempool(disconnected_blocks, connected_blocks)
    }

    /// After the active chain moved: drop what is now confirmed or conflicting; after a
    /// reorganisation, re-admit every still-valid transaction of the disconnected blocks and of
    /// the old pool, oldest first. Returns the disconnected blocks' transactions re-admitted.
    fn update_mempool(
        &mut self,
        disconnected: &[(BlockHash, Block)],
        connected: &[&Block],
    ) -> Vec<Txid> {
        if disconnected.is_empty() {
            for tx in connected.iter().flat_map(|b| &b.transactions) {
                self.state.mempool.remove_confirmed(tx);
            }
            return Vec::new();
        }
        let old = self.state.mempool.drain();
        let returning = disconnected
            .iter()
            .rev()
            .flat_map(|(_, b)| b.transactions.iter().skip(1))
            .cloned();
        // They were admitted (or mined) under the fee rates of their time: they come back
        // whatever the rates now, and the cheapest go if the pool is over its cap.
        let returned: Vec<Txid> = returning
            .filter_map(|tx| self.admit(tx, false).ok())
            .map(|admitted| admitted.txid)
            .collect();
        for entry in old {
            let _ = self.admit(entry.tx, false);
        }
        let over = self
            .state
            .mempool
            .bytes()
            .saturating_sub(self.state.policy.mempool_max_bytes);
        if over > 0 {
            let evicted = self.evict(over);
            let returned = returned.into_iter().filter(|t| !evicted.contains(t));
            return returned.collect();
        }
        returned
    }

    /// Validates a transaction against consensus and this node's [`Policy`] at the node's clock
    /// `now` (Unix seconds), and adds it to the mempool, caching its signatures for its block.
    /// A full mempool makes room by evicting transactions of lower fee rates, which are named
    /// in the answer.
    pub fn submit_transaction(&mut self, tx: Transaction, now: u64) -> Result<Admitted, TxRefused> {
        self.clock = self.clock.max(now);
        self.admit(tx, true)
    }

    /// Admits `tx`; with `fees`, only when it pays the minimum fee rate and, when the pool is
    /// full, more than what it would evict.
    fn admit(&mut self, tx: Transaction, fees: bool) -> Result<Admitted, TxRefused> {
        // Consensus first, so a broken transaction is named by the rule it breaks.
        let fee = self.check_transaction(&tx)?;
        let policy = self.state.policy;
        let size = tx.size();
        if size > policy.mempool_max_bytes {
            return Err(PolicyError::TooLargeForMempool {
                size,
                max: policy.mempool_max_bytes,
            }
            .into());
        }
        if let Some((index, output)) = tx
            .outputs
            .iter()
            .enumerate()
            .find(|(_, output)| output.amount < policy.dust_limit)
        {
            return Err(PolicyError::Dust {
                index,
                amount: output.amount,
                limit: policy.dust_limit,
            }
            .into());
        }
        let mut evicted = Vec::new();
        if fees {
            let min_rate = self.state.min_fee_rate(self.clock);
            if !min_rate.is_met_by(fee, size) {
                return Err(PolicyError::FeeTooLow {
                    fee,
                    size,
                    min_rate,
                    min_fee: min_rate.fee_for(size),
                }
                .into());
            }
            let over = (self.state.mempool.bytes() + size).saturating_sub(policy.mempool_max_bytes);
            if over > 0 {
                let victims = self.state.mempool.cheapest_covering(over);
                if victims
                    .iter()
                    .any(|v| cmp_fee_rate((v.fee, v.size), (fee, size)).is_ge())
                {
                    return Err(PolicyError::MempoolFull {
                        rate: FeeRate::of(fee, size),
                    }
                    .into());
                }
                evicted = self.evict(over);
            }
        }
        self.state.sigcache.insert_transaction(&tx);
        let txid = self.state.mempool.insert(tx, fee);
        Ok(Admitted { txid, fee, evicted })
    }

    /// Evicts the cheapest transactions until `bytes` are freed, and raises the mempool's
    /// minimum fee rate above the highest rate evicted (by the minimum relay fee rate, as
    /// Bitcoin Core does). Returns the evicted txids.
    fn evict(&mut self, bytes: usize) -> Vec<Txid> {
        let victims: Vec<(Txid, FeeRate)> = self
            .state
            .mempool
            .cheapest_covering(bytes)
            .iter()
            .map(|v| (v.txid, v.fee_rate()))
            .collect();
        let Some(highest) = victims.iter().map(|(_, rate)| *rate).max() else {
            return Vec::new();
        };
        for (txid, _) in &victims {
            if let Some(entry) = self.state.mempool.remove(txid) {
                self.state.sigcache.remove_transaction(&entry.tx);
            }
        }
        let policy = self.state.policy;
        let current = self.state.min_fee_rate(self.clock);
        self.state.mempool.raise_min_fee_rate(
            highest.saturating_add(policy.min_relay_fee_rate),
            self.clock,
            current,
        );
        tracing::info!(
            evicted = victims.len(),
            min_fee_rate = %self.state.min_fee_rate(self.clock),
            "mempool full: evicted the lowest fee rates"
        );
        victims.into_iter().map(|(txid, _)| txid).collect()
    }
}

/// A transaction the mempool took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub txid: Txid,
    pub fee: Amount,
    /// Transactions evicted to make room for it, lowest fee rate first.
    pub evicted: Vec<Txid>,
}

/// Why a transaction did not enter the mempool: it is invalid, or valid but below this node's
/// policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxRefused {
    #[error(transparent)]
    Invalid(#[from] TxError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl TxRefused {
    /// The broken rule's or limit's short stable name.
    pub fn code(&self) -> &'static str {
        match self {
            TxRefused::Invalid(e) => e.code(),
            TxRefused::Policy(e) => e.code(),
        }
    }
}

impl ChainState {
    /// Connects `block`, whose tree entry is `entry`, onto `overlay`, with the signature cache:
    /// what every move of the active chain does for each block it connects.
    fn connect(
        &self,
        entry: &BlockEntry,
        block: &Block,
        overlay: &mut UtxoOverlay<'_>,
    ) -> Result<(BlockHash, u32, crate::utxo::BlockUndo), BlockError> {
        let signatures = SignatureChecks::new(&self.sigcache);
        connect_block(block, entry.height, overlay, &self.params, signatures)
            .map(|undo| (entry.hash, entry.height, undo))
    }

    /// Where a transaction is, in this state: in the mempool, or in a block of the active chain
    /// (looked up in `store`, which holds every block this state knows).
    pub async fn locate_transaction(
        &self,
        store: &impl ChainStore,
        txid: &Txid,
    ) -> Result<Option<TxLocation>, StoreError> {
        if self.mempool.contains(txid) {
            return Ok(Some(TxLocation::Mempool));
        }
        for (block, position) in store.find_transaction(txid).await? {
            if self.is_active(&block) {
                let height = self.index[&block].height;
                return Ok(Some(TxLocation::Confirmed {
                    block,
                    height,
                    position,
                }));
            }
        }
        Ok(None)
    }

    /// The leaves of the block tree at `min_height` and above, as Bitcoin Core's
    /// `getchaintips`: highest first, the active tip first among equals. Each side tip's
    /// branch is walked back to the active chain (O(branch length) per tip).
    pub fn tips(&self, min_height: u32) -> Vec<ChainTip> {
        let tip = self.tip();
        let mut tips = Vec::new();
        if tip.height >= min_height {
            tips.push(ChainTip {
                hash: tip.hash,
                height: tip.height,
                branch_len: 0,
                status: TipStatus::Active,
            });
        }
        for leaf in &self.leaves {
            let Some(entry) = self.index.get(leaf) else {
                continue;
            };
            if entry.height < min_height || self.is_active(leaf) {
                continue;
            }
            let mut fork = entry;
            while !self.is_active(&fork.hash) {
                match self.index.get(&fork.header.prev_hash) {
                    Some(parent) => fork = parent,
                    None => break,
                }
            }
            let status = if self.once_connected.contains(leaf) {
                TipStatus::ValidFork
            } else {
                TipStatus::ValidHeaders
            };
            tips.push(ChainTip {
                hash: entry.hash,
                height: entry.height,
                branch_len: entry.height - fork.height,
                status,
            });
        }
        tips.sort_by(|a, b| {
            b.height
                .cmp(&a.height)
                .then(a.status.cmp(&b.status))
                .then(a.hash.0.cmp(&b.hash.0))
        });
        tips
    }

    /// Where each output of transaction `txid` went (Esplora's `/tx/:txid/outspends`), exactly:
    /// `None` when the transaction is neither in the mempool nor in the active chain.
    ///
    /// An output in the unspent outputs is unspent unless a mempool transaction spends it. An
    /// output of the active chain that is not there was spent in the active chain: its spender
    /// is found through the address history index, among the rows where the output's address
    /// spends, from the funding transaction on (one scan per address of the transaction).
    pub async fn outspends(
        &self,
        store: &impl ChainStore,
        txid: &Txid,
    ) -> Result<Option<Vec<Outspend>>, StoreError> {
        let Some(location) = self.locate_transaction(store, txid).await? else {
            return Ok(None);
        };
        let (tx, funded_at) = match location {
            TxLocation::Mempool => match self.mempool.get(txid) {
                Some(entry) => (entry.tx.clone(), None),
                None => return Ok(None),
            },
            TxLocation::Confirmed {
                block,
                height,
                position,
            } => {
                let tx = store
                    .block(&block)
                    .await?
                    .and_then(|b| b.transactions.into_iter().nth(position as usize))
                    .ok_or_else(|| missing("transaction", &block))?;
                (tx, Some((height, position)))
            }
        };
        let mut found = vec![Outspend::Unspent; tx.outputs.len()];
        // The outputs spent in the active chain, by address.
        let mut wanted: std::collections::BTreeMap<PubKeyHash, HashSet<u32>> = Default::default();
        for (vout, output) in tx.outputs.iter().enumerate() {
            let outpoint = OutPoint::new(*txid, vout as u32);
            if let Some(by) = self.mempool.spender(&outpoint) {
                let vin = self
                    .mempool
                    .get(&by)
                    .and_then(|entry| {
                        entry
                            .tx
                            .inputs
                            .iter()
                            .position(|input| input.prevout() == outpoint)
                    })
                    .unwrap_or_default();
                found[vout] = Outspend::Spent {
                    txid: by,
                    vin: vin as u32,
                    location: TxLocation::Mempool,
                };
                continue;
            }
            match funded_at {
                // The mempool's transactions spend confirmed outputs only; the genesis block's
                // outputs never enter the unspent outputs.
                None | Some((0, _)) => {}
                Some(_) if self.utxos.contains_key(&outpoint) => {}
                Some(_) => {
                    wanted
                        .entry(output.pubkey_hash)
                        .or_default()
                        .insert(vout as u32);
                }
            }
        }
        let Some(funded_at) = funded_at else {
            return Ok(Some(found));
        };
        for (pubkey_hash, mut vouts) in wanted {
            let mut after = funded_at;
            'pages: while !vouts.is_empty() {
                let rows = store
                    .spending_history(&pubkey_hash, after, SPENDER_PAGE)
                    .await?;
                let Some(last) = rows.last() else {
                    break;
                };
                after = (last.height, last.position);
                let page_full = rows.len() == SPENDER_PAGE;
                // Rows above this snapshot's tip (the store moved on since) are not its chain.
                let rows: Vec<_> = rows
                    .iter()
                    .filter(|row| row.height <= self.height())
                    .collect();
                let mut heights: Vec<u32> = rows.iter().map(|row| row.height).collect();
                heights.dedup();
                for chunk in heights.chunks(SPENDER_BLOCKS_PER_READ) {
                    let hashes: Vec<BlockHash> =
                        chunk.iter().filter_map(|h| self.hash_at(*h)).collect();
                    let blocks = store.blocks(&hashes).await?;
                    for (hash, block) in hashes.iter().zip(blocks) {
                        let block = block.ok_or_else(|| missing("block", hash))?;
                        let height = self.index[hash].height;
                        for row in rows.iter().filter(|row| row.height == height) {
                            let Some(spender) = block.transactions.get(row.position as usize)
                            else {
                                continue;
                            };
                            if spender.txid() != row.txid {
                                continue;
                            }
                            for (vin, input) in spender.inputs.iter().enumerate() {
                                let TxIn::Spend { prevout, .. } = input else {
                                    continue;
                                };
                                if prevout.txid == *txid && vouts.remove(&prevout.index) {
                                    found[prevout.index as usize] = Outspend::Spent {
                                        txid: row.txid,
                                        vin: vin as u32,
                                        location: TxLocation::Confirmed {
                                            block: *hash,
                                            height,
                                            position: row.position,
                                        },
                                    };
                                }
                            }
                        }
                        if vouts.is_empty() {
                            break 'pages;
                        }
                    }
                }
                if !page_full || after.0 > self.height() {
                    break;
                }
            }
            if let Some(vout) = vouts.iter().min() {
                return Err(StoreError::Corrupt(format!(
                    "output {txid}:{vout} is spent, but the address history index names no \
                     transaction of the active chain spending it"
                )));
            }
        }
        Ok(Some(found))
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn tip(&self) -> &BlockEntry {
        let hash = self
            .active
            .last()
            .expect("the active chain holds at least genesis");
        &self.index[hash]
    }

    pub fn height(&self) -> u32 {
        (self.active.len() - 1) as u32
    }

    /// The active chain's block hash at `height`.
    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.active.get(height as usize).copied()
    }

    pub fn entry(&self, hash: &BlockHash) -> Option<&BlockEntry> {
        self.index.get(hash)
    }

    /// Whether `hash` is a block of the active chain.
    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.index
            .get(hash)
            .is_some_and(|e| self.hash_at(e.height) == Some(*hash))
    }

    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// The relay policy this node runs with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The fee rate a transaction must pay to enter the mempool at `now` (Unix seconds): the
    /// minimum relay fee rate, or more while a full mempool's raised minimum lasts.
    pub fn min_fee_rate(&self, now: u64) -> FeeRate {
        let policy = &self.policy;
        let rolling = self.mempool.rolling_min_fee_rate(
            now,
            policy.min_fee_half_life,
            policy.mempool_max_bytes,
            policy.min_relay_fee_rate,
        );
        rolling.max(policy.min_relay_fee_rate)
    }

    pub fn sigcache(&self) -> &SigCache {
        &self.sigcache
    }

    /// The signature cache, shared: for the threads that verify signatures before the writer.
    pub fn shared_sigcache(&self) -> Arc<SigCache> {
        Arc::clone(&self.sigcache)
    }

    pub fn utxos(&self) -> &UnspentOutputs {
        &self.utxos
    }

    /// Blocks waiting for their parent (when this state was published).
    pub fn orphan_count(&self) -> usize {
        self.orphan_count
    }

    /// The bytes of the blocks waiting for their parent, when the snapshot was taken.
    pub fn orphan_bytes(&self) -> usize {
        self.orphan_bytes
    }

    /// The unspent outputs paying to `pubkey_hash`.
    pub fn utxos_for(&self, pubkey_hash: &PubKeyHash) -> Vec<(OutPoint, Coin)> {
        self.utxos.for_address(pubkey_hash)
    }

    /// What the mempool's transactions do to `pubkey_hash`, newest first, with their fees.
    /// (A scan of the pool: pooled transactions spend only confirmed outputs, found here.)
    pub fn mempool_effects(&self, pubkey_hash: &PubKeyHash) -> Vec<(&MempoolEntry, Effect)> {
        let mut found: Vec<(&MempoolEntry, Effect)> = self
            .mempool
            .iter()
            .filter_map(|entry| {
                let spent = entry.tx.inputs.iter().filter_map(|input| match input {
                    TxIn::Spend { prevout, .. } => self.utxos.get(prevout).map(|c| c.output),
                    TxIn::Coinbase { .. } => None,
                });
                let (mut effects, _) = effects(&entry.tx, spent);
                effects.remove(pubkey_hash).map(|effect| (entry, effect))
            })
            .collect();
        found.sort_by_key(|(entry, _)| std::cmp::Reverse(entry.sequence));
        found
    }

    /// A block locator for the active chain, as Bitcoin's: the tip, then hashes going back with
    /// steps that double after the first ten, always ending at genesis. A peer finds the fork
    /// point as the first of these it also has on its active chain ([`Chain::find_fork`]).
    pub fn locator(&self) -> Vec<BlockHash> {
        let mut hashes = Vec::new();
        let mut height = i64::from(self.height());
        let mut step = 1i64;
        while height > 0 {
            hashes.push(self.active[height as usize]);
            if hashes.len() >= 10 {
                step *= 2;
            }
            height -= step;
        }
        hashes.push(self.active[0]);
        hashes
    }

    /// The height of the first hash of `locator` on the active chain (0, genesis, when none is).
    pub fn find_fork(&self, locator: &[BlockHash]) -> u32 {
        locator
            .iter()
            .find(|h| self.is_active(h))
            .map(|h| self.index[h].height)
            .unwrap_or(0)
    }

    /// The ancestors of `hash` (itself first), at most `count` of them.
    fn ancestors(&self, hash: &BlockHash, count: usize) -> Vec<&BlockEntry> {
        let mut out = Vec::with_capacity(count);
        let mut next = self.index.get(hash);
        while let Some(entry) = next {
            if out.len() == count {
                break;
            }
            out.push(entry);
            next = if entry.height == 0 {
                None
            } else {
                self.index.get(&entry.header.prev_hash)
            };
        }
        out
    }

    /// What a block on top of `parent` is checked against.
    pub fn header_context(&self, parent: &BlockHash) -> Option<HeaderContext> {
        let entry = self.index.get(parent)?;
        let span = self
            .params
            .median_time_span
            .max(self.params.retarget_window as usize + 1);
        let ancestors = self.ancestors(parent, span);
        let mut times: Vec<u32> = ancestors
            .iter()
            .take(self.params.median_time_span)
            .map(|e| e.header.time)
            .collect();
        times.sort_unstable();
        let median_time_past = times[times.len() / 2];
        let window: Vec<_> = ancestors
            .iter()
            .take(self.params.retarget_window as usize + 1)
            .rev()
            .map(|e| (e.header.time, e.header.bits))
            .collect();
        Some(HeaderContext {
            height: entry.height + 1,
            expected_bits: self.params.next_bits(&window),
            median_time_past,
        })
    }

    /// Checks a transaction against the active chain and the mempool without adding it.
    /// Returns its fee.
    pub fn check_transaction(&self, tx: &Transaction) -> Result<Amount, TxError> {
        self.check_transaction_by(tx, &mut cached(&self.sigcache))
    }

    /// [`ChainState::check_transaction`] with the signature rule left to `signatures`.
    fn check_transaction_by(
        &self,
        tx: &Transaction,
        signatures: &mut SignatureRule<'_>,
    ) -> Result<Amount, TxError> {
        if tx.inputs.iter().any(|i| matches!(i, TxIn::Coinbase { .. })) && tx.is_coinbase() {
            return Err(TxError::LooseCoinbase);
        }
        check_transaction(tx, &self.params)?;
        let txid = tx.txid();
        if self.mempool.contains(&txid)
            || (0..tx.outputs.len())
                .any(|i| self.utxos.contains_key(&OutPoint::new(txid, i as u32)))
        {
            return Err(TxError::AlreadyKnown(txid));
        }
        for (index, input) in tx.inputs.iter().enumerate() {
            if let Some(by) = self.mempool.spender(&input.prevout()) {
                return Err(TxError::MempoolConflict {
                    index,
                    prevout: input.prevout(),
                    by,
                });
            }
        }
        self.check_inputs_at_tip(tx, signatures)
    }

    /// [`check_tx_inputs`] for the next block on the tip.
    fn check_inputs_at_tip(
        &self,
        tx: &Transaction,
        signatures: &mut SignatureRule<'_>,
    ) -> Result<Amount, TxError> {
        check_tx_inputs_with(tx, self.height() + 1, &self.utxos, &self.params, |check| {
            signatures(check)
        })
    }

    /// The book's verify.py: whether `tx` is valid against the active chain now, whether or not
    /// it is already the pending transaction in the mempool. Returns its fee.
    pub fn verify_transaction(&self, tx: &Transaction) -> Result<Amount, TxError> {
        self.verify_transaction_by(tx, &mut cached(&self.sigcache))
    }

    fn verify_transaction_by(
        &self,
        tx: &Transaction,
        signatures: &mut SignatureRule<'_>,
    ) -> Result<Amount, TxError> {
        match self.mempool.get(&tx.txid()) {
            Some(pending) if pending.tx == *tx => {
                check_transaction(tx, &self.params)?;
                self.check_inputs_at_tip(tx, signatures)
            }
            _ => self.check_transaction_by(tx, signatures),
        }
    }

    /// Each input's own verdict against the active chain and the mempool, as the next block
    /// would see it: the coin it spends, or the rule it breaks. Gives detail where
    /// [`ChainState::check_transaction`] gives the first failure.
    pub fn check_inputs(&self, tx: &Transaction) -> Vec<Result<Coin, TxError>> {
        self.check_inputs_by(tx, &mut cached(&self.sigcache))
    }

    fn check_inputs_by(
        &self,
        tx: &Transaction,
        signatures: &mut SignatureRule<'_>,
    ) -> Vec<Result<Coin, TxError>> {
        let txid = tx.txid();
        let spend_height = self.height() + 1;
        tx.inputs
            .iter()
            .enumerate()
            .map(|(index, input)| {
                if tx.is_coinbase() {
                    return Err(TxError::LooseCoinbase);
                }
                let prevout = input.prevout();
                if let Some(by) = self.mempool.spender(&prevout).filter(|by| *by != txid) {
                    return Err(TxError::MempoolConflict { index, prevout, by });
                }
                validation::check_input_with(
                    input,
                    index,
                    &txid,
                    &self.utxos,
                    spend_height,
                    &self.params,
                    &mut *signatures,
                )
            })
            .collect()
    }

    /// [`ChainState::verify_transaction`] and [`ChainState::check_inputs`] together, as the
    /// book's verify.py reports them, verifying each distinct signature at most once (those in
    /// the cache not at all), and caching those that hold.
    pub fn verify_in_detail(&self, tx: &Transaction) -> Verification {
        let mut memo = SignatureMemo::new(&self.sigcache);
        let mut signatures = |check: SignatureCheck<'_>| memo.check(check);
        let inputs = self.check_inputs_by(tx, &mut signatures);
        let verdict = self.verify_transaction_by(tx, &mut signatures);
        Verification { verdict, inputs }
    }

    /// Whether `coin` could be spent in the next block.
    pub fn is_spendable_next(&self, coin: &Coin) -> bool {
        coin.is_mature_at(self.height() + 1, self.params.coinbase_maturity)
    }

    /// A block to mine on the tip: the coinbase paying reward plus fees to `pay_to`, then the
    /// mempool by fee rate as far as the size limit allows. The nonce is left at zero.
    pub fn block_template(&self, pay_to: PubKeyHash, now: u32, extra_nonce: u64) -> Block {
        let tip = self.tip();
        let context = self
            .header_context(&tip.hash)
            .expect("the tip is in the tree");
        let coinbase_size = Transaction::coinbase(
            0,
            0,
            vec![TxOut {
                amount: Amount::ZERO,
                pubkey_hash: pay_to,
            }],
        )
        .size();
        let mut budget = self
            .params
            .max_block_size
            .saturating_sub(Header::SIZE + 9 + coinbase_size);
        let mut fees = Amount::ZERO;
        let mut transactions = vec![];
        for entry in self.mempool.by_fee_rate() {
            if entry.size > budget {
                continue;
            }
            let Some(total) = fees.checked_add(entry.fee) else {
                continue;
            };
            budget -= entry.size;
            fees = total;
            transactions.push(entry.tx.clone());
        }
        let reward = self
            .params
            .block_subsidy(context.height)
            .checked_add(fees)
            .expect("fees of valid transactions stay within the money supply");
        transactions.insert(
            0,
            Transaction::coinbase(
                context.height,
                extra_nonce,
                vec![TxOut {
                    amount: reward,
                    pubkey_hash: pay_to,
                }],
            ),
        );
        let mut block = Block {
            header: Header {
                version: Header::VERSION,
                prev_hash: tip.hash,
                merkle_root: Default::default(),
                time: now.max(context.median_time_past + 1),
                bits: context.expected_bits,
                nonce: 0,
            },
            transactions,
        };
        block.header.merkle_root = block.compute_merkle_root().0;
        block
    }

    /// The sum of all unspent outputs.
    pub fn utxo_total(&self) -> Amount {
        Amount::checked_sum(self.utxos.values().map(|c| c.output.amount))
            .expect("the unspent outputs stay within the money supply")
    }

    /// The total subsidy the active chain has issued (genesis excluded).
    pub fn subsidy_issued(&self) -> Amount {
        Amount::checked_sum((1..=self.height()).map(|h| self.params.block_subsidy(h)))
            .expect("the subsidy stays within the money supply")
    }

    /// Total work of the active chain.
    pub fn chain_work(&self) -> U256 {
        self.tip().chain_work
    }
}

fn missing(what: &str, hash: &BlockHash) -> StoreError {
    StoreError::Corrupt(format!("{what} of active block {hash} is missing"))
}
