//! The nonce search: hashing an 80-byte header for many nonces on several threads. No HTTP.
//!
//! The header hash is `sha256(sha256(header))`. The first 64 bytes of the header (version,
//! previous hash, most of the Merkle root) do not change with the nonce, so their SHA-256
//! compression is done once ([`Midstate`]); each nonce then costs two compressions: the last 16
//! header bytes with the padding, and the 32-byte digest with its padding.
//!
//! The hash is read as a little-endian 256-bit number and must be at most the target, exactly
//! as `mycoin_core::validation::check_proof_of_work` checks it. Its most significant 32-bit word
//! ([`Target::top_word`]) rejects almost every nonce; the full comparison is made only for the
//! others ([`Hasher::find`]).
//!
//! Two [`Backend`]s hash: [`Backend::Portable`] (any CPU: [`Midstate::hash`], the `sha2`
//! crate's compression twice per nonce) and [`Backend::ShaNi`] (x86-64 with the SHA
//! extensions, detected at run time: `crate::sha_ni`, several nonces interleaved per thread,
//! only the work that depends on the nonce). [`search`] takes the fastest this CPU has;
//! [`search_with`] takes one explicitly (tests and benchmarks compare them).
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
pub(crate) const SHA256_INIT: [u32; 8] = [
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

    /// The target's most significant 32 bits (bytes 28..32, little-endian): a hash whose own
    /// top word (read the same way) is larger does not meet the target.
    #[inline]
    pub fn top_word(&self) -> u32 {
        u32::from_le_bytes([self.0[28], self.0[29], self.0[30], self.0[31]])
    }
}

/// The most significant 32 bits of `hash` read as a little-endian number (see
/// [`Target::top_word`]).
#[inline]
fn top_word(hash: &[u8; 32]) -> u32 {
    u32::from_le_bytes([hash[28], hash[29], hash[30], hash[31]])
}

/// How the search hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Any CPU: [`Midstate::hash`], the `sha2` crate's compression twice per nonce.
    Portable,
    /// x86-64 SHA extensions (`crate::sha_ni`): several nonces interleaved per thread, the
    /// nonce-independent work done once per header, the last rounds left out.
    ShaNi,
}

impl Backend {
    /// The fastest backend this CPU runs (checked at run time).
    pub fn detect() -> Backend {
        if Backend::ShaNi.is_available() {
            Backend::ShaNi
        } else {
            Backend::Portable
        }
    }

    /// Whether this CPU runs the backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::ShaNi => crate::sha_ni::is_available(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::ShaNi => false,
        }
    }
}

/// A header prepared for hashing any nonce with one [`Backend`].
#[derive(Debug, Clone)]
pub struct Hasher(HasherImpl);

#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per search, made once and shared by reference"
)]
enum HasherImpl {
    Portable(Midstate),
    #[cfg(target_arch = "x86_64")]
    ShaNi(crate::sha_ni::ShaNi),
}

impl Hasher {
    /// Prepares `header` (its nonce is ignored) for `backend`, or for [`Backend::Portable`]
    /// when this CPU cannot run `backend`.
    pub fn new(header: &Header, backend: Backend) -> Hasher {
        match backend {
            Backend::Portable => Hasher(HasherImpl::Portable(Midstate::new(header))),
            #[cfg(target_arch = "x86_64")]
            Backend::ShaNi => match crate::sha_ni::ShaNi::new(header) {
                Some(sha_ni) => Hasher(HasherImpl::ShaNi(sha_ni)),
                None => Hasher::new(header, Backend::Portable),
            },
            #[cfg(not(target_arch = "x86_64"))]
            Backend::ShaNi => Hasher::new(header, Backend::Portable),
        }
    }

    /// The backend actually used.
    pub fn backend(&self) -> Backend {
        match self.0 {
            HasherImpl::Portable(_) => Backend::Portable,
            #[cfg(target_arch = "x86_64")]
            HasherImpl::ShaNi(_) => Backend::ShaNi,
        }
    }

    /// `sha256d` of the header with `nonce`, in internal byte order (as [`BlockHash`] holds it).
    pub fn hash(&self, nonce: u32) -> [u8; 32] {
        match &self.0 {
            HasherImpl::Portable(midstate) => midstate.hash(nonce),
            #[cfg(target_arch = "x86_64")]
            HasherImpl::ShaNi(sha_ni) => sha_ni.hash(nonce),
        }
    }

    /// The first nonce of `nonces` (clamped to [`NONCE_SPACE`]) whose hash's most significant
    /// word is at most `target`'s: a superset of the nonces that meet `target`.
    pub fn first_candidate(&self, nonces: Range<u64>, target: Target) -> Option<u32> {
        let limit = target.top_word();
        match &self.0 {
            HasherImpl::Portable(midstate) => (nonces.start..nonces.end.min(NONCE_SPACE.end))
                // In range: below 2^32.
                .map(|nonce| nonce as u32)
                .find(|&nonce| top_word(&midstate.hash(nonce)) <= limit),
            #[cfg(target_arch = "x86_64")]
            HasherImpl::ShaNi(sha_ni) => sha_ni.scan(nonces, limit),
        }
    }

