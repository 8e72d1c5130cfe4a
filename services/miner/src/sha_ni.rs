//! The nonce search's hashing with the x86-64 SHA extensions (SHA-NI), several nonces at once.
//!
//! A header's hash is `sha256(sha256(header))`: three compressions, of which the first (header
//! bytes 0..64) does not depend on the nonce. Per nonce this module does the other two, and
//! less than all of them:
//!
//! - block 2 (header bytes 64..80 and padding): words 0..2 and 4..15 are the same for every
//!   nonce, so rounds 0 and 1 are done once per header, and the `W + K` of rounds 4..15 and the
//!   message-schedule terms made of constant words only are precomputed ([`ShaNi::new`]);
//! - block 3 (the 32-byte digest and padding): words 8..15 are constant, so the `W + K` of
//!   rounds 8..15 and the schedule terms made of them only are precomputed;
//! - only the hash's most significant 32-bit word is computed: it is the last state word `h`,
//!   which after round 62 already sits in the `f` lane (`h64 = g63 = f62`), so rounds 62 and 63
//!   are left out. The caller finishes the comparison (with [`ShaNi::hash`]) only for the rare
//!   nonce whose top word is at most the target's.
//!
//! That leaves 62 `sha256rnds2` per nonce. One hash is a single chain of them, bound by their
//! latency (about 4 cycles on the core measured, family 6 model 207), which is also what
//! `openssl speed` measures; the unit accepts a new one about every 3 cycles. [`ShaNi::scan`]
//! therefore hashes [`LANES`] nonces side by side and keeps their chains in step (see
//! `lockstep`), so the CPU overlaps them.
//!
//! The message schedule uses `sha256msg1` for its `σ0` terms. Computing them from shifts and
//! xors instead (to leave the SHA unit to `sha256rnds2`, compiled with AVX) was tried and
//! measured 25-45 % slower on an idle core of the CPU above, so there is one kernel.
//!
//! Why the `unsafe` is sound: every `#[target_feature]` function here is called only through a
//! [`ShaNi`], and [`ShaNi::new`] makes one only after `is_x86_feature_detected!` confirmed every
//! feature they are compiled for ([`is_available`]). The one `asm!` is empty. No raw pointers
//! are used.

#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_cvtsi128_si32, _mm_insert_epi32, _mm_set_epi32,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
    _mm_unpackhi_epi64, _mm_unpacklo_epi64,
};
use std::ops::Range;

use mycoin_core::Header;
use sha2::block_api::compress256;

use crate::search::SHA256_INIT;

/// Nonces hashed side by side by [`ShaNi::scan`].
pub const LANES: usize = 4;

/// SHA-256's round constants (FIPS 180-4, 4.2.2).
#[rustfmt::skip]
const K: [u32; 64] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, // rounds 0..4
    0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5, // rounds 4..8
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, // rounds 8..12
    0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174, // rounds 12..16
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, // rounds 16..20
    0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da, // rounds 20..24
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, // rounds 24..28
    0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967, // rounds 28..32
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, // rounds 32..36
    0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85, // rounds 36..40
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, // rounds 40..44
    0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070, // rounds 44..48
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, // rounds 48..52
    0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3, // rounds 52..56
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, // rounds 56..60
    0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2, // rounds 60..64
];

/// Whether this CPU has SHA-NI and the SSE versions the hashing is compiled for (every CPU
/// with SHA-NI has them).
pub fn is_available() -> bool {
    is_x86_feature_detected!("sha")
        && is_x86_feature_detected!("sse2")
        && is_x86_feature_detected!("ssse3")
        && is_x86_feature_detected!("sse4.1")
}

/// A header prepared for hashing any nonce with SHA-NI. Holding one proves the CPU has the
/// features the hashing is compiled for.
///
/// Vectors hold SHA-256 state the way `sha256rnds2` wants it: `abef` has the words
/// `[f, e, b, a]` from lane 0 up, `cdgh` has `[h, g, d, c]`. Message groups hold four
/// consecutive words `[w(i), w(i+1), w(i+2), w(i+3)]`.
#[derive(Debug, Clone, Copy)]
pub struct ShaNi {
    consts: Consts,
}

