//! Published test vectors: BIP32 vectors 1 to 5 and BIP39's English and Japanese vectors, read
//! from `tests/data/` and run through the keys service's seed module (the `bip32` and `bip39`
//! crates underneath).

use std::str::FromStr;

use bip32::{DerivationPath, Prefix, XPrv};
use mycoin_keys::seed::{IDEOGRAPHIC_SPACE, Language, Phrase, check_extended_key};
use serde_json::Value;

fn data(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("vector file")).expect("JSON")
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field}"))
}

#[test]
fn bip32_vectors_1_to_4_derive_every_published_key() {
    let vectors = data("bip32-vectors.json");
    let valid = vectors["valid"].as_array().unwrap();
    assert_eq!(valid.len(), 4);
    let mut chains = 0;
    for (number, vector) in valid.iter().enumerate() {
        let seed = hex::decode(text(vector, "seed")).unwrap();
        for chain in vector["chains"].as_array().unwrap() {
            let path = DerivationPath::from_str(text(chain, "chain")).unwrap();
            let xprv = XPrv::derive_from_path(&seed, &path).unwrap();
            let label = format!("vector {} chain {}", number + 1, text(chain, "chain"));
            assert_eq!(
                &*xprv.to_string(Prefix::XPRV),
                text(chain, "ext_prv"),
                "{label}"
            );
            assert_eq!(
                xprv.public_key().to_string(Prefix::XPUB),
                text(chain, "ext_pub"),
                "{label}"
            );
            check_extended_key(text(chain, "ext_prv")).unwrap();
            check_extended_key(text(chain, "ext_pub")).unwrap();
            chains += 1;
        }
    }
    assert_eq!(chains, 17);
}

#[test]
fn bip32_vector_5_every_invalid_extended_key_is_refused() {
    let vectors = data("bip32-vectors.json");
    let invalid = vectors["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 16);
    for vector in invalid {
        assert!(
            check_extended_key(text(vector, "key")).is_err(),
            "accepted: {} ({})",
            text(vector, "key"),
            text(vector, "reason")
        );
    }
}

fn check_bip39(language: Language, vectors: &[Value]) {
    for vector in vectors {
        let entropy = hex::decode(text(vector, "entropy")).unwrap();
        let mnemonic = text(vector, "mnemonic");
        let made = Phrase::from_entropy(language, &entropy).unwrap();
        assert_eq!(
            made.expose_secret(),
            mnemonic,
            "entropy {}",
            text(vector, "entropy")
        );
        let parsed = Phrase::parse(mnemonic).unwrap();
        assert_eq!(parsed.language(), language);
        assert_eq!(*parsed.entropy(), entropy);
        let seed = parsed.to_seed(text(vector, "passphrase"));
        assert_eq!(
            hex::encode(seed.expose_secret()),
            text(vector, "seed"),
            "seed of {}",
            text(vector, "entropy")
        );
    }
}

#[test]
fn bip39_english_vectors() {
    let vectors = data("bip39-vectors.json");
    let english = vectors["english"].as_array().unwrap();
    assert_eq!(english.len(), 24);
    check_bip39(Language::English, english);
}

#[test]
fn bip39_japanese_vectors_with_the_ideographic_space() {
    let vectors = data("bip39-vectors.json");
    let japanese = vectors["japanese"].as_array().unwrap();
    assert_eq!(japanese.len(), 24);
    for vector in japanese {
        let mnemonic = text(vector, "mnemonic");
        assert!(mnemonic.contains(IDEOGRAPHIC_SPACE) && !mnemonic.contains(' '));
    }
    check_bip39(Language::Japanese, japanese);
}

#[test]
fn a_japanese_mnemonic_typed_with_ascii_spaces_gives_the_same_seed() {
    let vectors = data("bip39-vectors.json");
    let vector = &vectors["japanese"][0];
    let typed = text(vector, "mnemonic").replace(IDEOGRAPHIC_SPACE, " ");
    let seed = Phrase::parse(&typed)
        .unwrap()
        .to_seed(text(vector, "passphrase"));
    assert_eq!(hex::encode(seed.expose_secret()), text(vector, "seed"));
}

/// mycoin's own paths, pinned: the first receiving and change keys of the BIP39 test mnemonic
/// "abandon … about" with no passphrase (docs/WALLET.md).
#[test]
fn mycoins_paths_give_pinned_addresses() {
    use mycoin_core::{Address, Network};
    use mycoin_keys::seed::Chain;

    let abandon = format!("{} about", ["abandon"; 11].join(" "));
    let seed = Phrase::parse(&abandon).unwrap().to_seed("");
    let address = |chain: Chain, index: u32| {
        let key = seed.chain_key(chain).unwrap().key(index).unwrap();
        Address::new(Network::Regtest, key.public_key().pubkey_hash()).to_string()
    };
    let found = [
        address(Chain::Receive, 0),
        address(Chain::Receive, 1),
        address(Chain::Change, 0),
    ];
    assert_eq!(found, PINNED);
}

/// Regtest addresses of m/44'/1836671855'/0'/0/0, …/0/1 and …/1/0.
const PINNED: [&str; 3] = [
    "rDCvcRJPW1khcp8LiWDs27i7BNBgXeAoAe",
    "r8KxwkLchFevNjBAJeJb5gzdk8eaVqETaP",
    "rDhVTbmyNYHjRfSRVtTamDfcTNXGYE2owU",
];
