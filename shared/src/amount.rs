//! Amounts of money in base units.

use std::fmt;
use std::str::FromStr;

use crate::encoding::{Decode, DecodeError, Encode, Reader};

/// Base units in one coin.
pub const COIN: u64 = 100_000_000;

/// No amount, and no sum of amounts, may exceed this: 21 million coins.
pub const MAX_MONEY: u64 = 21_000_000 * COIN;

/// An amount of money in base units, never above [`MAX_MONEY`].
///
/// The field is private: every way in checks the bound, and every sum is checked, so money
/// cannot overflow silently. Floats never touch it.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u64);

/// An amount out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("amount {0} is above the maximum of {MAX_MONEY} base units")]
pub struct AmountTooLarge(pub u64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const MAX: Amount = Amount(MAX_MONEY);
    pub const ONE_COIN: Amount = Amount(COIN);

    /// The amount of `units` base units, if it is at most [`MAX_MONEY`].
    pub const fn from_units(units: u64) -> Result<Amount, AmountTooLarge> {
        if units > MAX_MONEY {
            Err(AmountTooLarge(units))
        } else {
            Ok(Amount(units))
        }
    }

    pub const fn units(self) -> u64 {
        self.0
    }

    /// `self + other`, or `None` when the sum would pass [`MAX_MONEY`].
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0
            .checked_add(other.0)
            .and_then(|n| Amount::from_units(n).ok())
    }

    /// `self - other`, or `None` when it would go below zero.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// The sum of `amounts`, or `None` when any partial sum passes [`MAX_MONEY`].
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(amounts: I) -> Option<Amount> {
        amounts
            .into_iter()
            .try_fold(Amount::ZERO, Amount::checked_add)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl fmt::Display for Amount {
    /// Base units, as the API shows them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Error parsing an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAmountError {
    #[error("an amount is a whole number of base units")]
    NotANumber,
    #[error(transparent)]
    TooLarge(#[from] AmountTooLarge),
}

impl FromStr for Amount {
    type Err = ParseAmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseAmountError::NotANumber);
        }
        let units: u64 = s.parse().map_err(|_| ParseAmountError::NotANumber)?;
        Ok(Amount::from_units(units)?)
    }
}

impl TryFrom<u64> for Amount {
    type Error = AmountTooLarge;
    fn try_from(units: u64) -> Result<Self, Self::Error> {
        Amount::from_units(units)
    }
}

impl Encode for Amount {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl Decode for Amount {
    const MIN_SIZE: usize = 8;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let units = reader.u64()?;
        Amount::from_units(units).map_err(|e| DecodeError::Invalid {
            what: "amount",
            reason: e.to_string(),
        })
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let units = u64::deserialize(d)?;
        Amount::from_units(units).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_maximum_is_allowed_and_one_more_is_not() {
        assert_eq!(Amount::from_units(MAX_MONEY), Ok(Amount::MAX));
        assert_eq!(
            Amount::from_units(MAX_MONEY + 1),
            Err(AmountTooLarge(MAX_MONEY + 1))
        );
        assert_eq!(
            Amount::MAX.checked_add(Amount::from_units(1).unwrap()),
            None
        );
        assert_eq!(
            Amount::ZERO.checked_sub(Amount::from_units(1).unwrap()),
            None
        );
        assert!("-1".parse::<Amount>().is_err());
        assert!("1.5".parse::<Amount>().is_err());
        assert!("".parse::<Amount>().is_err());
    }

    proptest! {
        #[test]
        fn sums_never_pass_the_maximum(units in proptest::collection::vec(0..=MAX_MONEY, 0..20)) {
            let amounts: Vec<Amount> = units.iter().map(|&u| Amount::from_units(u).unwrap()).collect();
            let exact: u128 = units.iter().map(|&u| u128::from(u)).sum();
            match Amount::checked_sum(amounts) {
                Some(sum) => {
                    prop_assert!(sum <= Amount::MAX);
                    prop_assert_eq!(u128::from(sum.units()), exact);
                }
                None => prop_assert!(exact > u128::from(MAX_MONEY)),
            }
        }

        #[test]
        fn any_u64_is_either_a_bounded_amount_or_refused(units: u64) {
            match Amount::from_units(units) {
                Ok(a) => prop_assert!(a.units() <= MAX_MONEY),
                Err(_) => prop_assert!(units > MAX_MONEY),
            }
        }

        #[test]
        fn display_and_parse_round_trip(units in 0..=MAX_MONEY) {
            let amount = Amount::from_units(units).unwrap();
            prop_assert_eq!(amount.to_string().parse::<Amount>(), Ok(amount));
            prop_assert_eq!(crate::encoding::deserialize::<Amount>(&amount.to_bytes()), Ok(amount));
        }
    }
}
