//! How the core's errors reach HTTP clients.
//!
//! | error | status | `error` code |
//! |---|---|---|
//! | consensus rejection ([`TxError`], [`BlockError`]) | 422 | the rule's `code()` |
//! | relay policy refusal ([`TxRefused::Policy`]) | 422 | the limit's `code()` |
//! | store failure ([`StoreError`]) | 500 | `internal` (detail logged only) |
//! | store busy ([`StoreError::is_busy`]: its pool's wait ran out) | 503 + `Retry-After` | `busy` |
//! | the chain's writer stopped ([`WriterGone`]) | 503 | `shutting_down` |
//! | bad hex / undecodable bytes | 400 | `invalid_hex` / `undecodable` |
//! | bad hash, txid or address | 400 | `invalid_hash` / `invalid_address` / `wrong_network` |
//! | unknown block or transaction | 404 | `unknown_block` / `unknown_transaction` |

use mycoin_api::peer::{RawError, RuleViolation};
use mycoin_core::address::AddressError;
use mycoin_core::{BlockError, ChainError, StoreError, TxError, TxRefused};
use mycoin_web::ApiError;

use crate::writer::WriterGone;

/// A transaction the mempool refused, for a consensus rule or a policy limit: 422 with the
/// rule's or limit's code.
pub fn tx_rejected(err: &TxRefused) -> ApiError {
    ApiError::unprocessable(err.code(), err.to_string())
}

/// A consensus rule broken by a block: 422 with the rule's code.
pub fn block_rejected(err: &BlockError) -> ApiError {
    ApiError::unprocessable(err.code(), err.to_string())
}

/// A failed `submit_block`: a rejection (422) or a store failure (500).
pub fn chain_error(err: ChainError) -> ApiError {
    match err {
        ChainError::Invalid(err) => block_rejected(&err),
        ChainError::Store(err) => store_error(err),
    }
}

/// The chain's writer has stopped (the node is shutting down): 503.
pub fn writer_gone(err: WriterGone) -> ApiError {
    ApiError::service_unavailable("shutting_down", err.to_string())
}

/// A failure of the store: 500, the detail only in the log; but a store only busy (its pool's
/// connections all in use for the pool's whole wait, under load) is 503 `busy` with
/// `Retry-After`: nothing is broken.
pub fn store_error(err: StoreError) -> ApiError {
    if err.is_busy() {
        tracing::warn!(error = %err, "the store is busy: answering 503");
        return ApiError::busy("the node's database is busy: try again shortly");
    }
    ApiError::internal(err)
}

/// Raw hex that is not a `what` (`block` or `transaction`): 400.
pub fn raw_error(err: RawError, what: &str) -> ApiError {
    match err {
        RawError::Hex(err) => ApiError::bad_request(
            "invalid_hex",
            format!("`hex` must be the {what}'s encoding in hex digits: {err}"),
        ),
        RawError::Decode(err) => ApiError::bad_request(
            "undecodable",
            format!("`hex` is not the canonical encoding of a {what}: {err}"),
        ),
    }
}

/// A hash or txid in the path that is not 64 hex digits: 400.
pub fn invalid_hash(what: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_hash",
        format!("a {what} is 64 hex digits in display order"),
    )
}

/// An address that is not valid on this node's network: 400.
pub fn address_error(err: AddressError) -> ApiError {
    let code = match err {
        AddressError::WrongNetwork { .. } => "wrong_network",
        _ => "invalid_address",
    };
    ApiError::bad_request(code, format!("invalid address: {err}"))
}

/// A rejection in the body of a verification verdict.
pub fn violation(err: &TxError) -> RuleViolation {
    RuleViolation {
        error: err.code().to_owned(),
        message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_store_is_503_busy_and_a_broken_one_500() {
        let busy = store_error(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!((busy.status().as_u16(), busy.code()), (503, "busy"));
        let broken = store_error(StoreError::Corrupt("a bad row".into()));
        assert_eq!((broken.status().as_u16(), broken.code()), (500, "internal"));
        let closed = store_error(StoreError::Database(sqlx::Error::PoolClosed));
        assert_eq!(closed.status().as_u16(), 500);
    }
}
