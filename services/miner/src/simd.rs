//! The nonce search's hashing on wide SIMD vectors: one nonce per 32-bit lane, 8 nonces per
//! AVX2 vector ([`Width::Avx2`]) or 16 per AVX-512 vector ([`Width::Avx512`]).
//!
//! Where SHA-NI (`crate::sha_ni`) runs one hash's rounds on a dedicated unit, this is plain
//! SHA-256 written with vector adds, rotates and logic, the same code on every lane: nonces
//! `n, n + 1, ..` side by side. It does per nonce only what depends on the nonce:
//!
//! - block 1 (header bytes 0..64) is the midstate, compressed once per header;
//! - block 2 (header bytes 64..80 and padding): its word 3 is the nonce, every other word is
//!   fixed. Rounds 0..2 are done once per header, round 3 is one add per lane, rounds 4..15
//!   use precomputed `W + K`, and the message schedule's terms made of fixed words only are
//!   precomputed ([`Prepared::new`]; words 16, 17 entirely);
//! - block 3 (the 32-byte first hash and padding): words 8..15 are fixed, so their `W + K`
//!   and schedule terms are constants, and round 0, which starts from the initial state, is
//!   two adds;
//! - only the hash's most significant 32-bit word is computed: the final `h`, which is `e`
//!   after round 60 (`h64 = g63 = f62 = e61`), so block 3 stops there and its schedule at word
//!   60. The caller finishes the comparison (with [`Simd::hash`]) only for the rare nonce whose
//!   top word is at most the target's.
//!
//! The kernel is written once ([`sha256d_kernel!`]) over a handful of vector operations that
//! each width defines with its own intrinsics (`avx2`, `avx512`): AVX-512 has rotates and
//! three-input logic (`vpternlogd`) in one instruction each, AVX2 builds them from shifts.
//!
//! Why the `unsafe` is sound: every `#[target_feature]` function here is called only through a
//! [`Simd`], and [`Simd::new`] makes one only after `is_x86_feature_detected!` confirmed every
//! feature its width is compiled for ([`Width::is_available`]). The other `unsafe` is a
//! `transmute` from a vector to an array of the same size, which every bit pattern fills.

#![allow(unsafe_code)]

use std::ops::Range;

use mycoin_core::Header;
use sha2::block_api::compress256;

use crate::search::SHA256_INIT;

/// SHA-256's round constants (FIPS 180-4, 4.2.2).
#[rustfmt::skip]
const K: [u32; 64] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
];

/// Block 2's word 4 and block 3's word 8: the padding's first bit.
const PAD: u32 = 0x8000_0000;
/// Block 2's word 15: the message length in bits (an 80-byte header).
const LEN_HEADER: u32 = 80 * 8;
/// Block 3's word 15: the message length in bits (a 32-byte hash).
const LEN_HASH: u32 = 32 * 8;

/// How many nonces a vector holds, and which instructions hash them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// 8 nonces per 256-bit vector (AVX2).
    Avx2,
    /// 16 nonces per 512-bit vector (AVX-512 F and BW).
    Avx512,
}

impl Width {
    /// Nonces hashed side by side.
    pub const fn lanes(self) -> usize {
        match self {
            Width::Avx2 => avx2::LANES,
            Width::Avx512 => avx512::LANES,
        }
    }

    /// The CPU features the width's kernel is compiled for.
    pub const fn features(self) -> &'static str {
        match self {
            Width::Avx2 => avx2::FEATURES,
            Width::Avx512 => avx512::FEATURES,
        }
    }

    /// Whether this CPU has every feature of [`Width::features`].
    pub fn is_available(self) -> bool {
        match self {
            Width::Avx2 => is_x86_feature_detected!("avx2"),
            Width::Avx512 => {
                is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
            }
        }
    }
}

/// A header prepared for hashing any nonce with one [`Width`]. Holding one proves the CPU has
/// the features that width is compiled for.
#[derive(Debug, Clone)]
pub struct Simd {
    width: Width,
    prepared: Prepared,
}

