//! The keys service's errors as HTTP answers.

use mycoin_web::ApiError;

use crate::keystore::KeyStoreError;

/// A failure of the key store is never the client's fault: a 500 whose detail goes to the log
/// (no variant of [`KeyStoreError`] carries a secret).
impl From<KeyStoreError> for ApiError {
    fn from(err: KeyStoreError) -> Self {
        ApiError::internal(err)
    }
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
