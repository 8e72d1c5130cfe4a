//! Addresses: Base58Check of a network version byte and a public key hash, like Bitcoin's P2PKH.

use std::fmt;
use std::str::FromStr;

use ripemd::Ripemd160;
use sha2::Digest;

use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::hash::{sha256, sha256d};
use crate::keys::serde_via_str;
use crate::network::Network;

/// RIPEMD-160(SHA-256(compressed public key)): what an output pays to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PubKeyHash(pub [u8; 20]);

impl PubKeyHash {
    pub fn of_public_key(sec1: &[u8]) -> PubKeyHash {
        PubKeyHash(Ripemd160::digest(sha256(sec1)).into())
    }
}

impl fmt::Debug for PubKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PubKeyHash({})", hex::encode(self.0))
    }
}

impl Encode for PubKeyHash {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for PubKeyHash {
    const MIN_SIZE: usize = 20;
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PubKeyHash(reader.array()?))
    }
}

/// Base58Check: Base58 of `payload ‖ first four bytes of SHA-256d(payload)`.
pub fn base58check_encode(payload: &[u8]) -> String {
    let mut data = payload.to_vec();
    data.extend_from_slice(&sha256d(payload)[..4]);
    bs58::encode(data).into_string()
}

/// Why a Base58Check string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base58Error {
    #[error("not Base58")]
    NotBase58,
    #[error("too short to hold a checksum")]
    TooShort,
    #[error("the checksum does not match")]
    BadChecksum,
}

/// Reverses [`base58check_encode`], checking the checksum.
pub fn base58check_decode(s: &str) -> Result<Vec<u8>, Base58Error> {
    // 128 characters is far more than any mycoin string; refuse before decoding.
    if s.len() > 128 {
        return Err(Base58Error::NotBase58);
    }
    let mut data = bs58::decode(s)
        .into_vec()
        .map_err(|_| Base58Error::NotBase58)?;
    if data.len() < 4 {
        return Err(Base58Error::TooShort);
    }
    let checksum = data.split_off(data.len() - 4);
    if sha256d(&data)[..4] != checksum[..] {
        return Err(Base58Error::BadChecksum);
    }
    Ok(data)
}

/// An address of one of mycoin's networks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    network: Network,
    hash: PubKeyHash,
}

/// Why an address string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("invalid Base58Check: {0}")]
    Base58(#[from] Base58Error),
    #[error("an address holds a version byte and a 20-byte hash")]
    WrongLength,
    #[error("version byte {0:#04x} belongs to no mycoin network")]
    UnknownVersion(u8),
    #[error("the address is for the {found} network, not {expected}")]
    WrongNetwork { expected: Network, found: Network },
}

impl Address {
    pub fn new(network: Network, hash: PubKeyHash) -> Address {
        Address { network, hash }
    }

    pub fn network(&self) -> Network {
        self.network
    }

    pub fn pubkey_hash(&self) -> PubKeyHash {
        self.hash
    }

    /// Parses an address and requires it to belong to `network`.
    pub fn parse_for(s: &str, network: Network) -> Result<Address, AddressError> {
        let address: Address = s.parse()?;
        if address.network != network {
            return Err(AddressError::WrongNetwork {
                expected: network,
                found: address.network,
            });
        }
        Ok(address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = [0u8; 21];
        payload[0] = self.network.address_version();
        payload[1..].copy_from_slice(&self.hash.0);
        f.write_str(&base58check_encode(&payload))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let payload = base58check_decode(s)?;
        if payload.len() != 21 {
            return Err(AddressError::WrongLength);
        }
        let network = Network::from_address_version(payload[0])
            .ok_or(AddressError::UnknownVersion(payload[0]))?;
        let hash = PubKeyHash(payload[1..].try_into().expect("checked length"));
        Ok(Address { network, hash })
    }
}

serde_via_str!(Address);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash160_of_a_known_key() {
        // Bitcoin's well-known key 1 (generator G), compressed: its P2PKH address is
        // 1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH, i.e. hash160 751e76e8199196d454941c45d1b3a323f1433bd6.
        let g = hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
            .unwrap();
        let hash = PubKeyHash::of_public_key(&g);
        assert_eq!(
            hex::encode(hash.0),
            "751e76e8199196d454941c45d1b3a323f1433bd6"
        );
        let mut payload = vec![0u8];
        payload.extend_from_slice(&hash.0);
        assert_eq!(
            base58check_encode(&payload),
            "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
        );
    }

    #[test]
    fn addresses_round_trip_and_carry_their_network() {
        for network in Network::ALL {
            let address = Address::new(network, PubKeyHash([0xab; 20]));
            let shown = address.to_string();
            assert_eq!(shown.parse::<Address>(), Ok(address));
            assert_eq!(Address::parse_for(&shown, network), Ok(address));
        }
        let demo = Address::new(Network::Demo, PubKeyHash([1; 20])).to_string();
        assert!(matches!(
            Address::parse_for(&demo, Network::Regtest),
            Err(AddressError::WrongNetwork { .. })
        ));
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let shown = Address::new(Network::Demo, PubKeyHash([7; 20])).to_string();
        let mut chars: Vec<char> = shown.chars().collect();
        chars[10] = if chars[10] == 'x' { 'y' } else { 'x' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            tampered.parse::<Address>(),
            Err(AddressError::Base58(Base58Error::BadChecksum))
        );
        assert!("0OIl".parse::<Address>().is_err());
    }
}
