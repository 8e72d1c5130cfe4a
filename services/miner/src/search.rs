//! The nonce search: hashing an 80-byte header for many nonces on several threads. No HTTP.
//!
//! The header hash is `sha256(sha256(header))`. The first 64 bytes of the header (version,
//! previous hash, most of the Merkle root) do not change with the nonce, so their SHA-256
//! compression is done once ([`Midstate`]); each nonce then costs two compressions: the last 16
//! header bytes with the padding, and the 32-byte digest with its padding.
//!
//! The hash is read as a little-endian 256-bit number and must be at most the target, exactly
//! as `mycoin_core::validation::check_proof_of_work` checks it.
//!
//! [`search`] splits a nonce range into one disjoint part per thread ([`split_range`]), runs
//! the threads with [`std::thread::scope`], and stops them all as soon as one finds a nonce,
//! the caller raises the stop flag, or the range is done.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mycoin_core::pow::BitsError;
use mycoin_core::{BlockHash, CompactTarget, Header};
use sha2::block_api::compress256;

/// Every nonce a header can carry: `0..2^32`.
pub const NONCE_SPACE: Range<u64> = 0..(1u64 << 32);

/// Nonces a thread hashes between two looks at the stop flags (and two counter updates).
pub const BATCH: u64 = 4096;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_INIT: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The number of threads to use by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
}

/// A target as the 32 little-endian bytes of a 256-bit number: a hash meets it when the hash,
/// read little-endian, is at most this number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target([u8; 32]);

impl Target {
    /// The easiest possible target: every hash meets it.
    pub const MAX: Target = Target([0xff; 32]);

    /// The target of compact `bits`.
    pub fn from_bits(bits: CompactTarget) -> Result<Target, BitsError> {
        Ok(Target(bits.target()?.to_le_bytes::<32>()))
    }

    /// A target from its little-endian bytes.
    pub fn from_le_bytes(bytes: [u8; 32]) -> Target {
        Target(bytes)
    }

    /// Whether `hash` (internal byte order, as in [`BlockHash`]) meets the target.
    #[inline]
    pub fn is_met_by(&self, hash: &[u8; 32]) -> bool {
        // Compare as little-endian numbers: the most significant byte is the last.
        for i in (0..32).rev() {
            if hash[i] != self.0[i] {
                return hash[i] < self.0[i];
            }
        }
        true
    }
}

/// A header with the SHA-256 state after its first 64 bytes, ready to hash any nonce.
#[derive(Debug, Clone)]
pub struct Midstate {
    state: [u32; 8],
    /// Second block of the first hash: header bytes 64..80, then padding for 80 bytes.
    tail: [u8; 64],
}

impl Midstate {
    /// Precomputes the first compression of `header`.
    pub fn new(header: &Header) -> Midstate {
        let bytes = header.to_array();
        let mut state = SHA256_INIT;
        let mut first = [0u8; 64];
        first.copy_from_slice(&bytes[..64]);
        compress256(&mut state, &[first]);
        let mut tail = [0u8; 64];
        tail[..16].copy_from_slice(&bytes[64..]);
        tail[16] = 0x80;
        tail[56..].copy_from_slice(&(80u64 * 8).to_be_bytes());
        Midstate { state, tail }
    }

