//! The pool of valid transactions waiting for a block.
//!
//! A transaction enters only if it is valid against the active chain's unspent outputs and
//! conflicts with nothing already here; so every subset of the pool can go into the next block,
//! and templates take the highest fee rate first. (Spending an output of another unconfirmed
//! transaction is not supported: such a transaction waits until its parent confirms. So no
//! pooled transaction depends on another, and any of them can be evicted alone.)
//!
//! The pool is kept in fee-rate order, so that a full pool evicts its cheapest transactions
//! first and then asks more of newcomers ([`Mempool::min_fee_rate`]), as Bitcoin Core's does.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::amount::Amount;
use crate::hash::Txid;
use crate::policy::{FeeRate, cmp_fee_rate};
use crate::transaction::{OutPoint, Transaction};

/// A transaction in the pool, with what it pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolEntry {
    pub tx: Transaction,
    pub txid: Txid,
    pub fee: Amount,
    pub size: usize,
    /// Order of arrival, to break ties and to re-admit oldest first.
    pub sequence: u64,
}

impl MempoolEntry {
    /// Compares fee rates (fee per byte) exactly, by cross-multiplying.
    pub fn cmp_fee_rate(&self, other: &MempoolEntry) -> Ordering {
        cmp_fee_rate((self.fee, self.size), (other.fee, other.size))
    }

    pub fn fee_rate(&self) -> FeeRate {
        FeeRate::of(self.fee, self.size)
    }

    fn rank(&self) -> Rank {
        Rank {
            fee: self.fee,
            size: self.size,
            sequence: self.sequence,
            txid: self.txid,
        }
    }
}

/// An entry's place in the pool's order: the lowest fee rate first, and of equal rates the
/// newest first (the first to go when the pool is full; the last to be mined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rank {
    fee: Amount,
    size: usize,
    sequence: u64,
    txid: Txid,
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_fee_rate((self.fee, self.size), (other.fee, other.size))
            .then(other.sequence.cmp(&self.sequence))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The pool. Its maps are persistent: a clone is an O(1) snapshot for readers.
#[derive(Debug, Default, Clone)]
pub struct Mempool {
    entries: imbl::HashMap<Txid, Arc<MempoolEntry>>,
    spends: imbl::HashMap<OutPoint, Txid>,
    by_rank: imbl::OrdSet<Rank>,
    bytes: usize,
    next_sequence: u64,
    /// The minimum fee rate raised by evictions, and when it was last raised or decayed
    /// (the node's clock, Unix seconds).
    rolling_min: FeeRate,
    rolling_since: u64,
}

impl Mempool {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sum of the pooled transactions' sizes, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, txid: &Txid) -> bool {
        self.entries.contains_key(txid)
    }

    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid).map(Arc::as_ref)
    }

    /// The pool transaction spending `outpoint`, if any.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    /// Adds a transaction already checked against the chain, the pool and the policy.
    pub fn insert(&mut self, tx: Transaction, fee: Amount) -> Txid {
        let txid = tx.txid();
        for input in &tx.inputs {
            self.spends.insert(input.prevout(), txid);
        }
        let entry = MempoolEntry {
            size: tx.size(),
            tx,
            txid,
            fee,
            sequence: self.next_sequence,
        };
        self.next_sequence += 1;
        self.bytes += entry.size;
        self.by_rank.insert(entry.rank());
        self.entries.insert(txid, Arc::new(entry));
        txid
    }

    pub fn remove(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let entry = self.entries.remove(txid)?;
        for input in &entry.tx.inputs {
            self.spends.remove(&input.prevout());
        }
        self.by_rank.remove(&entry.rank());
        self.bytes -= entry.size;
        Some(Arc::unwrap_or_clone(entry))
    }

    /// Removes `tx` if pooled, and any pool transaction spending one of its inputs.
    pub fn remove_confirmed(&mut self, tx: &Transaction) {
        self.remove(&tx.txid());
        for input in &tx.inputs {
            if let Some(conflict) = self.spender(&input.prevout()) {
                self.remove(&conflict);
            }
        }
    }

    /// Takes every entry out, oldest first. The raised minimum fee rate stays.
    pub fn drain(&mut self) -> Vec<MempoolEntry> {
        self.spends.clear();
        self.by_rank.clear();
        self.bytes = 0;
        let mut entries: Vec<MempoolEntry> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(|(_, e)| Arc::unwrap_or_clone(e))
            .collect();
        entries.sort_by_key(|e| e.sequence);
        entries
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &MempoolEntry> {
        self.entries.values().map(Arc::as_ref)
    }

    /// Entries by descending fee rate, ties by arrival.
    pub fn by_fee_rate(&self) -> impl Iterator<Item = &MempoolEntry> {
        self.by_rank
            .iter()
            .rev()
            .map(|rank| self.entries[&rank.txid].as_ref())
    }

    /// The lowest-ranked entries whose sizes add up to at least `bytes`, cheapest first; fewer
    /// when the pool holds less.
    pub fn cheapest_covering(&self, bytes: usize) -> Vec<&MempoolEntry> {
        let mut freed = 0;
        let mut out = Vec::new();
        for rank in self.by_rank.iter() {
            if freed >= bytes {
                break;
            }
            freed += rank.size;
            out.push(self.entries[&rank.txid].as_ref());
        }
        out
    }

    /// The fee rate raised by evictions at `now`: halved every `half_life` seconds since it was
    /// last raised (faster while the pool is less than half full, as in Bitcoin Core), and
    /// dropped once it falls below half of `floor` (the minimum relay fee rate).
    pub fn rolling_min_fee_rate(
        &self,
        now: u64,
        half_life: u32,
        max_bytes: usize,
        floor: FeeRate,
    ) -> FeeRate {
        if self.rolling_min == FeeRate::ZERO {
            return FeeRate::ZERO;
        }
        let mut half_life = u64::from(half_life.max(1));
        if self.bytes < max_bytes / 4 {
            half_life /= 4;
        } else if self.bytes < max_bytes / 2 {
            half_life /= 2;
        }
        let halvings = now.saturating_sub(self.rolling_since) / half_life.max(1);
        let decayed = self
            .rolling_min
            .units_per_kb()
            .checked_shr(u32::try_from(halvings).unwrap_or(u32::MAX))
            .unwrap_or(0);
        if decayed.saturating_mul(2) < floor.units_per_kb() {
            FeeRate::ZERO
        } else {
            FeeRate::per_kb(decayed)
        }
    }

    /// Raises the minimum fee rate to at least `rate` at `now`, after evicting transactions
    /// that paid just under it.
    pub fn raise_min_fee_rate(&mut self, rate: FeeRate, now: u64, current: FeeRate) {
        self.rolling_min = rate.max(current);
        self.rolling_since = now;
    }
}
