//! `/seed`: the wallet seed's mnemonic (shown once), its restore, and the derived keys a
//! restore's scan needs; `/keys/change`: the next change key.

use actix_web::{HttpResponse, web};
use mycoin_api::keys::NewKey;
use mycoin_api::seed::{
    ChainName, DerivedAddresses, DerivedQuery, MnemonicResponse, RestoreRequest, SeedState,
    StoreUpTo,
};
use mycoin_web::{ApiError, Authorized, ErrorBody, JsonObject};

use crate::error::{invalid_chain, invalid_count, mnemonic_gone};
use crate::keystore::{KeyStore, MAX_DERIVED_PER_CALL};
use crate::seed::{Chain, MAX_INDEX, Phrase};

/// Registers the routes; the key store must be in the app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/keys/change").route(web::post().to(create_change_key)))
        .service(web::resource("/seed").route(web::get().to(seed_state)))
        .service(web::resource("/seed/mnemonic").route(web::post().to(take_mnemonic)))
        .service(web::resource("/seed/restore").route(web::post().to(restore)))
        .service(web::resource("/seed/addresses").route(web::get().to(derived_addresses)))
        .service(web::resource("/seed/keys").route(web::post().to(store_up_to)));
}

fn chain_of(name: ChainName) -> Chain {
    match name {
        ChainName::Receive => Chain::Receive,
        ChainName::Change => Chain::Change,
    }
}

async fn state(store: &KeyStore) -> Result<SeedState, ApiError> {
    Ok(SeedState {
        next_receive: store.next_index(Chain::Receive).await?,
        next_change: store.next_index(Chain::Change).await?,
        mnemonic_available: store.mnemonic_available().await?,
    })
}

/// Derive and store the next change key (`m/44'/C'/0'/1/i`), for a payment's change.
#[utoipa::path(
    post,
    path = "/keys/change",
    tag = "seed",
    security(("api_token" = [])),
    responses(
        (status = 201, description = "The new change key", body = NewKey),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
    )
)]
pub async fn create_change_key(
    _auth: Authorized,
    store: web::Data<KeyStore>,
) -> Result<HttpResponse, ApiError> {
    let key = store.next_key(Chain::Change).await?;
    tracing::info!(address = %key.address, "derived a change key");
    Ok(HttpResponse::Created().json(NewKey {
        address: key.address,
        public_key: key.public_key,
    }))
}

/// Where the seed's two chains stand.
#[utoipa::path(
    get,
    path = "/seed",
    tag = "seed",
    responses((status = 200, description = "The next index of each chain", body = SeedState))
)]
pub async fn seed_state(store: web::Data<KeyStore>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state(&store).await?))
}

/// Show the mnemonic of the seed made at the first start, once.
///
/// Write the words down: they restore every derived key (`POST /wallet/restore`). The
/// mnemonic is deleted from the store as it is answered; a second call gets 410.
#[utoipa::path(
    post,
    path = "/seed/mnemonic",
    tag = "seed",
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The mnemonic (a secret)", body = MnemonicResponse),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 410, description = "Shown already, or the seed was restored (`mnemonic_gone`)", body = ErrorBody),
    )
)]
pub async fn take_mnemonic(
    _auth: Authorized,
    store: web::Data<KeyStore>,
) -> Result<HttpResponse, ApiError> {
    let phrase = store.take_mnemonic().await?.ok_or_else(mnemonic_gone)?;
    tracing::info!("showed the wallet mnemonic (once)");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(MnemonicResponse {
            mnemonic: phrase.expose_secret().to_owned(),
            language: phrase.language().name().to_owned(),
            paths: vec![Chain::Receive.path(0), Chain::Change.path(0)],
        }))
}

/// Replace the seed with a mnemonic's, in a key store that holds no key yet.
///
/// The wallet's `POST /wallet/restore` calls this, then scans the chains. A wrong BIP39
/// passphrase is not an error: it gives another, empty wallet.
#[utoipa::path(
    post,
    path = "/seed/restore",
    tag = "seed",
    request_body = RestoreRequest,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The seed is restored; no key is stored yet", body = SeedState),
        (status = 400, description = "Not a BIP39 mnemonic (`invalid_mnemonic`), or bad body", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 409, description = "The key store holds keys (`wallet_not_empty`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn restore(
    _auth: Authorized,
    store: web::Data<KeyStore>,
    body: JsonObject<RestoreRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let phrase = Phrase::parse(&body.mnemonic)?;
    store
        .restore(&phrase, body.passphrase.as_deref().unwrap_or(""))
        .await?;
    Ok(HttpResponse::Ok().json(state(&store).await?))
}

/// Addresses derived from the seed without storing their keys (a restore's scan).
#[utoipa::path(
    get,
    path = "/seed/addresses",
    tag = "seed",
    params(DerivedQuery),
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The addresses", body = DerivedAddresses),
        (status = 400, description = "Bad chain (`invalid_chain`) or count (`invalid_count`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
    )
)]
pub async fn derived_addresses(
    _auth: Authorized,
    store: web::Data<KeyStore>,
    query: web::Query<DerivedQuery>,
) -> Result<HttpResponse, ApiError> {
    let chain: Chain = query.chain.parse().map_err(invalid_chain)?;
    let from = query.from.unwrap_or(0);
    let count = query.count.unwrap_or(20);
    if !(1..=MAX_DERIVED_PER_CALL).contains(&count) {
        return Err(invalid_count(count));
    }
    if from > MAX_INDEX {
        return Err(invalid_chain(format!("`from` is above {MAX_INDEX}")));
    }
    let addresses = store.derived_addresses(chain, from, count).await?;
    Ok(HttpResponse::Ok().json(DerivedAddresses {
        chain: chain.name().to_owned(),
        from,
        addresses: addresses.iter().map(ToString::to_string).collect(),
    }))
}

/// Store every key of a chain below `next`, so that the chain's next key is `next` (a
/// restore, after its scan). A chain already further stays where it is.
#[utoipa::path(
    post,
    path = "/seed/keys",
    tag = "seed",
    request_body = StoreUpTo,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "Where the chains stand now", body = SeedState),
        (status = 400, description = "Bad body, or `next` beyond the non-hardened indexes (`invalid_count`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
    )
)]
pub async fn store_up_to(
    _auth: Authorized,
    store: web::Data<KeyStore>,
    body: JsonObject<StoreUpTo>,
) -> Result<HttpResponse, ApiError> {
    if body.next > MAX_INDEX {
        return Err(invalid_count(body.next));
    }
    let chain = chain_of(body.chain);
    let next = store.store_up_to(chain, body.next).await?;
    tracing::info!(
        chain = chain.name(),
        next,
        "stored the derived keys of a chain"
    );
    Ok(HttpResponse::Ok().json(state(&store).await?))
}