/// Everything about a header that does not depend on the nonce.
#[derive(Debug, Clone, Copy)]
struct Consts {
    /// The state after the header's first 64 bytes.
    mid_abef: __m128i,
    mid_cdgh: __m128i,
    /// The state after rounds 0 and 1 of block 2 (they use words 0 and 1 only).
    r2_abef: __m128i,
    r2_cdgh: __m128i,
    /// Block 2's words 0..4, the nonce word 3 left zero.
    b2_w0: __m128i,
    /// Block 2's constant groups (words 4..16: padding and length).
    b2_w1: __m128i,
    b2_w2: __m128i,
    b2_w3: __m128i,
    /// `W + K` of block 2's rounds 4..16, two rounds per vector.
    b2_wk: [__m128i; 6],
    /// Schedule terms of block 2 made of constant words only.
    b2_align32: __m128i,
    b2_msg1_12: __m128i,
    b2_msg1_23: __m128i,
    b2_msg1_34: __m128i,
    /// Block 3's constant groups (words 8..16: padding and length).
    b3_w2: __m128i,
    b3_w3: __m128i,
    /// `W + K` of block 3's rounds 8..16, two rounds per vector.
    b3_wk: [__m128i; 4],
    /// Schedule terms of block 3 made of constant words only.
    b3_align32: __m128i,
    b3_msg1_23: __m128i,
    /// SHA-256's initial state.
    init_abef: __m128i,
    init_cdgh: __m128i,
}

impl ShaNi {
    /// Prepares `header` (its nonce is ignored), or `None` when the CPU lacks SHA-NI.
    pub fn new(header: &Header) -> Option<ShaNi> {
        if !is_available() {
            return None;
        }
        let bytes = header.to_array();
        let mut mid = SHA256_INIT;
        let mut first = [0u8; 64];
        first.copy_from_slice(&bytes[..64]);
        compress256(&mut mid, &[first]);
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let tail = [word(64), word(68), word(72)];
        // SAFETY: the features `prepare` is compiled for were just confirmed.
        let consts = unsafe { prepare(&mid, tail) };
        Some(ShaNi { consts })
    }

    /// `sha256d` of the header with `nonce`, in internal byte order (as `BlockHash` holds it).
    pub fn hash(&self, nonce: u32) -> [u8; 32] {
        // SAFETY: `self` exists, so the CPU has the features (`ShaNi::new`).
        let [state] = unsafe { kernel::full_hash::<1>(&self.consts, nonce) };
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// The most significant 32-bit word of the hash with `nonce`, the hash read as a
    /// little-endian 256-bit number (bytes 28..32 of [`ShaNi::hash`], little-endian).
    pub fn top_word(&self, nonce: u32) -> u32 {
        // SAFETY: as in `hash`.
        let [top] = unsafe { kernel::top_words::<1>(&self.consts, nonce) };
        top
    }

    /// The first nonce of `nonces` (clamped to `0..2^32`) whose hash's [top word](Self::top_word)
    /// is at most `limit`, hashing [`LANES`] nonces at a time.
    pub fn scan(&self, nonces: Range<u64>, limit: u32) -> Option<u32> {
        // SAFETY: as in `hash`.
        unsafe { kernel::scan::<LANES>(&self.consts, nonces, limit) }
    }

    /// [`ShaNi::scan`] one nonce at a time: the baseline of the interleaving.
    pub fn scan_one_lane(&self, nonces: Range<u64>, limit: u32) -> Option<u32> {
        // SAFETY: as in `hash`.
        unsafe { kernel::scan::<1>(&self.consts, nonces, limit) }
    }
}

/// `[w0, w1, w2, w3]` from lane 0 up.
#[inline]
#[target_feature(enable = "sse2")]
fn words(w: [u32; 4]) -> __m128i {
    _mm_set_epi32(w[3] as i32, w[2] as i32, w[1] as i32, w[0] as i32)
}

/// `K` of rounds `4 * group .. 4 * group + 4`.
#[inline]
#[target_feature(enable = "sse2")]
fn k4(group: usize) -> __m128i {
    words([
        K[4 * group],
        K[4 * group + 1],
        K[4 * group + 2],
        K[4 * group + 3],
    ])
}

/// `W + K` of the two rounds `round`, `round + 1`, in the low half.
#[inline]
#[target_feature(enable = "sse2")]
fn wk2(w: &[u32; 16], round: usize) -> __m128i {
    words([
        w[round].wrapping_add(K[round]),
        w[round + 1].wrapping_add(K[round + 1]),
        0,
        0,
    ])
}

/// A state `[a, b, c, d, e, f, g, h]` as `(abef, cdgh)`.
#[inline]
#[target_feature(enable = "sse2")]
fn split_state(s: &[u32; 8]) -> (__m128i, __m128i) {
    (
        words([s[5], s[4], s[1], s[0]]),
        words([s[7], s[6], s[3], s[2]]),
    )
}

/// The [`Consts`] of a header from its midstate and block 2's words 0..3 (header bytes 64..76).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn prepare(mid: &[u32; 8], tail: [u32; 3]) -> Consts {
    let (mid_abef, mid_cdgh) = split_state(mid);
    let (init_abef, init_cdgh) = split_state(&SHA256_INIT);