    /// The first nonce of `nonces` (clamped to [`NONCE_SPACE`]) whose hash meets `target`,
    /// with that hash.
    pub fn find(&self, nonces: Range<u64>, target: Target) -> Option<(u32, [u8; 32])> {
        let mut from = nonces.start;
        while let Some(nonce) = self.first_candidate(from..nonces.end, target) {
            let hash = self.hash(nonce);
            if target.is_met_by(&hash) {
                return Some((nonce, hash));
            }
            from = u64::from(nonce) + 1;
        }
        None
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
/// Hashes with the fastest [`Backend`] this CPU has ([`Backend::detect`]).
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
    search_with(
        Backend::detect(),
        header,
        target,
        range,
        threads,
        stop,
        counters,
    )
}

/// [`search`] with `backend` (or [`Backend::Portable`] if this CPU cannot run it).
pub fn search_with(
    backend: Backend,
    header: &Header,
    target: Target,
    range: Range<u64>,
    threads: usize,
    stop: &AtomicBool,
    counters: &[&AtomicU64],
) -> Outcome {
    let range = range.start.min(NONCE_SPACE.end)..range.end.min(NONCE_SPACE.end);
    let hasher = Hasher::new(header, backend);
    let found: Mutex<Option<(u32, [u8; 32])>> = Mutex::new(None);
    let done = AtomicBool::new(false);
    let parts = split_range(range, threads);

    let completed = std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let (hasher, found, done) = (&hasher, &found, &done);
                scope.spawn(move || search_part(hasher, target, part, stop, done, found, counters))
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
    hasher: &Hasher,
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
        if let Some((nonce, hash)) = hasher.find(start..end, target) {
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
    use mycoin_core::{MerkleRoot, Network};

    /// SplitMix64: reproducible "random" headers, nonces and targets.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn u32(&mut self) -> u32 {
            (self.next() >> 32) as u32
        }

        fn bytes(&mut self) -> [u8; 32] {
            let mut out = [0u8; 32];
            for chunk in out.chunks_exact_mut(8) {
                chunk.copy_from_slice(&self.next().to_le_bytes());
            }
            out
        }

        fn header(&mut self) -> Header {
            Header {
                version: self.u32(),
                prev_hash: BlockHash(self.bytes()),
                merkle_root: MerkleRoot(self.bytes()),
                time: self.u32(),
                bits: CompactTarget(self.u32()),
                nonce: self.u32(),
            }
        }

        /// A target met by about one hash in `2^difficulty_bits`, its low bytes random.
        fn target(&mut self, difficulty_bits: u32) -> Target {
            let mut bytes = self.bytes();
            let top = self.u32() >> difficulty_bits;
            bytes[28..].copy_from_slice(&top.to_le_bytes());
            Target::from_le_bytes(bytes)
        }
    }

    /// The backends this CPU runs.
    fn backends() -> Vec<Backend> {
        [Backend::Portable, Backend::ShaNi]
            .into_iter()
            .filter(|backend| backend.is_available())
            .collect()
    }

    fn with_nonce(header: &Header, nonce: u32) -> Header {
        Header { nonce, ..*header }
    }

    #[test]
    fn the_portable_backend_is_used_when_asked_or_when_sha_ni_is_missing() {
        let header = Network::Regtest.params().genesis_block().header;
        assert!(Backend::Portable.is_available());
        assert_eq!(
            Hasher::new(&header, Backend::Portable).backend(),
            Backend::Portable
        );
        let sha_ni = Backend::ShaNi.is_available();
        assert_eq!(
            Hasher::new(&header, Backend::ShaNi).backend(),
            if sha_ni {
                Backend::ShaNi
            } else {
                Backend::Portable
            }
        );
        assert_eq!(
            Backend::detect(),
            if sha_ni {
                Backend::ShaNi
            } else {
                Backend::Portable
            }
        );
        #[cfg(target_arch = "x86_64")]
        assert_eq!(crate::sha_ni::ShaNi::new(&header).is_some(), sha_ni);
    }

