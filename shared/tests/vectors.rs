//! Published vectors from outside mycoin, pinned as literals: Bitcoin Core's Base58 vectors,
//! Wycheproof's secp256k1 ECDSA vectors, a high-S signature, and mycoin's own genesis blocks.

use mycoin_core::address::{base58check_decode, base58check_encode};
use mycoin_core::keys::{KeyError, PublicKey, Signature};
use mycoin_core::{Network, PrivateKey};
use sha2::{Digest, Sha256};

/// Bitcoin Core's src/test/data/base58_encode_decode.json.
const BASE58: &[(&str, &str)] = &[
    ("", ""),
    ("61", "2g"),
    ("626262", "a3gV"),
    ("636363", "aPEr"),
    (
        "73696d706c792061206c6f6e6720737472696e67",
        "2cFupjhnEsSn59qHXstmK2ffpLv2",
    ),
    (
        "00eb15231dfceb60925886b67d065299925915aeb172c06647",
        "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L",
    ),
    ("516b6fcd0f", "ABnLTmg"),
    ("bf4f89001e670274dd", "3SEo3LWLoPntC"),
    ("572e4794", "3EFU7m"),
    ("ecac89cad93923c02321", "EJDM8drfXA6uyA"),
    ("10c8511e", "Rt5zm"),
    ("00000000000000000000", "1111111111"),
    (
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "1111111111111111111111111111111111111111",
    ),
    (
        "00000000000000000000000000000000000000000000000000000000000000000000000000000001",
        "1111111111111111111111111111111111111112",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ec39d04c37e71e5d591881f6",
        "111111111111111111111111111111111111111111111111111111111111111111111111111111111111115TYzLYH1udmLdzCLM",
    ),
    (
        "000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5",
        "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
    ),
    (
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        "1cWB5HCBdLjAuqGGReWE3R3CguuwSjw6RHn39s2yuDRTS5NsBgNiFpWgAnEx6VQi8csexkgYw3mdYrMHr8x9i7aEwP8kZ7vccXWqKDvGv3u1GxFKPuAkn8JCPPGDMf3vMMnbzm6Nh9zh1gcNsMvH3ZNLmP5fSG6DGbbi2tuwMWPthr4boWwCxf7ewSgNQeacyozhKDDQQ1qL5fQFUW52QKUZDZ5fw3KXNQJMcNTcaB723LchjeKun7MuGW5qyCBZYzA1KjofN1gYBV3NqyhQJ3Ns746GNuf9N2pQPmHz4xpnSrrfCvy6TVVz5d4PdrjeshsWQwpZsZGzvbdAdN8MKV5QsBDY",
    ),
    ("271F359E", "zzzzy"),
    ("271F359F", "zzzzz"),
    ("271F35A0", "211111"),
    ("271F35A1", "211112"),
];

#[test]
fn bitcoin_core_base58_vectors_encode_and_decode() {
    for (hex_data, encoded) in BASE58 {
        let data = hex::decode(hex_data).unwrap();
        assert_eq!(
            bs58::encode(&data).into_string(),
            *encoded,
            "encode {hex_data}"
        );
        assert_eq!(
            bs58::decode(encoded).into_vec().unwrap(),
            data,
            "decode {encoded}"
        );
        // Base58Check over the same payloads round-trips through mycoin's code, which refuses
        // strings longer than any mycoin string (128 characters) before decoding them.
        let checked = base58check_encode(&data);
        if checked.len() <= 128 {
            assert_eq!(base58check_decode(&checked), Ok(data));
        } else {
            assert!(base58check_decode(&checked).is_err());
        }
    }
}

/// A well-known Bitcoin WIF (the key 0x0c28fca3...d, compressed), with Bitcoin's version byte:
/// mycoin's Base58Check reads it back to the published payload.
#[test]
fn bitcoin_wif_payload_decodes() {
    let payload =
        base58check_decode("KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617").unwrap();
    assert_eq!(
        hex::encode(payload),
        "800c28fca386c7a227600b2fe50b7cae11ec86d3bf1fbe471be89827e19d72aa1d01"
    );
}

