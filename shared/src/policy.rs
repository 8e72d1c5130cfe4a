//! Relay policy: what this node is willing to keep and pass on, beyond what consensus allows.
//!
//! Consensus decides whether a transaction or block is valid; it never reads a setting. Policy
//! decides whether a valid transaction is worth memory and bandwidth here and now: a minimum fee
//! rate, a dust limit, a mempool capped in bytes whose minimum fee rate rises when it is full,
//! and an orphan pool capped in bytes. Each limit is a setting; two nodes with different
//! settings still agree on every block.

use std::cmp::Ordering;
use std::fmt;

use crate::amount::Amount;
use crate::transaction::{OUTPUT_SIZE, SPEND_INPUT_SIZE};

/// A fee rate, in base units per 1,000 bytes (Bitcoin's sat/kvB), so that rates between whole
/// units per byte can be expressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeeRate(u64);

impl FeeRate {
    pub const ZERO: FeeRate = FeeRate(0);

    /// `units` base units per byte.
    pub const fn per_byte(units: u64) -> FeeRate {
        FeeRate(units.saturating_mul(1000))
    }

    /// `units` base units per 1,000 bytes.
    pub const fn per_kb(units: u64) -> FeeRate {
        FeeRate(units)
    }

    pub const fn units_per_kb(self) -> u64 {
        self.0
    }

    /// The rate of paying `fee` for `size` bytes, rounded down.
    pub fn of(fee: Amount, size: usize) -> FeeRate {
        let rate = u128::from(fee.units()) * 1000 / (size.max(1) as u128);
        FeeRate(u64::try_from(rate).unwrap_or(u64::MAX))
    }

    /// The fee for `size` bytes at this rate, rounded up (so that paying it meets the rate).
    pub fn fee_for(self, size: usize) -> u64 {
        let fee = (u128::from(self.0) * size as u128).div_ceil(1000);
        u64::try_from(fee).unwrap_or(u64::MAX)
    }

    /// Whether paying `fee` for `size` bytes meets this rate, exactly.
    pub fn is_met_by(self, fee: Amount, size: usize) -> bool {
        u128::from(fee.units()) * 1000 >= u128::from(self.0) * size as u128
    }

    pub fn saturating_add(self, other: FeeRate) -> FeeRate {
        FeeRate(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for FeeRate {
    /// In base units per byte, with up to three decimals: `1.5 units/B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, thousandths) = (self.0 / 1000, self.0 % 1000);
        if thousandths == 0 {
            write!(f, "{whole} units/B")
        } else {
            let decimals = format!("{thousandths:03}");
            write!(f, "{whole}.{} units/B", decimals.trim_end_matches('0'))
        }
    }
}

/// A node's relay policy. [`Policy::default`] is what `mycoin-peer` runs with unless told
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A transaction pays at least this rate to enter the mempool; it is also the step by
    /// which the minimum rises when a full mempool evicts (Bitcoin's incremental relay fee).
    pub min_relay_fee_rate: FeeRate,
    /// An output paying less than this is dust: it costs more to spend than it is worth, and
    /// only grows every node's set of unspent outputs. A transaction creating one is refused.
    pub dust_limit: Amount,
    /// The mempool's cap, in bytes of the transactions' encodings.
    pub mempool_max_bytes: usize,
    /// How long the raised minimum fee rate of a full mempool takes to halve, in seconds.
    pub min_fee_half_life: u32,
    /// The orphan pool's cap, in bytes of the blocks' encodings.
    pub orphan_max_bytes: usize,
}

/// The default dust limit: an output is dust when spending it (an input) and having created it
/// (an output) would cost a third of it or more at 3 units a byte, as Bitcoin Core reckons.
pub const DEFAULT_DUST_LIMIT: u64 = 3 * (SPEND_INPUT_SIZE + OUTPUT_SIZE) as u64;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_relay_fee_rate: FeeRate::per_byte(1),
            dust_limit: Amount::from_units(DEFAULT_DUST_LIMIT).expect("a small amount"),
            mempool_max_bytes: 32 * 1024 * 1024,
            min_fee_half_life: 12 * 60 * 60,
            orphan_max_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Policy {
    /// No fee, dust or size limit beyond consensus (the orphan pool keeps its default cap):
    /// for tests and tools that build transactions by hand.
    pub fn permissive() -> Policy {
        Policy {
            min_relay_fee_rate: FeeRate::ZERO,
            dust_limit: Amount::ZERO,
            mempool_max_bytes: usize::MAX,
            ..Policy::default()
        }
    }
}

/// Why policy turned a valid transaction away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "the fee {fee} for {size} bytes is below the mempool's minimum fee rate of {min_rate} \
         (at least {min_fee} base units)"
    )]
    FeeTooLow {
        fee: Amount,
        size: usize,
        min_rate: FeeRate,
        min_fee: u64,
    },
    #[error("output {index} pays {amount}, below the dust limit of {limit}")]
    Dust {
        index: usize,
        amount: Amount,
        limit: Amount,
    },
    #[error(
        "the mempool is full and this transaction's fee rate {rate} is not above the lowest \
         it would have to evict"
    )]
    MempoolFull { rate: FeeRate },
    #[error("the transaction alone is {size} bytes, above the mempool's cap of {max}")]
    TooLargeForMempool { size: usize, max: usize },
}

