//! The wallet seed: a BIP39 mnemonic (English or Japanese) → a 64-byte BIP39 seed → BIP32 keys
//! on mycoin's BIP44 paths. No HTTP, no storage: the key store keeps the seed encrypted.
//!
//! - Receiving keys: `m/44'/C'/0'/0/i`, change keys: `m/44'/C'/0'/1/i`, with mycoin's coin type
//!   `C` = [`COIN_TYPE`] (docs/WALLET.md).
//! - The mnemonic is made with the `bip39` crate (24 words, 256 bits of entropy), the keys with
//!   the `bip32` crate over k256: no derivation is written here.
//! - Japanese mnemonics are shown with the ideographic space U+3000 between the words, as the
//!   BIP39 Japanese wordlist asks; any whitespace is accepted when one is typed back.
//!
//! Every type holding a secret zeroes it when dropped and shows nothing of it in `Debug`.

use std::fmt;
use std::str::FromStr;

use bip32::{ChildNumber, DerivationPath, ExtendedKey, Prefix, XPrv, XPub};
use bip39::Mnemonic;
use mycoin_core::PrivateKey;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

/// mycoin's BIP44 coin type: 0x6d79636f, the ASCII bytes of "myco". Not registered in SLIP-44
/// for any coin.
pub const COIN_TYPE: u32 = 0x6d79_636f;

/// Words of a mnemonic the keys service makes (256 bits of entropy).
pub const MNEMONIC_WORDS: usize = 24;

/// Highest child index a chain hands out (BIP32's non-hardened indexes).
pub const MAX_INDEX: u32 = (1 << 31) - 1;

/// The ideographic space, between the words of a Japanese mnemonic.
pub const IDEOGRAPHIC_SPACE: char = '\u{3000}';

/// Why a mnemonic, a seed or an extended key was refused. No variant carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("not a BIP39 mnemonic of the English or Japanese wordlist: {0}")]
    InvalidMnemonic(String),
    #[error("unknown mnemonic language {0:?}: use \"english\" or \"japanese\"")]
    UnknownLanguage(String),
    #[error("key derivation failed: {0}")]
    Derivation(String),
    #[error("invalid extended key: {0}")]
    InvalidExtendedKey(&'static str),
}

/// A BIP39 wordlist mycoin offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
    Japanese,
}

impl Language {
    /// `english` or `japanese`.
    pub fn name(self) -> &'static str {
        match self {
            Language::English => "english",
            Language::Japanese => "japanese",
        }
    }

    fn bip39(self) -> bip39::Language {
        match self {
            Language::English => bip39::Language::English,
            Language::Japanese => bip39::Language::Japanese,
        }
    }

    fn of(language: bip39::Language) -> Option<Self> {
        match language {
            bip39::Language::English => Some(Language::English),
            bip39::Language::Japanese => Some(Language::Japanese),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// One byte for storage.
    pub fn code(self) -> u8 {
        match self {
            Language::English => 0,
            Language::Japanese => 1,
        }
    }

    /// The language of a stored byte.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Language::English),
            1 => Some(Language::Japanese),
            _ => None,
        }
    }
}

impl FromStr for Language {
    type Err = SeedError;

    fn from_str(text: &str) -> Result<Self, SeedError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "english" | "en" => Ok(Language::English),
            "japanese" | "ja" | "jp" => Ok(Language::Japanese),
            _ => Err(SeedError::UnknownLanguage(text.chars().take(20).collect())),
        }
    }
}

/// Which chain of the account a key is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Chain {
    /// `…/0/i`: addresses handed out to be paid.
    Receive,
    /// `…/1/i`: the wallet's change.
    Change,
}

impl Chain {
    /// 0 or 1, the path's fourth level.
    pub fn number(self) -> u32 {
        match self {
            Chain::Receive => 0,
            Chain::Change => 1,
        }
    }

    /// The chain of a path's fourth level.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            0 => Some(Chain::Receive),
            1 => Some(Chain::Change),
            _ => None,
        }
    }

    /// `receive` or `change`.
    pub fn name(self) -> &'static str {
        match self {
            Chain::Receive => "receive",
            Chain::Change => "change",
        }
    }

    /// The path of key `index` on this chain, e.g. `m/44'/1836671855'/0'/0/7`.
    pub fn path(self, index: u32) -> String {
        format!("m/44'/{COIN_TYPE}'/0'/{}/{index}", self.number())
    }
}

impl FromStr for Chain {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "receive" | "0" => Ok(Chain::Receive),
            "change" | "1" => Ok(Chain::Change),
            _ => Err(format!(
                "unknown chain {:?}: use \"receive\" or \"change\"",
                text.chars().take(20).collect::<String>()
            )),
        }
    }
}

