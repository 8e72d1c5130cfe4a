//! Building the wallet service: its state, its store, the server.

use std::io;

use actix_web::web;
use mycoin_web::Application;
use mycoin_web::metrics::counter_fn;
use utoipa::OpenApi;

use crate::configuration::Settings;
use crate::routes;
use crate::wallet::Wallet;

/// The wallet service's OpenAPI document (without the common routes, which mycoin-web adds).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mycoin wallet service",
        description = "The user's wallet (the book's wallet.py and sign.py): balance, unspent \
                       and unused keys over the keys service's keys, fresh addresses, payments \
                       signed by the keys service and submitted to the peer service."
    ),
    paths(
        routes::wallet::get_wallet,
        routes::wallet::new_address,
        routes::wallet::send,
        routes::wallet::history,
        routes::wallet::restore,
    ),
    components(schemas(
        mycoin_api::wallet::WalletView,
        mycoin_api::wallet::WalletBalance,
        mycoin_api::wallet::UnspentKey,
        mycoin_api::wallet::UnusedKey,
        mycoin_api::wallet::WalletAddress,
        mycoin_api::wallet::SendRequest,
        mycoin_api::wallet::SendResponse,
        mycoin_api::wallet::HistoryEntry,
        mycoin_api::wallet::HistoryStatus,
        mycoin_api::seed::RestoreRequest,
        mycoin_api::seed::RestoreResponse,
    )),
    tags((name = "wallet", description = "Balance, keys and payments"))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Opens the wallet's store (running its migrations) and binds its server. Must run inside a
/// Tokio runtime (as any actix-web server).
///
/// A SQLite file is created with mode 0600 (SQLite's `-wal` and `-shm` files follow it).
pub async fn build(settings: Settings) -> io::Result<Application> {
    mycoin_web::files::secure_sqlite_file(&settings.database_url)?;
    let wallet = Wallet::new(&settings).await.map_err(io::Error::other)?;
    let data = web::Data::new(wallet);
    let counted = data.clone();
    Application::build_with_metrics(
        settings.server,
        ApiDoc::openapi(),
        |registry| {
            registry.register(
                "wallet_payments_sent",
                "Payments sent and accepted by the peer since the service started",
                counter_fn(move || counted.payments_sent()),
            );
        },
        move |cfg| {
            cfg.app_data(data.clone()).configure(routes::configure);
        },
    )
}
