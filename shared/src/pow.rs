//! Proof of work: compact bits, targets and chain work, as in Bitcoin.

use std::fmt;

use ruint::aliases::{U256, U512};

use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::hash::BlockHash;

/// A target in Bitcoin's 32-bit compact form: one exponent byte `e` and a 23-bit mantissa `m`
/// (bit 23 is a sign bit), meaning `m * 256^(e-3)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CompactTarget(pub u32);

/// The full result of decoding compact bits, flags included, as Bitcoin Core's `SetCompact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedBits {
    pub target: U256,
    pub negative: bool,
    pub overflow: bool,
}

/// Why compact bits do not name a usable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BitsError {
    #[error("compact bits {0:#010x} encode a negative number")]
    Negative(u32),
    #[error("compact bits {0:#010x} overflow 256 bits")]
    Overflow(u32),
    #[error("compact bits {0:#010x} encode a zero target")]
    Zero(u32),
}

impl CompactTarget {
    /// Decodes exactly as Bitcoin Core's `arith_uint256::SetCompact`.
    pub fn expand(self) -> DecodedBits {
        let bits = self.0;
        let size = bits >> 24;
        let mut word = bits & 0x007f_ffff;
        let target = if size <= 3 {
            // As in Core, the flags below look at the shifted mantissa.
            word >>= 8 * (3 - size);
            U256::from(word)
        } else if size - 3 < 256 / 8 {
            U256::from(word) << (8 * (size - 3) as usize)
        } else {
            U256::ZERO
        };
        DecodedBits {
            target,
            negative: word != 0 && bits & 0x0080_0000 != 0,
            overflow: word != 0
                && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32)),
        }
    }

    /// The target, if the bits encode a positive number that fits in 256 bits.
    pub fn target(self) -> Result<U256, BitsError> {
        let decoded = self.expand();
        if decoded.negative {
            Err(BitsError::Negative(self.0))
        } else if decoded.overflow {
            Err(BitsError::Overflow(self.0))
        } else if decoded.target.is_zero() {
            Err(BitsError::Zero(self.0))
        } else {
            Ok(decoded.target)
        }
    }

    /// Encodes exactly as Bitcoin Core's `arith_uint256::GetCompact(false)`.
    pub fn from_target(target: U256) -> CompactTarget {
        let mut size = target.bit_len().div_ceil(8) as u32;
        let mut compact: u32 = if size <= 3 {
            (target.to::<u64>() << (8 * (3 - size))) as u32
        } else {
            (target >> (8 * (size - 3) as usize)).to::<u64>() as u32
        };
        // The mantissa's top bit is a sign bit: shift it out of the way.
        if compact & 0x0080_0000 != 0 {
            compact >>= 8;
            size += 1;
        }
        CompactTarget(compact | (size << 24))
    }
}

impl fmt::Debug for CompactTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactTarget({:#010x})", self.0)
    }
}

impl fmt::Display for CompactTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl Encode for CompactTarget {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl Decode for CompactTarget {
    const MIN_SIZE: usize = 4;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CompactTarget(reader.u32()?))
    }
}

/// A block hash read as a 256-bit little-endian number, the way it is compared to the target.
pub fn hash_to_u256(hash: &BlockHash) -> U256 {
    U256::from_le_bytes(hash.0)
}

/// The expected number of hashes to find a block at `target`: 2^256 / (target + 1).
pub fn work_for_target(target: U256) -> U256 {
    // 2^256 does not fit, so compute (2^256 - target - 1) / (target + 1) + 1 as Bitcoin does.
    match target.checked_add(U256::from(1)) {
        Some(divisor) => (!target) / divisor + U256::from(1),
        None => U256::from(1),
    }
}

/// Work as a decimal string, for display.
pub fn work_to_string(work: U256) -> String {
    work.to_string()
}

