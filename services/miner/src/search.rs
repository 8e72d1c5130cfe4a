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
//! Four [`Backend`]s hash: [`Backend::Portable`] (any CPU: [`Midstate::hash`], the `sha2`
//! crate's compression twice per nonce, the oracle of the others), [`Backend::ShaNi`] (x86-64
//! with the SHA extensions: `crate::sha_ni`, several nonces interleaved per thread), and
//! [`Backend::Avx2`] and [`Backend::Avx512`] (`crate::simd`: 8 or 16 nonces per vector). The
//! three fast ones do only the work that depends on the nonce, and exist only where
//! `is_x86_feature_detected!` finds their features. Which of them is fastest depends on the
//! core, so it is measured: [`measure`] times each one this CPU has for a fraction of a second,
//! and [`Backend::detect`] is the winner of one such measurement per process ([`fastest`]).
//! [`search`] takes that one; [`search_with`] takes one explicitly (tests, benchmarks, and a
//! miner told which to use).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Any CPU: [`Midstate::hash`], the `sha2` crate's compression twice per nonce.
    Portable,
    /// x86-64 SHA extensions (`crate::sha_ni`): several nonces interleaved per thread, the
    /// nonce-independent work done once per header, the last rounds left out.
    ShaNi,
    /// x86-64 AVX2 (`crate::simd`): 8 nonces per 256-bit vector, with the same savings.
    Avx2,
    /// x86-64 AVX-512 F and BW (`crate::simd`): 16 nonces per 512-bit vector, with the same
    /// savings.
    Avx512,
}

impl Backend {
    /// Every backend, the portable one first.
    pub const ALL: [Backend; 4] = [
        Backend::Portable,
        Backend::ShaNi,
        Backend::Avx2,
        Backend::Avx512,
    ];

    /// The fastest backend this CPU runs, measured once per process ([`fastest`]).
    pub fn detect() -> Backend {
        fastest().chosen
    }

    /// The backends this CPU runs, the portable one first.
    pub fn available() -> Vec<Backend> {
        Backend::ALL
            .into_iter()
            .filter(|backend| backend.is_available())
            .collect()
    }

    /// Whether this CPU runs the backend (checked at run time).
    pub fn is_available(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::ShaNi => crate::sha_ni::is_available(),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => crate::simd::Width::Avx2.is_available(),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => crate::simd::Width::Avx512.is_available(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::ShaNi | Backend::Avx2 | Backend::Avx512 => false,
        }
    }

    /// The CPU features the backend needs, as `is_x86_feature_detected!` names them.
    pub fn features(self) -> &'static str {
        match self {
            Backend::Portable => "none",
            Backend::ShaNi => "sha, sse2, ssse3, sse4.1 (x86-64)",
            Backend::Avx2 => "avx2 (x86-64)",
            Backend::Avx512 => "avx512f, avx512bw (x86-64)",
        }
    }

    /// The backend's name in settings, logs and the API: `portable`, `sha_ni`, `avx2`,
    /// `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::ShaNi => "sha_ni",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of [`measure`]: every backend this CPU runs with its rate, and the fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The fastest backend.
    pub chosen: Backend,
    /// Each backend this CPU runs with its nonces per second on one thread, in
    /// [`Backend::ALL`]'s order.
    pub rates: Vec<(Backend, f64)>,
}

/// Rounds of [`measure`]: each backend is timed once per round, the rounds interleaved, and
/// its best round counts (a burst of other work on a shared machine slows one round, not all).
const MEASURE_ROUNDS: u32 = 5;

/// Times every backend this CPU runs on one thread for about `budget` in all, scanning nonces
/// of a fixed header, and names the fastest.
pub fn measure(budget: std::time::Duration) -> Measured {
    use std::time::Instant;
    let header = Header {
        version: 1,
        prev_hash: BlockHash([0x11; 32]),
        merkle_root: mycoin_core::MerkleRoot([0x22; 32]),
        time: 1_700_000_000,
        bits: CompactTarget(0x1d00_ffff),
        nonce: 0,
    };
    // A zero limit: only a hash whose top 32 bits are zero would be a candidate.
    let impossible = Target::from_le_bytes([0; 32]);
    let hashers: Vec<Hasher> = Backend::available()
        .into_iter()
        .map(|backend| Hasher::new(&header, backend))
        .collect();
    let slice = budget / (MEASURE_ROUNDS * hashers.len() as u32);
    let mut best = vec![0f64; hashers.len()];
    let mut next = 0u64;
    for _ in 0..MEASURE_ROUNDS {
        for (hasher, best) in hashers.iter().zip(&mut best) {
            let started = Instant::now();
            let mut hashed = 0u64;
            while started.elapsed() < slice {
                let from = next % (NONCE_SPACE.end - BATCH);
                std::hint::black_box(hasher.first_candidate(from..from + BATCH, impossible));
                hashed += BATCH;
                next += BATCH;
            }
            *best = best.max(hashed as f64 / started.elapsed().as_secs_f64());
        }
    }
    let rates: Vec<(Backend, f64)> = hashers.iter().map(Hasher::backend).zip(best).collect();
    let chosen = rates
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(Backend::Portable, |(backend, _)| backend);
    Measured { chosen, rates }
}

