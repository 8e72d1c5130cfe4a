//! The pool of valid transactions waiting for a block.
//!
//! A transaction enters only if it is valid against the active chain's unspent outputs and
//! conflicts with nothing already here; so every subset of the pool can go into the next block,
//! and templates take the highest fee rate first. (Spending an output of another unconfirmed
//! transaction is not supported: such a transaction waits until its parent confirms.)

use std::cmp::Ordering;
use std::sync::Arc;

use crate::amount::Amount;
use crate::hash::Txid;
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
        let lhs = u128::from(self.fee.units()) * other.size as u128;
        let rhs = u128::from(other.fee.units()) * self.size as u128;
        lhs.cmp(&rhs)
    }
}

/// The pool. Its maps are persistent: a clone is an O(1) snapshot for readers.
#[derive(Debug, Default, Clone)]
pub struct Mempool {
    entries: imbl::HashMap<Txid, Arc<MempoolEntry>>,
    spends: imbl::HashMap<OutPoint, Txid>,
    bytes: usize,
    next_sequence: u64,
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

    /// Adds a transaction already checked against the chain and the pool.
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
        self.entries.insert(txid, Arc::new(entry));
        txid
    }

    pub fn remove(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let entry = self.entries.remove(txid)?;
        for input in &entry.tx.inputs {
            self.spends.remove(&input.prevout());
        }
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

    /// Takes every entry out, oldest first.
    pub fn drain(&mut self) -> Vec<MempoolEntry> {
        self.spends.clear();
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
    pub fn by_fee_rate(&self) -> Vec<&MempoolEntry> {
        let mut entries: Vec<&MempoolEntry> = self.iter().collect();
        entries.sort_by(|a, b| b.cmp_fee_rate(a).then(a.sequence.cmp(&b.sequence)));
        entries
    }
}