/// `target * numerator / denominator`, computed without overflow and capped at `limit`.
pub fn scale_target(target: U256, numerator: u64, denominator: u64, limit: U256) -> U256 {
    let wide = U512::from_le_slice(&target.to_le_bytes::<32>()) * U512::from(numerator)
        / U512::from(denominator.max(1));
    let limit_wide = U512::from_le_slice(&limit.to_le_bytes::<32>());
    if wide > limit_wide {
        limit
    } else {
        U256::from_le_slice(&wide.to_le_bytes::<64>()[..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(hex: &str) -> U256 {
        U256::from_str_radix(hex, 16).unwrap()
    }

    /// Bitcoin Core's `arith_uint256_tests/bignum_SetCompact`, pinned as literals:
    /// (bits, target, negative, overflow, bits re-encoded by GetCompact).
    #[test]
    fn bitcoin_core_set_compact_vectors() {
        let cases: &[(u32, &str, bool, bool, u32)] = &[
            (0x0000_0000, "0", false, false, 0),
            (0x0012_3456, "0", false, false, 0),
            (0x0100_3456, "0", false, false, 0),
            (0x0200_0056, "0", false, false, 0),
            (0x0300_0000, "0", false, false, 0),
            (0x0400_0000, "0", false, false, 0),
            (0x0092_3456, "0", false, false, 0),
            (0x0180_3456, "0", false, false, 0),
            (0x0280_0056, "0", false, false, 0),
            (0x0380_0000, "0", false, false, 0),
            (0x0480_0000, "0", false, false, 0),
            (0x0112_3456, "12", false, false, 0x0112_0000),
            (0x0212_3456, "1234", false, false, 0x0212_3400),
            (0x0312_3456, "123456", false, false, 0x0312_3456),
            (0x0412_3456, "12345600", false, false, 0x0412_3456),
            (0x0500_9234, "92340000", false, false, 0x0500_9234),
            (
                0x2012_3456,
                "1234560000000000000000000000000000000000000000000000000000000000",
                false,
                false,
                0x2012_3456,
            ),
        ];
        for &(bits, target, negative, overflow, recoded) in cases {
            let decoded = CompactTarget(bits).expand();
            assert_eq!(decoded.target, u(target), "target of {bits:#x}");
            assert_eq!(decoded.negative, negative, "sign of {bits:#x}");
            assert_eq!(decoded.overflow, overflow, "overflow of {bits:#x}");
            assert_eq!(
                CompactTarget::from_target(decoded.target).0,
                recoded,
                "{bits:#x}"
            );
        }
        // Negative encodings: 0x01fedcba is -0x7e, 0x04923456 is -0x12345600.
        let neg = CompactTarget(0x01fe_dcba).expand();
        assert_eq!((neg.target, neg.negative), (u("7e"), true));
        let neg = CompactTarget(0x0492_3456).expand();
        assert_eq!((neg.target, neg.negative), (u("12345600"), true));
        assert_eq!(
            CompactTarget(0x0492_3456).target(),
            Err(BitsError::Negative(0x0492_3456))
        );
        // 0xff123456 overflows.
        assert!(CompactTarget(0xff12_3456).expand().overflow);
        assert_eq!(
            CompactTarget(0xff12_3456).target(),
            Err(BitsError::Overflow(0xff12_3456))
        );
        // SetHex("80") encodes as 0x02008000: the sign bit forces a longer form.
        assert_eq!(CompactTarget::from_target(u("80")).0, 0x0200_8000);
    }

    #[test]
    fn bitcoins_genesis_difficulty() {
        // 0x1d00ffff is 0x00000000ffff0000...0000 and has 2^32 + 2^16 + 1 ... work ≈ 2^32.
        let target = CompactTarget(0x1d00_ffff).target().unwrap();
        assert_eq!(
            target,
            u("ffff0000000000000000000000000000000000000000000000000000")
        );
        assert_eq!(work_for_target(target), U256::from(0x1_0001_0001u64));
        assert_eq!(
            CompactTarget::from_target(target),
            CompactTarget(0x1d00_ffff)
        );
    }

    #[test]
    fn scaling_is_capped_and_exact() {
        let limit = u("ffff") << 224;
        let t = u("1000");
        assert_eq!(scale_target(t, 3, 2, limit), u("1800"));
        assert_eq!(scale_target(limit, 4, 1, limit), limit);
        assert_eq!(work_for_target(U256::MAX), U256::from(1));
    }
}