/// How long [`fastest`] measures: a fraction of a second.
pub const MEASURE_BUDGET: std::time::Duration = std::time::Duration::from_millis(400);

/// [`measure`] over [`MEASURE_BUDGET`], done once per process (the CPU does not change).
pub fn fastest() -> &'static Measured {
    static FASTEST: std::sync::OnceLock<Measured> = std::sync::OnceLock::new();
    FASTEST.get_or_init(|| measure(MEASURE_BUDGET))
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
    #[cfg(target_arch = "x86_64")]
    Simd(crate::simd::Simd),
}

impl Hasher {
    /// Prepares `header` (its nonce is ignored) for `backend`, or for [`Backend::Portable`]
    /// when this CPU cannot run `backend`.
    pub fn new(header: &Header, backend: Backend) -> Hasher {
        #[cfg(target_arch = "x86_64")]
        {
            use crate::simd::{Simd, Width};
            let fast = match backend {
                Backend::Portable => None,
                Backend::ShaNi => crate::sha_ni::ShaNi::new(header).map(HasherImpl::ShaNi),
                Backend::Avx2 => Simd::new(header, Width::Avx2).map(HasherImpl::Simd),
                Backend::Avx512 => Simd::new(header, Width::Avx512).map(HasherImpl::Simd),
            };
            if let Some(fast) = fast {
                return Hasher(fast);
            }
        }
        Hasher(HasherImpl::Portable(Midstate::new(header)))
    }

    /// The backend actually used.
    pub fn backend(&self) -> Backend {
        match &self.0 {
            HasherImpl::Portable(_) => Backend::Portable,
            #[cfg(target_arch = "x86_64")]
            HasherImpl::ShaNi(_) => Backend::ShaNi,
            #[cfg(target_arch = "x86_64")]
            HasherImpl::Simd(simd) => match simd.width() {
                crate::simd::Width::Avx2 => Backend::Avx2,
                crate::simd::Width::Avx512 => Backend::Avx512,
            },
        }
    }

    /// `sha256d` of the header with `nonce`, in internal byte order (as [`BlockHash`] holds it).
    pub fn hash(&self, nonce: u32) -> [u8; 32] {
        match &self.0 {
            HasherImpl::Portable(midstate) => midstate.hash(nonce),
            #[cfg(target_arch = "x86_64")]
            HasherImpl::ShaNi(sha_ni) => sha_ni.hash(nonce),
            #[cfg(target_arch = "x86_64")]
            HasherImpl::Simd(simd) => simd.hash(nonce),
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
            #[cfg(target_arch = "x86_64")]
            HasherImpl::Simd(simd) => simd.scan(nonces, limit),
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
        Priority::Normal,
        header,
        target,
        range,
        threads,
        stop,
        counters,
    )
}

/// The CPU priority of the search's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// The default priority: benchmarks, and a search someone waits for.
    Normal,
    /// The lowest (nice 19, as CPU miners run by default): on a busy machine the node and its
    /// readers come first, on an idle one the search still has every core.
    Background,
}

impl Priority {
    /// Applies to the calling thread (on Linux, a thread's nice value is its own).
    #[allow(unsafe_code)]
    fn apply(self) {
        #[cfg(target_os = "linux")]
        if self == Priority::Background {
            // SAFETY: setpriority only reads its integer arguments; `who` 0 is this thread.
            let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
            if result != 0 {
                tracing::debug!("could not lower the search thread's priority");
            }
        }
    }
}

