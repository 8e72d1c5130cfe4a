//! mycoin's canonical binary encoding.
//!
//! Every byte that is hashed, signed, sent to a peer or stored as a blob goes through these two
//! traits, never through serde: nobody can hash JSON by accident. Integers are little-endian,
//! lengths are Bitcoin's CompactSize in its shortest form, and [`deserialize`] rejects trailing
//! bytes. Decoding never allocates from a length read off the wire without first checking that the
//! remaining input could hold that many items (see [`Decode::MIN_SIZE`]).

use thiserror::Error;

/// Why a byte string is not the canonical encoding of a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("unexpected end of input: needed {needed} more bytes")]
    UnexpectedEnd { needed: usize },
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    #[error("CompactSize {0} is not in its shortest form")]
    NonCanonicalCompactSize(u64),
    #[error("length {len} exceeds the limit {max}")]
    LengthTooLarge { len: u64, max: u64 },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

/// A value with one canonical byte encoding.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The encoding as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A value that can be read back from its canonical encoding.
pub trait Decode: Sized {
    /// The fewest bytes any encoding of this type takes. Used to cap allocations: a length prefix
    /// `n` is only trusted when `n * MIN_SIZE` bytes remain in the input.
    const MIN_SIZE: usize;

    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Decodes exactly one value from `bytes`; trailing bytes are an error.
pub fn deserialize<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut reader = Reader::new(bytes);
    let value = T::decode(&mut reader)?;
    match reader.remaining() {
        0 => Ok(value),
        n => Err(DecodeError::TrailingBytes(n)),
    }
}

/// A cursor over input bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::UnexpectedEnd {
                needed: n - self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Bitcoin's CompactSize, rejecting any encoding that is not the shortest.
    pub fn compact_size(&mut self) -> Result<u64, DecodeError> {
        let (value, min) = match self.u8()? {
            0xfd => (u64::from(self.u16()?), 0xfd),
            0xfe => (u64::from(self.u32()?), 0x1_0000),
            0xff => (self.u64()?, 0x1_0000_0000),
            n => return Ok(u64::from(n)),
        };
        if value < min {
            return Err(DecodeError::NonCanonicalCompactSize(value));
        }
        Ok(value)
    }

    /// Reads a count of items of type `T`, trusting it only if the remaining input could hold
    /// that many items and it is at most `max`.
    pub fn count<T: Decode>(&mut self, max: usize) -> Result<usize, DecodeError> {
        let len = self.compact_size()?;
        let fits = (self.remaining() / T::MIN_SIZE.max(1)) as u64;
        let limit = fits.min(max as u64);
        if len > limit {
            return Err(DecodeError::LengthTooLarge { len, max: limit });
        }
        Ok(len as usize)
    }

    /// Reads a CompactSize-prefixed vector of at most `max` items.
    pub fn vec<T: Decode>(&mut self, max: usize) -> Result<Vec<T>, DecodeError> {
        let len = self.count::<T>(max)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::decode(self)?);
        }
        Ok(items)
    }
}

/// Appends Bitcoin's CompactSize encoding of `n`.
pub fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Number of bytes [`write_compact_size`] writes for `n`.
pub fn compact_size_len(n: u64) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Appends a CompactSize count followed by each item.
pub fn write_vec<T: Encode>(out: &mut Vec<u8>, items: &[T]) {
    write_compact_size(out, items.len() as u64);
    for item in items {
        item.encode(out);
    }
}

macro_rules! impl_int {
    ($($t:ty => $read:ident),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            const MIN_SIZE: usize = std::mem::size_of::<$t>();
            fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
                reader.$read()
            }
        }
    )*};
}
impl_int!(u8 => u8, u16 => u16, u32 => u32, u64 => u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_size_boundaries_round_trip() {
        for n in [
            0,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_compact_size(&mut out, n);
            assert_eq!(out.len(), compact_size_len(n));
            assert_eq!(Reader::new(&out).compact_size(), Ok(n));
        }
    }

    #[test]
    fn compact_size_rejects_non_shortest_forms() {
        // 0xfc written with the three-byte form, 0xffff with the five-byte form.
        for bytes in [&[0xfd, 0xfc, 0x00][..], &[0xfe, 0xff, 0xff, 0x00, 0x00]] {
            assert!(matches!(
                Reader::new(bytes).compact_size(),
                Err(DecodeError::NonCanonicalCompactSize(_))
            ));
        }
    }

    #[test]
    fn a_huge_count_is_refused_before_any_allocation() {
        // Claims 2^64-1 items of u32 with four bytes of input.
        let bytes = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4,
        ];
        let err = Reader::new(&bytes).vec::<u32>(usize::MAX).unwrap_err();
        assert_eq!(
            err,
            DecodeError::LengthTooLarge {
                len: u64::MAX,
                max: 1
            }
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(
            deserialize::<u32>(&[1, 0, 0, 0, 9]),
            Err(DecodeError::TrailingBytes(1))
        );
        assert_eq!(deserialize::<u32>(&[1, 0, 0, 0]), Ok(1));
    }
}
