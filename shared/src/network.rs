//! mycoin's networks and their consensus parameters, genesis blocks included.

use std::fmt;
use std::str::FromStr;

use ruint::aliases::U256;

use crate::address::PubKeyHash;
use crate::amount::Amount;
use crate::block::{Block, Header};
use crate::hash::{BlockHash, MerkleRoot};
use crate::pow::{CompactTarget, scale_target};
use crate::transaction::{Transaction, TxOut};

/// A mycoin network. Nodes of different networks refuse each other, and addresses and WIF keys
/// carry the network in their version byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    /// The demo network: a few seconds a block on one laptop core.
    Demo,
    /// Regression tests: trivial, fixed difficulty.
    Regtest,
}

impl Network {
    pub const ALL: [Network; 2] = [Network::Demo, Network::Regtest];

    pub fn name(self) -> &'static str {
        match self {
            Network::Demo => "demo",
            Network::Regtest => "regtest",
        }
    }

    /// The first byte of an address's Base58Check payload ("M…" on demo, "r…" on regtest).
    pub fn address_version(self) -> u8 {
        match self {
            Network::Demo => 0x32,
            Network::Regtest => 0x7a,
        }
    }

    /// The first byte of a WIF private key's payload.
    pub fn wif_version(self) -> u8 {
        match self {
            Network::Demo => 0xb2,
            Network::Regtest => 0xfa,
        }
    }

    pub fn from_address_version(version: u8) -> Option<Network> {
        Network::ALL
            .into_iter()
            .find(|n| n.address_version() == version)
    }

    pub fn params(self) -> Params {
        match self {
            Network::Demo => Params {
                network: self,
                pow_limit: CompactTarget(0x1f00_ffff),
                genesis_bits: DEMO_GENESIS_BITS,
                retarget: true,
                target_spacing: 5,
                retarget_window: 10,
                initial_subsidy: Amount::ONE_COIN,
                halving_interval: 210_000,
                coinbase_maturity: 2,
                max_block_size: 1_000_000,
                max_tx_size: 100_000,
                median_time_span: 11,
                genesis_time: 1_795_651_200,
                genesis_nonce: DEMO_GENESIS_NONCE,
            },
            Network::Regtest => Params {
                network: self,
                pow_limit: CompactTarget(0x207f_ffff),
                genesis_bits: CompactTarget(0x207f_ffff),
                retarget: false,
                // Bitcoin's regtest spacing. Regtest never retargets, so the spacing only sets
                // the future-time limit: 12 spacings = 7 200 s, room for blocks mined many a
                // second (each must be dated after the median of the previous eleven).
                target_spacing: 600,
                retarget_window: 10,
                initial_subsidy: Amount::ONE_COIN,
                halving_interval: 150,
                coinbase_maturity: 1,
                max_block_size: 1_000_000,
                max_tx_size: 100_000,
                median_time_span: 11,
                genesis_time: 1_795_651_200,
                genesis_nonce: REGTEST_GENESIS_NONCE,
            },
        }
    }
}

/// How many target spacings a block's time may be ahead of the node's clock (Bitcoin's 2 hours
/// are 12 of its 10-minute spacings).
pub const MAX_FUTURE_SPACINGS: u32 = 12;

/// How much the target may change over one retarget window, either way (Bitcoin's factor 4).
pub const MAX_RETARGET_FACTOR: u64 = 4;

/// Demo starts where one core of a laptop finds a block every few seconds: 2^26 hashes of
/// expected work (a target of 2^230), 1.8 s at the 38 M nonces/s of one AVX-512 core, 4.5 s at
/// an AVX2 core's 15 M. Starting at the limit instead (2^16 hashes, a block every few
/// milliseconds) made the first fifty blocks, until the retarget had caught up, a contest of
/// HTTP round trips rather than of hashing (issue 18).
const DEMO_GENESIS_BITS: CompactTarget = CompactTarget(0x1d40_0000);
const DEMO_GENESIS_NONCE: u32 = 31_157_636;
const REGTEST_GENESIS_NONCE: u32 = 0;

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown network name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network {0:?}: expected demo or regtest")]
pub struct UnknownNetwork(pub String);

impl FromStr for Network {
    type Err = UnknownNetwork;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Network::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| UnknownNetwork(s.to_owned()))
    }
}

/// A network's consensus parameters. Tests may change them (a smaller block size, a longer
/// maturity) to reach a rule's edge cheaply; nodes use [`Network::params`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub network: Network,
    /// The easiest target allowed.
    pub pow_limit: CompactTarget,
    /// The genesis block's bits: the difficulty the chain starts at, which the retarget then
    /// adapts (down to `pow_limit`, or up) to the hash rate it meets.
    pub genesis_bits: CompactTarget,
    /// Whether difficulty adapts at all (regtest's does not).
    pub retarget: bool,
    /// Seconds between blocks that retargeting aims for.
    pub target_spacing: u32,
    /// How many of the latest block intervals the retarget averages over.
    pub retarget_window: u32,
    /// The block reward at height 1, halved every `halving_interval` blocks.
    pub initial_subsidy: Amount,
    pub halving_interval: u32,
    /// A coinbase output created at height h may be spent in a block at height h + maturity or
    /// later.
    pub coinbase_maturity: u32,
    /// The largest block encoding, in bytes.
    pub max_block_size: usize,
    /// The largest transaction encoding, in bytes.
    pub max_tx_size: usize,
    /// A block's time must be after the median of this many previous blocks' times.
    pub median_time_span: usize,
    pub genesis_time: u32,
    pub genesis_nonce: u32,
}

