//! Unspent outputs, undo data, and a copy-on-write view for trying blocks out.

use std::collections::{HashMap, HashSet};

use crate::address::PubKeyHash;
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

    fn contains(&self, outpoint: &OutPoint) -> bool {
        self.coin(outpoint).is_some()
    }
}

impl UtxoView for HashMap<OutPoint, Coin> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        self.get(outpoint).copied()
    }
}

/// The unspent outputs of the active chain, with an index of them by the address they pay.
///
/// Both maps are persistent (structure-sharing): a clone costs O(1) and is an immutable snapshot
/// that later changes to the original do not touch. The chain's single writer changes one copy;
/// readers answer from the clone published after each change, without a lock and without a scan
/// of the whole set for one address.
#[derive(Debug, Clone, Default)]
pub struct UnspentOutputs {
    coins: imbl::HashMap<OutPoint, Coin>,
    by_address: imbl::HashMap<PubKeyHash, imbl::OrdSet<OutPoint>>,
}

impl UnspentOutputs {
    pub fn len(&self) -> usize {
        self.coins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    pub fn get(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.coins.get(outpoint)
    }

    pub fn contains_key(&self, outpoint: &OutPoint) -> bool {
        self.coins.contains_key(outpoint)
    }

    /// Adds (or replaces) an unspent output.
    pub fn insert(&mut self, outpoint: OutPoint, coin: Coin) {
        if let Some(old) = self.coins.insert(outpoint, coin) {
            self.unindex(&outpoint, &old.output.pubkey_hash);
        }
        self.by_address
            .entry(coin.output.pubkey_hash)
            .or_default()
            .insert(outpoint);
    }

    /// Removes an output (spent), returning it.
    pub fn remove(&mut self, outpoint: &OutPoint) -> Option<Coin> {
        let coin = self.coins.remove(outpoint)?;
        self.unindex(outpoint, &coin.output.pubkey_hash);
        Some(coin)
    }

    fn unindex(&mut self, outpoint: &OutPoint, pubkey_hash: &PubKeyHash) {
        if let Some(set) = self.by_address.get_mut(pubkey_hash) {
            set.remove(outpoint);
            if set.is_empty() {
                self.by_address.remove(pubkey_hash);
            }
        }
    }

    /// The unspent outputs paying `pubkey_hash`, oldest first (by height, then outpoint): a
    /// look-up in the address index, whatever the size of the whole set.
    pub fn for_address(&self, pubkey_hash: &PubKeyHash) -> Vec<(OutPoint, Coin)> {
        let mut found: Vec<(OutPoint, Coin)> = self
            .by_address
            .get(pubkey_hash)
            .into_iter()
            .flatten()
            .filter_map(|outpoint| self.coins.get(outpoint).map(|coin| (*outpoint, *coin)))
            .collect();
        found.sort_by_key(|(outpoint, coin)| (coin.height, *outpoint));
        found
    }

    /// Every unspent output, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&OutPoint, &Coin)> {
        self.coins.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &OutPoint> {
        self.coins.keys()
    }

    pub fn values(&self) -> impl Iterator<Item = &Coin> {
        self.coins.values()
    }

    /// A plain map of the same outputs (for comparisons in tests and tools).
    pub fn to_map(&self) -> HashMap<OutPoint, Coin> {
        self.coins.iter().map(|(o, c)| (*o, *c)).collect()
    }
}

impl FromIterator<(OutPoint, Coin)> for UnspentOutputs {
    fn from_iter<I: IntoIterator<Item = (OutPoint, Coin)>>(iter: I) -> Self {
        let mut set = UnspentOutputs::default();
        set.extend(iter);
        set
    }
}

impl Extend<(OutPoint, Coin)> for UnspentOutputs {
    fn extend<I: IntoIterator<Item = (OutPoint, Coin)>>(&mut self, iter: I) {
        for (outpoint, coin) in iter {
            self.insert(outpoint, coin);
        }
    }
}

/// Two sets are equal when they hold the same outputs (the address index follows from them).
impl PartialEq for UnspentOutputs {
    fn eq(&self, other: &Self) -> bool {
        self.coins == other.coins
    }
}

impl Eq for UnspentOutputs {}

impl PartialEq<HashMap<OutPoint, Coin>> for UnspentOutputs {
    fn eq(&self, other: &HashMap<OutPoint, Coin>) -> bool {
        self.len() == other.len() && other.iter().all(|(o, c)| self.get(o) == Some(c))
    }
}

impl UtxoView for UnspentOutputs {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        self.coins.get(outpoint).copied()
    }
}

/// Changes on top of a base set, kept apart until they are committed: a reorganisation is tried
/// here, and only a complete success touches the base set (and the store).
#[derive(Debug)]
pub struct UtxoOverlay<'a, B: UtxoView + ?Sized = UnspentOutputs> {
    base: &'a B,
    added: HashMap<OutPoint, Coin>,
    removed: HashSet<OutPoint>,
}

impl<'a, B: UtxoView + ?Sized> UtxoOverlay<'a, B> {
    pub fn new(base: &'a B) -> Self {
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
        if self.base.contains(outpoint) {
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

impl<B: UtxoView + ?Sized> UtxoView for UtxoOverlay<'_, B> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(coin) = self.added.get(outpoint) {
            return Some(*coin);
        }
        if self.removed.contains(outpoint) {
            return None;
        }
        self.base.coin(outpoint)
    }
}
