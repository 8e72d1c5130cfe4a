//! The miner's errors, and how they answer HTTP requests.
//!
//! A peer or keys service that cannot be reached gives 503 `upstream_unavailable`, through
//! mycoin-web's `From<ClientError> for ApiError`; their 4xx answers pass through unchanged.

use mycoin_core::Network;
use mycoin_core::address::AddressError;
use mycoin_core::validation::BlockError;
use mycoin_web::{ApiError, ClientError};

/// Why mining a block failed.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// The request's address is not one of the service's network.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// Why it was refused.
        reason: AddressError,
    },
    /// A call to the peer or keys service failed.
    #[error(transparent)]
    Upstream(#[from] ClientError),
    /// The peer's template is not a block this miner can work on.
    #[error("the peer's block template is unusable: {0}")]
    BadTemplate(String),
    /// The found block failed the proof-of-work check: a bug of the search.
    #[error("the block found fails the proof-of-work check: {0}")]
    InvalidProof(BlockError),
    /// Mining was stopped before a block was found.
    #[error("mining was stopped before a block was found")]
    Stopped,
    /// `POST /miner/start` while background mining runs.
    #[error("background mining already runs")]
    AlreadyRunning,
    /// `POST /miner/stop` while background mining does not run.
    #[error("background mining does not run")]
    NotRunning,
}

impl MinerError {
    /// Checks that `address` belongs to `network`.
    pub fn check_address(address: &str, network: Network) -> Result<(), MinerError> {
        mycoin_core::Address::parse_for(address, network)
            .map(|_| ())
            .map_err(|reason| MinerError::InvalidAddress {
                address: address.to_owned(),
                reason,
            })
    }
}

impl From<MinerError> for ApiError {
    fn from(err: MinerError) -> Self {
        match err {
            MinerError::InvalidAddress { .. } => {
                ApiError::bad_request("invalid_address", err.to_string())
            }
            MinerError::Upstream(err) => err.into(),
            MinerError::BadTemplate(_) => ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "bad_template",
                err.to_string(),
            ),
            MinerError::InvalidProof(_) => ApiError::internal(err),
            MinerError::Stopped => ApiError::service_unavailable("mining_stopped", err.to_string()),
            MinerError::AlreadyRunning => ApiError::conflict("already_running", err.to_string()),
            MinerError::NotRunning => ApiError::conflict("not_running", err.to_string()),
        }
    }
}