impl PolicyError {
    /// A short stable name for the limit, for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::FeeTooLow { .. } => "fee_too_low",
            PolicyError::Dust { .. } => "dust",
            PolicyError::MempoolFull { .. } => "mempool_full",
            PolicyError::TooLargeForMempool { .. } => "too_large_for_mempool",
        }
    }
}

/// Compares the fee rates of (fee, size) pairs exactly, by cross-multiplying.
pub fn cmp_fee_rate(a: (Amount, usize), b: (Amount, usize)) -> Ordering {
    let lhs = u128::from(a.0.units()) * b.1 as u128;
    let rhs = u128::from(b.0.units()) * a.1 as u128;
    lhs.cmp(&rhs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(n: u64) -> Amount {
        Amount::from_units(n).unwrap()
    }

    #[test]
    fn fee_rates_round_so_that_the_fee_meets_the_rate() {
        let rate = FeeRate::per_kb(1500);
        assert_eq!(rate.fee_for(201), 302); // 301.5 rounded up
        assert!(rate.is_met_by(units(302), 201));
        assert!(!rate.is_met_by(units(301), 201));
        assert_eq!(FeeRate::of(units(302), 201), FeeRate::per_kb(1502));
        assert_eq!(FeeRate::per_byte(2), FeeRate::per_kb(2000));
        assert_eq!(FeeRate::ZERO.fee_for(1000), 0);
        assert!(FeeRate::ZERO.is_met_by(Amount::ZERO, 1000));
    }

    #[test]
    fn fee_rates_display_per_byte() {
        assert_eq!(FeeRate::per_byte(1).to_string(), "1 units/B");
        assert_eq!(FeeRate::per_kb(1500).to_string(), "1.5 units/B");
        assert_eq!(FeeRate::per_kb(1).to_string(), "0.001 units/B");
    }

    #[test]
    fn the_default_dust_limit_is_three_times_the_cost_of_an_output_at_three_units_a_byte() {
        assert_eq!(DEFAULT_DUST_LIMIT, 483);
        assert_eq!(Policy::default().dust_limit, units(483));
    }

    #[test]
    fn fee_rates_compare_exactly() {
        assert_eq!(
            cmp_fee_rate((units(1), 3), (units(333), 1000)),
            Ordering::Greater
        );
        assert_eq!(cmp_fee_rate((units(2), 4), (units(1), 2)), Ordering::Equal);
    }
}
