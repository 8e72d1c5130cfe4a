//! Signature verification throughput: mycoin's `PublicKey::verify` (k256) against libsecp256k1
//! (the `secp256k1` crate, a benchmark-only baseline), both from bytes to verdict: parse the
//! 33-byte compressed key (a square root) and the 64-byte signature, then verify the digest.
//!
//! Run with `cargo bench -p mycoin-core --bench verify`; `scripts/bench.sh` reads the estimates
//! criterion writes under `target/criterion/` and turns them into a ratio.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mycoin_core::PrivateKey;
use mycoin_core::hash::sha256d;

/// Distinct (key, digest, signature) triples, cycled through so no single input is special.
const SIGNATURES: usize = 16;

struct Case {
    public_key: mycoin_core::PublicKey,
    digest: [u8; 32],
    signature: mycoin_core::Signature,
}

fn cases() -> Vec<Case> {
    (0..SIGNATURES)
        .map(|i| {
            let mut secret = [0x42u8; 32];
            secret[31] = i as u8 + 1;
            let key = PrivateKey::from_bytes(&secret).unwrap();
            let digest = sha256d(&[i as u8; 100]);
            let signature = key.sign(&digest);
            Case {
                public_key: key.public_key(),
                digest,
                signature,
            }
        })
        .collect()
}

fn verify(c: &mut Criterion) {
    let cases = cases();
    for case in &cases {
        case.public_key
            .verify(&case.digest, &case.signature)
            .expect("k256 accepts its own signature");
        let key = secp256k1::PublicKey::from_slice(case.public_key.as_bytes()).unwrap();
        let sig = secp256k1::ecdsa::Signature::from_compact(&case.signature.0).unwrap();
        secp256k1::ecdsa::verify(&sig, secp256k1::Message::from_digest(case.digest), &key)
            .expect("libsecp256k1 accepts k256's low-S signature");
    }

    let mut group = c.benchmark_group("verify");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(SIGNATURES as u64));

    group.bench_function("k256", |b| {
        b.iter(|| {
            for case in black_box(&cases) {
                case.public_key
                    .verify(&case.digest, &case.signature)
                    .unwrap();
            }
        })
    });

    group.bench_function("libsecp256k1", |b| {
        b.iter(|| {
            for case in black_box(&cases) {
                let key = secp256k1::PublicKey::from_slice(case.public_key.as_bytes()).unwrap();
                let sig = secp256k1::ecdsa::Signature::from_compact(&case.signature.0).unwrap();
                secp256k1::ecdsa::verify(&sig, secp256k1::Message::from_digest(case.digest), &key)
                    .unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