impl Params {
    /// The reward for the block at `height`: the initial subsidy halved every
    /// `halving_interval` blocks (zero after 64 halvings).
    pub fn block_subsidy(&self, height: u32) -> Amount {
        let halvings = height / self.halving_interval.max(1);
        if halvings >= 64 {
            return Amount::ZERO;
        }
        Amount::from_units(self.initial_subsidy.units() >> halvings)
            .expect("smaller than the subsidy")
    }

    /// How far a block's time may be ahead of the node's clock, in seconds:
    /// [`MAX_FUTURE_SPACINGS`] target spacings (demo: 60 s; regtest: 7 200 s).
    ///
    /// Tied to the spacing so that a miner dating its blocks ahead of time gains at most a
    /// dozen spacings on the clock, whatever the network's pace.
    pub fn max_future_block_time(&self) -> u32 {
        self.target_spacing.saturating_mul(MAX_FUTURE_SPACINGS)
    }

    pub fn genesis_target(&self) -> U256 {
        self.genesis_bits
            .target()
            .expect("every network's genesis bits are a valid target")
    }

    pub fn pow_limit_target(&self) -> U256 {
        self.pow_limit
            .target()
            .expect("every network's limit is a valid target")
    }

    /// The genesis block (height 0). Its coinbase pays to a hash nobody holds a key for, and its
    /// outputs are never added to the set of unspent outputs.
    pub fn genesis_block(&self) -> Block {
        let coinbase = Transaction::coinbase(
            0,
            0,
            vec![TxOut {
                amount: self.initial_subsidy,
                pubkey_hash: PubKeyHash([0; 20]),
            }],
        );
        let mut block = Block {
            header: Header {
                version: Header::VERSION,
                prev_hash: BlockHash::ZERO,
                merkle_root: MerkleRoot::ZERO,
                time: self.genesis_time,
                bits: self.genesis_bits,
                nonce: self.genesis_nonce,
            },
            transactions: vec![coinbase],
        };
        block.header.merkle_root = block.compute_merkle_root().0;
        block
    }

    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis_block().block_hash()
    }

    /// The bits required of the block after `window`, the latest blocks of its chain (oldest
    /// first, parent last, at most `retarget_window + 1` of them, fewer only near genesis).
    ///
    /// Over the `n` intervals in the window, with T the time from its first to its last block
    /// clamped to [n·spacing/4, 4·n·spacing] and A the mean target of its last `n` blocks, the
    /// next target is A · T / (n·spacing). The mean (not the last target) keeps the adjustment
    /// from compounding block after block.
    ///
    /// That target is then clamped to [R/4, 4·R], R being the target of the oldest of the last
    /// `n` blocks (the block `n` heights below the new one), and capped at the limit: over any
    /// `n` consecutive blocks the difficulty moves by at most [`MAX_RETARGET_FACTOR`] either
    /// way, as over one of Bitcoin's 2016-block periods, however the blocks are dated.
    pub fn next_bits(&self, window: &[(u32, CompactTarget)]) -> CompactTarget {
        let Some(&(parent_time, parent_bits)) = window.last() else {
            return self.pow_limit;
        };
        if !self.retarget || window.len() < 2 {
            return if self.retarget {
                parent_bits
            } else {
                self.pow_limit
            };
        }
        let n = (window.len() - 1) as u64;
        let expected = n * u64::from(self.target_spacing);
        let first = i64::from(window[0].0);
        let last = i64::from(parent_time);
        let actual = (last - first).clamp((expected / 4) as i64, (expected * 4) as i64) as u64;
        let limit = self.pow_limit_target();
        let mean = window[1..]
            .iter()
            .map(|(_, bits)| bits.target().unwrap_or(limit) / U256::from(n))
            .fold(U256::ZERO, |acc, t| acc.saturating_add(t));
        let scaled = scale_target(mean, actual, expected, limit);
        let reference = window[1].1.target().unwrap_or(limit);
        let lowest = (reference / U256::from(MAX_RETARGET_FACTOR)).max(U256::from(1));
        let highest = scale_target(reference, MAX_RETARGET_FACTOR, 1, limit);
        // `max` then `min`: the cap at the limit wins should the two bounds ever cross.
        CompactTarget::from_target(scaled.max(lowest).min(highest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::COIN;

    #[test]
    fn the_subsidy_halves_every_interval_and_ends() {
        let regtest = Network::Regtest.params();
        assert_eq!(regtest.block_subsidy(1).units(), COIN);
        assert_eq!(regtest.block_subsidy(149).units(), COIN);
        assert_eq!(regtest.block_subsidy(150).units(), COIN / 2);
        assert_eq!(regtest.block_subsidy(300).units(), COIN / 4);
        assert_eq!(regtest.block_subsidy(150 * 27).units(), 0, "10^8 >> 27 = 0");
        assert_eq!(regtest.block_subsidy(u32::MAX).units(), 0);
        let demo = Network::Demo.params();
        assert_eq!(demo.block_subsidy(209_999).units(), COIN);
        assert_eq!(demo.block_subsidy(210_000).units(), COIN / 2);
    }

    /// The retarget on demo parameters (5 s spacing, 10 intervals), worked by hand.
    #[test]
    fn the_retarget_follows_the_window() {
        let demo = Network::Demo.params();
        let limit = demo.pow_limit;
        let limit_target = demo.pow_limit_target();
        // Fewer than two blocks: the parent's bits.
        assert_eq!(demo.next_bits(&[(0, limit)]), limit);
        // One interval on time (5 s): unchanged.
        assert_eq!(demo.next_bits(&[(0, limit), (5, limit)]), limit);
        // One interval of 1 s: the window asks for 5× less, the clamp allows 4×.
        let quarter = CompactTarget::from_target(limit_target / U256::from(4u64));
        assert_eq!(demo.next_bits(&[(0, limit), (1, limit)]), quarter);
        assert_eq!(quarter, CompactTarget(0x1e3f_ffc0));
        // Slow blocks cannot ease past the limit.
        assert_eq!(demo.next_bits(&[(0, limit), (1000, limit)]), limit);
        // Regtest never retargets.
        let regtest = Network::Regtest.params();
        assert_eq!(
            regtest.next_bits(&[(0, regtest.pow_limit), (1, regtest.pow_limit)]),
            regtest.pow_limit
        );
    }

    /// PROTOCOL.md's appendix A.3, computed there in Python from the written rule.
    #[test]
    fn the_retarget_vectors_of_the_protocol() {
        let demo = Network::Demo.params();
        let limit = demo.pow_limit;
        let hard = CompactTarget(0x1d41_88f5);
        let window = |times: &[u32], bits: CompactTarget| -> Vec<(u32, CompactTarget)> {
            times.iter().map(|&t| (t, bits)).collect()
        };
        let seconds: Vec<u32> = (0..11).map(|i| 1000 + i).collect();
        let on_time: Vec<u32> = (0..11).map(|i| 1000 + 5 * i).collect();
        // 11 blocks one second apart: the window asks for 12/50 of the mean, the clamp gives 1/4.
        assert_eq!(
            demo.next_bits(&window(&seconds, limit)),
            CompactTarget(0x1e3f_ffc0)
        );
        // On time: unchanged.
        assert_eq!(demo.next_bits(&window(&on_time, limit)), limit);
        assert_eq!(
            demo.next_bits(&window(&on_time, hard)),
            CompactTarget(0x1d41_88f4)
        );
        // The parent dated 60 s late: 110/50 of the mean, inside the clamp.
        let mut late = window(&on_time[..10], hard);
        late.push((1045 + 60, hard));
        assert_eq!(demo.next_bits(&late), CompactTarget(0x1e00_899f));
        // The parent dated 1 000 s late: 200/50 (the time clamp), also 4 × R (the target clamp).
        let mut warped = window(&on_time[..10], hard);
        warped.push((2045, hard));
        assert_eq!(demo.next_bits(&warped), CompactTarget(0x1e01_0623));
    }

    /// The target clamp binds where the mean does not: after easier blocks in the window, the
    /// next target may still be at most 4 × the target of the block `n` heights below it.
    #[test]
    fn the_target_moves_at_most_fourfold_per_window() {
        let demo = Network::Demo.params();
        let hard = CompactTarget(0x1d41_88f5);
        let hard_target = hard.target().unwrap();
        let easy = CompactTarget::from_target(hard_target * U256::from(8u64));
        // The oldest of the last ten is hard, the nine after it eight times easier; late dates.
        let mut window: Vec<(u32, CompactTarget)> = vec![(1000, hard), (1005, hard)];
        window.extend((2..11).map(|i| (1000 + 20 * i, easy)));
        assert_eq!(demo.next_bits(&window), CompactTarget(0x1e01_0623));
        assert_eq!(
            CompactTarget::from_target(hard_target * U256::from(4u64)),
            CompactTarget(0x1e01_0623)
        );
        // And the other way: dates too close, after harder blocks.
        let harder = CompactTarget::from_target(hard_target / U256::from(8u64));
        let mut window: Vec<(u32, CompactTarget)> = vec![(1000, hard), (1001, hard)];
        window.extend((2..11).map(|i| (1000 + i, harder)));
        assert_eq!(demo.next_bits(&window), CompactTarget(0x1d10_623d));
        assert_eq!(
            CompactTarget::from_target(hard_target / U256::from(4u64)),
            CompactTarget(0x1d10_623d)
        );
    }

    #[test]
    fn the_future_limit_is_twelve_spacings() {
        assert_eq!(Network::Demo.params().max_future_block_time(), 60);
        assert_eq!(Network::Regtest.params().max_future_block_time(), 7_200);
    }
}
