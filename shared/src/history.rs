//! The address history index: what each transaction of the active chain did to each address
//! it touched. The store keeps it beside the unspent outputs, written in the same commit as the
//! blocks it comes from and cut back to the fork when blocks are disconnected, so it always
//! describes exactly the active chain (Esplora's `/address/:a/txs` and `chain_stats`).

use std::collections::BTreeMap;

use crate::address::PubKeyHash;
use crate::block::Block;
use crate::hash::Txid;
use crate::transaction::TxIn;
use crate::utxo::BlockUndo;

/// One transaction's effect on one address: a row of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressTx {
    pub pubkey_hash: PubKeyHash,
    pub height: u32,
    /// The transaction's position in its block (the coinbase is 0).
    pub position: u32,
    pub txid: Txid,
    /// What its outputs pay the address, and how many outputs do.
    pub received: u64,
    pub funded: u32,
    /// What its inputs take from the address (the coins they spend), and how many inputs do.
    pub sent: u64,
    pub spent: u32,
    /// The transaction's fee (0 for a coinbase).
    pub fee: u64,
}

/// Totals of an address's history (Esplora's `chain_stats`).
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
    pub fn add(&mut self, row: &AddressTx) {
        self.tx_count += 1;
        self.funded_txo_count += u64::from(row.funded);
        self.funded_txo_sum = self.funded_txo_sum.saturating_add(row.received);
        self.spent_txo_count += u64::from(row.spent);
        self.spent_txo_sum = self.spent_txo_sum.saturating_add(row.sent);
    }
}

/// The index rows of `block`, connected at `height` with `undo` (the coins its inputs spent, in
/// order): one per transaction and address it pays or spends from, in block order. The genesis
/// block's outputs are not spendable, so it has none.
pub fn address_history(block: &Block, height: u32, undo: &BlockUndo) -> Vec<AddressTx> {
    if height == 0 {
        return Vec::new();
    }
    let mut rows = Vec::new();
    let mut spent_coins = undo.spent.iter();
    for (position, tx) in block.transactions.iter().enumerate() {
        let txid = tx.txid();
        let mut effects: BTreeMap<PubKeyHash, AddressTx> = BTreeMap::new();
        let row = |pubkey_hash| AddressTx {
            pubkey_hash,
            height,
            position: position as u32,
            txid,
            received: 0,
            funded: 0,
            sent: 0,
            spent: 0,
            fee: 0,
        };
        let mut paid_in = 0u64;
        for input in &tx.inputs {
            if let TxIn::Spend { .. } = input {
                let coin = spent_coins
                    .next()
                    .expect("the undo data holds a coin for every spend input");
                let output = coin.output;
                let effect = effects
                    .entry(output.pubkey_hash)
                    .or_insert_with(|| row(output.pubkey_hash));
                effect.sent += output.amount.units();
                effect.spent += 1;
                paid_in += output.amount.units();
            }
        }
        let mut paid_out = 0u64;
        for output in &tx.outputs {
            let effect = effects
                .entry(output.pubkey_hash)
                .or_insert_with(|| row(output.pubkey_hash));
            effect.received += output.amount.units();
            effect.funded += 1;
            paid_out += output.amount.units();
        }
        let fee = if tx.is_coinbase() {
            0
        } else {
            paid_in.saturating_sub(paid_out)
        };
        rows.extend(
            effects
                .into_values()
                .map(|effect| AddressTx { fee, ..effect }),
        );
    }
    rows
}
