//! The keys service's errors as HTTP answers.

use mycoin_core::is_pool_timeout;
use mycoin_web::ApiError;

use crate::keystore::KeyStoreError;
use crate::seed::SeedError;

/// A failure of the key store is never the client's fault: a 500 whose detail goes to the log
/// (no variant of [`KeyStoreError`] carries a secret), except a restore into a store that holds
/// keys (409 `wallet_not_empty`), a chain with no index left (409 `chain_exhausted`) and a
/// store only busy under load (503 `busy` with `Retry-After`: its pool's wait ran out).
impl From<KeyStoreError> for ApiError {
    fn from(err: KeyStoreError) -> Self {
        match err {
            KeyStoreError::NotEmpty { .. } => {
                ApiError::conflict("wallet_not_empty", err.to_string())
            }
            KeyStoreError::ChainExhausted(_) => {
                ApiError::conflict("chain_exhausted", err.to_string())
            }
            KeyStoreError::Store(ref store) if store.is_busy() => busy(&err),
            KeyStoreError::Database(ref db) if is_pool_timeout(db) => busy(&err),
            other => ApiError::internal(other),
        }
    }
}

/// 503 `busy`: the key store's connections all stayed in use for its pool's whole wait.
fn busy(err: &KeyStoreError) -> ApiError {
    tracing::warn!(error = %err, "the key store is busy: answering 503");
    ApiError::busy("the key store is busy: try again shortly")
}

/// 400 `invalid_mnemonic`: the words are not a BIP39 mnemonic. The message never repeats them.
impl From<SeedError> for ApiError {
    fn from(err: SeedError) -> Self {
        match err {
            SeedError::InvalidMnemonic(_) => {
                ApiError::bad_request("invalid_mnemonic", err.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

/// 410 `mnemonic_gone`: the mnemonic was shown already, or the seed was restored.
pub fn mnemonic_gone() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::GONE,
        "mnemonic_gone",
        "the mnemonic is shown only once, and it was shown already (or the seed was restored \
         from the user's own mnemonic)",
    )
}

/// 400 `invalid_chain`.
pub fn invalid_chain(reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_chain", format!("bad chain or index: {reason}"))
}

/// 400 `invalid_count`.
pub fn invalid_count(count: u32) -> ApiError {
    ApiError::bad_request(
        "invalid_count",
        format!("{count} is out of range: `count` is 1 to 100 and `next` at most 2^31 - 1"),
    )
}

/// 400 `invalid_address`: not an address, or one of another network.
pub fn invalid_address(input: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "invalid_address",
        format!(
            "{:?} is not an address of this network: {reason}",
            echo(input)
        ),
    )
}

/// 404 `unknown_key`: no stored key has this address.
pub fn unknown_key(address: impl std::fmt::Display) -> ApiError {
    ApiError::not_found(
        "unknown_key",
        format!("no key with the address {address} is stored here"),
    )
}

/// 400 `invalid_digest`: not 64 hex digits.
pub fn invalid_digest(reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "invalid_digest",
        format!("`digest` must be 32 bytes as 64 hex digits: {reason}"),
    )
}

/// 400 `invalid_wif`. The WIF itself is never repeated: it may be a real private key.
pub fn invalid_wif(reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "invalid_wif",
        format!("`wif` is not a usable private key: {reason}"),
    )
}

/// At most 100 characters of the client's input, for an error message.
fn echo(input: &str) -> String {
    input.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_core::StoreError;

    #[test]
    fn a_busy_store_is_503_busy_and_a_broken_one_500() {
        for busy in [
            KeyStoreError::Database(sqlx::Error::PoolTimedOut),
            KeyStoreError::Store(StoreError::Database(sqlx::Error::PoolTimedOut)),
        ] {
            let api = ApiError::from(busy);
            assert_eq!((api.status().as_u16(), api.code()), (503, "busy"));
        }
        let broken = ApiError::from(KeyStoreError::Database(sqlx::Error::RowNotFound));
        assert_eq!((broken.status().as_u16(), broken.code()), (500, "internal"));
    }
}
