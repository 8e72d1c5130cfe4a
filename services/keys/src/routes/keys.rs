//! `/keys`: make, list, show, sign with, export and import key pairs.

use actix_web::{HttpResponse, web};
use mycoin_api::keys::{ImportRequest, KeyInfo, NewKey, SignRequest, SignResponse, WifResponse};
use mycoin_core::keys::KeyError;
use mycoin_core::{Address, PrivateKey};
use mycoin_web::{ApiError, Authorized, ErrorBody, JsonObject};

use crate::error::{invalid_address, invalid_digest, invalid_wif, unknown_key};
use crate::keystore::{KeyStore, StoredKey};
use crate::seed::Chain;

/// Registers the routes; the key store must be in the app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/keys")
            .route(web::get().to(list_keys))
            .route(web::post().to(create_key)),
    )
    // Before `/keys/{address}`, which would otherwise take `import` for an address.
    .service(web::resource("/keys/import").route(web::post().to(import_key)))
    .service(web::resource("/keys/{address}").route(web::get().to(get_key)))
    .service(web::resource("/keys/{address}/sign").route(web::post().to(sign)))
    .service(web::resource("/keys/{address}/wif").route(web::get().to(export_wif)));
}

fn info(key: StoredKey) -> KeyInfo {
    KeyInfo {
        address: key.address,
        public_key: key.public_key,
        created_at: key.created_at,
    }
}

fn parse_address(store: &KeyStore, input: &str) -> Result<Address, ApiError> {
    Address::parse_for(input, store.network()).map_err(|err| invalid_address(input, err))
}

/// Hand out the next receiving key (the book's key.py): derived from the wallet seed on
/// `m/44'/C'/0'/0/i`, `i` one past the last handed out.
///
/// The private key is stored encrypted and never returned; export it with
/// `GET /keys/{address}/wif`. The mnemonic restores it (`POST /wallet/restore`) as long as no
/// more than 20 keys in a row were handed out and never paid (the gap limit).
#[utoipa::path(
    post,
    path = "/keys",
    tag = "keys",
    security(("api_token" = [])),
    responses(
        (status = 201, description = "The new key pair", body = NewKey),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
    )
)]
pub async fn create_key(
    _auth: Authorized,
    store: web::Data<KeyStore>,
) -> Result<HttpResponse, ApiError> {
    let key = store.next_key(Chain::Receive).await?;
    tracing::info!(address = %key.address, "derived a receiving key");
    Ok(HttpResponse::Created().json(NewKey {
        address: key.address,
        public_key: key.public_key,
    }))
}

/// List the stored key pairs, oldest first.
#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    responses(
        (status = 200, description = "Every key pair of this network", body = [KeyInfo]),
    )
)]
pub async fn list_keys(store: web::Data<KeyStore>) -> Result<HttpResponse, ApiError> {
    let keys: Vec<KeyInfo> = store.list().await?.into_iter().map(info).collect();
    Ok(HttpResponse::Ok().json(keys))
}

/// Show one key pair.
#[utoipa::path(
    get,
    path = "/keys/{address}",
    tag = "keys",
    params(("address" = String, Path, description = "The key's address")),
    responses(
        (status = 200, description = "The key pair", body = KeyInfo),
        (status = 400, description = "Not an address of this network (`invalid_address`)", body = ErrorBody),
        (status = 404, description = "No such key here (`unknown_key`)", body = ErrorBody),
    )
)]
pub async fn get_key(
    store: web::Data<KeyStore>,
    address: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let address = parse_address(&store, &address)?;
    let key = store
        .get(&address)
        .await?
        .ok_or_else(|| unknown_key(address))?;
    Ok(HttpResponse::Ok().json(info(key)))
}

/// Sign a 32-byte digest (a txid) with a stored key.
///
/// The signature is ECDSA over secp256k1 with an RFC 6979 nonce, always low-S, as 64 bytes r‖s.
/// The digest is signed as given.
#[utoipa::path(
    post,
    path = "/keys/{address}/sign",
    tag = "keys",
    params(("address" = String, Path, description = "The signing key's address")),
    request_body = SignRequest,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The signature", body = SignResponse),
        (status = 400, description = "Bad address (`invalid_address`), digest (`invalid_digest`) or body", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 404, description = "No such key here (`unknown_key`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn sign(
    _auth: Authorized,
    store: web::Data<KeyStore>,
    address: web::Path<String>,
    body: JsonObject<SignRequest>,
) -> Result<HttpResponse, ApiError> {
    let address = parse_address(&store, &address)?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(body.digest.trim(), &mut digest).map_err(invalid_digest)?;
    let (signature, public_key) = store
        .sign(&address, &digest)
        .await?
        .ok_or_else(|| unknown_key(address))?;
    tracing::info!(%address, "signed a digest");
    Ok(HttpResponse::Ok().json(SignResponse {
        signature,
        public_key,
    }))
}

/// Export a stored private key as WIF.
#[utoipa::path(
    get,
    path = "/keys/{address}/wif",
    tag = "keys",
    params(("address" = String, Path, description = "The key's address")),
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The private key as WIF (a secret)", body = WifResponse),
        (status = 400, description = "Not an address of this network (`invalid_address`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 404, description = "No such key here (`unknown_key`)", body = ErrorBody),
    )
)]
pub async fn export_wif(
    _auth: Authorized,
    store: web::Data<KeyStore>,
    address: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let address = parse_address(&store, &address)?;
    let key = store
        .private_key(&address)
        .await?
        .ok_or_else(|| unknown_key(address))?;
    tracing::info!(%address, "exported a private key");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(WifResponse {
            address,
            wif: key.to_wif(store.network()),
        }))
}

/// Import a private key given as WIF.
///
/// Importing a key already stored changes nothing and answers 200 instead of 201.
#[utoipa::path(
    post,
    path = "/keys/import",
    tag = "keys",
    request_body = ImportRequest,
    security(("api_token" = [])),
    responses(
        (status = 201, description = "The key pair, newly stored", body = NewKey),
        (status = 200, description = "The key pair, already stored", body = NewKey),
        (status = 400, description = "Not a WIF of this network (`invalid_wif`) or bad body", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn import_key(
    _auth: Authorized,
    store: web::Data<KeyStore>,
    body: JsonObject<ImportRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = PrivateKey::from_wif(body.wif.trim(), store.network()).map_err(|err| match err {
        KeyError::InvalidWif(reason) => invalid_wif(reason),
        other => invalid_wif(other),
    })?;
    let (key, created) = store.import(&key).await?;
    tracing::info!(address = %key.address, created, "imported a private key");
    let body = NewKey {
        address: key.address,
        public_key: key.public_key,
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}
