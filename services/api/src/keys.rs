//! The keys service's request and response bodies.
//!
//! | endpoint | request | response |
//! |---|---|---|
//! | `POST /keys` | — | [`NewKey`] |
//! | `GET /keys` | — | `[`[`KeyInfo`]`]` |
//! | `GET /keys/{address}` | — | [`KeyInfo`] |
//! | `POST /keys/{address}/sign` (token) | [`SignRequest`] | [`SignResponse`] |
//! | `GET /keys/{address}/wif` (token) | — | [`WifResponse`] |
//! | `POST /keys/import` (token) | [`ImportRequest`] | [`NewKey`] |
//!
//! Request fields are plain strings, checked by the service so that a bad value gets an error
//! code of its own (`invalid_digest`, `invalid_wif`); response fields use the core types, so a
//! client gets them checked when it reads them. The bodies that carry a private key (a WIF)
//! never show it in their `Debug` output.

use std::fmt;

use mycoin_core::{Address, PublicKey, Signature};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A key pair just created or imported (the book's key.py output, without the private key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "address": "MJaRnao1s62a2zAKSkmG582KbLKianqb7v",
    "public_key": "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
}))]
pub struct NewKey {
    /// The key's address (Base58Check, with the network's version byte).
    #[schema(value_type = String)]
    pub address: Address,
    /// The public key, compressed SEC1, 66 hex digits.
    #[schema(value_type = String, pattern = "^0[23][0-9a-f]{64}$")]
    pub public_key: PublicKey,
}

/// A stored key pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "address": "MJaRnao1s62a2zAKSkmG582KbLKianqb7v",
    "public_key": "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    "created_at": 1767225600
}))]
pub struct KeyInfo {
    /// The key's address.
    #[schema(value_type = String)]
    pub address: Address,
    /// The public key, compressed SEC1, 66 hex digits.
    #[schema(value_type = String, pattern = "^0[23][0-9a-f]{64}$")]
    pub public_key: PublicKey,
    /// When the key was created or imported, in Unix seconds.
    pub created_at: i64,
}

/// Body of `POST /keys/{address}/sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "digest": "6a8a1a47d37bb2bd7fc7b3f9cd3ee74f0d96c4f3e64a22db0e3e1f0e3f5a2b1c"
}))]
pub struct SignRequest {
    /// The 32-byte digest to sign (a txid), 64 hex digits. It is signed as given: the service
    /// hashes nothing.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub digest: String,
}

/// A signature made by a stored key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignResponse {
    /// The ECDSA signature r‖s, 128 hex digits: deterministic (RFC 6979) and low-S.
    #[schema(value_type = String, pattern = "^[0-9a-f]{128}$")]
    pub signature: Signature,
    /// The public key that verifies it, compressed SEC1, 66 hex digits.
    #[schema(value_type = String, pattern = "^0[23][0-9a-f]{64}$")]
    pub public_key: PublicKey,
}

/// A private key exported in Wallet Import Format. `Debug` hides the WIF.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WifResponse {
    /// The key's address.
    #[schema(value_type = String)]
    pub address: Address,
    /// The private key as WIF (Base58Check with the network's WIF version byte). A secret.
    pub wif: String,
}

impl fmt::Debug for WifResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WifResponse")
            .field("address", &self.address)
            .field("wif", &"[redacted]")
            .finish()
    }
}

/// Body of `POST /keys/import`. `Debug` hides the WIF.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The private key as WIF, made for the service's network.
    pub wif: String,
}

impl fmt::Debug for ImportRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportRequest")
            .field("wif", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_core::{Network, PrivateKey};

    #[test]
    fn bodies_round_trip_and_secrets_do_not_print() {
        let key = PrivateKey::from_bytes(&[5u8; 32]).unwrap();
        let address = Address::new(Network::Regtest, key.public_key().pubkey_hash());
        let wif = key.to_wif(Network::Regtest);

        let export = WifResponse {
            address,
            wif: wif.clone(),
        };
        let json = serde_json::to_string(&export).unwrap();
        assert_eq!(serde_json::from_str::<WifResponse>(&json).unwrap(), export);
        assert!(!format!("{export:?}").contains(&wif));

        let import = ImportRequest { wif: wif.clone() };
        assert!(!format!("{import:?}").contains(&wif));

        let info = KeyInfo {
            address,
            public_key: key.public_key(),
            created_at: 1,
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["address"], address.to_string());
        assert_eq!(json["public_key"], key.public_key().to_string());
    }

    #[test]
    fn the_schema_examples_are_a_real_key() {
        // The examples show the key with secret 1 (the generator G) on the demo network.
        let mut one = [0u8; 32];
        one[31] = 1;
        let key = PrivateKey::from_bytes(&one).unwrap().public_key();
        assert_eq!(
            key.to_string(),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        assert_eq!(
            Address::new(Network::Demo, key.pubkey_hash()).to_string(),
            "MJaRnao1s62a2zAKSkmG582KbLKianqb7v"
        );
    }
}
