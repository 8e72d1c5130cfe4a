//! The chain state: the block tree, the active chain with most work, its unspent outputs, the
//! mempool, and the orphan pool; and the logic that moves them together.

use std::collections::{HashMap, HashSet, VecDeque};

use ruint::aliases::U256;

use crate::address::PubKeyHash;
use crate::amount::Amount;
use crate::block::{Block, Header};
use crate::hash::{BlockHash, Txid};
use crate::mempool::Mempool;
use crate::network::Params;
use crate::pow::work_for_target;
use crate::sigcache::SigCache;
use crate::store::{BlockEntry, ChainStore, ChainUpdate, StoreError};
use crate::transaction::{OutPoint, Transaction, TxIn, TxOut};
use crate::utxo::{Coin, UtxoOverlay};
use crate::validation::{
    self, BlockError, HeaderContext, SignatureChecks, TxError, check_block, check_transaction,
    check_tx_inputs, connect_block, contextual_check_block, disconnect_block,
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

/// Blocks whose parent has not arrived, bounded: the oldest is dropped first.
#[derive(Debug)]
struct OrphanPool {
    blocks: HashMap<BlockHash, Block>,
    order: VecDeque<BlockHash>,
    capacity: usize,
}

impl OrphanPool {
    fn insert(&mut self, hash: BlockHash, block: Block) {
        if self.blocks.insert(hash, block).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.blocks.remove(&old);
            }
        }
    }

    fn take_children(&mut self, parent: &BlockHash) -> Vec<Block> {
        let children: Vec<BlockHash> = self
            .blocks
            .iter()
            .filter(|(_, b)| b.header.prev_hash == *parent)
            .map(|(h, _)| *h)
            .collect();
        self.order.retain(|h| !children.contains(h));
        children
            .iter()
            .filter_map(|h| self.blocks.remove(h))
            .collect()
    }
}

/// One node's view of the chain, kept in memory and written through to a [`ChainStore`].
#[derive(Debug)]
pub struct Chain<S> {
    params: Params,
    store: S,
    index: HashMap<BlockHash, BlockEntry>,
    /// Blocks of the tree with no child: the candidates for the best chain.
    leaves: HashSet<BlockHash>,
    active: Vec<BlockHash>,
    utxos: HashMap<OutPoint, Coin>,
    invalid: HashSet<BlockHash>,
    orphans: OrphanPool,
    mempool: Mempool,
    /// Signatures verified when their transaction entered the mempool, so that its block does
    /// not verify them again.
    sigcache: SigCache,
    /// Order in which blocks entered the tree: among leaves of equal work, the first seen wins.
    arrival: HashMap<BlockHash, u64>,
}

/// How many orphan blocks are kept at most.
pub const MAX_ORPHANS: usize = 256;