    let mut b2 = [0u32; 16];
    b2[..3].copy_from_slice(&tail);
    b2[4] = 0x8000_0000;
    b2[15] = 80 * 8;
    let r2_abef = _mm_sha256rnds2_epu32(mid_cdgh, mid_abef, wk2(&b2, 0));
    let b2_w1 = words([b2[4], b2[5], b2[6], b2[7]]);
    let b2_w2 = words([b2[8], b2[9], b2[10], b2[11]]);
    let b2_w3 = words([b2[12], b2[13], b2[14], b2[15]]);
    // Words 16..20 with nonce word 3 zero.
    let b2_w0 = words([b2[0], b2[1], b2[2], b2[3]]);
    let b2_w4 = _mm_sha256msg2_epu32(
        _mm_add_epi32(
            _mm_sha256msg1_epu32(b2_w0, b2_w1),
            _mm_alignr_epi8::<4>(b2_w3, b2_w2),
        ),
        b2_w3,
    );

    let mut b3 = [0u32; 16];
    b3[8] = 0x8000_0000;
    b3[15] = 32 * 8;
    let b3_w2 = words([b3[8], b3[9], b3[10], b3[11]]);
    let b3_w3 = words([b3[12], b3[13], b3[14], b3[15]]);

    Consts {
        mid_abef,
        mid_cdgh,
        r2_abef,
        r2_cdgh: mid_abef,
        b2_w0,
        b2_w1,
        b2_w2,
        b2_w3,
        b2_wk: [4, 6, 8, 10, 12, 14].map(|round| wk2(&b2, round)),
        b2_align32: _mm_alignr_epi8::<4>(b2_w3, b2_w2),
        b2_msg1_12: _mm_sha256msg1_epu32(b2_w1, b2_w2),
        b2_msg1_23: _mm_sha256msg1_epu32(b2_w2, b2_w3),
        // Uses only word 16 of group 4, which does not depend on the nonce either.
        b2_msg1_34: _mm_sha256msg1_epu32(b2_w3, b2_w4),
        b3_w2,
        b3_w3,
        b3_wk: [8, 10, 12, 14].map(|round| wk2(&b3, round)),
        b3_align32: _mm_alignr_epi8::<4>(b3_w3, b3_w2),
        b3_msg1_23: _mm_sha256msg1_epu32(b3_w2, b3_w3),
        init_abef,
        init_cdgh,
    }
}

/// Two rounds on every lane; `$wk` (one vector per lane) has their `W + K` in its low half.
macro_rules! rounds2 {
    ($abef:ident, $cdgh:ident, $wk:expr) => {{
        let wk: [__m128i; N] = $wk;
        for l in 0..N {
            let next = _mm_sha256rnds2_epu32($cdgh[l], $abef[l], wk[l]);
            $cdgh[l] = $abef[l];
            $abef[l] = next;
        }
    }};
}

