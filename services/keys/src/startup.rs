//! Building the keys service: open the database, unlock the key store, bind the server.

use actix_web::web;
use mycoin_core::{Database, StoreError};
use mycoin_web::Application;
use mycoin_web::metrics::gauge_fn;
use utoipa::OpenApi;

use crate::configuration::Settings;
use crate::keystore::{KeyStore, KeyStoreError};
use crate::routes;

/// The keys service's OpenAPI document (without the common routes, which mycoin-web adds).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mycoin keys service",
        description = "Key pairs in an encrypted key store, and signing (the book's key.py). \
                       Endpoints that make, import, sign with or reveal a key need the stack's API token."
    ),
    paths(
        routes::keys::create_key,
        routes::keys::list_keys,
        routes::keys::get_key,
        routes::keys::sign,
        routes::keys::export_wif,
        routes::keys::import_key,
        routes::seed::create_change_key,
        routes::seed::seed_state,
        routes::seed::take_mnemonic,
        routes::seed::restore,
        routes::seed::derived_addresses,
        routes::seed::store_up_to,
    ),
    components(schemas(
        mycoin_api::keys::NewKey,
        mycoin_api::keys::KeyInfo,
        mycoin_api::keys::SignRequest,
        mycoin_api::keys::SignResponse,
        mycoin_api::keys::WifResponse,
        mycoin_api::keys::ImportRequest,
        mycoin_api::seed::MnemonicResponse,
        mycoin_api::seed::RestoreRequest,
        mycoin_api::seed::SeedState,
        mycoin_api::seed::DerivedAddresses,
        mycoin_api::seed::StoreUpTo,
    )),
    tags(
        (name = "keys", description = "Key pairs and signatures"),
        (name = "seed", description = "The wallet seed: BIP39 mnemonic (shown once), restore, BIP32 chains")
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database {url}: {source}")]
    Database {
        /// The URL, its password redacted.
        url: String,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Connects to the database of `settings`, unlocks the key store and binds the server.
///
/// Creates the data directory (mode 0700) if it is missing, or tightens it (0700, its files
/// 0600): the SQLite file and the key file live there. A SQLite file is created 0600.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    mycoin_web::files::secure_data_dir(&settings.data_dir)?;
    mycoin_web::files::secure_sqlite_file(&settings.database_url)?;
    let db = Database::connect(&settings.database_url)
        .await
        .map_err(|source| StartupError::Database {
            url: mycoin_web::config::redact_url(&settings.database_url),
            source,
        })?;
    build_with_database(settings, db).await
}

/// Like [`build`], on a database already open (e.g. shared by the services of `mycoind`).
pub async fn build_with_database(
    settings: Settings,
    db: Database,
) -> Result<Application, StartupError> {
    let store = KeyStore::open_with_language(
        db,
        settings.network,
        settings.protection(),
        settings.mnemonic_language,
    )
    .await?;
    let counted = store.clone();
    let store = web::Data::new(store);
    let app = Application::build_with_metrics(
        settings.server,
        ApiDoc::openapi(),
        |registry| {
            registry.register(
                "keys",
                "Keys of this network in the key store",
                gauge_fn(move || counted.count()),
            );
        },
        move |cfg| {
            cfg.app_data(store.clone()).configure(routes::configure);
        },
    )?;
    Ok(app)
}