impl<S: ChainStore> Chain<S> {
    /// Loads the chain from `store`, or starts it at the genesis block.
    pub async fn open(params: Params, store: S) -> Result<Chain<S>, ChainError> {
        let snapshot = store.load().await?;
        let mut chain = Chain {
            params,
            store,
            index: HashMap::new(),
            leaves: HashSet::new(),
            active: snapshot.active,
            utxos: snapshot.utxos.into_iter().collect(),
            invalid: snapshot.invalid.into_iter().collect(),
            orphans: OrphanPool {
                blocks: HashMap::new(),
                order: VecDeque::new(),
                capacity: MAX_ORPHANS,
            },
            mempool: Mempool::default(),
            sigcache: SigCache::default(),
            arrival: HashMap::new(),
        };
        let mut entries = snapshot.entries;
        entries.sort_by_key(|e| e.height);
        for entry in entries {
            chain.arrival.insert(entry.hash, chain.arrival.len() as u64);
            chain.index.insert(entry.hash, entry);
        }
        if chain.active.is_empty() {
            let genesis = chain.params.genesis_block();
            let entry = BlockEntry {
                hash: genesis.block_hash(),
                header: genesis.header,
                height: 0,
                chain_work: work_for_target(chain.params.pow_limit_target()),
            };
            // The genesis block's outputs are not spendable: it connects with no coins.
            let update = ChainUpdate {
                connected: vec![(entry.hash, 0, Default::default())],
                ..Default::default()
            };
            chain.store.commit(&[(entry, genesis)], &update).await?;
            chain.arrival.insert(entry.hash, 0);
            chain.index.insert(entry.hash, entry);
            chain.active.push(entry.hash);
        } else if chain.active[0] != chain.params.genesis_hash() {
            return Err(StoreError::Corrupt(format!(
                "the store holds a chain of another network (genesis {})",
                chain.active[0]
            ))
            .into());
        }
        chain.recompute_leaves();
        // A crash between storing a block and committing the chain update leaves a stored
        // block with more work off the active chain: move onto it now.
        if chain.best_leaf() != chain.tip().hash {
            chain.activate_best_chain(None).await?;
        }
        Ok(chain)
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn store(&self) -> &S {
        &self.store
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

    pub fn is_invalid(&self, hash: &BlockHash) -> bool {
        self.invalid.contains(hash)
    }

    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    pub fn sigcache(&self) -> &SigCache {
        &self.sigcache
    }

    /// Replaces the signature cache (another capacity, or cold statistics). What the old one
    /// held is forgotten: signatures are then verified again, nothing else changes.
    pub fn set_sigcache(&mut self, cache: SigCache) {
        self.sigcache = cache;
    }

    pub fn utxos(&self) -> &HashMap<OutPoint, Coin> {
        &self.utxos
    }

    pub fn orphan_count(&self) -> usize {
        self.orphans.blocks.len()
    }

    /// The unspent outputs paying to `pubkey_hash`.
    pub fn utxos_for(&self, pubkey_hash: &PubKeyHash) -> Vec<(OutPoint, Coin)> {
        let mut found: Vec<(OutPoint, Coin)> = self
            .utxos
            .iter()
            .filter(|(_, c)| c.output.pubkey_hash == *pubkey_hash)
            .map(|(o, c)| (*o, *c))
            .collect();
        found.sort_by_key(|(o, c)| (c.height, *o));
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

    /// A stored block by hash.
    pub async fn block(&self, hash: &BlockHash) -> Result<Option<Block>, StoreError> {
        self.store.block(hash).await
    }

    /// Where a transaction is: in the mempool, or in a block of the active chain.
    pub async fn locate_transaction(&self, txid: &Txid) -> Result<Option<TxLocation>, StoreError> {
        if self.mempool.contains(txid) {
            return Ok(Some(TxLocation::Mempool));
        }
        for (block, position) in self.store.find_transaction(txid).await? {
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

    /// Validates and stores a block, reorganising onto it when its chain has the most work.
    /// `now` is the node's clock in Unix seconds. On any error, tip, unspent outputs and
    /// mempool are as they were.
    pub async fn submit_block(
        &mut self,
        block: Block,
        now: u32,
    ) -> Result<BlockAccepted, ChainError> {
        let hash = block.block_hash();
        if self.index.contains_key(&hash) {
            return Ok(BlockAccepted::Duplicate);
        }
        if self.invalid.contains(&hash) {
            return Err(BlockError::KnownInvalid(hash).into());
        }
        let parent = block.header.prev_hash;
        if self.orphans.blocks.contains_key(&hash) {
            return Ok(BlockAccepted::Orphan { parent });
        }
        if let Err(e) = check_block(&block, &self.params) {
            if e.condemns_hash() {
                self.invalid.insert(hash);
            }
            return Err(e.into());
        }
        if self.invalid.contains(&parent) {
            self.invalid.insert(hash);
            return Err(BlockError::InvalidParent(parent).into());
        }
        if !self.index.contains_key(&parent) {
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
                    && !self.index.contains_key(&hash)
                    && !self.invalid.contains(&hash)
                    && !self.orphans.blocks.contains_key(&hash);
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
            validation::verify_signatures_into(&mut self.sigcache, &run, &self.params);
        }
        let mut overlay = UtxoOverlay::new(&self.utxos);
        let mut stored: Vec<(BlockEntry, Block)> = Vec::with_capacity(run.len());
        let mut connected = Vec::with_capacity(run.len());
        let mut error = None;
        for block in run {
            let hash = block.block_hash();
            let parent = block.header.prev_hash;
            let context = self
                .header_context(&parent)
                .expect("the run starts at the tip and goes on from block to block");
            let checked = check_block(&block, &self.params)
                .and_then(|()| contextual_check_block(&block, &context, &self.params, now))
                .and_then(|()| (block.header.bits.target()).map_err(BlockError::BitsOutOfRange));
            let target = match checked {
                Ok(target) => target,
                Err(e) => {
                    if e.condemns_hash() {
                        self.invalid.insert(hash);
                    }
                    error = Some(e);
                    break;
                }
            };
            let signatures = SignatureChecks::new(&self.sigcache);
            match connect_block(
                &block,
                context.height,
                &mut overlay,
                &self.params,
                signatures,
            ) {
                Ok(undo) => connected.push((hash, context.height, undo)),
                Err(e) => {
                    self.invalid.insert(hash);
                    error = Some(e);
                    break;
                }
            }
            let entry = self.child_entry(hash, &block, context.height, target);
            // In the tree already, for the next block's header context.
            self.index.insert(hash, entry);
            stored.push((entry, block));
        }
        let error = error.map(ChainError::from);
        if stored.is_empty() {
            return (Vec::new(), error);
        }
        if error.is_some() {
            // The overlay holds part of the failed block: connect the blocks kept again (their
            // signatures are cached now).
            overlay = UtxoOverlay::new(&self.utxos);
            connected.clear();
            for (entry, block) in &stored {
                let signatures = SignatureChecks::new(&self.sigcache);
                let undo =
                    connect_block(block, entry.height, &mut overlay, &self.params, signatures)
                        .expect("the block connected a moment ago on the same outputs");
                connected.push((entry.hash, entry.height, undo));
            }
        }
        let (spent, created) = overlay.into_changes();
        let update = ChainUpdate {
            fork_height,
            disconnected: Vec::new(),
            connected,
            spent,
            created,
        };
        if let Err(e) = self.store.commit(&stored, &update).await {
            for (entry, _) in &stored {
                self.index.remove(&entry.hash);
            }
            return (Vec::new(), Some(e.into()));
        }
        for (entry, _) in &stored {
            self.add_to_tree(*entry);
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
        let blocks: Vec<Block> = stored.into_iter().map(|(_, block)| block).collect();
        // Nothing was disconnected, so nothing returns to the mempool.
        self.applied(&update, &[], &blocks);
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
        if self.invalid.contains(&parent) {
            self.invalid.insert(hash);
            return Err(BlockError::InvalidParent(parent).into());
        }
        let context = self
            .header_context(&parent)
            .expect("the parent is in the tree");
        if let Err(e) = contextual_check_block(&block, &context, &self.params, now) {
            if e.condemns_hash() {
                self.invalid.insert(hash);
            }
            return Err(e.into());
        }
        let target = block
            .header
            .bits
            .target()
            .map_err(BlockError::BitsOutOfRange)?;
        let entry = self.child_entry(hash, &block, context.height, target);
        self.store.put_block(&entry, &block).await?;
        self.add_to_tree(entry);
        self.activate_best_chain(Some((hash, block))).await
    }

    /// The tree entry of `block` (hash `hash`, at `height`, of proof-of-work `target`), whose
    /// parent is in the tree.
    fn child_entry(&self, hash: BlockHash, block: &Block, height: u32, target: U256) -> BlockEntry {
        BlockEntry {
            hash,
            header: block.header,
            height,
            chain_work: self.index[&block.header.prev_hash]
                .chain_work
                .saturating_add(work_for_target(target)),
        }
    }

    /// Enters a stored block in the tree: a new leaf in place of its parent.
    fn add_to_tree(&mut self, entry: BlockEntry) {
        self.arrival.insert(entry.hash, self.arrival.len() as u64);
        self.index.insert(entry.hash, entry);
        self.leaves.remove(&entry.header.prev_hash);
        self.leaves.insert(entry.hash);
    }

    fn recompute_leaves(&mut self) {
        let parents: HashSet<BlockHash> = self
            .index
            .values()
            .filter(|e| e.height > 0)
            .map(|e| e.header.prev_hash)
            .collect();
        self.leaves = self
            .index
            .keys()
            .filter(|h| !parents.contains(*h))
            .copied()
            .collect::<HashSet<_>>();
    }

    /// The block with the most work among the tree's leaves. The current tip wins ties, then
    /// the leaf seen first.
    fn best_leaf(&self) -> BlockHash {
        let tip = self.tip();
        let mut best = (tip.chain_work, 0u64, tip.hash);
        for leaf in &self.leaves {
            let entry = &self.index[leaf];
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
        let Some(anc) = self.index.get(ancestor) else {
            return self.invalid.contains(ancestor) && self.invalid.contains(hash);
        };
        let mut next = self.index.get(hash);
        while let Some(entry) = next {
            if entry.height <= anc.height {
                return entry.hash == *ancestor;
            }
            next = self.index.get(&entry.header.prev_hash);
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
            self.index.remove(&hash);
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
        let mut cursor = self.index[&target];
        while !self.is_active(&cursor.hash) {
            branch.push(cursor);
            cursor = self.index[&cursor.header.prev_hash];
        }
        branch.reverse();
        let fork_height = cursor.height;

        let mut overlay = UtxoOverlay::new(&self.utxos);
        let mut disconnected_blocks = Vec::new();
        for height in (fork_height + 1..=self.height()).rev() {
            let hash = self.active[height as usize];
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
            let signatures = SignatureChecks::new(&self.sigcache);
            match connect_block(&block, entry.height, &mut overlay, &self.params, signatures) {
                Ok(undo) => connected.push((entry.hash, entry.height, undo)),
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
        };
        self.store.commit(&[], &update).await?;
        let returned = self.applied(&update, &disconnected_blocks, &connected_blocks);
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
        connected_blocks: &[Block],
    ) -> Vec<Txid> {
        for outpoint in &update.spent {
            self.utxos.remove(outpoint);
        }
        self.utxos.extend(update.created.iter().copied());
        self.active.truncate(update.fork_height as usize + 1);
        self.active
            .extend(update.connected.iter().map(|(h, _, _)| *h));
        // Confirmed signatures are not checked again; a transaction that a reorganisation
        // returns to the mempool is checked, and cached, anew.
        for tx in connected_blocks.iter().flat_map(|b| &b.transactions) {
            self.sigcache.remove_transaction(tx);
        }
        self.update_mempool(disconnected_blocks, connected_blocks)
    }

    /// After the active chain moved: drop what is now confirmed or conflicting; after a
    /// reorganisation, re-admit every still-valid transaction of the disconnected blocks and of
    /// the old pool, oldest first. Returns the disconnected blocks' transactions re-admitted.
    fn update_mempool(
        &mut self,
        disconnected: &[(BlockHash, Block)],
        connected: &[Block],
    ) -> Vec<Txid> {
        if disconnected.is_empty() {
            for tx in connected.iter().flat_map(|b| &b.transactions) {
                self.mempool.remove_confirmed(tx);
            }
            return Vec::new();
        }
        let old = self.mempool.drain();
        let returning = disconnected
            .iter()
            .rev()
            .flat_map(|(_, b)| b.transactions.iter().skip(1))
            .cloned();
        let returned = returning
            .filter_map(|tx| self.submit_transaction(tx).ok())
            .collect();
        for entry in old {
            let _ = self.submit_transaction(entry.tx);
        }
        returned
    }

    /// Checks a transaction against the active chain and the mempool without adding it.
    /// Returns its fee.
    pub fn check_transaction(&self, tx: &Transaction) -> Result<Amount, TxError> {
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
        self.check_inputs_at_tip(tx)
    }

    /// [`check_tx_inputs`] for the next block on the tip, with the signature cache.
    fn check_inputs_at_tip(&self, tx: &Transaction) -> Result<Amount, TxError> {
        check_tx_inputs(
            tx,
            self.height() + 1,
            &self.utxos,
            &self.params,
            &self.sigcache,
        )
    }

    /// The book's verify.py: whether `tx` is valid against the active chain now, whether or not
    /// it is already the pending transaction in the mempool. Returns its fee.
    pub fn verify_transaction(&self, tx: &Transaction) -> Result<Amount, TxError> {
        match self.mempool.get(&tx.txid()) {
            Some(pending) if pending.tx == *tx => {
                check_transaction(tx, &self.params)?;
                self.check_inputs_at_tip(tx)
            }
            _ => self.check_transaction(tx),
        }
    }

    /// Each input's own verdict against the active chain and the mempool, as the next block
    /// would see it: the coin it spends, or the rule it breaks. Gives detail where
    /// [`Chain::check_transaction`] gives the first failure.
    pub fn check_inputs(&self, tx: &Transaction) -> Vec<Result<Coin, TxError>> {
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
                validation::check_input(
                    input,
                    index,
                    &txid,
                    &self.utxos,
                    spend_height,
                    &self.params,
                )
            })
            .collect()
    }

    /// Whether `coin` could be spent in the next block.
    pub fn is_spendable_next(&self, coin: &Coin) -> bool {
        coin.is_mature_at(self.height() + 1, self.params.coinbase_maturity)
    }

    /// Validates a transaction and adds it to the mempool, caching its signatures for its block.
    pub fn submit_transaction(&mut self, tx: Transaction) -> Result<Txid, TxError> {
        let fee = self.check_transaction(&tx)?;
        self.sigcache.insert_transaction(&tx);
        Ok(self.mempool.insert(tx, fee))
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