/// [`search`] with `backend` (or [`Backend::Portable`] if this CPU cannot run it), its threads
/// at `priority`.
#[allow(clippy::too_many_arguments)]
pub fn search_with(
    backend: Backend,
    priority: Priority,
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
                scope.spawn(move || {
                    priority.apply();
                    search_part(hasher, target, part, stop, done, found, counters)
                })
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

    /// The backends this CPU runs; each one it lacks is named on stderr with the reason (the
    /// tests that compare backends then pass without it).
    fn backends() -> Vec<Backend> {
        for backend in Backend::ALL {
            if !backend.is_available() {
                eprintln!(
                    "backend {backend} skipped: this CPU lacks its features ({})",
                    backend.features()
                );
            }
        }
        Backend::available()
    }

    fn with_nonce(header: &Header, nonce: u32) -> Header {
        Header { nonce, ..*header }
    }

    /// The oracle: the first nonce of `range` whose hash (the consensus code's) has a top
    /// word at most `limit`.
    fn oracle_candidate(header: &Header, range: Range<u64>, limit: u32) -> Option<u32> {
        range
            .map(|nonce| nonce as u32)
            .find(|&nonce| top_word(&with_nonce(header, nonce).block_hash().0) <= limit)
    }

    #[test]
    fn each_backend_is_used_when_asked_or_the_portable_one_when_the_cpu_lacks_it() {
        let header = Network::Regtest.params().genesis_block().header;
        assert!(Backend::Portable.is_available());
        for backend in Backend::ALL {
            let expected = if backend.is_available() {
                backend
            } else {
                Backend::Portable
            };
            assert_eq!(Hasher::new(&header, backend).backend(), expected);
        }
        assert!(Backend::detect().is_available());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            crate::sha_ni::ShaNi::new(&header).is_some(),
            Backend::ShaNi.is_available()
        );
    }

    #[test]
    fn the_measurement_rates_every_available_backend_and_picks_the_fastest() {
        let measured = measure(std::time::Duration::from_millis(40));
        let rated: Vec<Backend> = measured.rates.iter().map(|&(backend, _)| backend).collect();
        assert_eq!(rated, Backend::available());
        assert!(measured.rates.iter().all(|&(_, rate)| rate > 0.0));
        let best = measured
            .rates
            .iter()
            .map(|&(_, rate)| rate)
            .fold(0.0, f64::max);
        assert!(
            measured.rates.contains(&(measured.chosen, best)),
            "{measured:?}"
        );
        eprintln!("{measured:?}");
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

    /// Every length of range around the vector widths (0..=17, 31..=33, ...), from random
    /// starts and from starts just below the end of the nonce space, where a vector's last
    /// lanes would wrap to nonce 0.
    #[test]
    fn every_backend_scans_like_the_consensus_code_at_every_lane_position() {
        let mut rng = Rng(3);
        let lens = (0..=17).chain([31, 32, 33, 63, 64, 65, 1_001]);
        for round in 0..24 {
            let header = rng.header();
            let shift = 3 + rng.u32() % 4;
            let limit = rng.u32() >> shift;
            let start = if round % 3 == 0 {
                NONCE_SPACE.end - 70
            } else {
                u64::from(rng.u32())
            };
            let hashers: Vec<Hasher> = backends()
                .into_iter()
                .map(|backend| Hasher::new(&header, backend))
                .collect();
            for len in lens.clone() {
                let range = start..(start + len).min(NONCE_SPACE.end);
                let expected = oracle_candidate(&header, range.clone(), limit);
                for hasher in &hashers {
                    let target = {
                        let mut bytes = [0xff; 32];
                        bytes[28..].copy_from_slice(&limit.to_le_bytes());
                        Target::from_le_bytes(bytes)
                    };
                    assert_eq!(
                        hasher.first_candidate(range.clone(), target),
                        expected,
                        "{:?} {range:?}",
                        hasher.backend()
                    );
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sha_ni_one_lane_scans_like_interleaved() {
        use crate::sha_ni::ShaNi;
        let mut rng = Rng(5);
        let header = rng.header();
        let Some(sha_ni) = ShaNi::new(&header) else {
            eprintln!(
                "SHA-NI skipped: this CPU lacks {}",
                Backend::ShaNi.features()
            );
            return;
        };
        for len in [0, 1, 3, 4, 5, 9, 1_001] {
            let range = (NONCE_SPACE.end - 70)..(NONCE_SPACE.end - 70 + len).min(NONCE_SPACE.end);
            let limit = rng.u32() >> 5;
            let expected = oracle_candidate(&header, range.clone(), limit);
            assert_eq!(sha_ni.scan(range.clone(), limit), expected, "{range:?}");
            assert_eq!(sha_ni.scan_one_lane(range.clone(), limit), expected);
        }
    }

    /// The miner's time roll: the end of the nonce space at one header time, then nonce 0 on
    /// at the next second. The last vector's lanes past 2^32 wrap to nonces 0, 1, .. of the
    /// same time: they are never reported, even when they would meet the target.
    #[test]
    fn the_end_of_the_nonce_space_and_the_rolled_time_are_searched_as_the_oracle_does() {
        let mut rng = Rng(6);
        for _ in 0..30 {
            let header = rng.header();
            let rolled = Header {
                time: header.time.wrapping_add(1),
                ..header
            };
            // A limit met by nonce 0 of the same time: a wrapped lane would be a candidate.
            let limit = top_word(&with_nonce(&header, 0).block_hash().0);
            let target = {
                let mut bytes = [0xff; 32];
                bytes[28..].copy_from_slice(&limit.to_le_bytes());
                Target::from_le_bytes(bytes)
            };
            let tail = (NONCE_SPACE.end - u64::from(1 + rng.u32() % 20))..NONCE_SPACE.end;
            let head = 0..u64::from(1 + rng.u32() % 40);
            for backend in backends() {
                let (before, after) =
                    (Hasher::new(&header, backend), Hasher::new(&rolled, backend));
                assert_eq!(
                    before.first_candidate(tail.clone(), target),
                    oracle_candidate(&header, tail.clone(), limit),
                    "{backend} {tail:?}"
                );
                assert_eq!(
                    after.first_candidate(head.clone(), target),
                    oracle_candidate(&rolled, head.clone(), limit),
                    "{backend} {head:?} after the roll"
                );
                let found = before.find(tail.clone(), target);
                assert!(
                    found.is_none_or(|(nonce, _)| tail.contains(&u64::from(nonce))),
                    "{backend}: {found:?} outside {tail:?}"
                );
            }
        }
    }

    /// Candidates near the target: targets just below, at and just above a hash the range
    /// holds, the nonce at every lane position. The top word alone cannot tell them apart;
    /// the full comparison must, as the oracle does.
    #[test]
    fn candidates_near_the_target_are_settled_as_the_oracle_settles_them() {
        let mut rng = Rng(7);
        for _ in 0..20 {
            let header = rng.header();
            let start = u64::from(rng.u32() >> 1);
            let nonce = start + u64::from(rng.u32() % 40);
            let range = start..nonce + 1 + u64::from(rng.u32() % 20);
            let hash = with_nonce(&header, nonce as u32).block_hash().0;
            let as_number = |bytes: [u8; 32]| {
                let mut n = [0u64; 4];
                for (limb, chunk) in n.iter_mut().zip(bytes.chunks_exact(8)) {
                    *limb = u64::from_le_bytes(chunk.try_into().unwrap());
                }
                n
            };
            let to_bytes = |n: [u64; 4]| {
                let mut bytes = [0u8; 32];
                for (chunk, limb) in bytes.chunks_exact_mut(8).zip(n) {
                    chunk.copy_from_slice(&limb.to_le_bytes());
                }
                bytes
            };
            // hash - 1 and hash + 1 as 256-bit little-endian numbers (no hash is 0 or 2^256-1
            // in practice; the carries are handled anyway).
            let step = |delta: i64| {
                let mut n = as_number(hash);
                for limb in n.iter_mut() {
                    let (next, carry) = if delta < 0 {
                        limb.overflowing_sub(1)
                    } else {
                        limb.overflowing_add(1)
                    };
                    *limb = next;
                    if !carry {
                        break;
                    }
                }
                Target::from_le_bytes(to_bytes(n))
            };
            for target in [step(-1), Target::from_le_bytes(hash), step(1)] {
                let expected = range.clone().map(|n| n as u32).find_map(|n| {
                    let hash = with_nonce(&header, n).block_hash().0;
                    target.is_met_by(&hash).then_some((n, hash))
                });
                for backend in backends() {
                    let hasher = Hasher::new(&header, backend);
                    assert_eq!(
                        hasher.find(range.clone(), target),
                        expected,
                        "{backend} {range:?} {target:?}"
                    );
                }
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
                .map(|backend| {
                    search_with(
                        backend,
                        Priority::Normal,
                        &header,
                        target,
                        NONCE_SPACE,
                        1,
                        &stop,
                        &[],
                    )
                })
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