/// Four rounds on every lane from message group `$w` and round constants `$k`, then the lanes
/// are put in step.
macro_rules! rounds4 {
    ($abef:ident, $cdgh:ident, $w:ident, $k:expr) => {{
        let k = $k;
        let lo: [__m128i; N] = std::array::from_fn(|l| _mm_add_epi32($w[l], k));
        rounds2!($abef, $cdgh, lo);
        rounds2!($abef, $cdgh, lo.map(|v| _mm_shuffle_epi32::<0x0e>(v)));
        for l in 0..N {
            lockstep(&mut $abef[l]);
        }
    }};
}

/// Keeps the lanes in step: an empty `asm!` that the compiler must assume reads and changes
/// `v`, and that it keeps in program order with the others. Without it LLVM lays out each
/// lane's whole chain of rounds after the other's, and the CPU's out-of-order window is too
/// small to overlap them: interleaving then gains nothing.
#[inline(always)]
fn lockstep(v: &mut __m128i) {
    // SAFETY: the assembly is empty: it reads and writes no memory and leaves `v` as it is.
    unsafe {
        std::arch::asm!(
            "/* {0} */",
            inout(xmm_reg) * v,
            options(nomem, nostack, preserves_flags)
        );
    }
}

/// The next message group, on every lane: `$w0 := schedule($w0, $w1, $w2, $w3)`, from
/// `msg1($w0, $w1)` and `alignr($w3, $w2)`; the second form takes those two terms as
/// expressions of the lane `$l` (for the ones precomputed from constant words).
macro_rules! schedule {
    ($w0:ident, $w1:ident, $w2:ident, $w3:ident) => {
        schedule!(
            l,
            $w0,
            $w3,
            msg1($w0[l], $w1[l]),
            _mm_alignr_epi8::<4>($w3[l], $w2[l])
        )
    };
    ($l:ident, $w0:ident, $w3:ident, $msg1:expr, $align:expr) => {
        for $l in 0..N {
            $w0[$l] = _mm_sha256msg2_epu32(_mm_add_epi32($msg1, $align), $w3[$l]);
        }
    };
}

/// Rounds 32 to 59 with their message schedule, the same in both blocks, and the schedule of
/// rounds 60 to 63 (left in `w3`: the blocks end differently).
macro_rules! rounds_32_to_59 {
    ($abef:ident, $cdgh:ident, $w0:ident, $w1:ident, $w2:ident, $w3:ident) => {
        schedule!($w0, $w1, $w2, $w3);
        rounds4!($abef, $cdgh, $w0, k4(8));
        schedule!($w1, $w2, $w3, $w0);
        rounds4!($abef, $cdgh, $w1, k4(9));
        schedule!($w2, $w3, $w0, $w1);
        rounds4!($abef, $cdgh, $w2, k4(10));
        schedule!($w3, $w0, $w1, $w2);
        rounds4!($abef, $cdgh, $w3, k4(11));
        schedule!($w0, $w1, $w2, $w3);
        rounds4!($abef, $cdgh, $w0, k4(12));
        schedule!($w1, $w2, $w3, $w0);
        rounds4!($abef, $cdgh, $w1, k4(13));
        schedule!($w2, $w3, $w0, $w1);
        rounds4!($abef, $cdgh, $w2, k4(14));
        schedule!($w3, $w0, $w1, $w2);
    };
}

/// The hashing functions, compiled for SHA-NI and SSE up to 4.1.
mod kernel {
    use super::*;

