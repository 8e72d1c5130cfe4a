//! The address history index: what each transaction of the active chain did to each address
//! it touched. The store keeps it beside the unspent outputs, written in the same commit as the
//! blocks it comes from and cut back to the fork when blocks are disconnected, so it always
//! describes exactly the active chain (Esplora's `/address/:a/txs` and `chain_stats`).

use std::collections::BTreeMap;

use crate::address::PubKeyHash;
use crate::block::Block;
use crate::hash::Txid;
use crate::transaction::{Transaction, TxIn, TxOut};
use crate::utxo::BlockUndo;

/// One transaction's effect on one address: a row of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressTx {
    pub pubkey_hash: PubKeyHash,
    pub height: u32,
    /// The transaction's position in its block (the coinbase is 0).
    pub position: u32,
    pub txid: Txid,
    /// What it does to the address.
    pub effect: Effect,
    /// The transaction's fee (0 for a coinbase).
    pub fee: u64,
}

/// What one transaction does to one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Effect {
    /// What its outputs pay the address, and how many outputs do.
    pub received: u64,
    pub funded: u32,
    /// What its inputs take from the address (the coins they spend), and how many inputs do.
    pub sent: u64,
    pub spent: u32,
}

/// Totals of an address's history (Esplora's `chain_stats` and `mempool_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressStats {
    pub tx_count: u64,
    pub funded_txo_count: u64,
    pub funded_txo_sum: u64,
    pub spent_txo_count: u64,
    pub spent_txo_sum: u64,
}

impl AddressStats {
    /// Adds one transaction's effect.
    pub fn add(&mut self, effect: &Effect) {
        self.tx_count += 1;
        self.funded_txo_count += u64::from(effect.funded);
        self.funded_txo_sum = self.funded_txo_sum.saturating_add(effect.received);
        self.spent_txo_count += u64::from(effect.spent);
        self.spent_txo_sum = self.spent_txo_sum.saturating_add(effect.sent);
    }
}

/// What `tx` does to each address it touches, and its fee (0 for a coinbase), given the
/// outputs its spend inputs spend, in input order.
pub fn effects(
    tx: &Transaction,
    mut spent: impl Iterator<Item = TxOut>,
) -> (BTreeMap<PubKeyHash, Effect>, u64) {
    let mut effects: BTreeMap<PubKeyHash, Effect> = BTreeMap::new();
    let (mut paid_in, mut paid_out) = (0u64, 0u64);
    for input in &tx.inputs {
        if let TxIn::Spend { .. } = input {
            let output = spent.next().expect("an output for every spend input");
            let effect = effects.entry(output.pubkey_hash).or_default();
            effect.sent += output.amount.units();
            effect.spent += 1;
            paid_in += output.amount.units();
        }
    }
    for output in &tx.outputs {
        let effect = effects.entry(output.pubkey_hash).or_default();
        effect.received += output.amount.units();
        effect.funded += 1;
        paid_out += output.amount.units();
    }
    let fee = if tx.is_coinbase() {
        0
    } else {
        paid_in.saturating_sub(paid_out)
    };
    (effects, fee)
}

/// The index rows of `block`, connected at `height` with `undo` (the coins its inputs spent, in
/// order): one per transaction and address it pays or spends from, in block order. The genesis
/// block's outputs are not spendable, so it has none.
pub fn address_history(block: &Block, height: u32, undo: &BlockUndo) -> Vec<AddressTx> {
    if height == 0 {
        return Vec::new();
    }
    let mut rows = Vec::new();
    let mut spent_coins = undo.spent.iter().map(|coin| coin.output);
    for (position, tx) in block.transactions.iter().enumerate() {
        let txid = tx.txid();
        let (effects, fee) = effects(tx, spent_coins.by_ref());
        rows.extend(effects.into_iter().map(|(pubkey_hash, effect)| AddressTx {
            pubkey_hash,
            height,
            position: position as u32,
            txid,
            effect,
            fee,
        }));
    }
    rows
}
