//! The keys service's HTTP handlers.

pub mod keys;
pub mod seed;

use actix_web::web;

/// Registers every route; the key store must be in the app data. The seed's routes come first:
/// `POST /keys/change` would otherwise fall to `/keys/{address}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    seed::configure(cfg);
    keys::configure(cfg);
}