    /// `sha256msg1(a, b)`: `a + σ0([a1, a2, a3, b0])`.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn msg1(a: __m128i, b: __m128i) -> __m128i {
        _mm_sha256msg1_epu32(a, b)
    }

    /// Block 2 and block 3 of `N` consecutive nonces from `first`, up to round 62 of
    /// block 3: the states after round 62 and the `W + K` of rounds 62, 63 (low half).
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn to_round_62<const N: usize>(
        c: &Consts,
        first: u32,
    ) -> ([__m128i; N], [__m128i; N], [__m128i; N]) {
        // Block 2, from the state after its rounds 0 and 1.
        let mut abef = [c.r2_abef; N];
        let mut cdgh = [c.r2_cdgh; N];
        let mut w0 = [c.b2_w0; N];
        for (l, w) in w0.iter_mut().enumerate() {
            // The nonce is stored little-endian; SHA-256 reads its words big-endian.
            let nonce = first.wrapping_add(l as u32);
            *w = _mm_insert_epi32::<3>(*w, nonce.swap_bytes() as i32);
        }
        let mut w1 = [c.b2_w1; N];
        let mut w2 = [c.b2_w2; N];
        let mut w3 = [c.b2_w3; N];
        let k0 = k4(0);
        rounds2!(
            abef,
            cdgh,
            w0.map(|w| _mm_shuffle_epi32::<0x0e>(_mm_add_epi32(w, k0)))
        );
        for wk in c.b2_wk {
            rounds2!(abef, cdgh, [wk; N]);
        }
        // Groups 4..7: some schedule terms involve constant groups only.
        let align32 = c.b2_align32;
        schedule!(l, w0, w3, msg1(w0[l], w1[l]), align32);
        rounds4!(abef, cdgh, w0, k4(4));
        let msg1_12 = c.b2_msg1_12;
        schedule!(l, w1, w0, msg1_12, _mm_alignr_epi8::<4>(w0[l], w3[l]));
        rounds4!(abef, cdgh, w1, k4(5));
        let msg1_23 = c.b2_msg1_23;
        schedule!(l, w2, w1, msg1_23, _mm_alignr_epi8::<4>(w1[l], w0[l]));
        rounds4!(abef, cdgh, w2, k4(6));
        let msg1_34 = c.b2_msg1_34;
        schedule!(l, w3, w2, msg1_34, _mm_alignr_epi8::<4>(w2[l], w1[l]));
        rounds4!(abef, cdgh, w3, k4(7));
        rounds_32_to_59!(abef, cdgh, w0, w1, w2, w3);
        rounds4!(abef, cdgh, w3, k4(15));

        // The first hash, as words: the message of block 3.
        for l in 0..N {
            abef[l] = _mm_add_epi32(abef[l], c.mid_abef);
            cdgh[l] = _mm_add_epi32(cdgh[l], c.mid_cdgh);
        }
        // abef = [f, e, b, a], cdgh = [h, g, d, c] → [a, b, c, d] and [e, f, g, h].
        let mut w0: [__m128i; N] = std::array::from_fn(|l| {
            _mm_shuffle_epi32::<0xb1>(_mm_unpackhi_epi64(abef[l], cdgh[l]))
        });
        let mut w1: [__m128i; N] = std::array::from_fn(|l| {
            _mm_shuffle_epi32::<0xb1>(_mm_unpacklo_epi64(abef[l], cdgh[l]))
        });
        let mut w2 = [c.b3_w2; N];
        let mut w3 = [c.b3_w3; N];

        // Block 3, from the initial state.
        let mut abef = [c.init_abef; N];
        let mut cdgh = [c.init_cdgh; N];
        rounds4!(abef, cdgh, w0, k4(0));
        rounds4!(abef, cdgh, w1, k4(1));
        for wk in c.b3_wk {
            rounds2!(abef, cdgh, [wk; N]);
        }
        let align32 = c.b3_align32;
        schedule!(l, w0, w3, msg1(w0[l], w1[l]), align32);
        rounds4!(abef, cdgh, w0, k4(4));
        schedule!(w1, w2, w3, w0);
        rounds4!(abef, cdgh, w1, k4(5));
        let msg1_23 = c.b3_msg1_23;
        schedule!(l, w2, w1, msg1_23, _mm_alignr_epi8::<4>(w1[l], w0[l]));
        rounds4!(abef, cdgh, w2, k4(6));
        schedule!(w3, w0, w1, w2);
        rounds4!(abef, cdgh, w3, k4(7));
        rounds_32_to_59!(abef, cdgh, w0, w1, w2, w3);
        // Rounds 60 and 61; 62 and 63 are left to `full_hash`.
        let k15 = k4(15);
        let wk: [__m128i; N] = std::array::from_fn(|l| _mm_add_epi32(w3[l], k15));
        rounds2!(abef, cdgh, wk);
        (abef, cdgh, wk.map(|v| _mm_shuffle_epi32::<0x0e>(v)))
    }

    /// The hash's most significant word (see [`ShaNi::top_word`]) of `N` consecutive
    /// nonces.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn top_words<const N: usize>(c: &Consts, first: u32) -> [u32; N] {
        let (abef, _, _) = to_round_62::<N>(c, first);
        // Lane 0 of `abef` is `f` after round 62, which rounds 62 and 63 move to `h` unchanged.
        // Hash bytes 28..32 are `h` big-endian; read little-endian, that is `h` byte-swapped.
        abef.map(|v| {
            (_mm_cvtsi128_si32(v) as u32)
                .wrapping_add(SHA256_INIT[7])
                .swap_bytes()
        })
    }

    /// The whole final state (`sha256d` as eight big-endian words) of `N` consecutive
    /// nonces.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn full_hash<const N: usize>(c: &Consts, first: u32) -> [[u32; 8]; N] {
        let (mut abef, mut cdgh, wk) = to_round_62::<N>(c, first);
        rounds2!(abef, cdgh, wk);
        std::array::from_fn(|l| {
            let abef = _mm_add_epi32(abef[l], c.init_abef);
            let cdgh = _mm_add_epi32(cdgh[l], c.init_cdgh);
            let lane = |v: __m128i, i: i32| -> u32 {
                match i {
                    0 => _mm_cvtsi128_si32(v) as u32,
                    1 => _mm_cvtsi128_si32(_mm_shuffle_epi32::<1>(v)) as u32,
                    2 => _mm_cvtsi128_si32(_mm_shuffle_epi32::<2>(v)) as u32,
                    _ => _mm_cvtsi128_si32(_mm_shuffle_epi32::<3>(v)) as u32,
                }
            };
            [
                lane(abef, 3),
                lane(abef, 2),
                lane(cdgh, 3),
                lane(cdgh, 2),
                lane(abef, 1),
                lane(abef, 0),
                lane(cdgh, 1),
                lane(cdgh, 0),
            ]
        })
    }

    /// The first nonce of `nonces` (clamped to `0..2^32`) whose top word is at most
    /// `limit`, `N` nonces at a time and the rest one by one.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn scan<const N: usize>(c: &Consts, nonces: Range<u64>, limit: u32) -> Option<u32> {
        let end = nonces.end.min(1 << 32);
        let mut nonce = nonces.start;
        while nonce + N as u64 <= end {
            // In range: `nonce + N <= 2^32`.
            let tops = top_words::<N>(c, nonce as u32);
            if let Some(lane) = tops.iter().position(|&top| top <= limit) {
                return Some(nonce as u32 + lane as u32);
            }
            nonce += N as u64;
        }
        while nonce < end {
            let [top] = top_words::<1>(c, nonce as u32);
            if top <= limit {
                return Some(nonce as u32);
            }
            nonce += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_core::Network;

    #[test]
    fn sha_ni_hashes_the_genesis_header_as_the_consensus_code_does() {
        let genesis = Network::Regtest.params().genesis_block().header;
        assert_eq!(ShaNi::new(&genesis).is_some(), is_available());
        let Some(sha_ni) = ShaNi::new(&genesis) else {
            eprintln!("no SHA-NI on this CPU: not tested");
            return;
        };
        for nonce in [0, 1, 2, 3, 4, 5, 0xdead_beef, u32::MAX - 1, u32::MAX] {
            let hash = Header { nonce, ..genesis }.block_hash().0;
            assert_eq!(sha_ni.hash(nonce), hash, "nonce {nonce}");
            let top = u32::from_le_bytes([hash[28], hash[29], hash[30], hash[31]]);
            assert_eq!(sha_ni.top_word(nonce), top, "nonce {nonce}");
        }
    }
}
