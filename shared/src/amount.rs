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

/// Decimal places of a coin: one base unit is 0.00000001 coin.
pub const COIN_DECIMALS: usize = 8;

/// Suffix naming an amount in base units where coins are the default (`60000000u`).
pub const UNITS_SUFFIX: &str = "u";

/// Error reading an amount written for people: coins with up to 8 decimals (`0.6`), or base
/// units with the [`UNITS_SUFFIX`] (`60000000u`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseCoinsError {
    #[error("no amount given")]
    Empty,
    #[error("{0:?}: an amount cannot be negative")]
    Negative(String),
    #[error("{0:?}: a coin has 8 decimals; more are not an amount")]
    TooManyDecimals(String),
    #[error(
        "{0:?} is not an amount: write coins with up to 8 decimals (0.6) or base units with the suffix u (60000000u)"
    )]
    Invalid(String),
    #[error("{0:?} is above the maximum of 21000000 coins")]
    TooLarge(String),
}

impl Amount {
    /// Reads an amount written for people: coins with up to 8 decimals (`50`, `0.6`,
    /// `0.00000001`), or base units with the suffix `u` (`60000000u`). Nothing is rounded:
    /// more than 8 decimals, a sign, or more than [`MAX_MONEY`] is refused.
    pub fn parse_coins(text: &str) -> Result<Amount, ParseCoinsError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(ParseCoinsError::Empty);
        }
        if s.starts_with('-') {
            return Err(ParseCoinsError::Negative(text.to_owned()));
        }
        let invalid = || ParseCoinsError::Invalid(text.to_owned());
        let too_large = || ParseCoinsError::TooLarge(text.to_owned());
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if let Some(units) = s.strip_suffix(UNITS_SUFFIX) {
            if !digits(units) {
                return Err(invalid());
            }
            let units: u64 = units.parse().map_err(|_| too_large())?;
            return Amount::from_units(units).map_err(|_| too_large());
        }
        let (whole, fraction) = match s.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (s, ""),
        };
        let whole_ok = digits(whole) || (whole.is_empty() && !fraction.is_empty());
        if !whole_ok || !(fraction.is_empty() || digits(fraction)) || s.ends_with('.') {
            return Err(invalid());
        }
        if fraction.len() > COIN_DECIMALS {
            return Err(ParseCoinsError::TooManyDecimals(text.to_owned()));
        }
        // 21 million coins have 8 whole digits: anything longer is too large, and the
        // checked maths below stays in u64.
        let whole = whole.trim_start_matches('0');
        if whole.len() > 8 {
            return Err(too_large());
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let fraction: u64 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<COIN_DECIMALS$}")
                .parse()
                .map_err(|_| invalid())?
        };
        let units = whole
            .checked_mul(COIN)
            .and_then(|u| u.checked_add(fraction))
            .ok_or_else(too_large)?;
        Amount::from_units(units).map_err(|_| too_large())
    }

    /// The amount in coins, as [`Amount::parse_coins`] reads it back: `50`, `0.6`,
    /// `0.00000001` (no trailing zeros, no exponent).
    pub fn to_coins_string(self) -> String {
        let whole = self.0 / COIN;
        let fraction = self.0 % COIN;
        if fraction == 0 {
            whole.to_string()
        } else {
            let fraction = format!("{fraction:0COIN_DECIMALS$}");
            format!("{whole}.{}", fraction.trim_end_matches('0'))
        }
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

    #[test]
    fn coins_are_read_exactly_and_bad_ones_refused_with_a_reason() {
        let ok = |s: &str| Amount::parse_coins(s).unwrap().units();
        assert_eq!(ok("0.6"), 60_000_000);
        assert_eq!(ok("50"), 50 * COIN);
        assert_eq!(ok(".5"), 50_000_000);
        assert_eq!(ok("0.00000001"), 1);
        assert_eq!(ok("60000000u"), 60_000_000);
        assert_eq!(ok("21000000"), MAX_MONEY);
        assert_eq!(ok("0021000000.00000000"), MAX_MONEY);
        let err = |s: &str| Amount::parse_coins(s).unwrap_err();
        assert!(matches!(
            err("0.000000001"),
            ParseCoinsError::TooManyDecimals(_)
        ));
        assert!(matches!(err("-1"), ParseCoinsError::Negative(_)));
        assert!(matches!(err("-0.5"), ParseCoinsError::Negative(_)));
        assert!(matches!(
            err("21000000.00000001"),
            ParseCoinsError::TooLarge(_)
        ));
        assert!(matches!(
            err("99999999999999999999"),
            ParseCoinsError::TooLarge(_)
        ));
        assert!(matches!(
            err("99999999999999999999u"),
            ParseCoinsError::TooLarge(_)
        ));
        assert!(matches!(
            err("2100000000000001u"),
            ParseCoinsError::TooLarge(_)
        ));
        assert!(matches!(err(""), ParseCoinsError::Empty));
        for bad in [
            "1.", ".", "1e3", "1,5", "+1", "0x10", "u", "1.5u", "abc", "1 2",
        ] {
            assert!(matches!(err(bad), ParseCoinsError::Invalid(_)), "{bad}");
        }
        assert!(err("0.123456789").to_string().contains("8 decimals"));
        assert!(err("-3").to_string().contains("negative"));
        assert!(err("30000000").to_string().contains("maximum"));
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
        fn coins_round_trip_exactly(units in 0..=MAX_MONEY) {
            let amount = Amount::from_units(units).unwrap();
            prop_assert_eq!(Amount::parse_coins(&amount.to_coins_string()), Ok(amount));
            prop_assert_eq!(Amount::parse_coins(&format!("{units}u")), Ok(amount));
            // The same amount with all 8 decimals written out.
            let padded = format!("{}.{:08}", units / COIN, units % COIN);
            prop_assert_eq!(Amount::parse_coins(&padded), Ok(amount));
        }

        #[test]
        fn more_than_eight_decimals_are_refused(whole in 0u64..21_000_000, fraction in "[0-9]{9,20}") {
            let text = format!("{whole}.{fraction}");
            prop_assert!(matches!(
                Amount::parse_coins(&text),
                Err(ParseCoinsError::TooManyDecimals(_))
            ));
        }

        #[test]
        fn negative_amounts_are_refused(units in 0..=MAX_MONEY) {
            let amount = Amount::from_units(units).unwrap();
            let negative = format!("-{}", amount.to_coins_string());
            prop_assert!(matches!(Amount::parse_coins(&negative), Err(ParseCoinsError::Negative(_))));
            let in_units = format!("-{units}u");
            prop_assert!(matches!(Amount::parse_coins(&in_units), Err(ParseCoinsError::Negative(_))));
        }

        #[test]
        fn amounts_above_the_maximum_are_refused(units in (MAX_MONEY + 1)..=u64::MAX) {
            let in_units = format!("{units}u");
            prop_assert!(matches!(Amount::parse_coins(&in_units), Err(ParseCoinsError::TooLarge(_))));
            let coins = format!("{}.{:08}", units / COIN, units % COIN);
            prop_assert!(matches!(Amount::parse_coins(&coins), Err(ParseCoinsError::TooLarge(_))));
        }

        #[test]
        fn display_and_parse_round_trip(units in 0..=MAX_MONEY) {
            let amount = Amount::from_units(units).unwrap();
            prop_assert_eq!(amount.to_string().parse::<Amount>(), Ok(amount));
            prop_assert_eq!(crate::encoding::deserialize::<Amount>(&amount.to_bytes()), Ok(amount));
        }
    }
}
