//! The JSON bodies (DTOs) of mycoin's four REST APIs, with their OpenAPI schemas.
//!
//! Each service serves its own module's types, and every client of that service (another
//! service, a test) uses the same types: one definition per body. Conversions from and to the
//! core types live beside the DTOs; the canonical bytes stay in mycoin-core.

pub mod client;
pub mod events;
pub mod keys;
pub mod miner;
pub mod paths;
pub mod peer;
pub mod seed;
pub mod wallet;

/// The core network named by the shared `--network` flag.
pub fn network_of(name: mycoin_web::NetworkName) -> mycoin_core::Network {
    match name {
        mycoin_web::NetworkName::Demo => mycoin_core::Network::Demo,
        mycoin_web::NetworkName::Regtest => mycoin_core::Network::Regtest,
    }
}
