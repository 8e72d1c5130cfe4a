//! The miner service's handlers.

pub mod miner;

use actix_web::web;

/// Registers the miner's routes (as resources, so a wrong method gets 405).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/mine").route(web::post().to(miner::mine)))
        .service(web::resource("/miner").route(web::get().to(miner::status)))
        .service(web::resource("/miner/start").route(web::post().to(miner::start)))
        .service(web::resource("/miner/stop").route(web::post().to(miner::stop)));
}
