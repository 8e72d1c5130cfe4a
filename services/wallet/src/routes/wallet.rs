//! `/wallet`: balance and keys, fresh addresses, payments, history.

use actix_web::web;
use mycoin_api::seed::{RestoreRequest, RestoreResponse};
use mycoin_api::wallet::{HistoryEntry, SendRequest, SendResponse, WalletAddress, WalletView};
use mycoin_web::{ApiError, Authorized, ErrorBody, JsonObject};

use crate::wallet::Wallet;

/// The wallet (the book's wallet.py): balance over all keys of the keys service, the keys
/// holding unspent outputs, and the keys that never received anything.
#[utoipa::path(
    get,
    path = "/wallet",
    tag = "wallet",
    responses(
        (status = 200, description = "Balance, unspent keys and unused keys", body = WalletView),
        (status = 502, description = "The peer or keys service answered wrongly", body = ErrorBody),
        (status = 503, description = "The peer or keys service is unreachable", body = ErrorBody),
    )
)]
pub async fn get_wallet(wallet: web::Data<Wallet>) -> Result<web::Json<WalletView>, ApiError> {
    Ok(web::Json(wallet.view().await?))
}

/// A fresh receiving key, made by the keys service.
#[utoipa::path(
    post,
    path = "/wallet/addresses",
    tag = "wallet",
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The new key's address", body = WalletAddress),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 502, description = "The keys service answered wrongly, or refused the token (`keys_refused_token`)", body = ErrorBody),
        (status = 503, description = "The keys service is unreachable", body = ErrorBody),
    )
)]
pub async fn new_address(
    _auth: Authorized,
    wallet: web::Data<Wallet>,
) -> Result<web::Json<WalletAddress>, ApiError> {
    Ok(web::Json(wallet.new_address().await?))
}

/// Pays `amount` to `to` with `fee` (the book's sign.py): selects mature, confirmed outputs
/// that no mempool transaction spends (largest first), sends the change to a fresh key, has
/// the keys service sign every input (over the txid), and submits the transaction to the peer.
/// Payments run one at a time, so two never spend the same output.
#[utoipa::path(
    post,
    path = "/wallet/send",
    tag = "wallet",
    request_body = SendRequest,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The payment is in the peer's mempool", body = SendResponse),
        (status = 400, description = "Malformed body, bad or other-network address (`invalid_address`), zero amount (`invalid_amount`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Not enough spendable funds (`insufficient_funds`, with have and need), or the peer refused the transaction (its rule's code)", body = ErrorBody),
        (status = 502, description = "The peer or keys service answered wrongly, or the keys service refused the token (`keys_refused_token`)", body = ErrorBody),
        (status = 503, description = "The peer or keys service is unreachable", body = ErrorBody),
    )
)]
pub async fn send(
    _auth: Authorized,
    wallet: web::Data<Wallet>,
    body: JsonObject<SendRequest>,
) -> Result<web::Json<SendResponse>, ApiError> {
    Ok(web::Json(wallet.send(body.into_inner()).await?))
}

/// The wallet's transactions: the payments it made (recorded by the wallet, with their
/// status at the peer), and the transactions whose outputs to its keys are still unspent
/// (received outputs already spent are not listed: the peer keeps no address history).
#[utoipa::path(
    get,
    path = "/wallet/history",
    tag = "wallet",
    responses(
        (status = 200, description = "Transactions, confirmed ones by height first", body = [HistoryEntry]),
        (status = 503, description = "The peer or keys service is unreachable", body = ErrorBody),
    )
)]
pub async fn history(wallet: web::Data<Wallet>) -> Result<web::Json<Vec<HistoryEntry>>, ApiError> {
    Ok(web::Json(wallet.history().await?))
}

/// Restore the wallet from its mnemonic, into a stack with an empty data directory.
///
/// The keys service takes the mnemonic's seed; each chain (receiving and change) is scanned in
/// the peer's address index until 20 unused addresses in a row (the gap limit), and every key
/// up to the last used one is stored: the next key handed out is one past it. Keys imported as
/// WIF are not restored, nor a payment to a key beyond the gap. A wrong BIP39 passphrase is not
/// an error: it gives another, empty wallet.
#[utoipa::path(
    post,
    path = "/wallet/restore",
    tag = "wallet",
    request_body = RestoreRequest,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "Keys restored on each chain", body = RestoreResponse),
        (status = 400, description = "Not a BIP39 mnemonic (`invalid_mnemonic`), or bad body", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 409, description = "The wallet has keys or payments already (`wallet_not_empty`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 502, description = "The peer or keys service answered wrongly", body = ErrorBody),
        (status = 503, description = "The peer or keys service is unreachable", body = ErrorBody),
    )
)]
pub async fn restore(
    _auth: Authorized,
    wallet: web::Data<Wallet>,
    body: JsonObject<RestoreRequest>,
) -> Result<web::Json<RestoreResponse>, ApiError> {
    Ok(web::Json(wallet.restore(body.into_inner()).await?))
}
