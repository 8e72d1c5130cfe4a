//! Unspent outputs, undo data, and a copy-on-write view for trying blocks out.

use std::collections::{HashMap, HashSet};

use crate::encoding::{Decode, DecodeError, Encode, Reader, write_vec};
use crate::transaction::{OutPoint, TxOut};

/// An unspent output with what the rules need to know about where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Coin {
    pub output: TxOut,
    /// Height of the block that created it.
    pub height: u32,
    pub is_coinbase: bool,
}

impl Coin {
    /// Whether a transaction in a block at `spend_height` may spend this coin: a coinbase
    /// output created at height h only from height h + maturity on.
    pub fn is_mature_at(&self, spend_height: u32, maturity: u32) -> bool {
        !self.is_coinbase || spend_height >= self.height.saturating_add(maturity)
    }
}

impl Encode for Coin {
    fn encode(&self, out: &mut Vec<u8>) {
        self.output.encode(out);
        self.height.encode(out);
        u8::from(self.is_coinbase).encode(out);
    }
}

impl Decode for Coin {
    const MIN_SIZE: usize = 28 + 4 + 1;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let output = TxOut::decode(reader)?;
        let height = reader.u32()?;
        let is_coinbase = match reader.u8()? {
            0 => false,
            1 => true,
            other => {
                return Err(DecodeError::Invalid {
                    what: "coin",
                    reason: format!("coinbase flag {other} is neither 0 nor 1"),
                });
            }
        };
        Ok(Coin {
            output,
            height,
            is_coinbase,
        })
    }
}

/// What connecting a block spent, in the order its inputs spent it: enough to disconnect it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockUndo {
    pub spent: Vec<Coin>,
}

impl Encode for BlockUndo {
    fn encode(&self, out: &mut Vec<u8>) {
        write_vec(out, &self.spent);
    }
}

impl Decode for BlockUndo {
    const MIN_SIZE: usize = 1;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockUndo {
            spent: reader.vec(usize::MAX)?,
        })
    }
}

/// Read access to a set of unspent outputs.
pub trait UtxoView {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin>;
}

impl UtxoView for HashMap<OutPoint, Coin> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        self.get(outpoint).copied()
    }
}

/// Changes on top of a base set, kept apart until they are committed: a reorganisation is tried
/// here, and only a complete success touches the base set (and the store).
#[derive(Debug)]
pub struct UtxoOverlay<'a> {
    base: &'a HashMap<OutPoint, Coin>,
    added: HashMap<OutPoint, Coin>,
    removed: HashSet<OutPoint>,
}

impl<'a> UtxoOverlay<'a> {
    pub fn new(base: &'a HashMap<OutPoint, Coin>) -> Self {
        UtxoOverlay {
            base,
            added: HashMap::new(),
            removed: HashSet::new(),
        }
    }

    pub fn add(&mut self, outpoint: OutPoint, coin: Coin) {
        self.removed.remove(&outpoint);
        self.added.insert(outpoint, coin);
    }

    /// Removes and returns the coin, if it is unspent.
    pub fn spend(&mut self, outpoint: &OutPoint) -> Option<Coin> {
        let coin = self.coin(outpoint)?;
        self.added.remove(outpoint);
        if self.base.contains_key(outpoint) {
            self.removed.insert(*outpoint);
        }
        Some(coin)
    }

    /// The net change: outpoints to delete from the base, and coins to insert or overwrite.
    pub fn into_changes(self) -> (Vec<OutPoint>, Vec<(OutPoint, Coin)>) {
        let mut removed: Vec<OutPoint> = self.removed.into_iter().collect();
        removed.sort();
        let mut added: Vec<(OutPoint, Coin)> = self.added.into_iter().collect();
        added.sort_by_key(|(outpoint, _)| *outpoint);
        (removed, added)
    }
}

impl UtxoView for UtxoOverlay<'_> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(coin) = self.added.get(outpoint) {
            return Some(*coin);
        }
        if self.removed.contains(outpoint) {
            return None;
        }
        self.base.get(outpoint).copied()
    }
}
