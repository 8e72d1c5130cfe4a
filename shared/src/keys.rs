//! secp256k1 keys and signatures.
//!
//! Public keys travel in compressed SEC1 form (33 bytes); signatures are 64 bytes r‖s, made with
//! RFC 6979 deterministic nonces and always low-S. A high-S signature is rejected: accepting both
//! `s` and `n - s` would let anyone change a transaction's bytes without its signer.

use std::fmt;
use std::str::FromStr;

use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use k256::ecdsa::{SigningKey, VerifyingKey};

use crate::address::{PubKeyHash, base58check_decode, base58check_encode};
use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::network::Network;

/// A public key in compressed SEC1 form, known to be a point on the curve.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 33]);

/// A 64-byte r‖s ECDSA signature, as it appears in transactions. Its validity (including low-S)
/// is checked by [`PublicKey::verify`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a public key is 33 bytes in compressed SEC1 form (02 or 03 then x)")]
    NotCompressed,
    #[error("the bytes are not a point on secp256k1")]
    NotOnCurve,
    #[error("a private key is 32 bytes between 1 and n-1")]
    InvalidPrivateKey,
    #[error("invalid WIF: {0}")]
    InvalidWif(&'static str),
    #[error("the signature is not two scalars in range")]
    MalformedSignature,
    #[error("the signature's s is in the upper half of the order (high-S)")]
    HighS,
    #[error("the signature does not verify under this key")]
    BadSignature,
}

impl PublicKey {
    pub const SIZE: usize = 33;

    /// Parses a compressed SEC1 public key, checking that it is on the curve.
    pub fn from_slice(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let bytes: [u8; 33] = bytes.try_into().map_err(|_| KeyError::NotCompressed)?;
        if bytes[0] != 0x02 && bytes[0] != 0x03 {
            return Err(KeyError::NotCompressed);
        }
        VerifyingKey::from_sec1_bytes(&bytes).map_err(|_| KeyError::NotOnCurve)?;
        Ok(PublicKey(bytes))
    }

    /// Wraps 33 bytes without checking them. Transactions carry keys this way, so that a
    /// malformed key is a validation failure of its input ([`PublicKey::verify`] checks it), not
    /// an undecodable transaction.
    pub const fn from_raw(bytes: [u8; 33]) -> PublicKey {
        PublicKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 33] {
        &self.0
    }

    /// RIPEMD-160(SHA-256(key)): what an output pays to.
    pub fn pubkey_hash(&self) -> PubKeyHash {
        PubKeyHash::of_public_key(&self.0)
    }

    /// Checks `signature` over the 32-byte `digest` (a txid), requiring a well-formed key and
    /// low-S.
    pub fn verify(&self, digest: &[u8; 32], signature: &Signature) -> Result<(), KeyError> {
        if self.0[0] != 0x02 && self.0[0] != 0x03 {
            return Err(KeyError::NotCompressed);
        }
        let sig = k256::ecdsa::Signature::from_slice(&signature.0)
            .map_err(|_| KeyError::MalformedSignature)?;
        if sig.normalize_s() != sig {
            return Err(KeyError::HighS);
        }
        let key = VerifyingKey::from_sec1_bytes(&self.0).map_err(|_| KeyError::NotOnCurve)?;
        key.verify_prehash(digest, &sig)
            .map_err(|_| KeyError::BadSignature)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    /// 66 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|_| KeyError::NotCompressed)?;
        PublicKey::from_slice(&bytes)
    }
}

impl Encode for PublicKey {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for PublicKey {
    const MIN_SIZE: usize = 33;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PublicKey(reader.array()?))
    }
}

impl Signature {
    pub const SIZE: usize = 64;
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl FromStr for Signature {
    type Err = KeyError;
    /// 128 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| KeyError::MalformedSignature)?;
        Ok(Signature(bytes))
    }
}

impl Encode for Signature {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Signature {
    const MIN_SIZE: usize = 64;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signature(reader.array()?))
    }
}

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
pub(crate) use serde_via_str;
serde_via_str!(PublicKey, Signature);

