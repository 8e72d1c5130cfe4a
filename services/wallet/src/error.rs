//! The wallet's errors, and how they answer HTTP requests.
//!
//! A peer or keys service that cannot be reached gives 503 `upstream_unavailable`, through
//! mycoin-web's `From<ClientError> for ApiError`; their 4xx answers pass through unchanged
//! (e.g. the peer's verdict on a transaction), except the keys service refusing the wallet's
//! token, which is the stack's misconfiguration: 502 `keys_refused_token`. A database only
//! busy under load (its pool's wait ran out) gives 503 `busy` with `Retry-After`.

use actix_web::http::StatusCode;
use mycoin_core::address::AddressError;
use mycoin_web::{ApiError, ClientError};

/// Why a wallet request failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The recipient is not an address of the wallet's network.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// Why it was refused.
        reason: AddressError,
    },
    /// The amount or fee is not a payable amount.
    #[error("{0}")]
    InvalidAmount(String),
    /// The spendable outputs do not cover amount + fee.
    #[error(
        "insufficient funds: have {have} spendable base units (mature, confirmed, not spent in the mempool), need {need} (amount + fee)"
    )]
    InsufficientFunds {
        /// Spendable base units.
        have: u64,
        /// Amount plus fee.
        need: u64,
    },
    /// A call to the peer or keys service failed.
    #[error(transparent)]
    Upstream(#[from] ClientError),
    /// The peer or keys service answered something the wallet cannot use.
    #[error("{0}")]
    BadUpstream(String),
    /// The wallet's own table failed.
    #[error("wallet store: {0}")]
    Store(String),
    /// The wallet's database was only busy: its pool's connections all stayed in use for the
    /// pool's whole wait.
    #[error("wallet store busy: {0}")]
    Busy(String),
    /// A restore into a wallet that has keys or payments.
    #[error(
        "the wallet already has {keys} key(s) and {payments} payment(s): restore into a stack \
         with an empty data directory"
    )]
    NotEmpty {
        /// Keys of the keys service.
        keys: usize,
        /// Payments recorded.
        payments: usize,
    },
}

impl From<sqlx::Error> for WalletError {
    fn from(err: sqlx::Error) -> Self {
        if mycoin_core::is_pool_timeout(&err) {
            WalletError::Busy(err.to_string())
        } else {
            WalletError::Store(err.to_string())
        }
    }
}

impl From<WalletError> for ApiError {
    fn from(err: WalletError) -> Self {
        match err {
            WalletError::InvalidAddress { .. } => {
                ApiError::bad_request("invalid_address", err.to_string())
            }
            WalletError::InvalidAmount(_) => {
                ApiError::bad_request("invalid_amount", err.to_string())
            }
            WalletError::InsufficientFunds { .. } => {
                ApiError::unprocessable("insufficient_funds", err.to_string())
            }
            WalletError::Upstream(err) if matches!(err.status(), Some(401 | 403)) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "keys_refused_token",
                "the keys service refused the wallet's API token: give both services the \
                 stack's token",
            ),
            WalletError::Upstream(err) => err.into(),
            WalletError::BadUpstream(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", err.to_string())
            }
            WalletError::Store(_) => ApiError::internal(err),
            WalletError::Busy(_) => {
                tracing::warn!(error = %err, "the wallet's store is busy: answering 503");
                ApiError::busy("the wallet's database is busy: try again shortly")
            }
            WalletError::NotEmpty { .. } => ApiError::conflict("wallet_not_empty", err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_store_is_503_busy_and_a_broken_one_500() {
        let busy = ApiError::from(WalletError::from(sqlx::Error::PoolTimedOut));
        assert_eq!((busy.status().as_u16(), busy.code()), (503, "busy"));
        let broken = ApiError::from(WalletError::from(sqlx::Error::RowNotFound));
        assert_eq!((broken.status().as_u16(), broken.code()), (500, "internal"));
    }
}