fn wycheproof_check(test_set: wycheproof::ecdsa::TestName, p1363: bool) -> (usize, usize) {
    let set = wycheproof::ecdsa::TestSet::load(test_set).unwrap();
    let (mut checked, mut high_s) = (0, 0);
    for group in set.test_groups {
        // Wycheproof gives the uncompressed key; mycoin takes only the compressed form.
        let uncompressed = group.key.key.as_ref();
        let mut compressed = [0u8; 33];
        compressed[0] = 0x02 | (uncompressed[64] & 1);
        compressed[1..].copy_from_slice(&uncompressed[1..33]);
        let Ok(key) = PublicKey::from_slice(&compressed) else {
            continue;
        };
        for test in group.tests {
            let digest: [u8; 32] = Sha256::digest(test.msg.as_ref()).into();
            let sig_bytes: Option<[u8; 64]> = if p1363 {
                test.sig.as_ref().try_into().ok()
            } else {
                k256::ecdsa::Signature::from_der(test.sig.as_ref())
                    .ok()
                    .map(|s| s.to_bytes().into())
            };
            let ours = sig_bytes.map(|b| key.verify(&digest, &Signature(b)));
            let expected_valid = test.result == wycheproof::TestResult::Valid;
            match ours {
                Some(Ok(())) => assert!(
                    test.result != wycheproof::TestResult::Invalid,
                    "tcId {} ({}) accepted but Wycheproof says invalid",
                    test.tc_id,
                    test.comment
                ),
                Some(Err(KeyError::HighS)) => {
                    high_s += 1;
                    assert!(
                        !expected_valid || p1363,
                        "tcId {}: a Bitcoin-valid high-S",
                        test.tc_id
                    );
                }
                Some(Err(_)) | None => assert!(
                    !expected_valid,
                    "tcId {} ({}) valid per Wycheproof but refused",
                    test.tc_id, test.comment
                ),
            }
            checked += 1;
        }
    }
    (checked, high_s)
}

/// Wycheproof's secp256k1/SHA-256 vectors in the r‖s (P1363) form mycoin uses: every invalid
/// signature is refused, every valid low-S one accepted, every valid high-S one refused as
/// high-S (mycoin's rule, stricter than plain ECDSA).
#[test]
fn wycheproof_secp256k1_p1363() {
    let (checked, high_s) =
        wycheproof_check(wycheproof::ecdsa::TestName::EcdsaSecp256k1Sha256P1363, true);
    assert!(checked > 200, "only {checked} vectors ran");
    assert!(high_s > 0, "the set holds high-S signatures");
}

/// Wycheproof's "bitcoin" variant requires low-S like mycoin: verdicts must agree exactly.
#[test]
fn wycheproof_secp256k1_bitcoin_low_s() {
    let (checked, _) = wycheproof_check(
        wycheproof::ecdsa::TestName::EcdsaSecp256k1Sha256Bitcoin,
        false,
    );
    assert!(checked > 100, "only {checked} vectors ran");
}

/// A pinned high-S signature: key 1 (the generator), digest SHA-256d("mycoin"); the RFC 6979
/// signature and its malleated twin with s replaced by n - s. The twin is the same signature
/// for plain ECDSA, and mycoin must refuse it.
#[test]
fn a_pinned_high_s_signature_is_rejected() {
    let mut one = [0u8; 32];
    one[31] = 1;
    let key = PrivateKey::from_bytes(&one).unwrap();
    let digest = mycoin_core::hash::sha256d(b"mycoin");
    let low: Signature = "f521f1dc3bd3fe50a43e97459dc8c007d09521d34845c760f31cd9950879a678\
                          69be05e6f39282ea529dc8e1f1c5df7ef0b0aefa8b3ab38905ac9b4388eae592"
        .parse()
        .unwrap();
    let high: Signature = "f521f1dc3bd3fe50a43e97459dc8c007d09521d34845c760f31cd9950879a678\
                           9641fa190c6d7d15ad62371e0e3a207fc9fe2dec240decb2ba25c349474b5baf"
        .parse()
        .unwrap();
    assert_eq!(
        key.sign(&digest),
        low,
        "RFC 6979 gives the pinned signature"
    );
    let twin = k256::ecdsa::Signature::from_slice(&high.0)
        .unwrap()
        .normalize_s();
    assert_eq!(
        Signature(twin.to_bytes().into()),
        low,
        "the pinned pair are malleated twins"
    );
    assert_eq!(
        key.public_key().verify(&digest, &high),
        Err(KeyError::HighS)
    );
    assert_eq!(key.public_key().verify(&digest, &low), Ok(()));
}