/// A mnemonic as the user writes it down. `Debug` shows nothing of it.
pub struct Phrase {
    words: Zeroizing<String>,
    language: Language,
}

impl Phrase {
    /// A new random 24-word mnemonic of `language`, from the system's random generator.
    pub fn generate(language: Language) -> Result<Self, SeedError> {
        let mut entropy = Zeroizing::new([0u8; 32]);
        getrandom::fill(entropy.as_mut())
            .map_err(|err| SeedError::Derivation(format!("random generator: {err}")))?;
        Self::from_entropy(language, entropy.as_ref())
    }

    /// The mnemonic of `entropy` (16 to 32 bytes, a multiple of 4).
    pub fn from_entropy(language: Language, entropy: &[u8]) -> Result<Self, SeedError> {
        let mnemonic = Mnemonic::from_entropy_in(language.bip39(), entropy)
            .map_err(|err| SeedError::InvalidMnemonic(err.to_string()))?;
        Ok(Self::of(&mnemonic, language))
    }

    /// Parses a mnemonic typed by a user: English or Japanese (detected), any whitespace between
    /// the words (the ideographic space included), any Unicode normalisation form. The error
    /// never repeats the words.
    pub fn parse(text: &str) -> Result<Self, SeedError> {
        let normalized: Zeroizing<String> = Zeroizing::new(text.nfkd().collect());
        let words: Zeroizing<String> =
            Zeroizing::new(normalized.split_whitespace().collect::<Vec<_>>().join(" "));
        let mnemonic = Mnemonic::parse_normalized(&words).map_err(|err| {
            // The crate's errors name at most a word's position, never the word.
            SeedError::InvalidMnemonic(match err {
                bip39::Error::UnknownWord(index) => {
                    format!("word {} is not in the wordlist", index + 1)
                }
                bip39::Error::BadWordCount(count) => {
                    format!("{count} words: a mnemonic has 12, 15, 18, 21 or 24 words")
                }
                bip39::Error::InvalidChecksum => "the checksum does not match: a word is wrong \
                                                  or the words are out of order"
                    .into(),
                bip39::Error::AmbiguousLanguages(_) => {
                    "the words fit more than one wordlist".into()
                }
                _ => "not a valid mnemonic".into(),
            })
        })?;
        let language = Language::of(mnemonic.language()).ok_or_else(|| {
            SeedError::InvalidMnemonic(
                "only the English and Japanese wordlists are accepted".into(),
            )
        })?;
        Ok(Self::of(&mnemonic, language))
    }

    fn of(mnemonic: &Mnemonic, language: Language) -> Self {
        let separator = match language {
            Language::English => " ".to_owned(),
            Language::Japanese => IDEOGRAPHIC_SPACE.to_string(),
        };
        let words: Vec<String> = mnemonic.words().map(|word| word.nfc().collect()).collect();
        let phrase = Self {
            words: Zeroizing::new(words.join(&separator)),
            language,
        };
        let mut words = words;
        words.iter_mut().for_each(Zeroize::zeroize);
        phrase
    }

    /// The words, separated by a space (English) or the ideographic space (Japanese), in NFC.
    pub fn expose_secret(&self) -> &str {
        &self.words
    }

    /// The wordlist.
    pub fn language(&self) -> Language {
        self.language
    }

    /// How many words.
    pub fn word_count(&self) -> usize {
        self.words.split_whitespace().count()
    }

    /// The entropy the words encode (to store the mnemonic until it is shown).
    pub fn entropy(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.mnemonic().to_entropy())
    }

    fn mnemonic(&self) -> Mnemonic {
        let words: Zeroizing<String> = Zeroizing::new(self.words.nfkd().collect());
        let words: Zeroizing<String> =
            Zeroizing::new(words.split_whitespace().collect::<Vec<_>>().join(" "));
        // The words were made or checked by `bip39`: they parse again.
        Mnemonic::parse_in_normalized(self.language.bip39(), &words)
            .expect("a phrase holds a valid mnemonic")
    }

    /// BIP39's seed: PBKDF2-HMAC-SHA512 of the words with the salt "mnemonic" + passphrase,
    /// both NFKD-normalised. Another passphrase gives another seed, and so another wallet.
    pub fn to_seed(&self, passphrase: &str) -> Seed {
        Seed(self.mnemonic().to_seed(passphrase))
    }
}

impl fmt::Debug for Phrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phrase([redacted], {})", self.language.name())
    }
}

/// A 64-byte BIP39 seed. Zeroed when dropped; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Seed([u8; 64]);