impl Simd {
    /// Prepares `header` (its nonce is ignored), or `None` when the CPU lacks `width`'s
    /// features.
    pub fn new(header: &Header, width: Width) -> Option<Simd> {
        width.is_available().then(|| Simd {
            width,
            prepared: Prepared::new(header),
        })
    }

    /// The width it hashes with.
    pub fn width(&self) -> Width {
        self.width
    }

    /// `sha256d` of the header with `nonce`, in internal byte order (as `BlockHash` holds it):
    /// every round of both blocks, on lane 0 of a vector.
    pub fn hash(&self, nonce: u32) -> [u8; 32] {
        let p = &self.prepared;
        let state = match self.width {
            // SAFETY: `self` exists, so the CPU has the width's features (`Simd::new`).
            Width::Avx2 => unsafe { avx2::hash(p, nonce) },
            // SAFETY: as above.
            Width::Avx512 => unsafe { avx512::hash(p, nonce) },
        };
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// The first nonce of `nonces` (clamped to `0..2^32`) whose hash's most significant word,
    /// the hash read as a little-endian 256-bit number, is at most `limit`.
    pub fn scan(&self, nonces: Range<u64>, limit: u32) -> Option<u32> {
        let p = &self.prepared;
        match self.width {
            // SAFETY: as in `hash`.
            Width::Avx2 => unsafe { avx2::scan(p, nonces, limit) },
            // SAFETY: as in `hash`.
            Width::Avx512 => unsafe { avx512::scan(p, nonces, limit) },
        }
    }
}

fn big_s0(a: u32) -> u32 {
    a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22)
}

fn big_s1(e: u32) -> u32 {
    e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25)
}

fn small_s0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

fn small_s1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

/// One SHA-256 round on a scalar state `[a, b, c, d, e, f, g, h]` with `W + K` = `wk`.
fn round(s: [u32; 8], wk: u32) -> [u32; 8] {
    let [a, b, c, d, e, f, g, h] = s;
    let t1 = h
        .wrapping_add(big_s1(e))
        .wrapping_add((e & f) ^ (!e & g))
        .wrapping_add(wk);
    let t2 = big_s0(a).wrapping_add((a & b) ^ (a & c) ^ (b & c));
    [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g]
}

/// Everything about a header that does not depend on the nonce, as scalars (the kernels
/// broadcast them). `b2_*` is block 2, `b3_*` block 3; `wN` a message word.
#[derive(Debug, Clone)]
struct Prepared {
    /// The state after the header's first 64 bytes.
    mid: [u32; 8],
    /// Block 2's state after its rounds 0..2 (they use words 0..2, fixed).
    b2_s3: [u32; 8],
    /// Round 3's new `a` and `e` without the nonce word: each lane adds its word.
    b2_a4: u32,
    b2_e4: u32,
    /// `W + K` of block 2's rounds 4..15 (fixed words), at index `round`.
    b2_wk: [u32; 16],
    /// Block 2's schedule words 16 and 17 (fixed), and the fixed terms of words 18, 19, 30,
    /// 31, 32 (the rest are below, written out in the kernel).
    b2_w16: u32,
    b2_w17: u32,
    b2_w18: u32,
    b2_w19: u32,
    b2_w30: u32,
    b2_w31: u32,
    b2_w32: u32,
    /// Block 3's round 0 from the initial state: new `a` and `e` without word 0.
    b3_a1: u32,
    b3_e1: u32,
    /// Fixed terms of block 3's schedule words 17, 23, 30.
    b3_w17: u32,
    b3_w23: u32,
    b3_w30: u32,
}

impl Prepared {
    fn new(header: &Header) -> Prepared {
        let bytes = header.to_array();
        let mut mid = SHA256_INIT;
        let mut first = [0u8; 64];
        first.copy_from_slice(&bytes[..64]);
        compress256(&mut mid, &[first]);
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };

        // Block 2, its nonce word 3 left zero (it enters no term below).
        let mut w = [0u32; 16];
        w[..3].copy_from_slice(&[word(64), word(68), word(72)]);
        w[4] = PAD;
        w[15] = LEN_HEADER;
        let b2_s3 = (0..3).fold(mid, |s, i| round(s, w[i].wrapping_add(K[i])));
        let [a, b, c, d, e, f, g, h] = b2_s3;
        let t1 = h
            .wrapping_add(big_s1(e))
            .wrapping_add((e & f) ^ (!e & g))
            .wrapping_add(K[3]);
        let t2 = big_s0(a).wrapping_add((a & b) ^ (a & c) ^ (b & c));
        let (b2_a4, b2_e4) = (t1.wrapping_add(t2), d.wrapping_add(t1));
        let mut b2_wk = [0u32; 16];
        for i in 4..16 {
            b2_wk[i] = w[i].wrapping_add(K[i]);
        }
        // W(i) = σ1(W(i-2)) + W(i-7) + σ0(W(i-15)) + W(i-16).
        let w16 = small_s0(w[1]).wrapping_add(w[0]);
        let w17 = small_s1(w[15])
            .wrapping_add(small_s0(w[2]))
            .wrapping_add(w[1]);

        // Block 3 from the initial state: round 0's `T1` is `wk0` plus its word 0.
        let [a, b, c, _, e, f, g, h] = SHA256_INIT;
        let b3_t1 = h
            .wrapping_add(big_s1(e))
            .wrapping_add((e & f) ^ (!e & g))
            .wrapping_add(K[0]);
        let b3_t2 = big_s0(a).wrapping_add((a & b) ^ (a & c) ^ (b & c));

        Prepared {
            mid,
            b2_s3,
            b2_a4,
            b2_e4,
            b2_wk,
            b2_w16: w16,
            b2_w17: w17,
            // + σ0(nonce word)
            b2_w18: small_s1(w16).wrapping_add(w[2]),
            // + nonce word
            b2_w19: small_s1(w17).wrapping_add(small_s0(w[4])),
            // σ1(W28) + W23 + this
            b2_w30: small_s0(w[15]),
            // σ1(W29) + W24 + this
            b2_w31: small_s0(w16).wrapping_add(w[15]),
            // σ1(W30) + W25 + this
            b2_w32: small_s0(w17).wrapping_add(w16),
            b3_a1: b3_t1.wrapping_add(b3_t2),
            b3_e1: SHA256_INIT[3].wrapping_add(b3_t1),
            b3_w17: small_s1(LEN_HASH),
            b3_w23: small_s0(PAD),
            b3_w30: small_s0(LEN_HASH),
        }
    }
}

/// Rounds `i` of the list with `W(i) + K(i)`, `W` from the array `$w`, inside
/// [`sha256d_kernel!`] (`round`, `add`, `splat` are the width's).
macro_rules! rounds {
    ($s:ident, $w:ident, $($i:literal)*) => {
        $( $s = round($s, add($w[$i], splat(K[$i]))); )*
    };
}

/// Schedule words `i` of the list: `σ1(W(i-2)) + W(i-7) + σ0(W(i-15)) + W(i-16)`, inside
/// [`sha256d_kernel!`].
macro_rules! schedule {
    ($w:ident, $($i:literal)*) => {
        $( $w[$i] = add4(small_s1($w[$i - 2]), $w[$i - 7], small_s0($w[$i - 15]), $w[$i - 16]); )*
    };
}