    #[test]
    fn every_backend_hashes_random_headers_as_the_consensus_code_does() {
        let mut rng = Rng(1);
        for _ in 0..300 {
            let header = rng.header();
            let hashers: Vec<Hasher> = backends()
                .into_iter()
                .map(|backend| Hasher::new(&header, backend))
                .collect();
            for nonce in [0, 1, 3, 4, u32::MAX, rng.u32(), rng.u32(), rng.u32()] {
                let expected = with_nonce(&header, nonce).block_hash().0;
                for hasher in &hashers {
                    assert_eq!(
                        hasher.hash(nonce),
                        expected,
                        "{:?} {header:?} nonce {nonce}",
                        hasher.backend()
                    );
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(sha_ni) = crate::sha_ni::ShaNi::new(&header) {
                    assert_eq!(sha_ni.hash(nonce), expected, "SHA-NI {header:?}");
                    assert_eq!(
                        sha_ni.top_word(nonce),
                        top_word(&expected),
                        "SHA-NI {header:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_backend_finds_the_first_nonce_the_consensus_code_accepts() {
        let mut rng = Rng(2);
        for round in 0..60 {
            let header = rng.header();
            let difficulty = 5 + rng.u32() % 4;
            let target = rng.target(difficulty);
            let start = match round % 3 {
                0 => u64::from(rng.u32()),
                // Ranges that end at the end of the nonce space.
                1 => NONCE_SPACE.end - u64::from(rng.u32() % 2_000),
                _ => u64::from(rng.u32() % 100),
            };
            let end = (start + u64::from(rng.u32() % 2_000)).min(NONCE_SPACE.end);
            let expected = (start..end).map(|nonce| nonce as u32).find_map(|nonce| {
                let hash = with_nonce(&header, nonce).block_hash().0;
                target.is_met_by(&hash).then_some((nonce, hash))
            });
            let candidate = (start..end).map(|nonce| nonce as u32).find(|&nonce| {
                top_word(&with_nonce(&header, nonce).block_hash().0) <= target.top_word()
            });
            for backend in backends() {
                let hasher = Hasher::new(&header, backend);
                assert_eq!(
                    hasher.find(start..end, target),
                    expected,
                    "{backend:?} {start}..{end}"
                );
                assert_eq!(
                    hasher.first_candidate(start..end, target),
                    candidate,
                    "{backend:?} {start}..{end}"
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sha_ni_scans_like_the_consensus_code_one_lane_or_interleaved() {
        use crate::sha_ni::ShaNi;
        let mut rng = Rng(3);
        for round in 0..40 {
            let header = rng.header();
            let shift = 4 + rng.u32() % 4;
            let limit = rng.u32() >> shift;
            let start = if round % 4 == 0 {
                NONCE_SPACE.end - 70
            } else {
                u64::from(rng.u32())
            };
            for len in [0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 65, 1_001] {
                let range = start..(start + len).min(NONCE_SPACE.end);
                let expected = range
                    .clone()
                    .map(|nonce| nonce as u32)
                    .find(|&nonce| top_word(&with_nonce(&header, nonce).block_hash().0) <= limit);
                let Some(sha_ni) = ShaNi::new(&header) else {
                    eprintln!("no SHA-NI on this CPU: not tested");
                    return;
                };
                assert_eq!(sha_ni.scan(range.clone(), limit), expected, "{range:?}");
                assert_eq!(
                    sha_ni.scan_one_lane(range.clone(), limit),
                    expected,
                    "{range:?}"
                );
            }
        }
    }

    #[test]
    fn a_top_word_tie_is_settled_by_the_full_comparison() {
        let header = Network::Regtest.params().genesis_block().header;
        let nonce = 12_345;
        let hash = with_nonce(&header, nonce).block_hash().0;
        // Same top word, every lower byte zero: the hash is larger.
        let mut below = [0u8; 32];
        below[28..].copy_from_slice(&hash[28..]);
        let below = Target::from_le_bytes(below);
        for backend in backends() {
            let hasher = Hasher::new(&header, backend);
            assert_eq!(
                hasher.first_candidate(nonce as u64..nonce as u64 + 1, below),
                Some(nonce)
            );
            assert_eq!(
                hasher.find(nonce as u64..nonce as u64 + 1, below),
                None,
                "{backend:?}"
            );
            let exact = Target::from_le_bytes(hash);
            assert_eq!(
                hasher.find(nonce as u64..nonce as u64 + 1, exact),
                Some((nonce, hash)),
                "{backend:?}"
            );
        }
    }

    #[test]
    fn search_finds_the_same_first_nonce_with_either_backend() {
        let mut rng = Rng(4);
        let stop = AtomicBool::new(false);
        for _ in 0..20 {
            let header = rng.header();
            let target = rng.target(10);
            let outcomes: Vec<Outcome> = backends()
                .into_iter()
                .map(|backend| search_with(backend, &header, target, NONCE_SPACE, 1, &stop, &[]))
                .collect();
            let Outcome::Found { nonce, hash } = outcomes[0] else {
                panic!("{outcomes:?}");
            };
            assert!(
                outcomes.iter().all(|outcome| *outcome == outcomes[0]),
                "{outcomes:?}"
            );
            assert_eq!(with_nonce(&header, nonce).block_hash(), hash);
            assert!(target.is_met_by(&hash.0));
            assert_eq!(
                search(&header, target, NONCE_SPACE, 1, &stop, &[]),
                outcomes[0]
            );
        }
    }

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