impl Drop for Seed {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed([redacted])")
    }
}

impl Seed {
    /// A seed of 64 stored bytes.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The bytes, to encrypt them.
    pub fn expose_secret(&self) -> &[u8; 64] {
        &self.0
    }

    /// The account's extended key of `chain`: `m/44'/C'/0'/chain`.
    pub fn chain_key(&self, chain: Chain) -> Result<ChainKey, SeedError> {
        let path = format!("m/44'/{COIN_TYPE}'/0'/{}", chain.number());
        let path = DerivationPath::from_str(&path)
            .map_err(|err| SeedError::Derivation(err.to_string()))?;
        let xprv = XPrv::derive_from_path(&self.0, &path)
            .map_err(|err| SeedError::Derivation(err.to_string()))?;
        Ok(ChainKey(xprv))
    }
}

/// The extended private key of one chain (`m/44'/C'/0'/0` or `…/1`). `Debug` (the crate's)
/// shows nothing of the key.
#[derive(Debug, Clone)]
pub struct ChainKey(XPrv);

impl ChainKey {
    /// The private key of child `index`.
    pub fn key(&self, index: u32) -> Result<PrivateKey, SeedError> {
        let child =
            ChildNumber::new(index, false).map_err(|err| SeedError::Derivation(err.to_string()))?;
        let xprv = self
            .0
            .derive_child(child)
            .map_err(|err| SeedError::Derivation(err.to_string()))?;
        let mut bytes = xprv.to_bytes();
        let key = PrivateKey::from_bytes(&bytes);
        bytes.zeroize();
        key.map_err(|err| SeedError::Derivation(err.to_string()))
    }
}

/// Checks a serialised extended key (`xprv…` / `xpub…`, `tprv…` / `tpub…`) as BIP32 requires:
/// checksum, a known version, a private key in 1..n−1 behind a 0x00 byte, a valid compressed
/// public key, and a master key (depth 0) with no parent fingerprint and child number 0.
/// The `bip32` crate checks the first ones; the master key's rules are checked here.
pub fn check_extended_key(text: &str) -> Result<(), SeedError> {
    let key = ExtendedKey::from_str(text)
        .map_err(|_| SeedError::InvalidExtendedKey("bad Base58Check encoding or length"))?;
    let known = [Prefix::XPRV, Prefix::XPUB, Prefix::TPRV, Prefix::TPUB];
    if !known.contains(&key.prefix) {
        return Err(SeedError::InvalidExtendedKey("unknown version"));
    }
    if key.attrs.depth == 0 {
        if key.attrs.parent_fingerprint != [0; 4] {
            return Err(SeedError::InvalidExtendedKey(
                "a master key (depth 0) with a parent fingerprint",
            ));
        }
        if u32::from(key.attrs.child_number) != 0 {
            return Err(SeedError::InvalidExtendedKey(
                "a master key (depth 0) with a child number",
            ));
        }
    }
    if key.prefix.is_private() {
        XPrv::try_from(key)
            .map(drop)
            .map_err(|_| SeedError::InvalidExtendedKey("not a private key in 1..n-1"))
    } else {
        XPub::try_from(key)
            .map(drop)
            .map_err(|_| SeedError::InvalidExtendedKey("not a compressed public key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let phrase = Phrase::from_entropy(Language::English, &[0u8; 32]).unwrap();
        let seed = phrase.to_seed("");
        let shown = format!("{phrase:?} {seed:?} {:?}", seed.chain_key(Chain::Receive));
        assert!(!shown.contains("abandon"), "{shown}");
        assert!(
            !shown.contains(&hex::encode(&seed.expose_secret()[..8])),
            "{shown}"
        );
    }

    #[test]
    fn a_new_mnemonic_has_24_words_and_parses_back() {
        for language in [Language::English, Language::Japanese] {
            let phrase = Phrase::generate(language).unwrap();
            assert_eq!(phrase.word_count(), MNEMONIC_WORDS);
            let again = Phrase::parse(phrase.expose_secret()).unwrap();
            assert_eq!(again.language(), language);
            assert_eq!(again.expose_secret(), phrase.expose_secret());
        }
    }

    #[test]
    fn errors_never_repeat_the_words() {
        let error = Phrase::parse("abandon zebra secretword")
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains("secretword") && !error.contains("zebra"),
            "{error}"
        );
    }

    #[test]
    fn paths_are_bip44_with_mycoins_coin_type() {
        assert_eq!(Chain::Receive.path(3), "m/44'/1836671855'/0'/0/3");
        assert_eq!(Chain::Change.path(0), "m/44'/1836671855'/0'/1/0");
    }
}
