//! Bodies of the wallet seed's endpoints (keys service) and of the wallet's restore.
//!
//! | endpoint | request | response |
//! |---|---|---|
//! | keys: `POST /keys/change` (token) | — | [`crate::keys::NewKey`] |
//! | keys: `POST /seed/mnemonic` (token) | — | [`MnemonicResponse`] (once) |
//! | keys: `POST /seed/restore` (token) | [`RestoreRequest`] | [`SeedState`] |
//! | keys: `GET /seed/addresses` (token) | [`DerivedQuery`] | [`DerivedAddresses`] |
//! | keys: `POST /seed/keys` (token) | [`StoreUpTo`] | [`SeedState`] |
//! | keys: `GET /seed` | — | [`SeedState`] |
//! | wallet: `POST /wallet/restore` (token) | [`RestoreRequest`] | [`RestoreResponse`] |
//!
//! The bodies that carry a mnemonic or a BIP39 passphrase never show them in `Debug`.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The gap limit: a restore stops scanning a chain after this many unused addresses in a row.
pub const GAP_LIMIT: u32 = 20;

/// Most addresses `GET /seed/addresses` derives in one call.
pub const MAX_DERIVED_PER_CALL: u32 = 100;

/// The mnemonic of the seed made at the first start, shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct MnemonicResponse {
    /// The 24 words: separated by a space (English) or the ideographic space U+3000 (Japanese).
    /// A secret: whoever has it has the wallet.
    pub mnemonic: String,
    /// `english` or `japanese`.
    pub language: String,
    /// The derivation paths of the keys it gives (`m/44'/C'/0'/0/i` and `m/44'/C'/0'/1/i`).
    pub paths: Vec<String>,
}

impl fmt::Debug for MnemonicResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MnemonicResponse")
            .field("mnemonic", &"[redacted]")
            .field("language", &self.language)
            .finish()
    }
}

/// A mnemonic to restore a wallet from.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// 12 to 24 words of the English or Japanese BIP39 wordlist, separated by any whitespace.
    pub mnemonic: String,
    /// BIP39's optional passphrase (not the key store's). A wrong one gives another, empty
    /// wallet: nothing can tell it is wrong.
    #[serde(default)]
    pub passphrase: Option<String>,
}

impl fmt::Debug for RestoreRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestoreRequest")
            .field("mnemonic", &"[redacted]")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Where the two chains of the seed stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeedState {
    /// The index the next receiving key gets (`POST /keys`).
    pub next_receive: u32,
    /// The index the next change key gets (`POST /keys/change`).
    pub next_change: u32,
    /// Whether the mnemonic made at the first start can still be shown.
    pub mnemonic_available: bool,
}

/// Which derived addresses to list (`GET /seed/addresses`).
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
pub struct DerivedQuery {
    /// `receive` or `change`.
    pub chain: String,
    /// First index (default 0).
    pub from: Option<u32>,
    /// How many, 1 to 100 (default 20).
    pub count: Option<u32>,
}

/// Addresses derived from the seed, not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DerivedAddresses {
    /// `receive` or `change`.
    pub chain: String,
    /// Index of the first address.
    pub from: u32,
    /// Base58Check addresses, index `from`, `from + 1`, …
    pub addresses: Vec<String>,
}

/// Store every key of a chain below `next` (`POST /seed/keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreUpTo {
    /// `receive` or `change`.
    #[schema(value_type = String)]
    pub chain: ChainName,
    /// The chain's next index after the call.
    pub next: u32,
}

/// A chain's name in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainName {
    Receive,
    Change,
}

impl ChainName {
    /// Its name in a body or a query: `receive` or `change`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainName::Receive => "receive",
            ChainName::Change => "change",
        }
    }
}

/// What a restore found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestoreResponse {
    /// Receiving keys restored (indexes 0 to `receive_keys − 1`): one past the last used.
    pub receive_keys: u32,
    /// Change keys restored.
    pub change_keys: u32,
    /// The gap limit the scan used: it stopped after this many unused keys in a row.
    pub gap_limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_mnemonic_or_passphrase() {
        let request = RestoreRequest {
            mnemonic: "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong".into(),
            passphrase: Some("hunter2".into()),
        };
        let response = MnemonicResponse {
            mnemonic: "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong".into(),
            language: "english".into(),
            paths: vec![],
        };
        let shown = format!("{request:?} {response:?}");
        assert!(
            !shown.contains("zoo") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