/// mycoin's genesis blocks, pinned: changing any consensus byte of them changes these hashes.
#[test]
fn genesis_blocks_are_pinned() {
    assert_eq!(
        Network::Demo.params().genesis_hash().to_string(),
        "00000024479ca7b013c0bc7ccc1d8a73bba24566d716f6326764f578fb068f78"
    );
    assert_eq!(
        Network::Regtest.params().genesis_hash().to_string(),
        "6576d07f8420021980b25f0032ba8b93fab2978d1f2cc31dc15108f12dbd3930"
    );
    for network in Network::ALL {
        let params = network.params();
        assert!(mycoin_core::validation::check_block(&params.genesis_block(), &params).is_ok());
    }
}

/// RFC 6979's widely published secp256k1 vector: private key 1, prehash SHA-256("Satoshi
/// Nakamoto").
#[test]
fn rfc6979_published_vector() {
    let mut one = [0u8; 32];
    one[31] = 1;
    let key = PrivateKey::from_bytes(&one).unwrap();
    let digest: [u8; 32] = Sha256::digest(b"Satoshi Nakamoto").into();
    assert_eq!(
        key.sign(&digest).to_string(),
        "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8\
         2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5"
    );
}

/// A signed transaction computed from docs/PROTOCOL.md alone by an independent Python
/// implementation (its signature cross-checked with OpenSSL's deterministic ECDSA): mycoin's
/// code must produce the same bytes, txid and wtxid.
#[test]
fn independently_computed_signed_transaction() {
    use mycoin_core::{Amount, Encode, OutPoint, PubKeyHash, Transaction, TxIn, TxOut, Txid};
    let key = PrivateKey::from_bytes(&[3u8; 32]).unwrap();
    assert_eq!(
        key.public_key().to_string(),
        "02531fe6068134503d2723133227c867ac8fa6c83c537e9a44c3c5bdbdcb1fe337"
    );
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn::Spend {
            prevout: OutPoint::new(Txid([9; 32]), 1),
            public_key: key.public_key(),
            signature: Signature([0; 64]),
        }],
        outputs: vec![TxOut {
            amount: Amount::ONE_COIN,
            pubkey_hash: PubKeyHash([5; 20]),
        }],
    };
    tx.sign_with(|_| Some(key.clone()));
    assert_eq!(
        hex::encode(tx.txid_preimage()),
        "010000000109090909090909090909090909090909090909090909090909090909090909090100000002531fe6\
         068134503d2723133227c867ac8fa6c83c537e9a44c3c5bdbdcb1fe3370100e1f5050000000005050505050505\
         05050505050505050505050505"
    );
    assert_eq!(
        tx.txid().to_string(),
        "e23b27f8629500987ac0a93c24b91c47f91759433451284f77bfe7f164018310"
    );
    assert_eq!(
        hex::encode(tx.to_bytes()),
        "010000000109090909090909090909090909090909090909090909090909090909090909090100000002531fe6\
         068134503d2723133227c867ac8fa6c83c537e9a44c3c5bdbdcb1fe337817e60c58df14e092bd574ffcb2119d7\
         bf22c45989d9123700491a7e6815e8580c492806fe0c46a0ffe14560d530e2f1a8d2bee86bc61dd3236062f241\
         6b3d790100e1f505000000000505050505050505050505050505050505050505"
    );
    assert_eq!(
        tx.wtxid().to_string(),
        "9d4fa39826806dcebec3b6d59552706d2fd86911b06b60ae190d121cbe188265"
    );
}