/// A secp256k1 private key. Its Debug output never shows the key.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> PrivateKey {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            if let Ok(key) = PrivateKey::from_bytes(&bytes) {
                return key;
            }
        }
    }

    /// The key with scalar `bytes` (big-endian), which must lie in 1..n.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PrivateKey, KeyError> {
        SigningKey::from_slice(bytes)
            .map(PrivateKey)
            .map_err(|_| KeyError::InvalidPrivateKey)
    }

    /// The 32-byte big-endian scalar. Handle with care: this is the secret.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    pub fn public_key(&self) -> PublicKey {
        let point = self.0.verifying_key().to_sec1_point(true);
        let bytes: [u8; 33] = point
            .as_bytes()
            .try_into()
            .expect("a compressed point is 33 bytes");
        PublicKey(bytes)
    }

    /// Signs a 32-byte digest (a txid) with an RFC 6979 nonce; the result is always low-S.
    pub fn sign(&self, digest: &[u8; 32]) -> Signature {
        let sig: k256::ecdsa::Signature = self
            .0
            .sign_prehash(digest)
            .expect("signing a 32-byte digest cannot fail");
        Signature(sig.normalize_s().to_bytes().into())
    }

    /// Wallet Import Format: Base58Check(version ‖ key ‖ 0x01), the 0x01 marking a compressed
    /// public key, with the network's own version byte.
    pub fn to_wif(&self, network: Network) -> String {
        let mut payload = Vec::with_capacity(34);
        payload.push(network.wif_version());
        payload.extend_from_slice(&self.secret_bytes());
        payload.push(0x01);
        base58check_encode(&payload)
    }

    /// Reads a WIF string made for `network`.
    pub fn from_wif(wif: &str, network: Network) -> Result<PrivateKey, KeyError> {
        let payload =
            base58check_decode(wif).map_err(|_| KeyError::InvalidWif("bad Base58Check"))?;
        if payload.len() != 34 || payload[33] != 0x01 {
            return Err(KeyError::InvalidWif(
                "expected 32 key bytes and the compressed marker",
            ));
        }
        if payload[0] != network.wif_version() {
            return Err(KeyError::InvalidWif("made for another network"));
        }
        let bytes: [u8; 32] = payload[1..33].try_into().expect("checked length");
        PrivateKey::from_bytes(&bytes)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey(public: {}, secret: [redacted])",
            self.public_key()
        )
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for PrivateKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_low_s_deterministic_and_verify() {
        let key = PrivateKey::from_bytes(&[7u8; 32]).unwrap();
        let digest = crate::hash::sha256d(b"mycoin");
        let sig = key.sign(&digest);
        assert_eq!(sig, key.sign(&digest), "RFC 6979 is deterministic");
        assert_eq!(key.public_key().verify(&digest, &sig), Ok(()));
        let other = crate::hash::sha256d(b"another message");
        assert_eq!(
            key.public_key().verify(&other, &sig),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = PrivateKey::from_bytes(&[0x42u8; 32]).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode([0x42u8; 32])));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn private_key_bounds() {
        assert_eq!(
            PrivateKey::from_bytes(&[0u8; 32]),
            Err(KeyError::InvalidPrivateKey)
        );
        assert_eq!(
            PrivateKey::from_bytes(&[0xffu8; 32]),
            Err(KeyError::InvalidPrivateKey)
        );
    }

    #[test]
    fn uncompressed_and_off_curve_keys_are_refused() {
        let key = PrivateKey::from_bytes(&[9u8; 32]).unwrap().public_key();
        let mut bytes = *key.as_bytes();
        bytes[0] = 0x04;
        assert_eq!(PublicKey::from_slice(&bytes), Err(KeyError::NotCompressed));
        assert_eq!(
            PublicKey::from_slice(&bytes[..32]),
            Err(KeyError::NotCompressed)
        );
        // x = 5 is not the x of any point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
        let mut off = [0u8; 33];
        off[0] = 0x02;
        off[32] = 5;
        assert_eq!(PublicKey::from_slice(&off), Err(KeyError::NotOnCurve));
    }
}
