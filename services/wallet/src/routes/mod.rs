//! The wallet service's handlers.

pub mod wallet;

use actix_web::web;

/// Registers the wallet's routes (as resources, so a wrong method gets 405).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/wallet").route(web::get().to(wallet::get_wallet)))
        .service(web::resource("/wallet/addresses").route(web::post().to(wallet::new_address)))
        .service(web::resource("/wallet/send").route(web::post().to(wallet::send)))
        .service(web::resource("/wallet/history").route(web::get().to(wallet::history)))
        .service(web::resource("/wallet/restore").route(web::post().to(wallet::restore)));
}