    /// `sha256d` of the header with `nonce`, in internal byte order (as [`BlockHash`] holds it).
    #[inline]
    pub fn hash(&self, nonce: u32) -> [u8; 32] {
        let mut tail = self.tail;
        tail[12..16].copy_from_slice(&nonce.to_le_bytes());
        let mut state = self.state;
        compress256(&mut state, &[tail]);

        let mut second = [0u8; 64];
        for (chunk, word) in second[..32].chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        second[32] = 0x80;
        second[56..].copy_from_slice(&(32u64 * 8).to_be_bytes());
        let mut state = SHA256_INIT;
        compress256(&mut state, &[second]);

        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `nonce` gives a header whose hash meets the target.
    Found {
        /// The nonce.
        nonce: u32,
        /// The header's hash with it.
        hash: BlockHash,
    },
    /// Every nonce of the range was tried; none meets the target.
    Exhausted,
    /// The stop flag was raised first.
    Stopped,
}

/// Splits `range` into at most `parts` disjoint, contiguous ranges covering it, the first ones
/// one longer when it does not divide evenly. An empty range gives no parts.
pub fn split_range(range: Range<u64>, parts: usize) -> Vec<Range<u64>> {
    let len = range.end.saturating_sub(range.start);
    if len == 0 {
        return Vec::new();
    }
    let parts = (parts.max(1) as u64).min(len);
    let (size, extra) = (len / parts, len % parts);
    let mut start = range.start;
    (0..parts)
        .map(|i| {
            let end = start + size + u64::from(i < extra);
            let part = start..end;
            start = end;
            part
        })
        .collect()
}

/// Searches `range` (a part of [`NONCE_SPACE`]; larger values are ignored) for a nonce that
/// makes `header` meet `target`, on `threads` threads. Each thread adds the nonces it hashed to
/// every counter of `counters` (e.g. the job's and the service's totals) after each [`BATCH`].
/// Raising `stop` ends the search within a batch.
///
/// Blocks the calling thread: from async code, run it with `spawn_blocking`.
pub fn search(
    header: &Header,
    target: Target,
    range: Range<u64>,
    threads: usize,
    stop: &AtomicBool,
    counters: &[&AtomicU64],
) -> Outcome {
    let range = range.start.min(NONCE_SPACE.end)..range.end.min(NONCE_SPACE.end);
    let midstate = Midstate::new(header);
    let found: Mutex<Option<(u32, [u8; 32])>> = Mutex::new(None);
    let done = AtomicBool::new(false);
    let parts = split_range(range, threads);

    let completed = std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let (midstate, found, done) = (&midstate, &found, &done);
                scope
                    .spawn(move || search_part(midstate, target, part, stop, done, found, counters))
            })
            .collect();
        // Join every thread before looking at the results.
        let completed: Vec<bool> = workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or(false))
            .collect();
        completed.into_iter().all(|done| done)
    });

    match found
        .into_inner()
        .unwrap_or_else(|poison| poison.into_inner())
    {
        Some((nonce, hash)) => Outcome::Found {
            nonce,
            hash: BlockHash(hash),
        },
        None if completed => Outcome::Exhausted,
        None => Outcome::Stopped,
    }
}

/// One thread's share: returns whether it went through its whole part without being stopped.
fn search_part(
    midstate: &Midstate,
    target: Target,
    part: Range<u64>,
    stop: &AtomicBool,
    done: &AtomicBool,
    found: &Mutex<Option<(u32, [u8; 32])>>,
    counters: &[&AtomicU64],
) -> bool {
    let mut start = part.start;
    while start < part.end {
        if stop.load(Ordering::Relaxed) || done.load(Ordering::Relaxed) {
            return false;
        }
        let end = (start + BATCH).min(part.end);
        for nonce in start..end {
            // Nonces stay below 2^32: `search` clamps the range.
            let nonce = nonce as u32;
            let hash = midstate.hash(nonce);
            if target.is_met_by(&hash) {
                let hashed = u64::from(nonce) - start + 1;
                for counter in counters {
                    counter.fetch_add(hashed, Ordering::Relaxed);
                }
                let mut slot = found.lock().unwrap_or_else(|poison| poison.into_inner());
                if slot.is_none() {
                    *slot = Some((nonce, hash));
                }
                done.store(true, Ordering::Relaxed);
                return true;
            }
        }
        for counter in counters {
            counter.fetch_add(end - start, Ordering::Relaxed);
        }
        start = end;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_core::Network;

    #[test]
    fn midstate_hash_is_the_block_hash() {
        let mut header = Network::Regtest.params().genesis_block().header;
        let midstate = Midstate::new(&header);
        for nonce in [0, 1, 0xdead_beef, u32::MAX] {
            header.nonce = nonce;
            assert_eq!(midstate.hash(nonce), header.block_hash().0);
        }
    }

    #[test]
    fn targets_compare_as_little_endian_numbers() {
        let mut target = [0u8; 32];
        target[30] = 0x10;
        let target = Target::from_le_bytes(target);
        let mut hash = [0xffu8; 32];
        hash[31] = 0;
        hash[30] = 0x0f;
        assert!(target.is_met_by(&hash));
        hash[30] = 0x10;
        assert!(!target.is_met_by(&hash));
        let mut equal = [0u8; 32];
        equal[30] = 0x10;
        assert!(target.is_met_by(&equal));
        assert!(Target::MAX.is_met_by(&[0xff; 32]));
    }
}