/// The kernel, expanded once per width inside a module that defines `V` (the vector),
/// `LANES`, `FEATURES` (a string literal, also passed as `$features`) and these operations on
/// 32-bit lanes: `splat`, `add`, `big_s0`, `big_s1`, `small_s0`, `small_s1`, `ch`, `maj`,
/// `lane_index` (lane `i` holds `i`), `bswap` (each lane's bytes reversed), `le_mask` (bit `i`
/// set when lane `i` is at most a limit, unsigned) and `to_array`.
macro_rules! sha256d_kernel {
    ($features:literal) => {
        use std::ops::Range;

        use super::{K, LEN_HASH, PAD, Prepared, SHA256_INIT};

        /// Adds of three and four vectors (modulo 2^32 per lane).
        #[inline]
        #[target_feature(enable = $features)]
        fn add3(a: V, b: V, c: V) -> V {
            add(add(a, b), c)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn add4(a: V, b: V, c: V, d: V) -> V {
            add(add(a, b), add(c, d))
        }

        /// One round on every lane; `wk` is `W + K`.
        #[inline]
        #[target_feature(enable = $features)]
        fn round(s: [V; 8], wk: V) -> [V; 8] {
            let [a, b, c, d, e, f, g, h] = s;
            let t1 = add4(h, big_s1(e), ch(e, f, g), wk);
            let t2 = add(big_s0(a), maj(a, b, c));
            [add(t1, t2), a, b, c, add(d, t1), e, f, g]
        }

        /// The first hash (`sha256` of the header) of the nonces whose big-endian words are
        /// `nonce`, as eight words per lane: block 3's words 0..7.
        #[inline]
        #[target_feature(enable = $features)]
        fn first_hash(p: &Prepared, nonce: V) -> [V; 8] {
            let s3 = p.b2_s3.map(|x| splat(x));
            // Round 3: the nonce word enters `T1`.
            let mut s = [
                add(nonce, splat(p.b2_a4)),
                s3[0],
                s3[1],
                s3[2],
                add(nonce, splat(p.b2_e4)),
                s3[4],
                s3[5],
                s3[6],
            ];
            for i in 4..16 {
                s = round(s, splat(p.b2_wk[i]));
            }
            // Words 0..15 never enter the schedule below but through the fixed terms.
            let mut w = [splat(0); 64];
            w[16] = splat(p.b2_w16);
            w[17] = splat(p.b2_w17);
            w[18] = add(splat(p.b2_w18), small_s0(nonce));
            w[19] = add(splat(p.b2_w19), nonce);
            w[20] = add(small_s1(w[18]), splat(PAD));
            w[21] = small_s1(w[19]);
            w[22] = add(small_s1(w[20]), splat(super::LEN_HEADER));
            w[23] = add(small_s1(w[21]), w[16]);
            w[24] = add(small_s1(w[22]), w[17]);
            w[25] = add(small_s1(w[23]), w[18]);
            w[26] = add(small_s1(w[24]), w[19]);
            w[27] = add(small_s1(w[25]), w[20]);
            w[28] = add(small_s1(w[26]), w[21]);
            w[29] = add(small_s1(w[27]), w[22]);
            w[30] = add3(small_s1(w[28]), w[23], splat(p.b2_w30));
            w[31] = add3(small_s1(w[29]), w[24], splat(p.b2_w31));
            w[32] = add3(small_s1(w[30]), w[25], splat(p.b2_w32));
            schedule!(w, 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48);
            schedule!(w, 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);
            rounds!(s, w, 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
            rounds!(s, w, 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47);
            rounds!(s, w, 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);
            std::array::from_fn(|i| add(s[i], splat(p.mid[i])))
        }

        /// Block 3 of the first hashes `h1`, rounds 0..=60: the state then (its `e` is the
        /// final `h` less the initial `h`), and the schedule up to word 63.
        #[inline]
        #[target_feature(enable = $features)]
        fn second_hash_to_round_60(p: &Prepared, h1: [V; 8]) -> ([V; 8], [V; 64]) {
            let iv = SHA256_INIT.map(|x| splat(x));
            // Words 8..15 are fixed: they enter only through constants below.
            let mut w: [V; 64] = std::array::from_fn(|i| if i < 8 { h1[i] } else { splat(0) });
            // Round 0, from the initial state.
            let mut s = [
                add(w[0], splat(p.b3_a1)),
                iv[0],
                iv[1],
                iv[2],
                add(w[0], splat(p.b3_e1)),
                iv[4],
                iv[5],
                iv[6],
            ];
            rounds!(s, w, 1 2 3 4 5 6 7);
            // Rounds 8..15: fixed words.
            s = round(s, splat(PAD.wrapping_add(K[8])));
            for i in 9..15 {
                s = round(s, splat(K[i]));
            }
            s = round(s, splat(LEN_HASH.wrapping_add(K[15])));
            // Words 9..14 are zero, 8 and 15 fixed.
            w[16] = add(small_s0(w[1]), w[0]);
            w[17] = add3(small_s0(w[2]), w[1], splat(p.b3_w17));
            w[18] = add3(small_s1(w[16]), small_s0(w[3]), w[2]);
            w[19] = add3(small_s1(w[17]), small_s0(w[4]), w[3]);
            w[20] = add3(small_s1(w[18]), small_s0(w[5]), w[4]);
            w[21] = add3(small_s1(w[19]), small_s0(w[6]), w[5]);
            w[22] = add4(small_s1(w[20]), splat(LEN_HASH), small_s0(w[7]), w[6]);
            w[23] = add4(small_s1(w[21]), w[16], splat(p.b3_w23), w[7]);
            w[24] = add3(small_s1(w[22]), w[17], splat(PAD));
            w[25] = add(small_s1(w[23]), w[18]);
            w[26] = add(small_s1(w[24]), w[19]);
            w[27] = add(small_s1(w[25]), w[20]);
            w[28] = add(small_s1(w[26]), w[21]);
            w[29] = add(small_s1(w[27]), w[22]);
            w[30] = add3(small_s1(w[28]), w[23], splat(p.b3_w30));
            w[31] = add4(small_s1(w[29]), w[24], small_s0(w[16]), splat(LEN_HASH));
            schedule!(w, 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47);
            schedule!(w, 48 49 50 51 52 53 54 55 56 57 58 59 60);
            rounds!(s, w, 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
            rounds!(s, w, 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47);
            rounds!(s, w, 48 49 50 51 52 53 54 55 56 57 58 59 60);
            (s, w)
        }

        /// The big-endian message words of nonces `first, first + 1, ..` (wrapping).
        #[inline]
        #[target_feature(enable = $features)]
        fn nonce_words(first: u32) -> V {
            // The nonce is stored little-endian; SHA-256 reads its words big-endian.
            bswap(add(splat(first), lane_index()))
        }

        /// The full `sha256d` state (eight big-endian words) of `nonce`.
        #[target_feature(enable = $features)]
        pub(super) fn hash(p: &Prepared, nonce: u32) -> [u32; 8] {
            let (mut s, mut w) = second_hash_to_round_60(p, first_hash(p, nonce_words(nonce)));
            schedule!(w, 61 62 63);
            rounds!(s, w, 61 62 63);
            let iv = SHA256_INIT.map(|x| splat(x));
            std::array::from_fn(|i| to_array(add(s[i], iv[i]))[0])
        }

        /// The first nonce of `nonces` (clamped to `0..2^32`) whose hash's top word is at
        /// most `limit`, [`LANES`] nonces per vector; the last vector's lanes past the range
        /// are ignored.
        #[target_feature(enable = $features)]
        pub(super) fn scan(p: &Prepared, nonces: Range<u64>, limit: u32) -> Option<u32> {
            let end = nonces.end.min(1 << 32);
            let limit = splat(limit);
            let h_init = splat(SHA256_INIT[7]);
            let mut nonce = nonces.start;
            while nonce < end {
                // In range: `nonce < 2^32`; lanes past 2^32 wrap, and are masked off below.
                let first = nonce as u32;
                let (s, _) = second_hash_to_round_60(p, first_hash(p, nonce_words(first)));
                // The final `h` is `e` now plus the initial `h`; hash bytes 28..32 are `h`
                // big-endian, and read little-endian that is `h` byte-swapped.
                let top = bswap(add(s[4], h_init));
                let mut hits = le_mask(top, limit);
                let left = end - nonce;
                if left < LANES as u64 {
                    hits &= (1u32 << left) - 1;
                }
                if hits != 0 {
                    return Some(first + hits.trailing_zeros());
                }
                nonce += LANES as u64;
            }
            None
        }
    };
}

/// 8 lanes of AVX2.
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castsi256_ps, _mm256_cmpeq_epi32,
        _mm256_min_epu32, _mm256_movemask_ps, _mm256_or_si256, _mm256_set_epi8, _mm256_set_epi32,
        _mm256_set1_epi32, _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32,
        _mm256_xor_si256,
    };

    type V = __m256i;
    pub(super) const LANES: usize = 8;
    pub(super) const FEATURES: &str = "avx2";

    #[inline]
    #[target_feature(enable = "avx2")]
    fn splat(x: u32) -> V {
        _mm256_set1_epi32(x as i32)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn add(a: V, b: V) -> V {
        _mm256_add_epi32(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn xor(a: V, b: V) -> V {
        _mm256_xor_si256(a, b)
    }

    /// Rotate right by `R`; `L` must be `32 - R`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn ror<const R: i32, const L: i32>(x: V) -> V {
        _mm256_or_si256(_mm256_srli_epi32::<R>(x), _mm256_slli_epi32::<L>(x))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn big_s0(a: V) -> V {
        xor(xor(ror::<2, 30>(a), ror::<13, 19>(a)), ror::<22, 10>(a))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn big_s1(e: V) -> V {
        xor(xor(ror::<6, 26>(e), ror::<11, 21>(e)), ror::<25, 7>(e))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn small_s0(x: V) -> V {
        xor(
            xor(ror::<7, 25>(x), ror::<18, 14>(x)),
            _mm256_srli_epi32::<3>(x),
        )
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn small_s1(x: V) -> V {
        xor(
            xor(ror::<17, 15>(x), ror::<19, 13>(x)),
            _mm256_srli_epi32::<10>(x),
        )
    }

    /// `e ? f : g`, bit by bit.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn ch(e: V, f: V, g: V) -> V {
        xor(_mm256_and_si256(xor(f, g), e), g)
    }

    /// The majority of `a`, `b`, `c`, bit by bit.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn maj(a: V, b: V, c: V) -> V {
        xor(_mm256_and_si256(xor(a, b), xor(b, c)), b)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn lane_index() -> V {
        _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn bswap(x: V) -> V {
        #[rustfmt::skip]
        let order = _mm256_set_epi8(
            12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
            12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
        );
        _mm256_shuffle_epi8(x, order)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn le_mask(x: V, limit: V) -> u32 {
        // x ≤ limit (unsigned) exactly when min(x, limit) = x.
        let le = _mm256_cmpeq_epi32(_mm256_min_epu32(x, limit), x);
        _mm256_movemask_ps(_mm256_castsi256_ps(le)) as u32
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn to_array(x: V) -> [u32; LANES] {
        // SAFETY: same size, and any bits are a valid `[u32; 8]`.
        unsafe { std::mem::transmute::<V, [u32; LANES]>(x) }
    }

    sha256d_kernel!("avx2");
}

/// 16 lanes of AVX-512.
mod avx512 {
    use std::arch::x86_64::{
        __m512i, _mm512_add_epi32, _mm512_cmple_epu32_mask, _mm512_ror_epi32, _mm512_set_epi32,
        _mm512_set1_epi32, _mm512_shuffle_epi8, _mm512_srli_epi32, _mm512_ternarylogic_epi32,
    };

    type V = __m512i;
    pub(super) const LANES: usize = 16;
    pub(super) const FEATURES: &str = "avx512f,avx512bw";

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn splat(x: u32) -> V {
        _mm512_set1_epi32(x as i32)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn add(a: V, b: V) -> V {
        _mm512_add_epi32(a, b)
    }

    /// `a ^ b ^ c` in one instruction.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn xor3(a: V, b: V, c: V) -> V {
        _mm512_ternarylogic_epi32::<0x96>(a, b, c)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn big_s0(a: V) -> V {
        xor3(
            _mm512_ror_epi32::<2>(a),
            _mm512_ror_epi32::<13>(a),
            _mm512_ror_epi32::<22>(a),
        )
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn big_s1(e: V) -> V {
        xor3(
            _mm512_ror_epi32::<6>(e),
            _mm512_ror_epi32::<11>(e),
            _mm512_ror_epi32::<25>(e),
        )
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn small_s0(x: V) -> V {
        xor3(
            _mm512_ror_epi32::<7>(x),
            _mm512_ror_epi32::<18>(x),
            _mm512_srli_epi32::<3>(x),
        )
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn small_s1(x: V) -> V {
        xor3(
            _mm512_ror_epi32::<17>(x),
            _mm512_ror_epi32::<19>(x),
            _mm512_srli_epi32::<10>(x),
        )
    }

    /// `e ? f : g`, bit by bit, in one instruction.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn ch(e: V, f: V, g: V) -> V {
        _mm512_ternarylogic_epi32::<0xca>(e, f, g)
    }

    /// The majority of `a`, `b`, `c`, bit by bit, in one instruction.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn maj(a: V, b: V, c: V) -> V {
        _mm512_ternarylogic_epi32::<0xe8>(a, b, c)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn lane_index() -> V {
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn bswap(x: V) -> V {
        // Within each 128-bit part: bytes 3, 2, 1, 0 of each word, then 7, 6, 5, 4, ...
        let word = |i: i32| (4 * i + 3) | (4 * i + 2) << 8 | (4 * i + 1) << 16 | (4 * i) << 24;
        let (w0, w1, w2, w3) = (word(0), word(1), word(2), word(3));
        let order = _mm512_set_epi32(
            w3, w2, w1, w0, w3, w2, w1, w0, w3, w2, w1, w0, w3, w2, w1, w0,
        );
        _mm512_shuffle_epi8(x, order)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn le_mask(x: V, limit: V) -> u32 {
        u32::from(_mm512_cmple_epu32_mask(x, limit))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn to_array(x: V) -> [u32; LANES] {
        // SAFETY: same size, and any bits are a valid `[u32; 16]`.
        unsafe { std::mem::transmute::<V, [u32; LANES]>(x) }
    }

    sha256d_kernel!("avx512f,avx512bw");
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_core::Network;

    /// Lane by lane, a vector's nonces hash as the consensus code hashes them; a width the CPU
    /// lacks is skipped, and says why.
    #[test]
    fn every_lane_hashes_the_genesis_header_as_the_consensus_code_does() {
        let genesis = Network::Regtest.params().genesis_block().header;
        for width in [Width::Avx2, Width::Avx512] {
            let Some(simd) = Simd::new(&genesis, width) else {
                eprintln!(
                    "{width:?} skipped: this CPU lacks one of {}",
                    width.features()
                );
                continue;
            };
            assert_eq!(simd.width(), width);
            for nonce in (0..40).chain([0xdead_beef, u32::MAX - 1, u32::MAX]) {
                let hash = Header { nonce, ..genesis }.block_hash().0;
                assert_eq!(simd.hash(nonce), hash, "{width:?} nonce {nonce}");
                let top = u32::from_le_bytes([hash[28], hash[29], hash[30], hash[31]]);
                // Every nonce at every lane position: a scan from each start finds it first.
                for start in nonce.saturating_sub(width.lanes() as u32 - 1)..=nonce {
                    let range = u64::from(start)..u64::from(nonce) + 1;
                    let found = simd.scan(range.clone(), top);
                    assert!(found.is_some_and(|n| n <= nonce), "{width:?} {range:?}");
                }
            }
        }
    }
}
